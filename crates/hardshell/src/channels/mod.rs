//! Channels: people reaching their agents from outside the web app.
//!
//! Owns the path of an inbound message: sender identity (channel, platform
//! id; never a display name) → pairing gate → per-sender rate limit →
//! durable inbound queue (idempotent on the channel's message id) → the
//! sender's conversation with the channel's agent → an agent turn that is
//! tainted from its first step → the reply, sent back through the channel.
//! An unpaired sender never reaches a model, a tool or memory: they get at
//! most one canned reply with a pairing code (never in a group chat:
//! there, unpaired senders get nothing). Transports (one file each:
//! `webhook.rs`, `telegram.rs`, with Telegram's webhook mode and group
//! chats in `telegram_webhook.rs` and `telegram_group.rs`) only check and
//! carry bytes. No HTTP server types and no
//! SQL here.

pub mod config;
pub mod pairing;
pub mod telegram;
pub mod telegram_approvals;
pub mod telegram_group;
pub mod telegram_media;
pub mod telegram_text;
pub mod telegram_webhook;
pub mod webhook;

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Arc;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use secrecy::ExposeSecret;
use tokio::sync::Semaphore;

use crate::agents::runtime::Runtime;
use crate::app::Pepper;
use crate::store::channels::{InboundRow, SenderRow};

/// Longest sender id, message id and text accepted from a channel.
pub const MAX_ID_CHARS: usize = 128;
pub const MAX_TEXT_CHARS: usize = 16_000;

/// One message as a transport received it.
#[derive(Clone, Debug)]
pub struct Inbound {
    /// `webhook:NAME`, `telegram`, …
    pub channel: String,
    /// The channel's own id for this message (idempotency key).
    pub message_key: String,
    /// The sender's stable platform id.
    pub external_id: String,
    /// What the platform calls them (shown to the owner, never trusted).
    pub display: String,
    pub text: String,
    /// Set for a group chat's message: answered there, in a conversation
    /// of its own (only paired senders; see `telegram_group`).
    pub group: Option<GroupRef>,
}

/// The group chat a message came from and its id there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupRef {
    pub chat: String,
    pub message_id: String,
}

/// What became of an inbound message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ingested {
    /// Stored; a turn will answer it.
    Queued,
    /// This message id was stored before: nothing new happened.
    Duplicate,
    /// The sender is over their per-minute limit: not stored.
    RateLimited,
    /// A pairing step (invite redeemed or refused, request opened).
    Pairing,
    /// Dropped without an answer (revoked, locked out, list full).
    Ignored,
}

#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    #[error("the message is malformed: {0}")]
    Invalid(&'static str),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Pairing(#[from] pairing::PairingError),
}

/// One configured webhook channel, ready to use.
#[derive(Debug)]
pub struct Hook {
    pub name: String,
    pub config: config::WebhookConfig,
    callback: Option<Arc<webhook::Callback>>,
}

/// Shared by handlers through `AppState`.
pub struct Channels {
    rt: Arc<Runtime>,
    pepper: Pepper,
    hooks: HashMap<String, Hook>,
    /// The Telegram bot and its agent handle, when configured.
    telegram: Option<(Arc<telegram::Client>, String)>,
    /// Webhook mode's URL and secret entry (none: long polling).
    telegram_hook: Option<telegram_webhook::Hook>,
    /// The bot's id and username, from `getMe` at start.
    tg_bot: std::sync::OnceLock<telegram_group::Bot>,
    per_sender: DefaultKeyedRateLimiter<i64>,
    /// Tokens a paired sender may use per UTC day.
    sender_day_tokens: i64,
    pub guesses: pairing::Guesses,
    /// Slots for unauthenticated inbound requests, taken before any body
    /// is read or any MAC computed.
    pub inflight: Arc<Semaphore>,
    /// Queue rows a task here is working on.
    busy: std::sync::Mutex<std::collections::HashSet<i64>>,
    /// Slots for Telegram file downloads (`telegram_media::DOWNLOADS`).
    downloads: Semaphore,
}

/// How often open queue rows are looked for.
const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// A claim on one queue row, released on drop.
struct Busy {
    channels: Arc<Channels>,
    id: i64,
}

impl Busy {
    fn claim(channels: &Arc<Channels>, id: i64) -> Option<Busy> {
        let mut set = channels.busy.lock().ok()?;
        set.insert(id).then(|| Busy {
            channels: Arc::clone(channels),
            id,
        })
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        if let Ok(mut set) = self.channels.busy.lock() {
            set.remove(&self.id);
        }
    }
}

impl std::fmt::Debug for Channels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Channels")
            .field("webhooks", &self.hooks.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

const CANNED_REQUEST: &str = "Hello. This assistant only talks to people its owner has paired. \
To ask for access, give the owner this code: ";
const CANNED_INVITE_OK: &str = "You are paired. Send a message to talk to the assistant.";
const CANNED_INVITE_BAD: &str = "That pairing code is not valid.";
const CANNED_BUDGET: &str = "Today's limit for this chat is used up. Please try again tomorrow.";

fn limit_quota(per_minute: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN))
}

impl Channels {
    /// Builds the channels from config; the vault must hold every
    /// webhook's secret (checked here, so a bad setup stops `serve`).
    pub fn new(
        rt: Arc<Runtime>,
        pepper: Pepper,
        cfg: &config::ChannelsConfig,
        public_origin: Option<&str>,
    ) -> Result<Arc<Channels>, String> {
        cfg.check_secrets(&rt.vault)?;
        let telegram_hook = telegram_webhook::hook(cfg, public_origin)?;
        let mut hooks = HashMap::new();
        for (name, hc) in &cfg.webhooks {
            hooks.insert(
                name.clone(),
                Hook {
                    name: name.clone(),
                    config: hc.clone(),
                    callback: webhook::Callback::new(hc)
                        .map_err(|e| format!("webhooks.{name}.{e}"))?,
                },
            );
        }
        let telegram = match &cfg.telegram {
            Some(tc) => {
                let token = rt
                    .vault
                    .get(&tc.token_secret)
                    .map(|t| zeroize::Zeroizing::new(t.expose_secret().to_string()))
                    .ok_or("telegram: the bot token is missing from the vault")?;
                let client =
                    telegram::Client::new(tc, token).map_err(|e| format!("telegram.{e}"))?;
                Some((Arc::new(client), tc.agent.clone()))
            }
            None => None,
        };
        let rt2 = Arc::clone(&rt);
        let channels = Arc::new(Channels {
            rt,
            pepper,
            hooks,
            telegram,
            telegram_hook,
            tg_bot: std::sync::OnceLock::new(),
            per_sender: RateLimiter::keyed(limit_quota(cfg.per_minute())),
            sender_day_tokens: cfg.sender_day_tokens(),
            guesses: pairing::Guesses::default(),
            inflight: Arc::new(Semaphore::new(cfg.inflight())),
            busy: std::sync::Mutex::new(std::collections::HashSet::new()),
            downloads: Semaphore::new(telegram_media::DOWNLOADS),
        });
        rt2.set_channels(&channels);
        Ok(channels)
    }

    /// `send_message` in a channel conversation: the text (already through
    /// the leak guard) goes to that conversation's paired sender, and to
    /// nobody else. False when the conversation is no channel's or its
    /// sender is revoked.
    pub async fn tool_message(&self, conversation_id: i64, text: &str) -> bool {
        match self.rt.store.channel_sender_of(conversation_id).await {
            Ok(Some(s)) => self.send(&s.channel, &s.external_id, text, None).await,
            Ok(None) => false,
            Err(e) => {
                tracing::error!(%e, "channel sender lookup failed");
                false
            }
        }
    }

    pub fn hook(&self, name: &str) -> Option<&Hook> {
        self.hooks.get(name)
    }

    /// The webhook's current secret from the vault (wiped when dropped).
    pub fn hook_secret(&self, hook: &Hook) -> Option<zeroize::Zeroizing<Vec<u8>>> {
        self.rt
            .vault
            .get(&hook.config.secret)
            .map(|s| zeroize::Zeroizing::new(s.expose_secret().as_bytes().to_vec()))
    }

    pub fn pepper(&self) -> &Pepper {
        &self.pepper
    }

    /// Whether `channel` names a configured channel.
    pub fn knows(&self, channel: &str) -> bool {
        (channel == "telegram" && self.telegram.is_some())
            || channel
                .strip_prefix("webhook:")
                .is_some_and(|n| self.hooks.contains_key(n))
    }

    /// The Telegram poller's last poll and last error, when configured.
    pub fn telegram_status(&self) -> Option<telegram::Status> {
        let (client, _) = self.telegram.as_ref()?;
        client.status.lock().ok().map(|s| s.clone())
    }

    /// Picks up work a stopped process left: messages stored but not
    /// answered, and answers stored but not sent.
    pub fn start(self: &Arc<Self>) {
        if let Some((client, _)) = &self.telegram {
            let (me, client) = (Arc::clone(self), Arc::clone(client));
            match &self.telegram_hook {
                Some(hook) => tokio::spawn(me.telegram_register(client, hook.clone())),
                None => tokio::spawn(telegram::poll(me, client)),
            };
        }
        let me = Arc::clone(self);
        tokio::spawn(async move {
            loop {
                me.sweep().await;
                tokio::time::sleep(SWEEP_EVERY).await;
            }
        });
    }

    /// Starts every open row no task here is working on: at start, the
    /// work a stopped process left (a file still to fetch included);
    /// later, answers whose delivery failed (the callback or Telegram was
    /// down) and rows a store error left. Also closes Telegram approval
    /// prompts whose request was decided.
    async fn sweep(self: &Arc<Self>) {
        // Prompts decided elsewhere (the CLI, expiry, before a restart).
        self.close_stale_prompts().await;
        match self.rt.store.channel_inbound_open().await {
            Ok(rows) => {
                for row in rows {
                    let me = Arc::clone(self);
                    tokio::spawn(async move { me.process(row.id).await });
                }
            }
            Err(e) => tracing::error!(%e, "could not read the channel queue"),
        }
    }

    /// Takes one inbound message through the gate. Returns once it is
    /// stored (or refused); the answer follows in its own task.
    pub async fn ingest(self: &Arc<Self>, m: Inbound) -> Result<Ingested, ChannelError> {
        for (v, what) in [(&m.external_id, "sender"), (&m.message_key, "id")] {
            if v.trim().is_empty() || v.chars().count() > MAX_ID_CHARS {
                return Err(ChannelError::Invalid(if what == "sender" {
                    "sender must be 1-128 characters"
                } else {
                    "id must be 1-128 characters"
                }));
            }
        }
        if m.text.trim().is_empty() || m.text.chars().count() > MAX_TEXT_CHARS {
            return Err(ChannelError::Invalid("text must be 1-16000 characters"));
        }
        let display: String = m.display.chars().take(MAX_ID_CHARS).collect();
        let store = &self.rt.store;
        let sender = store.channel_sender(&m.channel, &m.external_id).await?;
        if m.group.is_some() {
            // Groups: paired senders only, and never a pairing step (no
            // code or canned reply is ever posted to a group).
            return match sender {
                Some(s) if s.revoked_at.is_none() && !m.text.trim().starts_with("/start") => {
                    self.accept(&m, &s).await
                }
                _ => Ok(Ingested::Ignored),
            };
        }
        if let Some(code) = m.text.trim().strip_prefix("/start") {
            return self
                .redeem(&m, &display, code.trim(), sender.as_ref())
                .await;
        }
        match sender {
            Some(s) if s.revoked_at.is_none() => self.accept(&m, &s).await,
            // Revoked: cut off, no answer (only a fresh invite re-pairs).
            Some(_) => Ok(Ingested::Ignored),
            None => {
                let code = pairing::request(
                    store,
                    &self.rt.audit,
                    &self.pepper,
                    &m.channel,
                    &m.external_id,
                    &display,
                )
                .await?;
                let Some(code) = code else {
                    return Ok(Ingested::Ignored);
                };
                let text = format!("{CANNED_REQUEST}{}", pairing::show(&code));
                self.send_later(&m.channel, &m.external_id, text);
                Ok(Ingested::Pairing)
            }
        }
    }

    /// `/start CODE`: spends an invite, or counts a wrong guess.
    async fn redeem(
        self: &Arc<Self>,
        m: &Inbound,
        display: &str,
        typed: &str,
        sender: Option<&SenderRow>,
    ) -> Result<Ingested, ChannelError> {
        if sender.is_some_and(|s| s.revoked_at.is_none()) {
            // Already paired: `/start` is just a message.
            return Ok(Ingested::Ignored);
        }
        let key = format!("sender:{}:{}", m.channel, m.external_id);
        if !self.guesses.allowed(&key) {
            return Ok(Ingested::Ignored);
        }
        let paired = match pairing::normalise(typed) {
            Some(code) => {
                self.rt
                    .store
                    .pairing_invite_redeem(
                        &m.channel,
                        pairing::code_hash(&self.pepper, &code),
                        &m.external_id,
                        display,
                    )
                    .await?
            }
            None => None,
        };
        let Some(s) = paired else {
            let locked = self.guesses.fail(&key);
            let draft = audit::Draft::new(
                audit::Actor::system(),
                "pairing.invite_used",
                audit::Outcome::Denied,
            )
            .target(format!("channel:{}", m.channel))
            .detail("external_id", m.external_id.clone())
            .detail("locked_out", locked);
            self.rt.audit.record(draft).await.map_err(|e| {
                tracing::error!(%e, "could not audit a pairing attempt");
                pairing::PairingError::Audit
            })?;
            if !locked {
                self.send_later(&m.channel, &m.external_id, CANNED_INVITE_BAD.into());
            }
            return Ok(Ingested::Pairing);
        };
        self.guesses.succeed(&key);
        let draft = audit::Draft::new(
            audit::Actor::system(),
            "pairing.invite_used",
            audit::Outcome::Success,
        )
        .target(format!("channel:{}", m.channel))
        .detail("sender_id", s.id)
        .detail("user_id", s.user_id)
        .detail("external_id", m.external_id.clone());
        self.rt.audit.record(draft).await.map_err(|e| {
            tracing::error!(%e, "could not audit a pairing");
            pairing::PairingError::Audit
        })?;
        self.send_later(&m.channel, &m.external_id, CANNED_INVITE_OK.into());
        Ok(Ingested::Pairing)
    }

    /// A paired sender's message: rate limit, then the durable queue.
    async fn accept(
        self: &Arc<Self>,
        m: &Inbound,
        s: &SenderRow,
    ) -> Result<Ingested, ChannelError> {
        if self.per_sender.check_key(&s.id).is_err() {
            return Ok(Ingested::RateLimited);
        }
        let store = &self.rt.store;
        let stored = match &m.group {
            Some(g) => {
                store
                    .channel_inbound_enqueue_group(
                        &m.channel,
                        &m.message_key,
                        s.id,
                        &m.text,
                        &g.chat,
                        &g.message_id,
                    )
                    .await?
            }
            None => {
                store
                    .channel_inbound_enqueue(&m.channel, &m.message_key, s.id, &m.text)
                    .await?
            }
        };
        let Some(id) = stored else {
            return Ok(Ingested::Duplicate);
        };
        let me = Arc::clone(self);
        tokio::spawn(async move { me.process(id).await });
        Ok(Ingested::Queued)
    }

    /// Answers one queued message: post it, run the (tainted) turn, store
    /// the answer, send it, mark it done. Safe to call again after a crash
    /// at any step.
    async fn process(self: Arc<Self>, id: i64) {
        // One task per row: the sweeper and the ingest path never both
        // work on it (which could answer or send twice).
        let Some(_busy) = Busy::claim(&self, id) else {
            return;
        };
        let store = &self.rt.store;
        let row = match store.channel_inbound_get(id).await {
            Ok(Some(r)) => r,
            Ok(None) => return,
            Err(e) => {
                tracing::error!(%e, "channel queue read failed");
                return;
            }
        };
        match row.state.as_str() {
            "queued" => self.answer(row).await,
            "reply" => self.deliver(&row).await,
            _ => {}
        }
    }

    async fn answer(self: &Arc<Self>, row: InboundRow) {
        let store = &self.rt.store;
        let Some(agent) = self.agent_for(&row.channel).await else {
            tracing::warn!(channel = %row.channel, "no agent for channel; message dropped");
            let _ = store.channel_inbound_finish(row.id, false).await;
            return;
        };
        // A Telegram file still to fetch is fetched here, in this row's
        // own task, never in the poller.
        if row.channel == "telegram" {
            match self.telegram_pending_file(&row).await {
                telegram_media::FileStep::Ready => {}
                telegram_media::FileStep::Refused(text) => {
                    let row = InboundRow {
                        state: "reply".into(),
                        reply: Some(text),
                        ..row
                    };
                    self.deliver(&row).await;
                    return;
                }
                telegram_media::FileStep::Stop => return,
            }
        }
        let posted = match store.channel_inbound_post(row.id, agent).await {
            Ok(Some(p)) => p,
            Ok(None) => return,
            Err(e) => {
                tracing::error!(%e, "could not post a channel message");
                return;
            }
        };
        let cid = posted.message.conversation_id;
        match crate::chat::hub::Event::new("message.created", cid, &posted.message) {
            Ok(ev) => self.rt.hub.publish(ev),
            Err(e) => tracing::error!(%e, "could not serialise a channel message event"),
        }
        let req = crate::agents::turn::TurnRequest {
            agent_id: agent,
            conversation_id: cid,
            reply_to: posted.message.id,
            user_id: Some(posted.sender.user_id),
            taint: Some(format!("a message from channel:{}", row.channel)),
        };
        // The sender's daily budget, across agents: over it, the message
        // stays in the conversation and no model is called.
        let used = match store
            .channel_sender_tokens(posted.sender.id, crate::agents::budget::today())
            .await
        {
            Ok(u) => u,
            Err(e) => {
                // Left queued: the sweeper tries again.
                tracing::error!(%e, "channel budget lookup failed");
                return;
            }
        };
        if used >= self.sender_day_tokens {
            if store
                .channel_inbound_reply(row.id, CANNED_BUDGET)
                .await
                .is_ok()
            {
                let row = InboundRow {
                    state: "reply".into(),
                    reply: Some(CANNED_BUDGET.into()),
                    ..row
                };
                self.deliver(&row).await;
            }
            return;
        }
        let Ok(group) = self.group_of(row.id).await else {
            return;
        };
        let to = group.map_or(posted.sender.external_id.clone(), |g| g.chat);
        let typing = self.typing(&row.channel, &to);
        let reply = crate::agents::turn::run_streamed(Arc::clone(&self.rt), req).await;
        if let Some(t) = typing {
            t.abort();
        }
        let Some(reply) = reply else {
            let _ = store.channel_inbound_finish(row.id, true).await;
            return;
        };
        if let Err(e) = store.channel_inbound_reply(row.id, &reply).await {
            tracing::error!(%e, "could not store a channel reply");
            return;
        }
        let row = InboundRow {
            state: "reply".into(),
            reply: Some(reply),
            ..row
        };
        self.deliver(&row).await;
    }

    /// Sends a stored answer, then marks the row done.
    async fn deliver(&self, row: &InboundRow) {
        let Some(reply) = &row.reply else {
            return;
        };
        let sender = match self.rt.store.channel_inbound_sender(row.sender_id).await {
            Ok(Some(s)) if s.revoked_at.is_none() => s,
            Ok(_) => {
                let _ = self.rt.store.channel_inbound_finish(row.id, false).await;
                return;
            }
            Err(e) => {
                tracing::error!(%e, "sender lookup failed");
                return;
            }
        };
        let Ok(group) = self.group_of(row.id).await else {
            return;
        };
        let sent = match &group {
            Some(g) => self.send_group(g, reply).await,
            None => {
                self.send(
                    &row.channel,
                    &sender.external_id,
                    reply,
                    Some(&row.message_key),
                )
                .await
            }
        };
        if sent && let Err(e) = self.rt.store.channel_inbound_finish(row.id, true).await {
            tracing::error!(%e, "could not mark a channel reply sent");
        }
    }

    /// Keeps Telegram's typing indicator on while a turn runs.
    fn typing(&self, channel: &str, to: &str) -> Option<tokio::task::JoinHandle<()>> {
        let (client, _) = self.telegram.as_ref().filter(|_| channel == "telegram")?;
        let chat: i64 = to.parse().ok()?;
        let client = Arc::clone(client);
        Some(tokio::spawn(async move {
            loop {
                client.typing(chat).await;
                tokio::time::sleep(std::time::Duration::from_secs(4)).await;
            }
        }))
    }

    async fn agent_for(&self, channel: &str) -> Option<i64> {
        let handle = if channel == "telegram" {
            self.telegram.as_ref().map(|(_, a)| a.as_str())?
        } else {
            let hook = channel
                .strip_prefix("webhook:")
                .and_then(|n| self.hooks.get(n))?;
            hook.config.agent.as_str()
        };
        match self.rt.store.channel_agent_id(handle).await {
            Ok(a) => a,
            Err(e) => {
                tracing::error!(%e, "agent lookup failed");
                None
            }
        }
    }

    /// Sends a canned reply in its own task, so a slow callback or Telegram
    /// never holds an inbound slot or the poller.
    fn send_later(self: &Arc<Self>, channel: &str, to: &str, text: String) {
        let (me, channel, to) = (Arc::clone(self), channel.to_string(), to.to_string());
        tokio::spawn(async move { me.send(&channel, &to, &text, None).await });
    }

    /// Sends text to a platform id on `channel`; true when it was delivered
    /// (or there is nowhere to deliver it: the conversation holds it).
    async fn send(&self, channel: &str, to: &str, text: &str, reply_to: Option<&str>) -> bool {
        if channel == "telegram" {
            let (Some((client, _)), Ok(chat)) = (&self.telegram, to.parse::<i64>()) else {
                return false;
            };
            for part in telegram_text::render(text) {
                if let Err(e) = client.send_message(chat, &part).await {
                    tracing::warn!(error = %e, "telegram: could not send a reply");
                    return false;
                }
            }
            return true;
        }
        let Some(hook) = channel
            .strip_prefix("webhook:")
            .and_then(|n| self.hooks.get(n))
        else {
            return false;
        };
        let Some(cb) = &hook.callback else {
            return true;
        };
        let Some(secret) = self.hook_secret(hook) else {
            tracing::error!(channel, "webhook secret missing from the vault");
            return false;
        };
        match cb.send(&secret, to, text, reply_to).await {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(channel, error = %e, "could not deliver a channel reply");
                false
            }
        }
    }
}
