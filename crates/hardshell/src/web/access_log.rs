//! One debug-level log line per request: method, path, status, time.
//!
//! Paths can carry tokens (a setup link, say); the log writer's vault
//! redactor is what keeps known secrets out, and query strings are never
//! logged at all. When debug lines are filtered out (the default `info`),
//! nothing is built for them: no copy of the path, no clock read.

use std::time::Instant;

use axum::extract::Request;
use axum::http::Method;
use axum::response::Response;

/// A request's line, started before the request is handled.
pub struct Line {
    method: Method,
    path: String,
    started: Instant,
}

impl Line {
    /// `None` when debug lines would be dropped anyway.
    pub fn start(req: &Request) -> Option<Self> {
        if !tracing::enabled!(tracing::Level::DEBUG) {
            return None;
        }
        Some(Self {
            method: req.method().clone(),
            path: req.uri().path().to_string(),
            started: Instant::now(),
        })
    }

    pub fn finish(self, resp: &Response) {
        tracing::debug!(
            method = %self.method,
            path = %self.path,
            status = resp.status().as_u16(),
            micros = self.started.elapsed().as_micros() as u64,
            "request"
        );
    }
}
