//! The audit key and the HMAC-SHA256 primitive every audit MAC goes through.
//!
//! Owns: holding the 32-byte key (zeroized on drop, never printed) and
//! computing / checking tags in constant time. It must never expose the key
//! bytes or compare tags with `==`.

use crate::error::{AuditError, Result};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

type HmacSha256 = Hmac<Sha256>;

/// Length of the audit key and of every tag, in bytes.
pub const KEY_LEN: usize = 32;

/// The key that chains and anchors the audit log. Lives in the vault.
///
/// Holds only the keyed HMAC state (inner and outer pads already absorbed):
/// it is cloned per tag, which saves two SHA-256 blocks per entry, and it is
/// zeroized on drop (hmac's `zeroize` feature).
#[derive(Clone)]
pub struct AuditKey(HmacSha256);

impl AuditKey {
    /// Takes 32 raw key bytes; the caller's copy is the caller's to zeroize.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        let bytes = Zeroizing::new(bytes);
        match HmacSha256::new_from_slice(&bytes[..]) {
            Ok(m) => Self(m),
            // HMAC accepts keys of any length.
            Err(_) => unreachable!("HMAC-SHA256 rejected a 32-byte key"),
        }
    }

    /// Copies a key from a slice, which must be exactly 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self> {
        let arr: [u8; KEY_LEN] = bytes.try_into().map_err(|_| AuditError::InvalidKey)?;
        Ok(Self::from_bytes(arr))
    }

    /// Parses 64 hex digits (either case, surrounding whitespace ignored).
    pub fn from_hex(hex_key: &str) -> Result<Self> {
        let mut buf = Zeroizing::new([0u8; KEY_LEN]);
        hex::decode_to_slice(hex_key.trim(), &mut buf[..]).map_err(|_| AuditError::InvalidKey)?;
        Ok(Self::from_bytes(*buf))
    }

    /// A fresh HMAC state keyed with this key.
    fn mac(&self) -> HmacSha256 {
        self.0.clone()
    }

    /// HMAC-SHA256 over the concatenation of `parts`.
    pub fn tag(&self, parts: &[&[u8]]) -> [u8; KEY_LEN] {
        let mut m = self.mac();
        for p in parts {
            m.update(p);
        }
        m.finalize().into_bytes().into()
    }

    /// Checks a full-length tag in constant time. Truncated tags are refused.
    pub fn verify_tag(&self, parts: &[&[u8]], tag: &[u8]) -> bool {
        let mut m = self.mac();
        for p in parts {
            m.update(p);
        }
        m.verify_slice(tag).is_ok()
    }
}

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditKey([REDACTED])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_does_not_leak_key() {
        let k = AuditKey::from_bytes([0xab; 32]);
        let shown = format!("{k:?}");
        assert!(!shown.to_lowercase().contains("ab"), "{shown}");
        assert!(shown.contains("REDACTED"));
    }

    #[test]
    fn from_hex_accepts_64_digits_only() {
        let hex64 = "00".repeat(31) + "ff";
        assert!(AuditKey::from_hex(&hex64).is_ok());
        assert!(AuditKey::from_hex(&hex64.to_uppercase()).is_ok());
        assert!(AuditKey::from_hex(&hex64[2..]).is_err());
        assert!(AuditKey::from_hex(&(hex64.clone() + "00")).is_err());
        assert!(AuditKey::from_hex(&hex64.replace("ff", "zz")).is_err());
        assert!(AuditKey::from_slice(&[1u8; 31]).is_err());
        assert!(AuditKey::from_slice(&[1u8; 33]).is_err());
    }

    #[test]
    fn hex_and_bytes_give_the_same_key() {
        let a = AuditKey::from_bytes([7u8; 32]);
        let b = AuditKey::from_hex(&"07".repeat(32)).unwrap();
        assert_eq!(a.tag(&[b"m"]), b.tag(&[b"m"]));
    }

    #[test]
    fn verify_refuses_truncated_and_modified_tags() {
        let k = AuditKey::from_bytes([3u8; 32]);
        let tag = k.tag(&[b"hello", b" world"]);
        assert!(k.verify_tag(&[b"hello world"], &tag));
        assert!(!k.verify_tag(&[b"hello world"], &tag[..16]));
        let mut bad = tag;
        bad[31] ^= 1;
        assert!(!k.verify_tag(&[b"hello world"], &bad));
        let other = AuditKey::from_bytes([4u8; 32]);
        assert!(!other.verify_tag(&[b"hello world"], &tag));
    }
}
