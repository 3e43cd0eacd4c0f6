//! The backup archive on disk: a tar stream inside an age file, with a
//! manifest of SHA-256 sums as its last entry.
//!
//! Owns the archive's layout (`data/…` for the data directory, `outside/…`
//! for the copy of the outside audit anchor, `MANIFEST.json`), writing it
//! through age (a passphrase, via scrypt, or X25519 recipients) and reading
//! it back into a staging directory with every path and hash checked. It
//! must never write a byte of the archive unencrypted, never extract an
//! entry outside the staging directory (links, devices, absolute paths and
//! `..` are refused), and never report an archive as sound when a file is
//! missing, extra or differs from the manifest.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, BufReader, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};
use std::str::FromStr;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::BackupError;

/// The manifest's name inside the archive.
pub const MANIFEST: &str = "MANIFEST.json";
/// The format tag in every manifest.
pub const FORMAT: &str = "hardshell-backup-v1";
/// Top-level folders an archive may hold.
pub const DATA: &str = "data";
pub const OUTSIDE: &str = "outside";

/// One file's entry in the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSum {
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

/// What the archive says about itself.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: String,
    pub name: String,
    pub created_at: String,
    pub hardshell_version: String,
    /// The newest audit seq in the database snapshot.
    pub audit_head_seq: u64,
    pub files: Vec<FileSum>,
}

/// How an archive is encrypted.
pub enum SealTo {
    /// A passphrase a person chose (age's scrypt recipient).
    Passphrase(SecretString),
    /// age public keys (`age1pq1…`, or classic `age1…`); the matching
    /// identity file decrypts.
    Recipients(Vec<Box<dyn age::Recipient + Send>>),
}

/// One recipient: post-quantum (`age1pq1…`) or classic X25519 (`age1…`).
fn parse_recipient(s: &str) -> Option<Box<dyn age::Recipient + Send>> {
    if let Ok(pq) = age::pq::Recipient::from_str(s) {
        return Some(Box::new(pq));
    }
    // Classic X25519 keys are deprecated in favour of the hybrid
    // post-quantum ones, and still accepted so existing age keys work.
    #[allow(deprecated)]
    let classic = age::x25519::Recipient::from_str(s).ok();
    classic.map(|r| Box::new(r) as Box<dyn age::Recipient + Send>)
}

impl SealTo {
    /// Parses `age1…` recipients.
    pub fn recipients(list: &[String]) -> Result<Self, BackupError> {
        let parsed = list
            .iter()
            .map(|s| {
                parse_recipient(s.trim()).ok_or_else(|| {
                    BackupError::Invalid(format!("{s:?} is not an age recipient (age1…)"))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if parsed.is_empty() {
            return Err(BackupError::Invalid("no recipient given".into()));
        }
        Ok(Self::Recipients(parsed))
    }
}

/// How an archive is decrypted.
pub enum OpenWith {
    Passphrase(SecretString),
    /// Identities from an age identity file (`AGE-SECRET-KEY-1…`).
    Identities(Vec<Box<dyn age::Identity + Send + Sync>>),
}

impl OpenWith {
    pub fn identity_file(path: &Path) -> Result<Self, BackupError> {
        let file = age::IdentityFile::from_file(path.display().to_string()).map_err(|e| {
            BackupError::Invalid(format!(
                "cannot read the identity file {}: {e}",
                path.display()
            ))
        })?;
        let ids = file
            .into_identities()
            .map_err(|e| BackupError::Invalid(format!("{}: {e}", path.display())))?;
        if ids.is_empty() {
            return Err(BackupError::Invalid(format!(
                "{} holds no identity",
                path.display()
            )));
        }
        Ok(Self::Identities(ids))
    }
}

/// Counts and hashes what passes through it.
struct Hashing<R> {
    inner: R,
    hash: Sha256,
    size: u64,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }
}

/// Writes an archive entry by entry; `finish` appends the manifest and
/// closes the age stream (without it the file cannot be decrypted whole).
pub struct ArchiveWriter<W: Write> {
    tar: tar::Builder<age::stream::StreamWriter<W>>,
    files: Vec<FileSum>,
}

fn header(size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_size(size);
    h.set_mode(0o600);
    h.set_mtime(0);
    h.set_entry_type(tar::EntryType::Regular);
    h
}

impl<W: Write> ArchiveWriter<W> {
    pub fn new(out: W, to: &SealTo) -> Result<Self, BackupError> {
        let encryptor = match to {
            SealTo::Passphrase(p) => age::Encryptor::with_user_passphrase(p.clone()),
            SealTo::Recipients(rs) => age::Encryptor::with_recipients(
                rs.iter().map(|r| r.as_ref() as &dyn age::Recipient),
            )
            .map_err(|e| BackupError::Invalid(format!("cannot encrypt: {e}")))?,
        };
        let stream = encryptor.wrap_output(out)?;
        let mut tar = tar::Builder::new(stream);
        tar.mode(tar::HeaderMode::Deterministic);
        Ok(Self {
            tar,
            files: Vec::new(),
        })
    }

    /// Adds the file at `src` as `name`, hashing exactly the bytes written.
    /// A file that changes size while it is read fails the backup.
    pub fn add_file(&mut self, name: &str, src: &Path) -> Result<(), BackupError> {
        let file = fs::File::open(src).map_err(|e| BackupError::io(src, e))?;
        let size = file.metadata().map_err(|e| BackupError::io(src, e))?.len();
        let mut reader = Hashing {
            inner: BufReader::new(file).take(size),
            hash: Sha256::new(),
            size: 0,
        };
        let mut h = header(size);
        self.tar
            .append_data(&mut h, name, &mut reader)
            .map_err(|e| BackupError::io(src, e))?;
        if reader.size != size {
            return Err(BackupError::Invalid(format!(
                "{} changed while it was read",
                src.display()
            )));
        }
        self.files.push(FileSum {
            path: name.to_string(),
            size,
            sha256: hex::encode(reader.hash.finalize()),
        });
        Ok(())
    }

    /// Adds `bytes` as `name`.
    pub fn add_bytes(&mut self, name: &str, bytes: &[u8]) -> Result<(), BackupError> {
        let mut h = header(bytes.len() as u64);
        self.tar.append_data(&mut h, name, bytes)?;
        self.files.push(FileSum {
            path: name.to_string(),
            size: bytes.len() as u64,
            sha256: hex::encode(Sha256::digest(bytes)),
        });
        Ok(())
    }

    /// Appends the manifest (with every file's sum) and ends the stream.
    pub fn finish(mut self, mut manifest: Manifest) -> Result<(W, Manifest), BackupError> {
        manifest.files = std::mem::take(&mut self.files);
        let json = serde_json::to_vec_pretty(&manifest)
            .map_err(|e| BackupError::Invalid(format!("manifest: {e}")))?;
        let mut h = header(json.len() as u64);
        self.tar.append_data(&mut h, MANIFEST, json.as_slice())?;
        let stream = self.tar.into_inner()?;
        Ok((stream.finish()?, manifest))
    }
}

/// The archive's relative path as plain components, or a refusal.
fn safe_relative(path: &Path) -> Result<PathBuf, BackupError> {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(p) => out.push(p),
            _ => {
                return Err(BackupError::Damaged(format!(
                    "the archive names an unsafe path: {}",
                    path.display()
                )));
            }
        }
    }
    let top_ok = out
        .components()
        .next()
        .is_some_and(|c| c.as_os_str() == DATA || c.as_os_str() == OUTSIDE);
    if out.as_os_str().is_empty() || (!top_ok && out != Path::new(MANIFEST)) {
        return Err(BackupError::Damaged(format!(
            "unexpected entry in the archive: {}",
            path.display()
        )));
    }
    Ok(out)
}

fn decrypt_error(e: age::DecryptError) -> BackupError {
    match e {
        age::DecryptError::DecryptionFailed
        | age::DecryptError::KeyDecryptionFailed
        | age::DecryptError::NoMatchingKeys => BackupError::WrongKey,
        age::DecryptError::ExcessiveWork { .. } => {
            BackupError::Damaged("the archive asks for more passphrase work than allowed".into())
        }
        other => BackupError::Damaged(format!("not a readable backup archive: {other}")),
    }
}

/// A read error inside the decrypted stream means the ciphertext was cut
/// short or altered (age authenticates every chunk and marks the last).
fn stream_error(e: io::Error) -> BackupError {
    BackupError::Damaged(format!("the archive is truncated or altered: {e}"))
}

/// Decrypts and unpacks the archive at `src` into `dest` (an empty private
/// directory), checking every entry against the manifest. Returns the
/// manifest only when every file is present, expected and intact.
pub fn extract(src: &Path, with: &OpenWith, dest: &Path) -> Result<Manifest, BackupError> {
    let file = fs::File::open(src).map_err(|e| BackupError::io(src, e))?;
    let decryptor = age::Decryptor::new_buffered(BufReader::new(file)).map_err(decrypt_error)?;
    let reader = match with {
        OpenWith::Passphrase(p) => {
            if !decryptor.is_scrypt() {
                return Err(BackupError::Invalid(
                    "this archive is encrypted to a recipient: pass --identity FILE".into(),
                ));
            }
            let id = age::scrypt::Identity::new(p.clone());
            decryptor.decrypt(std::iter::once(&id as &dyn age::Identity))
        }
        OpenWith::Identities(ids) => {
            if decryptor.is_scrypt() {
                return Err(BackupError::Invalid(
                    "this archive is encrypted to a passphrase: pass --backup-passphrase-file"
                        .into(),
                ));
            }
            decryptor.decrypt(ids.iter().map(|i| i.as_ref() as &dyn age::Identity))
        }
    }
    .map_err(decrypt_error)?;
    let mut archive = tar::Archive::new(reader);
    let mut found: BTreeMap<String, FileSum> = BTreeMap::new();
    let mut manifest: Option<Manifest> = None;
    for entry in archive.entries().map_err(stream_error)? {
        let mut entry = entry.map_err(stream_error)?;
        if entry.header().entry_type() != tar::EntryType::Regular {
            return Err(BackupError::Damaged(
                "the archive holds something other than regular files".into(),
            ));
        }
        let rel = safe_relative(&entry.path().map_err(stream_error)?)?;
        let name = rel.to_string_lossy().into_owned();
        if manifest.is_some() {
            return Err(BackupError::Damaged(format!(
                "{name} follows the manifest in the archive"
            )));
        }
        if rel == Path::new(MANIFEST) {
            let mut text = Vec::new();
            entry.read_to_end(&mut text).map_err(stream_error)?;
            manifest =
                Some(serde_json::from_slice(&text).map_err(|e| {
                    BackupError::Damaged(format!("the manifest does not parse: {e}"))
                })?);
            continue;
        }
        let out = dest.join(&rel);
        if let Some(parent) = out.parent() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(parent)
                .map_err(|e| BackupError::io(parent, e))?;
        }
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&out)
            .map_err(|e| match e.kind() {
                io::ErrorKind::AlreadyExists => {
                    BackupError::Damaged(format!("{name} appears twice in the archive"))
                }
                _ => BackupError::io(&out, e),
            })?;
        let mut reader = Hashing {
            inner: &mut entry,
            hash: Sha256::new(),
            size: 0,
        };
        io::copy(&mut reader, &mut file).map_err(stream_error)?;
        file.sync_all().map_err(|e| BackupError::io(&out, e))?;
        let sum = FileSum {
            path: name.clone(),
            size: reader.size,
            sha256: hex::encode(reader.hash.finalize()),
        };
        found.insert(name, sum);
    }
    let manifest = manifest.ok_or_else(|| {
        BackupError::Damaged("the archive has no manifest (it is incomplete)".into())
    })?;
    check_against_manifest(&manifest, &found)?;
    Ok(manifest)
}

fn check_against_manifest(
    manifest: &Manifest,
    found: &BTreeMap<String, FileSum>,
) -> Result<(), BackupError> {
    if manifest.format != FORMAT {
        return Err(BackupError::Damaged(format!(
            "unknown archive format {:?}",
            manifest.format
        )));
    }
    let mut listed = BTreeMap::new();
    for f in &manifest.files {
        if listed.insert(f.path.as_str(), f).is_some() {
            return Err(BackupError::Damaged(format!(
                "the manifest lists {} twice",
                f.path
            )));
        }
    }
    for (path, sum) in found {
        match listed.get(path.as_str()) {
            None => {
                return Err(BackupError::Damaged(format!(
                    "{path} is in the archive but not in its manifest"
                )));
            }
            Some(want) if *want != sum => {
                return Err(BackupError::Damaged(format!(
                    "{path} does not match its SHA-256 sum in the manifest"
                )));
            }
            Some(_) => {}
        }
    }
    if let Some(missing) = listed.keys().find(|p| !found.contains_key(**p)) {
        return Err(BackupError::Damaged(format!(
            "{missing} is in the manifest but missing from the archive"
        )));
    }
    Ok(())
}

/// Creates `path`'s parent chain privately if it is missing.
pub fn ensure_private_dir(path: &Path) -> Result<(), BackupError> {
    if path.is_dir() {
        return Ok(());
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .map_err(|e| BackupError::io(path, e))
}

/// Writes `out` fully and durably before it gets its final name.
pub fn sync(file: &fs::File, path: &Path) -> Result<(), BackupError> {
    file.sync_all().map_err(|e| BackupError::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> Manifest {
        Manifest {
            format: FORMAT.into(),
            name: "t".into(),
            created_at: "now".into(),
            hardshell_version: "0".into(),
            audit_head_seq: 0,
            files: Vec::new(),
        }
    }

    fn write(to: &SealTo, files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = ArchiveWriter::new(Vec::new(), to).unwrap();
        for (name, bytes) in files {
            w.add_bytes(name, bytes).unwrap();
        }
        w.finish(manifest()).unwrap().0
    }

    fn extract_bytes(
        bytes: &[u8],
        with: &OpenWith,
    ) -> Result<(Manifest, tempfile::TempDir), BackupError> {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("a.age");
        fs::write(&src, bytes).unwrap();
        let dest = tmp.path().join("out");
        fs::create_dir(&dest).unwrap();
        extract(&src, with, &dest).map(|m| (m, tmp))
    }

    fn identity() -> (String, SealTo) {
        use secrecy::ExposeSecret;
        let id = age::pq::Identity::generate();
        let to = SealTo::recipients(&[id.to_public().to_string()]).unwrap();
        (id.to_string().expose_secret().to_string(), to)
    }

    fn open_as(secret: &str) -> OpenWith {
        OpenWith::Identities(vec![Box::new(age::pq::Identity::from_str(secret).unwrap())])
    }

    #[test]
    fn round_trip_with_a_recipient_and_nothing_in_clear() {
        let (id, to) = identity();
        let bytes = write(&to, &[("data/config.toml", b"a secret-looking line")]);
        assert!(!bytes.windows(11).any(|w| w == b"secret-look"));
        let (m, tmp) = extract_bytes(&bytes, &open_as(&id)).unwrap();
        assert_eq!(m.files.len(), 1);
        let back = fs::read(tmp.path().join("out/data/config.toml")).unwrap();
        assert_eq!(back, b"a secret-looking line");
        // Another identity cannot open it, nor a passphrase.
        let (other, _) = identity();
        assert!(matches!(
            extract_bytes(&bytes, &open_as(&other)),
            Err(BackupError::WrongKey)
        ));
        let pass = OpenWith::Passphrase(SecretString::from("x".repeat(20)));
        assert!(matches!(
            extract_bytes(&bytes, &pass),
            Err(BackupError::Invalid(_))
        ));
    }

    #[test]
    fn unsafe_paths_are_refused() {
        for bad in ["../x", "/etc/x", "data/../../x", "other/x", ""] {
            assert!(safe_relative(Path::new(bad)).is_err(), "{bad}");
        }
        assert!(safe_relative(Path::new("data/uploads/ab")).is_ok());
        assert!(safe_relative(Path::new(MANIFEST)).is_ok());
    }

    #[test]
    fn manifest_mismatches_are_refused() {
        let mut m = manifest();
        m.files = vec![FileSum {
            path: "data/a".into(),
            size: 1,
            sha256: "00".into(),
        }];
        let mut found = BTreeMap::new();
        assert!(check_against_manifest(&m, &found).is_err(), "missing file");
        found.insert(
            "data/a".to_string(),
            FileSum {
                path: "data/a".into(),
                size: 1,
                sha256: "11".into(),
            },
        );
        assert!(check_against_manifest(&m, &found).is_err(), "wrong hash");
        m.files[0].sha256 = "11".into();
        check_against_manifest(&m, &found).unwrap();
        found.insert(
            "data/b".to_string(),
            FileSum {
                path: "data/b".into(),
                size: 0,
                sha256: "22".into(),
            },
        );
        assert!(check_against_manifest(&m, &found).is_err(), "extra file");
    }

    #[test]
    fn truncated_and_flipped_archives_are_refused() {
        let (id, to) = identity();
        let big = vec![7u8; 200_000];
        let bytes = write(&to, &[("data/big", &big)]);
        let open = || open_as(&id);
        let cut = &bytes[..bytes.len() - 100];
        assert!(matches!(
            extract_bytes(cut, &open()),
            Err(BackupError::Damaged(_))
        ));
        let mut flipped = bytes.clone();
        let mid = flipped.len() / 2;
        flipped[mid] ^= 1;
        assert!(matches!(
            extract_bytes(&flipped, &open()),
            Err(BackupError::Damaged(_))
        ));
        extract_bytes(&bytes, &open()).unwrap();
    }
}
