//! `GET /api/v1/agents/{id}/trust`, `PUT /api/v1/agents/{id}/trust/{domain}`,
//! `GET /api/v1/trust/history` and `POST /api/v1/trust/history/{id}/rollback`:
//! the trust levels an agent acts under, their history and rollback.
//!
//! Thin: rules and audit are `trust::levels`'. Owners and admins read;
//! only the owner changes a level.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::Authorized;
use super::{ApiError, AppState};
use crate::store::trust::TrustChange;
use crate::trust::levels::{self, LevelError};

/// One domain's level.
#[derive(Serialize, ToSchema)]
pub struct DomainLevel {
    domain: String,
    /// 0 none, 1 inform, 2 suggest, 3 act & report, 4 full.
    level: u8,
}

#[derive(Serialize, ToSchema)]
pub struct TrustView {
    agent_id: i64,
    levels: Vec<DomainLevel>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetLevelBody {
    /// 0 (none) to 4 (full).
    #[schema(minimum = 0, maximum = 4)]
    level: u8,
    /// Why (stored in the history); at most 200 characters (counted as sent).
    #[schema(max_length = 200)]
    reason: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct HistoryParams {
    /// Only this agent's changes.
    #[param(minimum = 1, maximum = 9223372036854775807_i64)]
    agent_id: Option<i64>,
    /// 1..=500, default 100.
    #[param(minimum = 1, maximum = 500)]
    limit: Option<usize>,
}

#[derive(Serialize, ToSchema)]
pub struct TrustHistory {
    changes: Vec<TrustChange>,
}

impl From<LevelError> for ApiError {
    fn from(e: LevelError) -> Self {
        let msg = e.to_string();
        match e {
            LevelError::Domain(_) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_domain", msg)
            }
            LevelError::Level => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_level", msg)
            }
            LevelError::Reason => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_reason", msg)
            }
            LevelError::NoAgent | LevelError::NoChange => ApiError::not_found(),
            LevelError::Store(s) => s.into(),
            LevelError::Audit => ApiError::internal(&msg),
        }
    }
}

/// The agent's level in each of the nine domains.
#[utoipa::path(get, path = "/api/v1/agents/{id}/trust", tag = "trust",
    params(("id" = i64, Path, description = "Agent id")),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "Levels", body = TrustView),
        (status = 404, description = "No such agent")))]
pub async fn get(
    State(state): State<AppState>,
    Authorized(_p): Authorized,
    Path(id): Path<i64>,
) -> Result<Json<TrustView>, ApiError> {
    state
        .store
        .agent_get(id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let levels = crate::trust::levels_of(&state.store, id)
        .await?
        .into_iter()
        .map(|(d, level)| DomainLevel {
            domain: d.as_str().into(),
            level,
        })
        .collect();
    Ok(Json(TrustView {
        agent_id: id,
        levels,
    }))
}

/// Sets one domain's level (owner only); stored with its reason.
#[utoipa::path(put, path = "/api/v1/agents/{id}/trust/{domain}", tag = "trust",
    request_body = SetLevelBody,
    params(("id" = i64, Path, description = "Agent id"),
        ("domain" = String, Path, description = "One of the nine domains")),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "The stored change", body = TrustChange),
        (status = 403, description = "Not the owner"),
        (status = 404, description = "No such agent"),
        (status = 422, description = "Unknown domain or a level outside 0..=4")))]
pub async fn set(
    State(state): State<AppState>,
    Authorized(p): Authorized,
    Path((id, domain)): Path<(i64, String)>,
    Json(body): Json<SetLevelBody>,
) -> Result<Json<TrustChange>, ApiError> {
    p.require_owner()?;
    let change = levels::set(
        &state.store,
        &state.audit,
        id,
        &domain,
        body.level,
        body.reason.as_deref().unwrap_or(""),
        p.actor(),
    )
    .await?;
    Ok(Json(change))
}

/// Trust changes, newest first.
#[utoipa::path(get, path = "/api/v1/trust/history", tag = "trust",
    params(HistoryParams),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "Changes", body = TrustHistory),
        (status = 400, description = "limit outside 1..=500")))]
pub async fn history(
    State(state): State<AppState>,
    Authorized(_p): Authorized,
    Query(q): Query<HistoryParams>,
) -> Result<Json<TrustHistory>, ApiError> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::bad_request("limit must be 1..=500"));
    }
    let changes = state.store.trust_history(q.agent_id, limit).await?;
    Ok(Json(TrustHistory { changes }))
}

/// Restores the level a change replaced (owner only); itself recorded.
#[utoipa::path(post, path = "/api/v1/trust/history/{id}/rollback", tag = "trust",
    params(("id" = i64, Path, description = "Change id")),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "The new change", body = TrustChange),
        (status = 403, description = "Not the owner"),
        (status = 404, description = "No such change")))]
pub async fn rollback(
    State(state): State<AppState>,
    Authorized(p): Authorized,
    Path(id): Path<i64>,
) -> Result<Json<TrustChange>, ApiError> {
    p.require_owner()?;
    Ok(Json(
        levels::rollback(&state.store, &state.audit, id, p.actor()).await?,
    ))
}
