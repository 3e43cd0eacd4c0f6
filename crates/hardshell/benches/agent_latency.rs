//! The server's added latency per agent turn: the moment the first
//! `agent.delta` reaches a WebSocket client, minus the moment the fake
//! provider wrote its first token. Everything in between is ours: reading
//! the SSE stream, the leak guard, the hub, the WebSocket write.
//!
//! Real server binary (bench profile), real encrypted database, the fake
//! OpenAI-compatible server from the tests, all on loopback.
//!
//! Run: `cargo bench -p hardshell --bench agent_latency`
//! Tunables (env): `TURNS` (200).
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::agents::{create_agent, direct, set_provider};
use common::chat::post;
use common::fake_llm::{FakeLlm, Reply};
use common::identity::{installation, tokens};
use common::ws::{Cred, connect, next_json};
use serde_json::json;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let turns: usize = std::env::var("TURNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let (_env, server) = installation(&[("olga", "owner")]);
    let llm = FakeLlm::start().await;
    let owner = tokens(&server, "olga").await.0;
    set_provider(
        &server,
        &owner,
        "openai",
        json!({"kind": "openai", "base_url": llm.openai_base(), "api_key": "sk-bench-0123456789abcdefghij"}),
    )
    .await;
    let agent = create_agent(&server, &owner, "bench", "openai/m1", json!({})).await;
    let conv = direct(&server, &owner, agent).await;
    let (mut ws, _) = connect(&server, Cred::Bearer(&owner), "").await;
    let mut added = Vec::with_capacity(turns);
    for i in 0..turns {
        llm.push(
            Reply::text(["Sure, ", "here ", "is ", "the ", "answer."])
                .with_delay(Duration::from_millis(2)),
        );
        post(&server, &owner, conv, &format!("question {i}")).await;
        let first_delta = loop {
            let v = next_json(&mut ws, Duration::from_secs(30))
                .await
                .expect("a frame");
            if v["type"] == "agent.delta" {
                break Instant::now();
            }
        };
        loop {
            let v = next_json(&mut ws, Duration::from_secs(30))
                .await
                .expect("a frame");
            if v["type"] == "agent.finished" {
                break;
            }
        }
        let first_token = *llm.first_content_times().get(i).expect("first token time");
        added.push(first_delta.duration_since(first_token).as_secs_f64() * 1000.0);
    }
    added.sort_by(f64::total_cmp);
    println!(
        "agent turn added latency over {turns} turns: p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        percentile(&added, 0.5),
        percentile(&added, 0.99),
        added[added.len() - 1]
    );
}
