//! The unlocked vault: opening, creating, reading and persisting secrets.
//!
//! Owns the open sequence (checksum, KDF floor, Argon2id, key check, AES-GCM)
//! and every write of `vault.hsv`. Never writes during `open`, never creates a
//! vault implicitly, and never prints or returns secret values in errors.

use std::fmt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::atomic::{read_capped, write_atomic, write_atomic_new};
use crate::container::{TAG_LEN, random};
use crate::error::{TamperedPart, VaultError};
use crate::format::{self, HEADER_LEN, Header};
use crate::kdf::{self, KdfParams};
use crate::payload::{self, MAX_PAYLOAD_LEN, MAX_SECRETS, SecretMap};
use crate::primitives;

const DOMAIN: &str = "hardshell vault v1";
const FILE_MODE: u32 = 0o600;
/// Largest file `open` reads: header, biggest payload, tag.
pub const MAX_FILE_LEN: u64 = (HEADER_LEN + MAX_PAYLOAD_LEN + TAG_LEN) as u64;

/// How `open` judges a file's KDF parameters. The default demands the
/// production floor, so a header cannot downgrade the KDF.
#[derive(Clone, Debug)]
pub struct OpenOptions {
    floor: KdfParams,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            floor: KdfParams::PRODUCTION,
        }
    }
}

impl OpenOptions {
    /// Production floor (m=64 MiB, t=3, p=1).
    pub fn new() -> Self {
        Self::default()
    }

    /// Accepts the weak parameters of [`KdfParams::insecure_for_tests`]. Only
    /// compiled for tests, fuzzing, or with the `test-params` feature.
    #[cfg(any(test, fuzzing, feature = "test-params"))]
    pub fn accept_insecure_test_params(mut self) -> Self {
        self.floor = KdfParams::TEST_FLOOR;
        self
    }
}

/// What `inspect` can tell without the passphrase.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VaultInfo {
    pub version: u16,
    pub kdf: KdfParams,
    pub meets_production_floor: bool,
    pub file_size: u64,
    /// Permission bits of the file (e.g. `0o600`).
    pub mode: u32,
}

/// Reads the header of the vault at `path` without a passphrase. Verifies the
/// header checksum, so a modified header is reported as tampering.
pub fn inspect(path: &Path) -> Result<VaultInfo, VaultError> {
    let bytes = read_capped(path, MAX_FILE_LEN)?;
    let parsed = format::parse(&bytes)?;
    let mode = std::fs::metadata(path)
        .map_err(|err| VaultError::io(format!("reading {}", path.display()), err))?
        .permissions()
        .mode()
        & 0o7777;
    Ok(VaultInfo {
        version: parsed.version(),
        kdf: parsed.kdf_params(),
        meets_production_floor: parsed.kdf_params().meets_production_floor(),
        file_size: bytes.len() as u64,
        mode,
    })
}

/// Key material for one passphrase and salt.
struct Unlocked {
    params: KdfParams,
    salt: [u8; 32],
    check: [u8; 32],
    key: Zeroizing<[u8; 32]>,
}

impl Unlocked {
    fn derive(
        params: KdfParams,
        salt: [u8; 32],
        passphrase: &SecretString,
    ) -> Result<Unlocked, VaultError> {
        let master = kdf::argon2id(&params, passphrase.expose_secret().as_bytes(), &salt)?;
        let split = kdf::split_keys(None, master.as_slice(), DOMAIN)?;
        Ok(Unlocked {
            params,
            salt,
            check: split.check,
            key: split.enc_key,
        })
    }

    fn fresh(params: KdfParams, passphrase: &SecretString) -> Result<Unlocked, VaultError> {
        if passphrase.expose_secret().is_empty() {
            return Err(VaultError::EmptyPassphrase);
        }
        Unlocked::derive(params, random()?, passphrase)
    }

    /// The complete file for `secrets`, under a fresh random nonce.
    fn encrypt(&self, secrets: &SecretMap) -> Result<Vec<u8>, VaultError> {
        let nonce: [u8; 12] = random()?;
        let header = Header {
            params: self.params,
            salt: self.salt,
            nonce,
            check: self.check,
        }
        .encode();
        let mut buffer = payload::encode(secrets)?;
        primitives::aes256gcm_encrypt(&self.key, &nonce, &header, &mut buffer)?;
        let mut file = header;
        file.extend_from_slice(&buffer);
        Ok(file)
    }
}

/// An unlocked vault bound to its file. Every change is persisted before the
/// call returns; if the write fails, the in-memory state is rolled back.
pub struct Vault {
    path: PathBuf,
    keys: Unlocked,
    secrets: SecretMap,
}

impl fmt::Debug for Vault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Vault")
            .field("path", &self.path)
            .field("kdf", &self.keys.params)
            .field("secrets", &self.secrets.len())
            .finish_non_exhaustive()
    }
}

impl Vault {
    /// Creates a new, empty vault with the production KDF parameters. Refuses
    /// to overwrite an existing file.
    pub fn create(path: &Path, passphrase: &SecretString) -> Result<Vault, VaultError> {
        Vault::create_with_params(path, passphrase, KdfParams::PRODUCTION)
    }

    /// Creates a vault with explicit KDF parameters (from [`KdfParams::new`],
    /// which enforces the production floor, or the test-only constructor).
    pub fn create_with_params(
        path: &Path,
        passphrase: &SecretString,
        params: KdfParams,
    ) -> Result<Vault, VaultError> {
        // Fail before spending time on Argon2; the link below is the real guard.
        if path.symlink_metadata().is_ok() {
            return Err(VaultError::AlreadyExists {
                path: path.to_owned(),
            });
        }
        params.check(&KdfParams::TEST_FLOOR)?;
        let keys = Unlocked::fresh(params, passphrase)?;
        let secrets = SecretMap::new();
        let file = keys.encrypt(&secrets)?;
        write_atomic_new(path, &file, FILE_MODE).map_err(|err| {
            if err.kind() == std::io::ErrorKind::AlreadyExists {
                VaultError::AlreadyExists {
                    path: path.to_owned(),
                }
            } else {
                VaultError::io(format!("creating {}", path.display()), err)
            }
        })?;
        Ok(Vault {
            path: path.to_owned(),
            keys,
            secrets,
        })
    }

    /// Opens an existing vault, demanding the production KDF floor.
    pub fn open(path: &Path, passphrase: &SecretString) -> Result<Vault, VaultError> {
        Vault::open_with(path, passphrase, &OpenOptions::default())
    }

    /// Opens an existing vault with explicit options. Never writes the file.
    pub fn open_with(
        path: &Path,
        passphrase: &SecretString,
        options: &OpenOptions,
    ) -> Result<Vault, VaultError> {
        let bytes = read_capped(path, MAX_FILE_LEN)?;
        let (keys, secrets) = unlock_bytes(&bytes, passphrase, options)?;
        Ok(Vault {
            path: path.to_owned(),
            keys,
            secrets,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn kdf_params(&self) -> KdfParams {
        self.keys.params
    }

    pub fn get(&self, name: &str) -> Option<&SecretString> {
        self.secrets.get(name)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.secrets.contains_key(name)
    }

    pub fn len(&self) -> usize {
        self.secrets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    /// Secret names, sorted.
    pub fn names(&self) -> Vec<String> {
        self.secrets.keys().cloned().collect()
    }

    /// All secret values, for leak redaction.
    pub fn values(&self) -> impl Iterator<Item = &SecretString> {
        self.secrets.values()
    }

    /// Adds or replaces a secret and persists the vault.
    pub fn set(&mut self, name: &str, value: SecretString) -> Result<(), VaultError> {
        payload::validate_name(name)?;
        payload::validate_value(&value)?;
        if !self.secrets.contains_key(name) && self.secrets.len() >= MAX_SECRETS {
            return Err(VaultError::VaultFull {
                reason: "too many secrets",
            });
        }
        let previous = self.secrets.insert(name.to_owned(), value);
        if let Err(err) = self.persist() {
            match previous {
                Some(old) => self.secrets.insert(name.to_owned(), old),
                None => self.secrets.remove(name),
            };
            return Err(err);
        }
        Ok(())
    }

    /// Removes a secret and persists the vault. Returns whether it existed.
    pub fn remove(&mut self, name: &str) -> Result<bool, VaultError> {
        let Some(old) = self.secrets.remove(name) else {
            return Ok(false);
        };
        if let Err(err) = self.persist() {
            self.secrets.insert(name.to_owned(), old);
            return Err(err);
        }
        Ok(true)
    }

    /// Re-encrypts under a new passphrase and a new salt, atomically. The KDF
    /// parameters stay those of the file (at least the floor it was opened with).
    pub fn change_passphrase(&mut self, new: &SecretString) -> Result<(), VaultError> {
        let keys = Unlocked::fresh(self.keys.params, new)?;
        let file = keys.encrypt(&self.secrets)?;
        self.write(&file)?;
        self.keys = keys;
        Ok(())
    }

    /// Drops every secret and the key; their memory is zeroized.
    pub fn lock(mut self) {
        self.secrets.clear();
    }

    fn persist(&self) -> Result<(), VaultError> {
        let file = self.keys.encrypt(&self.secrets)?;
        self.write(&file)
    }

    fn write(&self, file: &[u8]) -> Result<(), VaultError> {
        write_atomic(&self.path, file, FILE_MODE)
            .map_err(|err| VaultError::io(format!("writing {}", self.path.display()), err))
    }
}

/// The whole open path on bytes: parse, floor, KDF, key check, decrypt, decode.
fn unlock_bytes(
    bytes: &[u8],
    passphrase: &SecretString,
    options: &OpenOptions,
) -> Result<(Unlocked, SecretMap), VaultError> {
    let parsed = format::parse(bytes)?;
    let header = &parsed.header;
    header.params.check(&options.floor)?;
    let keys = Unlocked::derive(header.params, header.salt, passphrase)?;
    if !bool::from(keys.check.ct_eq(&header.check)) {
        return Err(VaultError::WrongPassphrase);
    }
    let mut buffer = Zeroizing::new(parsed.sealed.to_vec());
    primitives::aes256gcm_decrypt(&keys.key, &header.nonce, parsed.header_bytes, &mut buffer)
        .map_err(|_| VaultError::Tampered {
            part: TamperedPart::Ciphertext,
        })?;
    let secrets = payload::decode(&buffer)?;
    Ok((keys, secrets))
}

/// Runs the full open path over in-memory bytes with the test floor, for the
/// fuzz target. Returns the number of secrets.
#[cfg(any(fuzzing, feature = "test-params"))]
pub fn open_bytes_for_fuzzing(
    bytes: &[u8],
    passphrase: &SecretString,
) -> Result<usize, VaultError> {
    let options = OpenOptions::default().accept_insecure_test_params();
    unlock_bytes(bytes, passphrase, &options).map(|(_, secrets)| secrets.len())
}

/// Builds a valid vault file in memory with the test parameters, for seeding
/// the fuzzer and property tests.
#[cfg(any(test, fuzzing, feature = "test-params"))]
pub fn build_test_file(
    passphrase: &SecretString,
    secrets: &SecretMap,
) -> Result<Vec<u8>, VaultError> {
    Unlocked::fresh(KdfParams::insecure_for_tests(), passphrase)?.encrypt(secrets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unlock_bytes_round_trip_in_memory() {
        let pass = SecretString::from("pw");
        let mut secrets = SecretMap::new();
        secrets.insert("A".into(), SecretString::from("value"));
        let file = build_test_file(&pass, &secrets).unwrap();
        let options = OpenOptions::default().accept_insecure_test_params();
        let (_, back) = unlock_bytes(&file, &pass, &options).unwrap();
        assert_eq!(back["A"].expose_secret(), "value");
        assert!(matches!(
            unlock_bytes(&file, &SecretString::from("nope"), &options),
            Err(VaultError::WrongPassphrase)
        ));
        assert!(matches!(
            unlock_bytes(&file, &pass, &OpenOptions::default()),
            Err(VaultError::WeakKdfParams { .. })
        ));
    }
}
