//! Start-up wiring shared by `serve` and the CLI: from an unlocked vault to
//! an open store and the application state.

use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use vault::Vault;

use crate::config::{Config, DataDir};
use crate::store::key::{VAULT_NAME, VAULT_NAME_NEXT};
use crate::store::{DbKey, Store, StoreError};
use crate::web::AppState;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("the vault has no database key ({VAULT_NAME}); the data directory is incomplete")]
    NoDbKey,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Vault(#[from] vault::VaultError),
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
}

fn key_from_vault(vault: &Vault, name: &str) -> Result<Option<DbKey>, StartError> {
    vault
        .get(name)
        .map(|v| DbKey::parse(v.expose_secret()))
        .transpose()
        .map_err(StartError::from)
}

/// Opens the database with the key in the vault. If a `db rekey` was cut
/// short after the file was re-encrypted, the pending key opens it and is
/// promoted, so the interrupted rotation completes here.
pub fn open_store(dd: &DataDir, vault: &mut Vault) -> Result<Store, StartError> {
    let current = key_from_vault(vault, VAULT_NAME)?.ok_or(StartError::NoDbKey)?;
    match Store::open(&dd.db_path(), current) {
        Ok(store) => {
            if vault.get(VAULT_NAME_NEXT).is_some() {
                // The rotation never reached the file; drop the pending key.
                vault.remove(VAULT_NAME_NEXT)?;
            }
            Ok(store)
        }
        Err(StoreError::WrongKeyOrCorrupt) => {
            let Some(next) = key_from_vault(vault, VAULT_NAME_NEXT)? else {
                return Err(StoreError::WrongKeyOrCorrupt.into());
            };
            let hex = SecretString::from(next.expose_hex().to_string());
            let store = Store::open(&dd.db_path(), next)?;
            vault.set(VAULT_NAME, hex)?;
            vault.remove(VAULT_NAME_NEXT)?;
            tracing::warn!("completed an interrupted database key rotation");
            Ok(store)
        }
        Err(e) => Err(e.into()),
    }
}

pub fn state(store: Store, config: Config) -> Result<AppState, StartError> {
    let trusted = config.trusted_proxy_nets()?;
    Ok(AppState {
        store,
        config: Arc::new(config),
        trusted_proxies: trusted.into(),
    })
}
