//! Consistent copies of the database for backups, and the checks a copy
//! must pass before anyone relies on it.
//!
//! Owns the SQL of `VACUUM INTO` (one read transaction, so the copy is one
//! consistent moment even while the server writes) and of
//! `PRAGMA integrity_check` on a copy. It must never write a copy in
//! plaintext: the copy is keyed like the live database, and that is checked
//! before the path is handed back.

use std::path::Path;

use super::{DbKey, PLAINTEXT_MAGIC, Store, StoreError, open_connection};

impl Store {
    /// Writes a consistent, still-encrypted copy of the database to `dest`
    /// (which must not exist) and returns the newest audit seq it holds.
    pub async fn snapshot_into(&self, dest: &Path) -> Result<u64, StoreError> {
        let dest = dest.to_path_buf();
        self.read(move |conn| {
            let target = dest
                .to_str()
                .ok_or_else(|| StoreError::Conflict("the snapshot path is not UTF-8".into()))?;
            conn.execute("VACUUM INTO ?1", [target])?;
            let head: i64 =
                conn.query_row("SELECT coalesce(max(seq), 0) FROM audit_log", [], |r| {
                    r.get(0)
                })?;
            if super::encrypt::is_plaintext(&dest)? {
                let _ = std::fs::remove_file(&dest);
                return Err(StoreError::Conflict(
                    "the snapshot came out unencrypted; it was deleted".into(),
                ));
            }
            Ok(u64::try_from(head).unwrap_or(0))
        })
        .await
    }
}

/// What `PRAGMA integrity_check` said about a database file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Integrity {
    /// `["ok"]` when the file is sound; otherwise SQLite's findings.
    pub findings: Vec<String>,
}

impl Integrity {
    pub fn ok(&self) -> bool {
        self.findings.len() == 1 && self.findings[0] == "ok"
    }
}

/// Opens the database file at `path` with `key` (a wrong key or a damaged
/// file is `WrongKeyOrCorrupt`) and runs `PRAGMA integrity_check`. The file
/// must start encrypted; a plaintext file is refused.
pub fn check_integrity(path: &Path, key: &DbKey) -> Result<Integrity, StoreError> {
    let mut head = [0u8; 16];
    {
        use std::io::Read;
        let mut f = std::fs::File::open(path).map_err(|e| StoreError::io(path, e))?;
        f.read_exact(&mut head)
            .map_err(|e| StoreError::io(path, e))?;
    }
    if &head == PLAINTEXT_MAGIC {
        return Err(StoreError::Conflict(format!(
            "{} is not encrypted",
            path.display()
        )));
    }
    let conn = open_connection(path, key)?;
    let mut stmt = conn.prepare("PRAGMA integrity_check")?;
    let findings = stmt
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Integrity { findings })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn snapshot_is_encrypted_consistent_and_checks_out() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("hardshell.db");
        let key = DbKey::generate();
        let hex = key.expose_hex().to_string();
        let store = Store::open(&path, key).unwrap();
        let dest = tmp.path().join("copy.db");
        store.snapshot_into(&dest).await.unwrap();
        let bytes = std::fs::read(&dest).unwrap();
        assert_ne!(&bytes[..16], PLAINTEXT_MAGIC);
        let report = check_integrity(&dest, &DbKey::parse(&hex).unwrap()).unwrap();
        assert!(report.ok(), "{report:?}");
        // The copy has the live schema (users table and all).
        let copy = open_connection(&dest, &DbKey::parse(&hex).unwrap()).unwrap();
        let n: i64 = copy
            .query_row("SELECT count(*) FROM users", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 0);
        // Another key cannot open it.
        assert!(matches!(
            check_integrity(&dest, &DbKey::generate()),
            Err(StoreError::WrongKeyOrCorrupt)
        ));
        // A second snapshot to an existing path is refused.
        assert!(store.snapshot_into(&dest).await.is_err());
    }

    #[test]
    fn a_damaged_copy_is_not_ok() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("hardshell.db");
        let key = DbKey::generate();
        let hex = key.expose_hex().to_string();
        drop(Store::open(&path, key).unwrap());
        // Flip bytes in the middle of the file: SQLCipher's page MAC fails.
        let mut bytes = std::fs::read(&path).unwrap();
        let mid = bytes.len() / 2;
        for b in &mut bytes[mid..mid + 32] {
            *b ^= 0xff;
        }
        std::fs::write(&path, &bytes).unwrap();
        let verdict = check_integrity(&path, &DbKey::parse(&hex).unwrap());
        assert!(
            !matches!(verdict, Ok(ref i) if i.ok()),
            "a damaged file passed: {verdict:?}"
        );
    }
}
