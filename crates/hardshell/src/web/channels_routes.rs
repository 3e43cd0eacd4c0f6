//! `POST /api/v1/channels/{name}/inbound` (a signed webhook) and the
//! pairing routes under `/api/v1/channels/pairing` and
//! `/api/v1/channels/senders`.
//!
//! Thin: signatures are checked by `channels::webhook`, the pairing gate
//! and queue are `channels`', decisions and audit `channels::pairing`'s.
//! The inbound route takes a slot before it reads a byte, answers every
//! authentication failure (unknown channel, missing, stale, replayed or
//! wrong signature) with the same bare 401, and caps the body. Pairing
//! decisions are the owner's; invites may also be minted by admins.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::Authorized;
use super::{ApiError, AppState};
use crate::auth::Role;
use crate::channels::pairing::{self, Ctx, PairingError};
use crate::channels::{ChannelError, Inbound, Ingested, webhook};
use crate::store::channels::{InviteRow, RequestRow, SenderRow};

/// An inbound message as the webhook sender posts it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InboundBody {
    /// The sender system's id for this message (redeliveries reuse it).
    #[schema(min_length = 1, max_length = 128)]
    id: String,
    /// The sender's stable id in that system.
    #[schema(min_length = 1, max_length = 128)]
    sender: String,
    /// A display name (shown to the owner; never identifies anyone). More
    /// than 128 characters is refused: it is signed input from the
    /// integrator, who can send a shorter one.
    #[serde(default)]
    #[schema(max_length = 128)]
    name: String,
    /// Not blank.
    #[schema(min_length = 1, max_length = 16000)]
    text: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InboundResult {
    /// `queued`, `duplicate` or `accepted` (pairing or dropped: the
    /// caller is not told which).
    status: &'static str,
}

/// A slot for one unauthenticated inbound request (signed webhooks and
/// Telegram's webhook share them), taken before any body is read, any MAC
/// computed or the database touched; none free is a 503.
pub(super) fn inbound_slot(
    channels: &crate::channels::Channels,
) -> Result<tokio::sync::OwnedSemaphorePermit, ApiError> {
    channels.inflight.clone().try_acquire_owned().map_err(|_| {
        let mut e = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            "too many inbound requests; retry shortly",
        );
        e.retry_after = Some(1);
        e
    })
}

fn unauthorized() -> ApiError {
    ApiError::unauthorized()
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Receives one signed message for webhook channel `name`.
#[utoipa::path(post, path = "/api/v1/channels/{name}/inbound", tag = "channels",
    params(("name" = String, Path, description = "Webhook channel name"),
        ("X-Hardshell-Timestamp" = String, Header, description = "Unix seconds"),
        ("X-Hardshell-Signature" = String, Header, description = "sha256=HEX of HMAC(secret, timestamp.body)")),
    request_body = InboundBody,
    responses((status = 202, description = "Taken", body = InboundResult),
        (status = 400, description = "Not JSON"),
        (status = 401, description = "Unknown channel, or missing, stale, replayed or wrong signature"),
        (status = 413, description = "Body over the channel's cap"),
        (status = 422, description = "An unknown field, or an id, sender, name or text outside its limits"),
        (status = 429, description = "The sender is over their limit"),
        (status = 503, description = "Too many inbound requests at once")))]
pub async fn inbound(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<InboundResult>), ApiError> {
    let channels = &state.channels;
    let _slot = inbound_slot(channels)?;
    let hook = channels.hook(&name).ok_or_else(unauthorized)?;
    let (ts, sig) = (
        header(&headers, webhook::TIMESTAMP_HEADER),
        header(&headers, webhook::SIGNATURE_HEADER),
    );
    let now = crate::auth::now_secs();
    // Cheap checks first: no headers or a stale time never costs a read.
    let fresh = ts
        .and_then(|t| t.trim().parse::<i64>().ok())
        .is_some_and(|t| (now - t).abs() <= webhook::WINDOW_SECS);
    if sig.is_none() || !fresh {
        return Err(unauthorized());
    }
    let cap = hook.config.max_body_bytes;
    let declared = header(&headers, "content-length").and_then(|v| v.parse::<usize>().ok());
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the body is over {cap} bytes"),
        )
    };
    if declared.is_some_and(|n| n > cap) {
        return Err(too_large());
    }
    let bytes = axum::body::to_bytes(body, cap)
        .await
        .map_err(|_| too_large())?;
    let secret = channels.hook_secret(hook).ok_or_else(unauthorized)?;
    let signature = webhook::verify(&secret, ts, sig, &bytes, now).map_err(|_| unauthorized())?;
    let channel = format!("webhook:{name}");
    if !state
        .store
        .channel_seen(&channel, signature, 2 * webhook::WINDOW_SECS)
        .await?
    {
        return Err(unauthorized());
    }
    let body: InboundBody = serde_json::from_slice(&bytes).map_err(|e| ApiError::json_body(&e))?;
    if body.name.chars().count() > crate::channels::MAX_ID_CHARS {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_message",
            format!(
                "name must be at most {} characters",
                crate::channels::MAX_ID_CHARS
            ),
        ));
    }
    let result = channels
        .ingest(Inbound {
            channel,
            message_key: body.id,
            external_id: body.sender,
            display: body.name,
            text: body.text,
            group: None,
        })
        .await;
    let status = match result {
        Ok(Ingested::Queued) => "queued",
        Ok(Ingested::Duplicate) => "duplicate",
        Ok(Ingested::Pairing | Ingested::Ignored) => "accepted",
        Ok(Ingested::RateLimited) => {
            let mut e = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "this sender is sending too fast",
            );
            e.retry_after = Some(60);
            return Err(e);
        }
        Err(ChannelError::Invalid(m)) => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_message",
                m,
            ));
        }
        Err(e) => return Err(ApiError::internal(&e)),
    };
    Ok((StatusCode::ACCEPTED, Json(InboundResult { status })))
}

impl From<PairingError> for ApiError {
    fn from(e: PairingError) -> Self {
        let msg = e.to_string();
        match e {
            PairingError::Locked => {
                let mut e = ApiError::new(StatusCode::TOO_MANY_REQUESTS, "locked_out", msg);
                e.retry_after = Some(pairing::LOCKOUT.as_secs());
                e
            }
            PairingError::NoSuchCode => ApiError::new(StatusCode::NOT_FOUND, "no_such_code", msg),
            PairingError::UnknownChannel(_) | PairingError::NoSuchUser => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", msg)
            }
            PairingError::Store(s) => s.into(),
            PairingError::Audit => ApiError::internal(&msg),
        }
    }
}

fn ctx(state: &AppState) -> Ctx<'_> {
    Ctx {
        store: &state.store,
        audit: &state.audit,
        pepper: state.channels.pepper(),
        guesses: &state.channels.guesses,
    }
}

#[derive(Serialize, ToSchema)]
pub struct PairingOverview {
    /// Pending requests, oldest first (never their codes).
    requests: Vec<RequestRow>,
    /// Paired and revoked senders, newest first.
    senders: Vec<SenderRow>,
}

/// Pending pairing requests and paired senders.
#[utoipa::path(get, path = "/api/v1/channels/pairing", tag = "channels",
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "Requests and senders", body = PairingOverview),
        (status = 403, description = "Not the owner")))]
pub async fn overview(
    State(state): State<AppState>,
    Authorized(_p): Authorized,
) -> Result<Json<PairingOverview>, ApiError> {
    Ok(Json(PairingOverview {
        requests: state.store.pairing_requests_pending().await?,
        senders: state.store.channel_senders().await?,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteBody {
    /// `telegram` or `webhook:NAME`.
    #[schema(max_length = 40, pattern = "^(telegram|webhook:[a-z0-9-]{1,32})$")]
    channel: String,
}

#[derive(Serialize, ToSchema)]
pub struct InviteCreated {
    /// Shown once: the person sends `/start CODE`.
    code: String,
    invite: InviteRow,
}

/// Mints a single-use invite code (15 minutes) for a channel.
#[utoipa::path(post, path = "/api/v1/channels/pairing/invites", tag = "channels",
    request_body = InviteBody,
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 201, description = "The code, shown once", body = InviteCreated),
        (status = 403, description = "Not an owner or admin"),
        (status = 422, description = "Unknown channel")))]
pub async fn invite(
    State(state): State<AppState>,
    Authorized(p): Authorized,
    Json(body): Json<InviteBody>,
) -> Result<(StatusCode, Json<InviteCreated>), ApiError> {
    let user = p.require_role(Role::Admin)?;
    if !state.channels.knows(&body.channel) {
        return Err(PairingError::UnknownChannel(body.channel).into());
    }
    let (code, invite) = pairing::invite(&ctx(&state), &body.channel, user.id, p.actor()).await?;
    Ok((
        StatusCode::CREATED,
        Json(InviteCreated {
            code: pairing::show(&code),
            invite,
        }),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecideBody {
    /// The code the person was given (case, spaces and dashes ignored).
    #[schema(min_length = 1, max_length = 64)]
    code: String,
    /// Approve only: the user the sender acts for (default: you).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 9223372036854775807_i64)]
    user_id: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct Decided {
    request: RequestRow,
    sender: Option<SenderRow>,
}

async fn decide(
    state: &AppState,
    p: &super::extract::Principal,
    body: DecideBody,
    approve: bool,
) -> Result<Json<Decided>, ApiError> {
    let user = p.require_role(Role::Owner)?;
    let link = match body.user_id {
        Some(id) => match state.store.user_by_id(id).await {
            Ok(u) if !u.disabled => u.id,
            Ok(_) | Err(crate::store::StoreError::NotFound) => {
                return Err(PairingError::NoSuchUser.into());
            }
            Err(e) => return Err(e.into()),
        },
        None => user.id,
    };
    let (request, sender) =
        pairing::decide(&ctx(state), &body.code, approve, user.id, link, p.actor()).await?;
    Ok(Json(Decided { request, sender }))
}

/// Approves the pending request with this code: the sender is paired.
#[utoipa::path(post, path = "/api/v1/channels/pairing/approve", tag = "channels",
    request_body = DecideBody,
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "Approved", body = Decided),
        (status = 403, description = "Not the owner"),
        (status = 404, description = "No pending request has that code"),
        (status = 422, description = "No such user"),
        (status = 429, description = "Too many wrong codes")))]
pub async fn approve(
    State(state): State<AppState>,
    Authorized(p): Authorized,
    Json(body): Json<DecideBody>,
) -> Result<Json<Decided>, ApiError> {
    decide(&state, &p, body, true).await
}

/// Denies the pending request with this code.
#[utoipa::path(post, path = "/api/v1/channels/pairing/deny", tag = "channels",
    request_body = DecideBody,
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "Denied", body = Decided),
        (status = 403, description = "Not the owner"),
        (status = 404, description = "No pending request has that code"),
        (status = 429, description = "Too many wrong codes")))]
pub async fn deny(
    State(state): State<AppState>,
    Authorized(p): Authorized,
    Json(body): Json<DecideBody>,
) -> Result<Json<Decided>, ApiError> {
    decide(&state, &p, body, false).await
}

/// Revokes a paired sender at once.
#[utoipa::path(post, path = "/api/v1/channels/senders/{id}/revoke", tag = "channels",
    params(("id" = i64, Path, description = "Sender id")),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "Revoked", body = SenderRow),
        (status = 403, description = "Not the owner"),
        (status = 404, description = "No such sender, or already revoked")))]
pub async fn revoke(
    State(state): State<AppState>,
    Authorized(p): Authorized,
    Path(id): Path<i64>,
) -> Result<Json<SenderRow>, ApiError> {
    p.require_role(Role::Owner)?;
    Ok(Json(pairing::revoke(&ctx(&state), id, p.actor()).await?))
}

/// One webhook channel as its config sets it up (never its secret).
#[derive(Serialize, ToSchema)]
pub struct HookStatus {
    /// `webhook:NAME`.
    channel: String,
    /// The handle of the agent that answers.
    agent: String,
    /// The vault entry that holds its HMAC secret (the name only).
    secret_entry: String,
    /// The host replies are POSTed to; null when they stay in the
    /// conversation.
    callback_host: Option<String>,
    max_body_bytes: usize,
}

/// The Telegram bot as its config sets it up (never its token).
#[derive(Serialize, ToSchema)]
pub struct TelegramSetup {
    /// The handle of the agent that answers.
    agent: String,
    /// The vault entry that holds the bot token (the name only).
    token_entry: String,
    /// The Bot API's host.
    api_host: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ChannelsStatus {
    /// Configured webhook channels, as `webhook:NAME`.
    webhooks: Vec<String>,
    /// The Telegram poller: last poll and last error (null when not set up).
    #[schema(value_type = Option<Object>)]
    telegram: Option<crate::channels::telegram::Status>,
    /// Each webhook channel's agent, secret entry and callback host.
    hooks: Vec<HookStatus>,
    /// The Telegram bot's agent and token entry (null when not set up).
    telegram_setup: Option<TelegramSetup>,
}

fn host_of(url: &str) -> Option<String> {
    url.parse::<axum::http::Uri>()
        .ok()
        .and_then(|u| u.host().map(str::to_string))
}

/// Which channels are set up, and the Telegram poller's state.
#[utoipa::path(get, path = "/api/v1/channels", tag = "channels",
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "Channels", body = ChannelsStatus),
        (status = 403, description = "Not the owner")))]
pub async fn status(
    State(state): State<AppState>,
    Authorized(_p): Authorized,
) -> Json<ChannelsStatus> {
    let cfg = &state.config.channels;
    // A BTreeMap: already sorted by name.
    let hooks: Vec<HookStatus> = cfg
        .webhooks
        .iter()
        .map(|(n, h)| HookStatus {
            channel: format!("webhook:{n}"),
            agent: h.agent.clone(),
            secret_entry: h.secret.clone(),
            callback_host: h.callback_url.as_deref().and_then(host_of),
            max_body_bytes: h.max_body_bytes,
        })
        .collect();
    Json(ChannelsStatus {
        webhooks: hooks.iter().map(|h| h.channel.clone()).collect(),
        telegram: state.channels.telegram_status(),
        hooks,
        telegram_setup: cfg.telegram.as_ref().map(|t| TelegramSetup {
            agent: t.agent.clone(),
            token_entry: t.token_secret.clone(),
            api_host: host_of(&t.api_base),
        }),
    })
}
