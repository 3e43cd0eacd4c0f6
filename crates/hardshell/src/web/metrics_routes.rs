//! `GET /metrics` (Prometheus; docs/architecture.md, "Operations: backups and doctor") and the middleware that counts
//! requests by matched route template.
//!
//! Off by default: while `[metrics] enabled` is false the route answers 404
//! as if it did not exist. On, only the owner's `api-` bearer token is let
//! in: anonymous callers get 401, a cookie session, another role or an
//! agent key 403. It never reads a raw path into a label.

use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::extract::{AuthVia, Principal};
use super::{ApiError, AppState};
use crate::metrics;

/// Counts each request under its matched route template (or `unmatched`).
pub async fn track(req: Request, next: Next) -> Response {
    if !metrics::enabled() {
        return next.run(req).await;
    }
    let method = req.method().clone();
    let route = req.extensions().get::<MatchedPath>().cloned();
    let resp = next.run(req).await;
    metrics::request(
        &method,
        route.as_ref().map(MatchedPath::as_str),
        resp.status().as_u16(),
    );
    resp
}

/// Prometheus metrics (text format 0.0.4); owner bearer token only.
#[utoipa::path(get, path = "/metrics", tag = "system",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Metrics in the Prometheus text format", content_type = "text/plain"),
        (status = 401, description = "No credential"),
        (status = 403, description = "Not the owner's bearer token"),
        (status = 404, description = "Metrics are off (`[metrics] enabled = false`)")))]
pub async fn metrics(
    State(state): State<AppState>,
    principal: Result<Principal, ApiError>,
) -> Result<Response, ApiError> {
    if !state.config.metrics.enabled {
        return Err(ApiError::not_found());
    }
    let principal = principal?;
    principal.require_owner()?;
    if principal.via != AuthVia::Bearer {
        return Err(ApiError::forbidden(
            "metrics need the owner's bearer token (Authorization: Bearer api-…)".to_string(),
        ));
    }
    let pending_approvals = state.store.approvals_pending_count().await?;
    let sampled = metrics::Sampled {
        pending_approvals,
        database_bytes: database_bytes(state.store.path()),
        turns_running: i64::try_from(state.runtime.running()).unwrap_or(i64::MAX),
    };
    let text = metrics::render(sampled).map_err(|e| ApiError::internal(&e))?;
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, metrics::CONTENT_TYPE)],
        text,
    )
        .into_response())
}

/// The database file plus its journal, as on disk now.
fn database_bytes(path: &std::path::Path) -> i64 {
    let size = |p: &std::path::Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    let total = size(path).saturating_add(size(std::path::Path::new(&wal)));
    i64::try_from(total).unwrap_or(i64::MAX)
}
