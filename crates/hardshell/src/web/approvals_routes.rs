//! `GET /api/v1/approvals`, `GET /api/v1/approvals/{id}` and
//! `POST /api/v1/approvals/{id}/approve|deny`: the owner deciding what an
//! agent may do.
//!
//! Thin: transitions and audit are `trust::approvals`'. The matrix admits
//! owners and admins; deciding additionally needs the owner, or an admin
//! when `[approvals] admins_may_decide` is set. Members, guests, agent keys
//! and agents get 403.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::Authorized;
use super::{ApiError, AppState};
use crate::store::approvals::ApprovalRow;
use crate::trust::approvals::{self, DecideError};
use crate::trust::rules::{self, RuleError};

pub(super) const MAX_LIMIT: usize = 200;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ApprovalParams {
    /// `pending`, `approved`, `denied`, `expired` or `dispatched`.
    #[param(
        max_length = 10,
        pattern = "^(pending|approved|denied|expired|dispatched)$"
    )]
    status: Option<String>,
    /// 1..=200, default 50.
    #[param(minimum = 1, maximum = 200)]
    limit: Option<usize>,
}

#[derive(Serialize, ToSchema)]
pub struct ApprovalList {
    approvals: Vec<ApprovalRow>,
}

const STATUSES: [&str; 5] = ["pending", "approved", "denied", "expired", "dispatched"];

/// Approval requests, newest first.
#[utoipa::path(get, path = "/api/v1/approvals", tag = "approvals",
    params(ApprovalParams),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "Approvals", body = ApprovalList),
        (status = 400, description = "Unknown status or limit outside 1..=200"),
        (status = 403, description = "Not an owner or admin")))]
pub async fn list(
    State(state): State<AppState>,
    Authorized(_p): Authorized,
    Query(q): Query<ApprovalParams>,
) -> Result<Json<ApprovalList>, ApiError> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "limit must be 1..={MAX_LIMIT}"
        )));
    }
    if let Some(s) = &q.status
        && !STATUSES.contains(&s.as_str())
    {
        return Err(ApiError::bad_request(format!(
            "status must be one of {}",
            STATUSES.join(", ")
        )));
    }
    let approvals = state.store.approval_list(q.status, limit).await?;
    Ok(Json(ApprovalList { approvals }))
}

/// One approval request.
#[utoipa::path(get, path = "/api/v1/approvals/{id}", tag = "approvals",
    params(("id" = i64, Path, description = "Approval id")),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "The approval", body = ApprovalRow),
        (status = 403, description = "Not an owner or admin"),
        (status = 404, description = "No such approval")))]
pub async fn get(
    State(state): State<AppState>,
    Authorized(_p): Authorized,
    Path(id): Path<i64>,
) -> Result<Json<ApprovalRow>, ApiError> {
    let row = state
        .store
        .approval_get(id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(Json(row))
}

impl From<DecideError> for ApiError {
    fn from(e: DecideError) -> Self {
        let msg = e.to_string();
        match e {
            DecideError::Forbidden => ApiError::forbidden(msg),
            DecideError::NotFound => ApiError::not_found(),
            DecideError::Conflict(_) => ApiError::new(StatusCode::CONFLICT, "not_pending", msg),
            DecideError::Store(s) => s.into(),
            DecideError::Audit => ApiError::internal(&msg),
        }
    }
}

/// `{"always": true}` also makes an "allow always" rule for the call's
/// scope (level-2 domains only, never from a tainted turn's request).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApproveBody {
    #[serde(default)]
    always: bool,
}

impl From<rules::DecideRuleError> for ApiError {
    fn from(e: rules::DecideRuleError) -> Self {
        match e {
            rules::DecideRuleError::Rule(r) => r.into(),
            rules::DecideRuleError::Decide(d) => d.into(),
        }
    }
}

impl From<RuleError> for ApiError {
    fn from(e: RuleError) -> Self {
        match e {
            RuleError::Store(s) => s.into(),
            other => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "rule_not_allowed",
                other.to_string(),
            ),
        }
    }
}

async fn decide(
    state: &AppState,
    p: &super::extract::Principal,
    id: i64,
    approve: bool,
    always: bool,
) -> Result<Json<ApprovalRow>, ApiError> {
    let user = p.require_human()?;
    if !approvals::may_decide(user.role, &state.config.approvals) {
        return Err(DecideError::Forbidden.into());
    }
    let row = rules::decide(
        &state.store,
        &state.audit,
        id,
        approve,
        always,
        user.id,
        p.actor(),
    )
    .await?;
    state.runtime.approval_decided(id);
    Ok(Json(row))
}

/// Approves a pending request: the parked turn resumes and the call runs
/// once, exactly as approved.
#[utoipa::path(post, path = "/api/v1/approvals/{id}/approve", tag = "approvals",
    params(("id" = i64, Path, description = "Approval id")),
    request_body(content = Option<ApproveBody>, description = "Optional: `{\"always\": true}`"),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "Approved", body = ApprovalRow),
        (status = 403, description = "Only the owner (or admins, if allowed) decide"),
        (status = 404, description = "No such approval"),
        (status = 409, description = "Already decided or expired (`not_pending`)"),
        (status = 422, description = "`always` for a domain not at level 2, a target no rule can name, or a tainted turn's request (`rule_not_allowed`)")))]
pub async fn approve(
    State(state): State<AppState>,
    Authorized(p): Authorized,
    Path(id): Path<i64>,
    body: axum::body::Bytes,
) -> Result<Json<ApprovalRow>, ApiError> {
    // The body is optional: an empty one (even sent as JSON, as a client
    // that always sets `Content-Type` does) means `always: false`.
    let always = if body.trim_ascii().is_empty() {
        false
    } else {
        serde_json::from_slice::<ApproveBody>(&body)
            .map_err(|e| ApiError::json_body(&e))?
            .always
    };
    decide(&state, &p, id, true, always).await
}

/// Denies a pending request: the parked turn resumes and the model is told.
#[utoipa::path(post, path = "/api/v1/approvals/{id}/deny", tag = "approvals",
    params(("id" = i64, Path, description = "Approval id")),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "Denied", body = ApprovalRow),
        (status = 403, description = "Only the owner (or admins, if allowed) decide"),
        (status = 404, description = "No such approval"),
        (status = 409, description = "Already decided or expired (`not_pending`)")))]
pub async fn deny(
    State(state): State<AppState>,
    Authorized(p): Authorized,
    Path(id): Path<i64>,
) -> Result<Json<ApprovalRow>, ApiError> {
    decide(&state, &p, id, false, false).await
}
