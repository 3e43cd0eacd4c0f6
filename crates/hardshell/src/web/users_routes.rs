//! User management and identity keys.
//!
//! Access comes from the matrix (`Authorized`); the identity-key route also
//! checks "yourself, or the owner for anyone". Every change is audited
//! before it is answered. Never returns a password hash or a stored key.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use zeroize::Zeroizing;

use super::extract::Authorized;
use super::{ApiError, AppState, record};
use crate::auth::tokens::{self, Kind};
use crate::auth::{Role, password, validate_username};
use crate::store::users::UserRow;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    #[schema(min_length = 1, max_length = 64, pattern = "^[A-Za-z0-9._-]+$")]
    username: String,
    role: Role,
    /// Optional: a user without one signs in with an identity key.
    #[schema(min_length = 12, max_length = 1024)]
    password: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    role: Option<Role>,
    disabled: Option<bool>,
}

/// The identity-key file: shown once, never stored in this form.
#[derive(Serialize, ToSchema)]
pub struct IdentityKeyFile {
    username: String,
    uuid: String,
    /// `hu-…`
    token: String,
}

fn unprocessable(code: &'static str, msg: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, msg)
}

/// Every user (admin and owner).
#[utoipa::path(get, path = "/api/v1/users", tag = "users",
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "Users", body = Vec<UserRow>),
        (status = 403, description = "Not allowed (agent keys never are)")))]
pub async fn list(
    State(state): State<AppState>,
    Authorized(_p): Authorized,
) -> Result<Json<Vec<UserRow>>, ApiError> {
    Ok(Json(state.store.users_list().await?))
}

/// Creates a user (owner only).
#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = CreateUser,
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 201, description = "Created", body = UserRow),
        (status = 409, description = "Username taken"),
        (status = 422, description = "Username or password refused")))]
pub async fn create(
    State(state): State<AppState>,
    Authorized(p): Authorized,
    Json(req): Json<CreateUser>,
) -> Result<(StatusCode, Json<UserRow>), ApiError> {
    validate_username(&req.username).map_err(|m| unprocessable("invalid_username", m))?;
    let phc = match req.password.map(Zeroizing::new) {
        Some(pw) => {
            password::validate(&pw, &req.username)
                .map_err(|e| unprocessable("weak_password", e.to_string()))?;
            Some(super::sign_in_checks::hash_new_password(&state, pw).await?)
        }
        None => None,
    };
    let user = state.store.user_create(req.username, req.role, phc).await?;
    record(
        &state,
        audit::Draft::new(p.actor(), "user.create", audit::Outcome::Success)
            .target(format!("user:{}", user.id))
            .ip(p.client.ip)
            .detail("username", user.username.clone())
            .detail("role", user.role.as_str()),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(user)))
}

/// Changes a user's role or disables/enables them (owner only). Disabling
/// ends their sessions at once; the last owner cannot be demoted.
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "users", request_body = UpdateUser,
    params(("id" = i64, Path, description = "User id")),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "Updated", body = UserRow),
        (status = 404, description = "No such user"),
        (status = 409, description = "Would leave no active owner")))]
pub async fn update(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Authorized(p): Authorized,
    Json(req): Json<UpdateUser>,
) -> Result<Json<UserRow>, ApiError> {
    if req.role.is_none() && req.disabled.is_none() {
        return Err(unprocessable(
            "invalid_body",
            "nothing to change: send role or disabled",
        ));
    }
    let mut user = state.store.user_by_id(id).await?;
    if let Some(role) = req.role {
        let (before, after) = state.store.user_set_role(id, role).await?;
        record(
            &state,
            audit::Draft::new(p.actor(), "user.role_change", audit::Outcome::Success)
                .target(format!("user:{id}"))
                .ip(p.client.ip)
                .detail("from", before.role.as_str())
                .detail("to", after.role.as_str()),
        )
        .await?;
        user = after;
    }
    if let Some(disabled) = req.disabled {
        user = state.store.user_set_disabled(id, disabled).await?;
        let action = if disabled {
            "user.disable"
        } else {
            "user.enable"
        };
        record(
            &state,
            audit::Draft::new(p.actor(), action, audit::Outcome::Success)
                .target(format!("user:{id}"))
                .ip(p.client.ip),
        )
        .await?;
    }
    Ok(Json(user))
}

/// `?erase=true` on a user deletion.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DeleteQuery {
    /// Also erase their content (see `hardshell users delete --erase`).
    #[serde(default)]
    erase: bool,
}

/// Deletes a user with their sessions and keys (owner only). With
/// `erase=true` their content goes too: messages in conversations others
/// use become tombstones, conversations only they used are deleted, and so
/// are memories about them, their unshared uploads and their bookmarks.
#[utoipa::path(delete, path = "/api/v1/users/{id}", tag = "users",
    params(("id" = i64, Path, description = "User id"), DeleteQuery),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 204, description = "Deleted"),
        (status = 404, description = "No such user"),
        (status = 409, description = "Would leave no active owner")))]
pub async fn delete(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Query(q): Query<DeleteQuery>,
    Authorized(p): Authorized,
) -> Result<StatusCode, ApiError> {
    if q.erase {
        let (gone, erased) = crate::user_data::erase(&state.store, &state.uploads, id)
            .await
            .map_err(super::user_data_routes::api_error)?;
        // Members' open clients replace the erased text at once.
        for tomb in &erased.tombstones {
            super::chat_routes::publish(
                &state,
                "message.updated",
                tomb.conversation_id,
                tomb,
                None,
            );
        }
        record(
            &state,
            audit::Draft::new(p.actor(), "user.erase", audit::Outcome::Success)
                .target(format!("user:{id}"))
                .ip(p.client.ip)
                .detail("username", gone.username)
                .detail("erased", crate::user_data::erase_details(&erased)),
        )
        .await?;
        return Ok(StatusCode::NO_CONTENT);
    }
    let gone = state.store.user_delete(id).await?;
    record(
        &state,
        audit::Draft::new(p.actor(), "user.delete", audit::Outcome::Success)
            .target(format!("user:{id}"))
            .ip(p.client.ip)
            .detail("username", gone.username),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Mints a human identity key, shown once as a file download. Minting
/// revokes the user's previous key. Yourself (member and up), or anyone
/// for the owner.
#[utoipa::path(post, path = "/api/v1/users/{id}/identity-key", tag = "users",
    params(("id" = i64, Path, description = "User id")),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 201, description = "The key file (attachment)", body = IdentityKeyFile),
        (status = 403, description = "Not yourself and not the owner"),
        (status = 404, description = "No such user")))]
pub async fn identity_key(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Authorized(p): Authorized,
) -> Result<Response, ApiError> {
    let caller = p.require_human()?;
    if caller.id != id && caller.role != Role::Owner {
        return Err(ApiError::forbidden(
            "only the owner mints keys for other users",
        ));
    }
    let user = state.store.user_by_id(id).await?;
    let key = tokens::generate(Kind::HumanKey);
    let replaced = state
        .store
        .identity_key_replace(id, tokens::hash(&state.pepper, &key))
        .await?;
    record(
        &state,
        audit::Draft::new(
            p.actor(),
            "auth.identity_key.issue",
            audit::Outcome::Success,
        )
        .target(format!("user:{id}"))
        .ip(p.client.ip)
        .detail("replaced_previous", replaced),
    )
    .await?;
    let filename = format!(
        "attachment; filename=\"hardshell-{}.key.json\"",
        user.username
    );
    let body = IdentityKeyFile {
        username: user.username,
        uuid: user.uuid,
        token: key.to_string(),
    };
    Ok((
        StatusCode::CREATED,
        [
            (header::CONTENT_DISPOSITION, filename),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        Json(body),
    )
        .into_response())
}
