//! The outermost layer: access log, host check and response hardening, in
//! that order, as one middleware. A 421 for a foreign `Host` still gets
//! the security headers and a log line; every response does.
//!
//! They were three `from_fn` layers; each cost a clone of the inner
//! service stack, a boxed service and two boxed futures per request.
//! The steps themselves live in `access_log`, `host_check` and `headers`;
//! this module only orders them and must never skip one.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use super::access_log;
use super::headers::{self, SecurityHeaders};
use super::host_check::{self, AllowedHosts};

/// What the edge needs, fixed at start-up. Cloned for every request, so
/// it is one shared pointer.
#[derive(Clone)]
pub struct Edge(Arc<EdgeParts>);

pub struct EdgeParts {
    pub hosts: AllowedHosts,
    pub headers: SecurityHeaders,
}

impl Edge {
    pub fn new(parts: EdgeParts) -> Self {
        Self(Arc::new(parts))
    }
}

pub async fn edge(State(edge): State<Edge>, req: Request, next: Next) -> Response {
    crate::footprint::note_request();
    let line = access_log::Line::start(&req);
    let is_api = req.uri().path().starts_with("/api/");
    let resp = match host_check::refusal(&edge.0.hosts, &req) {
        None => next.run(req).await,
        Some(refusal) => refusal,
    };
    let resp = headers::harden(&edge.0.headers, is_api, resp).await;
    if let Some(line) = line {
        line.finish(&resp);
    }
    resp
}
