//! Bookmarks against the real server binary on loopback with a real
//! encrypted database:
//!
//! 1. `GET /api/v1/bookmarks?limit=50` from `LIST_CONNS` concurrent
//!    clients for `LIST_SECS` seconds (requests/s, p50, p99);
//! 2. `POST /api/v1/bookmarks/bulk` with 1000 new items, `BULK_RUNS` times
//!    (each run's time, and the median; the goal is under 200 ms);
//! 3. `GET /api/v1/bookmarks?q=…` over `SEARCH_ROWS` bookmarks (100,000 by
//!    default, loaded through the bulk route), `SEARCH_QUERIES` queries
//!    one at a time (p50, p99).
//!
//! Run: `cargo bench -p hardshell --bench bookmarks`
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::env_or;
use common::identity::{installation, tokens};
use serde_json::{Value, json};

const WORDS: [&str; 16] = [
    "rust", "tokio", "async", "database", "cooking", "bread", "travel", "music", "garden",
    "python", "linux", "security", "design", "history", "physics", "chess",
];

fn item(i: usize) -> Value {
    let a = WORDS[i % WORDS.len()];
    let b = WORDS[(i / WORDS.len()) % WORDS.len()];
    json!({"url": format!("https://site{}.example/page/{i}", i % 997),
           "title": format!("{a} notes number {i}"),
           "description": format!("about {a} and {b}"),
           "tags": [a, b]})
}

async fn bulk(http: &reqwest::Client, base: &str, token: &str, from: usize, n: usize) -> Duration {
    let items: Vec<Value> = (from..from + n).map(item).collect();
    let started = Instant::now();
    let resp = http
        .post(format!("{base}/api/v1/bookmarks/bulk"))
        .bearer_auth(token)
        .json(&items)
        .send()
        .await
        .unwrap();
    let took = started.elapsed();
    assert_eq!(resp.status(), 207);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["imported"], n, "{}", v["errors"]);
    took
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let (_env, server) = installation(&[("olga", "owner")]);
    let token = tokens(&server, "olga").await.0;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .unwrap();
    let base = server.base.clone();

    // 2. Bulk import of 1000 items, measured first on a small store.
    let runs = env_or("BULK_RUNS", 5);
    let mut times = Vec::new();
    for r in 0..runs {
        times.push(bulk(&http, &base, &token, 1_000_000 + r * 1000, 1000).await);
    }
    let each: Vec<String> = times.iter().map(|d| ms(*d)).collect();
    times.sort();
    println!(
        "bulk 1000 items: median {} (runs: {})",
        ms(pct(&times, 0.5)),
        each.join(", ")
    );

    // 1. List 50 under concurrent load.
    let secs = env_or("LIST_SECS", 10) as u64;
    let conns = env_or("LIST_CONNS", 16);
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for _ in 0..conns {
        let (http, base, token) = (http.clone(), base.clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            while Instant::now() < deadline {
                let t = Instant::now();
                let resp = http
                    .get(format!("{base}/api/v1/bookmarks?limit=50"))
                    .bearer_auth(&token)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(resp.status(), 200);
                let _ = resp.bytes().await.unwrap();
                lat.push(t.elapsed());
            }
            lat
        }));
    }
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await.unwrap());
    }
    lat.sort();
    println!(
        "list 50: {:.0} req/s over {secs} s with {conns} clients, p50 {}, p99 {}",
        lat.len() as f64 / secs as f64,
        ms(pct(&lat, 0.5)),
        ms(pct(&lat, 0.99))
    );

    // 3. Search over SEARCH_ROWS bookmarks.
    let rows = env_or("SEARCH_ROWS", 100_000);
    let have = runs * 1000;
    let load_started = Instant::now();
    let mut next = 0;
    while have + next < rows {
        let n = 1000.min(rows - have - next);
        bulk(&http, &base, &token, next, n).await;
        next += n;
    }
    println!(
        "loaded {} bookmarks in {:.1} s",
        have + next,
        load_started.elapsed().as_secs_f64()
    );
    let queries = env_or("SEARCH_QUERIES", 300);
    let mut lat = Vec::new();
    for i in 0..queries {
        let q = match i % 3 {
            0 => WORDS[i % WORDS.len()].to_string(),
            1 => format!(
                "{} {}",
                WORDS[i % WORDS.len()],
                WORDS[(i + 5) % WORDS.len()]
            ),
            _ => format!("number {}", (i * 37) % rows),
        };
        let t = Instant::now();
        let resp = http
            .get(format!("{base}/api/v1/bookmarks"))
            .query(&[("q", q.as_str()), ("limit", "50")])
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let _ = resp.bytes().await.unwrap();
        lat.push(t.elapsed());
    }
    lat.sort();
    println!(
        "search over {} bookmarks: {queries} queries, p50 {}, p99 {}",
        have + next,
        ms(pct(&lat, 0.5)),
        ms(pct(&lat, 0.99))
    );
}
