//! The vault while the server runs.
//!
//! Agents need two things from it at run time: provider API keys, and the
//! full set of secret values for the leak guard. So `serve` keeps the
//! unlocked vault here instead of locking it after start. Every change is
//! persisted by the vault before it returns, and then every redactor (the
//! agents' leak guard, the log writer and the audit writer) is rebuilt, so
//! a key stored a moment ago is already scrubbed from the next output, and
//! a removed one is gone from every redactor (a reply already running keeps
//! the redactor it started with until it ends; the old redactors wipe their
//! copies as they drop). Values never leave this module except as
//! `SecretString`s and inside a `Redactor`.

use std::sync::{Arc, Mutex, RwLock};

use promptguard::Redactor;
use secrecy::{ExposeSecret, SecretString};
use vault::{Vault, VaultError};
use zeroize::Zeroizing;

use crate::audit_log::AuditLog;
use crate::logging::LogRedactor;

#[derive(Debug, thiserror::Error)]
pub enum LiveVaultError {
    #[error(transparent)]
    Vault(#[from] VaultError),
    #[error("the vault is unavailable (a previous write failed mid-way)")]
    Poisoned,
    #[error("a background vault task failed")]
    TaskFailed,
}

pub struct LiveVault {
    vault: Mutex<Vault>,
    leak: RwLock<Arc<Redactor>>,
    log: Option<LogRedactor>,
    audit: AuditLog,
}

impl std::fmt::Debug for LiveVault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LiveVault")
    }
}

/// Every value, in buffers wiped when they are dropped (they live only
/// while the redactors are rebuilt).
fn values(vault: &Vault) -> Vec<Zeroizing<String>> {
    vault
        .values()
        .map(|v| Zeroizing::new(v.expose_secret().to_string()))
        .collect()
}

impl LiveVault {
    pub fn new(vault: Vault, log: Option<LogRedactor>, audit: AuditLog) -> Arc<Self> {
        let leak = Arc::new(Redactor::new(values(&vault).iter().map(|v| v.as_str())));
        Arc::new(LiveVault {
            vault: Mutex::new(vault),
            leak: RwLock::new(leak),
            log,
            audit,
        })
    }

    /// The leak guard over every vault value, current as of the last change.
    pub fn redactor(&self) -> Arc<Redactor> {
        match self.leak.read() {
            Ok(g) => Arc::clone(&g),
            // Fail closed: a redactor that knows nothing would leak, so a
            // poisoned slot redacts with the last value we can still read.
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Every secret's name (never a value).
    pub fn names(&self) -> Vec<String> {
        match self.vault.lock() {
            Ok(v) => v.names(),
            Err(_) => Vec::new(),
        }
    }

    pub fn get(&self, name: &str) -> Option<SecretString> {
        let vault = self.vault.lock().ok()?;
        vault.get(name).cloned()
    }

    /// Stores a secret (persisted before returning) and refreshes every redactor.
    pub async fn set(
        self: &Arc<Self>,
        name: String,
        value: SecretString,
    ) -> Result<(), LiveVaultError> {
        let me = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let mut vault = me.vault.lock().map_err(|_| LiveVaultError::Poisoned)?;
            vault.set(&name, value)?;
            me.refresh(&vault);
            Ok(())
        })
        .await
        .map_err(|_| LiveVaultError::TaskFailed)?
    }

    /// Removes a secret; returns whether it existed.
    pub async fn remove(self: &Arc<Self>, name: String) -> Result<bool, LiveVaultError> {
        let me = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let mut vault = me.vault.lock().map_err(|_| LiveVaultError::Poisoned)?;
            let existed = vault.remove(&name)?;
            me.refresh(&vault);
            Ok(existed)
        })
        .await
        .map_err(|_| LiveVaultError::TaskFailed)?
    }

    fn refresh(&self, vault: &Vault) {
        let mut all = values(vault);
        all.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        all.dedup_by(|a, b| a.as_str() == b.as_str());
        let all: Vec<&str> = all.iter().map(|v| v.as_str()).collect();
        if let Ok(mut slot) = self.leak.write() {
            *slot = Arc::new(Redactor::new(&all));
        }
        if let Some(log) = &self.log {
            log.set_secrets(&all);
        }
        self.audit.set_secrets(&all);
    }

    /// At shutdown: swaps every redactor for an empty one (the old ones
    /// wipe their copies as they drop), so the only copies left are the
    /// vault's own, which wipe themselves on drop.
    pub fn wipe(&self) {
        let none: [&str; 0] = [];
        if let Ok(mut slot) = self.leak.write() {
            *slot = Arc::new(Redactor::new(none));
        }
        if let Some(log) = &self.log {
            log.set_secrets(none);
        }
        self.audit.set_secrets(none);
    }
}
