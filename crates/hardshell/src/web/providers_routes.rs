//! Provider settings (owner only) and the list of models agents may use.
//!
//! An API key goes into the vault through `agents::registry` and is never
//! returned: responses only say whether one is set. Audit entries name the
//! provider and what changed, never the key.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::{Authorized, Principal};
use super::{ApiError, AppState, record};
use crate::agents::connect::{self, Probe};
use crate::agents::model;
use crate::agents::providers::ProviderKind;
use crate::agents::registry::{KeyChange, RegistryError};
use crate::store::agents::ProviderRow;

#[derive(Serialize, ToSchema)]
pub struct ProviderView {
    name: String,
    kind: String,
    base_url: String,
    has_api_key: bool,
    models: Vec<String>,
    embedding_model: Option<String>,
    input_usd_per_mtok: f64,
    output_usd_per_mtok: f64,
    created_at: i64,
    updated_at: i64,
}

#[derive(Serialize, ToSchema)]
pub struct ProviderList {
    providers: Vec<ProviderView>,
}

/// Settings for one provider. `api_key`: absent keeps the stored key, a
/// string replaces it, `""` removes it.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutProvider {
    #[schema(max_length = 9, pattern = "^(openai|ollama|anthropic)$")]
    kind: String,
    /// An http(s) URL with a host; at most 2048 characters.
    #[schema(min_length = 1, max_length = 2048)]
    base_url: Option<String>,
    /// At most 4096 characters, no control characters.
    #[schema(max_length = 4096)]
    api_key: Option<String>,
    /// At most 200 names of at most 200 bytes, without spaces.
    #[schema(schema_with = model_names)]
    models: Option<Vec<String>>,
    /// Like a model name; blank clears it.
    #[schema(max_length = 200)]
    embedding_model: Option<String>,
    #[schema(minimum = 0, maximum = 1000000)]
    input_usd_per_mtok: Option<f64>,
    #[schema(minimum = 0, maximum = 1000000)]
    output_usd_per_mtok: Option<f64>,
}

/// Most model names one provider lists.
pub const MAX_MODELS: usize = 200;
/// Longest `base_url`, in characters.
pub const MAX_BASE_URL_CHARS: usize = 2048;
/// Longest API key, in characters.
pub const MAX_API_KEY_CHARS: usize = 4096;

fn model_names() -> utoipa::openapi::schema::Array {
    super::openapi::string_list(MAX_MODELS, 0, model::MAX_MODEL_NAME_BYTES, true)
}

#[derive(Serialize, ToSchema)]
pub struct ProviderIssue {
    provider: String,
    code: String,
}

#[derive(Serialize, ToSchema)]
pub struct ModelList {
    models: Vec<String>,
    errors: Vec<ProviderIssue>,
}

fn view(state: &AppState, r: ProviderRow) -> ProviderView {
    ProviderView {
        has_api_key: state.runtime.registry().has_key(&r.name),
        name: r.name,
        kind: r.kind,
        base_url: r.base_url,
        models: r.models,
        embedding_model: r.embedding_model,
        input_usd_per_mtok: model::micros_to_usd(r.input_micros_per_mtok),
        output_usd_per_mtok: model::micros_to_usd(r.output_micros_per_mtok),
        created_at: r.created_at,
        updated_at: r.updated_at,
    }
}

fn unprocessable(code: &'static str, msg: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, msg)
}

fn registry_error(e: RegistryError) -> ApiError {
    match e {
        RegistryError::Store(e) => e.into(),
        other => ApiError::internal(&other),
    }
}

/// An http(s) URL with a host and nothing that would smuggle credentials
/// or change meaning when paths are appended.
fn check_base_url(raw: &str) -> Result<String, ApiError> {
    let bad = || {
        unprocessable(
            "invalid_base_url",
            "base_url must be an http(s) URL with a host, without credentials, query or fragment",
        )
    };
    if raw.chars().count() > MAX_BASE_URL_CHARS {
        return Err(unprocessable(
            "invalid_base_url",
            format!("base_url is at most {MAX_BASE_URL_CHARS} characters"),
        ));
    }
    let url = url::Url::parse(raw.trim()).map_err(|_| bad())?;
    let ok = matches!(url.scheme(), "http" | "https")
        && url.host_str().is_some_and(|h| !h.is_empty())
        && url.username().is_empty()
        && url.password().is_none()
        && url.query().is_none()
        && url.fragment().is_none();
    if !ok {
        return Err(bad());
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

fn check_name(name: &str) -> Result<(), ApiError> {
    if model::is_slug(name) {
        Ok(())
    } else {
        let e = model::FieldError::ProviderName;
        Err(unprocessable(e.code(), e.to_string()))
    }
}

fn price(usd: Option<f64>) -> Result<i64, ApiError> {
    match usd {
        None => Ok(0),
        Some(v) => model::usd_to_micros(v)
            .ok_or_else(|| unprocessable("invalid_price", "prices must be between 0 and 1000000")),
    }
}

fn draft(p: &Principal, action: &str, name: &str) -> audit::Draft {
    audit::Draft::new(p.actor(), action, audit::Outcome::Success)
        .target(format!("provider:{name}"))
        .ip(p.client.ip)
}

#[utoipa::path(get, path = "/api/v1/providers", tag = "agents",
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = ProviderList)))]
pub async fn list(
    State(state): State<AppState>,
    Authorized(_p): Authorized,
) -> Result<Json<ProviderList>, ApiError> {
    let rows = state.store.provider_list().await?;
    Ok(Json(ProviderList {
        providers: rows.into_iter().map(|r| view(&state, r)).collect(),
    }))
}

#[utoipa::path(get, path = "/api/v1/providers/{name}", tag = "agents",
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = ProviderView), (status = 404)))]
pub async fn get(
    State(state): State<AppState>,
    Authorized(_p): Authorized,
    Path(name): Path<String>,
) -> Result<Json<ProviderView>, ApiError> {
    let row = state
        .store
        .provider_get(&name)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(Json(view(&state, row)))
}

/// Creates or replaces a provider's settings.
#[utoipa::path(put, path = "/api/v1/providers/{name}", tag = "agents",
    security(("bearer" = []), ("cookie" = [])), request_body = PutProvider,
    responses((status = 200, body = ProviderView), (status = 422)))]
pub async fn put(
    State(state): State<AppState>,
    Authorized(p): Authorized,
    Path(name): Path<String>,
    Json(body): Json<PutProvider>,
) -> Result<Json<ProviderView>, ApiError> {
    check_name(&name)?;
    let kind = ProviderKind::parse(&body.kind)
        .ok_or_else(|| unprocessable("invalid_kind", "kind must be openai, ollama or anthropic"))?;
    let base_url = check_base_url(body.base_url.as_deref().unwrap_or(kind.default_base_url()))?;
    let mut models = body.models.unwrap_or_default();
    if models.len() > MAX_MODELS {
        return Err(unprocessable(
            "invalid_model",
            format!("at most {MAX_MODELS} models"),
        ));
    }
    models.retain(|m| !m.trim().is_empty());
    let embedding_model = body.embedding_model.filter(|m| !m.trim().is_empty());
    for m in models.iter().chain(embedding_model.as_ref()) {
        model::parse_model(&format!("{name}/{m}"))
            .map_err(|e| unprocessable(e.code(), e.to_string()))?;
    }
    let key = match body.api_key {
        None => KeyChange::Keep,
        Some(k) if k.is_empty() => KeyChange::Remove,
        Some(k) => {
            if k.chars().count() > MAX_API_KEY_CHARS || k.chars().any(char::is_control) {
                return Err(unprocessable(
                    "invalid_api_key",
                    "the API key is not valid text",
                ));
            }
            KeyChange::Set(secrecy::SecretString::from(k))
        }
    };
    let key_action = match key {
        KeyChange::Keep => "kept",
        KeyChange::Set(_) => "set",
        KeyChange::Remove => "removed",
    };
    let row = ProviderRow {
        name: name.clone(),
        kind: kind.as_str().to_string(),
        base_url: base_url.clone(),
        models,
        embedding_model,
        input_micros_per_mtok: price(body.input_usd_per_mtok)?,
        output_micros_per_mtok: price(body.output_usd_per_mtok)?,
        created_at: 0,
        updated_at: 0,
    };
    let stored = state
        .runtime
        .registry()
        .put(row, key)
        .await
        .map_err(registry_error)?;
    record(
        &state,
        draft(&p, "provider.updated", &name)
            .detail("kind", kind.as_str())
            .detail("base_url", base_url)
            .detail("api_key", key_action),
    )
    .await?;
    Ok(Json(view(&state, stored)))
}

#[utoipa::path(delete, path = "/api/v1/providers/{name}", tag = "agents",
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 204), (status = 404)))]
pub async fn delete(
    State(state): State<AppState>,
    Authorized(p): Authorized,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    if !state
        .runtime
        .registry()
        .delete(&name)
        .await
        .map_err(registry_error)?
    {
        return Err(ApiError::not_found());
    }
    record(&state, draft(&p, "provider.deleted", &name)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Every `provider/model` an agent may name: the configured ones plus what
/// each provider lists right now.
#[utoipa::path(get, path = "/api/v1/models", tag = "agents",
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = ModelList)))]
pub async fn models(
    State(state): State<AppState>,
    Authorized(_p): Authorized,
) -> Result<Json<ModelList>, ApiError> {
    let rows = state.store.provider_list().await?;
    let mut models = Vec::new();
    let mut errors = Vec::new();
    for row in rows {
        models.extend(row.models.iter().map(|m| format!("{}/{m}", row.name)));
        let live = match state.runtime.registry().get(&row.name).await {
            Ok(Some((p, _))) => p.list_models().await.map_err(|e| e.code().to_string()),
            Ok(None) => continue,
            Err(e) => Err(match e {
                RegistryError::Provider(p) => p.code().to_string(),
                _ => "internal".to_string(),
            }),
        };
        match live {
            Ok(list) => models.extend(list.into_iter().map(|m| format!("{}/{m}", row.name))),
            Err(code) => errors.push(ProviderIssue {
                provider: row.name.clone(),
                code,
            }),
        }
    }
    models.sort();
    models.dedup();
    Ok(Json(ModelList { models, errors }))
}

/// The result of a connection check.
#[derive(Serialize, ToSchema)]
pub struct ProbeView {
    /// The provider answered and listed its models.
    ok: bool,
    /// Where it looked.
    base_url: String,
    /// The models it lists (sorted, at most 500).
    models: Vec<String>,
    /// A stable code when it failed (`provider_unreachable`, `provider_error`…).
    code: Option<String>,
    /// What went wrong, for a person.
    message: Option<String>,
}

impl From<Probe> for ProbeView {
    fn from(p: Probe) -> Self {
        ProbeView {
            ok: p.ok,
            base_url: p.base_url,
            models: p.models,
            code: p.code,
            message: p.message,
        }
    }
}

/// Where to look for Ollama; absent means `http://127.0.0.1:11434`.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct DetectRequest {
    /// An http(s) URL with a host; at most 2048 characters.
    #[schema(min_length = 1, max_length = 2048)]
    base_url: Option<String>,
}

fn probe_draft(p: &Principal, action: &str, target: String, probe: &Probe) -> audit::Draft {
    let outcome = if probe.ok {
        audit::Outcome::Success
    } else {
        audit::Outcome::Failure
    };
    audit::Draft::new(p.actor(), action, outcome)
        .target(target)
        .ip(p.client.ip)
        .detail("base_url", probe.base_url.clone())
        .detail("error", probe.code.clone().unwrap_or_default())
}

/// Looks for a running Ollama (one model-list request, short timeouts)
/// and lists its models. The browser cannot reach it itself under the CSP.
#[utoipa::path(post, path = "/api/v1/providers/detect", tag = "agents",
    security(("bearer" = []), ("cookie" = [])), request_body = DetectRequest,
    responses((status = 200, body = ProbeView), (status = 422)))]
pub async fn detect(
    State(state): State<AppState>,
    Authorized(p): Authorized,
    Json(body): Json<DetectRequest>,
) -> Result<Json<ProbeView>, ApiError> {
    let base_url = body.base_url.as_deref().map(check_base_url).transpose()?;
    let probe = connect::detect_ollama(base_url).await;
    // Not finding Ollama is an answer, not a failure.
    let draft = audit::Draft::new(p.actor(), "provider.detected", audit::Outcome::Success)
        .target("provider:ollama")
        .ip(p.client.ip)
        .detail("base_url", probe.base_url.clone())
        .detail("found", probe.ok);
    record(&state, draft).await?;
    Ok(Json(probe.into()))
}

/// Tests a configured provider: one real request with its saved settings
/// and key. `ok: false` with a code and message when it fails.
#[utoipa::path(post, path = "/api/v1/providers/{name}/test", tag = "agents",
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = ProbeView), (status = 404)))]
pub async fn test(
    State(state): State<AppState>,
    Authorized(p): Authorized,
    Path(name): Path<String>,
) -> Result<Json<ProbeView>, ApiError> {
    let probe = connect::test_configured(state.runtime.registry(), &name)
        .await
        .map_err(registry_error)?
        .ok_or_else(ApiError::not_found)?;
    record(
        &state,
        probe_draft(&p, "provider.tested", format!("provider:{name}"), &probe),
    )
    .await?;
    Ok(Json(probe.into()))
}
