//! `GET/POST /api/v1/agents/{id}/knowledge` and
//! `DELETE /api/v1/agents/{id}/knowledge/{doc_id}`.
//!
//! Thin: the upload form is read by the uploads handler's bounded reader,
//! everything else is `agents::knowledge`. The client's file name is a
//! display string only; the type comes from the bytes. Never answers for
//! an agent that does not exist (404), and audits every change.

use axum::Json;
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::{UtoipaMethodRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use super::extract::{Authorized, Identity, Principal};
use super::uploads_routes::{UploadForm, read_form};
use super::{ApiError, AppState, record};
use crate::agents::knowledge::{self, Document, ExtractError, KnowledgeError};
use crate::agents::providers::SharedProvider;
use crate::store::agents::AgentRow;

#[derive(Serialize, ToSchema)]
pub struct DocumentList {
    documents: Vec<Document>,
}

/// The agent, or 404.
pub(super) async fn agent_or_404(state: &AppState, id: i64) -> Result<AgentRow, ApiError> {
    state
        .store
        .agent_get(id)
        .await?
        .ok_or_else(ApiError::not_found)
}

/// The agent's provider when it is configured with an embedding model;
/// `None` otherwise (search and ingest then use BM25 only).
pub(super) async fn embedder_for(state: &AppState, agent: &AgentRow) -> Option<SharedProvider> {
    let m = crate::agents::model::parse_model(&agent.model).ok()?;
    match state.runtime.registry().get(m.provider).await {
        Ok(Some((p, row))) if row.embedding_model.is_some() => Some(p),
        Ok(_) => None,
        Err(e) => {
            tracing::debug!(agent = agent.id, error = %e, "no embedder for the agent");
            None
        }
    }
}

fn refused(status: StatusCode, code: &'static str, m: impl Into<String>) -> ApiError {
    ApiError::new(status, code, m)
}

impl From<KnowledgeError> for ApiError {
    fn from(e: KnowledgeError) -> Self {
        let msg = e.to_string();
        match e {
            KnowledgeError::Extract(ExtractError::Unsupported(_)) => {
                refused(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_type", msg)
            }
            KnowledgeError::Extract(ExtractError::NoText) => {
                refused(StatusCode::UNPROCESSABLE_ENTITY, "no_text", msg)
            }
            KnowledgeError::Extract(ExtractError::Unreadable(_)) => {
                refused(StatusCode::UNPROCESSABLE_ENTITY, "unreadable", msg)
            }
            KnowledgeError::Extract(ExtractError::TooLong) => {
                refused(StatusCode::PAYLOAD_TOO_LARGE, "too_long", msg)
            }
            KnowledgeError::Duplicate(_) => refused(StatusCode::CONFLICT, "duplicate", msg),
            KnowledgeError::Full => refused(StatusCode::CONFLICT, "knowledge_full", msg),
            KnowledgeError::Task => ApiError::internal(&msg),
            KnowledgeError::Store(s) => s.into(),
        }
    }
}

/// The upload route with its own body limit (see `uploads_routes`).
pub(super) fn upload_route() -> UtoipaMethodRouter<AppState> {
    routes!(list, upload).layer(DefaultBodyLimit::disable())
}

/// The agent's knowledge documents, newest first.
#[utoipa::path(get, path = "/api/v1/agents/{id}/knowledge", tag = "agents",
    params(("id" = i64, Path, description = "Agent id")),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "Documents", body = DocumentList),
        (status = 404, description = "No such agent")))]
pub async fn list(
    State(state): State<AppState>,
    Authorized(_p): Authorized,
    Path(id): Path<i64>,
) -> Result<Json<DocumentList>, ApiError> {
    agent_or_404(&state, id).await?;
    let documents = knowledge::list(&state.store, id).await?;
    Ok(Json(DocumentList { documents }))
}

/// Adds a document (multipart field `file`: Markdown, text, HTML or PDF).
#[utoipa::path(post, path = "/api/v1/agents/{id}/knowledge", tag = "agents",
    params(("id" = i64, Path, description = "Agent id")),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 201, description = "Stored and indexed", body = Document),
        (status = 400, description = "Not a multipart form with one non-empty `file` field"),
        (status = 404, description = "No such agent"),
        (status = 409, description = "Same content already there (`duplicate`), or the agent's knowledge is full"),
        (status = 413, description = "Larger than `limits.upload_bytes`, or too much text"),
        (status = 415, description = "Not Markdown, text, HTML or PDF"),
        (status = 422, description = "A PDF with no text (`no_text`) or one that cannot be read")))]
pub async fn upload(
    State(state): State<AppState>,
    Authorized(p): Authorized,
    Path(id): Path<i64>,
    req: Request,
) -> Result<Response, ApiError> {
    let agent = agent_or_404(&state, id).await?;
    let (name, data, _slot) = read_form(&state, &p, req).await?;
    let embedder = embedder_for(&state, &agent).await;
    let created_by = match &p.identity {
        Identity::User(u) => Some(u.id),
        Identity::AgentKey(k) => k.created_by,
    };
    let doc = match knowledge::ingest(
        &state.store,
        id,
        &name,
        &data,
        created_by,
        embedder.as_ref(),
    )
    .await
    {
        Ok(doc) => doc,
        Err(e) => {
            let e = ApiError::from(e);
            if e.status == StatusCode::UNSUPPORTED_MEDIA_TYPE {
                audit_refusal(&state, &p, id, &e).await?;
            }
            return Err(e);
        }
    };
    record(
        &state,
        audit::Draft::new(p.actor(), "agent.knowledge_added", audit::Outcome::Success)
            .target(format!("agent:{id}"))
            .ip(p.client.ip)
            .detail("document", doc.id)
            .detail("mime", doc.mime.clone())
            .detail("size", doc.size)
            .detail("chunks", doc.chunks)
            .detail("flagged", doc.flagged),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(doc)).into_response())
}

async fn audit_refusal(
    state: &AppState,
    p: &Principal,
    agent_id: i64,
    e: &ApiError,
) -> Result<(), ApiError> {
    record(
        state,
        audit::Draft::new(p.actor(), "agent.knowledge_added", audit::Outcome::Denied)
            .target(format!("agent:{agent_id}"))
            .ip(p.client.ip)
            .detail("reason", e.code),
    )
    .await
}

/// Deletes a document and its chunks.
#[utoipa::path(delete, path = "/api/v1/agents/{id}/knowledge/{doc_id}", tag = "agents",
    params(("id" = i64, Path, description = "Agent id"),
        ("doc_id" = i64, Path, description = "Document id")),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 204, description = "Deleted"),
        (status = 404, description = "No such agent or document")))]
pub async fn delete(
    State(state): State<AppState>,
    Authorized(p): Authorized,
    Path((id, doc_id)): Path<(i64, i64)>,
) -> Result<StatusCode, ApiError> {
    agent_or_404(&state, id).await?;
    let doc = knowledge::delete(&state.store, id, doc_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    record(
        &state,
        audit::Draft::new(
            p.actor(),
            "agent.knowledge_deleted",
            audit::Outcome::Success,
        )
        .target(format!("agent:{id}"))
        .ip(p.client.ip)
        .detail("document", doc.id),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    #[test]
    fn routes_are_documented_and_in_the_matrix() {
        let doc = super::super::openapi_document();
        let paths = &doc.paths.paths;
        let post = paths["/api/v1/agents/{id}/knowledge"]
            .post
            .as_ref()
            .unwrap();
        let body = serde_json::to_value(post.request_body.as_ref().unwrap()).unwrap();
        assert!(body["content"]["multipart/form-data"].is_object(), "{body}");
        for (m, p) in [
            ("GET", "/api/v1/agents/{id}/knowledge"),
            ("POST", "/api/v1/agents/{id}/knowledge"),
            ("DELETE", "/api/v1/agents/{id}/knowledge/{doc_id}"),
        ] {
            assert!(
                crate::auth::permissions::rule_for(m, p).is_some(),
                "{m} {p}"
            );
        }
    }
}
