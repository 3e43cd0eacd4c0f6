//! Encrypted, content-addressed upload files under `uploads/`.
//!
//! A file's name is `hex(HMAC-SHA256(name_key, plaintext))`: identical
//! uploads share one file, and someone with only disk access cannot confirm
//! that a known document is stored (a bare SHA-256 would tell them). Both
//! keys are derived from the vault's `hardshell.upload_key`.
//!
//! Files are written in the chunked `HSU2` format (`upload_stream`): an
//! upload is encrypted into a temporary file as it arrives ([`Pending`]),
//! its address computed on the fly, and renamed into place only once it is
//! complete and accepted ([`Staged::commit`]); dropped before that, the
//! temporary file is removed. Files from before (`HSU1`: one AES-256-GCM
//! call over the whole file, random 96-bit nonce, the file name as
//! associated data) are still read. In both, a file renamed or swapped on
//! disk fails to decrypt instead of serving the wrong bytes.
//!
//! It never takes a path from a caller: names are only ever the hex
//! addresses it computes, checked again before every read. It holds no
//! HTTP types and does blocking I/O (call it from `spawn_blocking`).

use std::fs;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use hmac::{Hmac, Mac};
use rand::{Rng, RngCore};
use sha2::Sha256;
use zeroize::Zeroizing;

use super::upload_stream::{self as stream, Opener, Sealer};

/// Marks the first file format (one AEAD call over the whole file).
const MAGIC_V1: &[u8; 4] = b"HSU1";
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
/// Names of uploads still arriving start with this (backups skip them).
pub const TEMP_PREFIX: &str = ".tmp-";
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
    #[error("the upload was abandoned before it was complete")]
    Abandoned,
}

type HmacSha256 = Hmac<Sha256>;

pub(super) fn hmac(key: &[u8; 32], parts: &[&[u8]]) -> [u8; 32] {
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

    /// Stores `plaintext` encrypted and returns its address (see
    /// [`UploadFiles::begin`]; a stored copy of the same content is
    /// replaced by the new, intact one).
    pub fn store(&self, plaintext: &[u8]) -> Result<String, UploadFileError> {
        let mut p = self.begin()?;
        p.write(plaintext)?;
        p.finish()?.commit()
    }

    /// Starts an upload: a new temporary file (0600) in `uploads/`,
    /// removed again unless the upload is committed.
    pub fn begin(&self) -> Result<Pending, UploadFileError> {
        self.ensure_dir()?;
        let tmp = self.dir.join(format!(
            "{TEMP_PREFIX}{}",
            hex::encode(rand::rng().random::<[u8; 12]>())
        ));
        let file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        let guard = TempFile(Some(tmp));
        let mut salt = [0u8; 32];
        rand::rng().fill_bytes(&mut salt);
        let sealer = Sealer::new(
            std::io::BufWriter::with_capacity(stream::CHUNK + 64, file),
            &self.enc_key,
            salt,
        )?;
        let mac = <HmacSha256 as KeyInit>::new_from_slice(&**self.name_key)
            .map_err(|_| UploadFileError::Encrypt)?;
        Ok(Pending {
            files: self.clone(),
            tmp: guard,
            sealer,
            mac,
        })
    }

    /// Removes the temporary files of uploads that never finished (the
    /// server stopped mid-upload) and returns how many. Only for start-up,
    /// before any upload can be in flight.
    pub fn remove_leftovers(&self) -> usize {
        let Ok(entries) = fs::read_dir(self.dir.as_path()) else {
            return 0;
        };
        entries
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with(TEMP_PREFIX))
            .filter(|e| fs::remove_file(e.path()).is_ok())
            .count()
    }

    /// Removes the file at `address` (no row names it any more). A file
    /// already gone is not an error.
    pub fn remove(&self, address: &str) -> Result<(), UploadFileError> {
        match fs::remove_file(self.path_of(address)?) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }

    /// Reads and decrypts the whole file at `address`. Anything but an
    /// intact file written for this address is [`UploadFileError::Tampered`].
    pub fn load(&self, address: &str) -> Result<Vec<u8>, UploadFileError> {
        match self.open(address)? {
            Download::Whole(bytes) => Ok(bytes.unwrap_or_default()),
            Download::Chunks(o) => o.read_all(),
        }
    }

    /// Opens the file at `address` for reading chunk by chunk. An `HSU2`
    /// file has its binding to `address` checked here, before any
    /// plaintext is handed out; an `HSU1` file is read whole.
    pub fn open(&self, address: &str) -> Result<Download, UploadFileError> {
        let path = self.path_of(address)?;
        let mut f = fs::File::open(path)?;
        let len = f.metadata()?.len();
        let mut magic = [0u8; 4];
        if f.read_exact(&mut magic).is_err() {
            return Err(UploadFileError::Tampered);
        }
        f.seek(SeekFrom::Start(0))?;
        if &magic == stream::MAGIC {
            return Ok(Download::Chunks(Box::new(Opener::open(
                std::io::BufReader::with_capacity(stream::CHUNK + 64, f),
                len,
                &self.enc_key,
                address,
            )?)));
        }
        let mut raw = Vec::new();
        f.read_to_end(&mut raw)?;
        self.open_v1(address, &raw)
            .map(|b| Download::Whole(Some(b)))
    }

    fn open_v1(&self, address: &str, raw: &[u8]) -> Result<Vec<u8>, UploadFileError> {
        let Some(rest) = raw.strip_prefix(MAGIC_V1.as_slice()) else {
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

    /// Writes `plaintext` in the old `HSU1` format (tests of the reader).
    #[cfg(test)]
    pub(crate) fn store_v1(&self, plaintext: &[u8]) -> Result<String, UploadFileError> {
        let address = self.address(plaintext);
        let path = self.path_of(&address)?;
        self.ensure_dir()?;
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let mut buf = plaintext.to_vec();
        Aes256Gcm::new((&**self.enc_key).into())
            .encrypt_in_place(&Nonce::from(nonce), address.as_bytes(), &mut buf)
            .map_err(|_| UploadFileError::Encrypt)?;
        let mut out = MAGIC_V1.to_vec();
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&buf);
        fs::write(path, out)?;
        Ok(address)
    }
}

/// A stored file opened for reading.
pub enum Download {
    /// An `HSU1` file, decrypted whole (taken by the first `next_chunk`).
    Whole(Option<Vec<u8>>),
    /// An `HSU2` file, decrypted a chunk at a time.
    Chunks(Box<Opener<std::io::BufReader<fs::File>>>),
}

impl Download {
    /// The plaintext length.
    pub fn len(&self) -> u64 {
        match self {
            Download::Whole(b) => b.as_ref().map_or(0, |b| b.len() as u64),
            Download::Chunks(o) => o.plain_len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The next piece of plaintext, `None` at the end. An error means the
    /// file is damaged from here on; what came before was authentic.
    pub fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, UploadFileError> {
        match self {
            Download::Whole(b) => Ok(b.take()),
            Download::Chunks(o) => o.next_chunk(),
        }
    }
}

/// A temporary file removed when dropped, unless taken.
struct TempFile(Option<PathBuf>);

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = fs::remove_file(p);
        }
    }
}

/// An upload being written: plaintext goes in, encrypted, as it arrives.
/// Dropped before [`Pending::finish`], its temporary file is removed.
pub struct Pending {
    files: UploadFiles,
    tmp: TempFile,
    sealer: Sealer<std::io::BufWriter<fs::File>>,
    mac: HmacSha256,
}

impl Pending {
    /// Takes the next bytes.
    pub fn write(&mut self, data: &[u8]) -> Result<(), UploadFileError> {
        self.mac.update(data);
        self.sealer.write(data)
    }

    /// Plaintext bytes taken so far.
    pub fn len(&self) -> u64 {
        self.sealer.taken()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Seals the last chunk and makes the file durable. It is not yet in
    /// place: see [`Staged::commit`].
    pub fn finish(self) -> Result<Staged, UploadFileError> {
        let address = hex::encode(self.mac.finalize().into_bytes());
        let len = self.sealer.taken();
        let file = self
            .sealer
            .finish(&address)?
            .into_inner()
            .map_err(|e| UploadFileError::Io(e.into_error()))?;
        file.sync_all()?;
        Ok(Staged {
            files: self.files,
            tmp: self.tmp,
            address,
            len,
        })
    }
}

/// A complete upload in its temporary file, waiting to be accepted.
/// Dropped before [`Staged::commit`], its temporary file is removed.
pub struct Staged {
    files: UploadFiles,
    tmp: TempFile,
    address: String,
    len: u64,
}

impl Staged {
    pub fn address(&self) -> &str {
        &self.address
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Decrypts the whole upload from its temporary file (for checks that
    /// need every byte, such as typing it).
    pub fn read_all(&self) -> Result<Vec<u8>, UploadFileError> {
        let path = self.tmp.0.as_ref().ok_or(UploadFileError::Abandoned)?;
        let f = fs::File::open(path)?;
        let len = f.metadata()?.len();
        Opener::open(
            std::io::BufReader::with_capacity(stream::CHUNK + 64, f),
            len,
            &self.files.enc_key,
            &self.address,
        )?
        .read_all()
    }

    /// Renames the file into place (atomically, replacing any earlier copy
    /// of the same content) and returns its address.
    pub fn commit(mut self) -> Result<String, UploadFileError> {
        let path = self.files.path_of(&self.address)?;
        let tmp = self.tmp.0.as_ref().ok_or(UploadFileError::Abandoned)?;
        fs::rename(tmp, &path)?;
        self.tmp.0 = None;
        // Make the rename itself durable.
        fs::File::open(self.files.dir.as_path())?.sync_all()?;
        Ok(std::mem::take(&mut self.address))
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

    fn temp_files(f: &UploadFiles) -> usize {
        fs::read_dir(f.dir())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with(".tmp-")
            })
            .count()
    }

    #[test]
    fn files_in_the_old_one_shot_format_still_read() {
        let tmp = tempfile::tempdir().unwrap();
        let f = files(&tmp, 1);
        let data = b"written before chunked files".repeat(5000);
        let a = f.store_v1(&data).unwrap();
        assert!(fs::read(f.dir().join(&a)).unwrap().starts_with(b"HSU1"));
        assert_eq!(f.load(&a).unwrap(), data);
        let mut d = f.open(&a).unwrap();
        assert_eq!(d.len(), data.len() as u64);
        assert_eq!(d.next_chunk().unwrap().unwrap(), data);
        assert!(d.next_chunk().unwrap().is_none());
        // Same content again: now written in the new format, same address.
        assert_eq!(f.store(&data).unwrap(), a);
        assert!(fs::read(f.dir().join(&a)).unwrap().starts_with(b"HSU2"));
        assert_eq!(f.load(&a).unwrap(), data);
    }

    #[test]
    fn streamed_uploads_appear_only_when_committed() {
        let tmp = tempfile::tempdir().unwrap();
        let f = files(&tmp, 1);
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
        let mut p = f.begin().unwrap();
        for part in data.chunks(10_000) {
            p.write(part).unwrap();
        }
        assert_eq!(temp_files(&f), 1);
        let staged = p.finish().unwrap();
        assert_eq!(staged.address(), f.address(&data));
        assert_eq!(staged.read_all().unwrap(), data);
        assert!(!f.dir().join(staged.address()).exists());
        let a = staged.commit().unwrap();
        assert_eq!(temp_files(&f), 0);
        assert_eq!(f.load(&a).unwrap(), data);
        let mut d = f.open(&a).unwrap();
        assert_eq!(d.len(), data.len() as u64);
        let mut back = Vec::new();
        while let Some(c) = d.next_chunk().unwrap() {
            assert!(c.len() <= stream::CHUNK);
            back.extend_from_slice(&c);
        }
        assert_eq!(back, data);
        // Abandoned while writing, or after finishing: nothing is left.
        let mut p = f.begin().unwrap();
        p.write(b"half").unwrap();
        drop(p);
        assert_eq!(temp_files(&f), 0);
        let mut p = f.begin().unwrap();
        p.write(b"refused later").unwrap();
        let staged = p.finish().unwrap();
        let addr = staged.address().to_string();
        drop(staged);
        assert_eq!(temp_files(&f), 0);
        assert!(!f.dir().join(addr).exists());
        assert_eq!(fs::read_dir(f.dir()).unwrap().count(), 1);
        // A crash mid-upload leaves one; start-up removes it, nothing else.
        let mut p = f.begin().unwrap();
        p.write(b"the server was killed here").unwrap();
        std::mem::forget(p);
        assert_eq!(temp_files(&f), 1);
        assert_eq!(f.remove_leftovers(), 1);
        assert_eq!(temp_files(&f), 0);
        assert_eq!(f.load(&a).unwrap(), data);
    }

    #[test]
    fn public_ids_are_long_random_and_url_safe() {
        let a = public_id();
        assert!(is_public_id(&a) && a.len() >= 22);
        assert_ne!(a, public_id());
        assert!(!is_public_id("short") && !is_public_id(&"a/".repeat(12)));
    }
}
