//! Prometheus metrics for `/metrics` (docs/architecture.md, "Operations: backups and doctor"), through `prometheus-client`.
//!
//! Owns the process's one registry and the cheap recording calls the other
//! layers make (a request, a turn, a gate decision, an audit batch, a
//! provider answer, a WebSocket connection). Recording is a relaxed atomic
//! load and nothing else while metrics are off (the default); on, it is one
//! labelled counter or histogram update.
//!
//! Must never take a label from user input: routes are the matched route
//! template (`/api/v1/conversations/{id}`), never the raw path, and every
//! other label comes from a fixed set in the code. No secret, name or
//! content ever becomes a label.

use std::sync::LazyLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// The content type of [`render`]'s output: the Prometheus text format 0.0.4.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// The route label for requests no route matched (the raw path is never used).
pub const UNMATCHED: &str = "unmatched";

static ENABLED: AtomicBool = AtomicBool::new(false);
static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DecisionLabels {
    decision: &'static str,
}

struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    turns: Family<OutcomeLabels, Counter>,
    tool_calls: Family<DecisionLabels, Counter>,
    audit_append: Histogram,
    provider_latency: Histogram,
    ws_connections: Gauge,
    pending_approvals: Gauge,
    database_bytes: Gauge,
    turns_running: Gauge,
}

impl Metrics {
    fn new() -> Metrics {
        let mut registry = Registry::with_prefix("hardshell");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests by method, matched route template and status",
            requests.clone(),
        );
        let turns = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "agent_turns",
            "Agent turns finished, by outcome (done, failed, stopped, parked)",
            turns.clone(),
        );
        let tool_calls = Family::<DecisionLabels, Counter>::default();
        registry.register(
            "tool_calls",
            "Tool calls decided by the gate, by decision (run, ask, describe, refuse)",
            tool_calls.clone(),
        );
        // 0.5 ms .. ~4 s: an audit batch is one SQLCipher transaction.
        let audit_append = Histogram::new(exponential_buckets(0.0005, 2.0, 14));
        registry.register(
            "audit_append_seconds",
            "Time to seal and commit one batch of audit entries",
            audit_append.clone(),
        );
        // 10 ms .. ~80 s: until the provider's response head arrives.
        let provider_latency = Histogram::new(exponential_buckets(0.01, 2.0, 14));
        registry.register(
            "provider_response_seconds",
            "Time from sending a provider request to its response head (retries included)",
            provider_latency.clone(),
        );
        let ws_connections = Gauge::default();
        registry.register(
            "websocket_connections",
            "Open WebSocket connections",
            ws_connections.clone(),
        );
        let pending_approvals = Gauge::default();
        registry.register(
            "pending_approvals",
            "Tool-call approvals waiting for a decision",
            pending_approvals.clone(),
        );
        let database_bytes = Gauge::default();
        registry.register(
            "database_bytes",
            "Size of the database file and its journal on disk",
            database_bytes.clone(),
        );
        let turns_running = Gauge::default();
        registry.register(
            "agent_turns_running",
            "Agent turns running now",
            turns_running.clone(),
        );
        Metrics {
            registry,
            requests,
            turns,
            tool_calls,
            audit_append,
            provider_latency,
            ws_connections,
            pending_approvals,
            database_bytes,
            turns_running,
        }
    }
}

/// Turns recording on (`serve` calls it when `[metrics] enabled = true`).
pub fn enable() {
    ENABLED.store(true, Ordering::Relaxed);
    LazyLock::force(&METRICS);
}

pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// One finished request. `route` is the matched template, or `None`.
pub fn request(method: &axum::http::Method, route: Option<&str>, status: u16) {
    if !enabled() {
        return;
    }
    let labels = RequestLabels {
        method: method_label(method),
        route: route.unwrap_or(UNMATCHED).to_owned(),
        status,
    };
    METRICS.requests.get_or_create(&labels).inc();
}

/// One finished agent turn.
pub fn turn(outcome: &'static str) {
    if enabled() {
        METRICS
            .turns
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }
}

/// One gate decision.
pub fn tool_call(decision: &'static str) {
    if enabled() {
        METRICS
            .tool_calls
            .get_or_create(&DecisionLabels { decision })
            .inc();
    }
}

/// One audit batch committed (or refused) after `took`.
pub fn audit_append(took: Duration) {
    if enabled() {
        METRICS.audit_append.observe(took.as_secs_f64());
    }
}

/// One provider request answered (or failed) after `took`.
pub fn provider_response(took: Duration) {
    if enabled() {
        METRICS.provider_latency.observe(took.as_secs_f64());
    }
}

/// Counts an open WebSocket connection until the guard is dropped.
pub struct WsGuard(bool);

pub fn ws_open() -> WsGuard {
    let on = enabled();
    if on {
        METRICS.ws_connections.inc();
    }
    WsGuard(on)
}

impl Drop for WsGuard {
    fn drop(&mut self) {
        if self.0 {
            METRICS.ws_connections.dec();
        }
    }
}

/// Values read at scrape time rather than recorded as they change.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sampled {
    pub pending_approvals: i64,
    pub database_bytes: i64,
    pub turns_running: i64,
}

/// Renders every metric in the Prometheus text format.
pub fn render(sampled: Sampled) -> Result<String, std::fmt::Error> {
    let m = &*METRICS;
    m.pending_approvals.set(sampled.pending_approvals);
    m.database_bytes.set(sampled.database_bytes);
    m.turns_running.set(sampled.turns_running);
    let mut out = String::with_capacity(8 * 1024);
    prometheus_client::encoding::prometheus_text::encode(&mut out, &m.registry)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_templates_and_everything_renders() {
        enable();
        request(
            &axum::http::Method::GET,
            Some("/api/v1/conversations/{id}"),
            200,
        );
        request(&axum::http::Method::GET, None, 404);
        turn("done");
        tool_call("ask");
        audit_append(Duration::from_millis(3));
        provider_response(Duration::from_millis(120));
        let guard = ws_open();
        let text = render(Sampled {
            pending_approvals: 2,
            database_bytes: 4096,
            turns_running: 1,
        })
        .unwrap();
        drop(guard);
        assert!(text.contains(
            r#"hardshell_http_requests_total{method="GET",route="/api/v1/conversations/{id}",status="200"} 1"#
        ), "{text}");
        assert!(
            text.contains(r#"route="unmatched",status="404"} 1"#),
            "{text}"
        );
        assert!(text.contains(r#"hardshell_agent_turns_total{outcome="done"} 1"#));
        assert!(text.contains(r#"hardshell_tool_calls_total{decision="ask"} 1"#));
        assert!(text.contains("hardshell_audit_append_seconds_count 1"));
        assert!(text.contains("hardshell_provider_response_seconds_count 1"));
        assert!(text.contains("hardshell_websocket_connections 1"));
        assert!(text.contains("hardshell_pending_approvals 2"));
        assert!(text.contains("hardshell_database_bytes 4096"));
        assert!(text.contains("# TYPE hardshell_http_requests_total counter"));
    }
}
