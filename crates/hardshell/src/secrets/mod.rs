//! Getting the vault open: where the passphrase comes from, first-run
//! initialisation, and the names of the secrets the server itself keeps.
//!
//! Passphrase sources, in order: a passphrase file (flag or
//! `HARDSHELL_VAULT_PASSPHRASE_FILE`), the sealed file, a TTY prompt, and
//! `HARDSHELL_VAULT_PASSPHRASE` (which works, but leaks into process
//! listings and crash reports, so the README discourages it). It
//! never creates a vault while unlocking one.

pub mod live;

use std::io::IsTerminal;
use std::path::PathBuf;

use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use vault::{MachineBinding, Vault, VaultError};

use crate::config::{Config, DataDir, DataDirError};
use crate::store::key as db_key;

/// Secrets the server generates for itself at init.
pub const AUDIT_KEY: &str = "hardshell.audit_key";
pub const PEPPER: &str = "hardshell.pepper";
/// Keys the names and contents of upload files (`chat::upload_files`).
/// Installations from before uploads get it on their next `serve`.
pub const UPLOAD_KEY: &str = "hardshell.upload_key";
/// Names the server manages; `vault rm` refuses them.
pub const RESERVED_PREFIX: &str = "hardshell.";

const ENV_PASSPHRASE: &str = "HARDSHELL_VAULT_PASSPHRASE";

#[derive(Debug, thiserror::Error)]
pub enum UnlockError {
    #[error(transparent)]
    Vault(#[from] VaultError),
    #[error(transparent)]
    DataDir(#[from] DataDirError),
    #[error("cannot read {path}: {source}")]
    ReadFile {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "no data directory at {0}: run `hardshell init` (or `hardshell serve`, which initialises an empty directory)"
    )]
    NotInitialised(String),
    #[error("{0} already holds a vault; refusing to initialise over it")]
    AlreadyInitialised(String),
    #[error(
        "no vault passphrase available: pass --passphrase-file (or set HARDSHELL_VAULT_PASSPHRASE_FILE), seal the vault to this machine with `hardshell vault seal`, or run on a terminal"
    )]
    NoPassphraseSource,
    #[error(
        "the vault is sealed with a PIN: pass --pin-file (or HARDSHELL_PIN_FILE), or run on a terminal"
    )]
    PinRequired,
    #[error("{0}")]
    Invalid(String),
}

/// Where the passphrase came from (logged at start and audited).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PassphraseSource {
    File,
    Sealed { pin: bool },
    Prompt,
    Environment,
}

impl PassphraseSource {
    pub fn describe(self) -> &'static str {
        match self {
            Self::File => "passphrase file",
            Self::Sealed { pin: true } => "sealed to this machine, with PIN",
            Self::Sealed { pin: false } => "sealed to this machine",
            Self::Prompt => "passphrase typed at a terminal",
            Self::Environment => "HARDSHELL_VAULT_PASSPHRASE environment variable",
        }
    }
}

#[derive(Debug, Clone)]
pub struct UnlockOptions {
    pub passphrase_file: Option<PathBuf>,
    pub pin_file: Option<PathBuf>,
    pub machine: MachineBinding,
}

pub struct Unlocked {
    pub vault: Vault,
    pub source: PassphraseSource,
    /// Kept so `vault seal` can seal the passphrase that is in use.
    pub passphrase: SecretString,
}

/// Reads a secret from a file: the whole content minus one trailing newline.
pub fn read_secret_file(path: &std::path::Path) -> Result<SecretString, UnlockError> {
    let text = std::fs::read_to_string(path).map_err(|source| UnlockError::ReadFile {
        path: path.display().to_string(),
        source,
    })?;
    let trimmed = text
        .strip_suffix("\r\n")
        .or_else(|| text.strip_suffix('\n'))
        .unwrap_or(&text);
    if trimmed.is_empty() {
        return Err(UnlockError::Invalid(format!("{} is empty", path.display())));
    }
    Ok(SecretString::from(trimmed.to_string()))
}

fn stdin_is_tty() -> bool {
    std::io::stdin().is_terminal()
}

pub fn prompt_secret(prompt: &str) -> Result<SecretString, UnlockError> {
    let s = rpassword::prompt_password(prompt).map_err(|source| UnlockError::ReadFile {
        path: "terminal".into(),
        source,
    })?;
    Ok(SecretString::from(s))
}

/// Asks twice on the terminal and insists on a usable passphrase.
pub fn prompt_new_passphrase() -> Result<SecretString, UnlockError> {
    let first = prompt_secret("New vault passphrase: ")?;
    check_new_passphrase(&first)?;
    let second = prompt_secret("Repeat the passphrase: ")?;
    if first.expose_secret() != second.expose_secret() {
        return Err(UnlockError::Invalid("the passphrases do not match".into()));
    }
    Ok(first)
}

pub fn check_new_passphrase(p: &SecretString) -> Result<(), UnlockError> {
    if p.expose_secret().chars().count() < 12 {
        return Err(UnlockError::Invalid(
            "a vault passphrase needs at least 12 characters".into(),
        ));
    }
    Ok(())
}

fn pin(opts: &UnlockOptions) -> Result<SecretString, UnlockError> {
    match &opts.pin_file {
        Some(p) => read_secret_file(p),
        None if stdin_is_tty() => prompt_secret("Vault PIN: "),
        None => Err(UnlockError::PinRequired),
    }
}

/// Opens an existing vault from the first available passphrase source.
pub fn unlock(dd: &DataDir, opts: &UnlockOptions) -> Result<Unlocked, UnlockError> {
    if !dd.is_initialised() {
        return Err(UnlockError::NotInitialised(dd.root().display().to_string()));
    }
    let (passphrase, source) = if let Some(path) = &opts.passphrase_file {
        (read_secret_file(path)?, PassphraseSource::File)
    } else if vault::seal::is_sealed(&dd.seal_path()) {
        let needs_pin = vault::seal::requires_pin(&dd.seal_path())?;
        let pin = if needs_pin { Some(pin(opts)?) } else { None };
        let p = vault::seal::unseal(&dd.seal_path(), &opts.machine, pin.as_ref())?;
        (p, PassphraseSource::Sealed { pin: needs_pin })
    } else if stdin_is_tty() {
        (
            prompt_secret("Vault passphrase: ")?,
            PassphraseSource::Prompt,
        )
    } else if let Ok(p) = std::env::var(ENV_PASSPHRASE) {
        (SecretString::from(p), PassphraseSource::Environment)
    } else {
        return Err(UnlockError::NoPassphraseSource);
    };
    let vault = Vault::open(&dd.vault_path(), &passphrase)?;
    Ok(Unlocked {
        vault,
        source,
        passphrase,
    })
}

pub enum InitMode {
    /// The owner chose a passphrase (file or prompt).
    Passphrase(SecretString),
    /// A random passphrase sealed to this machine, optionally with a PIN.
    Sealed { pin: Option<SecretString> },
}

pub struct InitReport {
    pub sealed: bool,
    pub machine_key: Option<PathBuf>,
}

/// Creates the data directory, the vault with the server's own secrets,
/// the seal (if asked) and a default config. On any failure the files it
/// created are removed again.
pub fn initialise(
    dd: &DataDir,
    mode: InitMode,
    machine: &MachineBinding,
) -> Result<InitReport, UnlockError> {
    if dd.is_initialised() {
        return Err(UnlockError::AlreadyInitialised(
            dd.root().display().to_string(),
        ));
    }
    dd.ensure_exists()?;
    let mut created = Vec::new();
    let result = init_files(dd, mode, machine, &mut created);
    if result.is_err() {
        for path in created {
            let _ = std::fs::remove_file(path);
        }
    }
    result
}

fn init_files(
    dd: &DataDir,
    mode: InitMode,
    machine: &MachineBinding,
    created: &mut Vec<PathBuf>,
) -> Result<InitReport, UnlockError> {
    let (passphrase, pin, sealed) = match mode {
        InitMode::Passphrase(p) => {
            check_new_passphrase(&p)?;
            (p, None, false)
        }
        InitMode::Sealed { pin } => (vault::generate_passphrase()?, pin, true),
    };
    created.push(dd.vault_path());
    let mut v = Vault::create(&dd.vault_path(), &passphrase)?;
    v.set(
        db_key::VAULT_NAME,
        SecretString::from(crate::store::DbKey::generate().expose_hex().to_string()),
    )?;
    v.set(AUDIT_KEY, random_hex_secret())?;
    v.set(PEPPER, random_hex_secret())?;
    v.set(UPLOAD_KEY, random_hex_secret())?;
    v.lock();
    let mut report = InitReport {
        sealed,
        machine_key: None,
    };
    if sealed {
        created.push(dd.seal_path());
        vault::seal::seal(&dd.seal_path(), &passphrase, machine, pin.as_ref())?;
        report.machine_key = Some(machine.machine_key_path().to_path_buf());
    }
    if !dd.config_path().exists() {
        created.push(dd.config_path());
        vault::write_atomic(
            &dd.config_path(),
            Config::default_file_text().as_bytes(),
            0o600,
        )
        .map_err(|source| UnlockError::ReadFile {
            path: dd.config_path().display().to_string(),
            source,
        })?;
    }
    Ok(report)
}

fn random_hex_secret() -> SecretString {
    let mut raw = zeroize::Zeroizing::new([0u8; 32]);
    rand::rng().fill_bytes(raw.as_mut());
    SecretString::from(hex::encode(raw.as_ref()))
}

/// Adds a random 32-byte key `name` to the vault if it has none, for keys
/// introduced after an installation was created. Only call it while
/// holding the data directory lock (it writes the vault). Returns whether
/// it created the key.
pub fn ensure_key(vault: &mut Vault, name: &str) -> Result<bool, UnlockError> {
    if vault.get(name).is_some() {
        return Ok(false);
    }
    vault.set(name, random_hex_secret())?;
    Ok(true)
}

/// Decodes a 32-byte key kept in the vault as hex.
pub fn key_bytes(vault: &Vault, name: &str) -> Result<zeroize::Zeroizing<[u8; 32]>, UnlockError> {
    let value = vault
        .get(name)
        .ok_or_else(|| UnlockError::Invalid(format!("the vault has no {name}")))?;
    let mut out = zeroize::Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(value.expose_secret().trim(), out.as_mut())
        .map_err(|_| UnlockError::Invalid(format!("{name} in the vault is malformed")))?;
    Ok(out)
}
