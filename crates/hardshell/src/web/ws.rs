//! `GET /api/v1/ws`: the upgrade to the live event stream.
//!
//! The order of checks is fixed and matters: the `Origin` first, before any
//! credential is looked at (a foreign page must not even learn whether the
//! ambient cookie works; loopback and bearer clients get no exemption), then
//! the credential and the route's matrix row, then the upgrade itself. The
//! connection (filtering, limits, pings) lives in `ws_conn.rs`.
//!
//! Never accepts a credential from the query string, and never hands the
//! connection an event source before its membership set is loaded.

#[path = "ws_conn.rs"]
mod conn;

use std::collections::HashSet;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::IntoParams;

use super::extract::{Authorized, client_of};
use super::{ApiError, AppState, record};
use crate::auth::permissions::rule_for;
use crate::chat::hub::Event;

/// The route, as registered and as named in the permission matrix.
pub const PATH: &str = "/api/v1/ws";
/// At most this many missed messages are replayed for `?since=`.
pub const MAX_REPLAY: usize = 500;
/// Bytes read from the socket per call, and the read buffer every
/// connection holds for its whole life. tungstenite zero-fills this much
/// of the buffer on every read attempt (one per wake-up for a hub event),
/// and with 10,000 idle connections its size is most of their memory.
/// Clients send only small frames (typing, ping: under 100 bytes); a
/// larger one, up to the frame limit, still arrives, in more reads.
const READ_BUFFER: usize = 512;
/// Frames queued before they are written to the socket. Each connection's
/// write buffer keeps the largest size it ever reached, so this bounds
/// what a burst of events leaves behind on every connection (the 128 KiB
/// default let one burst leave tens of KiB on each). A flush still writes
/// everything queued; a burst goes out in writes of about this size.
const WRITE_BUFFER: usize = 2048;
/// How much of a refused Origin value goes into the audit trail.
const ORIGIN_AUDIT_CHARS: usize = 200;

/// Passes only when `Origin` is exactly one of the server's origins.
/// Placed before the auth extractor so a refused Origin costs no
/// credential lookup at all.
pub struct AllowedOrigin;

fn truncated(value: &[u8]) -> String {
    String::from_utf8_lossy(value)
        .chars()
        .take(ORIGIN_AUDIT_CHARS)
        .collect()
}

impl FromRequestParts<AppState> for AllowedOrigin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let origin = parts.headers.get(header::ORIGIN);
        let allowed = origin
            .and_then(|v| v.to_str().ok())
            .is_some_and(|o| state.origins.iter().any(|a| a == o));
        if allowed {
            return Ok(AllowedOrigin);
        }
        let client = client_of(parts, state)?;
        // Refusals are audited, but an address hammering the endpoint
        // shares the unauthenticated budget so it cannot flood the log.
        if state.throttles.check_unauthenticated(client.ip).is_ok() {
            let (reason, shown) = match origin {
                Some(v) => ("foreign", truncated(v.as_bytes())),
                None => ("missing", String::new()),
            };
            record(
                state,
                audit::Draft::new(
                    audit::Actor::system(),
                    "ws.origin_refused",
                    audit::Outcome::Denied,
                )
                .target(PATH)
                .ip(client.ip)
                .detail("reason", reason)
                .detail("origin", shown),
            )
            .await?;
        } else {
            tracing::debug!(ip = %client.ip, "websocket origin refused (not audited: rate limited)");
        }
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden_origin",
            "missing or foreign Origin",
        ))
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct WsParams {
    /// Replay `message.created` for every message with a greater id in
    /// the caller's conversations (oldest first, at most 500) before live
    /// events.
    #[param(minimum = 0, maximum = 9223372036854775807_i64)]
    since: Option<i64>,
}

/// A request that is not a WebSocket handshake: 426 (or 400 for a
/// malformed handshake), JSON like every other error.
fn upgrade_refused(e: &WebSocketUpgradeRejection) -> Response {
    use WebSocketUpgradeRejection as R;
    match e {
        R::InvalidWebSocketVersionHeader(_) | R::WebSocketKeyHeaderMissing(_) => {
            ApiError::bad_request("malformed WebSocket handshake").into_response()
        }
        _ => {
            let mut resp = ApiError::new(
                StatusCode::UPGRADE_REQUIRED,
                "upgrade_required",
                "this endpoint speaks WebSocket only",
            )
            .into_response();
            resp.headers_mut()
                .insert(header::UPGRADE, HeaderValue::from_static("websocket"));
            resp
        }
    }
}

/// Opens the live event stream (JSON text frames, see the chat contract).
#[utoipa::path(get, path = "/api/v1/ws", tag = "chat", params(WsParams),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 101, description = "Switched to WebSocket; JSON text frames follow"),
        (status = 400, description = "Bad query or malformed handshake"),
        (status = 401, description = "No valid credential"),
        (status = 403, description = "Missing or foreign Origin (`forbidden_origin`), or not allowed"),
        (status = 426, description = "Not a WebSocket upgrade request")))]
pub async fn connect(
    State(state): State<AppState>,
    _origin: AllowedOrigin,
    Authorized(p): Authorized,
    headers: HeaderMap,
    Query(q): Query<WsParams>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let upgrade = match upgrade {
        Ok(u) => u,
        Err(e) => return Ok(upgrade_refused(&e)),
    };
    if q.since.is_some_and(|s| s < 0) {
        return Err(ApiError::bad_request("since must be a message id (>= 0)"));
    }
    let credential =
        conn::Credential::of(&state, &headers, p.via).ok_or_else(ApiError::unauthorized)?;
    let access = rule_for("GET", PATH)
        .map(|r| r.access)
        .ok_or_else(|| ApiError::forbidden("this route has no access rule"))?;

    // Subscribe before reading membership and history: anything published
    // from here on is buffered, so nothing falls between the two.
    let rx = state.hub.subscribe();
    let member_user = p.membership_user();
    let convs: HashSet<i64> = match member_user {
        Some(u) => state
            .store
            .conversation_ids_for_user(u)
            .await?
            .into_iter()
            .collect(),
        None => HashSet::new(),
    };
    let missed = match (q.since, member_user) {
        (Some(since), Some(u)) => state.store.messages_since(u, since, MAX_REPLAY).await?,
        _ => Vec::new(),
    };
    let replay_max = missed.last().map(|m| m.id);
    let replay = missed
        .iter()
        .map(|m| Event::new("message.created", m.conversation_id, m).map(|e| e.json))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ApiError::internal(&e))?;
    let can_post = conn::can_post(&state, &p).await?;

    let frame = state.config.limits.ws_frame_bytes;
    let live = conn::Live::new(state, p, credential, access, convs, can_post, replay_max);
    Ok(upgrade
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .max_frame_size(frame)
        .max_message_size(frame)
        .on_failed_upgrade(|e| tracing::debug!(error = %e, "websocket upgrade failed"))
        .on_upgrade(move |socket| live.run(socket, rx, replay)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audited_origin_is_truncated_to_200_chars() {
        let long = "x".repeat(1000);
        assert_eq!(truncated(long.as_bytes()).chars().count(), 200);
        assert_eq!(truncated(b"https://evil.example"), "https://evil.example");
        // Invalid UTF-8 is shown, not refused.
        assert_eq!(truncated(&[0xff, b'a']), "\u{fffd}a");
    }

    #[test]
    fn the_route_has_a_matrix_row_and_is_documented() {
        assert!(rule_for("GET", PATH).is_some());
        let doc = super::super::openapi_document();
        assert!(doc.paths.paths.get(PATH).is_some_and(|p| p.get.is_some()));
    }
}
