//! Configured providers: settings in the store, API keys in the vault,
//! and ready-to-call clients built from both.
//!
//! All changes go through here so the client cache can never serve a
//! provider built from settings or a key that has since changed. The key is
//! read from the vault only when a client is built and is never returned.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use secrecy::SecretString;

use super::providers::{
    self, CallLimits, ProviderConfig, ProviderError, ProviderKind, SharedProvider,
};
use crate::secrets::live::{LiveVault, LiveVaultError};
use crate::store::agents::ProviderRow;
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Vault(#[from] LiveVaultError),
    #[error(transparent)]
    Provider(#[from] ProviderError),
}

/// What to do with a provider's API key on update.
pub enum KeyChange {
    Keep,
    Set(SecretString),
    Remove,
}

/// The vault entry holding a provider's key.
pub fn key_name(provider: &str) -> String {
    format!("provider.{}.api_key", provider.to_ascii_lowercase())
}

pub struct Registry {
    store: Store,
    vault: Arc<LiveVault>,
    limits: CallLimits,
    cache: Mutex<HashMap<String, SharedProvider>>,
    /// Bumped by every change; a client built from settings read before a
    /// change is not cached.
    generation: AtomicU64,
}

impl Registry {
    pub fn new(store: Store, vault: Arc<LiveVault>, limits: CallLimits) -> Self {
        Registry {
            store,
            vault,
            limits,
            cache: Mutex::new(HashMap::new()),
            generation: AtomicU64::new(0),
        }
    }

    fn forget(&self, name: &str) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut cache) = self.cache.lock() {
            cache.remove(&name.to_ascii_lowercase());
        }
    }

    pub fn has_key(&self, name: &str) -> bool {
        self.vault.get(&key_name(name)).is_some()
    }

    /// Creates or replaces a provider's settings and applies the key change.
    /// The key is written first: a failed vault write leaves the settings
    /// as they were.
    pub async fn put(
        &self,
        row: ProviderRow,
        key: KeyChange,
    ) -> Result<ProviderRow, RegistryError> {
        let name = key_name(&row.name);
        match key {
            KeyChange::Keep => {}
            KeyChange::Set(k) => self.vault.set(name, k).await?,
            KeyChange::Remove => {
                self.vault.remove(name).await?;
            }
        }
        let stored = self.store.provider_put(row).await?;
        self.forget(&stored.name);
        Ok(stored)
    }

    pub async fn delete(&self, name: &str) -> Result<bool, RegistryError> {
        let existed = self.store.provider_delete(name).await?;
        self.vault.remove(key_name(name)).await?;
        self.forget(name);
        Ok(existed)
    }

    /// The client for a provider name, or `None` when none is configured.
    pub async fn get(
        &self,
        name: &str,
    ) -> Result<Option<(SharedProvider, ProviderRow)>, RegistryError> {
        let generation = self.generation.load(Ordering::SeqCst);
        let Some(row) = self.store.provider_get(name).await? else {
            return Ok(None);
        };
        let lower = row.name.to_ascii_lowercase();
        if let Some(p) = self.cache.lock().ok().and_then(|c| c.get(&lower).cloned()) {
            return Ok(Some((p, row)));
        }
        let provider = providers::build(self.config_of(&row, self.limits.clone())?)?;
        if let Ok(mut cache) = self.cache.lock()
            && self.generation.load(Ordering::SeqCst) == generation
        {
            cache.insert(lower, Arc::clone(&provider));
        }
        Ok(Some((provider, row)))
    }

    /// A client for a provider with other call limits (the connection
    /// test), built from the current settings and key and never cached.
    pub async fn build_uncached(
        &self,
        name: &str,
        limits: CallLimits,
    ) -> Result<Option<(SharedProvider, ProviderRow)>, RegistryError> {
        let Some(row) = self.store.provider_get(name).await? else {
            return Ok(None);
        };
        let provider = providers::build(self.config_of(&row, limits)?)?;
        Ok(Some((provider, row)))
    }

    fn config_of(
        &self,
        row: &ProviderRow,
        limits: CallLimits,
    ) -> Result<ProviderConfig, ProviderError> {
        let kind = ProviderKind::parse(&row.kind).ok_or_else(|| {
            ProviderError::Protocol(format!("unknown provider kind {}", row.kind))
        })?;
        Ok(ProviderConfig {
            name: row.name.clone(),
            kind,
            base_url: row.base_url.clone(),
            api_key: self.vault.get(&key_name(&row.name)),
            embedding_model: row.embedding_model.clone(),
            limits,
        })
    }
}
