//! The Telegram transport: a thin typed Bot API client through netguard
//! and the long-polling loop.
//!
//! The client reaches only the configured API host (tests point it at a
//! fake server), never follows redirects, and never logs a URL (the bot
//! token is in every path). The poller hands each update to
//! `Channels::telegram_update` (the webhook route uses the same) and moves
//! its offset past an update only after that returned, so an update is
//! confirmed to Telegram only once it is stored; a redelivered update is a
//! duplicate in the queue. HTTP 409 (a second poller or a webhook on the
//! same token) is reported and waited out, not fought; 429 waits
//! `retry_after`. Private chats' text messages are taken here; group
//! chats' are `telegram_group`'s, files `telegram_media`'s (stored with
//! the file still to fetch: no download ever runs in this loop, so a slow
//! file never holds up later updates) and button presses
//! `telegram_approvals`'.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

use super::config::TelegramConfig;

/// How long to wait after a 409 before polling again.
const CONFLICT_BACKOFF: Duration = Duration::from_secs(30);
const ERROR_BACKOFF: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum TgError {
    #[error("another poller or a webhook is using this bot token (HTTP 409)")]
    Conflict,
    #[error("Telegram asks to wait {0} s (HTTP 429)")]
    RetryAfter(u64),
    #[error("Telegram refused the call: {status} {description}")]
    Api { status: u16, description: String },
    #[error("could not reach Telegram: {0}")]
    Net(&'static str),
    #[error("Telegram sent a reply we cannot read")]
    Protocol,
}

#[derive(Debug, Deserialize)]
struct Envelope {
    ok: bool,
    #[serde(default)]
    result: Value,
    #[serde(default)]
    description: String,
    #[serde(default)]
    parameters: Option<Parameters>,
}

#[derive(Debug, Deserialize)]
struct Parameters {
    retry_after: Option<u64>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Update {
    pub update_id: i64,
    #[serde(default)]
    pub message: Option<Message>,
    /// An inline-button press (approvals from Telegram).
    #[serde(default)]
    pub callback_query: Option<super::telegram_approvals::CallbackQuery>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Message {
    pub message_id: i64,
    #[serde(default)]
    pub from: Option<User>,
    pub chat: Chat,
    #[serde(default)]
    pub text: Option<String>,
    /// A photo's sizes, smallest first; a document; their caption.
    #[serde(default)]
    pub photo: Option<Vec<super::telegram_media::PhotoSize>>,
    #[serde(default)]
    pub document: Option<super::telegram_media::Document>,
    #[serde(default)]
    pub caption: Option<String>,
    /// Mentions and other spans of `text` (for group chats).
    #[serde(default)]
    pub entities: Vec<super::telegram_group::Entity>,
    /// The message this one replies to (for group chats).
    #[serde(default)]
    pub reply_to_message: Option<Box<Message>>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct User {
    pub id: i64,
    #[serde(default)]
    pub is_bot: bool,
    #[serde(default)]
    pub first_name: String,
    #[serde(default)]
    pub username: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Chat {
    pub id: i64,
    #[serde(rename = "type")]
    pub kind: String,
}

/// What the Channels page will show: the last poll and the last error.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Status {
    pub last_poll: Option<i64>,
    /// The error of the last call that failed, while the failure lasts:
    /// a good poll clears it (`last_error_at` keeps when it happened).
    pub last_error: Option<String>,
    pub last_error_at: Option<i64>,
}

pub struct Client {
    http: netguard::Client,
    base: String,
    /// Wiped when the client drops (the URLs built from it are not).
    token: zeroize::Zeroizing<String>,
    poll_timeout: u64,
    pub status: Mutex<Status>,
    /// File downloads: the same host, with the file size cap.
    pub(super) files: netguard::Client,
    pub(super) max_file_bytes: u64,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the token.
        f.debug_struct("TelegramClient").finish_non_exhaustive()
    }
}

impl Client {
    pub fn new(cfg: &TelegramConfig, token: zeroize::Zeroizing<String>) -> Result<Client, String> {
        let base = cfg.api_base.trim_end_matches('/').to_string();
        let uri: axum::http::Uri = base.parse().map_err(|e| format!("api_base: {e}"))?;
        let host = uri.host().ok_or("api_base has no host")?;
        let total = Duration::from_secs(cfg.poll_timeout_secs + 20);
        let policy = netguard::Policy::builder()
            .allow(host)
            .and_then(|p| p.allow_private(host))
            .map_err(|e| format!("api_base: {e}"))?
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(total)
            .total_timeout(total)
            .max_body_bytes(4 * 1024 * 1024)
            .max_redirects(0)
            .max_concurrent(8)
            .build();
        let http = netguard::Client::new(policy, Arc::new(netguard::SystemResolver))
            .map_err(|e| format!("api_base: {e}"))?;
        let files = super::telegram_media::file_client(host, cfg.max_file_bytes)
            .map_err(|e| format!("api_base: {e}"))?;
        Ok(Client {
            files,
            max_file_bytes: cfg.max_file_bytes,
            http,
            base,
            token,
            poll_timeout: cfg.poll_timeout_secs,
            status: Mutex::new(Status::default()),
        })
    }

    pub(super) async fn call(&self, method: &str, body: &Value) -> Result<Value, TgError> {
        // Holds the token: wiped when the call returns (netguard's and
        // hyper's copies are not; see docs/architecture.md).
        let url =
            zeroize::Zeroizing::new(format!("{}/bot{}/{method}", self.base, self.token.as_str()));
        let bytes = serde_json::to_vec(body).map_err(|_| TgError::Protocol)?;
        let request = netguard::Request::new("POST", &url)
            .header("content-type", "application/json")
            .body(bytes);
        let response = self
            .http
            .request(request)
            .await
            .map_err(|e| TgError::Net(e.reason()))?;
        let env: Envelope =
            serde_json::from_slice(&response.body).map_err(|_| TgError::Protocol)?;
        match (response.status, env.ok) {
            (200, true) => Ok(env.result),
            (409, _) => Err(TgError::Conflict),
            (429, _) => Err(TgError::RetryAfter(
                env.parameters.and_then(|p| p.retry_after).unwrap_or(5),
            )),
            (status, _) => Err(TgError::Api {
                status,
                description: env.description.chars().take(200).collect(),
            }),
        }
    }

    /// Where `getFile`'s `file_path` is downloaded from (holds the token:
    /// never log it).
    pub(super) fn file_url(&self, file_path: &str) -> zeroize::Zeroizing<String> {
        zeroize::Zeroizing::new(format!(
            "{}/file/bot{}/{file_path}",
            self.base,
            self.token.as_str()
        ))
    }

    pub async fn get_updates(&self, offset: i64) -> Result<Vec<Update>, TgError> {
        let result = self
            .call(
                "getUpdates",
                &json!({"offset": offset, "timeout": self.poll_timeout,
                        "allowed_updates": ["message", "callback_query"]}),
            )
            .await?;
        serde_json::from_value(result).map_err(|_| TgError::Protocol)
    }

    /// Sends one MarkdownV2 message; 429 is waited out once.
    pub async fn send_message(&self, chat_id: i64, text: &str) -> Result<(), TgError> {
        let body = json!({"chat_id": chat_id, "text": text, "parse_mode": "MarkdownV2"});
        match self.call("sendMessage", &body).await {
            Err(TgError::RetryAfter(s)) => {
                tokio::time::sleep(Duration::from_secs(s.min(60))).await;
                self.call("sendMessage", &body).await.map(|_| ())
            }
            other => other.map(|_| ()),
        }
    }

    pub async fn typing(&self, chat_id: i64) {
        let body = json!({"chat_id": chat_id, "action": "typing"});
        if let Err(e) = self.call("sendChatAction", &body).await {
            tracing::debug!(error = %e, "typing indicator failed");
        }
    }

    pub(super) fn note(&self, error: Option<String>) {
        if let Ok(mut s) = self.status.lock() {
            let now = crate::auth::now_secs();
            s.last_poll = Some(now);
            if error.is_some() {
                s.last_error_at = Some(now);
            }
            s.last_error = error;
        }
    }
}

/// The inbound message an update carries, if we take it: a text message
/// from a person in a private chat.
pub fn inbound(u: &Update) -> Option<super::Inbound> {
    let m = u.message.as_ref()?;
    let from = m.from.as_ref()?;
    if m.chat.kind != "private" || from.is_bot || m.chat.id != from.id {
        return None;
    }
    let text = m.text.clone()?;
    Some(super::Inbound {
        channel: "telegram".into(),
        message_key: u.update_id.to_string(),
        external_id: from.id.to_string(),
        display: from
            .username
            .as_ref()
            .map(|n| format!("@{n}"))
            .unwrap_or_else(|| from.first_name.clone()),
        text,
        group: None,
    })
}

/// The long-polling loop; runs for the life of the server.
pub async fn poll(channels: Arc<super::Channels>, client: Arc<Client>) {
    channels.telegram_identify(&client).await;
    // A webhook left from webhook mode would make every poll a 409.
    if let Err(e) = client.delete_webhook().await {
        tracing::warn!(error = %e, "telegram: deleteWebhook failed");
    }
    let mut offset: i64 = 0;
    loop {
        let updates = match client.get_updates(offset).await {
            Ok(u) => {
                client.note(None);
                u
            }
            Err(TgError::Conflict) => {
                tracing::error!(
                    "telegram: HTTP 409 — another poller or a webhook is using this bot token; waiting {} s",
                    CONFLICT_BACKOFF.as_secs()
                );
                client.note(Some(TgError::Conflict.to_string()));
                tokio::time::sleep(CONFLICT_BACKOFF).await;
                continue;
            }
            Err(TgError::RetryAfter(s)) => {
                client.note(Some(TgError::RetryAfter(s).to_string()));
                tokio::time::sleep(Duration::from_secs(s.clamp(1, 300))).await;
                continue;
            }
            Err(e) => {
                tracing::warn!(error = %e, "telegram: getUpdates failed");
                client.note(Some(e.to_string()));
                tokio::time::sleep(ERROR_BACKOFF).await;
                continue;
            }
        };
        for u in updates {
            if u.update_id < offset {
                continue;
            }
            if let Err(e) = channels.telegram_update(u.clone()).await {
                // Not stored: keep the offset so Telegram sends it again.
                tracing::error!(%e, "telegram: could not store an update");
                tokio::time::sleep(ERROR_BACKOFF).await;
                break;
            }
            offset = u.update_id + 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(v: Value) -> Update {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn only_private_text_from_people_is_taken() {
        let private = update(json!({"update_id": 5, "message": {"message_id": 1,
            "from": {"id": 42, "is_bot": false, "first_name": "Ann", "username": "ann"},
            "chat": {"id": 42, "type": "private"}, "text": "hi"}}));
        let m = inbound(&private).unwrap();
        assert_eq!(
            (m.external_id.as_str(), m.message_key.as_str()),
            ("42", "5")
        );
        assert_eq!(m.display, "@ann");
        let group = update(json!({"update_id": 6, "message": {"message_id": 2,
            "from": {"id": 42, "is_bot": false, "first_name": "Ann"},
            "chat": {"id": -100, "type": "group"}, "text": "hi"}}));
        assert!(inbound(&group).is_none());
        let bot = update(json!({"update_id": 7, "message": {"message_id": 3,
            "from": {"id": 9, "is_bot": true, "first_name": "B"},
            "chat": {"id": 9, "type": "private"}, "text": "hi"}}));
        assert!(inbound(&bot).is_none());
        let photo = update(json!({"update_id": 8, "message": {"message_id": 4,
            "from": {"id": 42, "is_bot": false, "first_name": "Ann"},
            "chat": {"id": 42, "type": "private"}}}));
        assert!(inbound(&photo).is_none());
    }
}
