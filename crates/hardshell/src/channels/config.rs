//! `[channels]` in config.toml: the signed-webhook channels by name.
//!
//! Only names and settings live here; each webhook's HMAC secret lives in
//! the vault under the entry its `secret` names. Validation refuses what
//! cannot work or would be unsafe (a missing agent handle, a callback that
//! is not http(s), two channels sharing one secret) before the server
//! starts; whether the secret exists and is unique among every vault value
//! is checked when the vault is open (`check_secrets`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Default largest inbound body.
pub const DEFAULT_MAX_BODY: usize = 64 * 1024;
/// Shortest secret accepted, in bytes.
pub const MIN_SECRET_BYTES: usize = 32;

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChannelsConfig {
    /// `[channels.webhooks.NAME]`
    pub webhooks: BTreeMap<String, WebhookConfig>,
    /// `[channels.telegram]`: a bot, long polling.
    pub telegram: Option<TelegramConfig>,
    /// Messages a paired sender may send per minute (all channels).
    pub messages_per_minute: u32,
    /// Unauthenticated inbound requests handled at once (all webhooks).
    pub max_inflight: usize,
    /// Model tokens (input and output) one paired sender may use per UTC
    /// day, across agents; 0 means the default, 100000.
    pub tokens_per_sender_day: i64,
}

/// One signed-webhook channel.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// The vault entry holding the HMAC secret.
    pub secret: String,
    /// The handle of the agent that answers.
    pub agent: String,
    /// Where replies are POSTed, signed the same way; none means replies
    /// are only stored in the conversation.
    #[serde(default)]
    pub callback_url: Option<String>,
    /// Largest inbound body in bytes.
    #[serde(default = "default_max_body")]
    pub max_body_bytes: usize,
}

fn default_max_body() -> usize {
    DEFAULT_MAX_BODY
}

/// How the bot receives updates.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TelegramMode {
    /// `getUpdates` long polling (the default; needs no public address).
    #[default]
    Polling,
    /// Telegram POSTs updates to `server.public_origin` (HTTPS), each
    /// carrying the `secret_token` from the vault entry `webhook_secret`.
    Webhook,
}

/// The Telegram bot: long polling by default, webhook mode opt-in.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TelegramConfig {
    /// The vault entry holding the bot token.
    pub token_secret: String,
    /// The handle of the agent that answers.
    pub agent: String,
    /// The Bot API base URL (tests point it at a fake server).
    #[serde(default = "default_api_base")]
    pub api_base: String,
    /// Long-poll timeout for `getUpdates`, 1..=50 seconds.
    #[serde(default = "default_poll_timeout")]
    pub poll_timeout_secs: u64,
    /// Largest photo or document downloaded from a paired sender, in bytes
    /// (1..=20 MiB, Telegram's own download limit); default 10 MiB.
    #[serde(default = "default_max_file")]
    pub max_file_bytes: u64,
    /// `polling` (default) or `webhook`.
    #[serde(default)]
    pub mode: TelegramMode,
    /// Webhook mode: the vault entry holding the `secret_token` Telegram
    /// sends with every update (32-256 of A-Z, a-z, 0-9, `_`, `-`).
    #[serde(default)]
    pub webhook_secret: Option<String>,
}

fn default_max_file() -> u64 {
    10 * 1024 * 1024
}

fn default_api_base() -> String {
    "https://api.telegram.org".into()
}

fn default_poll_timeout() -> u64 {
    30
}

fn check_url(key: &str, url: &str) -> Result<(), String> {
    let uri: axum::http::Uri = url.parse().map_err(|e| format!("{key}: {e}"))?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
        return Err(format!("{key} must be an http(s) URL with a host"));
    }
    Ok(())
}

impl ChannelsConfig {
    pub fn per_minute(&self) -> u32 {
        if self.messages_per_minute == 0 {
            20
        } else {
            self.messages_per_minute
        }
    }

    pub fn sender_day_tokens(&self) -> i64 {
        if self.tokens_per_sender_day <= 0 {
            100_000
        } else {
            self.tokens_per_sender_day
        }
    }

    pub fn inflight(&self) -> usize {
        if self.max_inflight == 0 {
            16
        } else {
            self.max_inflight
        }
    }

    /// Settings that can be checked without the vault.
    pub fn validate(&self) -> Result<(), String> {
        let mut secrets: BTreeMap<&str, &str> = BTreeMap::new();
        for (name, hook) in &self.webhooks {
            let ok_name = !name.is_empty()
                && name.len() <= 32
                && name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !ok_name {
                return Err(format!(
                    "webhook name {name:?} must be 1-32 of a-z, 0-9 and -"
                ));
            }
            if hook.secret.trim().is_empty() {
                return Err(format!("webhooks.{name}.secret must name a vault entry"));
            }
            if let Some(other) = secrets.insert(hook.secret.as_str(), name.as_str()) {
                return Err(format!(
                    "webhooks.{name} and webhooks.{other} share the secret {:?}; each channel needs its own",
                    hook.secret
                ));
            }
            if hook.agent.trim().is_empty() {
                return Err(format!("webhooks.{name}.agent must name an agent handle"));
            }
            if !(1..=1024 * 1024).contains(&hook.max_body_bytes) {
                return Err(format!(
                    "webhooks.{name}.max_body_bytes must be 1..=1048576"
                ));
            }
            if let Some(url) = &hook.callback_url {
                check_url(&format!("webhooks.{name}.callback_url"), url)?;
            }
        }
        if let Some(tg) = &self.telegram {
            if tg.token_secret.trim().is_empty() || tg.agent.trim().is_empty() {
                return Err("telegram needs token_secret (a vault entry) and agent".into());
            }
            if secrets.contains_key(tg.token_secret.as_str()) {
                return Err("telegram.token_secret is also a webhook's secret".into());
            }
            check_url("telegram.api_base", &tg.api_base)?;
            if !(1..=50).contains(&tg.poll_timeout_secs) {
                return Err("telegram.poll_timeout_secs must be 1..=50".into());
            }
            if !(1..=20 * 1024 * 1024).contains(&tg.max_file_bytes) {
                return Err("telegram.max_file_bytes must be 1..=20971520".into());
            }
            if let Some(ws) = &tg.webhook_secret {
                if ws.trim().is_empty() || *ws == tg.token_secret {
                    return Err("telegram.webhook_secret must name a vault entry of its own".into());
                }
                if secrets.contains_key(ws.as_str()) {
                    return Err("telegram.webhook_secret is also a webhook's secret".into());
                }
            } else if tg.mode == TelegramMode::Webhook {
                return Err(
                    "telegram mode = \"webhook\" needs webhook_secret (a vault entry holding the secret_token)"
                        .into(),
                );
            }
        }
        Ok(())
    }

    /// With the vault open: every webhook's secret exists, is long enough,
    /// and equals no other vault value (no reuse of a provider key, the
    /// pepper or another channel's secret).
    pub fn check_secrets(&self, vault: &crate::secrets::live::LiveVault) -> Result<(), String> {
        self.check_secrets_in(&vault.names(), |name| vault.get(name))
    }

    /// `check_secrets` over any vault view (`doctor` reads the vault
    /// itself, without a running server).
    pub fn check_secrets_in(
        &self,
        names: &[String],
        get: impl Fn(&str) -> Option<secrecy::SecretString>,
    ) -> Result<(), String> {
        use secrecy::ExposeSecret;
        let mut wanted: Vec<(String, &str, usize)> = self
            .webhooks
            .iter()
            .map(|(n, h)| (format!("webhooks.{n}"), h.secret.as_str(), MIN_SECRET_BYTES))
            .collect();
        if let Some(tg) = &self.telegram {
            wanted.push(("telegram".into(), tg.token_secret.as_str(), 1));
            if let Some(ws) = tg.webhook_secret.as_deref() {
                wanted.push(("telegram.webhook_secret".into(), ws, MIN_SECRET_BYTES));
            }
        }
        for (name, secret, min) in wanted {
            let Some(value) = get(secret) else {
                return Err(format!(
                    "{name}: the vault has no entry {secret:?} (hardshell vault set {secret})"
                ));
            };
            if value.expose_secret().len() < min {
                return Err(format!("{name}: the secret must be at least {min} bytes"));
            }
            if name == "telegram.webhook_secret"
                && !super::telegram_webhook::token_chars_ok(value.expose_secret())
            {
                return Err(format!(
                    "{name}: Telegram accepts only 1-256 of A-Z, a-z, 0-9, _ and - in a secret_token"
                ));
            }
            for other in names.iter().filter(|n| **n != secret) {
                if get(other).is_some_and(|v| v.expose_secret() == value.expose_secret()) {
                    return Err(format!(
                        "{name}: its secret equals the vault entry {other:?}; use a secret of its own"
                    ));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(secret: &str) -> WebhookConfig {
        WebhookConfig {
            secret: secret.into(),
            agent: "helper".into(),
            callback_url: None,
            max_body_bytes: DEFAULT_MAX_BODY,
        }
    }

    #[test]
    fn shared_secrets_and_bad_settings_are_refused() {
        let mut c = ChannelsConfig::default();
        c.webhooks.insert("a".into(), hook("s1"));
        assert!(c.validate().is_ok());
        c.webhooks.insert("b".into(), hook("s1"));
        assert!(c.validate().unwrap_err().contains("share the secret"));
        c.webhooks.insert("b".into(), hook("s2"));
        assert!(c.validate().is_ok());
        c.webhooks.insert("Bad Name".into(), hook("s3"));
        assert!(c.validate().is_err());
        c.webhooks.remove("Bad Name");
        let mut h = hook("s4");
        h.callback_url = Some("ftp://example.com/x".into());
        c.webhooks.insert("c".into(), h);
        assert!(c.validate().unwrap_err().contains("callback_url"));
    }

    #[test]
    fn telegram_settings_are_checked() {
        let tg = |secret: &str, base: &str, timeout: u64| TelegramConfig {
            token_secret: secret.into(),
            agent: "helper".into(),
            api_base: base.into(),
            poll_timeout_secs: timeout,
            max_file_bytes: default_max_file(),
            mode: TelegramMode::Polling,
            webhook_secret: None,
        };
        let mut c = ChannelsConfig {
            telegram: Some(tg("tg", "https://api.telegram.org", 30)),
            ..Default::default()
        };
        assert!(c.validate().is_ok());
        c.telegram = Some(tg("tg", "file:///etc/passwd", 30));
        assert!(c.validate().unwrap_err().contains("api_base"));
        c.telegram = Some(tg("tg", "https://api.telegram.org", 0));
        assert!(c.validate().unwrap_err().contains("poll_timeout"));
        for bad in [0, 20 * 1024 * 1024 + 1] {
            let mut t = tg("tg", "https://api.telegram.org", 30);
            t.max_file_bytes = bad;
            c.telegram = Some(t);
            assert!(c.validate().unwrap_err().contains("max_file_bytes"));
        }
        c.webhooks.insert("a".into(), hook("tg"));
        c.telegram = Some(tg("tg", "https://api.telegram.org", 30));
        assert!(c.validate().unwrap_err().contains("webhook's secret"));
        // An unknown key is refused, not ignored.
        let toml_text = "[telegram]\ntoken_secret = \"t\"\nagent = \"a\"\nwebhook = true\n";
        assert!(toml::from_str::<ChannelsConfig>(toml_text).is_err());
    }
}
