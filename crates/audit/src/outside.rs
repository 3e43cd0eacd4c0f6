//! The signed head kept outside the data directory: the outside anchor file
//! and the witness log.
//!
//! Owns: the data-directory id (derived from the audit key, so it survives a
//! rollback of the data directory and cannot be changed without the vault),
//! the signed-head record `(dir id, seq, hash, time, mac)`, the outside
//! anchor file (replaced atomically, mode 0600) and the witness file (one
//! appended JSON line per head). It must never carry audit content: only
//! the data-directory id, the head and the time leave the data directory.
//!
//! Domain separation: the MAC input is `"hardshell-audit-signed-head-v1" ||
//! 0x00 || len(dir id) (u32 BE) || dir id || seq (u64 BE) || hash (32 raw
//! bytes) || len(time) (u32 BE) || time`; the inside anchor and entry hashes
//! use other prefixes, so no tag can be passed off as another.

use crate::anchor::write_atomic;
use crate::entry::{ChainHead, format_ts};
use crate::error::{AuditError, Result};
use crate::key::AuditKey;
use serde::{Deserialize, Serialize};
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::path::Path;
use std::time::SystemTime;

const SIGNED_HEAD_DOMAIN: &[u8] = b"hardshell-audit-signed-head-v1\0";
const DIR_ID_DOMAIN: &[u8] = b"hardshell-data-dir-id-v1\0";
const SIGNED_HEAD_VERSION: u32 = 1;
/// The witness tail read at start: enough for the last line many times over.
const WITNESS_TAIL: u64 = 4096;

/// A stable id for one data directory: 32 hex digits derived from its audit
/// key. Copies of a data directory share it; two installations never do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirId(String);

impl DirId {
    /// The id of the data directory whose audit key is `key`.
    pub fn derive(key: &AuditKey) -> Self {
        let tag = key.tag(&[DIR_ID_DOMAIN]);
        Self(hex::encode(&tag[..16]))
    }

    /// The id as 32 lowercase hex digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The outside anchor's file name for this data directory.
    pub fn anchor_file_name(&self) -> String {
        format!("audit-{}.anchor", self.0)
    }
}

/// A chain head signed together with its data directory's id and the time:
/// the content of the outside anchor and of each witness line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedHead {
    /// The data directory's id (see [`DirId`]).
    pub dir_id: String,
    /// Seq of the head entry.
    pub seq: u64,
    /// Hash of the head entry (64 hex).
    pub hash: String,
    /// When it was signed (RFC 3339 UTC, milliseconds).
    pub time: String,
    /// HMAC over all of the above (64 hex).
    pub mac: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SignedHeadJson {
    version: u32,
    dir_id: String,
    seq: u64,
    hash: String,
    time: String,
    mac: String,
}

/// The exact bytes the MAC covers (see the module comment).
fn mac_message(dir_id: &str, seq: u64, hash: &[u8; 32], time: &str) -> Vec<u8> {
    let mut msg = Vec::with_capacity(SIGNED_HEAD_DOMAIN.len() + 80 + dir_id.len() + time.len());
    msg.extend_from_slice(SIGNED_HEAD_DOMAIN);
    msg.extend_from_slice(
        &u32::try_from(dir_id.len())
            .unwrap_or(u32::MAX)
            .to_be_bytes(),
    );
    msg.extend_from_slice(dir_id.as_bytes());
    msg.extend_from_slice(&seq.to_be_bytes());
    msg.extend_from_slice(hash);
    msg.extend_from_slice(&u32::try_from(time.len()).unwrap_or(u32::MAX).to_be_bytes());
    msg.extend_from_slice(time.as_bytes());
    msg
}

impl SignedHead {
    /// Signs `head` for data directory `dir_id` at time `at`.
    pub fn sign(key: &AuditKey, dir_id: &DirId, head: &ChainHead, at: SystemTime) -> Self {
        let time = format_ts(at);
        let hash_bytes = crate::anchor::decode_hash(&head.hash).unwrap_or([0u8; 32]);
        let mac = key.tag(&[&mac_message(dir_id.as_str(), head.seq, &hash_bytes, &time)]);
        Self {
            dir_id: dir_id.as_str().to_owned(),
            seq: head.seq,
            hash: head.hash.clone(),
            time,
            mac: hex::encode(mac),
        }
    }

    /// Whether the MAC is valid under `key` (constant time) and the record
    /// names `dir_id`: a genuine head of another data directory is refused.
    pub fn verify(&self, key: &AuditKey, dir_id: &DirId) -> bool {
        let (Some(hash), Some(mac)) = (
            crate::anchor::decode_hash(&self.hash),
            crate::anchor::decode_hash(&self.mac),
        ) else {
            return false;
        };
        self.dir_id == dir_id.as_str()
            && key.verify_tag(
                &[&mac_message(&self.dir_id, self.seq, &hash, &self.time)],
                &mac,
            )
    }

    /// The head this record names.
    pub fn head(&self) -> ChainHead {
        ChainHead {
            seq: self.seq,
            hash: self.hash.clone(),
        }
    }

    /// One line of JSON.
    pub fn to_json(&self) -> String {
        let json = SignedHeadJson {
            version: SIGNED_HEAD_VERSION,
            dir_id: self.dir_id.clone(),
            seq: self.seq,
            hash: self.hash.clone(),
            time: self.time.clone(),
            mac: self.mac.clone(),
        };
        // Serialising plain strings and integers cannot fail.
        serde_json::to_string(&json).unwrap_or_default()
    }

    /// Parses one line of JSON (the MAC is not checked here).
    pub fn from_json(text: &str) -> std::result::Result<Self, String> {
        let json: SignedHeadJson = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if json.version != SIGNED_HEAD_VERSION {
            return Err(format!("unsupported signed head version {}", json.version));
        }
        Ok(Self {
            dir_id: json.dir_id,
            seq: json.seq,
            hash: json.hash,
            time: json.time,
            mac: json.mac,
        })
    }
}

/// Creates the directory that holds `path` (mode 0700) if it is missing.
fn ensure_parent(path: &Path) -> Result<()> {
    let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) else {
        return Ok(());
    };
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(|source| AuditError::AnchorIo {
        path: dir.to_path_buf(),
        source,
    })
}

/// Replaces the outside anchor at `path` (creating its directory, 0700).
///
/// The file's content is synced before the rename, so a crash never leaves
/// a torn anchor; the directory is not synced, so a crash may keep the
/// previous anchor, which is behind the head and therefore accepted. The
/// inside anchor is written (and its rename synced) first, so the outside
/// one is never ahead of it without tampering.
pub fn write_outside_anchor(path: &Path, head: &SignedHead) -> Result<()> {
    ensure_parent(path)?;
    write_atomic(path, &head.to_json(), false)
}

/// Reads the outside anchor: `Ok(None)` if the file does not exist.
pub fn read_outside_anchor(path: &Path) -> Result<Option<SignedHead>> {
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
    SignedHead::from_json(text.trim())
        .map(Some)
        .map_err(|reason| AuditError::AnchorFormat {
            path: path.to_path_buf(),
            reason,
        })
}

/// Appends one line to the witness file (created 0600; opened append-only,
/// so a line is never written over an earlier one) and syncs it.
pub fn append_witness(path: &Path, head: &SignedHead) -> Result<()> {
    let io_err = |source| AuditError::AnchorIo {
        path: path.to_path_buf(),
        source,
    };
    ensure_parent(path)?;
    let mut opts = std::fs::OpenOptions::new();
    opts.append(true).create(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut file = opts.open(path).map_err(io_err)?;
    let mut line = head.to_json();
    line.push('\n');
    // One write call: the line lands whole at the end of the file.
    file.write_all(line.as_bytes()).map_err(io_err)?;
    file.sync_data().map_err(io_err)
}

/// The last complete line of the witness file: `Ok(None)` if the file does
/// not exist or is empty.
pub fn read_witness_last(path: &Path) -> Result<Option<SignedHead>> {
    let io_err = |source| AuditError::AnchorIo {
        path: path.to_path_buf(),
        source,
    };
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(io_err(source)),
    };
    let len = file.metadata().map_err(io_err)?.len();
    file.seek(SeekFrom::Start(len.saturating_sub(WITNESS_TAIL)))
        .map_err(io_err)?;
    let mut tail = String::new();
    file.read_to_string(&mut tail).map_err(io_err)?;
    // A line cut short by a crash has no newline yet; the one before counts.
    let complete = match tail.rfind('\n') {
        Some(end) => &tail[..end],
        None => return Ok(None),
    };
    let Some(last) = complete
        .rsplit('\n')
        .next()
        .filter(|l| !l.trim().is_empty())
    else {
        return Ok(None);
    };
    SignedHead::from_json(last.trim())
        .map(Some)
        .map_err(|reason| AuditError::AnchorFormat {
            path: path.to_path_buf(),
            reason,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn key() -> AuditKey {
        AuditKey::from_bytes([7u8; 32])
    }

    fn head(seq: u64) -> ChainHead {
        ChainHead {
            seq,
            hash: format!("{:064x}", seq * 3 + 1),
        }
    }

    fn at(ms: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(ms)
    }

    #[test]
    fn dir_id_is_stable_per_key_and_differs_between_keys() {
        let a = DirId::derive(&key());
        assert_eq!(a, DirId::derive(&key()));
        assert_eq!(a.as_str().len(), 32);
        assert_ne!(a, DirId::derive(&AuditKey::from_bytes([8u8; 32])));
        assert_eq!(a.anchor_file_name(), format!("audit-{}.anchor", a.as_str()));
    }

    #[test]
    fn any_change_to_a_signed_head_breaks_it() {
        let k = key();
        let id = DirId::derive(&k);
        let s = SignedHead::sign(&k, &id, &head(5), at(1_000));
        assert!(s.verify(&k, &id));
        let edits: Vec<fn(&mut SignedHead)> = vec![
            |s| s.seq += 1,
            |s| s.hash = format!("{:064x}", 9),
            |s| s.time = format_ts(at(2_000)),
            |s| s.dir_id = "0".repeat(32),
            |s| s.mac = s.mac.to_uppercase(),
            |s| s.mac.truncate(10),
        ];
        for (i, edit) in edits.iter().enumerate() {
            let mut t = s.clone();
            edit(&mut t);
            assert!(!t.verify(&k, &id), "edit {i} went unnoticed");
        }
        // Another installation's genuine head is refused here, and ours there.
        let other = AuditKey::from_bytes([8u8; 32]);
        let other_id = DirId::derive(&other);
        assert!(!s.verify(&other, &other_id));
        assert!(!s.verify(&k, &other_id));
        // The inside anchor's tag over the same head is not a signed head's.
        let inside = crate::AnchorFile::sign(&k, &head(5));
        assert_ne!(inside.mac, s.mac);
    }

    #[test]
    fn outside_anchor_round_trips_with_private_modes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config/hardshell/audit-x.anchor");
        assert_eq!(read_outside_anchor(&path).unwrap(), None);
        let k = key();
        let id = DirId::derive(&k);
        let a = SignedHead::sign(&k, &id, &head(1), at(5));
        write_outside_anchor(&path, &a).unwrap();
        let b = SignedHead::sign(&k, &id, &head(2), at(6));
        write_outside_anchor(&path, &b).unwrap();
        assert_eq!(read_outside_anchor(&path).unwrap(), Some(b));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&path), 0o600);
            assert_eq!(mode(path.parent().unwrap()), 0o700);
        }
        std::fs::write(&path, "{\"version\":1}").unwrap();
        assert!(matches!(
            read_outside_anchor(&path),
            Err(AuditError::AnchorFormat { .. })
        ));
    }

    #[test]
    fn witness_keeps_every_line_and_reads_the_last_complete_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("witness.log");
        assert_eq!(read_witness_last(&path).unwrap(), None);
        let k = key();
        let id = DirId::derive(&k);
        let heads: Vec<_> = (1..=40)
            .map(|i| SignedHead::sign(&k, &id, &head(i), at(i)))
            .collect();
        for h in &heads {
            append_witness(&path, h).unwrap();
        }
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 40);
        // Only the id, the head, the time and the MAC leave the directory.
        let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        let mut keys: Vec<_> = first.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(keys, ["dir_id", "hash", "mac", "seq", "time", "version"]);
        assert_eq!(read_witness_last(&path).unwrap().as_ref(), heads.last());
        // A line cut short by a crash does not count.
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(b"{\"version\":1,\"dir_").unwrap();
        assert_eq!(read_witness_last(&path).unwrap().as_ref(), heads.last());
    }
}
