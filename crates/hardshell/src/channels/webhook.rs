//! The signed-webhook channel: checking an inbound request's signature and
//! sending replies to the configured callback, signed the same way.
//!
//! A signature is `sha256=` and the hex of `HMAC-SHA256(secret, timestamp
//! + "." + body)`; the timestamp (Unix seconds) must be within `WINDOW_SECS`
//! of now, and a signature is accepted once (the store remembers it for the
//! window, across restarts). The comparison is constant-time. Replies go
//! through a netguard client that reaches only the callback's host, never
//! follows redirects, and has time and size limits. No HTTP server types
//! here: the route is in `web/channels_routes.rs`.

use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::config::WebhookConfig;

pub const TIMESTAMP_HEADER: &str = "x-hardshell-timestamp";
pub const SIGNATURE_HEADER: &str = "x-hardshell-signature";
/// Accepted clock difference, and how long a signature is remembered.
pub const WINDOW_SECS: i64 = 5 * 60;

/// Why a request was refused (the caller only ever learns "401").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    Missing,
    Malformed,
    Stale,
    BadSignature,
}

/// HMAC accepts keys of any length, so this is `None` only in theory.
fn mac(secret: &[u8], timestamp: &str, body: &[u8]) -> Option<Hmac<Sha256>> {
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(secret).ok()?;
    m.update(timestamp.as_bytes());
    m.update(b".");
    m.update(body);
    Some(m)
}

/// The header value for `body` sent at `timestamp`.
pub fn sign(secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    let digest = mac(secret, timestamp, body)
        .map(|m| hex::encode(m.finalize().into_bytes()))
        .unwrap_or_default();
    format!("sha256={digest}")
}

/// Checks the timestamp and signature; returns the signature bytes (the
/// replay key) when both hold.
pub fn verify(
    secret: &[u8],
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: i64,
) -> Result<[u8; 32], Refusal> {
    let (Some(ts), Some(sig)) = (timestamp, signature) else {
        return Err(Refusal::Missing);
    };
    let t: i64 = ts.trim().parse().map_err(|_| Refusal::Malformed)?;
    if (now - t).abs() > WINDOW_SECS {
        return Err(Refusal::Stale);
    }
    let hex_part = sig
        .trim()
        .strip_prefix("sha256=")
        .ok_or(Refusal::Malformed)?;
    let given = hex::decode(hex_part).map_err(|_| Refusal::Malformed)?;
    let given: [u8; 32] = given.try_into().map_err(|_| Refusal::Malformed)?;
    // `verify_slice` compares in constant time.
    mac(secret, ts.trim(), body)
        .ok_or(Refusal::BadSignature)?
        .verify_slice(&given)
        .map_err(|_| Refusal::BadSignature)?;
    Ok(given)
}

/// Sends replies to one webhook's callback.
pub struct Callback {
    client: netguard::Client,
    url: String,
}

impl std::fmt::Debug for Callback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Callback").field("url", &self.url).finish()
    }
}

impl Callback {
    /// A client that reaches only the callback's host (private addresses
    /// allowed for it alone, like a provider's base URL).
    pub fn new(hook: &WebhookConfig) -> Result<Option<Arc<Callback>>, String> {
        let Some(url) = &hook.callback_url else {
            return Ok(None);
        };
        let uri: axum::http::Uri = url.parse().map_err(|e| format!("callback_url: {e}"))?;
        let host = uri.host().ok_or("callback_url has no host")?;
        let policy = netguard::Policy::builder()
            .allow(host)
            .and_then(|p| p.allow_private(host))
            .map_err(|e| format!("callback_url: {e}"))?
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(Duration::from_secs(20))
            .total_timeout(Duration::from_secs(30))
            .max_body_bytes(64 * 1024)
            .max_redirects(0)
            .max_concurrent(8)
            .build();
        let client = netguard::Client::new(policy, Arc::new(netguard::SystemResolver))
            .map_err(|e| format!("callback_url: {e}"))?;
        Ok(Some(Arc::new(Callback {
            client,
            url: url.clone(),
        })))
    }

    /// POSTs `{"to", "text", "reply_to"}` signed with `secret`; a 2xx is
    /// success.
    pub async fn send(
        &self,
        secret: &[u8],
        to: &str,
        text: &str,
        reply_to: Option<&str>,
    ) -> Result<(), String> {
        let body = serde_json::to_vec(&serde_json::json!({
            "to": to, "text": text, "reply_to": reply_to,
        }))
        .map_err(|e| e.to_string())?;
        let ts = crate::auth::now_secs().to_string();
        let request = netguard::Request::new("POST", &self.url)
            .header("content-type", "application/json")
            .header(TIMESTAMP_HEADER, &ts)
            .header(SIGNATURE_HEADER, &sign(secret, &ts, &body))
            .body(body);
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| e.to_string())?;
        if (200..300).contains(&response.status) {
            Ok(())
        } else {
            Err(format!("the callback answered {}", response.status))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn a_signed_body_verifies_and_anything_else_is_refused() {
        let now = 1_700_000_000;
        let ts = now.to_string();
        let body = br#"{"id":"1","sender":"x","text":"hi"}"#;
        let sig = sign(SECRET, &ts, body);
        assert!(verify(SECRET, Some(&ts), Some(&sig), body, now).is_ok());
        assert_eq!(
            verify(SECRET, Some(&ts), Some(&sig), b"{\"changed\":1}", now),
            Err(Refusal::BadSignature)
        );
        assert_eq!(
            verify(
                b"another secret entirely, 32 byt",
                Some(&ts),
                Some(&sig),
                body,
                now
            ),
            Err(Refusal::BadSignature)
        );
        assert_eq!(
            verify(SECRET, None, Some(&sig), body, now),
            Err(Refusal::Missing)
        );
        assert_eq!(
            verify(SECRET, Some(&ts), None, body, now),
            Err(Refusal::Missing)
        );
        assert_eq!(
            verify(SECRET, Some(&ts), Some(&sig), body, now + WINDOW_SECS + 1),
            Err(Refusal::Stale)
        );
        assert_eq!(
            verify(SECRET, Some(&ts), Some("sha256=zz"), body, now),
            Err(Refusal::Malformed)
        );
        // The timestamp is covered: moving it breaks the signature.
        let later = (now + 10).to_string();
        assert_eq!(
            verify(SECRET, Some(&later), Some(&sig), body, now),
            Err(Refusal::BadSignature)
        );
    }
}
