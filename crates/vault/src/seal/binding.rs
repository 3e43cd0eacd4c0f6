//! The machine binding for sealed mode: a random 32-byte machine secret kept
//! outside the data directory, plus the contents of `/etc/machine-id`.
//!
//! Owns creating (0600 file in a 0700 directory) and loading that secret.
//! `load` never creates anything; a missing secret is its own error.

use std::fs::{self, DirBuilder, File};
use std::io::{self, Read};
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::atomic::write_atomic_new;
use crate::container::random;
use crate::error::VaultError;

const MACHINE_SECRET_LEN: usize = 32;
const MAX_MACHINE_ID_LEN: u64 = 1024;

/// Where the machine secret and the machine id live.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MachineBinding {
    machine_key_path: PathBuf,
    machine_id_path: PathBuf,
}

/// The loaded binding inputs. `Debug` shows only whether each was found.
pub struct MachineMaterial {
    pub(crate) secret: Zeroizing<[u8; MACHINE_SECRET_LEN]>,
    pub(crate) machine_id: Zeroizing<Vec<u8>>,
    machine_id_found: bool,
    created: bool,
}

impl std::fmt::Debug for MachineMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MachineMaterial")
            .field("machine_id_found", &self.machine_id_found)
            .field("created", &self.created)
            .finish_non_exhaustive()
    }
}

impl MachineMaterial {
    /// False when the machine-id file was absent or empty, so the binding
    /// rests on the machine secret alone. The caller should say so.
    pub fn machine_id_found(&self) -> bool {
        self.machine_id_found
    }

    /// True when `load_or_create` made a new machine secret.
    pub fn created(&self) -> bool {
        self.created
    }

    /// Machine secret and machine id, length-prefixed so the two cannot run
    /// into each other.
    pub(crate) fn ikm(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(
            MACHINE_SECRET_LEN + 4 + self.machine_id.len(),
        ));
        out.extend_from_slice(self.secret.as_slice());
        let id_len = u32::try_from(self.machine_id.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&id_len.to_le_bytes());
        out.extend_from_slice(&self.machine_id);
        out
    }
}

impl MachineBinding {
    pub fn new(machine_key_path: impl Into<PathBuf>, machine_id_path: impl Into<PathBuf>) -> Self {
        MachineBinding {
            machine_key_path: machine_key_path.into(),
            machine_id_path: machine_id_path.into(),
        }
    }

    /// `$XDG_CONFIG_HOME/hardshell/machine.key` (else `~/.config/…`) and
    /// `/etc/machine-id`.
    pub fn default_paths() -> Result<Self, VaultError> {
        let config = match std::env::var_os("XDG_CONFIG_HOME") {
            Some(dir) if !dir.is_empty() => PathBuf::from(dir),
            _ => match std::env::var_os("HOME") {
                Some(home) if !home.is_empty() => PathBuf::from(home).join(".config"),
                _ => {
                    return Err(VaultError::io(
                        "locating the machine secret",
                        io::Error::new(
                            io::ErrorKind::NotFound,
                            "neither XDG_CONFIG_HOME nor HOME is set",
                        ),
                    ));
                }
            },
        };
        Ok(MachineBinding::new(
            config.join("hardshell").join("machine.key"),
            "/etc/machine-id",
        ))
    }

    pub fn machine_key_path(&self) -> &Path {
        &self.machine_key_path
    }

    pub fn machine_id_path(&self) -> &Path {
        &self.machine_id_path
    }

    /// Loads the machine secret, creating it (0600, in a 0700 directory) if
    /// it does not exist. For sealing only.
    pub fn load_or_create(&self) -> Result<MachineMaterial, VaultError> {
        match self.load() {
            Err(VaultError::MachineSecretMissing { .. }) => {}
            other => return other,
        }
        let path = &self.machine_key_path;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|err| VaultError::io(format!("creating {}", dir.display()), err))?;
        }
        let secret: Zeroizing<[u8; MACHINE_SECRET_LEN]> = Zeroizing::new(random()?);
        match write_atomic_new(path, secret.as_slice(), 0o600) {
            Ok(()) => {}
            // Another process won the race; use its secret.
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => return self.load(),
            Err(err) => {
                return Err(VaultError::io(format!("creating {}", path.display()), err));
            }
        }
        let mut material = self.load()?;
        material.created = true;
        Ok(material)
    }

    /// Loads the machine secret and machine id. Never creates anything.
    pub fn load(&self) -> Result<MachineMaterial, VaultError> {
        let secret = read_machine_secret(&self.machine_key_path)?;
        let (machine_id, machine_id_found) = read_machine_id(&self.machine_id_path)?;
        Ok(MachineMaterial {
            secret,
            machine_id,
            machine_id_found,
            created: false,
        })
    }
}

fn read_machine_secret(path: &Path) -> Result<Zeroizing<[u8; MACHINE_SECRET_LEN]>, VaultError> {
    let file = File::open(path).map_err(|err| match err.kind() {
        io::ErrorKind::NotFound => VaultError::MachineSecretMissing {
            path: path.to_owned(),
        },
        _ => VaultError::io(format!("opening {}", path.display()), err),
    })?;
    let meta = file
        .metadata()
        .map_err(|err| VaultError::io(format!("reading {}", path.display()), err))?;
    if !meta.is_file() {
        return Err(VaultError::MachineSecretInvalid {
            path: path.to_owned(),
            reason: "not a regular file",
        });
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(VaultError::InsecurePermissions {
            path: path.to_owned(),
            mode,
        });
    }
    let mut bytes = Zeroizing::new(Vec::with_capacity(MACHINE_SECRET_LEN + 1));
    file.take(MACHINE_SECRET_LEN as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|err| VaultError::io(format!("reading {}", path.display()), err))?;
    if bytes.len() != MACHINE_SECRET_LEN {
        return Err(VaultError::MachineSecretInvalid {
            path: path.to_owned(),
            reason: "must be exactly 32 bytes",
        });
    }
    let mut secret = Zeroizing::new([0u8; MACHINE_SECRET_LEN]);
    secret.copy_from_slice(&bytes);
    Ok(secret)
}

/// The trimmed machine id; an absent file yields an empty id (reported as
/// not found) rather than an error, for systems without one.
fn read_machine_id(path: &Path) -> Result<(Zeroizing<Vec<u8>>, bool), VaultError> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(err) if err.kind() == io::ErrorKind::NotFound => {
            return Ok((Zeroizing::new(Vec::new()), false));
        }
        Err(err) => return Err(VaultError::io(format!("opening {}", path.display()), err)),
    };
    let mut raw = Zeroizing::new(Vec::new());
    file.take(MAX_MACHINE_ID_LEN)
        .read_to_end(&mut raw)
        .map_err(|err| VaultError::io(format!("reading {}", path.display()), err))?;
    let trimmed = raw.trim_ascii();
    let found = !trimmed.is_empty();
    Ok((Zeroizing::new(trimmed.to_vec()), found))
}

/// Refuses a machine secret inside the directory that holds the seal, so a
/// copy of the data directory never carries the key with it.
pub(crate) fn ensure_outside(seal_path: &Path, key_path: &Path) -> Result<(), VaultError> {
    let seal_dir = resolve(seal_path.parent().unwrap_or(Path::new(".")));
    let key = resolve(key_path);
    if key.starts_with(&seal_dir) {
        return Err(VaultError::MachineSecretInsideDataDir {
            path: key_path.to_owned(),
        });
    }
    Ok(())
}

/// Canonical form of `path`, resolving the longest existing prefix (the rest
/// may not exist yet).
fn resolve(path: &Path) -> PathBuf {
    let path = if path.as_os_str().is_empty() {
        Path::new(".")
    } else {
        path
    };
    let mut existing = path;
    let mut rest = Vec::new();
    loop {
        if let Ok(canonical) = fs::canonicalize(existing) {
            return rest
                .iter()
                .rev()
                .fold(canonical, |acc, part| acc.join(part));
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_owned());
                existing = if parent.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    parent
                };
            }
            _ => return path.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn load_never_creates() {
        let dir = tempfile::tempdir().unwrap();
        let binding = MachineBinding::new(dir.path().join("k/machine.key"), dir.path().join("id"));
        assert!(matches!(
            binding.load(),
            Err(VaultError::MachineSecretMissing { .. })
        ));
        assert!(!dir.path().join("k").exists());
    }

    #[test]
    fn load_or_create_makes_private_key_and_dir() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("cfg/hardshell/machine.key");
        fs::write(dir.path().join("id"), "abc123\n").unwrap();
        let binding = MachineBinding::new(&key, dir.path().join("id"));
        let made = binding.load_or_create().unwrap();
        assert!(made.created());
        assert!(made.machine_id_found());
        assert_eq!(&made.machine_id[..], b"abc123");
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&key), 0o600);
        assert_eq!(mode(key.parent().unwrap()), 0o700);
        let again = binding.load_or_create().unwrap();
        assert!(!again.created());
        assert_eq!(*again.secret, *made.secret);
    }

    #[test]
    fn group_readable_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("machine.key");
        fs::write(&key, [1u8; 32]).unwrap();
        fs::set_permissions(&key, fs::Permissions::from_mode(0o640)).unwrap();
        let binding = MachineBinding::new(&key, dir.path().join("id"));
        assert!(matches!(
            binding.load(),
            Err(VaultError::InsecurePermissions { .. })
        ));
    }

    #[test]
    fn wrong_length_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("machine.key");
        fs::write(&key, [1u8; 31]).unwrap();
        fs::set_permissions(&key, fs::Permissions::from_mode(0o600)).unwrap();
        let binding = MachineBinding::new(&key, dir.path().join("id"));
        assert!(matches!(
            binding.load(),
            Err(VaultError::MachineSecretInvalid { .. })
        ));
    }

    #[test]
    fn missing_machine_id_is_reported_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        let binding = MachineBinding::new(
            dir.path().join("machine.key"),
            dir.path().join("no-such-id"),
        );
        let material = binding.load_or_create().unwrap();
        assert!(!material.machine_id_found());
        assert!(material.machine_id.is_empty());
    }

    #[test]
    fn key_inside_seal_dir_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        fs::create_dir(&data).unwrap();
        let seal = data.join("seal.hss");
        assert!(ensure_outside(&seal, &data.join("machine.key")).is_err());
        assert!(ensure_outside(&seal, &data.join("sub/dir/machine.key")).is_err());
        assert!(ensure_outside(&seal, &data.join("../data/x.key")).is_err());
        assert!(ensure_outside(&seal, &dir.path().join("cfg/machine.key")).is_ok());
    }
}
