//! Encrypted, content-addressed upload files under `uploads/`.
//!
//! A file's name is `hex(HMAC-SHA256(name_key, plaintext))`: identical
//! uploads share one file, and someone with only disk access cannot confirm
//! that a known document is stored (a bare SHA-256 would tell them). The
//! content is AES-256-GCM under a separate key, with a random 96-bit nonce
//! and the file name as associated data, so a file renamed or swapped on
//! disk fails to decrypt instead of serving the wrong bytes. Both keys are
//! derived from the vault's `hardshell.upload_key`.
//!
//! It never takes a path from a caller: names are only ever the hex
//! addresses it computes, checked again before every read. It holds no
//! HTTP types and does blocking I/O (call it from `spawn_blocking`).

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use hmac::{Hmac, Mac};
use rand::{Rng, RngCore};
use sha2::Sha256;
use zeroize::Zeroizing;

/// Marks the file format (and its version) at the start of every file.
const MAGIC: &[u8; 4] = b"HSU1";
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
/// Length of an upload's public id (about 143 bits).
pub const PUBLIC_ID_LEN: usize = 24;
const URL_SAFE: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

#[derive(Debug, thiserror::Error)]
pub enum UploadFileError {
    /// Display carries the OS error only, never a path.
    #[error("upload storage I/O failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("an upload file failed authentication (tampered, truncated or misplaced)")]
    Tampered,
    #[error("not an upload address")]
    BadAddress,
    #[error("the uploads directory is a symbolic link")]
    Symlink,
    #[error("encryption failed")]
    Encrypt,
}

type HmacSha256 = Hmac<Sha256>;

fn hmac(key: &[u8; 32], parts: &[&[u8]]) -> [u8; 32] {
    // A 32-byte key is always accepted; the fallback keeps this infallible.
    let Ok(mut mac) = <HmacSha256 as KeyInit>::new_from_slice(key) else {
        return [0u8; 32];
    };
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

/// The upload store: a directory and the two derived keys. Cheap to clone.
#[derive(Clone)]
pub struct UploadFiles {
    dir: Arc<PathBuf>,
    name_key: Arc<Zeroizing<[u8; 32]>>,
    enc_key: Arc<Zeroizing<[u8; 32]>>,
    /// Uploads in flight (see `upload_slots`).
    pub slots: super::upload_slots::UploadSlots,
}

impl std::fmt::Debug for UploadFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UploadFiles")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl UploadFiles {
    /// `dir` is the data directory's `uploads/`; `upload_key` the vault's
    /// `hardshell.upload_key`.
    pub fn new(dir: PathBuf, upload_key: &[u8; 32]) -> Self {
        let derive = |label: &[u8]| Arc::new(Zeroizing::new(hmac(upload_key, &[label])));
        Self {
            dir: Arc::new(dir),
            name_key: derive(b"hardshell upload file name v1"),
            enc_key: derive(b"hardshell upload content v1"),
            slots: super::upload_slots::UploadSlots::default(),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The content address of `plaintext`.
    pub fn address(&self, plaintext: &[u8]) -> String {
        hex::encode(hmac(&self.name_key, &[plaintext]))
    }

    fn path_of(&self, address: &str) -> Result<PathBuf, UploadFileError> {
        let ok = address.len() == 64
            && address
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !ok {
            return Err(UploadFileError::BadAddress);
        }
        Ok(self.dir.join(address))
    }

    /// Creates `uploads/` (0700) if missing; refuses a symbolic link.
    fn ensure_dir(&self) -> Result<(), UploadFileError> {
        match fs::symlink_metadata(self.dir.as_path()) {
            Ok(m) if m.file_type().is_symlink() => Err(UploadFileError::Symlink),
            Ok(_) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                match fs::DirBuilder::new().mode(0o700).create(self.dir.as_path()) {
                    Ok(()) => Ok(()),
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
                    Err(e) => Err(e.into()),
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Stores `plaintext` encrypted and returns its address. Content that is
    /// already stored intact is not written again; a damaged copy is
    /// replaced. The file appears atomically (temp file, then rename).
    pub fn store(&self, plaintext: &[u8]) -> Result<String, UploadFileError> {
        let address = self.address(plaintext);
        let path = self.path_of(&address)?;
        self.ensure_dir()?;
        if path.exists() && self.load(&address).is_ok() {
            return Ok(address);
        }
        let sealed = self.seal(&address, plaintext)?;
        let tmp = self.dir.join(format!(
            ".tmp-{}",
            hex::encode(rand::rng().random::<[u8; 12]>())
        ));
        let written = (|| -> std::io::Result<()> {
            let mut f = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(&sealed)?;
            f.sync_all()?;
            fs::rename(&tmp, &path)?;
            // Make the rename itself durable.
            fs::File::open(self.dir.as_path())?.sync_all()
        })();
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(e.into());
        }
        Ok(address)
    }

    fn seal(&self, address: &str, plaintext: &[u8]) -> Result<Vec<u8>, UploadFileError> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let mut buf = Vec::with_capacity(plaintext.len() + TAG_LEN);
        buf.extend_from_slice(plaintext);
        Aes256Gcm::new((&**self.enc_key).into())
            .encrypt_in_place(&Nonce::from(nonce), address.as_bytes(), &mut buf)
            .map_err(|_| UploadFileError::Encrypt)?;
        let mut out = Vec::with_capacity(MAGIC.len() + NONCE_LEN + buf.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&buf);
        Ok(out)
    }

    /// Removes the file at `address` (no row names it any more). A file
    /// already gone is not an error.
    pub fn remove(&self, address: &str) -> Result<(), UploadFileError> {
        match fs::remove_file(self.path_of(address)?) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }

    /// Reads and decrypts the file at `address`. Anything but an intact
    /// file written for this address is [`UploadFileError::Tampered`].
    pub fn load(&self, address: &str) -> Result<Vec<u8>, UploadFileError> {
        let path = self.path_of(address)?;
        let raw = fs::read(path)?;
        let Some(rest) = raw.strip_prefix(MAGIC.as_slice()) else {
            return Err(UploadFileError::Tampered);
        };
        if rest.len() < NONCE_LEN + TAG_LEN {
            return Err(UploadFileError::Tampered);
        }
        let (nonce, body) = rest.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| UploadFileError::Tampered)?;
        let mut buf = body.to_vec();
        Aes256Gcm::new((&**self.enc_key).into())
            .decrypt_in_place(&Nonce::from(nonce), address.as_bytes(), &mut buf)
            .map_err(|_| UploadFileError::Tampered)?;
        Ok(buf)
    }
}

/// A fresh public id: [`PUBLIC_ID_LEN`] random URL-safe characters.
pub fn public_id() -> String {
    let mut rng = rand::rng();
    (0..PUBLIC_ID_LEN)
        .map(|_| char::from(URL_SAFE[rng.random_range(0..URL_SAFE.len())]))
        .collect()
}

/// Whether `s` could be a public id (checked before any lookup).
pub fn is_public_id(s: &str) -> bool {
    s.len() == PUBLIC_ID_LEN && s.bytes().all(|b| URL_SAFE.contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn files(tmp: &tempfile::TempDir, key: u8) -> UploadFiles {
        UploadFiles::new(tmp.path().join("uploads"), &[key; 32])
    }

    #[test]
    fn round_trip_is_encrypted_private_and_deduplicated() {
        let tmp = tempfile::tempdir().unwrap();
        let f = files(&tmp, 1);
        let secret = b"the quarterly numbers are terrible".repeat(3);
        let a = f.store(&secret).unwrap();
        assert_eq!(f.store(&secret).unwrap(), a);
        assert_eq!(fs::read_dir(f.dir()).unwrap().count(), 1);
        let raw = fs::read(f.dir().join(&a)).unwrap();
        assert!(!raw.windows(9).any(|w| w == b"quarterly"));
        assert_eq!(f.load(&a).unwrap(), secret);
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(f.dir()), 0o700);
        assert_eq!(mode(&f.dir().join(&a)), 0o600);
        // Keyed: another installation's key gives another address.
        assert_ne!(files(&tmp, 2).address(&secret), a);
        assert_ne!(a, hex::encode(<Sha256 as sha2::Digest>::digest(&secret)));
    }

    #[test]
    fn tampered_renamed_or_foreign_files_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let f = files(&tmp, 1);
        let a = f.store(b"one").unwrap();
        let b = f.store(b"two").unwrap();
        let pa = f.dir().join(&a);
        let mut raw = fs::read(&pa).unwrap();
        let last = raw.len() - 1;
        raw[last] ^= 1;
        fs::write(&pa, &raw).unwrap();
        assert!(matches!(f.load(&a), Err(UploadFileError::Tampered)));
        // A damaged copy is replaced when the same content arrives again.
        assert_eq!(f.store(b"one").unwrap(), a);
        assert_eq!(f.load(&a).unwrap(), b"one");
        // Swapping two files fails: the name is bound to the ciphertext.
        fs::copy(f.dir().join(&b), &pa).unwrap();
        assert!(matches!(f.load(&a), Err(UploadFileError::Tampered)));
        fs::write(&pa, b"HSU1short").unwrap();
        assert!(matches!(f.load(&a), Err(UploadFileError::Tampered)));
        // Another key cannot read it.
        let c = f.store(b"three").unwrap();
        assert!(matches!(
            files(&tmp, 2).load(&c),
            Err(UploadFileError::Tampered)
        ));
        for bad in ["../x", "", &"A".repeat(64), &format!("{c}/")] {
            assert!(matches!(f.load(bad), Err(UploadFileError::BadAddress)));
        }
    }

    #[test]
    fn public_ids_are_long_random_and_url_safe() {
        let a = public_id();
        assert!(is_public_id(&a) && a.len() >= 22);
        assert_ne!(a, public_id());
        assert!(!is_public_id("short") && !is_public_id(&"a/".repeat(12)));
    }
}
