//! The anchor file: the chain head `(seq, hash)` signed with the audit key,
//! so verification can tell that entries were cut off the end.
//!
//! Owns: the anchor MAC (domain-separated from entry hashes), its small JSON
//! file format and the atomic 0600 write. It must never accept an anchor
//! without checking its MAC (the verifier does) or write in place.
//!
//! Domain separation: the MAC input is `"hardshell-audit-anchor-v1" || 0x00
//! || seq (u64 big-endian) || hash (32 raw bytes)`. Entry hashes cover
//! canonical JSON, which always starts with `{`, so neither can be passed off
//! as the other.

use crate::entry::ChainHead;
use crate::error::{AuditError, Result};
use crate::key::AuditKey;
use serde::{Deserialize, Serialize};
use std::io::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// Domain tag of the anchor MAC.
const ANCHOR_DOMAIN: &[u8] = b"hardshell-audit-anchor-v1\0";
const ANCHOR_VERSION: u32 = 1;

/// A signed chain head as stored in `audit.anchor`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnchorFile {
    /// Seq of the head entry.
    pub seq: u64,
    /// Hash of the head entry (64 hex).
    pub hash: String,
    /// HMAC over the domain tag, seq and hash (64 hex).
    pub mac: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AnchorJson {
    version: u32,
    seq: u64,
    hash: String,
    mac: String,
}

impl AnchorFile {
    /// Signs `head` with `key`.
    pub fn sign(key: &AuditKey, head: &ChainHead) -> Self {
        let hash_bytes = decode_hash(&head.hash).unwrap_or([0u8; 32]);
        let mac = key.tag(&[ANCHOR_DOMAIN, &head.seq.to_be_bytes(), &hash_bytes]);
        Self {
            seq: head.seq,
            hash: head.hash.clone(),
            mac: hex::encode(mac),
        }
    }

    /// Whether the MAC is valid under `key` (constant time) and the fields
    /// are well formed.
    pub fn verify(&self, key: &AuditKey) -> bool {
        let (Some(hash_bytes), Some(mac)) = (decode_hash(&self.hash), decode_hash(&self.mac))
        else {
            return false;
        };
        key.verify_tag(&[ANCHOR_DOMAIN, &self.seq.to_be_bytes(), &hash_bytes], &mac)
    }

    /// The head this anchor names.
    pub fn head(&self) -> ChainHead {
        ChainHead {
            seq: self.seq,
            hash: self.hash.clone(),
        }
    }

    /// The file's JSON text.
    pub fn to_json(&self) -> String {
        let json = AnchorJson {
            version: ANCHOR_VERSION,
            seq: self.seq,
            hash: self.hash.clone(),
            mac: self.mac.clone(),
        };
        // Serialising plain strings and integers cannot fail.
        serde_json::to_string(&json).unwrap_or_default()
    }

    /// Parses the file's JSON text (the MAC is not checked here).
    pub fn from_json(text: &str) -> std::result::Result<Self, String> {
        let json: AnchorJson = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if json.version != ANCHOR_VERSION {
            return Err(format!("unsupported anchor version {}", json.version));
        }
        Ok(Self {
            seq: json.seq,
            hash: json.hash,
            mac: json.mac,
        })
    }
}

/// 64 lowercase hex digits to 32 bytes.
pub(crate) fn decode_hash(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 || text.bytes().any(|b| b.is_ascii_uppercase()) {
        return None;
    }
    let mut out = [0u8; 32];
    hex::decode_to_slice(text, &mut out).ok()?;
    Some(out)
}

/// Writes the anchor atomically: a new 0600 temp file beside `path`, fsync,
/// rename over `path`, fsync of the directory.
pub fn write_anchor(path: &Path, anchor: &AnchorFile) -> Result<()> {
    write_atomic(path, &anchor.to_json(), true)
}

/// Replaces `path` with `text` and a newline, atomically: a new 0600 temp
/// file beside it, fsync, rename, and with `sync_dir` an fsync of the
/// directory so the rename itself survives a crash.
pub(crate) fn write_atomic(path: &Path, text: &str, sync_dir: bool) -> Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let io_err = |source| AuditError::AnchorIo {
        path: path.to_path_buf(),
        source,
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let tmp = dir.join(format!(
        ".{file_name}.tmp-{}-{}-{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut file = opts.open(&tmp)?;
        file.write_all(text.as_bytes())?;
        file.write_all(b"\n")?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, path)?;
        #[cfg(unix)]
        if sync_dir {
            std::fs::File::open(&dir)?.sync_all()?;
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(io_err)
}

/// Reads the anchor: `Ok(None)` if the file does not exist, an error if it
/// cannot be read or is malformed. The MAC is checked by the verifier.
pub fn read_anchor(path: &Path) -> Result<Option<AnchorFile>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(AuditError::AnchorIo {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    AnchorFile::from_json(text.trim())
        .map(Some)
        .map_err(|reason| AuditError::AnchorFormat {
            path: path.to_path_buf(),
            reason,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> AuditKey {
        AuditKey::from_bytes([5u8; 32])
    }

    fn head(seq: u64) -> ChainHead {
        ChainHead {
            seq,
            hash: format!("{:064x}", seq * 7 + 1),
        }
    }

    #[test]
    fn signed_anchor_verifies_and_any_change_breaks_it() {
        let k = key();
        let a = AnchorFile::sign(&k, &head(10));
        assert!(a.verify(&k));
        assert!(!a.verify(&AuditKey::from_bytes([6u8; 32])));
        let mut b = a.clone();
        b.seq = 11;
        assert!(!b.verify(&k));
        let mut c = a.clone();
        c.hash = format!("{:064x}", 2);
        assert!(!c.verify(&k));
        let mut d = a.clone();
        d.mac.truncate(32);
        assert!(!d.verify(&k));
        let mut e = a.clone();
        e.mac = e.mac.to_uppercase();
        assert!(!e.verify(&k));
    }

    #[test]
    fn anchor_mac_differs_from_entry_style_mac_of_same_fields() {
        // The same key over the bare seq||hash (no domain tag) gives another tag.
        let k = key();
        let h = head(3);
        let a = AnchorFile::sign(&k, &h);
        let bytes = decode_hash(&h.hash).unwrap();
        let bare = hex::encode(k.tag(&[&h.seq.to_be_bytes(), &bytes]));
        assert_ne!(a.mac, bare);
    }

    #[test]
    fn write_then_read_round_trips_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.anchor");
        assert_eq!(read_anchor(&path).unwrap(), None);
        let a = AnchorFile::sign(&key(), &head(1));
        write_anchor(&path, &a).unwrap();
        let b = AnchorFile::sign(&key(), &head(2));
        write_anchor(&path, &b).unwrap();
        assert_eq!(read_anchor(&path).unwrap(), Some(b));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        // No temp files left behind.
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[test]
    fn malformed_anchor_files_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.anchor");
        for bad in [
            "",
            "{}",
            "not json",
            r#"{"version":2,"seq":1,"hash":"","mac":""}"#,
            r#"{"version":1,"seq":1,"hash":"","mac":"","extra":1}"#,
            r#"{"version":1,"seq":-1,"hash":"","mac":""}"#,
        ] {
            std::fs::write(&path, bad).unwrap();
            assert!(
                matches!(read_anchor(&path), Err(AuditError::AnchorFormat { .. })),
                "{bad}"
            );
        }
    }
}
