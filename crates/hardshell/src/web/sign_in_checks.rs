//! The credential checks behind the sign-in routes: reserving an attempt
//! before any expensive step, the bounded password hash, device cookies,
//! and the audited answers for failures and lockouts.
//!
//! Owns the order of those steps for passwords, identity keys and API-key
//! grants. It must never hash before the attempt is reserved, and never
//! answer differently for an account that does not exist.

use std::time::Instant;

use axum::http::StatusCode;
use zeroize::Zeroizing;

use super::client_ip::ClientAddr;
use super::extract::limit_hit;
use super::{ApiError, AppState};
use crate::auth::device;
use crate::auth::hash_gate::HashGateError;
use crate::auth::password;
use crate::auth::throttle::{LoginAttempt, retry_secs};
use crate::auth::tokens::{self, Kind};
use crate::store::users::UserRow;

/// The start of the log line written for every failed sign-in; the
/// fail2ban filter in `deploy/fail2ban/` matches it. Changing it breaks
/// deployed filters.
pub const AUTH_FAILURE_PREFIX: &str = "authentication failure from";

pub(super) fn invalid_credentials() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
        "the credentials are not valid",
    )
}

pub(super) fn locked(wait: std::time::Duration) -> ApiError {
    let mut e = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_attempts",
        "too many failed attempts; try again later",
    );
    e.retry_after = Some(retry_secs(wait));
    e
}

/// A sign-in refused by the lockout; audited once per address and minute.
pub(super) async fn lockout_refusal(
    state: &AppState,
    client: ClientAddr,
    wait: std::time::Duration,
) -> ApiError {
    let principal = format!("ip:{}", client.ip);
    let refusal = locked(wait);
    limit_hit(
        state,
        audit::Actor::system(),
        principal,
        client,
        "login_lockout",
        refusal,
    )
    .await
}

/// Counts a failed login and audits it (and a lockout, if one starts).
pub(super) async fn login_failed(
    state: &AppState,
    client: ClientAddr,
    attempt: LoginAttempt<'_>,
    account: Option<&str>,
    method: &str,
) -> ApiError {
    let lock = attempt.failed(Instant::now());
    // One line per failure in a stable format, for fail2ban
    // (`deploy/fail2ban/`): only the parsed address and a fixed method
    // name, never the account name a client typed.
    tracing::warn!("{AUTH_FAILURE_PREFIX} {} ({method})", client.ip);
    let target = account.map(|a| format!("user:{a}")).unwrap_or_default();
    let mut drafts = vec![
        audit::Draft::new(
            audit::Actor::system(),
            "auth.login",
            audit::Outcome::Failure,
        )
        .target(target.clone())
        .ip(client.ip)
        .detail("method", method),
    ];
    if let Some(d) = lock {
        drafts.push(
            audit::Draft::new(
                audit::Actor::system(),
                "auth.lockout",
                audit::Outcome::Denied,
            )
            .target(target)
            .ip(client.ip)
            .detail("seconds", d.as_secs()),
        );
    }
    match state.audit.record_many(drafts).await {
        Ok(_) => invalid_credentials(),
        Err(e) => ApiError::internal(&e),
    }
}

/// Too many password checks are running: come back in a second.
pub(super) fn hashing_busy(e: HashGateError) -> ApiError {
    match e {
        HashGateError::Busy => {
            let mut e = ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "too many sign-ins at once; try again in a moment",
            );
            e.retry_after = Some(1);
            e
        }
        HashGateError::Failed => ApiError::internal(&e),
    }
}

/// Hashes a new password under the server's bound on concurrent hashing.
pub(super) async fn hash_new_password(
    state: &AppState,
    password: Zeroizing<String>,
) -> Result<String, ApiError> {
    state
        .throttles
        .hashing
        .run(move || password::hash(&password))
        .await
        .map_err(hashing_busy)?
        .map_err(|e| ApiError::internal(&e))
}

/// Username and password → the user, with back-off and equal timing. The
/// attempt is reserved before the hash, so concurrent guesses cannot slip
/// past the lockout.
pub(super) async fn check_password(
    state: &AppState,
    client: ClientAddr,
    username: &str,
    password: Zeroizing<String>,
    device_cookie: Option<&str>,
) -> Result<UserRow, ApiError> {
    // A browser that signed in here before is counted on its own, so
    // strangers' guesses cannot lock it out (auth/device.rs).
    let account = device_cookie
        .and_then(|c| device::verify(&state.pepper, username, c))
        .unwrap_or_else(|| username.to_string());
    let attempt = match state
        .throttles
        .reserve_login(client.ip, Some(&account), Instant::now())
    {
        Ok(a) => a,
        Err(wait) => return Err(lockout_refusal(state, client, wait).await),
    };
    let found = state.store.user_login_lookup(username.to_string()).await?;
    let user = state
        .throttles
        .hashing
        .run(move || match found {
            Some((user, Some(phc))) if !user.disabled => {
                password::verify(&password, &phc).then_some(user)
            }
            _ => {
                password::verify_dummy(&password);
                None
            }
        })
        .await
        .map_err(hashing_busy)?;
    match user {
        Some(u) => {
            attempt.succeeded();
            Ok(u)
        }
        None => Err(login_failed(state, client, attempt, Some(username), "password").await),
    }
}

/// A `hu-` identity key → its user, with per-IP back-off.
pub(super) async fn check_human_key(
    state: &AppState,
    client: ClientAddr,
    key: &str,
) -> Result<UserRow, ApiError> {
    let attempt = match state
        .throttles
        .reserve_login(client.ip, None, Instant::now())
    {
        Ok(a) => a,
        Err(wait) => return Err(lockout_refusal(state, client, wait).await),
    };
    let user = if Kind::of(key) == Some(Kind::HumanKey) {
        state
            .store
            .identity_key_user(tokens::hash(&state.pepper, key))
            .await?
    } else {
        None
    };
    match user {
        Some(u) => {
            attempt.succeeded();
            Ok(u)
        }
        None => Err(login_failed(state, client, attempt, None, "human_key").await),
    }
}
