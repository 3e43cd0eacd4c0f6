//! vault: Hardshell's encrypted secret store.
//!
//! Owns the `vault.hsv` file format (checksummed header as AAD, Argon2id,
//! AES-256-GCM), the unlocked in-memory secret map, atomic 0600 writes, and
//! sealed mode (`seal.hss`). Knows nothing about the application. Never
//! prints, logs or returns secret values in errors or `Debug` output.

mod atomic;
mod container;
mod error;
pub mod format;
mod kdf;
pub mod payload;
pub mod primitives;
pub mod seal;
mod vault;

pub use atomic::{write_atomic, write_atomic_new};
pub use error::{TamperedPart, VaultError};
pub use kdf::KdfParams;
pub use payload::{MAX_NAME_LEN, MAX_SECRETS, MAX_VALUE_LEN, SecretMap, validate_name};
pub use seal::MachineBinding;
pub use vault::{MAX_FILE_LEN, OpenOptions, Vault, VaultInfo, inspect};

#[cfg(any(test, fuzzing, feature = "test-params"))]
pub use vault::build_test_file;
#[cfg(any(fuzzing, feature = "test-params"))]
pub use vault::open_bytes_for_fuzzing;

pub use secrecy::{ExposeSecret, SecretString};

use zeroize::Zeroizing;

/// A random passphrase with 256 bits of entropy (64 lowercase hex digits),
/// for unattended first runs.
pub fn generate_passphrase() -> Result<SecretString, VaultError> {
    let bytes: Zeroizing<[u8; 32]> = Zeroizing::new(container::random()?);
    Ok(SecretString::from(atomic::hex_lower(bytes.as_slice())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_passphrases_are_long_and_distinct() {
        let a = generate_passphrase().unwrap();
        let b = generate_passphrase().unwrap();
        assert_eq!(a.expose_secret().len(), 64);
        assert!(a.expose_secret().bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a.expose_secret(), b.expose_secret());
    }
}
