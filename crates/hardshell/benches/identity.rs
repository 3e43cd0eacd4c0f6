//! Identity hot paths: token HMAC, Argon2id hash/verify at the login
//! parameters, authenticating a bearer against the encrypted store, and
//! the throttle checks.
//!
//! Run: `cargo bench -p hardshell --bench identity`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use hardshell::auth::throttle::Throttles;
use hardshell::auth::tokens::{self, Kind};
use hardshell::auth::{Role, now_secs, password};
use hardshell::store::auth::{NewSession, NewToken, SessionKind, SessionOwner};
use hardshell::store::{DbKey, Store};

fn report(name: &str, n: u32, start: Instant) {
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{name:<40} {:>12.0} ops/s  {:>10.3} ms/op",
        f64::from(n) / secs,
        secs * 1000.0 / f64::from(n)
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let pepper = [7u8; 32];
    let token = tokens::generate(Kind::Access);
    let n = 200_000;
    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(tokens::hash(&pepper, std::hint::black_box(&token)));
    }
    report("token HMAC-SHA256", n, t);

    let n = 10;
    let t = Instant::now();
    let mut phc = String::new();
    for _ in 0..n {
        phc = password::hash("violet-harbour-tram-42").unwrap();
    }
    report("argon2id hash (m=19MiB,t=2,p=1)", n, t);
    let t = Instant::now();
    for _ in 0..n {
        assert!(password::verify("violet-harbour-tram-42", &phc));
    }
    report("argon2id verify", n, t);

    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(&tmp.path().join("bench.db"), DbKey::generate()).unwrap();
    let user = store
        .user_create("bench".into(), Role::Member, None)
        .await
        .unwrap();
    let mut hashes = Vec::new();
    for _ in 0..1000 {
        let tok = tokens::generate(Kind::Access);
        let hash = tokens::hash(&pepper, &tok);
        store
            .session_create(
                NewSession {
                    owner: SessionOwner::User(user.id),
                    kind: SessionKind::Token,
                    csrf_hash: None,
                    expires_at: now_secs() + 3600,
                    ip: None,
                },
                vec![NewToken {
                    hash,
                    kind: "access",
                    expires_at: now_secs() + 3600,
                }],
            )
            .await
            .unwrap();
        hashes.push(hash);
    }
    let n = 5_000u32;
    let t = Instant::now();
    for i in 0..n {
        let h = hashes[i as usize % hashes.len()];
        let found = store
            .session_by_token(h, "access", now_secs(), tokens::SESSION_IDLE_SECS)
            .await
            .unwrap();
        assert!(found.is_some());
    }
    report("bearer lookup (1000 sessions, SQLCipher)", n, t);

    let throttles = Throttles::new();
    let ip = "192.0.2.1".parse().unwrap();
    let n = 200_000;
    let t = Instant::now();
    for i in 0..n {
        let _ = std::hint::black_box(throttles.check_key(i64::from(i % 100), 1_000_000));
    }
    report("per-key limiter check", n, t);
    let t = Instant::now();
    for _ in 0..n {
        // Reserve and abandon: the check-and-reserve every sign-in makes.
        let attempt = throttles.reserve_login(ip, Some("bench"), Instant::now());
        drop(std::hint::black_box(attempt));
    }
    report("login attempt reserve + release", n, t);
}
