//! Backups: an online, consistent, encrypted copy of a data directory, its
//! verification, and restoring one in place of a data directory.
//!
//! Owns what goes into an archive and in which order it is captured (the
//! outside anchor, then the inside one, then a `VACUUM INTO` snapshot of the
//! database, then the vault, config, uploads and agent workspaces), the
//! checks a copy must pass (every SHA-256 sum, the vault opens, `PRAGMA
//! integrity_check`, the audit chain against the copied anchors), and the
//! restore sequence. It must never leave a file under an archive's final
//! name before the archive is complete and synced, never replace a data
//! directory before the whole archive has been verified, never delete a
//! replaced data directory (it is moved aside), and never restore under a
//! running server. It holds no SQL (that is `store::snapshot`) and no
//! argument parsing (that is `cli/backup.rs`).

pub mod archive;
pub mod schedule;

use std::fs;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use audit::{Actor, Draft, Outcome};
use secrecy::ExposeSecret;
use vault::Vault;

pub use archive::{Manifest, OpenWith, SealTo};

use crate::app::{Opened, StartError};
use crate::audit_log::{AnchorPlaces, AuditLog, AuditLogError};
use crate::config::DataDir;
use crate::lock::{DataDirLock, LockError};
use crate::secrets::{self, UnlockError, UnlockOptions};
use crate::store::key::VAULT_NAME;
use crate::store::{DbKey, Store, StoreError};

/// Archives end with this; `backup list` shows only such files.
pub const SUFFIX: &str = ".backup.age";
/// Files of the data directory never copied: locks, the live database (a
/// snapshot goes in instead), its journals, a plaintext migration leftover.
const SKIP: &[&str] = &[
    "server.lock",
    "audit.lock",
    "hardshell.db",
    "hardshell.db-wal",
    "hardshell.db-shm",
    "hardshell.db-journal",
    "audit.anchor",
];
const SKIP_PREFIX: &str = "hardshell.db.plaintext-backup";

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(
        "wrong backup passphrase or identity (or the archive's header was altered); nothing was changed"
    )]
    WrongKey,
    #[error("the backup is damaged: {0}; nothing was changed")]
    Damaged(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error("writing the archive: {0}")]
    Stream(#[from] io::Error),
    #[error("the backup's database failed its integrity check: {0}; nothing was changed")]
    Integrity(String),
    #[error("the backup's audit chain does not verify: {0}; nothing was changed")]
    AuditBroken(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Audit(#[from] AuditLogError),
    #[error(transparent)]
    Start(#[from] StartError),
    #[error(transparent)]
    Unlock(#[from] UnlockError),
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    Vault(#[from] vault::VaultError),
}

impl BackupError {
    pub(crate) fn io(path: &Path, source: io::Error) -> Self {
        Self::Io {
            path: path.display().to_string(),
            source,
        }
    }
}

/// The default archive name for a moment: `hardshell-20261207T031500Z.backup.age`.
pub fn default_name(now: time::OffsetDateTime) -> String {
    let f = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    let stamp = now
        .to_offset(time::UtcOffset::UTC)
        .format(&f)
        .unwrap_or_else(|_| now.unix_timestamp().to_string());
    format!("hardshell-{stamp}{SUFFIX}")
}

/// Where archives go when no `--out` is given: `[backup] dir`, else a
/// directory beside the data directory (`~/.hardshell-backups`), never
/// inside it.
pub fn default_dir(dd: &DataDir, configured: Option<&Path>) -> PathBuf {
    if let Some(dir) = configured {
        return dir.to_path_buf();
    }
    let name = dd
        .root()
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "hardshell".into());
    dd.root().with_file_name(format!("{name}-backups"))
}

/// What checking a staged copy needs from a vault: the database key, the
/// audit key and every value (for the audit redactor). Taken from a vault
/// file (CLI, restore) or from the server's live vault (scheduled backups).
pub struct StagedKeys {
    db_key_hex: zeroize::Zeroizing<String>,
    audit_key: zeroize::Zeroizing<[u8; 32]>,
    values: Vec<zeroize::Zeroizing<String>>,
}

impl StagedKeys {
    pub fn from_vault(vault: &Vault) -> Result<StagedKeys, BackupError> {
        let hex = vault
            .get(VAULT_NAME)
            .ok_or_else(|| BackupError::Damaged("the vault has no database key".into()))?
            .expose_secret()
            .to_string();
        Ok(StagedKeys {
            db_key_hex: zeroize::Zeroizing::new(hex),
            audit_key: secrets::key_bytes(vault, secrets::AUDIT_KEY)?,
            values: crate::app::vault_values(vault),
        })
    }

    pub fn from_live(vault: &crate::secrets::live::LiveVault) -> Result<StagedKeys, BackupError> {
        let get = |name: &str| {
            vault
                .get(name)
                .map(|v| zeroize::Zeroizing::new(v.expose_secret().to_string()))
                .ok_or_else(|| BackupError::Damaged(format!("the vault has no {name}")))
        };
        let audit_hex = get(secrets::AUDIT_KEY)?;
        let mut audit_key = zeroize::Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(audit_hex.trim(), &mut audit_key[..])
            .map_err(|_| BackupError::Damaged("the audit key is not 32 hex bytes".into()))?;
        let values = vault
            .names()
            .iter()
            .filter_map(|n| vault.get(n))
            .map(|v| zeroize::Zeroizing::new(v.expose_secret().to_string()))
            .collect();
        Ok(StagedKeys {
            db_key_hex: get(VAULT_NAME)?,
            audit_key,
            values,
        })
    }
}

/// What a verification found (the archive was sound if this exists).
#[derive(Debug, Clone)]
pub struct Verified {
    pub manifest: Manifest,
    pub files: usize,
    pub bytes: u64,
    pub audit_entries: u64,
}

/// A finished `backup create`.
#[derive(Debug, Clone)]
pub struct Created {
    pub path: PathBuf,
    pub size: u64,
    pub verified: Verified,
}

/// Takes an online snapshot of `dd` (whose store and audit writer are
/// `opened`, whose vault is `vault`) and writes it encrypted to `out`.
/// The file appears under `out` only once complete and synced.
pub async fn create(
    dd: &DataDir,
    opened: &Opened,
    keys: &StagedKeys,
    to: &SealTo,
    out: &Path,
    actor: Actor,
) -> Result<Created, BackupError> {
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| BackupError::Invalid(format!("{} is not a file name", out.display())))?;
    let dir = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if out.starts_with(dd.root()) || dir.starts_with(dd.root()) {
        return Err(BackupError::Invalid(
            "a backup must not be written inside the data directory".into(),
        ));
    }
    if out.exists() {
        return Err(BackupError::Invalid(format!(
            "{} already exists; choose another --out",
            out.display()
        )));
    }
    archive::ensure_private_dir(&dir)?;
    let staging = tempfile::Builder::new()
        .prefix(".hardshell-backup-")
        .tempdir_in(&dir)
        .map_err(|e| BackupError::io(&dir, e))?;
    let stage = staging.path();
    let data = stage.join(archive::DATA);
    let outside = stage.join(archive::OUTSIDE);
    archive::ensure_private_dir(&data)?;
    archive::ensure_private_dir(&outside)?;

    // Anchors first (outside, then inside: the reverse of the order they are
    // written in), then the database: every anchor copied is then at or
    // behind the snapshot's head, which verification accepts.
    let outside_src = opened.audit.outside_anchor_status().await?.path;
    let outside_name = outside_src
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "outside.anchor".into());
    copy_if_present(&outside_src, &outside.join(&outside_name))?;
    copy_if_present(&dd.anchor_path(), &data.join("audit.anchor"))?;
    let head_seq = opened
        .store
        .snapshot_into(&data.join("hardshell.db"))
        .await?;

    let verified_staged = verify_staged(stage, keys).await?;

    let partial = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".partial")
        .tempfile_in(&dir)
        .map_err(|e| BackupError::io(&dir, e))?;
    let mut writer = archive::ArchiveWriter::new(BufWriter::new(partial.as_file()), to)?;
    writer.add_file("data/hardshell.db", &data.join("hardshell.db"))?;
    for (rel, src) in [
        ("data/audit.anchor".to_string(), data.join("audit.anchor")),
        (
            format!("outside/{outside_name}"),
            outside.join(&outside_name),
        ),
    ] {
        if src.exists() {
            writer.add_file(&rel, &src)?;
        }
    }
    for (rel, src) in data_files(dd.root())? {
        match writer.add_file(&format!("data/{rel}"), &src) {
            Err(BackupError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
                // Removed while we walked (a temp file of an atomic write).
            }
            other => other?,
        }
    }
    let manifest = Manifest {
        format: archive::FORMAT.into(),
        name: name.clone(),
        created_at: audit::format_ts(std::time::SystemTime::now()),
        hardshell_version: env!("CARGO_PKG_VERSION").into(),
        audit_head_seq: head_seq,
        files: Vec::new(),
    };
    let (mut buffered, manifest) = writer.finish(manifest)?;
    buffered.flush()?;
    drop(buffered);
    archive::sync(partial.as_file(), partial.path())?;
    let file = partial
        .persist_noclobber(out)
        .map_err(|e| BackupError::io(out, e.error))?;
    let size = file.metadata().map_err(|e| BackupError::io(out, e))?.len();
    sync_dir(&dir);
    drop(staging);

    let verified = Verified {
        files: manifest.files.len(),
        bytes: manifest.files.iter().map(|f| f.size).sum(),
        audit_entries: verified_staged,
        manifest,
    };
    opened
        .audit
        .record(
            Draft::new(actor, "backup.created", Outcome::Success)
                .target(name)
                .detail("path", out.display().to_string())
                .detail("bytes", size)
                .detail("files", verified.files)
                .detail("audit_head_seq", head_seq)
                .detail("verified", true),
        )
        .await?;
    Ok(Created {
        path: out.to_path_buf(),
        size,
        verified,
    })
}

fn copy_if_present(src: &Path, dest: &Path) -> Result<(), BackupError> {
    match fs::read(src) {
        Ok(bytes) => vault::write_atomic(dest, &bytes, 0o600).map_err(|e| BackupError::io(dest, e)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(BackupError::io(src, e)),
    }
}

/// Best effort: a rename is durable once its directory is synced.
fn sync_dir(dir: &Path) {
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Every regular file of the data directory that goes into a backup, as
/// (path relative to the root, full path), in a stable order. Links are
/// refused, as `serve` refuses them.
fn data_files(root: &Path) -> Result<Vec<(String, PathBuf)>, BackupError> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let mut entries = fs::read_dir(&dir)
            .map_err(|e| BackupError::io(&dir, e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| BackupError::io(&dir, e))?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let path = entry.path();
            let meta = match fs::symlink_metadata(&path) {
                Ok(m) => m,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(BackupError::io(&path, e)),
            };
            let rel = path
                .strip_prefix(root)
                .map_err(|_| BackupError::Invalid(format!("{} escapes", path.display())))?
                .to_string_lossy()
                .into_owned();
            if meta.file_type().is_symlink() {
                return Err(BackupError::Invalid(format!(
                    "{} is a symbolic link; the data directory must not contain links",
                    path.display()
                )));
            }
            if meta.is_dir() {
                stack.push(path);
                continue;
            }
            let top_level = !rel.contains('/');
            // An upload still arriving is not data yet (and may vanish).
            let in_flight = rel
                .strip_prefix("uploads/")
                .is_some_and(|n| n.starts_with(crate::chat::upload_files::TEMP_PREFIX));
            if !meta.is_file()
                || in_flight
                || (top_level && (SKIP.contains(&rel.as_str()) || rel.starts_with(SKIP_PREFIX)))
            {
                continue;
            }
            out.push((rel, path));
        }
    }
    out.sort();
    Ok(out)
}

/// Checks an unpacked archive laid out under `stage` (`data/`, `outside/`)
/// with its vault already open: the database opens with the key in that
/// vault and passes `PRAGMA integrity_check`, and the audit chain verifies
/// against the archived anchors. Returns the number of audit entries.
pub async fn verify_staged(stage: &Path, keys: &StagedKeys) -> Result<u64, BackupError> {
    let data = stage.join(archive::DATA);
    let db = data.join("hardshell.db");
    if !db.is_file() {
        return Err(BackupError::Damaged("the archive holds no database".into()));
    }
    let integrity = crate::store::snapshot::check_integrity(&db, &DbKey::parse(&keys.db_key_hex)?)
        .map_err(|e| BackupError::Integrity(e.to_string()))?;
    if !integrity.ok() {
        return Err(BackupError::Integrity(integrity.findings.join("; ")));
    }
    let store = Store::open(&db, DbKey::parse(&keys.db_key_hex)?)?;
    let audit_key = &keys.audit_key;
    let places = AnchorPlaces {
        inside: data.join("audit.anchor"),
        outside_dir: stage.join(archive::OUTSIDE),
        witness: None,
    };
    let log = AuditLog::start(
        store.clone(),
        stage.join("audit.lock"),
        places,
        audit::AuditKey::from_bytes(**audit_key),
        keys.values.clone(),
    );
    let report = log.verify().await;
    drop(log);
    store.close().await?;
    let report = report?;
    if let Some(b) = report.first_break {
        return Err(BackupError::AuditBroken(format!(
            "{} at seq {}{}",
            b.kind.as_str(),
            b.seq,
            report.detail.map(|d| format!(" ({d})")).unwrap_or_default()
        )));
    }
    Ok(report.count)
}

/// A private staging directory beside `near` (same file system, so a
/// restore can rename out of it), else in the system's temp directory.
fn staging_near(near: &Path, prefix: &str) -> Result<tempfile::TempDir, BackupError> {
    let parent = near
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(parent)
        .or_else(|_| tempfile::Builder::new().prefix(prefix).tempdir())
        .map_err(|e| BackupError::io(parent, e))
}

/// An unpacked, fully verified archive and its open vault.
struct Unpacked {
    staging: tempfile::TempDir,
    verified: Verified,
    unlocked: secrets::Unlocked,
}

async fn unpack_and_verify(
    src: &Path,
    with: &OpenWith,
    unlock: &UnlockOptions,
    near: &Path,
) -> Result<Unpacked, BackupError> {
    let staging = staging_near(near, ".hardshell-restore-")?;
    let manifest = archive::extract(src, with, staging.path())?;
    let data = DataDir::at(staging.path().join(archive::DATA));
    if !data.is_initialised() {
        return Err(BackupError::Damaged("the archive holds no vault".into()));
    }
    let unlocked = secrets::unlock(&data, unlock)?;
    let audit_entries =
        verify_staged(staging.path(), &StagedKeys::from_vault(&unlocked.vault)?).await?;
    let verified = Verified {
        files: manifest.files.len(),
        bytes: manifest.files.iter().map(|f| f.size).sum(),
        audit_entries,
        manifest,
    };
    Ok(Unpacked {
        staging,
        verified,
        unlocked,
    })
}

/// `backup verify`: decrypts into a private staging directory, checks
/// everything, and removes the staging directory again.
pub async fn verify(
    src: &Path,
    with: &OpenWith,
    unlock: &UnlockOptions,
) -> Result<Verified, BackupError> {
    let unpacked = unpack_and_verify(src, with, unlock, src).await?;
    Ok(unpacked.verified)
}

/// A finished `backup restore`.
#[derive(Debug, Clone)]
pub struct Restored {
    pub verified: Verified,
    /// Where the replaced data directory was moved (never deleted).
    pub moved_aside: Option<PathBuf>,
    /// The audit seq of the `audit.accept` entry that records the restore.
    pub accepted_seq: u64,
}

/// `backup restore`: verifies the whole archive first, refuses while a
/// process holds `target`, moves `target` aside, puts the archived data
/// directory in its place and re-anchors its audit log through `accept`
/// with the reason "restored from backup <name>".
pub async fn restore(
    src: &Path,
    with: &OpenWith,
    unlock: &UnlockOptions,
    target: &DataDir,
) -> Result<Restored, BackupError> {
    let root = target.root().to_path_buf();
    if let Some(parent) = root.parent().filter(|p| !p.as_os_str().is_empty()) {
        archive::ensure_private_dir(parent)?;
    }
    // A running server (or vault command) holds this; refuse before any work.
    let held = if root.exists() {
        Some(DataDirLock::acquire(target)?)
    } else {
        None
    };
    let unpacked = unpack_and_verify(src, with, unlock, &root).await?;
    let name = unpacked.verified.manifest.name.clone();
    let staged = DataDir::at(unpacked.staging.path().join(archive::DATA));
    let staged_lock = DataDirLock::acquire(&staged)?;
    let moved_aside = if root.exists() {
        let stamp = default_name(time::OffsetDateTime::now_utc());
        let stamp = stamp
            .trim_start_matches("hardshell-")
            .trim_end_matches(SUFFIX);
        let file = root
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "hardshell".into());
        let aside = root.with_file_name(format!("{file}.replaced-{stamp}"));
        if aside.exists() {
            return Err(BackupError::Invalid(format!(
                "{} already exists; try again in a second",
                aside.display()
            )));
        }
        fs::rename(&root, &aside).map_err(|e| BackupError::io(&root, e))?;
        Some(aside)
    } else {
        None
    };
    if let Err(e) = fs::rename(staged.root(), &root) {
        // Put the old directory back: nothing may be left half-replaced.
        if let Some(aside) = &moved_aside {
            let _ = fs::rename(aside, &root);
        }
        return Err(BackupError::io(&root, e));
    }
    if let Some(parent) = root.parent() {
        sync_dir(parent);
    }
    drop(held);
    // Re-anchor the restored chain: the outside anchor still names the
    // replaced installation's head, which is the break `accept` records.
    let mut vault = Vault::open(&target.vault_path(), &unpacked.unlocked.passphrase)?;
    let opened = crate::app::open(target, &mut vault)?;
    let head = opened
        .audit
        .accept(
            Actor::new(audit::ActorKind::System, "cli"),
            &format!("restored from backup {name}"),
        )
        .await?;
    drop(opened.audit);
    opened.store.close().await?;
    drop(staged_lock);
    Ok(Restored {
        verified: unpacked.verified,
        moved_aside,
        accepted_seq: head.seq,
    })
}

/// One archive (or leftover) in a backup directory.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Listed {
    pub name: String,
    pub path: PathBuf,
    pub size: u64,
    pub modified: String,
    /// A `.partial` file left by an interrupted `backup create`: never valid.
    pub incomplete: bool,
}

/// The archives in `dir`, oldest first, and leftovers of interrupted runs.
pub fn list(dir: &Path) -> Result<Vec<Listed>, BackupError> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(BackupError::io(dir, e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| BackupError::io(dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let incomplete = name.starts_with('.') && name.ends_with(".partial");
        let archive = name.ends_with(SUFFIX) && !name.starts_with('.');
        if !archive && !incomplete {
            continue;
        }
        let meta = entry
            .metadata()
            .map_err(|e| BackupError::io(&entry.path(), e))?;
        if !meta.is_file() {
            continue;
        }
        let modified = meta.modified().map(audit::format_ts).unwrap_or_default();
        out.push(Listed {
            name,
            path: entry.path(),
            size: meta.len(),
            modified,
            incomplete,
        });
    }
    out.sort_by(|a, b| a.modified.cmp(&b.modified).then(a.name.cmp(&b.name)));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_names_and_dirs() {
        let t = time::macros::datetime!(2026-12-07 03:15:00 UTC);
        assert_eq!(default_name(t), "hardshell-20261207T031500Z.backup.age");
        let dd = DataDir::at("/home/a/.hardshell");
        assert_eq!(
            default_dir(&dd, None),
            PathBuf::from("/home/a/.hardshell-backups")
        );
        assert_eq!(
            default_dir(&dd, Some(Path::new("/mnt/b"))),
            PathBuf::from("/mnt/b")
        );
    }

    #[test]
    fn data_files_skip_locks_and_the_live_database() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        for f in [
            "server.lock",
            "hardshell.db",
            "hardshell.db-wal",
            "vault.hsv",
            "config.toml",
            "hardshell.db.plaintext-backup-2026",
        ] {
            fs::write(root.join(f), "x").unwrap();
        }
        fs::create_dir_all(root.join("agents/1")).unwrap();
        fs::write(root.join("agents/1/SOUL.md"), "soul").unwrap();
        // A nested file of a skipped name is still data.
        fs::write(root.join("agents/1/server.lock"), "not a lock").unwrap();
        // An upload still arriving is skipped; a stored one is kept.
        fs::create_dir_all(root.join("uploads")).unwrap();
        fs::write(root.join("uploads/.tmp-0123"), "half").unwrap();
        fs::write(root.join("uploads/ab12"), "sealed").unwrap();
        let names: Vec<String> = data_files(root).unwrap().into_iter().map(|f| f.0).collect();
        assert_eq!(
            names,
            vec![
                "agents/1/SOUL.md",
                "agents/1/server.lock",
                "config.toml",
                "uploads/ab12",
                "vault.hsv"
            ]
        );
        std::os::unix::fs::symlink("/etc/passwd", root.join("link")).unwrap();
        assert!(data_files(root).is_err());
    }
}
