//! The vault's error type. Messages name paths and sizes, never secret values.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

/// Which part of a file failed its integrity check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TamperedPart {
    /// Header bytes (magic, version, KDF parameters, salt, nonce, check value)
    /// do not match the header checksum, or the file is not a vault at all.
    Header,
    /// The file ends before the header or the authentication tag does.
    Truncated,
    /// The ciphertext or its tag failed AES-GCM authentication under the
    /// right key.
    Ciphertext,
    /// The authenticated plaintext does not have the expected structure.
    Payload,
}

impl std::fmt::Display for TamperedPart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TamperedPart::Header => "header",
            TamperedPart::Truncated => "length (truncated)",
            TamperedPart::Ciphertext => "ciphertext or tag",
            TamperedPart::Payload => "payload",
        })
    }
}

/// Everything that can go wrong in the vault and sealed mode.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("no vault at {path}")]
    NotFound { path: PathBuf },

    #[error("refusing to overwrite existing file {path}")]
    AlreadyExists { path: PathBuf },

    #[error("wrong vault passphrase")]
    WrongPassphrase,

    #[error("passphrase must not be empty")]
    EmptyPassphrase,

    #[error("file failed its integrity check ({part}): it is corrupt or was modified")]
    Tampered { part: TamperedPart },

    #[error("unsupported file format version {found}")]
    UnsupportedVersion { found: u16 },

    #[error(
        "KDF parameters m={m_kib}KiB t={t} p={p} are below the required floor; \
         refusing a possible downgrade"
    )]
    WeakKdfParams { m_kib: u32, t: u32, p: u32 },

    #[error("KDF parameters m={m_kib}KiB t={t} p={p} exceed the supported maximum")]
    ExcessiveKdfParams { m_kib: u32, t: u32, p: u32 },

    #[error("invalid secret name: {reason}")]
    InvalidName { reason: &'static str },

    #[error("secret value is {len} bytes; the maximum is {max}")]
    ValueTooLarge { len: usize, max: usize },

    #[error("the vault is full: {reason}")]
    VaultFull { reason: &'static str },

    #[error("file {path} is {len} bytes, larger than the {max}-byte limit")]
    FileTooLarge { path: PathBuf, len: u64, max: u64 },

    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },

    #[error("key derivation failed")]
    Kdf,

    #[error("the system random number generator failed")]
    Random,

    #[error("machine secret {path} is missing; this seal cannot be opened on this machine")]
    MachineSecretMissing { path: PathBuf },

    #[error("machine secret {path} is invalid: {reason}")]
    MachineSecretInvalid { path: PathBuf, reason: &'static str },

    #[error("{path} is accessible by group or others (mode {mode:o}); it must be 0600")]
    InsecurePermissions { path: PathBuf, mode: u32 },

    #[error("machine secret {path} must live outside the data directory")]
    MachineSecretInsideDataDir { path: PathBuf },

    #[error("the seal was made on a different machine (machine secret or machine-id differ)")]
    SealMismatch,

    #[error("wrong PIN")]
    WrongPin,

    #[error("this seal requires a PIN")]
    PinRequired,

    #[error("this seal has no PIN, but one was given")]
    PinNotExpected,

    #[error("too many wrong PINs; retry in {} s", retry_after.as_secs().max(1))]
    PinRateLimited { retry_after: Duration },
}

impl VaultError {
    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Self {
        VaultError::Io {
            context: context.into(),
            source,
        }
    }
}
