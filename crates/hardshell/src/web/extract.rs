//! Authentication extractors: who is calling, and may they call this route.
//!
//! - [`Principal`] authenticates a request: `Authorization: Bearer api-…`
//!   or `Bearer lb-…` first, else the `hs_session` cookie. A cookie request
//!   that changes state must carry `X-CSRF-Token` matching its session and
//!   an `Origin` from `AppState::origins` (403 `csrf_failed`). Agent keys
//!   hit their own per-minute limit here, after authentication (429).
//!   Use it with `principal.require_role(Role::Admin)?`,
//!   `principal.require_owner()?`, `principal.require_human()?` or
//!   `principal.require_permission(perm)?`; every `require_*` except
//!   `require_permission` refuses agent keys.
//! - [`Authorized`] is a `Principal` that also passed the route's row in
//!   `auth::permissions::ROUTES` (a route missing there is refused).
//! - [`Unauthenticated`] gives the client address on public routes and
//!   applies the per-IP limit.
//!
//! Never trusts `X-Forwarded-For` from an untrusted peer, never accepts a
//! credential from the query string, and never logs a credential.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, header};
use zeroize::Zeroizing;

use super::client_ip::{ClientAddr, client_addr};
use super::{ApiError, AppState};
use crate::auth::permissions::{Access, Caller, Decision, Permission, rule_for};
use crate::auth::throttle::retry_secs;
use crate::auth::tokens::{self, Kind};
use crate::auth::{Role, now_secs};
use crate::store::auth::{AgentKeyRow, SessionKind};
use crate::store::users::UserRow;

/// Name of the web session cookie.
pub const SESSION_COOKIE: &str = "hs_session";
/// Header that carries the session's CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// How the request authenticated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthVia {
    /// The `hs_session` cookie (CSRF-checked on writes).
    Cookie,
    /// An `api-` bearer token.
    Bearer,
    /// An `lb-` agent key presented directly.
    AgentKey,
}

/// Who is calling.
#[derive(Clone, Debug)]
pub enum Identity {
    User(UserRow),
    AgentKey(AgentKeyRow),
}

/// An authenticated caller.
#[derive(Clone, Debug)]
pub struct Principal {
    pub identity: Identity,
    pub via: AuthVia,
    /// The session (row id, public id) the credential belongs to, if any.
    pub session: Option<(i64, String)>,
    pub client: ClientAddr,
}

fn denied(msg: &str) -> ApiError {
    ApiError::forbidden(msg.to_string())
}

impl Principal {
    /// The audit actor: the user, or the agent key by its public id.
    pub fn actor(&self) -> audit::Actor {
        match &self.identity {
            Identity::User(u) => audit::Actor::user(u.id.to_string()),
            Identity::AgentKey(k) => audit::Actor::agent_key(k.id.clone()),
        }
    }

    pub fn user(&self) -> Option<&UserRow> {
        match &self.identity {
            Identity::User(u) => Some(u),
            Identity::AgentKey(_) => None,
        }
    }

    /// The user whose conversation memberships bound this caller: the user
    /// themself, or the human who created the agent key (a key never sees
    /// more than its creator). `None` for a key whose creator is gone.
    pub fn membership_user(&self) -> Option<i64> {
        match &self.identity {
            Identity::User(u) => Some(u.id),
            Identity::AgentKey(k) => k.created_by,
        }
    }

    /// A human of any role; agent keys get 403.
    pub fn require_human(&self) -> Result<&UserRow, ApiError> {
        self.user()
            .ok_or_else(|| denied("agent keys cannot use this route"))
    }

    /// A human with at least `min`; agent keys get 403.
    pub fn require_role(&self, min: Role) -> Result<&UserRow, ApiError> {
        let user = self.require_human()?;
        if user.role.at_least(min) {
            Ok(user)
        } else {
            Err(denied(&format!("this needs the {min} role or higher")))
        }
    }

    pub fn require_owner(&self) -> Result<&UserRow, ApiError> {
        self.require_role(Role::Owner)
    }

    /// An agent key holding `perm`, or a human of at least member rank.
    pub fn require_permission(&self, perm: Permission) -> Result<(), ApiError> {
        self.require(Access::Resource {
            min_role: Role::Member,
            perm,
        })
    }

    /// Checks one matrix rule.
    pub fn require(&self, access: Access) -> Result<(), ApiError> {
        let caller = match &self.identity {
            Identity::User(u) => Caller::Human(u.role),
            // A key is only ever authenticated together with its creator's
            // current role; without it, refuse (fail closed).
            Identity::AgentKey(k) => match k.creator_role {
                Some(creator) => Caller::AgentKey {
                    granted: &k.permissions,
                    creator,
                },
                None => return Err(denied("you may not use this route")),
            },
        };
        match access.decide(&caller) {
            Decision::Allow => Ok(()),
            Decision::Deny => Err(denied("you may not use this route")),
        }
    }
}

/// The TCP peer, as the server recorded it.
fn peer(parts: &Parts) -> Result<SocketAddr, ApiError> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0)
        .ok_or_else(|| ApiError::internal(&"connection info missing"))
}

/// The client address of a request, honouring only trusted proxies.
pub fn client_of(parts: &Parts, state: &AppState) -> Result<ClientAddr, ApiError> {
    Ok(client_addr(
        peer(parts)?,
        &parts.headers,
        &state.trusted_proxies,
    ))
}

/// The value of cookie `name`, if sent.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    // The `cookie` crate parses each `Cookie:` header (RFC 6265 pairs,
    // quoting, stray whitespace); a malformed pair is skipped, never fatal.
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(::cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_string())
}

fn is_state_changing(m: &Method) -> bool {
    !matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Audits a rate-limit or lockout hit, once per principal and minute (an
/// attack cannot flood the log), and gives back the refusal to send.
pub(crate) async fn limit_hit(
    state: &AppState,
    actor: audit::Actor,
    principal: String,
    client: ClientAddr,
    limit: &'static str,
    refusal: ApiError,
) -> ApiError {
    let minute = u64::try_from(now_secs()).unwrap_or_default() / 60;
    if state
        .throttles
        .first_limit_hit_in_minute(&principal, minute)
    {
        let draft = audit::Draft::new(actor, "ratelimit.hit", audit::Outcome::Denied)
            .target(principal)
            .ip(client.ip)
            .detail("limit", limit);
        if let Err(e) = state.audit.record(draft).await {
            return ApiError::internal(&e);
        }
    }
    refusal
}

fn too_many(wait: std::time::Duration, msg: &str) -> ApiError {
    let mut e = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        msg.to_string(),
    );
    e.retry_after = Some(retry_secs(wait));
    e
}

/// How an expired or revoked key was presented, which decides the refusal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyUse {
    /// `Authorization: Bearer lb-…` on an API route: a recognised but dead
    /// key is 403 with `key_expired` or `key_revoked`, so its holder learns
    /// that retrying is pointless (an unknown key stays 401).
    Direct,
    /// Behind an `api-` bearer token, or in the token grant: 401, like any
    /// other dead session or failed sign-in.
    Session,
}

fn key_dead(code: &'static str, msg: &str) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, code, msg.to_string())
}

/// The refusal for an `lb-` key that is not live: 403 `key_revoked` for a
/// revoked key (its use audited at most once a minute per key), else 401.
async fn unknown_or_revoked(
    state: &AppState,
    hash: crate::store::auth::TokenHash,
    client: ClientAddr,
) -> ApiError {
    let id = match state.store.agent_key_revoked(hash).await {
        Ok(Some(id)) => id,
        Ok(None) => return ApiError::unauthorized(),
        Err(e) => return e.into(),
    };
    // A revoked key in use may be a leaked one: worth a line, but at most
    // one a minute per key, so its holder cannot flood the log.
    let minute = u64::try_from(now_secs()).unwrap_or_default() / 60;
    if state
        .throttles
        .first_limit_hit_in_minute(&format!("revoked-key:{id}"), minute)
    {
        let draft = audit::Draft::new(
            audit::Actor::agent_key(id.clone()),
            "auth.key_revoked_used",
            audit::Outcome::Denied,
        )
        .target(format!("key:{id}"))
        .ip(client.ip);
        if let Err(e) = state.audit.record(draft).await {
            return ApiError::internal(&e);
        }
    }
    key_dead("key_revoked", "this agent key was revoked")
}

/// Checks a usable agent key: not expired, within its rate limit. Records
/// `last_used_at`. Expiry and limit hits are audited under the key's id.
pub async fn admit_agent_key(
    state: &AppState,
    key: &AgentKeyRow,
    client: ClientAddr,
    used: KeyUse,
) -> Result<(), ApiError> {
    let now = now_secs();
    if key.expires_at.is_some_and(|e| e <= now) {
        state
            .audit
            .record(
                audit::Draft::new(
                    audit::Actor::agent_key(key.id.clone()),
                    "auth.key_expired",
                    audit::Outcome::Denied,
                )
                .target(format!("key:{}", key.id))
                .ip(client.ip),
            )
            .await
            .map_err(|e| ApiError::internal(&e))?;
        return Err(match used {
            KeyUse::Direct => key_dead("key_expired", "this agent key has expired"),
            KeyUse::Session => ApiError::unauthorized(),
        });
    }
    if let Some(limit) = key.rate_limit_per_minute
        && let Err(wait) = state.throttles.check_key(key.row_id, limit)
    {
        let refusal = too_many(wait, "this key's rate limit is exhausted");
        return Err(limit_hit(
            state,
            audit::Actor::agent_key(key.id.clone()),
            format!("key:{}", key.id),
            client,
            "key_per_minute",
            refusal,
        )
        .await);
    }
    if key.last_used_at.is_none_or(|t| now > t) {
        state.store.agent_key_touch(key.row_id, now).await?;
    }
    Ok(())
}

async fn from_bearer(
    state: &AppState,
    token: &str,
    client: ClientAddr,
) -> Result<Principal, ApiError> {
    let hash = tokens::hash(&state.pepper, token);
    match Kind::of(token) {
        Some(Kind::Access) => {
            let s = state
                .store
                .session_by_token(hash, "access", now_secs(), tokens::SESSION_IDLE_SECS)
                .await?
                .ok_or_else(ApiError::unauthorized)?;
            let identity = match (s.user, s.agent_key) {
                (Some(u), _) => Identity::User(u),
                (None, Some(k)) => {
                    admit_agent_key(state, &k, client, KeyUse::Session).await?;
                    Identity::AgentKey(k)
                }
                (None, None) => return Err(ApiError::unauthorized()),
            };
            Ok(Principal {
                identity,
                via: AuthVia::Bearer,
                session: Some((s.session_id, s.public_id)),
                client,
            })
        }
        Some(Kind::AgentKey) => {
            let Some(key) = state.store.agent_key_by_hash(hash).await? else {
                return Err(unknown_or_revoked(state, hash, client).await);
            };
            admit_agent_key(state, &key, client, KeyUse::Direct).await?;
            Ok(Principal {
                identity: Identity::AgentKey(key),
                via: AuthVia::AgentKey,
                session: None,
                client,
            })
        }
        _ => Err(ApiError::unauthorized()),
    }
}

fn csrf_failed(msg: &str) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "csrf_failed", msg.to_string())
}

async fn from_cookie(
    state: &AppState,
    parts: &Parts,
    value: &str,
    client: ClientAddr,
) -> Result<Principal, ApiError> {
    if Kind::of(value) != Some(Kind::Session) {
        return Err(ApiError::unauthorized());
    }
    let now = now_secs();
    let s = state
        .store
        .session_by_token(
            tokens::hash(&state.pepper, value),
            "cookie",
            now,
            tokens::SESSION_IDLE_SECS,
        )
        .await?
        .ok_or_else(ApiError::unauthorized)?;
    let (Some(user), SessionKind::Web) = (s.user, s.kind) else {
        return Err(ApiError::unauthorized());
    };
    if is_state_changing(&parts.method) {
        let sent = parts
            .headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(|v| Zeroizing::new(v.trim().to_string()));
        let expected = s.csrf_hash.as_deref().unwrap_or_default();
        let matches =
            sent.is_some_and(|t| tokens::hashes_equal(&tokens::hash(&state.pepper, &t), expected));
        if !matches {
            return Err(csrf_failed("missing or wrong X-CSRF-Token"));
        }
        let origin_ok = parts
            .headers
            .get(header::ORIGIN)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|o| state.origins.iter().any(|allowed| allowed == o));
        if !origin_ok {
            return Err(csrf_failed("missing or foreign Origin"));
        }
    }
    if now - s.last_seen_at >= tokens::SESSION_TOUCH_SECS {
        state.store.session_touch(s.session_id, now).await?;
    }
    Ok(Principal {
        identity: Identity::User(user),
        via: AuthVia::Cookie,
        session: Some((s.session_id, s.public_id)),
        client,
    })
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let client = client_of(parts, state)?;
        // A bearer wins over a cookie: such a request is not a browser
        // form post riding on ambient credentials.
        if let Some(auth) = parts.headers.get(header::AUTHORIZATION) {
            let token = auth
                .to_str()
                .ok()
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::trim)
                .ok_or_else(ApiError::unauthorized)?;
            return from_bearer(state, token, client).await;
        }
        if let Some(value) = cookie(&parts.headers, SESSION_COOKIE) {
            let value = Zeroizing::new(value);
            return from_cookie(state, parts, &value, client).await;
        }
        Err(ApiError::unauthorized())
    }
}

/// A caller allowed by the permission matrix for the matched route.
#[derive(Clone, Debug)]
pub struct Authorized(pub Principal);

impl FromRequestParts<AppState> for Authorized {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let path = parts
            .extensions
            .get::<MatchedPath>()
            .map_or("", MatchedPath::as_str);
        let Some(rule) = rule_for(parts.method.as_str(), path) else {
            tracing::error!(%path, method = %parts.method, "route has no access rule; refusing");
            return Err(denied("this route has no access rule"));
        };
        let principal = Principal::from_request_parts(parts, state).await?;
        principal.require(rule.access)?;
        Ok(Authorized(principal))
    }
}

/// A public route's caller: the client address, after the per-IP limit.
#[derive(Clone, Copy, Debug)]
pub struct Unauthenticated(pub ClientAddr);

impl FromRequestParts<AppState> for Unauthenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let client = client_of(parts, state)?;
        // Every public write takes JSON. Refusing anything else before it
        // counts means a web page's cross-site `text/plain` POSTs (which
        // need no preflight) cannot spend this address's budget and lock
        // its owner out of the login page.
        if parts.method != axum::http::Method::GET && !is_json(&parts.headers) {
            return Err(ApiError::new(
                axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as application/json",
            ));
        }
        if let Err(wait) = state.throttles.check_unauthenticated(client.ip) {
            let refusal = too_many(wait, "too many requests from this address");
            return Err(limit_hit(
                state,
                audit::Actor::system(),
                format!("ip:{}", client.ip),
                client,
                "unauthenticated_per_ip",
                refusal,
            )
            .await);
        }
        Ok(Unauthenticated(client))
    }
}

/// Whether the request declares a JSON body (`application/json`, any
/// parameters such as `charset`).
fn is_json(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
}

/// Adds the `bearer` and `cookie` security schemes to the OpenAPI document.
pub struct SecuritySchemes;

impl utoipa::Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{
            ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme,
        };
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("api-… bearer token or lb-… agent key")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                SESSION_COOKIE,
                "Web session; state-changing requests also need X-CSRF-Token and a same-origin Origin",
            ))),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_parsing_finds_only_the_named_cookie() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            "a=1; hs_session=hss-x; b=2".parse().unwrap(),
        );
        assert_eq!(cookie(&h, "hs_session").as_deref(), Some("hss-x"));
        assert_eq!(cookie(&h, "hs"), None);
        assert!(is_state_changing(&Method::DELETE));
        assert!(!is_state_changing(&Method::GET));
    }

    #[test]
    fn every_identity_route_has_a_matrix_row_and_vice_versa() {
        let doc = super::super::openapi_document();
        let mut documented = Vec::new();
        for (path, item) in &doc.paths.paths {
            let ops = [
                ("GET", &item.get),
                ("POST", &item.post),
                ("PATCH", &item.patch),
                ("PUT", &item.put),
                ("DELETE", &item.delete),
            ];
            for (m, op) in ops {
                if op.is_some() {
                    documented.push((m, path.clone()));
                }
            }
        }
        let ours = |p: &str| {
            [
                "/api/v1/auth",
                "/api/v1/users",
                "/api/v1/keys",
                "/api/v1/setup",
            ]
            .iter()
            .any(|prefix| p.starts_with(prefix))
        };
        // Rows for other helpers' routes (audit) may land before the route.
        for r in crate::auth::permissions::ROUTES
            .iter()
            .filter(|r| ours(r.path))
        {
            assert!(
                documented
                    .iter()
                    .any(|(m, p)| *m == r.method && p == r.path),
                "{} {} is in the matrix but not routed",
                r.method,
                r.path
            );
        }
        for (m, p) in &documented {
            if ours(p) || p.starts_with("/api/v1/audit") {
                assert!(rule_for(m, p).is_some(), "{m} {p} has no matrix row");
            }
        }
    }
}
