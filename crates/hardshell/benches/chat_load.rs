//! Chat under load, against the real server binary (bench profile, so
//! optimised) on loopback with a real encrypted database:
//!
//! 1. authenticated `GET …/messages?limit=50` driven by `wrk` (requests/s,
//!    p50, p99), skipped with a note when `wrk` is not installed;
//! 2. `POST` message → fan-out to 100 WebSocket clients: how fast messages
//!    are posted and delivered to every client.
//!
//! Run: `cargo bench -p hardshell --bench chat_load`
//! Tunables (env): `WRK_SECS` (10), `WRK_CONNS` (64), `FANOUT_CLIENTS` (100),
//! `FANOUT_MESSAGES` (2000), `FANOUT_POSTERS` (64).
//!
//! Besides wall-clock rates, the fan-out phase reports the CPU time the
//! server and this client each spent per message (from `/proc`): on a
//! shared, noisy machine that is the steadier number to compare.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "support/wrk.rs"]
mod wrk;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::identity::{bearer, installation, tokens};
use common::{Server, env_or};
use futures_util::StreamExt;
use reqwest::Method;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

async fn create_group(server: &Server, token: &str) -> i64 {
    let resp = bearer(server, token, Method::POST, "/api/v1/conversations")
        .json(&json!({"kind": "group", "title": "bench"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201, "create conversation");
    resp.json::<Value>().await.unwrap()["id"].as_i64().unwrap()
}

/// Posts through a shared client; takes the base URL because `Server` is
/// not `Sync` and posters run as separate tasks.
async fn post(http: &reqwest::Client, base: &str, token: &str, conv: i64, text: &str) {
    let resp = http
        .post(format!("{base}/api/v1/conversations/{conv}/messages"))
        .bearer_auth(token)
        .json(&json!({ "text": text }))
        .send()
        .await
        .unwrap();
    let status = resp.status();
    if status != 201 {
        panic!(
            "post message: {status} {}",
            resp.text().await.unwrap_or_default()
        );
    }
}

/// Runs wrk and prints its summary; returns (req/s, p50, p99) as text.
fn run_wrk(url: &str, token: &str) -> Option<(String, String, String)> {
    let secs = env_or("WRK_SECS", 10);
    let conns = env_or("WRK_CONNS", 64);
    let report = wrk::run(url, token, secs, conns)?;
    println!("{}", report.text);
    let field = |prefix: &str| report.field(prefix);
    Some((field("Requests/sec:"), field("50%"), field("99%")))
}

/// User plus system CPU time of a process so far, from `/proc/<pid>/stat`.
fn cpu_time(pid: &str) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the
    // 12th and 13th of those, in clock ticks (100 per second on Linux).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|v| v.parse().ok())
        .collect();
    Duration::from_millis(f.iter().sum::<u64>() * 10)
}

async fn ws_client(
    server: &Server,
    token: &str,
    expect: usize,
    ready: Arc<AtomicUsize>,
) -> tokio::task::JoinHandle<Instant> {
    let ws_url = format!("{}/api/v1/ws", server.base.replacen("http", "ws", 1));
    let mut req = ws_url.into_client_request().unwrap();
    req.headers_mut()
        .insert("origin", server.base.parse().unwrap());
    req.headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    // tungstenite zero-fills its whole read buffer (128 KiB by default)
    // before every read; a smaller one keeps that off the shared cores.
    let config = WebSocketConfig::default().read_buffer_size(16 * 1024);
    let (mut socket, _) = tokio_tungstenite::connect_async_with_config(req, Some(config), true)
        .await
        .unwrap();
    tokio::spawn(async move {
        let mut seen = 0;
        while let Some(frame) = socket.next().await {
            let Message::Text(text) = frame.unwrap() else {
                continue;
            };
            // Hub events start with their type: skip a full parse for the
            // hot one, so the clients (on the same two cores) cost less.
            if text.starts_with(r#"{"type":"message.created","#) {
                seen += 1;
                if seen == expect {
                    return Instant::now();
                }
                continue;
            }
            let v: Value = serde_json::from_str(&text).unwrap();
            match v["type"].as_str() {
                Some("ready") => {
                    ready.fetch_add(1, Ordering::SeqCst);
                }
                Some("message.created") => {
                    seen += 1;
                    if seen == expect {
                        return Instant::now();
                    }
                }
                _ => {}
            }
        }
        panic!("socket closed after {seen} of {expect} messages");
    })
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let (_env, server) = installation(&[("ann", "member")]);
    let (token, _) = tokens(&server, "ann").await;
    let conv = create_group(&server, &token).await;
    let http = common::client();
    for i in 0..200 {
        let text = format!("seed message **{i}** with some text");
        post(&http, &server.base, &token, conv, &text).await;
    }

    println!("== read: GET 50 messages, bearer auth");
    let url = server.url(&format!("/api/v1/conversations/{conv}/messages?limit=50"));
    match run_wrk(&url, &token) {
        Some((rps, p50, p99)) => println!("read: {rps} req/s, p50 {p50}, p99 {p99}"),
        None => println!("read: wrk not installed (apt-get install wrk); skipped"),
    }

    let clients = env_or("FANOUT_CLIENTS", 100);
    let messages = env_or("FANOUT_MESSAGES", 2000);
    let posters = env_or("FANOUT_POSTERS", 64);
    println!("== fan-out: {messages} posts to {clients} WebSocket clients, {posters} posters");
    let ready = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::new();
    for _ in 0..clients {
        handles.push(ws_client(&server, &token, messages, Arc::clone(&ready)).await);
    }
    while ready.load(Ordering::SeqCst) < clients {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let server_pid = server.child.id().to_string();
    let (server_cpu, client_cpu) = (cpu_time(&server_pid), cpu_time("self"));
    let start = Instant::now();
    let mut post_tasks = Vec::new();
    for p in 0..posters {
        let (http, base, token) = (http.clone(), server.base.clone(), token.clone());
        let share = messages / posters + usize::from(p < messages % posters);
        post_tasks.push(tokio::spawn(async move {
            for i in 0..share {
                post(&http, &base, &token, conv, &format!("fan-out {p}/{i}")).await;
            }
        }));
    }
    for t in post_tasks {
        t.await.unwrap();
    }
    let posted = start.elapsed();
    let mut last = start;
    for h in handles {
        last = last.max(h.await.unwrap());
    }
    let delivered = last.duration_since(start);
    let per_msg = |d: Duration| d.as_secs_f64() * 1e6 / messages as f64;
    let server_us = per_msg(cpu_time(&server_pid).saturating_sub(server_cpu));
    let client_us = per_msg(cpu_time("self").saturating_sub(client_cpu));
    let secs = delivered.as_secs_f64();
    println!(
        "fan-out: posted {messages} in {:.2} s ({:.0} posts/s); every client had every message after {:.2} s: \
         {:.0} messages/s end to end, {:.0} WebSocket frames/s delivered; \
         CPU per message: server {server_us:.0} µs, bench client {client_us:.0} µs",
        posted.as_secs_f64(),
        messages as f64 / posted.as_secs_f64(),
        secs,
        messages as f64 / secs,
        (messages * clients) as f64 / secs
    );
}
