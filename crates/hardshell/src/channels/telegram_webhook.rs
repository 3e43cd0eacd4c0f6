//! Telegram webhook mode (opt-in): Telegram POSTs each update to
//! `server.public_origin` + `PATH`, carrying the `secret_token` we gave it
//! in `setWebhook`.
//!
//! Owns the mode's rules: the public origin must be HTTPS, the secret
//! token comes from the vault (long, of Telegram's alphabet, equal to no
//! other vault value) and is compared in constant time, and at start the
//! webhook is registered (`setWebhook`) instead of polling. An accepted
//! update takes the same path as a polled one (`Channels::ingest`,
//! idempotent on `update_id`). Never logs the token or the URL with the
//! bot token; no HTTP server types here (the route is in
//! `web/channels_telegram_routes.rs`).

use std::sync::Arc;
use std::time::Duration;

use secrecy::ExposeSecret;
use serde_json::json;

use super::config::{ChannelsConfig, TelegramMode};
use super::telegram::{Client, TgError, Update};
use super::{ChannelError, Channels, Ingested};

/// Where Telegram delivers updates.
pub const PATH: &str = "/api/v1/channels/telegram/webhook";
/// The header carrying the secret token.
pub const SECRET_HEADER: &str = "x-telegram-bot-api-secret-token";
/// Largest update body accepted (Telegram's updates are a few KB).
pub const MAX_BODY: usize = 256 * 1024;
/// The updates we ask Telegram for.
pub const ALLOWED_UPDATES: &[&str] = &["message"];

const RETRY: Duration = Duration::from_secs(10);

/// The webhook's settings, resolved at start.
#[derive(Clone, Debug)]
pub struct Hook {
    /// The URL Telegram posts to.
    pub url: String,
    /// The vault entry holding the secret token.
    pub secret: String,
}

/// Telegram's alphabet for `secret_token`: 1-256 of A-Z, a-z, 0-9, `_`, `-`.
pub fn token_chars_ok(s: &str) -> bool {
    (1..=256).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Webhook mode needs an HTTPS public origin Telegram can reach.
pub fn check_origin(cfg: &ChannelsConfig, public_origin: Option<&str>) -> Result<(), String> {
    let Some(tg) = cfg
        .telegram
        .as_ref()
        .filter(|t| t.mode == TelegramMode::Webhook)
    else {
        return Ok(());
    };
    if tg.webhook_secret.is_none() {
        return Err("telegram mode = \"webhook\" needs webhook_secret".into());
    }
    match public_origin {
        Some(o) if o.starts_with("https://") => Ok(()),
        _ => Err(
            "telegram mode = \"webhook\" needs server.public_origin, an https:// origin Telegram can reach"
                .into(),
        ),
    }
}

/// The hook for this config, when webhook mode is on and valid.
pub fn hook(cfg: &ChannelsConfig, public_origin: Option<&str>) -> Result<Option<Hook>, String> {
    check_origin(cfg, public_origin)?;
    let Some(tg) = cfg
        .telegram
        .as_ref()
        .filter(|t| t.mode == TelegramMode::Webhook)
    else {
        return Ok(None);
    };
    let (Some(origin), Some(secret)) = (public_origin, tg.webhook_secret.clone()) else {
        return Ok(None);
    };
    Ok(Some(Hook {
        url: format!("{}{PATH}", origin.trim_end_matches('/')),
        secret,
    }))
}

/// Whether the header carries the secret; constant time in the secret's
/// content (a length mismatch is refused at once).
pub fn secret_matches(expected: &[u8], given: Option<&[u8]>) -> bool {
    use subtle::ConstantTimeEq;
    given.is_some_and(|g| bool::from(g.ct_eq(expected)))
}

impl Client {
    /// `setWebhook`: Telegram will POST updates to `url` with `secret`.
    pub async fn set_webhook(&self, url: &str, secret: &str) -> Result<(), TgError> {
        self.call(
            "setWebhook",
            &json!({"url": url, "secret_token": secret,
                    "allowed_updates": ALLOWED_UPDATES, "drop_pending_updates": false}),
        )
        .await
        .map(|_| ())
    }

    /// `deleteWebhook`, keeping pending updates (for long polling).
    pub async fn delete_webhook(&self) -> Result<(), TgError> {
        self.call("deleteWebhook", &json!({"drop_pending_updates": false}))
            .await
            .map(|_| ())
    }
}

impl Channels {
    /// The webhook's secret token from the vault, when webhook mode is on
    /// (wiped when dropped).
    pub fn telegram_webhook_secret(&self) -> Option<zeroize::Zeroizing<Vec<u8>>> {
        let hook = self.telegram_hook.as_ref()?;
        self.telegram.as_ref()?;
        self.rt
            .vault
            .get(&hook.secret)
            .map(|s| zeroize::Zeroizing::new(s.expose_secret().as_bytes().to_vec()))
    }

    /// One update Telegram posted (already authenticated): the same path
    /// as a polled update. Store errors are returned so Telegram retries.
    pub async fn telegram_update(self: &Arc<Self>, u: Update) -> Result<(), ChannelError> {
        let Some(m) = self.telegram_take(&u) else {
            // Not a message the bot takes as text: a button press, a photo
            // or a document, or nothing.
            let Some((client, _)) = &self.telegram else {
                return Ok(());
            };
            let client = Arc::clone(client);
            return match self.telegram_other(&client, &u).await {
                Ok(()) | Err(ChannelError::Invalid(_)) => Ok(()),
                Err(e) => Err(e),
            };
        };
        match self.ingest(m).await {
            Ok(Ingested::Queued | Ingested::Duplicate | Ingested::Pairing)
            | Ok(Ingested::RateLimited | Ingested::Ignored)
            | Err(ChannelError::Invalid(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Registers the webhook (retrying until Telegram accepts it).
    pub(super) async fn telegram_register(self: Arc<Self>, client: Arc<Client>, hook: Hook) {
        self.telegram_identify(&client).await;
        loop {
            let secret = self
                .rt
                .vault
                .get(&hook.secret)
                .map(|s| zeroize::Zeroizing::new(s.expose_secret().to_string()));
            let result = match secret {
                Some(s) => client.set_webhook(&hook.url, &s).await,
                None => Err(TgError::Api {
                    status: 0,
                    description: "the webhook secret is missing from the vault".into(),
                }),
            };
            match result {
                Ok(()) => {
                    tracing::info!(url = %hook.url, "telegram: webhook registered");
                    client.note(None);
                    return;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "telegram: setWebhook failed");
                    client.note(Some(e.to_string()));
                    tokio::time::sleep(RETRY).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channels::config::TelegramConfig;

    fn cfg(mode: TelegramMode, secret: Option<&str>) -> ChannelsConfig {
        ChannelsConfig {
            telegram: Some(TelegramConfig {
                token_secret: "tg".into(),
                agent: "helper".into(),
                api_base: "https://api.telegram.org".into(),
                poll_timeout_secs: 30,
                max_file_bytes: 10 * 1024 * 1024,
                mode,
                webhook_secret: secret.map(Into::into),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn webhook_mode_needs_a_secret_and_an_https_origin() {
        let good = cfg(TelegramMode::Webhook, Some("tg-hook"));
        assert!(good.validate().is_ok());
        assert!(check_origin(&good, Some("https://hs.example.com")).is_ok());
        let h = hook(&good, Some("https://hs.example.com/"))
            .unwrap()
            .unwrap();
        assert_eq!(
            h.url,
            "https://hs.example.com/api/v1/channels/telegram/webhook"
        );
        for origin in [None, Some("http://hs.example.com")] {
            let e = check_origin(&good, origin).unwrap_err();
            assert!(e.contains("public_origin"), "{e}");
        }
        let no_secret = cfg(TelegramMode::Webhook, None);
        assert!(no_secret.validate().unwrap_err().contains("webhook_secret"));
        assert!(check_origin(&no_secret, Some("https://hs.example.com")).is_err());
        // The secret token must not be the bot token's entry.
        assert!(cfg(TelegramMode::Webhook, Some("tg")).validate().is_err());
        // Polling needs neither.
        let polling = cfg(TelegramMode::Polling, None);
        assert!(polling.validate().is_ok());
        assert!(check_origin(&polling, None).is_ok());
        assert!(hook(&polling, None).unwrap().is_none());
        let toml_text = "[telegram]\ntoken_secret = \"t\"\nagent = \"a\"\nmode = \"webhook\"\nwebhook_secret = \"w\"\n";
        let parsed: ChannelsConfig = toml::from_str(toml_text).unwrap();
        assert_eq!(parsed.telegram.unwrap().mode, TelegramMode::Webhook);
        assert!(toml::from_str::<ChannelsConfig>("[telegram]\nmode = \"push\"\n").is_err());
    }

    #[test]
    fn the_secret_token_is_checked_and_compared_whole() {
        assert!(token_chars_ok("abc_DEF-123"));
        assert!(!token_chars_ok("has space"));
        assert!(!token_chars_ok(""));
        assert!(!token_chars_ok(&"a".repeat(257)));
        let s = b"0123456789abcdefghijklmnopqrstuvwxyz";
        assert!(secret_matches(s, Some(s)));
        assert!(!secret_matches(s, None));
        assert!(!secret_matches(
            s,
            Some(b"0123456789abcdefghijklmnopqrstuvwxyZ")
        ));
        assert!(!secret_matches(s, Some(b"0123456789")));
        assert!(!secret_matches(s, Some(b"")));
    }

    #[test]
    fn a_short_or_reused_or_oddly_spelled_secret_token_is_refused() {
        let c = cfg(TelegramMode::Webhook, Some("tg-hook"));
        let names = vec!["tg".to_string(), "tg-hook".to_string()];
        let check = |hook_value: &'static str| {
            c.check_secrets_in(&names, |n| match n {
                "tg" => Some(secrecy::SecretString::from("123:bot-token")),
                "tg-hook" => Some(secrecy::SecretString::from(hook_value)),
                _ => None,
            })
        };
        assert!(check("tgwh_0123456789abcdefghijklmnopqrstuv").is_ok());
        assert!(check("short").unwrap_err().contains("at least"));
        assert!(
            check("tgwh 0123456789abcdefghijklmnopqrstuv")
                .unwrap_err()
                .contains("secret_token")
        );
        // Equal to another vault value (here: reused from the bot token).
        let reused = c.check_secrets_in(&names, |n| match n {
            "tg" | "tg-hook" => Some(secrecy::SecretString::from(
                "tgwh_0123456789abcdefghijklmnopqrstuv",
            )),
            _ => None,
        });
        assert!(reused.unwrap_err().contains("equals"));
    }
}
