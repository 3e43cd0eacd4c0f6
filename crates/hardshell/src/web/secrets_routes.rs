//! `/api/v1/secrets`: the owner manages tool secrets while the server runs,
//! and `/api/v1/allow-rules`: the "allow always" rules.
//!
//! Thin: values go straight into the live vault (write-only: no route ever
//! returns one), bindings into the store after `agents::tools::egress`
//! normalised them, and every change is audited by name only. The server's
//! own secrets (`hardshell.*`) and provider keys (`provider.*`, managed by
//! the providers routes) are neither listed nor writable here.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::{Authorized, Principal};
use super::{ApiError, AppState};
use crate::agents::tools::egress;
use crate::store::tool_rules::{AllowRule, SecretBinding};

/// Names an owner may manage here.
const MAX_NAME: usize = 64;
pub(super) const MAX_VALUE_BYTES: usize = 16 * 1024;

fn check_name(name: &str) -> Result<(), ApiError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && !name.starts_with(crate::secrets::RESERVED_PREFIX)
        && !name.starts_with("provider.");
    if ok {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_name",
            "a secret name is 1-64 characters of A-Z, a-z, 0-9, _, - or ., and not hardshell.* or provider.*",
        ))
    }
}

/// One secret as listed: never its value.
#[derive(Serialize, ToSchema)]
pub struct SecretInfo {
    name: String,
    binding: Option<SecretBinding>,
    updated_at: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct SecretList {
    secrets: Vec<SecretInfo>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretValue {
    /// 1 byte to 16 KiB, no NUL.
    #[schema(min_length = 1, max_length = 16384)]
    value: String,
}

/// A binding as the owner sends it; `port` defaults from the scheme and
/// `slots` to any header.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BindingBody {
    /// `http` or `https` (any case).
    #[schema(max_length = 5, pattern = "^[Hh][Tt][Tt][Pp][Ss]?$")]
    scheme: String,
    /// A DNS name or IP address; at most 253 characters.
    #[schema(min_length = 1, max_length = 253)]
    host: String,
    /// 0 or absent: the scheme's default port.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 65535)]
    port: Option<u16>,
    /// Starts with `/`; at most 1024 characters.
    #[serde(default)]
    #[schema(max_length = 1024)]
    path_prefix: Option<String>,
    /// At most 32 of `header:NAME`, `header:*`, `query:NAME`, `body:FIELD`.
    #[serde(default)]
    #[schema(schema_with = binding_slots)]
    slots: Vec<String>,
}

fn binding_slots() -> utoipa::openapi::schema::Array {
    super::openapi::string_list(egress::MAX_BINDING_SLOTS, 1, egress::MAX_SLOT_CHARS, false)
}

async fn audit(state: &AppState, p: &Principal, action: &str, name: &str, detail: Option<&str>) {
    let mut draft = audit::Draft::new(p.actor(), action, audit::Outcome::Success)
        .target(format!("secret:{name}"));
    if let Some(d) = detail {
        draft = draft.detail("binding", d.to_string());
    }
    if let Err(e) = state.audit.record(draft).await {
        tracing::error!(%e, "could not audit a secret change");
    }
}

fn managed(name: &str) -> bool {
    !name.starts_with(crate::secrets::RESERVED_PREFIX) && !name.starts_with("provider.")
}

/// Secret names (never values) with their bindings.
#[utoipa::path(get, path = "/api/v1/secrets", tag = "secrets",
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "Names and bindings", body = SecretList),
        (status = 403, description = "Only the owner")))]
pub async fn list(
    State(state): State<AppState>,
    Authorized(_p): Authorized,
) -> Result<Json<SecretList>, ApiError> {
    let bindings = state.store.secret_bindings().await?;
    let mut names: Vec<String> = state
        .vault
        .names()
        .into_iter()
        .filter(|n| managed(n))
        .collect();
    for b in &bindings {
        if !names.contains(&b.name) {
            names.push(b.name.clone());
        }
    }
    names.sort();
    let secrets = names
        .into_iter()
        .map(|name| {
            let b = bindings.iter().find(|b| b.name == name);
            SecretInfo {
                binding: b.map(|b| b.binding.clone()),
                updated_at: b.map(|b| b.updated_at),
                name,
            }
        })
        .collect();
    Ok(Json(SecretList { secrets }))
}

/// Whether a secret exists, and its binding.
#[utoipa::path(get, path = "/api/v1/secrets/{name}", tag = "secrets",
    params(("name" = String, Path, description = "Secret name")),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "The secret (no value)", body = SecretInfo),
        (status = 403, description = "Only the owner"),
        (status = 404, description = "No such secret")))]
pub async fn get(
    State(state): State<AppState>,
    Authorized(_p): Authorized,
    Path(name): Path<String>,
) -> Result<Json<SecretInfo>, ApiError> {
    // A name no secret can have names nothing.
    check_name(&name).map_err(|_| ApiError::not_found())?;
    let b = state.store.secret_binding(&name).await?;
    if b.is_none() && state.vault.get(&name).is_none() {
        return Err(ApiError::not_found());
    }
    Ok(Json(SecretInfo {
        binding: b.as_ref().map(|b| b.binding.clone()),
        updated_at: b.map(|b| b.updated_at),
        name,
    }))
}

/// Stores a value (write-only); it is redacted from every output at once.
#[utoipa::path(put, path = "/api/v1/secrets/{name}", tag = "secrets",
    params(("name" = String, Path, description = "Secret name")),
    request_body = SecretValue,
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 204, description = "Stored"),
        (status = 403, description = "Only the owner"),
        (status = 422, description = "Bad name or empty / oversized value")))]
pub async fn put(
    State(state): State<AppState>,
    Authorized(p): Authorized,
    Path(name): Path<String>,
    Json(body): Json<SecretValue>,
) -> Result<StatusCode, ApiError> {
    check_name(&name)?;
    if body.value.is_empty() || body.value.len() > MAX_VALUE_BYTES || body.value.contains('\0') {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_value",
            "a value is 1-16384 bytes without NUL",
        ));
    }
    state
        .vault
        .set(name.clone(), SecretString::from(body.value))
        .await
        .map_err(|e| ApiError::internal(&e.to_string()))?;
    audit(&state, &p, "secret.set", &name, None).await;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes a value and its binding.
#[utoipa::path(delete, path = "/api/v1/secrets/{name}", tag = "secrets",
    params(("name" = String, Path, description = "Secret name")),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 204, description = "Removed"),
        (status = 403, description = "Only the owner"),
        (status = 404, description = "No such secret")))]
pub async fn delete(
    State(state): State<AppState>,
    Authorized(p): Authorized,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    // A name no secret can have names nothing.
    check_name(&name).map_err(|_| ApiError::not_found())?;
    let unbound = state.store.secret_unbind(&name).await?;
    let existed = state
        .vault
        .remove(name.clone())
        .await
        .map_err(|e| ApiError::internal(&e.to_string()))?;
    if !existed && !unbound {
        return Err(ApiError::not_found());
    }
    audit(&state, &p, "secret.removed", &name, None).await;
    Ok(StatusCode::NO_CONTENT)
}

/// Binds a secret to one origin (and optional path prefix) and its slots.
#[utoipa::path(put, path = "/api/v1/secrets/{name}/binding", tag = "secrets",
    params(("name" = String, Path, description = "Secret name")),
    request_body = BindingBody,
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "Bound", body = SecretInfo),
        (status = 403, description = "Only the owner"),
        (status = 422, description = "Bad scheme, host, path prefix or slot")))]
pub async fn bind(
    State(state): State<AppState>,
    Authorized(p): Authorized,
    Path(name): Path<String>,
    Json(body): Json<BindingBody>,
) -> Result<Json<SecretInfo>, ApiError> {
    check_name(&name)?;
    let binding = egress::normalise_binding(
        &name,
        SecretBinding {
            scheme: body.scheme,
            host: body.host,
            port: body.port.unwrap_or(0),
            path_prefix: body.path_prefix.filter(|p| !p.is_empty()),
            slots: body.slots,
        },
    )
    .map_err(|m| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_binding", m))?;
    let row = state.store.secret_bind(&name, binding).await?;
    let shown = format!(
        "{}://{}:{}{} {:?}",
        row.binding.scheme,
        row.binding.host,
        row.binding.port,
        row.binding.path_prefix.as_deref().unwrap_or(""),
        row.binding.slots
    );
    audit(&state, &p, "secret.bound", &name, Some(&shown)).await;
    Ok(Json(SecretInfo {
        name: row.name,
        binding: Some(row.binding),
        updated_at: Some(row.updated_at),
    }))
}

/// Removes a binding: the secret is then never sent anywhere.
#[utoipa::path(delete, path = "/api/v1/secrets/{name}/binding", tag = "secrets",
    params(("name" = String, Path, description = "Secret name")),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 204, description = "Unbound"),
        (status = 403, description = "Only the owner"),
        (status = 404, description = "No binding")))]
pub async fn unbind(
    State(state): State<AppState>,
    Authorized(p): Authorized,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    // A name no secret can have names nothing.
    check_name(&name).map_err(|_| ApiError::not_found())?;
    if !state.store.secret_unbind(&name).await? {
        return Err(ApiError::not_found());
    }
    audit(&state, &p, "secret.unbound", &name, None).await;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct RuleList {
    rules: Vec<AllowRule>,
}

/// Every "allow always" rule.
#[utoipa::path(get, path = "/api/v1/allow-rules", tag = "approvals",
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "Rules", body = RuleList),
        (status = 403, description = "Not an owner or admin")))]
pub async fn rules(
    State(state): State<AppState>,
    Authorized(_p): Authorized,
) -> Result<Json<RuleList>, ApiError> {
    Ok(Json(RuleList {
        rules: state.store.allow_rules(None).await?,
    }))
}

/// Revokes a rule: the next such call asks again.
#[utoipa::path(delete, path = "/api/v1/allow-rules/{id}", tag = "approvals",
    params(("id" = i64, Path, description = "Rule id")),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 204, description = "Revoked"),
        (status = 403, description = "Only those who decide approvals"),
        (status = 404, description = "No such rule")))]
pub async fn revoke_rule(
    State(state): State<AppState>,
    Authorized(p): Authorized,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    let user = p.require_human()?;
    if !crate::trust::approvals::may_decide(user.role, &state.config.approvals) {
        return Err(ApiError::forbidden(
            "only those who decide approvals revoke rules",
        ));
    }
    let rule = state
        .store
        .allow_rule_remove(id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let draft = audit::Draft::new(p.actor(), "allow_rule.revoked", audit::Outcome::Success)
        .target(format!("agent:{}", rule.agent_id))
        .detail("tool", rule.tool)
        .detail("scope", rule.scope)
        .detail("rule_id", rule.id);
    if let Err(e) = state.audit.record(draft).await {
        tracing::error!(%e, "could not audit a rule revocation");
    }
    Ok(StatusCode::NO_CONTENT)
}
