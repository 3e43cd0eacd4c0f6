//! The signed-webhook channel under load (issue 19):
//! - ingest: correctly signed messages from paired senders, `CLIENTS` at
//!   once, until each has had its 202 (signature check, replay record,
//!   durable enqueue), then until every answer reached the callback;
//! - refused: the same load with a wrong signature (what a forger costs);
//! - latency: one message at a time, from the moment the request is sent
//!   to the moment the signed answer arrives at the callback, against a
//!   fake provider that answers at once. All of it is ours: the gate, the
//!   queue, the turn, the leak guard, the signed delivery.
//!
//! Real server binary (bench profile), real encrypted database, the fake
//! provider and a loopback callback site from the tests.
//!
//! Run: `cargo bench -p hardshell --bench channels`
//! Tunables (env): `CLIENTS` (8), `PER_CLIENT` (50), `TURNS` (100).
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::env_or;
use common::fake_llm::Reply;
use common::hooks::*;
use reqwest::StatusCode;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Sends `per_client` messages from each of `clients` senders at once;
/// returns the seconds until the last 202 (or other expected status).
async fn load(h: &Hooked, clients: usize, per_client: usize, round: &str, sign: bool) -> f64 {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let server_url = h.w.server.url(INBOUND);
        let round = round.to_string();
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            for i in 0..per_client {
                let body = serde_json::json!({
                    "id": format!("{round}-{c}-{i}"),
                    "sender": format!("s-{c}"),
                    "name": "",
                    "text": format!("message {i} from {c}"),
                })
                .to_string();
                let ts = now().to_string();
                let sig = if sign {
                    signature(SECRET, &ts, body.as_bytes())
                } else {
                    signature("not-the-secret-0123456789abcdefghij", &ts, body.as_bytes())
                };
                let r = client
                    .post(&server_url)
                    .header("content-type", "application/json")
                    .header("x-hardshell-timestamp", ts)
                    .header("x-hardshell-signature", sig)
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                let want = if sign {
                    StatusCode::ACCEPTED
                } else {
                    StatusCode::UNAUTHORIZED
                };
                assert_eq!(r.status(), want, "{}", r.text().await.unwrap_or_default());
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    start.elapsed().as_secs_f64()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let clients = env_or("CLIENTS", 8);
    let per_client = env_or("PER_CLIENT", 50);
    let turns = env_or("TURNS", 100);
    let h = hooked_cfg(
        "",
        "messages_per_minute = 1000000\ntokens_per_sender_day = 1000000000000\nmax_inflight = 64",
    )
    .await;
    // Pair one sender per client, plus the latency sender.
    for c in 0..=clients {
        let code = invite(&h).await;
        let (s, v) = say(
            &h,
            &format!("pair-{c}"),
            &format!("s-{c}"),
            "",
            &format!("/start {code}"),
        )
        .await;
        assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    }
    deliveries(&h, clients + 1).await;
    let base = delivered(&h).len();

    // Ingest: the fake provider echoes at once (empty script).
    let n = clients * per_client;
    let begun = Instant::now();
    let accepted = load(&h, clients, per_client, "in", true).await;
    let answered_by = Instant::now() + Duration::from_secs(600);
    while delivered(&h).len() < base + n {
        assert!(Instant::now() < answered_by, "answers stalled");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let answered = begun.elapsed().as_secs_f64();
    println!(
        "ingest: {n} signed messages from {clients} senders: all 202 in {:.3} s = {:.0} msg/s; \
         all answered at the callback in {:.3} s = {:.0} msg/s",
        accepted,
        n as f64 / accepted,
        answered,
        n as f64 / answered
    );

    let refused = load(&h, clients, per_client, "bad", false).await;
    println!(
        "refused: {n} wrongly signed requests: all 401 in {:.3} s = {:.0} req/s",
        refused,
        n as f64 / refused
    );

    // Latency, one message at a time.
    let mut lat = Vec::with_capacity(turns);
    let sender = format!("s-{clients}");
    for i in 0..turns {
        h.w.llm
            .push(Reply::text(["Sure, ", "here ", "is ", "the ", "answer."]));
        let before = delivered(&h).len();
        let sent = Instant::now();
        let (s, v) = say(
            &h,
            &format!("lat-{i}"),
            &sender,
            "",
            &format!("question {i}"),
        )
        .await;
        assert_eq!(s, StatusCode::ACCEPTED, "{v}");
        let arrived = loop {
            let seen = h.site.seen();
            if seen.len() > before {
                break seen[before].at;
            }
            tokio::time::sleep(Duration::from_micros(200)).await;
        };
        lat.push(arrived.duration_since(sent).as_secs_f64() * 1000.0);
    }
    lat.sort_by(f64::total_cmp);
    println!(
        "latency: {turns} messages, request sent -> answer at the callback: \
         p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        lat[lat.len() - 1]
    );
}
