//! Live connections at scale (issue 25), against the real server binary on
//! loopback with a real encrypted database:
//!
//! 1. signs `WS_USERS` members in (bearer tokens) and puts them all in one
//!    group;
//! 2. opens `WS_CLIENTS` authenticated WebSocket connections spread over
//!    those users (right Origin, every upgrade authenticated and its
//!    membership set loaded from the store), waits for every `ready`;
//! 3. reads the server's memory (`VmRSS` from `/proc/PID/status`, `RssAnon`
//!    from `/proc/PID/smaps_rollup`) before connecting and once all are
//!    connected and idle, and reports the growth per connection;
//! 4. posts `WS_ROUNDS` messages, one at a time, through `POST …/messages`
//!    (authentication, membership check, one transaction, publish) and
//!    times until every client has the `message.created` event.
//!
//! Run: `cargo bench -p hardshell --bench ws_scale`
//! Tunables (env): `WS_CLIENTS` (10000), `WS_USERS` (20), `WS_ROUNDS` (5),
//! `WS_CONNECT_PAR` (32, upgrades in flight), `WS_BURST` (50: posts sent
//! at once by 8 posters after the timed rounds, then memory is read again), `WS_SERVER_BIN` (another
//! `hardshell` binary to measure, e.g. one built from `main`, instead of
//! this build's).
//!
//! The clients share this process's two runtime threads; each reads in
//! 4 KiB and parses nothing but the start of a frame, so they take as
//! little of the shared cores as possible.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::chat::{group, post};
use common::identity::{add_user, start, tokens};
use common::{Env, Server, env_or};
use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// Raises this process's soft open-file limit to its hard limit (the
/// clients need one descriptor each).
fn raise_nofile() -> u64 {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut lim = getrlimit(Resource::Nofile);
    lim.current = lim.maximum;
    let _ = setrlimit(Resource::Nofile, lim);
    getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX)
}

/// (VmRSS, RssAnon) of `pid` in bytes.
fn rss(pid: u32) -> (u64, u64) {
    let kb = |file: &str, key: &str| {
        std::fs::read_to_string(format!("/proc/{pid}/{file}"))
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .unwrap()
            * 1024
    };
    (kb("status", "VmRSS:"), kb("smaps_rollup", "Anonymous:"))
}

fn threads(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .unwrap_or("?")
        .trim()
        .to_string()
}

/// Shared by every client: `ready` frames seen, and when each client saw
/// its k-th `message.created`.
struct Tally {
    ready: AtomicUsize,
    closed: AtomicUsize,
    received: Mutex<Vec<Vec<Instant>>>,
}

async fn open(base: &str, token: &str, tally: Arc<Tally>) {
    let url = format!("{}/api/v1/ws", base.replacen("http://", "ws://", 1));
    let mut req = url.into_client_request().unwrap();
    req.headers_mut().insert("origin", base.parse().unwrap());
    req.headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let config = WebSocketConfig::default().read_buffer_size(4096);
    let (mut socket, _) = tokio_tungstenite::connect_async_with_config(req, Some(config), true)
        .await
        .unwrap();
    tokio::spawn(async move {
        let mut seen = 0;
        while let Some(Ok(frame)) = socket.next().await {
            let Message::Text(text) = frame else {
                continue;
            };
            if text.starts_with(r#"{"type":"message.created","#) {
                let now = Instant::now();
                let mut r = tally.received.lock().unwrap();
                if r.len() <= seen {
                    r.push(Vec::new());
                }
                r[seen].push(now);
                seen += 1;
            } else if text.starts_with(r#"{"type":"ready","#) {
                tally.ready.fetch_add(1, Ordering::SeqCst);
            }
        }
        tally.closed.fetch_add(1, Ordering::SeqCst);
    });
}

/// Opens `n` connections, `par` upgrades at a time, round-robin over the
/// tokens; returns once every one has had its `ready` frame.
async fn connect_all(base: &str, tokens: &[String], n: usize, par: usize, tally: &Arc<Tally>) {
    let target = tally.ready.load(Ordering::SeqCst) + n;
    futures_util::stream::iter(0..n)
        .for_each_concurrent(par, |i| {
            let token = tokens[i % tokens.len()].clone();
            let tally = Arc::clone(tally);
            async move { open(base, &token, tally).await }
        })
        .await;
    let deadline = Instant::now() + Duration::from_secs(120);
    while tally.ready.load(Ordering::SeqCst) < target {
        assert!(
            Instant::now() < deadline,
            "only {} of {target} ready",
            tally.ready.load(Ordering::SeqCst)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Posts one message and waits until `clients` clients have their
/// `round`-th event; returns each client's delay after the post was sent.
async fn round(
    server: &Server,
    token: &str,
    conv: i64,
    clients: usize,
    round: usize,
    tally: &Tally,
) -> Vec<Duration> {
    let start = Instant::now();
    post(
        server,
        token,
        conv,
        &format!("round {round}: hello everyone"),
    )
    .await;
    let deadline = start + Duration::from_secs(60);
    loop {
        let got = tally
            .received
            .lock()
            .unwrap()
            .get(round)
            .map_or(0, Vec::len);
        if got >= clients {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "round {round}: {got} of {clients} delivered"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let mut d: Vec<Duration> = tally.received.lock().unwrap()[round]
        .iter()
        .map(|t| t.saturating_duration_since(start))
        .collect();
    d.sort();
    d
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let clients = env_or("WS_CLIENTS", 10_000);
    let users = env_or("WS_USERS", 20).max(1);
    let rounds = env_or("WS_ROUNDS", 5).max(1);
    let par = env_or("WS_CONNECT_PAR", 32).max(1);
    let nofile = raise_nofile();
    assert!(
        nofile as usize > clients + 100,
        "open-file limit {nofile} is too low for {clients} clients (raise the hard limit)"
    );

    let mut env = Env::new();
    if let Ok(bin) = std::env::var("WS_SERVER_BIN") {
        env.bin = PathBuf::from(bin);
    }
    env.log_level = "warn".into();
    env.init_with_passphrase();
    let names: Vec<String> = (0..users).map(|i| format!("user{i:03}")).collect();
    for n in &names {
        add_user(&env, n, "member");
    }
    let server = start(&env);
    let pid = server.child.id();
    println!(
        "== ws_scale: {clients} clients over {users} users, server {} (pid {pid})",
        env.bin.display()
    );
    let mut toks = Vec::new();
    for n in &names {
        toks.push(tokens(&server, n).await.0);
    }
    let others: Vec<&str> = names[1..].iter().map(String::as_str).collect();
    let conv = group(&server, &toks[0], "everyone", &others).await["id"]
        .as_i64()
        .unwrap();

    // Warm-up: the server's pools, caches and runtime threads reach their
    // working size before the baseline is read.
    let warm = Arc::new(Tally {
        ready: AtomicUsize::new(0),
        closed: AtomicUsize::new(0),
        received: Mutex::new(Vec::new()),
    });
    let n_warm = clients.min(200);
    connect_all(&server.base, &toks, n_warm, par, &warm).await;
    round(&server, &toks[0], conv, n_warm, 0, &warm).await;
    // The warm-up clients stay connected (they are in the baseline, and
    // receive the measured posts too).
    tokio::time::sleep(Duration::from_secs(2)).await;

    let before = rss(pid);
    let tally = Arc::new(Tally {
        ready: AtomicUsize::new(0),
        closed: AtomicUsize::new(0),
        received: Mutex::new(Vec::new()),
    });
    let t0 = Instant::now();
    connect_all(&server.base, &toks, clients, par, &tally).await;
    let connect_time = t0.elapsed();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let idle = rss(pid);
    let per = |a: u64, b: u64| (b.saturating_sub(a)) as f64 / clients as f64;
    println!(
        "connected {clients} in {:.1} s ({:.0}/s); server threads {}",
        connect_time.as_secs_f64(),
        clients as f64 / connect_time.as_secs_f64(),
        threads(pid)
    );
    println!(
        "server memory before: VmRSS {:.1} MiB, RssAnon {:.1} MiB; all connected and idle: VmRSS {:.1} MiB, RssAnon {:.1} MiB",
        before.0 as f64 / 1048576.0,
        before.1 as f64 / 1048576.0,
        idle.0 as f64 / 1048576.0,
        idle.1 as f64 / 1048576.0
    );
    println!(
        "per connection (idle): VmRSS {:.0} B, RssAnon {:.0} B",
        per(before.0, idle.0),
        per(before.1, idle.1)
    );

    let mut maxes = Vec::new();
    for r in 0..rounds {
        let d = round(&server, &toks[r % users], conv, clients, r, &tally).await;
        let p = |q: f64| d[((d.len() as f64 - 1.0) * q) as usize];
        println!(
            "post {r}: every one of {clients} clients had it after {:.1} ms (first {:.1} ms, p50 {:.1} ms, p99 {:.1} ms)",
            ms(p(1.0)),
            ms(d[0]),
            ms(p(0.5)),
            ms(p(0.99))
        );
        maxes.push(p(1.0));
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    maxes.sort();
    let after = rss(pid);
    println!(
        "delivery to all {clients}: median of {rounds} posts {:.1} ms, worst {:.1} ms",
        ms(maxes[maxes.len() / 2]),
        ms(maxes[maxes.len() - 1])
    );
    println!(
        "per connection after the posts: VmRSS {:.0} B, RssAnon {:.0} B",
        per(before.0, after.0),
        per(before.1, after.1)
    );

    // A burst: posts faster than a round of fan-out, so each connection
    // finds several events queued and writes them in one flush. What its
    // write buffer grows to then stays with it.
    let burst = env_or("WS_BURST", 50);
    if burst > 0 {
        let t = Instant::now();
        let mut posters = Vec::new();
        for p in 0..8.min(burst) {
            let (base, token) = (server.base.clone(), toks[p % users].clone());
            let share = burst / 8 + usize::from(p < burst % 8);
            posters.push(tokio::spawn(async move {
                let http = common::client();
                for i in 0..share {
                    let resp = http
                        .post(format!("{base}/api/v1/conversations/{conv}/messages"))
                        .bearer_auth(&token)
                        .json(&serde_json::json!({ "text": format!("burst {p}/{i}: a message of ordinary length, about as long as a sentence or two in a chat") }))
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(resp.status(), 201);
                }
            }));
        }
        for p in posters {
            p.await.unwrap();
        }
        let last = rounds + burst - 1;
        let deadline = Instant::now() + Duration::from_secs(120);
        while tally.received.lock().unwrap().get(last).map_or(0, Vec::len) < clients {
            assert!(Instant::now() < deadline, "burst not delivered");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let took = t.elapsed();
        tokio::time::sleep(Duration::from_secs(2)).await;
        let after = rss(pid);
        println!(
            "burst of {burst} posts (8 posters) delivered to all {clients} in {:.2} s; per connection after it: VmRSS {:.0} B, RssAnon {:.0} B",
            took.as_secs_f64(),
            per(before.0, after.0),
            per(before.1, after.1)
        );
    }
    assert_eq!(
        tally.closed.load(Ordering::SeqCst),
        0,
        "a client was dropped"
    );
}
