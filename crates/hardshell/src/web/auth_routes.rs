//! Setup, login, token exchange, and the caller's own sessions.
//!
//! Thin handlers over `auth` and `store`. A failed login looks the same
//! whether or not the account exists (same status, message, and Argon2
//! work); lockouts answer 429 without saying which. Never echoes or logs a
//! password or token.

use std::time::Instant;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use zeroize::Zeroizing;

use super::client_ip::ClientAddr;
use super::extract::{
    Authorized, Identity, KeyUse, SESSION_COOKIE, Unauthenticated, admit_agent_key, cookie,
};
use super::sign_in_checks::{
    check_human_key, check_password, hash_new_password, invalid_credentials, lockout_refusal,
    login_failed,
};
use super::{ApiError, AppState, record};
use crate::auth::device::{self, DEVICE_COOKIE, DEVICE_COOKIE_MAX_AGE};
use crate::auth::tokens::{self, Kind};
use crate::auth::{now_secs, password, validate_username};
use crate::store::auth::{
    AgentKeyRow, NewSession, NewToken, RefreshOutcome, SessionInfo, SessionKind, SessionOwner,
    SetupOutcome,
};
use crate::store::users::UserRow;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetupRequest {
    /// `setup-…` as printed by the server (surrounding spaces are ignored).
    #[schema(min_length = 1, max_length = 64)]
    setup_token: String,
    #[schema(min_length = 1, max_length = 64, pattern = "^[A-Za-z0-9._-]+$")]
    username: String,
    #[schema(min_length = 12, max_length = 1024)]
    password: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    #[schema(min_length = 1, max_length = 64)]
    username: String,
    /// Passwords are 12 to 1024 characters; any other never matches.
    #[schema(min_length = 1, max_length = 1024)]
    password: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyLoginRequest {
    /// A human identity key, `hu-…`.
    #[schema(min_length = 1, max_length = 128)]
    key: String,
}

/// `grant_type` selects which other fields are read.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// `password`, `human_key`, `agent_key` or `refresh_token`.
    #[schema(
        max_length = 13,
        pattern = "^(password|human_key|agent_key|refresh_token)$"
    )]
    grant_type: String,
    #[schema(min_length = 1, max_length = 64)]
    username: Option<String>,
    #[schema(min_length = 1, max_length = 1024)]
    password: Option<String>,
    /// `hu-…` for `human_key`, `lb-…` for `agent_key`.
    #[schema(min_length = 1, max_length = 128)]
    key: Option<String>,
    #[schema(min_length = 1, max_length = 128)]
    refresh_token: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct LoginResponse {
    /// Send back as `X-CSRF-Token` on every state-changing request.
    csrf_token: String,
    session_id: String,
    /// Absolute expiry, Unix seconds.
    expires_at: i64,
    user: UserRow,
}

#[derive(Serialize, ToSchema)]
pub struct TokenResponse {
    access_token: String,
    token_type: &'static str,
    expires_in: i64,
    /// Humans only; rotates on every use.
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    session_id: String,
}

#[derive(Serialize, ToSchema)]
pub struct MeResponse {
    /// `user` or `agent_key`.
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<UserRow>,
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<AgentKeyRow>,
    /// `cookie`, `bearer` or `agent_key`.
    via: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    session_id: Option<String>,
}

fn https(state: &AppState) -> bool {
    state.config.server.tls.is_some()
        || state
            .config
            .server
            .public_origin
            .as_deref()
            .is_some_and(|o| o.starts_with("https://"))
}

fn session_cookie(state: &AppState, value: &str, max_age: i64) -> String {
    let secure = if https(state) { "; Secure" } else { "" };
    format!(
        "{SESSION_COOKIE}={value}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age}{secure}"
    )
}

async fn start_web_session(
    state: &AppState,
    user: UserRow,
    client: ClientAddr,
    method: &str,
) -> Result<Response, ApiError> {
    let cookie = tokens::generate(Kind::Session);
    let csrf = tokens::generate(Kind::Csrf);
    let expires_at = now_secs() + tokens::SESSION_ABSOLUTE_SECS;
    let (_, public_id) = state
        .store
        .session_create(
            NewSession {
                owner: SessionOwner::User(user.id),
                kind: SessionKind::Web,
                csrf_hash: Some(tokens::hash(&state.pepper, &csrf)),
                expires_at,
                ip: Some(client.ip.to_string()),
            },
            vec![NewToken {
                hash: tokens::hash(&state.pepper, &cookie),
                kind: "cookie",
                expires_at,
            }],
        )
        .await?;
    record(
        state,
        audit::Draft::new(
            audit::Actor::user(user.id.to_string()),
            "auth.login",
            audit::Outcome::Success,
        )
        .target(format!("session:{public_id}"))
        .ip(client.ip)
        .detail("method", method),
    )
    .await?;
    let set_cookie = session_cookie(state, &cookie, tokens::SESSION_ABSOLUTE_SECS);
    let body = LoginResponse {
        csrf_token: csrf.to_string(),
        session_id: public_id,
        expires_at,
        user,
    };
    Ok(([(header::SET_COOKIE, set_cookie)], Json(body)).into_response())
}

async fn start_token_session(
    state: &AppState,
    owner: SessionOwner,
    actor: audit::Actor,
    client: ClientAddr,
    grant: &str,
) -> Result<TokenResponse, ApiError> {
    let now = now_secs();
    let access = tokens::generate(Kind::Access);
    let mut toks = vec![NewToken {
        hash: tokens::hash(&state.pepper, &access),
        kind: "access",
        expires_at: now + tokens::ACCESS_TTL_SECS,
    }];
    let (refresh, family_exp) = match owner {
        SessionOwner::User(_) => {
            let rt = tokens::generate(Kind::Refresh);
            toks.push(NewToken {
                hash: tokens::hash(&state.pepper, &rt),
                kind: "refresh",
                expires_at: now + tokens::REFRESH_FAMILY_TTL_SECS,
            });
            (Some(rt), now + tokens::REFRESH_FAMILY_TTL_SECS)
        }
        SessionOwner::AgentKey(_) => (None, now + tokens::ACCESS_TTL_SECS),
    };
    let (_, public_id) = state
        .store
        .session_create(
            NewSession {
                owner,
                kind: SessionKind::Token,
                csrf_hash: None,
                expires_at: family_exp,
                ip: Some(client.ip.to_string()),
            },
            toks,
        )
        .await?;
    record(
        state,
        audit::Draft::new(actor, "auth.token.issue", audit::Outcome::Success)
            .target(format!("session:{public_id}"))
            .ip(client.ip)
            .detail("grant_type", grant),
    )
    .await?;
    Ok(TokenResponse {
        access_token: access.to_string(),
        token_type: "Bearer",
        expires_in: tokens::ACCESS_TTL_SECS,
        refresh_token: refresh.map(|r| r.to_string()),
        session_id: public_id,
    })
}

#[derive(Serialize, ToSchema)]
pub struct SetupStatus {
    /// An owner exists; the setup link no longer works.
    setup_done: bool,
}

/// Whether first-run setup is done, so the sign-in page can say that the
/// setup link is in the server's output. It tells nothing that
/// `POST /api/v1/setup` (410 or 401) would not.
#[utoipa::path(get, path = "/api/v1/setup", tag = "auth",
    responses((status = 200, description = "Setup state", body = SetupStatus),
        (status = 429, description = "Too many requests from this address (`rate_limited`); see Retry-After")))]
pub async fn setup_status(
    Unauthenticated(_client): Unauthenticated,
    State(state): State<AppState>,
) -> Result<Json<SetupStatus>, ApiError> {
    Ok(Json(SetupStatus {
        setup_done: state.store.owner_exists().await?,
    }))
}

/// First-run setup: creates the owner once, with the printed setup token.
#[utoipa::path(post, path = "/api/v1/setup", tag = "auth", request_body = SetupRequest,
    responses((status = 201, description = "Owner created", body = UserRow),
        (status = 401, description = "Unknown, used or expired setup token"),
        (status = 410, description = "An owner exists; setup is closed"),
        (status = 422, description = "Username or password refused"),
        (status = 429, description = "Too many requests from this address (`rate_limited`); see Retry-After")))]
pub async fn setup(
    Unauthenticated(client): Unauthenticated,
    State(state): State<AppState>,
    Json(req): Json<SetupRequest>,
) -> Result<(StatusCode, Json<UserRow>), ApiError> {
    let gone = || ApiError::new(StatusCode::GONE, "gone", "setup is complete");
    if state.store.owner_exists().await? {
        return Err(gone());
    }
    let password = Zeroizing::new(req.password);
    validate_username(&req.username)
        .map_err(|m| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_username", m))?;
    password::validate(&password, &req.username).map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "weak_password",
            e.to_string(),
        )
    })?;
    let phc = hash_new_password(&state, password).await?;
    let token = Zeroizing::new(req.setup_token);
    let hash = tokens::hash(&state.pepper, token.trim());
    match state
        .store
        .setup_create_owner(hash, now_secs(), req.username, phc)
        .await?
    {
        SetupOutcome::Created(user) => {
            record(
                &state,
                audit::Draft::new(
                    audit::Actor::user(user.id.to_string()),
                    "auth.setup",
                    audit::Outcome::Success,
                )
                .target(format!("user:{}", user.id))
                .ip(client.ip)
                .detail("role", "owner"),
            )
            .await?;
            Ok((StatusCode::CREATED, Json(user)))
        }
        SetupOutcome::Gone => Err(gone()),
        SetupOutcome::BadToken => {
            record(
                &state,
                audit::Draft::new(audit::Actor::system(), "auth.setup", audit::Outcome::Denied)
                    .ip(client.ip),
            )
            .await?;
            Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_setup_token",
                "the setup token is unknown, used or expired",
            ))
        }
    }
}

/// Password login: sets the `hs_session` cookie and returns the CSRF token.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, description = "Signed in; Set-Cookie hs_session", body = LoginResponse),
        (status = 401, description = "Wrong credentials (same for unknown users)"),
        (status = 429, description = "Locked out; see Retry-After")))]
pub async fn login(
    Unauthenticated(client): Unauthenticated,
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    Json(req): Json<LoginRequest>,
) -> Result<Response, ApiError> {
    let device_cookie = cookie(&headers, DEVICE_COOKIE);
    let password = Zeroizing::new(req.password);
    let user = check_password(
        &state,
        client,
        &req.username,
        password,
        device_cookie.as_deref(),
    )
    .await?;
    let mut resp = start_web_session(&state, user, client, "password").await?;
    let device = device::mint(&state.pepper, &req.username);
    let set = device_cookie_header(&state, &device);
    if let Ok(v) = axum::http::HeaderValue::from_str(&set) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(resp)
}

/// The device cookie: only sent back to the sign-in routes.
fn device_cookie_header(state: &AppState, value: &str) -> String {
    let secure = if https(state) { "; Secure" } else { "" };
    format!(
        "{DEVICE_COOKIE}={value}; HttpOnly; SameSite=Strict; Path=/api/v1/auth; Max-Age={DEVICE_COOKIE_MAX_AGE}{secure}"
    )
}

/// Identity-key login (`hu-…`): same session as a password login.
#[utoipa::path(post, path = "/api/v1/auth/login/key", tag = "auth", request_body = KeyLoginRequest,
    responses((status = 200, description = "Signed in; Set-Cookie hs_session", body = LoginResponse),
        (status = 401, description = "Unknown or revoked key"),
        (status = 429, description = "Locked out; see Retry-After")))]
pub async fn login_key(
    Unauthenticated(client): Unauthenticated,
    State(state): State<AppState>,
    Json(req): Json<KeyLoginRequest>,
) -> Result<Response, ApiError> {
    let key = Zeroizing::new(req.key);
    let user = check_human_key(&state, client, key.trim()).await?;
    start_web_session(&state, user, client, "human_key").await
}

fn required(v: Option<String>, name: &str) -> Result<Zeroizing<String>, ApiError> {
    v.map(Zeroizing::new).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            format!("{name} is required"),
        )
    })
}

/// Exchanges a credential for an `api-` bearer (1 h) and, for humans, a
/// rotating `rt-` refresh token.
#[utoipa::path(post, path = "/api/v1/auth/token", tag = "auth", request_body = TokenRequest,
    responses((status = 200, description = "Tokens issued", body = TokenResponse),
        (status = 401, description = "Invalid credential; a re-used refresh token revokes its family"),
        (status = 422, description = "Unknown grant_type or missing field"),
        (status = 429, description = "Locked out or rate limited; see Retry-After")))]
pub async fn token(
    Unauthenticated(client): Unauthenticated,
    State(state): State<AppState>,
    Json(req): Json<TokenRequest>,
) -> Result<Json<TokenResponse>, ApiError> {
    let grant = req.grant_type.as_str();
    let resp = match grant {
        "password" => {
            let username = required(req.username, "username")?;
            let pw = required(req.password, "password")?;
            let user = check_password(&state, client, &username, pw, None).await?;
            let actor = audit::Actor::user(user.id.to_string());
            start_token_session(&state, SessionOwner::User(user.id), actor, client, grant).await?
        }
        "human_key" => {
            let key = required(req.key, "key")?;
            let user = check_human_key(&state, client, key.trim()).await?;
            let actor = audit::Actor::user(user.id.to_string());
            start_token_session(&state, SessionOwner::User(user.id), actor, client, grant).await?
        }
        "agent_key" => {
            let key = required(req.key, "key")?;
            let attempt = match state
                .throttles
                .reserve_login(client.ip, None, Instant::now())
            {
                Ok(a) => a,
                Err(wait) => return Err(lockout_refusal(&state, client, wait).await),
            };
            let found = match Kind::of(key.trim()) {
                Some(Kind::AgentKey) => {
                    state
                        .store
                        .agent_key_by_hash(tokens::hash(&state.pepper, key.trim()))
                        .await?
                }
                _ => None,
            };
            let Some(k) = found else {
                return Err(login_failed(&state, client, attempt, None, "agent_key").await);
            };
            attempt.succeeded();
            admit_agent_key(&state, &k, client, KeyUse::Session).await?;
            let actor = audit::Actor::agent_key(k.id.clone());
            start_token_session(
                &state,
                SessionOwner::AgentKey(k.row_id),
                actor,
                client,
                grant,
            )
            .await?
        }
        "refresh_token" => {
            refresh(
                &state,
                client,
                required(req.refresh_token, "refresh_token")?,
            )
            .await?
        }
        _ => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unsupported_grant_type",
                "grant_type must be password, human_key, agent_key or refresh_token",
            ));
        }
    };
    Ok(Json(resp))
}

async fn refresh(
    state: &AppState,
    client: ClientAddr,
    presented: Zeroizing<String>,
) -> Result<TokenResponse, ApiError> {
    let presented = presented.trim();
    if Kind::of(presented) != Some(Kind::Refresh) {
        return Err(invalid_credentials());
    }
    let now = now_secs();
    let access = tokens::generate(Kind::Access);
    let next_rt = tokens::generate(Kind::Refresh);
    let next = vec![
        NewToken {
            hash: tokens::hash(&state.pepper, &access),
            kind: "access",
            expires_at: now + tokens::ACCESS_TTL_SECS,
        },
        NewToken {
            hash: tokens::hash(&state.pepper, &next_rt),
            kind: "refresh",
            expires_at: now + tokens::REFRESH_FAMILY_TTL_SECS,
        },
    ];
    match state
        .store
        .refresh_rotate(tokens::hash(&state.pepper, presented), now, next)
        .await?
    {
        RefreshOutcome::Rotated {
            session_public_id,
            user,
        } => {
            record(
                state,
                audit::Draft::new(
                    audit::Actor::user(user.id.to_string()),
                    "auth.token.refresh",
                    audit::Outcome::Success,
                )
                .target(format!("session:{session_public_id}"))
                .ip(client.ip),
            )
            .await?;
            Ok(TokenResponse {
                access_token: access.to_string(),
                token_type: "Bearer",
                expires_in: tokens::ACCESS_TTL_SECS,
                refresh_token: Some(next_rt.to_string()),
                session_id: session_public_id,
            })
        }
        RefreshOutcome::Reused {
            session_public_id,
            user_id,
        } => {
            record(
                state,
                audit::Draft::new(
                    audit::Actor::user(user_id.to_string()),
                    "auth.refresh_reuse",
                    audit::Outcome::Denied,
                )
                .target(format!("session:{session_public_id}"))
                .ip(client.ip)
                .detail("family_revoked", true),
            )
            .await?;
            Err(invalid_credentials())
        }
        RefreshOutcome::Invalid => Err(invalid_credentials()),
    }
}

/// Who am I: the user or agent key behind this request.
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth",
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "The caller", body = MeResponse),
        (status = 401, description = "Not authenticated")))]
pub async fn me(Authorized(p): Authorized) -> Json<MeResponse> {
    let via = match p.via {
        super::extract::AuthVia::Cookie => "cookie",
        super::extract::AuthVia::Bearer => "bearer",
        super::extract::AuthVia::AgentKey => "agent_key",
    };
    let session_id = p.session.map(|(_, public)| public);
    Json(match p.identity {
        Identity::User(u) => MeResponse {
            kind: "user",
            user: Some(u),
            key: None,
            via,
            session_id,
        },
        Identity::AgentKey(k) => MeResponse {
            kind: "agent_key",
            user: None,
            key: Some(k),
            via,
            session_id,
        },
    })
}

/// Ends the session (or token family) this request came in on.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth",
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 204, description = "Signed out; the credential is dead"),
        (status = 401, description = "Not authenticated")))]
pub async fn logout(
    State(state): State<AppState>,
    Authorized(p): Authorized,
) -> Result<Response, ApiError> {
    if let Some((sid, public)) = &p.session {
        state.store.session_revoke(*sid).await?;
        record(
            &state,
            audit::Draft::new(p.actor(), "auth.logout", audit::Outcome::Success)
                .target(format!("session:{public}"))
                .ip(p.client.ip),
        )
        .await?;
    }
    let clear = session_cookie(&state, "", 0);
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, clear)]).into_response())
}

/// The caller's live sessions and token families.
#[utoipa::path(get, path = "/api/v1/auth/sessions", tag = "auth",
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "Live sessions", body = Vec<SessionInfo>)))]
pub async fn sessions(
    State(state): State<AppState>,
    Authorized(p): Authorized,
) -> Result<Json<Vec<SessionInfo>>, ApiError> {
    let user = p.require_human()?;
    let current = p.session.as_ref().map(|(id, _)| *id);
    Ok(Json(
        state
            .store
            .sessions_list(user.id, current, now_secs())
            .await?,
    ))
}

/// Revokes one of the caller's own sessions.
#[utoipa::path(delete, path = "/api/v1/auth/sessions/{id}", tag = "auth",
    params(("id" = String, Path, description = "Session id from GET /auth/sessions")),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 204, description = "Revoked"), (status = 404, description = "No such live session of yours")))]
pub async fn revoke_session(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Authorized(p): Authorized,
) -> Result<StatusCode, ApiError> {
    let user = p.require_human()?;
    if !state
        .store
        .session_revoke_public(user.id, id.clone())
        .await?
    {
        return Err(ApiError::not_found());
    }
    record(
        &state,
        audit::Draft::new(p.actor(), "auth.session.revoke", audit::Outcome::Success)
            .target(format!("session:{id}"))
            .ip(p.client.ip),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct RevokedCount {
    revoked: usize,
}

/// Revokes every session of the caller, this one included.
#[utoipa::path(post, path = "/api/v1/auth/sessions/revoke-all", tag = "auth",
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "All sessions revoked", body = RevokedCount)))]
pub async fn revoke_all(
    State(state): State<AppState>,
    Authorized(p): Authorized,
) -> Result<Json<RevokedCount>, ApiError> {
    let user = p.require_human()?;
    let revoked = state.store.sessions_revoke_all(user.id).await?;
    record(
        &state,
        audit::Draft::new(
            p.actor(),
            "auth.sessions.revoke_all",
            audit::Outcome::Success,
        )
        .target(format!("user:{}", user.id))
        .ip(p.client.ip)
        .detail("revoked", revoked),
    )
    .await?;
    Ok(Json(RevokedCount { revoked }))
}
