//! `POST /api/v1/channels/telegram/webhook`: Telegram's webhook mode.
//!
//! Thin and unauthenticated like the signed-webhook route: it takes an
//! inbound slot before reading a byte, answers a missing or wrong
//! `X-Telegram-Bot-Api-Secret-Token` (or webhook mode being off) with the
//! same bare 401, caps the body, and hands the update to
//! `Channels::telegram_update`. The secret comparison is
//! `channels::telegram_webhook`'s.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::Serialize;
use utoipa::ToSchema;

use super::{ApiError, AppState};
use crate::channels::telegram::Update;
use crate::channels::telegram_webhook::{MAX_BODY, SECRET_HEADER, secret_matches};

#[derive(Debug, Serialize, ToSchema)]
pub struct UpdateTaken {
    /// Always true: the update was stored, answered or dropped by the
    /// pairing gate (Telegram is not told which).
    ok: bool,
}

/// Receives one update from Telegram (webhook mode).
#[utoipa::path(post, path = "/api/v1/channels/telegram/webhook", tag = "channels",
    params(("X-Telegram-Bot-Api-Secret-Token" = String, Header,
        description = "The secret_token given to setWebhook")),
    request_body(content = Object, description = "A Telegram Update"),
    responses((status = 200, description = "Taken", body = UpdateTaken),
        (status = 400, description = "Not a Telegram update"),
        (status = 401, description = "Webhook mode is off, or the secret token is missing or wrong"),
        (status = 413, description = "Body over 256 KiB"),
        (status = 503, description = "Too many inbound requests at once")))]
pub async fn webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<UpdateTaken>, ApiError> {
    let channels = &state.channels;
    let _slot = super::channels_routes::inbound_slot(channels)?;
    let secret = channels
        .telegram_webhook_secret()
        .ok_or_else(ApiError::unauthorized)?;
    let given = headers.get(SECRET_HEADER).map(|v| v.as_bytes());
    if !secret_matches(&secret, given) {
        return Err(ApiError::unauthorized());
    }
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the body is over {MAX_BODY} bytes"),
        )
    };
    let declared = headers
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_BODY) {
        return Err(too_large());
    }
    let bytes = axum::body::to_bytes(body, MAX_BODY)
        .await
        .map_err(|_| too_large())?;
    let update: Update = serde_json::from_slice(&bytes)
        .map_err(|_| ApiError::bad_request("not a Telegram update"))?;
    channels
        .telegram_update(update)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    Ok(Json(UpdateTaken { ok: true }))
}
