//! Login throttling against the real server: lockout after 5 failures per
//! account and per IP, the same answer for unknown accounts, forwarded
//! addresses believed only from trusted proxies, and the per-IP limit on
//! unauthenticated routes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::identity::{add_user, password_of, start, tokens};
use common::{Env, Server, client};
use serde_json::{Value, json};

async fn login_from(
    server: &Server,
    xff: &str,
    user: &str,
    pw: &str,
) -> (u16, Option<String>, Value) {
    let resp = client()
        .post(server.url("/api/v1/auth/login"))
        .header("x-forwarded-for", xff)
        .json(&json!({"username": user, "password": pw}))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let retry = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    (status, retry, resp.json().await.unwrap_or(Value::Null))
}

fn env_with(users: &[(&str, &str)], trusted_proxy: bool) -> Env {
    let env = Env::new();
    env.init_with_passphrase();
    if trusted_proxy {
        let path = env.data.join("config.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        let text = text.replace(
            "allowed_origins = []",
            "allowed_origins = []\ntrusted_proxies = [\"127.0.0.1\"]",
        );
        std::fs::write(&path, text).unwrap();
    }
    for (n, r) in users {
        add_user(&env, n, r);
    }
    env
}

#[tokio::test]
async fn lockouts_per_account_and_ip_do_not_reveal_accounts() {
    // Behind a trusted proxy (127.0.0.1), so each test client is its own IP.
    let env = env_with(&[("olivia", "owner"), ("adam", "admin")], true);
    let server = start(&env);
    // Existing account: 5 failures from one address...
    for _ in 0..5 {
        let (s, _, body) =
            login_from(&server, "198.51.100.1", "olivia", "wrong-password-123").await;
        assert_eq!(s, 401);
        assert_eq!(body["error"]["code"], "invalid_credentials");
    }
    // ...lock the account even for the right password from elsewhere.
    let (s, retry, locked_real) =
        login_from(&server, "198.51.100.2", "olivia", &password_of("olivia")).await;
    assert_eq!(s, 429);
    assert!(retry.unwrap().parse::<u64>().unwrap() >= 1);
    // An unknown account: the same failures, the same lockout answer.
    for _ in 0..5 {
        let (s, _, body) =
            login_from(&server, "198.51.100.3", "nobody", "wrong-password-123").await;
        assert_eq!(s, 401);
        assert_eq!(body["error"]["code"], "invalid_credentials");
    }
    let (s, retry, locked_fake) =
        login_from(&server, "198.51.100.4", "nobody", "whatever-12345").await;
    assert_eq!(s, 429);
    assert!(retry.is_some());
    assert_eq!(
        locked_real, locked_fake,
        "the 429 does not reveal which account exists"
    );
    // Per IP: five failures on five names lock the address for everyone.
    for i in 0..5 {
        let (s, ..) = login_from(
            &server,
            "198.51.100.5",
            &format!("user{i}"),
            "wrong-password-123",
        )
        .await;
        assert_eq!(s, 401);
    }
    let (s, ..) = login_from(&server, "198.51.100.5", "adam", &password_of("adam")).await;
    assert_eq!(s, 429);
    // The same account from a different (proxied) address is fine.
    let (s, ..) = login_from(&server, "198.51.100.6", "adam", &password_of("adam")).await;
    assert_eq!(s, 200);
    drop(server);
    let rows = common::identity::audit_rows(&env);
    let lockouts = rows.iter().filter(|r| r.0 == "auth.lockout").count();
    assert!(lockouts >= 3, "{rows:?}");
    assert!(rows.iter().any(|r| r.0 == "auth.login" && r.4 == "failure"));
}

#[tokio::test]
async fn spoofed_forwarded_for_from_an_untrusted_peer_changes_nothing() {
    // No trusted proxies: X-Forwarded-For is the client's own claim.
    let env = env_with(&[("olivia", "owner")], false);
    let server = start(&env);
    let (owner, _) = tokens(&server, "olivia").await;
    for i in 0..5 {
        let xff = format!("203.0.113.{i}");
        let (s, ..) = login_from(&server, &xff, &format!("user{i}"), "wrong-password-123").await;
        assert_eq!(s, 401);
    }
    // A fresh spoofed address does not escape the peer's lockout.
    let (s, ..) = login_from(&server, "203.0.113.200", "olivia", &password_of("olivia")).await;
    assert_eq!(s, 429, "the throttling key is the TCP peer, not the header");
    // Unauthenticated routes have a per-IP limit; spoofing does not help.
    let mut limited = None;
    for i in 0..140 {
        let resp = client()
            .post(server.url("/api/v1/auth/token"))
            .header("x-forwarded-for", format!("192.0.2.{}", i % 250))
            .json(&json!({"grant_type": "nope"}))
            .send()
            .await
            .unwrap();
        if resp.status() == 429 {
            limited = Some(resp.headers()["retry-after"].to_str().unwrap().to_string());
            break;
        }
        assert_eq!(resp.status(), 422);
    }
    assert!(
        limited.is_some(),
        "no 429 within 140 unauthenticated requests"
    );
    // Authenticated callers are not held back by it.
    let r = common::identity::bearer(&server, &owner, reqwest::Method::GET, "/api/v1/auth/me")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

/// Signs in from `xff` with an optional device cookie; (status, the
/// `hs_device` cookie value the answer set, if any).
async fn login_with_device(
    server: &Server,
    xff: &str,
    pw: &str,
    device: Option<&str>,
) -> (u16, Option<String>) {
    let mut req = client()
        .post(server.url("/api/v1/auth/login"))
        .header("x-forwarded-for", xff)
        .json(&json!({"username": "olivia", "password": pw}));
    if let Some(d) = device {
        req = req.header("cookie", format!("hs_device={d}"));
    }
    let resp = req.send().await.unwrap();
    let set = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("hs_device="))
        .map(|v| v.split(';').next().unwrap().to_string());
    (resp.status().as_u16(), set)
}

#[tokio::test]
async fn strangers_cannot_lock_out_a_browser_that_signed_in_before() {
    let env = env_with(&[("olivia", "owner")], true);
    let server = start(&env);
    let (s, device) =
        login_with_device(&server, "198.51.100.20", &password_of("olivia"), None).await;
    assert_eq!(s, 200);
    let device = device.expect("a device cookie after a good sign-in");
    // Strangers lock the account from elsewhere.
    for i in 0..5 {
        let (s, _) = login_with_device(
            &server,
            &format!("203.0.113.{i}"),
            "wrong-password-123",
            None,
        )
        .await;
        assert_eq!(s, 401);
    }
    // Without the cookie, the owner meets the lockout too...
    let (s, _) = login_with_device(&server, "198.51.100.20", &password_of("olivia"), None).await;
    assert_eq!(s, 429);
    // ...with it, she signs in.
    let (s, _) = login_with_device(
        &server,
        "198.51.100.20",
        &password_of("olivia"),
        Some(&device),
    )
    .await;
    assert_eq!(s, 200);
    // A forged or foreign device cookie exempts nobody.
    let (nonce, _) = device.split_once('.').unwrap();
    let forged = format!("{nonce}.{}", "0".repeat(64));
    let (s, _) = login_with_device(
        &server,
        "198.51.100.21",
        &password_of("olivia"),
        Some(&forged),
    )
    .await;
    assert_eq!(s, 429);
    // Guessing through the device cookie is still limited: five wrong
    // passwords lock that device too.
    for _ in 0..5 {
        let (s, _) = login_with_device(
            &server,
            "198.51.100.30",
            "wrong-password-123",
            Some(&device),
        )
        .await;
        assert_eq!(s, 401);
    }
    let (s, _) = login_with_device(
        &server,
        "198.51.100.40",
        &password_of("olivia"),
        Some(&device),
    )
    .await;
    assert_eq!(s, 429);
}
