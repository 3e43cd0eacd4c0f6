//! Crash-safe file writes and size-capped reads.
//!
//! A write goes to a temp file in the same directory, created with its final
//! mode (never chmod-ed afterwards), fsynced, renamed (or hard-linked when it
//! must not overwrite), and then the directory is fsynced. Never leaves a
//! partially written file under the final name.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::error::VaultError;

/// Atomically replaces (or creates) `path` with `bytes`, with file mode `mode`
/// (e.g. `0o600`; the process umask can only remove bits).
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let temp = write_temp(path, bytes, mode)?;
    if let Err(err) = fs::rename(&temp, path) {
        let _ = fs::remove_file(&temp);
        return Err(err);
    }
    sync_dir(path)
}

/// Like [`write_atomic`] but fails with `ErrorKind::AlreadyExists` when `path`
/// exists, atomically (no window where an existing file could be replaced).
pub fn write_atomic_new(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let temp = write_temp(path, bytes, mode)?;
    // link(2) never overwrites, unlike rename(2).
    let linked = fs::hard_link(&temp, path);
    let _ = fs::remove_file(&temp);
    linked?;
    sync_dir(path)
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

fn write_temp(path: &Path, bytes: &[u8], mode: u32) -> io::Result<PathBuf> {
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;
    let mut suffix = [0u8; 8];
    getrandom::fill(&mut suffix).map_err(io::Error::other)?;
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(name);
    temp_name.push(format!(".{}.tmp", hex_lower(&suffix)));
    let temp = parent_dir(path).join(temp_name);
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()
    })();
    match result {
        Ok(()) => Ok(temp),
        Err(err) => {
            let _ = fs::remove_file(&temp);
            Err(err)
        }
    }
}

fn sync_dir(path: &Path) -> io::Result<()> {
    File::open(parent_dir(path))?.sync_all()
}

pub(crate) fn hex_lower(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// Reads a whole file, refusing files larger than `max` bytes. A missing file
/// is `NotFound`.
pub(crate) fn read_capped(path: &Path, max: u64) -> Result<Vec<u8>, VaultError> {
    let file = File::open(path).map_err(|err| match err.kind() {
        io::ErrorKind::NotFound => VaultError::NotFound {
            path: path.to_owned(),
        },
        _ => VaultError::io(format!("opening {}", path.display()), err),
    })?;
    let len = file
        .metadata()
        .map_err(|err| VaultError::io(format!("reading {}", path.display()), err))?
        .len();
    if len > max {
        return Err(VaultError::FileTooLarge {
            path: path.to_owned(),
            len,
            max,
        });
    }
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    // `take` guards against a file that grows between stat and read.
    file.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|err| VaultError::io(format!("reading {}", path.display()), err))?;
    if bytes.len() as u64 > max {
        return Err(VaultError::FileTooLarge {
            path: path.to_owned(),
            len: bytes.len() as u64,
            max,
        });
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn write_atomic_creates_with_mode_and_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        write_atomic(&path, b"one", 0o600).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"one");
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        write_atomic(&path, b"two", 0o600).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        // No temp files are left behind.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn write_atomic_new_refuses_existing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        write_atomic_new(&path, b"one", 0o600).unwrap();
        let err = write_atomic_new(&path, b"two", 0o600).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read(&path).unwrap(), b"one");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn read_capped_refuses_large_and_missing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        assert!(matches!(
            read_capped(&path, 10),
            Err(VaultError::NotFound { .. })
        ));
        fs::write(&path, [0u8; 11]).unwrap();
        assert!(matches!(
            read_capped(&path, 10),
            Err(VaultError::FileTooLarge { .. })
        ));
        assert_eq!(read_capped(&path, 11).unwrap().len(), 11);
    }

    #[test]
    fn hex_is_lowercase() {
        assert_eq!(hex_lower(&[0x00, 0xab, 0x7f]), "00ab7f");
    }
}
