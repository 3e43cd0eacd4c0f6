//! The HTTP side of every provider: one netguard client per provider whose
//! policy reaches only the configured host (private addresses allowed for it
//! alone, so Ollama on loopback works), retries with back-off on 429 and 5xx
//! before anything streamed, and error texts that never carry our request
//! or the API key. It never follows redirects and never logs bodies.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream;
use netguard::{NetError, Policy, Request, StreamingResponse};
use secrecy::ExposeSecret;
use zeroize::Zeroizing;

use super::wire::shorten;
use super::{CallLimits, EventStream, ProviderConfig, ProviderError, StreamEvent};

/// Longest provider error text we keep.
const MAX_MESSAGE_CHARS: usize = 300;
/// Most of an error body we read to find its message.
const MAX_ERROR_BODY: usize = 64 * 1024;
/// Streams one provider may have open at once.
const MAX_CONCURRENT: usize = 32;

/// Turns a provider's bytes into events. `feed` and `end` push in order;
/// the stream stops after the first `Finished`.
pub(crate) trait Decoder: Send + 'static {
    fn feed(&mut self, bytes: &[u8], out: &mut Vec<StreamEvent>) -> Result<(), ProviderError>;
    /// The body ended. Must push `Finished`, or fail when the reply was cut.
    fn end(&mut self, out: &mut Vec<StreamEvent>) -> Result<(), ProviderError>;
}

pub(crate) struct Transport {
    client: netguard::Client,
    base: String,
    /// The base URL without query, for error messages.
    shown: String,
    key: Option<zeroize::Zeroizing<String>>,
    limits: CallLimits,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("base", &self.shown)
            .finish_non_exhaustive()
    }
}

fn invalid(url: &str, why: impl std::fmt::Display) -> ProviderError {
    ProviderError::Unreachable {
        url: url.to_owned(),
        reason: format!("invalid base URL: {why}"),
    }
}

impl Transport {
    pub(crate) fn new(config: &ProviderConfig) -> Result<Transport, ProviderError> {
        let base = config.base_url.trim().trim_end_matches('/').to_owned();
        let shown = base.split(['?', '#']).next().unwrap_or_default().to_owned();
        let uri: axum::http::Uri = base.parse().map_err(|e| invalid(&shown, e))?;
        match uri.scheme_str() {
            Some("http" | "https") => {}
            _ => return Err(invalid(&shown, "the scheme must be http or https")),
        }
        let host = uri.host().ok_or_else(|| invalid(&shown, "no host"))?;
        let limits = &config.limits;
        let policy = Policy::builder()
            .allow(host)
            .and_then(|p| p.allow_private(host))
            .map_err(|e| invalid(&shown, e))?
            .connect_timeout(limits.connect_timeout)
            .read_timeout(limits.read_timeout)
            .total_timeout(limits.total_timeout)
            .max_body_bytes(limits.max_response_bytes)
            .max_redirects(0)
            .max_concurrent(MAX_CONCURRENT)
            .build();
        let client = netguard::Client::new(policy, Arc::new(netguard::SystemResolver))
            .map_err(|e| invalid(&shown, e))?;
        Ok(Transport {
            client,
            base,
            shown,
            key: config
                .api_key
                .as_ref()
                .map(|k| zeroize::Zeroizing::new(k.expose_secret().to_owned()))
                .filter(|k| !k.is_empty()),
            limits: config.limits.clone(),
        })
    }

    pub(crate) fn key(&self) -> Option<&str> {
        self.key.as_ref().map(|k| k.as_str())
    }

    /// Sends a request (JSON body when given) and returns the successful
    /// response head, retrying 429 and 5xx with back-off.
    pub(crate) async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, Zeroizing<String>)],
        body: Option<&serde_json::Value>,
    ) -> Result<StreamingResponse, ProviderError> {
        let url = format!("{}{path}", self.base);
        let mut request = Request::new(method, &url).header(
            "accept",
            "application/json, text/event-stream, application/x-ndjson",
        );
        for (name, value) in headers {
            request = request.header(name, value.as_str());
        }
        if let Some(body) = body {
            let bytes =
                serde_json::to_vec(body).map_err(|e| ProviderError::Protocol(e.to_string()))?;
            request = request
                .header("content-type", "application/json")
                .body(bytes);
        }
        let total = self.limits.total_timeout;
        let started = std::time::Instant::now();
        let answer = tokio::time::timeout(total, self.send_with_retries(request)).await;
        crate::metrics::provider_response(started.elapsed());
        answer.map_err(|_| ProviderError::Timeout("the total time limit passed"))?
    }

    async fn send_with_retries(
        &self,
        request: Request,
    ) -> Result<StreamingResponse, ProviderError> {
        let mut attempt = 0u32;
        loop {
            let mut response = self
                .client
                .send_streaming(request.clone())
                .await
                .map_err(|e| match e {
                    // Closed before any answer: nothing usable is listening.
                    NetError::Http(detail) => ProviderError::Unreachable {
                        url: self.shown.clone(),
                        reason: self.scrub(&detail),
                    },
                    other => self.net_error(other),
                })?;
            let status = response.status;
            if (200..300).contains(&status) {
                return Ok(response);
            }
            let retryable = status == 429 || status >= 500;
            if retryable && attempt < self.limits.max_retries {
                let wait = backoff(&self.limits, attempt, response.header("retry-after"));
                drop(response);
                tokio::time::sleep(wait).await;
                attempt += 1;
                continue;
            }
            return Err(self.status_error(&mut response).await);
        }
    }

    /// Sends and reads a whole JSON reply (models, embeddings).
    pub(crate) async fn json(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, Zeroizing<String>)],
        body: Option<&serde_json::Value>,
    ) -> Result<serde_json::Value, ProviderError> {
        let mut response = self.send(method, path, headers, body).await?;
        let bytes = response.bytes().await.map_err(|e| self.net_error(e))?;
        serde_json::from_slice(&bytes)
            .map_err(|e| ProviderError::Protocol(format!("the reply is not JSON: {e}")))
    }

    fn net_error(&self, e: NetError) -> ProviderError {
        match e {
            NetError::Timeout(what) => ProviderError::Timeout(what),
            NetError::BodyTooLarge { limit } => ProviderError::TooLarge(limit),
            NetError::RedirectRefused { status } => ProviderError::Status {
                status,
                message: "the provider redirected the request; redirects are not followed".into(),
            },
            NetError::Http(detail) => ProviderError::Protocol(self.scrub(&detail)),
            other => ProviderError::Unreachable {
                url: self.shown.clone(),
                reason: self.scrub(&other.to_string()),
            },
        }
    }

    /// The provider's own message from an error reply, shortened.
    async fn status_error(&self, response: &mut StreamingResponse) -> ProviderError {
        let mut body = Vec::new();
        while body.len() < MAX_ERROR_BODY {
            match response.chunk().await {
                Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                _ => break,
            }
        }
        body.truncate(MAX_ERROR_BODY);
        ProviderError::Status {
            status: response.status,
            message: self.scrub(&error_message(&body)),
        }
    }

    /// Removes our key from a text, whatever put it there, and shortens it.
    pub(crate) fn scrub(&self, text: &str) -> String {
        let text = match &self.key {
            Some(key) => text.replace(key.as_str(), "[REDACTED]"),
            None => text.to_owned(),
        };
        shorten(&text, MAX_MESSAGE_CHARS)
    }

    /// Wraps a successful streaming response into typed events.
    pub(crate) fn events<D: Decoder>(
        self: &Arc<Self>,
        response: StreamingResponse,
        decoder: D,
    ) -> EventStream {
        let state = StreamState {
            response: Some(response),
            decoder,
            queue: VecDeque::new(),
            failure: None,
            transport: Arc::clone(self),
        };
        Box::pin(stream::unfold(state, |mut state| async move {
            let item = state.next().await?;
            Some((item, state))
        }))
    }
}

struct StreamState<D> {
    /// `None` once the stream is over (finished or failed).
    response: Option<StreamingResponse>,
    decoder: D,
    queue: VecDeque<StreamEvent>,
    failure: Option<ProviderError>,
    transport: Arc<Transport>,
}

impl<D: Decoder> StreamState<D> {
    async fn next(&mut self) -> Option<Result<StreamEvent, ProviderError>> {
        loop {
            if let Some(event) = self.queue.pop_front() {
                return Some(Ok(event));
            }
            // Events decoded before a failure are delivered, then the failure.
            if let Some(e) = self.failure.take() {
                return Some(Err(e));
            }
            let response = self.response.as_mut()?;
            let mut out = Vec::new();
            let step = match response.chunk().await {
                Ok(Some(bytes)) => self.decoder.feed(&bytes, &mut out),
                Ok(None) => self.decoder.end(&mut out).and_then(|()| {
                    if out.iter().any(|e| matches!(e, StreamEvent::Finished(_))) {
                        Ok(())
                    } else {
                        Err(ProviderError::Protocol(
                            "the stream ended before the reply was finished".into(),
                        ))
                    }
                }),
                Err(e) => Err(self.transport.net_error(e)),
            };
            let finished = out
                .iter()
                .position(|e| matches!(e, StreamEvent::Finished(_)));
            if let Some(i) = finished {
                // The reply is whole: nothing after `Finished` counts, not
                // even an error in the same read.
                out.truncate(i + 1);
                self.response = None; // closes the connection
            } else if let Err(e) = step {
                self.response = None;
                self.failure = Some(e);
            }
            self.queue.extend(out);
        }
    }
}

/// How long to wait before retry `attempt` (0-based): a `Retry-After` in
/// seconds wins (the HTTP-date form is ignored), else the initial back-off
/// doubled per attempt; never more than `max_backoff`.
pub(crate) fn backoff(limits: &CallLimits, attempt: u32, retry_after: Option<&str>) -> Duration {
    retry_after
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
        .unwrap_or_else(|| {
            limits
                .initial_backoff
                .saturating_mul(2u32.saturating_pow(attempt))
        })
        .min(limits.max_backoff)
}

/// Finds the human message in the three providers' error shapes:
/// `{"error":{"message"}}` (OpenAI, Anthropic), `{"error":"…"}` (Ollama),
/// falling back to the text itself.
pub(crate) fn error_message(body: &[u8]) -> String {
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) {
        let found = v
            .pointer("/error/message")
            .or_else(|| v.get("error"))
            .or_else(|| v.get("message"))
            .or_else(|| v.get("detail"));
        match found {
            Some(serde_json::Value::String(s)) => return s.clone(),
            Some(other) if !other.is_null() => return other.to_string(),
            _ => {}
        }
    }
    let text = String::from_utf8_lossy(body);
    if text.trim().is_empty() {
        "(no message)".to_owned()
    } else {
        text.into_owned()
    }
}

/// A stream-level error event (`{"error":{…}}` mid-stream) as a status error.
pub(crate) fn stream_error(transport: &Transport, error: &serde_json::Value) -> ProviderError {
    let kind = error
        .get("type")
        .and_then(|t| t.as_str())
        .unwrap_or_default();
    let status = error
        .get("code")
        .and_then(|c| c.as_u64())
        .and_then(|c| u16::try_from(c).ok())
        .unwrap_or(match kind {
            "rate_limit_error" => 429,
            "overloaded_error" => 529,
            "invalid_request_error" => 400,
            _ => 500,
        });
    let message = match error {
        serde_json::Value::String(s) => s.clone(),
        _ => error
            .get("message")
            .and_then(|m| m.as_str())
            .map_or_else(|| error.to_string(), str::to_owned),
    };
    ProviderError::Status {
        status,
        message: transport.scrub(&message),
    }
}

/// `Bearer KEY`, built in a buffer of its final size (so no partial copy
/// is left behind) and wiped when dropped, after the request is built.
pub(crate) fn bearer(key: &str) -> Zeroizing<String> {
    let mut v = Zeroizing::new(String::with_capacity(7 + key.len()));
    v.push_str("Bearer ");
    v.push_str(key);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_honours_retry_after_and_is_capped() {
        let limits = CallLimits {
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            ..CallLimits::default()
        };
        assert_eq!(backoff(&limits, 0, None), Duration::from_millis(100));
        assert_eq!(backoff(&limits, 2, None), Duration::from_millis(400));
        assert_eq!(backoff(&limits, 40, None), Duration::from_secs(5));
        assert_eq!(backoff(&limits, 0, Some(" 2 ")), Duration::from_secs(2));
        assert_eq!(backoff(&limits, 0, Some("3600")), Duration::from_secs(5));
        // An HTTP date is not understood: the doubling applies.
        let date = "Wed, 21 Oct 2015 07:28:00 GMT";
        assert_eq!(backoff(&limits, 1, Some(date)), Duration::from_millis(200));
    }

    #[test]
    fn error_messages_are_found_in_every_shape() {
        let openai = br#"{"error":{"message":"Rate limit","type":"x"}}"#;
        let anthropic = br#"{"type":"error","error":{"type":"api_error","message":"Boom"}}"#;
        assert_eq!(error_message(openai), "Rate limit");
        assert_eq!(error_message(anthropic), "Boom");
        assert_eq!(
            error_message(br#"{"error":"model not found"}"#),
            "model not found"
        );
        assert_eq!(
            error_message(b"<html>bad gateway</html>"),
            "<html>bad gateway</html>"
        );
        assert_eq!(error_message(b"  "), "(no message)");
    }
}
