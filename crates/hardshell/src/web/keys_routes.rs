//! Agent keys (`lb-…`): create (shown once), list (never shown again),
//! revoke, delete. Admins and the owner only; agent keys are refused by
//! the matrix. Never returns or logs a key after creation.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::Authorized;
use super::{ApiError, AppState, record};
use crate::auth::now_secs;
use crate::auth::permissions::Permission;
use crate::auth::tokens::{self, Kind};
use crate::store::auth::{AgentKeyRow, NewAgentKey};

pub(super) const MAX_RATE: u32 = 100_000;
/// Longest key name, in characters as sent.
pub const MAX_NAME_CHARS: usize = 100;
/// Latest `expires_at`: the last second of the year 9999.
pub const MAX_EXPIRES_AT: i64 = 253_402_300_799;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    /// 1 to 100 characters (counted as sent; not blank).
    #[schema(min_length = 1, max_length = 100)]
    name: String,
    /// `resource:action` strings, e.g. `bookmarks:read`; at least one, at
    /// most one of each.
    #[schema(schema_with = permission_names)]
    permissions: Vec<String>,
    /// Unix seconds; must be in the future (and before the year 10000).
    #[schema(minimum = 1, maximum = 253402300799_i64)]
    expires_at: Option<i64>,
    #[schema(minimum = 1, maximum = 100000)]
    rate_limit_per_minute: Option<u32>,
}

/// Every `resource:action` a key can hold.
fn all_permissions() -> Vec<String> {
    let mut all = Vec::new();
    for r in crate::auth::permissions::RESOURCES {
        for a in crate::auth::permissions::ACTIONS {
            all.push(format!("{r}:{a}"));
        }
    }
    all
}

fn permission_names() -> utoipa::openapi::schema::Array {
    let all = all_permissions();
    let names: Vec<&str> = all.iter().map(String::as_str).collect();
    super::openapi::enum_list(&names, false)
}

#[derive(Serialize, ToSchema)]
pub struct CreatedKey {
    key: AgentKeyRow,
    /// The `lb-…` key. Shown here once; it cannot be read back.
    token: String,
}

fn unprocessable(msg: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_key_request", msg)
}

/// Creates an agent key and returns it once.
#[utoipa::path(post, path = "/api/v1/keys", tag = "keys", request_body = CreateKey,
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 201, description = "Created; the token is shown only now", body = CreatedKey),
        (status = 422, description = "Bad name, permission, expiry or limit")))]
pub async fn create(
    State(state): State<AppState>,
    Authorized(p): Authorized,
    Json(req): Json<CreateKey>,
) -> Result<Response, ApiError> {
    let creator = p.require_human()?.id;
    let name = req.name.trim().to_string();
    if name.is_empty() || req.name.chars().count() > MAX_NAME_CHARS {
        return Err(unprocessable(format!(
            "name must be 1 to {MAX_NAME_CHARS} characters"
        )));
    }
    if req.permissions.is_empty() {
        return Err(unprocessable("at least one permission is required"));
    }
    let most = crate::auth::permissions::RESOURCES.len() * crate::auth::permissions::ACTIONS.len();
    if req.permissions.len() > most {
        return Err(unprocessable(format!("at most {most} permissions")));
    }
    let mut perms = Vec::with_capacity(req.permissions.len());
    for s in &req.permissions {
        let perm = Permission::parse(s).ok_or_else(|| {
            unprocessable(format!("unknown permission {s:?}; use resource:action"))
        })?;
        let s = perm.to_string();
        if !perms.contains(&s) {
            perms.push(s);
        }
    }
    if req.expires_at.is_some_and(|e| e <= now_secs()) {
        return Err(unprocessable("expires_at must be in the future"));
    }
    if req.expires_at.is_some_and(|e| e > MAX_EXPIRES_AT) {
        return Err(unprocessable(format!(
            "expires_at is at most {MAX_EXPIRES_AT} (the end of the year 9999)"
        )));
    }
    if req
        .rate_limit_per_minute
        .is_some_and(|r| r == 0 || r > MAX_RATE)
    {
        return Err(unprocessable(format!(
            "rate_limit_per_minute must be 1 to {MAX_RATE}"
        )));
    }
    let token = tokens::generate(Kind::AgentKey);
    let key = state
        .store
        .agent_key_create(NewAgentKey {
            name,
            hash: tokens::hash(&state.pepper, &token),
            permissions: perms,
            created_by: creator,
            expires_at: req.expires_at,
            rate_limit_per_minute: req.rate_limit_per_minute,
        })
        .await?;
    record(
        &state,
        audit::Draft::new(p.actor(), "key.create", audit::Outcome::Success)
            .target(format!("key:{}", key.id))
            .ip(p.client.ip)
            .detail("name", key.name.clone())
            .detail("permissions", key.permissions.join(" ")),
    )
    .await?;
    let body = CreatedKey {
        key,
        token: token.to_string(),
    };
    Ok((
        StatusCode::CREATED,
        [(header::CACHE_CONTROL, "no-store")],
        Json(body),
    )
        .into_response())
}

/// Lists agent keys: metadata only, never the key.
#[utoipa::path(get, path = "/api/v1/keys", tag = "keys",
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "Keys (no secrets)", body = Vec<AgentKeyRow>)))]
pub async fn list(
    State(state): State<AppState>,
    Authorized(_p): Authorized,
) -> Result<Json<Vec<AgentKeyRow>>, ApiError> {
    Ok(Json(state.store.agent_keys_list().await?))
}

/// Revokes a key; it and its bearer tokens fail on the next request.
#[utoipa::path(post, path = "/api/v1/keys/{id}/revoke", tag = "keys",
    params(("id" = String, Path, description = "Key id")),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "Revoked", body = AgentKeyRow),
        (status = 404, description = "No such key")))]
pub async fn revoke(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Authorized(p): Authorized,
) -> Result<Json<AgentKeyRow>, ApiError> {
    let key = state.store.agent_key_revoke(id).await?;
    record(
        &state,
        audit::Draft::new(p.actor(), "key.revoke", audit::Outcome::Success)
            .target(format!("key:{}", key.id))
            .ip(p.client.ip),
    )
    .await?;
    Ok(Json(key))
}

/// Deletes a key outright.
#[utoipa::path(delete, path = "/api/v1/keys/{id}", tag = "keys",
    params(("id" = String, Path, description = "Key id")),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 204, description = "Deleted"), (status = 404, description = "No such key")))]
pub async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Authorized(p): Authorized,
) -> Result<StatusCode, ApiError> {
    let key = state.store.agent_key_delete(id).await?;
    record(
        &state,
        audit::Draft::new(p.actor(), "key.delete", audit::Outcome::Success)
            .target(format!("key:{}", key.id))
            .ip(p.client.ip),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
