//! `/api/v1/bookmarks`: list and search, get, create, change, delete,
//! star and archive, tags, stats, bulk writes, import and export.
//!
//! Thin: every rule is `crate::bookmarks`'. The matrix admits members and
//! up, or an agent key holding the route's `bookmarks:*` permission; a key
//! works on its creator's bookmarks, and what it makes is attributed to the
//! key. Every change is audited under the caller (never with URLs or
//! titles, which may carry tokens or hostile text).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::{UtoipaMethodRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use super::extract::{Authorized, Identity, Principal};
use super::{ApiError, AppState, record};
use crate::bookmarks::import::{Format, ImportError};
use crate::bookmarks::{
    self as bm, Bookmark, BookmarkError, BulkOutcome, Changes, Creator, Draft, ExportFormat,
    ListQuery, Page, Stats, TagCount,
};

/// Largest bulk or import body; 1000 items of long descriptions fit.
const BIG_BODY: usize = 16 * 1024 * 1024;

impl From<BookmarkError> for ApiError {
    fn from(e: BookmarkError) -> Self {
        let msg = e.to_string();
        let unprocessable =
            |code| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, msg.clone());
        match e {
            BookmarkError::Field(_) => unprocessable("invalid_bookmark"),
            BookmarkError::Duplicate(_) => ApiError::new(StatusCode::CONFLICT, "duplicate", msg),
            BookmarkError::NoFolder => unprocessable("no_such_folder"),
            BookmarkError::Cycle => unprocessable("folder_cycle"),
            BookmarkError::NotFound => ApiError::not_found(),
            BookmarkError::Query(_) => ApiError::bad_request(msg),
            BookmarkError::Import(ImportError::TooMany) => {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_many", msg)
            }
            BookmarkError::Import(_) => unprocessable("invalid_file"),
            BookmarkError::Export(e) => ApiError::internal(&e),
            BookmarkError::Store(s) => s.into(),
        }
    }
}

/// Whose bookmarks these are and who is acting: a person on their own, or
/// an agent key on its creator's (attributed to the key).
pub(super) fn owner(p: &Principal) -> Result<(i64, Creator), ApiError> {
    match &p.identity {
        Identity::User(u) => Ok((u.id, Creator::User(u.id))),
        Identity::AgentKey(k) => k
            .created_by
            .map(|u| (u, Creator::Key(k.row_id)))
            .ok_or_else(|| ApiError::forbidden("this key's creator is gone")),
    }
}

/// The key row id when an agent key is calling (for import sessions).
fn key_of(p: &Principal) -> Option<i64> {
    match &p.identity {
        Identity::AgentKey(k) => Some(k.row_id),
        Identity::User(_) => None,
    }
}

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

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    starred: Option<bool>,
    archived: Option<bool>,
    /// A folder id, or `root` for the top level.
    #[param(max_length = 20, pattern = "^(root|-?[0-9]+)$")]
    folder: Option<String>,
    /// Normalised like a bookmark's tags; more than 64 characters is
    /// refused (400).
    #[param(max_length = 64)]
    tag: Option<String>,
    /// Words to search for in title, description, URL and tags (all must
    /// match); at most 200 characters.
    #[param(max_length = 200)]
    q: Option<String>,
    /// `next_cursor` from the previous page.
    #[param(minimum = -9223372036854775808_i64, maximum = 9223372036854775807_i64)]
    cursor: Option<i64>,
    /// 1..=200, default 50.
    #[param(minimum = 1, maximum = 200)]
    limit: Option<usize>,
}

/// The caller's bookmarks, newest first, filtered and searched.
#[utoipa::path(get, path = "/api/v1/bookmarks", tag = "bookmarks", params(ListParams),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "One page", body = Page),
        (status = 400, description = "Bad filter, search text or limit, or a tag over 64 characters")))]
pub async fn list(
    State(state): State<AppState>,
    Authorized(p): Authorized,
    Query(q): Query<ListParams>,
) -> Result<Json<Page>, ApiError> {
    let (user, _) = owner(&p)?;
    let folder = match q.folder.as_deref() {
        None => None,
        Some("root") => Some(None),
        Some(id) => {
            Some(Some(id.parse::<i64>().map_err(|_| {
                ApiError::bad_request("folder is a folder id or `root`")
            })?))
        }
    };
    let page = bm::list(
        &state.store,
        user,
        ListQuery {
            starred: q.starred,
            archived: q.archived,
            folder,
            tag: q.tag,
            q: q.q,
            cursor: q.cursor,
            limit: q.limit,
        },
    )
    .await?;
    Ok(Json(page))
}

/// Adds a bookmark; the same normalised URL twice is 409.
#[utoipa::path(post, path = "/api/v1/bookmarks", tag = "bookmarks", request_body = Draft,
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 201, description = "Created", body = Bookmark),
        (status = 409, description = "Already bookmarked (`duplicate`)"),
        (status = 422, description = "Bad URL (only http and https), field, or folder")))]
pub async fn create(
    State(state): State<AppState>,
    Authorized(p): Authorized,
    Json(d): Json<Draft>,
) -> Result<Response, ApiError> {
    let (user, by) = owner(&p)?;
    let b = bm::create(&state.store, user, by, &d).await?;
    audit(&p, &state, "bookmark.create", format!("bookmark:{}", b.id)).await?;
    Ok((StatusCode::CREATED, Json(b)).into_response())
}

#[utoipa::path(get, path = "/api/v1/bookmarks/{id}", tag = "bookmarks",
    params(("id" = i64, Path, description = "Bookmark id")),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "The bookmark", body = Bookmark),
        (status = 404, description = "Not one of the caller's bookmarks")))]
pub async fn get(
    State(state): State<AppState>,
    Authorized(p): Authorized,
    Path(id): Path<i64>,
) -> Result<Json<Bookmark>, ApiError> {
    let (user, _) = owner(&p)?;
    Ok(Json(bm::get(&state.store, user, id).await?))
}

#[utoipa::path(patch, path = "/api/v1/bookmarks/{id}", tag = "bookmarks", request_body = Changes,
    params(("id" = i64, Path, description = "Bookmark id")),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "Changed", body = Bookmark),
        (status = 404, description = "Not one of the caller's bookmarks"),
        (status = 409, description = "Another bookmark has that URL"),
        (status = 422, description = "Bad field or folder")))]
pub async fn update(
    State(state): State<AppState>,
    Authorized(p): Authorized,
    Path(id): Path<i64>,
    Json(c): Json<Changes>,
) -> Result<Json<Bookmark>, ApiError> {
    let (user, _) = owner(&p)?;
    let b = bm::update(&state.store, user, id, &c).await?;
    audit(&p, &state, "bookmark.update", format!("bookmark:{id}")).await?;
    Ok(Json(b))
}

#[utoipa::path(delete, path = "/api/v1/bookmarks/{id}", tag = "bookmarks",
    params(("id" = i64, Path, description = "Bookmark id")),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 204, description = "Deleted"),
        (status = 404, description = "Not one of the caller's bookmarks")))]
pub async fn delete(
    State(state): State<AppState>,
    Authorized(p): Authorized,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    let (user, _) = owner(&p)?;
    bm::delete(&state.store, user, id).await?;
    audit(&p, &state, "bookmark.delete", format!("bookmark:{id}")).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn flag(
    state: &AppState,
    p: &Principal,
    id: i64,
    starred: Option<bool>,
    archived: Option<bool>,
) -> Result<Json<Bookmark>, ApiError> {
    let (user, _) = owner(p)?;
    let b = bm::set_flag(&state.store, user, id, starred, archived).await?;
    audit(p, state, "bookmark.update", format!("bookmark:{id}")).await?;
    Ok(Json(b))
}

#[utoipa::path(post, path = "/api/v1/bookmarks/{id}/star", tag = "bookmarks",
    params(("id" = i64, Path, description = "Bookmark id")),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "Starred", body = Bookmark), (status = 404, description = "No such bookmark")))]
pub async fn star(
    State(state): State<AppState>,
    Authorized(p): Authorized,
    Path(id): Path<i64>,
) -> Result<Json<Bookmark>, ApiError> {
    flag(&state, &p, id, Some(true), None).await
}

#[utoipa::path(delete, path = "/api/v1/bookmarks/{id}/star", tag = "bookmarks",
    params(("id" = i64, Path, description = "Bookmark id")),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "Unstarred", body = Bookmark), (status = 404, description = "No such bookmark")))]
pub async fn unstar(
    State(state): State<AppState>,
    Authorized(p): Authorized,
    Path(id): Path<i64>,
) -> Result<Json<Bookmark>, ApiError> {
    flag(&state, &p, id, Some(false), None).await
}

#[utoipa::path(post, path = "/api/v1/bookmarks/{id}/archive", tag = "bookmarks",
    params(("id" = i64, Path, description = "Bookmark id")),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "Archived", body = Bookmark), (status = 404, description = "No such bookmark")))]
pub async fn archive(
    State(state): State<AppState>,
    Authorized(p): Authorized,
    Path(id): Path<i64>,
) -> Result<Json<Bookmark>, ApiError> {
    flag(&state, &p, id, None, Some(true)).await
}

#[utoipa::path(delete, path = "/api/v1/bookmarks/{id}/archive", tag = "bookmarks",
    params(("id" = i64, Path, description = "Bookmark id")),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "Back from the archive", body = Bookmark), (status = 404, description = "No such bookmark")))]
pub async fn unarchive(
    State(state): State<AppState>,
    Authorized(p): Authorized,
    Path(id): Path<i64>,
) -> Result<Json<Bookmark>, ApiError> {
    flag(&state, &p, id, None, Some(false)).await
}

/// The caller's tags with how many bookmarks carry each.
#[utoipa::path(get, path = "/api/v1/bookmarks/tags", tag = "bookmarks",
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "Tags, most used first", body = Vec<TagCount>)))]
pub async fn tags(
    State(state): State<AppState>,
    Authorized(p): Authorized,
) -> Result<Json<Vec<TagCount>>, ApiError> {
    let (user, _) = owner(&p)?;
    Ok(Json(bm::tags(&state.store, user).await?))
}

#[utoipa::path(get, path = "/api/v1/bookmarks/stats", tag = "bookmarks",
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "Counts", body = Stats)))]
pub async fn stats(
    State(state): State<AppState>,
    Authorized(p): Authorized,
) -> Result<Json<Stats>, ApiError> {
    let (user, _) = owner(&p)?;
    Ok(Json(bm::stats(&state.store, user).await?))
}

/// The bulk and import routes with a larger body limit.
pub(super) fn bulk_route() -> UtoipaMethodRouter<AppState> {
    routes!(bulk).layer(DefaultBodyLimit::max(BIG_BODY))
}

pub(super) fn import_route() -> UtoipaMethodRouter<AppState> {
    routes!(import).layer(DefaultBodyLimit::max(BIG_BODY))
}

fn multi_status(out: BulkOutcome) -> Response {
    (StatusCode::MULTI_STATUS, Json(out)).into_response()
}

/// The bulk body as documented: a JSON array of at most
/// [`bm::MAX_BULK`] drafts (read as raw JSON so each item fails alone).
pub struct DraftBatch;

impl utoipa::PartialSchema for DraftBatch {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ArrayBuilder::new()
            .items(utoipa::openapi::Ref::from_schema_name("Draft"))
            .max_items(Some(bm::MAX_BULK))
            .into()
    }
}

impl utoipa::ToSchema for DraftBatch {
    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        schemas.push((
            "Draft".to_string(),
            <Draft as utoipa::PartialSchema>::schema(),
        ));
        <Draft as utoipa::ToSchema>::schemas(schemas);
    }
}

/// Up to 1000 bookmarks (a JSON array of `Draft`s); each succeeds or fails
/// on its own.
#[utoipa::path(post, path = "/api/v1/bookmarks/bulk", tag = "bookmarks",
    request_body = DraftBatch,
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 207, description = "Per-item outcome; imported + failed = items", body = BulkOutcome),
        (status = 422, description = "Not an array, or more than 1000 items")))]
pub async fn bulk(
    State(state): State<AppState>,
    Authorized(p): Authorized,
    Json(body): Json<serde_json::Value>,
) -> Result<Response, ApiError> {
    let (user, by) = owner(&p)?;
    let serde_json::Value::Array(items) = body else {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            "the body must be a JSON array of bookmarks",
        ));
    };
    if items.len() > bm::MAX_BULK {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "too_many",
            format!("at most {} items per request", bm::MAX_BULK),
        ));
    }
    let out = bm::bulk(&state.store, user, by, items, key_of(&p)).await?;
    record(
        &state,
        audit::Draft::new(p.actor(), "bookmark.bulk", audit::Outcome::Success)
            .target(format!("user:{user}"))
            .ip(p.client.ip)
            .detail("imported", out.imported)
            .detail("failed", out.failed),
    )
    .await?;
    Ok(multi_status(out))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct FormatParam {
    /// Import: `netscape` (or `html`), `json`, `clawchives`, `csv`.
    /// Export: `json`, `netscape` (or `html`), `csv`.
    #[param(max_length = 10, pattern = "^(netscape|html|json|clawchives|csv)$")]
    format: String,
}

/// Imports a file sent as the raw body; each bookmark succeeds or fails on
/// its own.
#[utoipa::path(post, path = "/api/v1/bookmarks/import", tag = "bookmarks", params(FormatParam),
    request_body(content = String, content_type = "text/plain"),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 207, description = "Per-item outcome", body = BulkOutcome),
        (status = 400, description = "Unknown format"),
        (status = 413, description = "Too many bookmarks"),
        (status = 422, description = "Not UTF-8, or not a file of that format")))]
pub async fn import(
    State(state): State<AppState>,
    Authorized(p): Authorized,
    Query(f): Query<FormatParam>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (user, by) = owner(&p)?;
    let format = Format::parse(&f.format)
        .ok_or_else(|| ApiError::bad_request("format is netscape, json, clawchives or csv"))?;
    let text = std::str::from_utf8(&body).map_err(|_| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_file",
            "the file is not UTF-8",
        )
    })?;
    let out = bm::import_file(&state.store, user, by, format, text, key_of(&p)).await?;
    record(
        &state,
        audit::Draft::new(p.actor(), "bookmark.import", audit::Outcome::Success)
            .target(format!("user:{user}"))
            .ip(p.client.ip)
            .detail("format", f.format)
            .detail("imported", out.imported)
            .detail("failed", out.failed),
    )
    .await?;
    Ok(multi_status(out))
}

/// Every bookmark and folder as a download.
#[utoipa::path(get, path = "/api/v1/bookmarks/export", tag = "bookmarks", params(FormatParam),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "The file"),
        (status = 400, description = "Unknown format")))]
pub async fn export(
    State(state): State<AppState>,
    Authorized(p): Authorized,
    Query(f): Query<FormatParam>,
) -> Result<Response, ApiError> {
    let (user, _) = owner(&p)?;
    let format = ExportFormat::parse(&f.format)
        .ok_or_else(|| ApiError::bad_request("format is json, netscape or csv"))?;
    let bytes = bm::export(&state.store, user, format).await?;
    audit(&p, &state, "bookmark.export", format!("user:{user}")).await?;
    let (mime, name) = format.media();
    Ok((
        [
            (header::CONTENT_TYPE, mime.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
            // Never a page of our origin, even if opened in a tab.
            (header::CONTENT_SECURITY_POLICY, "sandbox".to_string()),
        ],
        bytes,
    )
        .into_response())
}
