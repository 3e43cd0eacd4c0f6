//! `GET /api/v1/audit` (owner and admin) and `POST /api/v1/audit/verify`
//! (owner). Agent keys are refused by the access matrix. Entries are
//! returned as sealed (already redacted), never re-rendered.

use axum::Json;
use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::Authorized;
use super::{ApiError, AppState};
use crate::store::audit::AuditQuery;

pub(super) const MAX_LIMIT: u32 = 1000;
const DEFAULT_LIMIT: u32 = 100;
/// Longest `action` or `actor` filter, in characters.
pub(super) const MAX_FILTER_CHARS: usize = 128;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// Return entries with a greater seq (for paging forwards).
    #[param(minimum = 0, maximum = 18446744073709551615_u64)]
    after_seq: Option<u64>,
    /// At most this many entries (1–1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
    /// Only this action, e.g. `auth.login`; at most 128 characters.
    #[param(max_length = 128)]
    action: Option<String>,
    /// Only this actor id; at most 128 characters.
    #[param(max_length = 128)]
    actor: Option<String>,
}

/// One audit entry as stored (docs/architecture.md, "Audit log and anchors").
#[derive(Serialize, ToSchema)]
pub struct EntryView {
    seq: u64,
    ts: String,
    actor_kind: String,
    actor_id: String,
    action: String,
    target: String,
    outcome: String,
    ip: Option<String>,
    #[schema(value_type = Object)]
    details: serde_json::Value,
    prev_hash: String,
    hash: String,
}

#[derive(Serialize, ToSchema)]
pub struct EntryPage {
    entries: Vec<EntryView>,
    /// Pass as `after_seq` to get the next page; absent on the last page.
    next_after_seq: Option<u64>,
}

#[derive(Serialize, ToSchema)]
pub struct VerifyView {
    intact: bool,
    entries: u64,
    first_bad_seq: Option<u64>,
    /// `modified`, `missing`, `reordered`, `truncated`, `anchor_mismatch`,
    /// `anchor_rolled_back`, `chain_emptied` or `anchor_missing`.
    #[serde(rename = "break")]
    break_kind: Option<&'static str>,
}

#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(ListParams),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "Entries, oldest first", body = EntryPage),
        (status = 400, description = "Bad filter"),
        (status = 403, description = "Not owner or admin")))]
pub async fn list(
    State(state): State<AppState>,
    Authorized(_who): Authorized,
    Query(p): Query<ListParams>,
) -> Result<Json<EntryPage>, ApiError> {
    let limit = p.limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(ApiError::bad_request(format!(
            "limit must be between 1 and {MAX_LIMIT}"
        )));
    }
    for (name, value) in [("action", &p.action), ("actor", &p.actor)] {
        if value
            .as_deref()
            .is_some_and(|v| v.chars().count() > MAX_FILTER_CHARS)
        {
            return Err(ApiError::bad_request(format!(
                "{name} is at most {MAX_FILTER_CHARS} characters"
            )));
        }
    }
    let entries = state
        .store
        .audit_list(AuditQuery {
            after_seq: p.after_seq,
            limit,
            action: p.action,
            actor_id: p.actor,
        })
        .await?;
    let next_after_seq = (entries.len() == limit as usize)
        .then(|| entries.last().map(|e| e.seq))
        .flatten();
    let entries = entries
        .into_iter()
        .map(|e| EntryView {
            seq: e.seq,
            ts: e.ts,
            actor_kind: e.actor.kind.as_str().to_string(),
            actor_id: e.actor.id,
            action: e.action,
            target: e.target,
            outcome: e.outcome.as_str().to_string(),
            ip: e.ip,
            details: e.details,
            prev_hash: e.prev_hash,
            hash: e.hash,
        })
        .collect();
    Ok(Json(EntryPage {
        entries,
        next_after_seq,
    }))
}

#[utoipa::path(post, path = "/api/v1/audit/verify", tag = "audit",
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "Verification result (intact or not)", body = VerifyView),
        (status = 403, description = "Not the owner")))]
pub async fn verify(
    State(state): State<AppState>,
    Authorized(who): Authorized,
) -> Result<Json<VerifyView>, ApiError> {
    let report = state.audit.verify().await?;
    // Who verified is recorded only on an intact chain: nothing is ever
    // appended past a break (the writer would refuse anyway).
    if report.intact {
        let draft = audit::Draft::new(who.actor(), "audit.verify", audit::Outcome::Success)
            .detail("entries", report.count);
        super::record(&state, draft).await?;
    }
    Ok(Json(VerifyView {
        intact: report.intact,
        entries: report.count,
        first_bad_seq: report.first_break.map(|b| b.seq),
        break_kind: report.first_break.map(|b| b.kind.as_str()),
    }))
}
