//! Checking that a provider answers, for the first-run path and the
//! "Test connection" button: looking for Ollama (on its default local
//! address unless told otherwise) and testing a configured provider.
//!
//! Each check is one real request (the model list) through the same
//! provider clients agents use, with short timeouts and no retries. It
//! stores nothing, and never returns or logs an API key. Checks are
//! bounded: at most `MAX_CONCURRENT` run at once; the rest wait.

use std::sync::LazyLock;
use std::time::Duration;

use tokio::sync::Semaphore;

use super::providers::{self, CallLimits, ProviderConfig, ProviderError, ProviderKind};
use super::registry::{Registry, RegistryError};

/// Checks that may be in flight together across the server.
const MAX_CONCURRENT: usize = 2;
/// Models returned at most (a big OpenRouter list is thousands).
const MAX_MODELS: usize = 500;

static PERMITS: LazyLock<Semaphore> = LazyLock::new(|| Semaphore::new(MAX_CONCURRENT));

/// What a check found.
#[derive(Clone, Debug)]
pub struct Probe {
    /// The provider answered and listed its models.
    pub ok: bool,
    /// Where it looked.
    pub base_url: String,
    /// The models it lists (sorted, at most 500).
    pub models: Vec<String>,
    /// A stable code when it failed (`provider_unreachable`, `provider_error`…).
    pub code: Option<String>,
    /// What went wrong, for a person.
    pub message: Option<String>,
}

/// Short limits: a person is waiting for the answer.
fn check_limits() -> CallLimits {
    CallLimits {
        connect_timeout: Duration::from_secs(3),
        read_timeout: Duration::from_secs(10),
        total_timeout: Duration::from_secs(15),
        max_retries: 0,
        max_response_bytes: 4 * 1024 * 1024,
        ..CallLimits::default()
    }
}

/// Explains a failure without echoing request data.
fn explain(e: &ProviderError, base_url: &str) -> String {
    match e {
        ProviderError::Unreachable { .. } => {
            format!("Nothing answered at {base_url}. Is the server running there?")
        }
        ProviderError::Timeout(_) => format!("{base_url} did not answer in time."),
        ProviderError::Status {
            status: 401 | 403, ..
        } => "The provider refused the API key.".to_string(),
        other => other.to_string(),
    }
}

async fn list(provider: providers::SharedProvider) -> Probe {
    let base_url = provider.config().base_url.clone();
    let Ok(_permit) = PERMITS.acquire().await else {
        return failed(base_url, "internal", "the check could not run".into());
    };
    match provider.list_models().await {
        Ok(mut models) => {
            models.sort();
            models.dedup();
            models.truncate(MAX_MODELS);
            Probe {
                ok: true,
                base_url,
                models,
                code: None,
                message: None,
            }
        }
        Err(e) => {
            let message = explain(&e, &base_url);
            failed(base_url, e.code(), message)
        }
    }
}

fn failed(base_url: String, code: &str, message: String) -> Probe {
    Probe {
        ok: false,
        base_url,
        models: Vec::new(),
        code: Some(code.to_string()),
        message: Some(message),
    }
}

/// Looks for Ollama at `base_url` (already checked to be an http(s) URL),
/// or at its default local address.
pub async fn detect_ollama(base_url: Option<String>) -> Probe {
    let mut config = ProviderConfig::new("ollama", ProviderKind::Ollama);
    if let Some(url) = base_url {
        config.base_url = url;
    }
    config.limits = check_limits();
    let url = config.base_url.clone();
    match providers::build(config) {
        Ok(p) => list(p).await,
        Err(e) => {
            let message = explain(&e, &url);
            failed(url, e.code(), message)
        }
    }
}

/// Tests a configured provider with its current settings and key;
/// `None` when no provider has that name.
pub async fn test_configured(
    registry: &Registry,
    name: &str,
) -> Result<Option<Probe>, RegistryError> {
    match registry.build_uncached(name, check_limits()).await {
        Ok(Some((p, _))) => Ok(Some(list(p).await)),
        Ok(None) => Ok(None),
        Err(RegistryError::Provider(e)) => Ok(Some(failed(String::new(), e.code(), e.to_string()))),
        Err(e) => Err(e),
    }
}
