//! Streamed responses for callers that read a body as it arrives (LLM
//! providers). The same pinned dial, timeouts and byte cap as buffered
//! fetches apply, enforced per chunk; redirects are never followed here (a
//! redirected POST with credentials is refused, not resent). It never
//! buffers a whole body and never hands out bytes past the cap.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::header;
use http_body_util::BodyExt;
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::{Instant, timeout_at};

use crate::error::NetError;
use crate::transport::Exchange;

/// A response whose head has arrived and whose body is read chunk by chunk.
/// Dropping it closes the connection (and frees the client's slot).
pub struct StreamingResponse {
    pub status: u16,
    /// The URL the request went to.
    pub url: String,
    pub headers: Vec<(String, String)>,
    /// The checked address the request was sent to.
    pub remote_addr: SocketAddr,
    exchange: Exchange,
    _slot: OwnedSemaphorePermit,
    received: usize,
    cap: usize,
    read_timeout: Duration,
    deadline: Instant,
    done: bool,
}

impl std::fmt::Debug for StreamingResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamingResponse")
            .field("status", &self.status)
            .field("url", &self.url)
            .field("received", &self.received)
            .finish_non_exhaustive()
    }
}

impl StreamingResponse {
    pub(crate) fn new(
        exchange: Exchange,
        url: String,
        slot: OwnedSemaphorePermit,
        cap: usize,
        read_timeout: Duration,
        deadline: Instant,
    ) -> Result<Self, NetError> {
        let declared = exchange
            .response
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > cap as u64) {
            return Err(NetError::BodyTooLarge { limit: cap });
        }
        let headers = exchange
            .response
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        Ok(StreamingResponse {
            status: exchange.response.status().as_u16(),
            url,
            headers,
            remote_addr: exchange.remote_addr,
            exchange,
            _slot: slot,
            received: 0,
            cap,
            read_timeout,
            deadline,
            done: false,
        })
    }

    /// The first value of a header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Bytes of body read so far.
    pub fn received(&self) -> usize {
        self.received
    }

    /// The next chunk of body, `None` at the end. Fails when the gap since
    /// the last chunk exceeds the read timeout, the whole request exceeds
    /// the total timeout, or the body grows past the cap.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, NetError> {
        while !self.done {
            let gap = Instant::now() + self.read_timeout;
            let (limit, what) = if gap < self.deadline {
                (gap, "reading the body")
            } else {
                (self.deadline, "the total time limit passed")
            };
            let frame = timeout_at(limit, self.exchange.response.body_mut().frame())
                .await
                .map_err(|_| NetError::Timeout(what))?;
            let Some(frame) = frame else {
                self.done = true;
                break;
            };
            let frame = frame.map_err(|e| NetError::Http(e.to_string()))?;
            let Ok(data) = frame.into_data() else {
                continue; // trailers carry no body bytes
            };
            if data.is_empty() {
                continue;
            }
            if self.received.saturating_add(data.len()) > self.cap {
                self.done = true;
                return Err(NetError::BodyTooLarge { limit: self.cap });
            }
            self.received += data.len();
            return Ok(Some(data));
        }
        Ok(None)
    }

    /// Reads the rest of the body (within the same limits).
    pub async fn bytes(&mut self) -> Result<Vec<u8>, NetError> {
        let mut out = Vec::new();
        while let Some(chunk) = self.chunk().await? {
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    }
}
