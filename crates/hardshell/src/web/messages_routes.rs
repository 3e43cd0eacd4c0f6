//! Messages (history, post, edit, delete) and full-text search.
//!
//! Membership is checked in the same store call as each read, so a
//! non-member gets 404 and search never leaves the caller's conversations.
//! HTML is rendered and sanitised once, on write; reads serve it as
//! stored. Only authors edit; authors or human admins delete.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::chat_routes::{member_of, publish, rejected, unprocessable, writer};
use super::extract::{Authorized, Identity, Principal};
use super::{ApiError, AppState, record};
use crate::auth::Role;
use crate::chat::{search, validate};
use crate::store::StoreError;
use crate::store::chat::{MessageRow, Ref};
use crate::store::chat_messages::{Author, NewMessage, SearchHit};

const DEFAULT_PAGE: i64 = 50;
const MAX_PAGE: i64 = 100;
const DEFAULT_HITS: i64 = 20;
const MAX_HITS: i64 = 50;

#[derive(Debug, Deserialize, IntoParams)]
pub struct PageParams {
    /// Only messages with a smaller id (older).
    #[param(minimum = -9223372036854775808_i64, maximum = 9223372036854775807_i64)]
    before: Option<i64>,
    /// 1..=100, default 50.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
}

/// Borrowed: the store hands `page_json` the rows it read.
#[derive(Serialize, ToSchema)]
pub struct MessagePage<'a> {
    /// Oldest first.
    messages: &'a [MessageRow],
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostMessage {
    /// Markdown, at most 16000 characters; blank only with attachments.
    #[schema(max_length = 16000)]
    text: String,
    /// Upload ids (at most 10).
    #[serde(default)]
    #[schema(schema_with = attachment_ids)]
    attachments: Vec<String>,
    #[schema(minimum = 1, maximum = 9223372036854775807_i64)]
    reply_to: Option<i64>,
}

fn attachment_ids() -> utoipa::openapi::schema::Array {
    use crate::chat::upload_files::PUBLIC_ID_LEN;
    super::openapi::string_list(
        validate::MAX_ATTACHMENTS,
        PUBLIC_ID_LEN,
        PUBLIC_ID_LEN,
        false,
    )
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EditMessage {
    /// Markdown, at most 16000 characters; blank only with attachments.
    #[schema(max_length = 16000)]
    text: String,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct SearchParams {
    /// Plain words; every word must match. At most 200 characters.
    #[param(max_length = 200)]
    q: String,
    /// 1..=50, default 20.
    #[param(minimum = 1, maximum = 50)]
    limit: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct SearchResults {
    hits: Vec<SearchHit>,
}

fn bounded(v: Option<i64>, default: i64, max: i64, name: &str) -> Result<usize, ApiError> {
    let v = v.unwrap_or(default);
    if (1..=max).contains(&v) {
        Ok(v as usize)
    } else {
        Err(ApiError::bad_request(format!(
            "{name} must be between 1 and {max}"
        )))
    }
}

fn author_of(p: &Principal, uid: i64) -> Author {
    match &p.identity {
        Identity::User(u) => Author::User(u.id),
        Identity::AgentKey(k) => Author::Key {
            key_id: k.row_id,
            creator: uid,
        },
    }
}

/// True when the caller wrote `msg` (the same user, or the same key).
fn is_author(p: &Principal, msg: &MessageRow) -> bool {
    match (&p.identity, &msg.author) {
        (Identity::User(u), Ref::User { id, .. }) => *id == u.id,
        (Identity::AgentKey(k), Ref::Key { id, .. }) => *id == k.id,
        _ => false,
    }
}

fn invalid_text(m: String) -> ApiError {
    unprocessable("invalid_text", m)
}

/// A page of history: the newest `limit` messages before `before`, oldest first.
#[utoipa::path(get, path = "/api/v1/conversations/{id}/messages", tag = "chat",
    params(("id" = i64, Path, description = "Conversation id"), PageParams),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "Messages, oldest first", body = MessagePage),
        (status = 400, description = "limit outside 1..=100"),
        (status = 404, description = "No such conversation, or not a member")))]
pub async fn list(
    State(state): State<AppState>,
    Authorized(p): Authorized,
    Path(id): Path<i64>,
    Query(q): Query<PageParams>,
) -> Result<Response, ApiError> {
    let limit = bounded(q.limit, DEFAULT_PAGE, MAX_PAGE, "limit")?;
    let uid = member_of(&p)?;
    let body = state
        .store
        .message_page_rendered(id, uid, q.before, limit, page_json)
        .await?;
    // A static value: no copy of the header text per response.
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response())
}

/// Serialises a page into a buffer sized for it up front (`Json` starts
/// at 128 bytes and regrows, copying, up to the ~15 KB of a full page).
/// The same bytes go to every member, so nothing here may depend on who
/// asked.
fn page_json(messages: &[MessageRow]) -> Result<Vec<u8>, StoreError> {
    let guess = messages
        .iter()
        .map(|m| m.text.len() + m.html.len() + 256)
        .sum::<usize>()
        + 32;
    let mut body = Vec::with_capacity(guess + guess / 8);
    serde_json::to_writer(&mut body, &MessagePage { messages })
        .map_err(|_| StoreError::TaskFailed)?;
    Ok(body)
}

/// Posts a message.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/messages", tag = "chat",
    request_body = PostMessage,
    params(("id" = i64, Path, description = "Conversation id")),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 201, description = "Posted", body = MessageRow),
        (status = 404, description = "No such conversation, or not a member"),
        (status = 422, description = "Bad text, attachment or reply_to")))]
pub async fn create(
    State(state): State<AppState>,
    Authorized(p): Authorized,
    Path(id): Path<i64>,
    Json(req): Json<PostMessage>,
) -> Result<(StatusCode, Json<MessageRow>), ApiError> {
    let uid = writer(&state, &p).await?;
    let attachments =
        validate::attachments(&req.attachments).map_err(|m| unprocessable("bad_attachment", m))?;
    let text = validate::text(&req.text, !attachments.is_empty()).map_err(invalid_text)?;
    let facts = state.store.facts_for_member(id, uid).await?;
    let (html, mentions) = validate::render_message(&text, &facts.members);
    let msg = state
        .store
        .message_insert(NewMessage {
            conversation_id: id,
            author: author_of(&p, uid),
            text,
            html,
            mentions,
            reply_to: req.reply_to,
            attachments,
        })
        .await?
        .map_err(rejected)?;
    // Human posts are not audited (volume); an agent key's are.
    if let Identity::AgentKey(_) = p.identity {
        record(
            &state,
            audit::Draft::new(p.actor(), "chat.message_posted", audit::Outcome::Success)
                .target(format!("message:{}", msg.id))
                .ip(p.client.ip)
                .detail("conversation_id", id)
                .detail("chars", msg.text.chars().count() as u64)
                .detail("attachments", msg.attachments.len() as u64),
        )
        .await?;
    }
    publish(&state, "message.created", id, &msg, None);
    // Only people trigger agents; an automation key's post does not.
    let sender = match p.identity {
        Identity::User(_) => crate::agents::routing::Sender::Member,
        Identity::AgentKey(_) => crate::agents::routing::Sender::Key,
    };
    state.runtime.on_message(&msg, sender, Some(uid));
    Ok((StatusCode::CREATED, Json(msg)))
}

/// Edits one's own message.
#[utoipa::path(patch, path = "/api/v1/conversations/{id}/messages/{message_id}", tag = "chat",
    request_body = EditMessage,
    params(("id" = i64, Path, description = "Conversation id"),
        ("message_id" = i64, Path, description = "Message id")),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "Edited", body = MessageRow),
        (status = 403, description = "Not your message"),
        (status = 404, description = "No such message, or not a member"),
        (status = 422, description = "Bad text")))]
pub async fn update(
    State(state): State<AppState>,
    Authorized(p): Authorized,
    Path((id, message_id)): Path<(i64, i64)>,
    Json(req): Json<EditMessage>,
) -> Result<Json<MessageRow>, ApiError> {
    let uid = writer(&state, &p).await?;
    let facts = state.store.facts_for_member(id, uid).await?;
    let before = state.store.message_for_member(message_id, uid).await?;
    if before.conversation_id != id {
        return Err(ApiError::not_found());
    }
    if !is_author(&p, &before) {
        return Err(ApiError::forbidden("only the author may edit a message"));
    }
    let text = validate::text(&req.text, !before.attachments.is_empty()).map_err(invalid_text)?;
    let (html, mentions) = validate::render_message(&text, &facts.members);
    let msg = state
        .store
        .message_update(id, message_id, text, html, mentions)
        .await?;
    publish(&state, "message.updated", id, &msg, None);
    Ok(Json(msg))
}

/// Deletes a message: one's own, or any as a human admin (audited).
#[utoipa::path(delete, path = "/api/v1/conversations/{id}/messages/{message_id}", tag = "chat",
    params(("id" = i64, Path, description = "Conversation id"),
        ("message_id" = i64, Path, description = "Message id")),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 204, description = "Deleted"),
        (status = 403, description = "Not your message"),
        (status = 404, description = "No such message, or not a member")))]
pub async fn delete(
    State(state): State<AppState>,
    Authorized(p): Authorized,
    Path((id, message_id)): Path<(i64, i64)>,
) -> Result<StatusCode, ApiError> {
    let uid = writer(&state, &p).await?;
    let before = state.store.message_for_member(message_id, uid).await?;
    if before.conversation_id != id {
        return Err(ApiError::not_found());
    }
    let own = is_author(&p, &before);
    let moderator = p.user().is_some_and(|u| u.role.at_least(Role::Admin));
    if !own && !moderator {
        return Err(ApiError::forbidden(
            "only the author or an admin may delete a message",
        ));
    }
    state.store.message_delete(id, message_id).await?;
    if !own {
        record(
            &state,
            audit::Draft::new(p.actor(), "chat.message_deleted", audit::Outcome::Success)
                .target(format!("message:{message_id}"))
                .ip(p.client.ip)
                .detail("conversation_id", id)
                .detail(
                    "author",
                    serde_json::to_value(&before.author).unwrap_or_default(),
                ),
        )
        .await?;
    }
    publish(
        &state,
        "message.deleted",
        id,
        &serde_json::json!({ "id": message_id }),
        None,
    );
    Ok(StatusCode::NO_CONTENT)
}

/// Full-text search over the caller's conversations.
#[utoipa::path(get, path = "/api/v1/search", tag = "chat",
    params(SearchParams),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "Hits, best first", body = SearchResults),
        (status = 400, description = "Empty or too long q, or limit outside 1..=50")))]
pub async fn search(
    State(state): State<AppState>,
    Authorized(p): Authorized,
    Query(q): Query<SearchParams>,
) -> Result<Json<SearchResults>, ApiError> {
    let limit = bounded(q.limit, DEFAULT_HITS, MAX_HITS, "limit")?;
    let expr = search::fts_query(&q.q).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let hits = match p.membership_user() {
        Some(uid) => state.store.search_messages(uid, expr, limit).await?,
        None => Vec::new(),
    };
    Ok(Json(SearchResults { hits }))
}
