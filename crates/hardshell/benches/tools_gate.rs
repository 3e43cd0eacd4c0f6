//! The tool gate's cost, on the real server with the fake provider:
//!
//! 1. Gate decision overhead: the `duration_us` the gate audits for each
//!    decision (parse, normalise, fingerprint, trust level read, leak
//!    guard), for level-1 "describe" decisions, which run nothing.
//! 2. `http_request` through the gate, netguard and the egress hook, timed
//!    by the gate (decision + request + leak guard), beside direct calls to
//!    the same loopback page in the same run: netguard alone, and reqwest
//!    with a fresh connection per call.
//! 3. Approval round trip on loopback: the turn asks, the owner approves
//!    over the API, the call is dispatched.
//!
//! Run: `cargo bench -p hardshell --bench tools_gate`
//! Tunables (env): `CALLS` (200), `APPROVALS` (30).
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::chat::{call, post};
use common::fake_llm::Reply;
use common::gate::{World, world_with};
use common::sites::{Page, Site};
use reqwest::Method;
use serde_json::{Value, json};

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn summary(name: &str, mut v: Vec<f64>, unit: &str) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let p50 = percentile(&v, 0.5);
    println!(
        "{name:<44} n={:<5} p50 {p50:>9.1} {unit}  p99 {:>9.1} {unit}",
        v.len(),
        percentile(&v, 0.99)
    );
    p50
}

fn env_n(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `duration_us` of every gate decision with this tool and decision.
fn gate_durations(w: &World, tool: &str, decision: &str) -> Vec<f64> {
    let conn = common::identity::db(&w.env);
    let mut stmt = conn
        .prepare("SELECT details FROM audit_log WHERE action = 'tool.call'")
        .unwrap();
    stmt.query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .filter_map(Result::ok)
        .filter_map(|d| serde_json::from_str::<Value>(&d).ok())
        .filter(|d| d["tool"] == tool && d["decision"] == decision)
        .filter_map(|d| d["duration_us"].as_f64())
        .collect()
}

/// Runs `n` turns, each one tool call then a short answer, and waits for
/// each to finish before the next.
async fn turns(w: &World, conv: i64, n: usize, tool: &str, args: &Value) {
    for _ in 0..n {
        let before = w.llm.chat_requests().len();
        w.llm.push(Reply::tool_call(tool, &args.to_string()));
        w.llm.push(Reply::text(["ok"]));
        post(&w.server, &w.owner, conv, "go").await;
        common::gate::eventually("the turn", || async {
            (w.llm.chat_requests().len() >= before + 2).then_some(())
        })
        .await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let calls = env_n("CALLS", 200);
    let approvals = env_n("APPROVALS", 30);
    let page = Site::start().await;
    page.page(
        "/data",
        Page::Body("application/json", "{\"ok\":true}".repeat(50)),
    );
    let tools = r#"resolve = ["pages.test:127.0.0.1"]
allow_private = ["pages.test"]"#;
    let w = world_with("", tools).await;
    // A fresh agent and conversation per part, so no daily budget runs out.
    let (agent, conv) = w.agent("describer").await;

    // 1. Decision overhead: level 1 describes and runs nothing.
    w.set_level(agent, "messaging", 1).await;
    turns(&w, conv, calls, "send_message", &json!({"text": "hello"})).await;
    summary(
        "gate decision (describe, level 1)",
        gate_durations(&w, "send_message", "describe"),
        "µs",
    );

    // 2. http_request through the gate, beside direct calls.
    let (agent, conv) = w.agent("fetcher").await;
    w.set_level(agent, "web", 4).await;
    let url = format!("{}/data", page.url("pages.test"));
    let args = json!({"method": "GET", "url": url});
    turns(&w, conv, calls, "http_request", &args).await;
    let gated = summary(
        "http_request via gate+netguard (gate-timed)",
        gate_durations(&w, "http_request", "run"),
        "µs",
    );
    let policy = netguard::Policy::builder()
        .allow_private("pages.test")
        .unwrap()
        .build();
    let resolver = netguard::StaticResolver::new().with("pages.test", "127.0.0.1".parse().unwrap());
    let direct = netguard::Client::new(policy, Arc::new(resolver)).unwrap();
    let mut netguard_only = Vec::new();
    for _ in 0..calls {
        let t = Instant::now();
        let r = direct.get(&url).await.unwrap();
        assert_eq!(r.status, 200);
        netguard_only.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let ng = summary("direct netguard GET (same page)", netguard_only, "µs");
    let plain_url = format!("http://127.0.0.1:{}/data", page.port());
    let mut plain = Vec::new();
    for _ in 0..calls {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .unwrap();
        let t = Instant::now();
        let r = client.get(&plain_url).send().await.unwrap();
        let _ = r.bytes().await.unwrap();
        plain.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let rq = summary("direct reqwest GET, fresh connection", plain, "µs");
    println!(
        "ratio gate-timed / direct netguard: {:.2}x; / reqwest: {:.2}x",
        gated / ng,
        gated / rq
    );

    // 3. Approval round trip: ask -> approve over the API -> dispatched.
    let (agent, conv) = w.agent("asker").await;
    w.set_level(agent, "messaging", 2).await;
    let mut ask_ms = Vec::new();
    let mut decide_ms = Vec::new();
    for i in 0..approvals {
        w.llm.push(Reply::tool_call(
            "send_message",
            &json!({"text": format!("n{i}")}).to_string(),
        ));
        w.llm.push(Reply::text(["ok"]));
        let t0 = Instant::now();
        post(&w.server, &w.owner, conv, "go").await;
        let pending = loop {
            if let Some(p) = w.approvals("pending").await.into_iter().next() {
                break p;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        };
        let t1 = Instant::now();
        let id = pending["id"].as_i64().unwrap();
        let (s, _) = call(
            &w.server,
            &w.owner,
            Method::POST,
            &format!("/api/v1/approvals/{id}/approve"),
            None,
        )
        .await;
        assert!(s.is_success());
        while w.approval(id).await["status"] != "dispatched" {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let t2 = Instant::now();
        ask_ms.push((t1 - t0).as_secs_f64() * 1e3);
        decide_ms.push((t2 - t1).as_secs_f64() * 1e3);
        common::gate::eventually("the answer", || async {
            (w.llm.pending() == 0).then_some(())
        })
        .await;
    }
    summary("post -> approval pending (2 ms polls)", ask_ms, "ms");
    summary("approve -> dispatched (2 ms polls)", decide_ms, "ms");
}
