//! Conversations and their members.
//!
//! The matrix admits the caller; these handlers then require membership
//! (404 for non-members, so a conversation's existence never leaks) and,
//! for managing a conversation, its creator or an admin. Every change is
//! audited and published to the live-event hub after it is stored. Agent
//! keys act within their creator's memberships and never moderate.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use super::extract::{Authorized, Identity, Principal};
use super::{ApiError, AppState, record};
use crate::auth::Role;
use crate::chat::hub::{Event, Membership};
use crate::chat::validate;
use crate::store::chat::{ConversationRow, Ref, Reject};
use crate::store::chat_conversations::{ConversationPatch, MemberTarget, NewConversation};

/// Most usernames accepted when creating a conversation.
pub(super) const MAX_INITIAL_MEMBERS: usize = 200;

#[derive(Deserialize, ToSchema, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ConversationKind {
    Group,
    Direct,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateConversation {
    kind: ConversationKind,
    /// Required for groups; a direct conversation defaults to the agent's name.
    /// 1 to 120 characters (counted as sent; not blank), no control characters.
    #[schema(min_length = 1, max_length = 120)]
    title: Option<String>,
    /// Members to add besides the creator (groups): usernames or agent
    /// handles (a leading `@` is ignored). A group started with exactly one
    /// agent has it as its default agent. At most 200.
    #[schema(schema_with = member_names)]
    members: Option<Vec<String>>,
    /// The agent (direct conversations).
    #[schema(minimum = 1, maximum = 9223372036854775807_i64)]
    agent_id: Option<i64>,
}

/// Longest member name accepted: a username or handle, plus a leading `@`.
const MAX_MEMBER_NAME: usize = 65;

fn member_names() -> utoipa::openapi::schema::Array {
    super::openapi::string_list(MAX_INITIAL_MEMBERS, 1, MAX_MEMBER_NAME, true)
}

/// Present-but-null and absent differ for `default_agent_id`.
fn some_value<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<i64>>, D::Error> {
    Option::<i64>::deserialize(d).map(Some)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateConversation {
    /// 1 to 120 characters (counted as sent; not blank), no control characters.
    #[schema(min_length = 1, max_length = 120)]
    title: Option<String>,
    /// An agent that is a member, or null to clear.
    #[serde(default, deserialize_with = "some_value")]
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 9223372036854775807_i64)]
    default_agent_id: Option<Option<i64>>,
}

/// Exactly one of the fields.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberRequest {
    #[schema(min_length = 1, max_length = 64)]
    username: Option<String>,
    #[schema(minimum = 1, maximum = 9223372036854775807_i64)]
    user_id: Option<i64>,
    #[schema(minimum = 1, maximum = 9223372036854775807_i64)]
    agent_id: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct ConversationList {
    conversations: Vec<ConversationRow>,
}

pub(super) fn unprocessable(code: &'static str, msg: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, msg)
}

/// Maps a store refusal to its precise API error.
pub(super) fn rejected(r: Reject) -> ApiError {
    match r {
        Reject::UnknownUsers(names) => unprocessable(
            "unknown_user",
            format!("no such user or agent: {}", names.join(", ")),
        ),
        Reject::UnknownAgent => unprocessable("unknown_agent", "no such agent"),
        Reject::AlreadyMember => ApiError::new(
            StatusCode::CONFLICT,
            "already_member",
            "already a member of this conversation",
        ),
        Reject::NotMember => unprocessable("not_member", "not a member of this conversation"),
        Reject::Direct => ApiError::new(
            StatusCode::CONFLICT,
            "direct_conversation",
            "a direct conversation's members cannot change",
        ),
        Reject::BadAttachment(id) => unprocessable(
            "bad_attachment",
            format!("upload {id:?} does not exist or you may not attach it"),
        ),
        Reject::BadReplyTo => unprocessable(
            "bad_reply_to",
            "reply_to is not a message of this conversation",
        ),
    }
}

/// The user whose memberships bound the caller; a key whose creator is
/// gone sees nothing.
pub(super) fn member_of(p: &Principal) -> Result<i64, ApiError> {
    p.membership_user().ok_or_else(ApiError::not_found)
}

/// For writes: the membership user, after checking that a key's creator
/// still exists, is enabled and is at least a member.
pub(super) async fn writer(state: &AppState, p: &Principal) -> Result<i64, ApiError> {
    let uid = member_of(p)?;
    if let Identity::AgentKey(_) = p.identity {
        let creator = state.store.user_by_id(uid).await?;
        if creator.disabled || !creator.role.at_least(Role::Member) {
            return Err(ApiError::forbidden(
                "this key's creator may no longer write here",
            ));
        }
    }
    Ok(uid)
}

/// Creator of the conversation, or a human admin. Keys count as their
/// creator but never as admins.
fn may_manage(p: &Principal, conv: &ConversationRow) -> bool {
    let creator = conv.created_by.is_some() && conv.created_by == p.membership_user();
    let admin = p.user().is_some_and(|u| u.role.at_least(Role::Admin));
    creator || admin
}

/// Publishes after a stored change; a serialisation failure only loses
/// the live update, never the change.
pub(super) fn publish<T: Serialize>(
    state: &AppState,
    kind: &str,
    conversation_id: i64,
    data: &T,
    membership: Option<Membership>,
) {
    match Event::new(kind, conversation_id, data) {
        Ok(ev) => state.hub.publish(match membership {
            Some(m) => ev.with_membership(m),
            None => ev,
        }),
        Err(e) => tracing::error!(%e, kind, "could not serialise a live event"),
    }
}

fn draft(p: &Principal, action: &str, conversation_id: i64) -> audit::Draft {
    audit::Draft::new(p.actor(), action, audit::Outcome::Success)
        .target(format!("conversation:{conversation_id}"))
        .ip(p.client.ip)
}

/// A member added or removed: the user's id, or `None` for an agent.
enum MemberChange {
    Added(Option<i64>),
    Removed(Option<i64>),
}

/// Audits a membership change, then tells live clients. A user's change
/// travels as a `Membership` so their connections start or stop receiving
/// the conversation; an agent's only changes the member list.
async fn announce_member_change(
    state: &AppState,
    p: &Principal,
    after: &ConversationRow,
    change: MemberChange,
) -> Result<(), ApiError> {
    let id = after.id;
    let (action, user) = match change {
        MemberChange::Added(u) => ("chat.member_added", u),
        MemberChange::Removed(u) => ("chat.member_removed", u),
    };
    let d = draft(p, action, id);
    record(
        state,
        match user {
            Some(user_id) => d.detail("user_id", user_id),
            None => d.detail("agent", true),
        },
    )
    .await?;
    match (change, user) {
        (MemberChange::Added(_), Some(user_id)) => publish(
            state,
            "member.added",
            id,
            after,
            Some(Membership::Joined { user_id }),
        ),
        (MemberChange::Removed(_), Some(user_id)) => publish(
            state,
            "member.removed",
            id,
            &serde_json::json!({ "user_id": user_id }),
            Some(Membership::Left { user_id }),
        ),
        (_, None) => publish(state, "conversation.updated", id, after, None),
    }
    Ok(())
}

fn user_ids(conv: &ConversationRow) -> impl Iterator<Item = i64> + '_ {
    conv.members.iter().filter_map(|m| match m {
        Ref::User { id, .. } => Some(*id),
        _ => None,
    })
}

/// The caller's conversations, newest activity first.
#[utoipa::path(get, path = "/api/v1/conversations", tag = "chat",
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "The caller's conversations", body = ConversationList)))]
pub async fn list(
    State(state): State<AppState>,
    Authorized(p): Authorized,
) -> Result<Json<ConversationList>, ApiError> {
    let conversations = match p.membership_user() {
        Some(uid) => state.store.conversations_for_user(uid).await?,
        None => Vec::new(),
    };
    Ok(Json(ConversationList { conversations }))
}

/// Creates a group (with initial members) or a direct conversation with an agent.
#[utoipa::path(post, path = "/api/v1/conversations", tag = "chat", request_body = CreateConversation,
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 201, description = "Created", body = ConversationRow),
        (status = 422, description = "Bad title, unknown user or unknown agent")))]
pub async fn create(
    State(state): State<AppState>,
    Authorized(p): Authorized,
    Json(req): Json<CreateConversation>,
) -> Result<(StatusCode, Json<ConversationRow>), ApiError> {
    let uid = writer(&state, &p).await?;
    let title = req
        .title
        .as_deref()
        .map(validate::title)
        .transpose()
        .map_err(|m| unprocessable("invalid_title", m))?;
    let new = match req.kind {
        ConversationKind::Group => {
            let Some(title) = title else {
                return Err(unprocessable("invalid_title", "a group needs a title"));
            };
            if req.agent_id.is_some() {
                return Err(unprocessable(
                    "invalid_body",
                    "a group starts without agents; add them as members",
                ));
            }
            let usernames: Vec<String> = req
                .members
                .unwrap_or_default()
                .into_iter()
                .map(|m| m.trim().trim_start_matches('@').to_string())
                .collect();
            if usernames.len() > MAX_INITIAL_MEMBERS {
                return Err(unprocessable(
                    "invalid_body",
                    format!("at most {MAX_INITIAL_MEMBERS} initial members"),
                ));
            }
            NewConversation {
                kind: "group",
                title: Some(title),
                created_by: uid,
                usernames,
                agent_id: None,
            }
        }
        ConversationKind::Direct => {
            let Some(agent_id) = req.agent_id else {
                return Err(unprocessable(
                    "unknown_agent",
                    "a direct conversation needs agent_id",
                ));
            };
            if req.members.is_some_and(|m| !m.is_empty()) {
                return Err(unprocessable(
                    "invalid_body",
                    "a direct conversation has no other human members",
                ));
            }
            NewConversation {
                kind: "direct",
                title,
                created_by: uid,
                usernames: Vec::new(),
                agent_id: Some(agent_id),
            }
        }
    };
    let conv = state
        .store
        .conversation_create(new)
        .await?
        .map_err(rejected)?;
    record(
        &state,
        draft(&p, "chat.conversation_created", conv.id)
            .detail("kind", conv.kind.clone())
            .detail("members", conv.members.len() as u64),
    )
    .await?;
    for user_id in user_ids(&conv) {
        publish(
            &state,
            "member.added",
            conv.id,
            &conv,
            Some(Membership::Joined { user_id }),
        );
    }
    Ok((StatusCode::CREATED, Json(conv)))
}

/// One conversation the caller belongs to.
#[utoipa::path(get, path = "/api/v1/conversations/{id}", tag = "chat",
    params(("id" = i64, Path, description = "Conversation id")),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "The conversation", body = ConversationRow),
        (status = 404, description = "No such conversation, or not a member")))]
pub async fn get(
    State(state): State<AppState>,
    Authorized(p): Authorized,
    Path(id): Path<i64>,
) -> Result<Json<ConversationRow>, ApiError> {
    let uid = member_of(&p)?;
    Ok(Json(state.store.conversation_for_member(id, uid).await?))
}

/// Renames a conversation or sets its default agent (creator or admin).
#[utoipa::path(patch, path = "/api/v1/conversations/{id}", tag = "chat",
    request_body = UpdateConversation,
    params(("id" = i64, Path, description = "Conversation id")),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "Updated", body = ConversationRow),
        (status = 403, description = "Not the creator or an admin"),
        (status = 404, description = "No such conversation, or not a member")))]
pub async fn update(
    State(state): State<AppState>,
    Authorized(p): Authorized,
    Path(id): Path<i64>,
    Json(req): Json<UpdateConversation>,
) -> Result<Json<ConversationRow>, ApiError> {
    let uid = writer(&state, &p).await?;
    let conv = state.store.conversation_for_member(id, uid).await?;
    if !may_manage(&p, &conv) {
        return Err(ApiError::forbidden(
            "only the conversation's creator or an admin may change it",
        ));
    }
    if req.title.is_none() && req.default_agent_id.is_none() {
        return Err(unprocessable(
            "invalid_body",
            "nothing to change: send title or default_agent_id",
        ));
    }
    let title = req
        .title
        .as_deref()
        .map(validate::title)
        .transpose()
        .map_err(|m| unprocessable("invalid_title", m))?;
    let patch = ConversationPatch {
        title,
        default_agent_id: req.default_agent_id,
    };
    let after = state
        .store
        .conversation_update(id, patch)
        .await?
        .map_err(rejected)?;
    let mut d = draft(&p, "chat.conversation_updated", id);
    if after.title != conv.title {
        d = d.detail("title", after.title.clone());
    }
    if after.default_agent_id != conv.default_agent_id {
        d = d.detail("default_agent_id", after.default_agent_id);
    }
    record(&state, d).await?;
    publish(&state, "conversation.updated", id, &after, None);
    Ok(Json(after))
}

/// Deletes a conversation and its messages (creator or admin).
#[utoipa::path(delete, path = "/api/v1/conversations/{id}", tag = "chat",
    params(("id" = i64, Path, description = "Conversation id")),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 204, description = "Deleted"),
        (status = 403, description = "Not the creator or an admin"),
        (status = 404, description = "No such conversation, or not a member")))]
pub async fn delete(
    State(state): State<AppState>,
    Authorized(p): Authorized,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    let uid = writer(&state, &p).await?;
    let conv = state.store.conversation_for_member(id, uid).await?;
    if !may_manage(&p, &conv) {
        return Err(ApiError::forbidden(
            "only the conversation's creator or an admin may delete it",
        ));
    }
    let before = state.store.conversation_delete(id).await?;
    record(
        &state,
        draft(&p, "chat.conversation_deleted", id)
            .detail("title", before.title.clone())
            .detail("last_message_id", before.last_message_id),
    )
    .await?;
    publish(
        &state,
        "conversation.deleted",
        id,
        &serde_json::json!({ "id": id }),
        Some(Membership::Deleted),
    );
    Ok(StatusCode::NO_CONTENT)
}

fn target_of(req: MemberRequest) -> Result<MemberTarget, ApiError> {
    match (req.username, req.user_id, req.agent_id) {
        (Some(name), None, None) => Ok(MemberTarget::Username(name)),
        (None, Some(id), None) => Ok(MemberTarget::UserId(id)),
        (None, None, Some(id)) => Ok(MemberTarget::AgentId(id)),
        _ => Err(unprocessable(
            "invalid_member",
            "send exactly one of username, user_id or agent_id",
        )),
    }
}

/// Adds a user or agent to a group (creator or admin).
#[utoipa::path(post, path = "/api/v1/conversations/{id}/members", tag = "chat",
    request_body = MemberRequest,
    params(("id" = i64, Path, description = "Conversation id")),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "Added", body = ConversationRow),
        (status = 403, description = "Not the creator or an admin"),
        (status = 404, description = "No such conversation, or not a member"),
        (status = 409, description = "Already a member, or a direct conversation"),
        (status = 422, description = "Unknown user or agent")))]
pub async fn add_member(
    State(state): State<AppState>,
    Authorized(p): Authorized,
    Path(id): Path<i64>,
    Json(req): Json<MemberRequest>,
) -> Result<Json<ConversationRow>, ApiError> {
    let uid = writer(&state, &p).await?;
    let target = target_of(req)?;
    let conv = state.store.conversation_for_member(id, uid).await?;
    if !may_manage(&p, &conv) {
        return Err(ApiError::forbidden(
            "only the conversation's creator or an admin may add members",
        ));
    }
    let (after, added) = state
        .store
        .member_add(id, target)
        .await?
        .map_err(rejected)?;
    announce_member_change(&state, &p, &after, MemberChange::Added(added)).await?;
    Ok(Json(after))
}

/// True when `target` names the caller's own membership user.
fn is_self(p: &Principal, target: &MemberTarget, conv: &ConversationRow) -> bool {
    let Some(me) = p.membership_user() else {
        return false;
    };
    match target {
        MemberTarget::UserId(id) => *id == me,
        MemberTarget::Username(name) => conv.members.iter().any(
            |m| matches!(m, Ref::User { id, name: n } if *id == me && n.eq_ignore_ascii_case(name)),
        ),
        MemberTarget::AgentId(_) => false,
    }
}

/// Removes a member (creator or admin), or the caller themself.
#[utoipa::path(delete, path = "/api/v1/conversations/{id}/members", tag = "chat",
    request_body = MemberRequest,
    params(("id" = i64, Path, description = "Conversation id")),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "Removed", body = ConversationRow),
        (status = 204, description = "You left the conversation"),
        (status = 403, description = "Not the creator, an admin, or yourself"),
        (status = 404, description = "No such conversation, or not a member"),
        (status = 409, description = "A direct conversation"),
        (status = 422, description = "Unknown user or agent, or not a member")))]
pub async fn remove_member(
    State(state): State<AppState>,
    Authorized(p): Authorized,
    Path(id): Path<i64>,
    Json(req): Json<MemberRequest>,
) -> Result<Response, ApiError> {
    let uid = writer(&state, &p).await?;
    let target = target_of(req)?;
    let conv = state.store.conversation_for_member(id, uid).await?;
    let myself = is_self(&p, &target, &conv);
    if !myself && !may_manage(&p, &conv) {
        return Err(ApiError::forbidden(
            "only the conversation's creator or an admin may remove others",
        ));
    }
    let (after, removed) = state
        .store
        .member_remove(id, target)
        .await?
        .map_err(rejected)?;
    announce_member_change(&state, &p, &after, MemberChange::Removed(removed)).await?;
    if myself {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    Ok(Json(after).into_response())
}
