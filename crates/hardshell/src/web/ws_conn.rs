//! One live WebSocket connection: forwards hub events for the caller's
//! conversations, answers client messages, pings, re-checks the credential
//! and enforces the frame, rate and liveness limits.
//!
//! Must never forward an event for a conversation outside its membership
//! set, nor an event with an audience (a least role) to anyone below it
//! or to an agent key, and never re-serialise an event (they arrive as
//! shared JSON).
//!
//! Close codes: 1008 rate limit, 1009 frame too large, 1011 internal error,
//! 4000 fell behind (reconnect with `?since=`), 4001 credential revoked or
//! expired, 4002 no answer to a ping.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use axum::http::{HeaderMap, header};
use futures_util::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast::Receiver;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::time::{Instant, MissedTickBehavior, interval_at, timeout};
use zeroize::Zeroizing;

use super::super::AppState;
use super::super::extract::{AuthVia, Identity, Principal, SESSION_COOKIE, cookie};
use crate::auth::permissions::{Access, Permission};
use crate::auth::tokens::{self, SESSION_IDLE_SECS};
use crate::auth::{Role, now_secs};
use crate::chat::hub::{Event, Membership};
use crate::store::StoreError;
use crate::store::auth::TokenHash;
use crate::store::chat::Ref;

/// Posting (and so typing) needs this on an agent key.
const MESSAGES_WRITE: Permission = Permission {
    resource: "messages",
    action: "write",
};
/// Events forwarded before one flush; bounds the time the client socket is
/// not read while a burst is being written.
const BATCH: usize = 256;
/// Run-queue passes a connection lets go by after its first event before
/// draining the rest. Under load the events published meanwhile join the
/// same flush (one write instead of many, for this side and the client's);
/// when idle it costs two reschedules and no waiting. Measured with 100
/// clients: 2 cut CPU per message ~8% (server) and ~15% (client) against
/// 0; more gave nothing further. A timer would batch more but delay every
/// event by a tick.
const COALESCE_YIELDS: usize = 2;
/// How long to wait for the client's half of a close handshake.
const CLOSE_WAIT: Duration = Duration::from_secs(2);
const PONG: &str = r#"{"type":"pong","conversation_id":0,"data":{}}"#;
/// How a `message.created` event's JSON starts (the hub's envelope order).
const CREATED_PREFIX: &str = r#"{"type":"message.created","#;

/// The credential the connection was opened with, kept only as its hash so
/// it can be re-checked at every ping.
pub(super) enum Credential {
    Cookie(TokenHash),
    Access(TokenHash),
    AgentKey(TokenHash),
}

impl Credential {
    /// Re-derives the hash of the credential `Principal` authenticated.
    pub(super) fn of(state: &AppState, headers: &HeaderMap, via: AuthVia) -> Option<Credential> {
        let hash = |t: &str| tokens::hash(&state.pepper, t);
        match via {
            AuthVia::Cookie => {
                let value = Zeroizing::new(cookie(headers, SESSION_COOKIE)?);
                Some(Credential::Cookie(hash(&value)))
            }
            AuthVia::Bearer | AuthVia::AgentKey => {
                let token = headers
                    .get(header::AUTHORIZATION)?
                    .to_str()
                    .ok()?
                    .strip_prefix("Bearer ")?
                    .trim();
                Some(if via == AuthVia::Bearer {
                    Credential::Access(hash(token))
                } else {
                    Credential::AgentKey(hash(token))
                })
            }
        }
    }
}

/// Whether `p` may post (and so signal typing): a human member or above,
/// or a key holding `messages:write` whose creator is an enabled member or
/// above. Guests never.
pub(super) async fn can_post(state: &AppState, p: &Principal) -> Result<bool, StoreError> {
    match &p.identity {
        Identity::User(u) => Ok(!u.disabled && u.role.at_least(Role::Member)),
        Identity::AgentKey(k) => {
            let Some(creator) = k.created_by else {
                return Ok(false);
            };
            if !MESSAGES_WRITE.granted_by(&k.permissions) {
                return Ok(false);
            }
            match state.store.user_by_id(creator).await {
                Ok(u) => Ok(!u.disabled && u.role.at_least(Role::Member)),
                Err(StoreError::NotFound) => Ok(false),
                Err(e) => Err(e),
            }
        }
    }
}

fn ref_of(p: &Principal) -> Ref {
    match &p.identity {
        Identity::User(u) => Ref::User {
            id: u.id,
            name: u.username.clone(),
        },
        Identity::AgentKey(k) => Ref::Key {
            id: k.id.clone(),
            name: k.name.clone(),
        },
    }
}

#[derive(Serialize)]
struct UserData<'a> {
    user: &'a Ref,
}

#[derive(Serialize)]
struct ErrorData<'a> {
    code: &'a str,
    message: &'a str,
}

/// What a client may send.
#[derive(Debug, PartialEq, Eq, Deserialize)]
#[serde(tag = "type")]
enum ClientMessage {
    #[serde(rename = "typing")]
    Typing { conversation_id: i64 },
    #[serde(rename = "ping")]
    Ping,
}

fn parse_client(text: &str) -> Option<ClientMessage> {
    serde_json::from_str(text).ok()
}

/// True for a `message.created` event whose message id is at most `max`
/// (already sent in the replay). Parses only the id; other fields are
/// skipped without being built.
fn already_replayed(json: &str, max: i64) -> bool {
    #[derive(Deserialize)]
    struct Probe {
        data: ProbeData,
    }
    #[derive(Deserialize)]
    struct ProbeData {
        id: i64,
    }
    json.starts_with(CREATED_PREFIX)
        && serde_json::from_str::<Probe>(json).is_ok_and(|p| p.data.id <= max)
}

/// A token bucket: a burst of `per_minute`, refilled evenly over a minute.
struct RateLimit {
    tokens: f64,
    cap: f64,
    per_sec: f64,
    last: Instant,
}

impl RateLimit {
    fn new(per_minute: u32, now: Instant) -> RateLimit {
        let cap = f64::from(per_minute.max(1));
        RateLimit {
            tokens: cap,
            cap,
            per_sec: cap / 60.0,
            last: now,
        }
    }

    fn allow(&mut self, now: Instant) -> bool {
        let dt = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + dt * self.per_sec).min(self.cap);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Why the loop ended.
enum End {
    /// The peer went away or the socket failed: nothing more to send.
    Gone,
    /// We close with this code and reason.
    Close(u16, &'static str),
}

fn text(s: &str) -> Message {
    Message::Text(Utf8Bytes::from(s))
}

fn error_frame(code: &str, message: &str) -> Message {
    match Event::new("error", 0, &ErrorData { code, message }) {
        Ok(e) => Message::Text(e.json),
        Err(_) => text(
            r#"{"type":"error","conversation_id":0,"data":{"code":"internal","message":"internal error"}}"#,
        ),
    }
}

/// The state of one connection.
pub(super) struct Live {
    state: AppState,
    principal: Principal,
    credential: Credential,
    access: Access,
    member_user: Option<i64>,
    me: Ref,
    convs: HashSet<i64>,
    can_post: bool,
    /// Highest replayed message id; live duplicates of replayed messages
    /// are dropped until the first ping, by which time any message stored
    /// before the replay was read has long been published.
    replay_max: Option<i64>,
}

impl Live {
    pub(super) fn new(
        state: AppState,
        principal: Principal,
        credential: Credential,
        access: Access,
        convs: HashSet<i64>,
        can_post: bool,
        replay_max: Option<i64>,
    ) -> Live {
        Live {
            member_user: principal.membership_user(),
            me: ref_of(&principal),
            state,
            principal,
            credential,
            access,
            convs,
            can_post,
            replay_max,
        }
    }

    pub(super) async fn run(
        mut self,
        mut ws: WebSocket,
        mut rx: Receiver<Arc<Event>>,
        replay: Vec<Utf8Bytes>,
    ) {
        let actor = self.principal.actor();
        let _counted = crate::metrics::ws_open();
        tracing::debug!(actor = %actor.id, kind = actor.kind.as_str(), "websocket connected");
        let end = self.serve(&mut ws, &mut rx, replay).await;
        let (code, reason) = match end {
            End::Gone => (None, "peer gone"),
            End::Close(code, reason) => (Some(code), reason),
        };
        if let Some(code) = code {
            Box::pin(close(&mut ws, code, reason)).await;
        }
        tracing::debug!(actor = %actor.id, code, reason, "websocket disconnected");
    }

    /// The connection's loop. Every await other than the idle `select!`
    /// is boxed: a task's future is as large as its largest await point,
    /// and each of 10,000 idle connections would hold that size (the
    /// credential re-check, the greeting and the timed writes) for its
    /// whole life instead of for the moment it runs.
    async fn serve(
        &mut self,
        ws: &mut WebSocket,
        rx: &mut Receiver<Arc<Event>>,
        replay: Vec<Utf8Bytes>,
    ) -> End {
        let limits = &self.state.config.limits;
        let period = Duration::from_secs(limits.ws_ping_secs);
        // A client that cannot take a burst within this long is stuck.
        let write_limit = period.max(Duration::from_secs(5)) * 2;
        let mut bucket = RateLimit::new(limits.ws_messages_per_minute, Instant::now());
        // A revocation anywhere (logout, key revoke, disable, role change,
        // a CLI commit) is re-checked at once, not at the next ping.
        // Subscribe first, then check once: a revocation between the
        // upgrade's authentication and this point is not missed.
        let mut revocations = self.state.store.revocation_notices();
        if let Some(end) = Box::pin(self.recheck()).await {
            return end;
        }

        let greeting = async {
            let ready = Event::new("ready", 0, &UserData { user: &self.me })
                .map_err(|_| End::Close(1011, "internal error"))?;
            ws.feed(Message::Text(ready.json))
                .await
                .map_err(|_| End::Gone)?;
            for frame in replay {
                ws.feed(Message::Text(frame)).await.map_err(|_| End::Gone)?;
            }
            ws.flush().await.map_err(|_| End::Gone)
        };
        match Box::pin(timeout(write_limit, greeting)).await {
            Ok(Ok(())) => {}
            Ok(Err(end)) => return end,
            Err(_) => return End::Gone,
        }

        let mut ticker = interval_at(Instant::now() + period, period);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut pinged = false;
        let mut heard = false;
        loop {
            tokio::select! {
                changed = revocations.changed() => {
                    if changed.is_err() {
                        return End::Close(1001, "server stopping");
                    }
                    if let Some(end) = Box::pin(self.recheck()).await {
                        return end;
                    }
                }
                ev = rx.recv() => {
                    let first = match ev {
                        Ok(ev) => ev,
                        Err(RecvError::Lagged(_)) => return End::Close(4000, "resume"),
                        Err(RecvError::Closed) => return End::Close(1001, "server stopping"),
                    };
                    match Box::pin(timeout(write_limit, self.forward(ws, rx, first))).await {
                        Ok(Ok(())) => {}
                        Ok(Err(end)) => return end,
                        Err(_) => return End::Gone,
                    }
                }
                msg = ws.next() => {
                    let msg = match msg {
                        None => return End::Gone,
                        Some(Err(e)) => return if is_too_big(&e) {
                            End::Close(1009, "frame too large")
                        } else {
                            End::Gone
                        },
                        Some(Ok(m)) => m,
                    };
                    heard = true;
                    let reply = match msg {
                        Message::Pong(_) => continue,
                        Message::Close(_) => {
                            // Sends the close reply tungstenite queued.
                            let _ = Box::pin(timeout(CLOSE_WAIT, ws.flush())).await;
                            return End::Gone;
                        }
                        _ if !bucket.allow(Instant::now()) => {
                            return End::Close(1008, "rate limit exceeded");
                        }
                        Message::Text(t) => self.on_text(t.as_str()),
                        Message::Binary(_) => Some(error_frame("bad_message", "binary frames are not supported")),
                        // Answered by the protocol layer; counted above.
                        Message::Ping(_) => None,
                    };
                    if let Some(reply) = reply {
                        match Box::pin(timeout(write_limit, ws.send(reply))).await {
                            Ok(Ok(())) => {}
                            _ => return End::Gone,
                        }
                    }
                }
                _ = ticker.tick() => {
                    // The credential first: a revoked one is the more useful reason.
                    if let Some(end) = Box::pin(self.recheck()).await {
                        return end;
                    }
                    if pinged && !heard {
                        return End::Close(4002, "ping timeout");
                    }
                    self.replay_max = None;
                    match Box::pin(timeout(write_limit, ws.send(Message::Ping(Default::default())))).await {
                        Ok(Ok(())) => {}
                        _ => return End::Gone,
                    }
                    pinged = true;
                    heard = false;
                }
            }
        }
    }

    /// Re-checks the credential; the reason to close when it no longer
    /// holds.
    async fn recheck(&mut self) -> Option<End> {
        match self.revalidate().await {
            Ok(true) => None,
            Ok(false) => Some(End::Close(4001, "credential revoked")),
            Err(e) => {
                tracing::warn!(error = %e, "websocket credential check failed");
                Some(End::Close(1011, "internal error"))
            }
        }
    }

    /// Writes `first` and whatever else is queued once the connection has
    /// stepped back (`COALESCE_YIELDS`), up to `BATCH`, then flushes once.
    async fn forward(
        &mut self,
        ws: &mut WebSocket,
        rx: &mut Receiver<Arc<Event>>,
        first: Arc<Event>,
    ) -> Result<(), End> {
        let mut next = Some(first);
        let mut written = false;
        let mut seen = 0;
        while let Some(ev) = next.take() {
            if self.admit(&ev) {
                // A refcount, not a copy: the event owns the payload.
                ws.feed(Message::Text(ev.json.clone()))
                    .await
                    .map_err(|_| End::Gone)?;
                written = true;
            }
            if seen == 0 && written {
                // Step back before draining: the posts already in flight
                // publish meanwhile, so this flush carries them too. A
                // connection with nothing to write (not its conversation)
                // does not wait.
                for _ in 0..COALESCE_YIELDS {
                    tokio::task::yield_now().await;
                }
            }
            seen += 1;
            if seen >= BATCH {
                break;
            }
            next = match rx.try_recv() {
                Ok(ev) => Some(ev),
                Err(TryRecvError::Lagged(_)) => return Err(End::Close(4000, "resume")),
                Err(TryRecvError::Empty | TryRecvError::Closed) => None,
            };
        }
        if written {
            ws.flush().await.map_err(|_| End::Gone)?;
        }
        Ok(())
    }

    /// Applies a membership change carried by `ev`, then says whether
    /// this connection may see it.
    fn admit(&mut self, ev: &Event) -> bool {
        if let Some(min) = ev.audience {
            // Outside any conversation: humans with the role, never keys.
            return matches!(&self.principal.identity,
                Identity::User(u) if !u.disabled && u.role.at_least(min));
        }
        let me = self.member_user;
        match ev.membership {
            Some(Membership::Joined { user_id }) if Some(user_id) == me => {
                self.convs.insert(ev.conversation_id);
            }
            // The removed user still learns of the removal, and nothing after.
            Some(Membership::Left { user_id }) if Some(user_id) == me => {
                return self.convs.remove(&ev.conversation_id);
            }
            Some(Membership::Deleted) => return self.convs.remove(&ev.conversation_id),
            _ => {}
        }
        if !self.convs.contains(&ev.conversation_id) {
            return false;
        }
        !self
            .replay_max
            .is_some_and(|max| already_replayed(ev.json.as_str(), max))
    }

    /// Handles one client text message; returns the reply, if any.
    fn on_text(&self, raw: &str) -> Option<Message> {
        match parse_client(raw) {
            Some(ClientMessage::Ping) => Some(text(PONG)),
            Some(ClientMessage::Typing { conversation_id }) => {
                if !self.convs.contains(&conversation_id) {
                    return Some(error_frame("not_found", "no such conversation"));
                }
                if !self.can_post {
                    return Some(error_frame(
                        "forbidden",
                        "you may not post in this conversation",
                    ));
                }
                match Event::new("typing", conversation_id, &UserData { user: &self.me }) {
                    Ok(ev) => {
                        self.state.hub.publish(ev);
                        None
                    }
                    Err(_) => Some(error_frame("internal", "internal error")),
                }
            }
            None => Some(error_frame(
                "bad_message",
                "expected {\"type\":\"typing\",\"conversation_id\":N} or {\"type\":\"ping\"}",
            )),
        }
    }

    /// Looks the credential up again: revoked, expired, idled-out or
    /// disabled means false. Refreshes the caller's identity (a role or
    /// permission change applies from here on).
    async fn revalidate(&mut self) -> Result<bool, StoreError> {
        let store = &self.state.store;
        let now = now_secs();
        let identity = match self.credential {
            Credential::Cookie(h) => store
                .session_by_token(h, "cookie", now, SESSION_IDLE_SECS)
                .await?
                .and_then(|s| s.user)
                .map(Identity::User),
            Credential::Access(h) => store
                .session_by_token(h, "access", now, SESSION_IDLE_SECS)
                .await?
                .and_then(|s| match (s.user, s.agent_key) {
                    (Some(u), _) => Some(Identity::User(u)),
                    (None, Some(k)) => Some(Identity::AgentKey(k)),
                    (None, None) => None,
                }),
            Credential::AgentKey(h) => store
                .agent_key_by_hash(h)
                .await?
                .filter(|k| k.expires_at.is_none_or(|e| e > now))
                .map(Identity::AgentKey),
        };
        let Some(identity) = identity else {
            return Ok(false);
        };
        // A changed role (a user's, or a key creator's) ends the socket:
        // the client reconnects with what its rights are now.
        if role_of(&identity) != role_of(&self.principal.identity) {
            return Ok(false);
        }
        self.principal.identity = identity;
        if self.principal.membership_user() != self.member_user
            || self.principal.require(self.access).is_err()
        {
            return Ok(false);
        }
        self.me = ref_of(&self.principal);
        self.can_post = can_post(&self.state, &self.principal).await?;
        Ok(true)
    }
}

fn role_of(identity: &Identity) -> Option<Role> {
    match identity {
        Identity::User(u) => Some(u.role),
        Identity::AgentKey(k) => k.creator_role,
    }
}

/// A read refused for exceeding the frame or message limit. The protocol
/// error type is not ours to name, so this goes by its message.
fn is_too_big(e: &axum::Error) -> bool {
    let msg = e.to_string();
    msg.contains("Space limit exceeded") || msg.contains("too long")
}

/// Sends our close frame and waits briefly for the client's reply, so the
/// frame is not lost to a connection reset.
async fn close(ws: &mut WebSocket, code: u16, reason: &'static str) {
    let frame = CloseFrame {
        code,
        reason: Utf8Bytes::from_static(reason),
    };
    if !matches!(
        timeout(CLOSE_WAIT, ws.send(Message::Close(Some(frame)))).await,
        Ok(Ok(()))
    ) {
        return;
    }
    let _ = timeout(CLOSE_WAIT, async {
        while let Some(Ok(m)) = ws.next().await {
            if matches!(m, Message::Close(_)) {
                break;
            }
        }
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn client_messages_parse_strictly_by_type() {
        assert_eq!(
            parse_client(r#"{"type":"ping"}"#),
            Some(ClientMessage::Ping)
        );
        assert_eq!(
            parse_client(r#"{"type":"typing","conversation_id":7}"#),
            Some(ClientMessage::Typing { conversation_id: 7 })
        );
        assert_eq!(parse_client(r#"{"type":"typing"}"#), None);
        assert_eq!(
            parse_client(r#"{"type":"typing","conversation_id":"7"}"#),
            None
        );
        assert_eq!(parse_client(r#"{"type":"message.created"}"#), None);
        assert_eq!(parse_client("not json"), None);
    }

    #[test]
    fn only_replayed_message_ids_are_dropped() {
        let ev = |kind: &str, id: i64| {
            Event::new(kind, 1, &serde_json::json!({"id": id, "text": "}\"id\":1"}))
                .unwrap()
                .json
        };
        assert!(already_replayed(&ev("message.created", 5), 5));
        assert!(already_replayed(&ev("message.created", 4), 5));
        assert!(!already_replayed(&ev("message.created", 6), 5));
        assert!(!already_replayed(&ev("message.updated", 5), 5));
        assert!(!already_replayed(&ev("typing", 1), 5));
    }

    #[test]
    fn rate_limit_allows_a_burst_then_refills_over_a_minute() {
        let t0 = Instant::now();
        let mut r = RateLimit::new(3, t0);
        assert!(r.allow(t0) && r.allow(t0) && r.allow(t0));
        assert!(!r.allow(t0));
        // One message's worth comes back after 20 s, not before.
        assert!(!r.allow(t0 + Duration::from_secs(10)));
        assert!(r.allow(t0 + Duration::from_secs(21)));
        assert!(!r.allow(t0 + Duration::from_secs(21)));
        // Idle time never banks more than the burst.
        let later = t0 + Duration::from_secs(3600);
        assert!(r.allow(later) && r.allow(later) && r.allow(later));
        assert!(!r.allow(later));
    }

    proptest! {
        #[test]
        fn any_text_parses_or_is_refused_without_panicking(s in ".{0,200}") {
            let _ = parse_client(&s);
            let _ = already_replayed(&s, 10);
        }

        #[test]
        fn typing_round_trips_any_id(id in any::<i64>()) {
            let raw = format!(r#"{{"type":"typing","conversation_id":{id},"extra":[1,2]}}"#);
            prop_assert_eq!(parse_client(&raw), Some(ClientMessage::Typing { conversation_id: id }));
        }
    }
}
