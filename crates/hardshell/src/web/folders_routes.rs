//! `/api/v1/folders` (bookmark folders) and
//! `/api/v1/bookmarks/import-sessions` (short-lived write-only keys).
//!
//! Thin: folder rules are `crate::bookmarks`'. An import session is made
//! only by a person: it mints an `lb-` key holding nothing but
//! `bookmarks:write`, expiring in 15 minutes, shown once; closing the
//! session revokes the key in the same transaction and answers what the
//! key imported. Everything here is audited.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use super::bookmarks_routes::owner;
use super::extract::{Authorized, Principal};
use super::{ApiError, AppState, record};
use crate::auth::now_secs;
use crate::auth::tokens::{self, Kind};
use crate::bookmarks::{self as bm, FolderDraft};
use crate::store::auth::NewAgentKey;
use crate::store::bookmark_folders::{Folder, FolderDeleted};
use crate::store::bookmarks::ImportSession;

/// How long an import session's key lives.
pub const IMPORT_SESSION_SECS: i64 = 15 * 60;

async fn audit(
    p: &Principal,
    state: &AppState,
    action: &str,
    target: String,
) -> Result<(), ApiError> {
    record(
        state,
        audit::Draft::new(p.actor(), action, audit::Outcome::Success)
            .target(target)
            .ip(p.client.ip),
    )
    .await
}

#[utoipa::path(get, path = "/api/v1/folders", tag = "bookmarks",
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "Every folder of the caller", body = Vec<Folder>)))]
pub async fn list(
    State(state): State<AppState>,
    Authorized(p): Authorized,
) -> Result<Json<Vec<Folder>>, ApiError> {
    let (user, _) = owner(&p)?;
    Ok(Json(bm::folders(&state.store, user).await?))
}

#[utoipa::path(post, path = "/api/v1/folders", tag = "bookmarks", request_body = FolderDraft,
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 201, description = "Created", body = Folder),
        (status = 422, description = "Bad name or colour, or no such parent")))]
pub async fn create(
    State(state): State<AppState>,
    Authorized(p): Authorized,
    Json(d): Json<FolderDraft>,
) -> Result<Response, ApiError> {
    let (user, _) = owner(&p)?;
    let f = bm::folder_create(&state.store, user, &d).await?;
    audit(&p, &state, "folder.create", format!("folder:{}", f.id)).await?;
    Ok((StatusCode::CREATED, Json(f)).into_response())
}

#[utoipa::path(patch, path = "/api/v1/folders/{id}", tag = "bookmarks", request_body = FolderDraft,
    params(("id" = i64, Path, description = "Folder id")),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "Changed", body = Folder),
        (status = 404, description = "Not one of the caller's folders"),
        (status = 422, description = "Bad field, no such parent, or a move into itself")))]
pub async fn update(
    State(state): State<AppState>,
    Authorized(p): Authorized,
    Path(id): Path<i64>,
    Json(d): Json<FolderDraft>,
) -> Result<Json<Folder>, ApiError> {
    let (user, _) = owner(&p)?;
    let f = bm::folder_update(&state.store, user, id, &d).await?;
    audit(&p, &state, "folder.update", format!("folder:{id}")).await?;
    Ok(Json(f))
}

/// Deletes a folder; its bookmarks and subfolders move to its parent.
#[utoipa::path(delete, path = "/api/v1/folders/{id}", tag = "bookmarks",
    params(("id" = i64, Path, description = "Folder id")),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "Deleted; what moved where", body = FolderDeleted),
        (status = 404, description = "Not one of the caller's folders")))]
pub async fn delete(
    State(state): State<AppState>,
    Authorized(p): Authorized,
    Path(id): Path<i64>,
) -> Result<Json<FolderDeleted>, ApiError> {
    let (user, _) = owner(&p)?;
    let gone = bm::folder_delete(&state.store, user, id).await?;
    record(
        &state,
        audit::Draft::new(p.actor(), "folder.delete", audit::Outcome::Success)
            .target(format!("folder:{id}"))
            .ip(p.client.ip)
            .detail("moved_bookmarks", gone.moved_bookmarks)
            .detail("moved_folders", gone.moved_folders),
    )
    .await?;
    Ok(Json(gone))
}

#[derive(Serialize, ToSchema)]
pub struct OpenedSession {
    session: ImportSession,
    /// The `lb-` key (`bookmarks:write` only). Shown here once.
    token: String,
}

/// Opens an import session: a write-only key for 15 minutes.
#[utoipa::path(post, path = "/api/v1/bookmarks/import-sessions", tag = "bookmarks",
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 201, description = "Opened; the token is shown only now", body = OpenedSession),
        (status = 403, description = "Agent keys cannot open sessions")))]
pub async fn open_session(
    State(state): State<AppState>,
    Authorized(p): Authorized,
) -> Result<Response, ApiError> {
    let user = p.require_human()?.id;
    let token = tokens::generate(Kind::AgentKey);
    let expires_at = now_secs() + IMPORT_SESSION_SECS;
    let key = state
        .store
        .agent_key_create(NewAgentKey {
            name: "bookmark import session".into(),
            hash: tokens::hash(&state.pepper, &token),
            permissions: vec!["bookmarks:write".into()],
            created_by: user,
            expires_at: Some(expires_at),
            rate_limit_per_minute: None,
        })
        .await?;
    let session = state
        .store
        .import_session_create(user, key.id.clone(), expires_at)
        .await?;
    record(
        &state,
        audit::Draft::new(
            p.actor(),
            "bookmark.import_session_open",
            audit::Outcome::Success,
        )
        .target(format!("import-session:{}", session.id))
        .ip(p.client.ip)
        .detail("key", key.id),
    )
    .await?;
    let body = OpenedSession {
        session,
        token: token.to_string(),
    };
    Ok((
        StatusCode::CREATED,
        [(header::CACHE_CONTROL, "no-store")],
        Json(body),
    )
        .into_response())
}

/// Closes a session: its key is revoked at once; answers what it imported.
#[utoipa::path(post, path = "/api/v1/bookmarks/import-sessions/{id}/close", tag = "bookmarks",
    params(("id" = String, Path, description = "Session id")),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "Closed; the per-item summary", body = ImportSession),
        (status = 404, description = "Not one of the caller's sessions")))]
pub async fn close_session(
    State(state): State<AppState>,
    Authorized(p): Authorized,
    Path(id): Path<String>,
) -> Result<Json<ImportSession>, ApiError> {
    let user = p.require_human()?.id;
    let s = state
        .store
        .import_session_close(user, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    record(
        &state,
        audit::Draft::new(
            p.actor(),
            "bookmark.import_session_close",
            audit::Outcome::Success,
        )
        .target(format!("import-session:{}", s.id))
        .ip(p.client.ip)
        .detail("key", s.key_id.clone())
        .detail("imported", s.imported)
        .detail("failed", s.failed),
    )
    .await?;
    Ok(Json(s))
}
