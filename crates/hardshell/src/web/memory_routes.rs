//! `GET/POST /api/v1/agents/{id}/memories` and
//! `DELETE /api/v1/agents/{id}/memories/{memory_id}`: owners and admins
//! reading and curating what an agent remembers about people.
//!
//! Thin: validation, dedup and the cap are `agents::memory`'s. Memories
//! hold facts about people, so the matrix admits only owners and admins,
//! and every change is audited (never with the memory's text).

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::Authorized;
use super::knowledge_routes::{agent_or_404, embedder_for};
use super::{ApiError, AppState, record};
use crate::agents::memory::{self, Memory, MemoryError, Scope, Source};

const DEFAULT_LIMIT: usize = 50;
pub(super) const MAX_LIMIT: usize = 200;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct MemoryParams {
    /// Words to search for (BM25, plus vectors when the provider embeds);
    /// without it, the newest memories. At most 500 characters.
    #[param(max_length = 500)]
    q: Option<String>,
    /// 1..=200, default 50.
    #[param(minimum = 1, maximum = 200)]
    limit: Option<usize>,
}

#[derive(Serialize, ToSchema)]
pub struct MemoryList {
    memories: Vec<Memory>,
}

/// A new memory: `scope` `user` (with `user_id`, default the caller) or
/// `conversation` (with `conversation_id`).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMemoryBody {
    /// 1 to 2000 characters (counted as sent; not blank).
    #[schema(min_length = 1, max_length = 2000)]
    text: String,
    /// `user` or `conversation`.
    #[schema(max_length = 12, pattern = "^(user|conversation)$")]
    scope: String,
    #[schema(minimum = 1, maximum = 9223372036854775807_i64)]
    user_id: Option<i64>,
    #[schema(minimum = 1, maximum = 9223372036854775807_i64)]
    conversation_id: Option<i64>,
}

fn unprocessable(code: &'static str, m: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, m)
}

impl From<MemoryError> for ApiError {
    fn from(e: MemoryError) -> Self {
        let msg = e.to_string();
        match e {
            MemoryError::Empty | MemoryError::TooLong => unprocessable("invalid_text", msg),
            MemoryError::Full(_) => ApiError::new(StatusCode::CONFLICT, "memory_full", msg),
            MemoryError::NoSuchScope => unprocessable("invalid_scope", msg),
            MemoryError::QueryTooLong => ApiError::bad_request(msg),
            MemoryError::Store(s) => s.into(),
        }
    }
}

/// The agent's memories: newest first, or the best matches for `q`.
#[utoipa::path(get, path = "/api/v1/agents/{id}/memories", tag = "agents",
    params(("id" = i64, Path, description = "Agent id"), MemoryParams),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "Memories", body = MemoryList),
        (status = 400, description = "limit outside 1..=200"),
        (status = 404, description = "No such agent")))]
pub async fn list(
    State(state): State<AppState>,
    Authorized(_p): Authorized,
    Path(id): Path<i64>,
    Query(q): Query<MemoryParams>,
) -> Result<Json<MemoryList>, ApiError> {
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "limit must be 1..={MAX_LIMIT}"
        )));
    }
    let agent = agent_or_404(&state, id).await?;
    let memories = match q.q.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(query) => {
            let embedder = embedder_for(&state, &agent).await;
            memory::search_all(&state.store, id, query, limit, embedder.as_ref()).await?
        }
        None => memory::list(&state.store, id, limit).await?,
    };
    Ok(Json(MemoryList { memories }))
}

/// Saves a memory; the same text (ignoring case, spacing and Unicode
/// width) in the same scope answers 200 with the existing one.
#[utoipa::path(post, path = "/api/v1/agents/{id}/memories", tag = "agents",
    request_body = NewMemoryBody,
    params(("id" = i64, Path, description = "Agent id")),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 201, description = "Saved", body = Memory),
        (status = 200, description = "Already remembered; the existing memory", body = Memory),
        (status = 404, description = "No such agent"),
        (status = 409, description = "The agent's memory is full (`memory_full`)"),
        (status = 422, description = "Empty or too long text, or a bad scope")))]
pub async fn create(
    State(state): State<AppState>,
    Authorized(p): Authorized,
    Path(id): Path<i64>,
    Json(body): Json<NewMemoryBody>,
) -> Result<Response, ApiError> {
    let caller = p.require_human()?.id;
    let scope = match (body.scope.as_str(), body.user_id, body.conversation_id) {
        ("user", u, None) => Scope::User(u.unwrap_or(caller)),
        ("conversation", None, Some(c)) => Scope::Conversation(c),
        _ => {
            return Err(unprocessable(
                "invalid_scope",
                "scope is `user` (with an optional user_id) or `conversation` (with conversation_id)",
            ));
        }
    };
    let agent = agent_or_404(&state, id).await?;
    let embedder = embedder_for(&state, &agent).await;
    let saved = memory::save(
        &state.store,
        id,
        scope,
        &body.text,
        Source::Owner,
        Some(caller),
        embedder.as_ref(),
    )
    .await?;
    if saved.duplicate {
        return Ok(Json(saved.memory).into_response());
    }
    record(
        &state,
        audit::Draft::new(p.actor(), "agent.memory_added", audit::Outcome::Success)
            .target(format!("agent:{id}"))
            .ip(p.client.ip)
            .detail("memory", saved.memory.id)
            .detail("scope", saved.memory.scope.clone()),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(saved.memory)).into_response())
}

/// Deletes one memory.
#[utoipa::path(delete, path = "/api/v1/agents/{id}/memories/{memory_id}", tag = "agents",
    params(("id" = i64, Path, description = "Agent id"),
        ("memory_id" = i64, Path, description = "Memory id")),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 204, description = "Deleted"),
        (status = 404, description = "No such agent or memory")))]
pub async fn delete(
    State(state): State<AppState>,
    Authorized(p): Authorized,
    Path((id, memory_id)): Path<(i64, i64)>,
) -> Result<StatusCode, ApiError> {
    agent_or_404(&state, id).await?;
    let gone = memory::delete(&state.store, id, memory_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    record(
        &state,
        audit::Draft::new(p.actor(), "agent.memory_deleted", audit::Outcome::Success)
            .target(format!("agent:{id}"))
            .ip(p.client.ip)
            .detail("memory", gone.id)
            .detail("scope", gone.scope),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    #[test]
    fn routes_are_documented_and_owner_admin_only() {
        use crate::auth::Role;
        use crate::auth::permissions::{Caller, Decision, rule_for};
        let doc = super::super::openapi_document();
        for (m, p) in [
            ("GET", "/api/v1/agents/{id}/memories"),
            ("POST", "/api/v1/agents/{id}/memories"),
            ("DELETE", "/api/v1/agents/{id}/memories/{memory_id}"),
        ] {
            assert!(doc.paths.paths.contains_key(p), "{p}");
            let rule = rule_for(m, p).unwrap();
            for (role, ok) in [
                (Role::Guest, false),
                (Role::Member, false),
                (Role::Admin, true),
                (Role::Owner, true),
            ] {
                let d = rule.access.decide(&Caller::Human(role));
                assert_eq!(d == Decision::Allow, ok, "{m} {p} {role}");
            }
            let all = ["knowledge:read".to_string(), "knowledge:write".to_string()];
            let key = Caller::AgentKey {
                granted: &all,
                creator: Role::Owner,
            };
            assert_eq!(rule.access.decide(&key), Decision::Deny);
        }
    }
}
