//! Start-up wiring shared by `serve` and the CLI: from an unlocked vault to
//! an open store and the application state.

use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use vault::Vault;

use crate::audit_log::AuditLog;
use crate::config::{Config, DataDir};
use crate::secrets;
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
    #[error(transparent)]
    Secrets(#[from] secrets::UnlockError),
    #[error(transparent)]
    AnchorPlace(#[from] crate::audit_log::AnchorPlaceError),
}

pub(crate) fn key_from_vault(vault: &Vault, name: &str) -> Result<Option<DbKey>, StartError> {
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

/// The server's HMAC pepper for stored token hashes (from the vault).
pub type Pepper = Arc<zeroize::Zeroizing<[u8; 32]>>;

/// What a command needs once the vault is open: the store and the audit
/// writer. Built the same way by `serve` and by CLI commands.
pub struct Opened {
    pub store: Store,
    pub audit: AuditLog,
    pub pepper: Pepper,
}

/// Opens the database and starts the audit writer from an unlocked vault.
/// Must run inside the tokio runtime (the writer is a task).
pub fn open(dd: &DataDir, vault: &mut Vault) -> Result<Opened, StartError> {
    let store = open_store(dd, vault)?;
    let audit_key = secrets::key_bytes(vault, secrets::AUDIT_KEY)?;
    let pepper = Arc::new(secrets::key_bytes(vault, secrets::PEPPER)?);
    let config = Config::load(&dd.config_path())?;
    let places = crate::audit_log::AnchorPlaces::resolve(dd, &config.audit)?;
    let audit = AuditLog::start(
        store.clone(),
        dd.audit_lock_path(),
        places,
        audit::AuditKey::from_bytes(*audit_key),
        vault_values(vault),
    );
    Ok(Opened {
        store,
        audit,
        pepper,
    })
}

/// Every vault value, for the redactors (logs, audit entries).
pub fn vault_values(vault: &Vault) -> Vec<zeroize::Zeroizing<String>> {
    vault
        .values()
        .map(|v| zeroize::Zeroizing::new(v.expose_secret().to_string()))
        .collect()
}

pub fn state(
    opened: &Opened,
    config: Config,
    origins: Vec<String>,
    dd: &DataDir,
    vault: Vault,
    log: Option<crate::logging::LogRedactor>,
    launch: crate::doctor::Launch,
) -> Result<AppState, StartError> {
    let trusted = config.trusted_proxy_nets()?;
    let upload_key = secrets::key_bytes(&vault, secrets::UPLOAD_KEY)?;
    let vault = secrets::live::LiveVault::new(vault, log, opened.audit.clone());
    let data_dir = Arc::new(dd.clone());
    let hub = crate::chat::hub::Hub::new();
    let tool_net =
        crate::agents::tools::net::ToolNet::new(config.tools.clone()).map_err(|message| {
            crate::config::ConfigError::Invalid {
                key: "tools",
                message,
            }
        })?;
    let runtime = crate::agents::runtime::Runtime::new(
        tool_net,
        opened.store.clone(),
        hub.clone(),
        opened.audit.clone(),
        Arc::clone(&vault),
        Arc::clone(&data_dir),
        crate::agents::providers::CallLimits::default(),
        config.approvals.clone(),
        crate::agents::judge::Judge::from_config(&config.promptguard),
    );
    runtime.start_approvals();
    let channels = crate::channels::Channels::new(
        std::sync::Arc::clone(&runtime),
        Arc::clone(&opened.pepper),
        &config.channels,
        config.server.public_origin.as_deref(),
    )
    .map_err(|message| crate::config::ConfigError::Invalid {
        key: "channels",
        message,
    })?;
    channels.start();
    crate::chat::owner_notices::start(opened.store.clone(), hub.clone());
    let uploads = crate::chat::upload_files::UploadFiles::new(dd.uploads_dir(), &upload_key);
    let left = uploads.remove_leftovers();
    if left > 0 {
        tracing::info!(
            files = left,
            "removed uploads left unfinished by the last run"
        );
    }
    Ok(AppState::new(crate::web::SharedState {
        store: opened.store.clone(),
        audit: opened.audit.clone(),
        pepper: Arc::clone(&opened.pepper),
        config: Arc::new(config),
        trusted_proxies: trusted.into(),
        origins: origins.into(),
        throttles: Arc::new(crate::auth::throttle::Throttles::new()),
        hub,
        uploads,
        vault,
        data_dir,
        runtime,
        launch: Arc::new(launch),
        channels,
    }))
}

/// The origins a browser may send for this server: its own (scheme, bound
/// address, and `localhost` for loopback), the public origin, and any
/// configured extras. Used for CSRF and WebSocket Origin checks.
pub fn own_origins(addr: std::net::SocketAddr, https: bool, config: &Config) -> Vec<String> {
    let scheme = if https { "https" } else { "http" };
    let mut out = vec![format!("{scheme}://{addr}")];
    if addr.ip().is_loopback() {
        out.push(format!("{scheme}://localhost:{}", addr.port()));
    }
    out.extend(config.server.public_origin.iter().cloned());
    out.extend(config.server.allowed_origins.iter().cloned());
    for o in &mut out {
        while o.ends_with('/') {
            o.pop();
        }
    }
    out
}
