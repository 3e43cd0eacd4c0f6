//! The data directory's server lock: one process at a time may run the
//! server or change the vault and database key underneath it.
//!
//! It is an advisory `flock` on `server.lock`, released when the process
//! exits however it exits, so a crash never leaves a stale lock.

use std::fs::File;

use crate::config::DataDir;

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "another Hardshell process (a running server or a vault/db command) is using {0}; stop it first"
    )]
    Busy(String),
    #[error("cannot open the lock file {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Held for as long as the value lives.
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
}

impl DataDirLock {
    pub fn acquire(dd: &DataDir) -> Result<Self, LockError> {
        let path = dd.server_lock_path();
        let file =
            crate::config::datadir::create_private_file(&path).map_err(|source| LockError::Io {
                path: path.display().to_string(),
                source,
            })?;
        match file.try_lock() {
            Ok(()) => Ok(Self { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => {
                Err(LockError::Busy(dd.root().display().to_string()))
            }
            Err(std::fs::TryLockError::Error(source)) => Err(LockError::Io {
                path: path.display().to_string(),
                source,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_holder_is_refused_until_first_drops() {
        let tmp = tempfile::tempdir().unwrap();
        let dd = DataDir::at(tmp.path());
        let first = DataDirLock::acquire(&dd).unwrap();
        assert!(matches!(DataDirLock::acquire(&dd), Err(LockError::Busy(_))));
        drop(first);
        DataDirLock::acquire(&dd).unwrap();
    }
}
