//! The data directory: where it is, how it is created, and the permission
//! rule (0700 for directories, 0600 for files) that `serve` enforces.
//!
//! It owns paths and modes only; it never reads or writes file contents.

use std::fs;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The bits that must be clear on everything in the data directory.
const GROUP_OTHER_BITS: u32 = 0o077;

#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    #[error(
        "{path} is accessible by group or others (mode {mode:04o}); fix it with `chmod {want:o} {path}` (or `chmod -R go-rwx` on the data directory)"
    )]
    TooOpen { path: String, mode: u32, want: u32 },
    #[error("{path} is a symbolic link; the data directory must not contain links")]
    Symlink { path: String },
    #[error("no home directory: pass --data-dir or set HARDSHELL_HOME")]
    NoHome,
    #[error("data directory {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

fn io_err(path: &Path, source: std::io::Error) -> DataDirError {
    DataDirError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// A resolved data directory. Constructing one does not touch the disk.
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
    /// Default directory of the outside audit anchor (beside the machine key).
    anchor_home: Option<PathBuf>,
}

impl DataDir {
    /// `--data-dir` / `HARDSHELL_HOME` (both arrive as `explicit`), else `~/.hardshell`.
    pub fn resolve(explicit: Option<PathBuf>) -> Result<Self, DataDirError> {
        let root = match explicit {
            Some(p) => p,
            None => home_dir().ok_or(DataDirError::NoHome)?.join(".hardshell"),
        };
        Ok(Self {
            root,
            anchor_home: None,
        })
    }

    pub fn at(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            anchor_home: None,
        }
    }

    /// Sets where the outside audit anchor goes unless config says otherwise
    /// (the machine key's directory): outside this data directory.
    pub fn with_anchor_home(mut self, dir: impl Into<PathBuf>) -> Self {
        self.anchor_home = Some(dir.into());
        self
    }

    pub fn anchor_home(&self) -> Option<&Path> {
        self.anchor_home.as_deref()
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
    pub fn vault_path(&self) -> PathBuf {
        self.root.join("vault.hsv")
    }
    pub fn seal_path(&self) -> PathBuf {
        self.root.join("seal.hss")
    }
    pub fn db_path(&self) -> PathBuf {
        self.root.join("hardshell.db")
    }
    pub fn config_path(&self) -> PathBuf {
        self.root.join("config.toml")
    }
    pub fn anchor_path(&self) -> PathBuf {
        self.root.join("audit.anchor")
    }
    pub fn audit_lock_path(&self) -> PathBuf {
        self.root.join("audit.lock")
    }
    /// Content-addressed upload files; never served as static files.
    pub fn uploads_dir(&self) -> PathBuf {
        self.root.join("uploads")
    }
    pub fn server_lock_path(&self) -> PathBuf {
        self.root.join("server.lock")
    }

    /// True once `init` has written a vault here.
    pub fn is_initialised(&self) -> bool {
        self.vault_path().exists()
    }

    /// Creates the directory (and parents) with mode 0700 if it is missing.
    /// An existing directory keeps its mode: `check_permissions` judges it.
    pub fn ensure_exists(&self) -> Result<(), DataDirError> {
        if self.root.exists() {
            return Ok(());
        }
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.root)
            .map_err(|e| io_err(&self.root, e))?;
        // `recursive` applies the mode before umask; pin the leaf exactly.
        fs::set_permissions(&self.root, fs::Permissions::from_mode(0o700))
            .map_err(|e| io_err(&self.root, e))
    }

    /// Refuses a directory or any file below it that group or others can
    /// access, and any symbolic link. The first offender is named.
    pub fn check_permissions(&self) -> Result<(), DataDirError> {
        walk(&self.root, &mut |path, meta| {
            if meta.file_type().is_symlink() {
                return Err(DataDirError::Symlink {
                    path: path.display().to_string(),
                });
            }
            let mode = meta.mode() & 0o7777;
            if mode & GROUP_OTHER_BITS != 0 {
                let want = if meta.is_dir() { 0o700 } else { 0o600 };
                return Err(DataDirError::TooOpen {
                    path: path.display().to_string(),
                    mode,
                    want,
                });
            }
            Ok(())
        })
    }

    /// Clears group and other bits everywhere below the root (for the
    /// operations tooling; `serve` only refuses, it never changes modes).
    /// Returns the paths it changed.
    pub fn tighten_permissions(&self) -> Result<Vec<PathBuf>, DataDirError> {
        let mut changed = Vec::new();
        walk(&self.root, &mut |path, meta| {
            if meta.file_type().is_symlink() {
                return Ok(());
            }
            let mode = meta.mode() & 0o7777;
            if mode & GROUP_OTHER_BITS != 0 {
                let want = if meta.is_dir() { 0o700 } else { 0o600 };
                fs::set_permissions(path, fs::Permissions::from_mode(want))
                    .map_err(|e| io_err(path, e))?;
                changed.push(path.to_path_buf());
            }
            Ok(())
        })?;
        Ok(changed)
    }
}

fn walk(
    path: &Path,
    visit: &mut dyn FnMut(&Path, &fs::Metadata) -> Result<(), DataDirError>,
) -> Result<(), DataDirError> {
    let meta = fs::symlink_metadata(path).map_err(|e| io_err(path, e))?;
    visit(path, &meta)?;
    if meta.is_dir() {
        let entries = fs::read_dir(path).map_err(|e| io_err(path, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| io_err(path, e))?;
            walk(&entry.path(), visit)?;
        }
    }
    Ok(())
}

fn home_dir() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
}

/// Makes everything this process creates private (0700/0600), whatever
/// umask the caller had. Explicit modes below are the first line; this is
/// the second, for files that libraries create on their own.
pub fn private_umask() {
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
}

/// Creates (or truncates nothing: opens existing) a file with mode 0600 from
/// the start, so it is never briefly readable by others.
pub fn create_private_file(path: &Path) -> std::io::Result<fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_private_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let dd = DataDir::at(tmp.path().join("a/b"));
        dd.ensure_exists().unwrap();
        let mode = fs::metadata(dd.root()).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o700);
        dd.check_permissions().unwrap();
    }

    #[test]
    fn refuses_world_readable_file_and_names_it() {
        let tmp = tempfile::tempdir().unwrap();
        let dd = DataDir::at(tmp.path().join("d"));
        dd.ensure_exists().unwrap();
        let f = dd.root().join("config.toml");
        fs::write(&f, "x").unwrap();
        fs::set_permissions(&f, fs::Permissions::from_mode(0o644)).unwrap();
        let err = dd.check_permissions().unwrap_err().to_string();
        assert!(err.contains("config.toml"), "{err}");
        assert!(err.contains("chmod 600"), "{err}");
        let fixed = dd.tighten_permissions().unwrap();
        assert_eq!(fixed, vec![f]);
        dd.check_permissions().unwrap();
    }

    #[test]
    fn refuses_group_readable_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let dd = DataDir::at(tmp.path().join("d"));
        dd.ensure_exists().unwrap();
        fs::set_permissions(dd.root(), fs::Permissions::from_mode(0o750)).unwrap();
        let err = dd.check_permissions().unwrap_err().to_string();
        assert!(err.contains("chmod 700"), "{err}");
    }

    #[test]
    fn refuses_symlinks() {
        let tmp = tempfile::tempdir().unwrap();
        let dd = DataDir::at(tmp.path().join("d"));
        dd.ensure_exists().unwrap();
        std::os::unix::fs::symlink("/etc/passwd", dd.root().join("link")).unwrap();
        assert!(matches!(
            dd.check_permissions(),
            Err(DataDirError::Symlink { .. })
        ));
    }
}
