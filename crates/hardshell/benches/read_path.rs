//! The read path against a bare axum server (issue 25), in one run on one
//! machine: the real server binary (bench profile) with a real encrypted
//! database serves an authenticated `GET …/messages?limit=50`; a minimal
//! axum server (`support/axum_reference.rs`, the same axum and tokio)
//! serves the very same bytes behind one constant-time bearer compare.
//! `wrk` drives each in turn, rounds interleaved so machine noise hits
//! both alike, and the bench prints requests/s, p50, p99, server CPU per
//! request (from `/proc`) and the ratio of the medians.
//!
//! Threads: the most the server had during each load (a cached read
//! starts none; blocking-pool threads mean database reads).
//!
//! Memory: the server's RSS (and its anonymous/file split) before the
//! first load, right after each 10-second load, and `SETTLE_SECS` later.
//!
//! Every security control of the server stays on: authentication,
//! membership, rate limits, headers, host check, access log, metrics.
//!
//! Run: `cargo bench -p hardshell --bench read_path`
//! Tunables (env): `ROUNDS` (3), `WRK_SECS` (10), `WRK_CONNS` (64),
//! `SETTLE_SECS` (5).
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

#[path = "support/axum_reference.rs"]
mod axum_reference;
#[path = "../tests/common/mod.rs"]
mod common;
#[path = "support/wrk.rs"]
mod wrk;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::env_or;
use common::identity::{bearer, tokens};
use reqwest::Method;
use serde_json::{Value, json};

/// One wrk run's summary.
#[derive(Clone, Copy, Debug, Default)]
struct Run {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    /// Server CPU (user + system) per request, µs.
    cpu_us: f64,
    /// Most threads the server had during the load (sampled every 50
    /// ms): a cached GET makes no blocking call, so growth here means
    /// requests went to the database through the blocking pool.
    max_threads: u32,
}

/// wrk's latency text ("812.00us", "1.25ms", "1.02s") in milliseconds.
fn millis(v: &str) -> f64 {
    let v = v.trim();
    let (num, scale) = if let Some(n) = v.strip_suffix("us") {
        (n, 1e-3)
    } else if let Some(n) = v.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = v.strip_suffix('s') {
        (n, 1e3)
    } else {
        (v, f64::NAN)
    };
    num.parse::<f64>().map_or(f64::NAN, |n| n * scale)
}

/// User plus system CPU time of a process so far, in seconds.
fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let ticks: u64 = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|v| v.parse::<u64>().ok())
        .sum();
    ticks as f64 / 100.0
}

/// RSS, anonymous and file-backed resident memory in MiB.
fn rss(pid: u32) -> (f64, f64, f64) {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kb = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(f64::NAN)
            / 1024.0
    };
    (kb("VmRSS:"), kb("RssAnon:"), kb("RssFile:"))
}

fn threads(pid: u32) -> u32 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

fn fmt_rss(pid: u32) -> String {
    let (total, anon, file) = rss(pid);
    format!("{total:.1} MiB (anon {anon:.1}, file {file:.1})")
}

fn wrk(url: &str, token: &str, pid: u32) -> Run {
    let secs = env_or("WRK_SECS", 10);
    let conns = env_or("WRK_CONNS", 64);
    let cpu_before = cpu_secs(pid);
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watch = {
        let done = std::sync::Arc::clone(&done);
        std::thread::spawn(move || {
            let mut most = threads(pid);
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(50));
                most = most.max(threads(pid));
            }
            most
        })
    };
    let report =
        wrk::run(url, token, secs, conns).expect("wrk is not installed (apt-get install wrk)");
    let cpu = cpu_secs(pid) - cpu_before;
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let max_threads = watch.join().unwrap_or(0);
    let text = &report.text;
    let field = |prefix: &str| report.field(prefix);
    let requests: f64 = text
        .lines()
        .find_map(|l| l.trim().split_once(" requests in "))
        .and_then(|(n, _)| n.trim().parse().ok())
        .unwrap_or(f64::NAN);
    Run {
        rps: field("Requests/sec:").parse().unwrap_or(f64::NAN),
        p50_ms: millis(&field("50%")),
        p99_ms: millis(&field("99%")),
        cpu_us: cpu * 1e6 / requests,
        max_threads,
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The reference server: this bench binary again, in reference mode.
fn start_reference(body: &[u8], token: &str) -> (Child, String) {
    let dir = tempfile::tempdir().unwrap();
    let body_path = dir.path().join("body");
    std::fs::write(&body_path, body).unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--axum-reference", body_path.to_str().unwrap()])
        .env("AXUM_REFERENCE_TOKEN", token)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line.trim().strip_prefix("listening ").expect("port line");
    (child, format!("http://127.0.0.1:{port}"))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--axum-reference") {
        let body = std::fs::read(&args[i + 1]).unwrap();
        let token = std::env::var("AXUM_REFERENCE_TOKEN").unwrap();
        axum_reference::serve(body, &token);
        return;
    }
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(bench());
}

/// One server under test.
struct Target {
    name: String,
    url: String,
    token: String,
    pid: u32,
    /// Print its RSS after each load (the servers under test).
    watch_memory: bool,
}

/// An installation with one member, a group with 200 Markdown messages,
/// and that member's token; `bin` overrides the server binary (for a
/// before/after comparison in one run). Returns the page bytes too.
async fn installation_with_history(
    bin: Option<&str>,
) -> (common::Env, common::Server, String, String, Vec<u8>) {
    let env = common::Env::new();
    let env = match bin {
        Some(b) => common::Env {
            bin: b.into(),
            ..env
        },
        None => env,
    };
    env.init_with_passphrase();
    common::identity::add_user(&env, "ann", "member");
    let server = common::identity::start(&env);
    let (token, _) = tokens(&server, "ann").await;
    let resp = bearer(&server, &token, Method::POST, "/api/v1/conversations")
        .json(&json!({"kind": "group", "title": "bench"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let conv = resp.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    for i in 0..200 {
        let resp = bearer(
            &server,
            &token,
            Method::POST,
            &format!("/api/v1/conversations/{conv}/messages"),
        )
        .json(&json!({ "text": format!("seed message **{i}** with some text") }))
        .send()
        .await
        .unwrap();
        assert_eq!(resp.status(), 201);
    }
    let path = format!("/api/v1/conversations/{conv}/messages?limit=50");
    let page = bearer(&server, &token, Method::GET, &path)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let body = page.bytes().await.unwrap().to_vec();
    (env, server, token, path, body)
}

async fn bench() {
    let rounds = env_or("ROUNDS", 3);
    let settle = env_or("SETTLE_SECS", 5) as u64;
    let (_env, server, token, path, body) = installation_with_history(None).await;
    let (mut reference, ref_base) = start_reference(&body, &token);
    // The reference answers the same request with the same bytes, and
    // refuses a wrong token.
    let check = common::client()
        .get(format!("{ref_base}{path}"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(check.status(), 200);
    assert_eq!(check.bytes().await.unwrap().as_ref(), &body[..]);
    let refused = common::client()
        .get(format!("{ref_base}{path}"))
        .bearer_auth("api-wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);

    let mut targets = vec![Target {
        name: "hardshell".into(),
        url: server.url(&path),
        token: token.clone(),
        pid: server.child.id(),
        watch_memory: true,
    }];
    // `BEFORE_BIN`: another build of the server, measured in the same run.
    let before_bin = std::env::var("BEFORE_BIN").ok();
    let before = match &before_bin {
        Some(bin) => Some(installation_with_history(Some(bin)).await),
        None => None,
    };
    if let Some((_, s, t, p, _)) = &before {
        targets.push(Target {
            name: "before".into(),
            url: s.url(p),
            token: t.clone(),
            pid: s.child.id(),
            watch_memory: true,
        });
    }
    targets.push(Target {
        name: "reference".into(),
        url: format!("{ref_base}{path}"),
        token: token.clone(),
        pid: reference.id(),
        watch_memory: false,
    });
    println!(
        "== read path: GET 50 messages ({} bytes), {rounds} rounds, interleaved",
        body.len()
    );
    for t in &targets {
        println!("idle RSS {}: {}", t.name, fmt_rss(t.pid));
    }
    let mut runs: Vec<Vec<Run>> = vec![Vec::new(); targets.len()];
    for round in 1..=rounds {
        for (t, runs) in targets.iter().zip(&mut runs) {
            let r = wrk(&t.url, &t.token, t.pid);
            let after_load = fmt_rss(t.pid);
            std::thread::sleep(Duration::from_secs(settle));
            let memory = if t.watch_memory {
                format!(
                    "; RSS after load {after_load}, {settle} s later {}",
                    fmt_rss(t.pid)
                )
            } else {
                format!("; RSS after load {after_load}")
            };
            println!(
                "round {round} {}: {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, {:.1} µs CPU/req, \
                 up to {} threads{memory}",
                t.name, r.rps, r.p50_ms, r.p99_ms, r.cpu_us, r.max_threads
            );
            runs.push(r);
        }
    }
    let m = |v: &[Run], f: fn(&Run) -> f64| median(v.iter().map(f).collect());
    let reference_rps = m(runs.last().unwrap(), |r| r.rps);
    for (t, runs) in targets.iter().zip(&runs) {
        let rps = m(runs, |r| r.rps);
        println!(
            "median {}: {rps:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, {:.1} µs CPU/req; \
             ratio to reference {:.2}",
            t.name,
            m(runs, |r| r.p50_ms),
            m(runs, |r| r.p99_ms),
            m(runs, |r| r.cpu_us),
            rps / reference_rps
        );
    }
    let reference_runs = runs.last().unwrap();
    println!(
        "per-round ratio hardshell/reference: {}",
        runs[0]
            .iter()
            .zip(reference_runs)
            .map(|(h, r)| format!("{:.2}", h.rps / r.rps))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = reference.kill();
    let _ = reference.wait();
}
