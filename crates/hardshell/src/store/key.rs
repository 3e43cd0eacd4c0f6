//! The database key: 256 random bits, kept in the vault as 64 hex characters
//! and applied as a raw SQLCipher key before any other statement.

use rand::RngCore;
use rusqlite::Connection;
use zeroize::Zeroizing;

use super::StoreError;

/// The vault entry that holds the key.
pub const VAULT_NAME: &str = "hardshell.db_key";
/// Written before a rekey and promoted after it, so a crash mid-rekey never
/// leaves a database whose key is nowhere.
pub const VAULT_NAME_NEXT: &str = "hardshell.db_key.next";

pub struct DbKey(Zeroizing<String>);

impl DbKey {
    pub fn generate() -> Self {
        let mut raw = Zeroizing::new([0u8; 32]);
        rand::rng().fill_bytes(raw.as_mut());
        Self(Zeroizing::new(hex::encode(raw.as_ref())))
    }

    /// Accepts exactly 64 hex characters (either case), stored lower-case.
    pub fn parse(hex_key: &str) -> Result<Self, StoreError> {
        let hex_key = hex_key.trim();
        if hex_key.len() != 64 || !hex_key.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(StoreError::BadKeyFormat);
        }
        Ok(Self(Zeroizing::new(hex_key.to_ascii_lowercase())))
    }

    /// The hex form, for storing in the vault.
    pub fn expose_hex(&self) -> &str {
        &self.0
    }

    /// `x'<hex>'`: the raw-key literal SQLCipher takes for key and rekey.
    fn literal(&self) -> Zeroizing<String> {
        Zeroizing::new(format!("\"x'{}'\"", self.0.as_str()))
    }

    /// Must be the first statement on a connection.
    pub(super) fn apply(&self, conn: &Connection) -> Result<(), StoreError> {
        let sql = Zeroizing::new(format!("PRAGMA key = {};", self.literal().as_str()));
        conn.execute_batch(&sql)?;
        Ok(())
    }

    pub(super) fn attach_sql(&self, path: &str, alias: &str) -> Zeroizing<String> {
        Zeroizing::new(format!(
            "ATTACH DATABASE '{}' AS {alias} KEY {};",
            path.replace('\'', "''"),
            self.literal().as_str()
        ))
    }
}

impl std::fmt::Debug for DbKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DbKey([hidden])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_64_hex_and_distinct() {
        let a = DbKey::generate();
        let b = DbKey::generate();
        assert_eq!(a.expose_hex().len(), 64);
        assert_ne!(a.expose_hex(), b.expose_hex());
        DbKey::parse(a.expose_hex()).unwrap();
    }

    #[test]
    fn parse_rejects_wrong_shapes() {
        assert!(DbKey::parse("abc").is_err());
        assert!(DbKey::parse(&"g".repeat(64)).is_err());
        assert!(DbKey::parse(&"a".repeat(65)).is_err());
        // A quote must never reach the PRAGMA.
        assert!(DbKey::parse(&format!("{}'", "a".repeat(63))).is_err());
    }

    #[test]
    fn debug_hides_the_key() {
        let k = DbKey::generate();
        assert!(!format!("{k:?}").contains(k.expose_hex()));
    }
}
