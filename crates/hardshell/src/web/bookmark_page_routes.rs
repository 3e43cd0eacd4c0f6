//! `POST /api/v1/bookmarks/{id}/fetch`, `GET /api/v1/bookmarks/{id}/page`
//! and `POST /api/v1/bookmarks/{id}/to-knowledge`.
//!
//! Thin: the rules are `crate::bookmarks::page`'s, egress is the tools'
//! netguard client for pages (one fetch in flight per person, a few for
//! everyone). Fetching happens only on an authenticated request (members,
//! or a key with `bookmarks:edit`); adding to an agent's knowledge needs
//! what uploading a knowledge document needs (an admin, or a key with
//! `knowledge:write` that can also read bookmarks). Every fetch and every
//! addition is audited, refusals included, without the URL or page text.
//! Refusal messages name netguard's reason only, never the address a name
//! resolved to.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::ToSchema;

use super::bookmarks_routes::owner;
use super::extract::{Authorized, Identity, Principal, limit_hit};
use super::knowledge_routes::{agent_or_404, embedder_for};
use super::{ApiError, AppState, record};
use crate::agents::knowledge::Document;
use crate::auth::permissions::Permission;
use crate::bookmarks::page::{self, PageError, PageText};

impl From<PageError> for ApiError {
    fn from(e: PageError) -> Self {
        let msg = e.to_string();
        match e {
            PageError::NotFound => ApiError::not_found(),
            PageError::Refused { reason, .. } => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "fetch_refused",
                format!("netguard refused this address ({reason})"),
            ),
            PageError::Failed {
                reason: "timeout", ..
            } => ApiError::new(
                StatusCode::GATEWAY_TIMEOUT,
                "fetch_timeout",
                "the page did not answer in time",
            ),
            PageError::Failed { reason, .. } => ApiError::new(
                StatusCode::BAD_GATEWAY,
                "fetch_failed",
                format!("the fetch failed ({reason})"),
            ),
            PageError::Status(_) => ApiError::new(StatusCode::BAD_GATEWAY, "page_error", msg),
            PageError::NotText(_) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "not_text", msg)
            }
            PageError::Busy => {
                let mut e = ApiError::new(StatusCode::TOO_MANY_REQUESTS, "busy", msg);
                e.retry_after = Some(1);
                e
            }
            PageError::NotFetched => ApiError::new(StatusCode::CONFLICT, "not_fetched", msg),
            PageError::Task => ApiError::internal(&msg),
            PageError::Knowledge(k) => k.into(),
            PageError::Store(s) => s.into(),
        }
    }
}

/// The audit outcome and reason of a failed fetch, if it is one to record.
fn refusal(e: &PageError) -> Option<(audit::Outcome, &'static str)> {
    match e {
        PageError::Refused { reason, .. } => Some((audit::Outcome::Denied, reason)),
        PageError::Failed { reason, .. } => Some((audit::Outcome::Failure, reason)),
        PageError::Status(_) => Some((audit::Outcome::Failure, "http_status")),
        PageError::NotText(_) => Some((audit::Outcome::Failure, "not_text")),
        _ => None,
    }
}

/// Fetches the bookmark's page now through netguard and stores its title,
/// description and visible text (hidden passages withheld and scanned).
#[utoipa::path(post, path = "/api/v1/bookmarks/{id}/fetch", tag = "bookmarks",
    params(("id" = i64, Path, description = "Bookmark id")),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "Fetched and stored", body = PageText),
        (status = 404, description = "Not one of the caller's bookmarks"),
        (status = 422, description = "netguard refused the address (`fetch_refused`: private, loopback, metadata, blocked), or the page is not text (`not_text`)"),
        (status = 429, description = "The caller already has a fetch running (`busy`)"),
        (status = 502, description = "The page failed or answered an error (`fetch_failed`, `page_error`)"),
        (status = 504, description = "The page did not answer in time")))]
pub async fn fetch(
    State(state): State<AppState>,
    Authorized(p): Authorized,
    Path(id): Path<i64>,
) -> Result<Json<PageText>, ApiError> {
    let (user, _) = owner(&p)?;
    let result = match state.runtime.tool_net.page_client(user) {
        Some((client, _slot)) => page::fetch(&state.store, &client, user, id).await,
        None => Err(PageError::Busy),
    };
    let base = |outcome| {
        audit::Draft::new(p.actor(), "bookmark.fetch", outcome)
            .target(format!("bookmark:{id}"))
            .ip(p.client.ip)
    };
    match result {
        Ok(page) => {
            record(
                &state,
                base(audit::Outcome::Success)
                    .detail("status", u64::from(page.status))
                    .detail("chars", page.text.chars().count() as u64)
                    .detail("hidden_carriers", page.hidden.join(","))
                    .detail("flagged", page.flagged),
            )
            .await?;
            Ok(Json(page))
        }
        // A limit hit: recorded as `ratelimit.hit` once a minute at most.
        Err(PageError::Busy) => Err(limit_hit(
            &state,
            p.actor(),
            format!("user:{user}"),
            p.client,
            "bookmark_fetch_per_user",
            PageError::Busy.into(),
        )
        .await),
        Err(e) => {
            if let Some((outcome, reason)) = refusal(&e) {
                record(&state, base(outcome).detail("reason", reason)).await?;
            }
            Err(e.into())
        }
    }
}

/// What was last fetched from the bookmark's page.
#[utoipa::path(get, path = "/api/v1/bookmarks/{id}/page", tag = "bookmarks",
    params(("id" = i64, Path, description = "Bookmark id")),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "The stored page text", body = PageText),
        (status = 404, description = "Not one of the caller's bookmarks"),
        (status = 409, description = "Never fetched (`not_fetched`)")))]
pub async fn stored(
    State(state): State<AppState>,
    Authorized(p): Authorized,
    Path(id): Path<i64>,
) -> Result<Json<PageText>, ApiError> {
    let (user, _) = owner(&p)?;
    Ok(Json(page::stored(&state.store, user, id).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ToKnowledge {
    #[schema(minimum = 1, maximum = 9223372036854775807_i64)]
    agent_id: i64,
}

/// A key also needs to read bookmarks to hand one to an agent.
const BOOKMARKS_READ: Permission = Permission {
    resource: "bookmarks",
    action: "read",
};

/// Adds the bookmark's fetched page to an agent's knowledge as untrusted
/// content: scanned, flagged when the page was, and a turn that reads it
/// is tainted.
#[utoipa::path(post, path = "/api/v1/bookmarks/{id}/to-knowledge", tag = "bookmarks",
    params(("id" = i64, Path, description = "Bookmark id")),
    request_body = ToKnowledge,
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 201, description = "Added", body = Document),
        (status = 403, description = "The caller may not change agents' knowledge"),
        (status = 404, description = "Not one of the caller's bookmarks, or no such agent"),
        (status = 409, description = "Never fetched (`not_fetched`), the same text is there already, or the agent's knowledge is full")))]
pub async fn to_knowledge(
    State(state): State<AppState>,
    Authorized(p): Authorized,
    Path(id): Path<i64>,
    Json(body): Json<ToKnowledge>,
) -> Result<Response, ApiError> {
    if matches!(p.identity, Identity::AgentKey(_)) {
        p.require_permission(BOOKMARKS_READ)?;
    }
    let (user, _) = owner(&p)?;
    let agent = agent_or_404(&state, body.agent_id).await?;
    let embedder = embedder_for(&state, &agent).await;
    let doc = match page::to_knowledge(
        &state.store,
        user,
        id,
        agent.id,
        p.membership_user(),
        embedder.as_ref(),
    )
    .await
    {
        Ok(doc) => doc,
        Err(e) => {
            audit_denied(&state, &p, agent.id, id, &e).await?;
            return Err(e.into());
        }
    };
    record(
        &state,
        audit::Draft::new(p.actor(), "agent.knowledge_added", audit::Outcome::Success)
            .target(format!("agent:{}", agent.id))
            .ip(p.client.ip)
            .detail("bookmark", id)
            .detail("document", doc.id)
            .detail("size", doc.size)
            .detail("chunks", doc.chunks)
            .detail("flagged", doc.flagged),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(doc)).into_response())
}

async fn audit_denied(
    state: &AppState,
    p: &Principal,
    agent: i64,
    bookmark: i64,
    e: &PageError,
) -> Result<(), ApiError> {
    let reason = match e {
        PageError::NotFetched => "not_fetched",
        PageError::Knowledge(_) => "knowledge_refused",
        _ => return Ok(()),
    };
    record(
        state,
        audit::Draft::new(p.actor(), "agent.knowledge_added", audit::Outcome::Denied)
            .target(format!("agent:{agent}"))
            .ip(p.client.ip)
            .detail("bookmark", bookmark)
            .detail("reason", reason),
    )
    .await
}
