//! Agent keys (`lb-…`) against the real server: shown once and never again,
//! refused on user and key routes, a per-key limit enforced after
//! authentication (429 at N+1 with Retry-After), expiry, revocation on the
//! next request, `last_used_at`, and audit entries that name the key.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::identity::{agent_key, audit_rows, bearer, installation, token_grant, tokens};
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test]
async fn keys_are_shown_once_limited_after_auth_and_refused_on_user_routes() {
    let (env, server) = installation(&[("olivia", "owner")]);
    let (owner, _) = tokens(&server, "olivia").await;
    let (id, key) = agent_key(
        &server,
        &owner,
        json!({"name": "ci", "permissions": ["bookmarks:read", "messages:write"], "rate_limit_per_minute": 3}),
    )
    .await;
    assert!(key.starts_with("lb-"));
    // GET never shows the key again (ClawChives does).
    let listing = bearer(&server, &owner, Method::GET, "/api/v1/keys")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        listing.contains(&id) && !listing.contains(&key[3..]),
        "{listing}"
    );
    assert!(!listing.contains("hash"));
    // An unauthenticated flood of wrong keys does not spend the real
    // key's budget: the limit runs after authentication.
    for i in 0..20 {
        let fake = format!("lb-{:0>48}", i);
        let r = bearer(&server, &fake, Method::GET, "/api/v1/auth/me")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    }
    // Agent keys never reach user or key management.
    for (m, p) in [
        (Method::GET, "/api/v1/users"),
        (Method::POST, "/api/v1/keys"),
        (Method::GET, "/api/v1/keys"),
    ] {
        let r = bearer(&server, &key, m, p)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{p}");
    }
    // Three requests were spent above; the 4th within the minute is refused.
    let r = bearer(&server, &key, Method::GET, "/api/v1/auth/me")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    let list: Vec<Value> = bearer(&server, &owner, Method::GET, "/api/v1/keys")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let row = list.iter().find(|k| k["id"] == id.as_str()).unwrap();
    assert!(row["last_used_at"].as_i64().is_some(), "{row}");
    assert_eq!(
        row["permissions"],
        json!(["bookmarks:read", "messages:write"])
    );
    drop(server);
    let rows = audit_rows(&env);
    assert!(
        rows.iter()
            .any(|r| r.0 == "key.create" && r.3 == format!("key:{id}"))
    );
}

#[tokio::test]
async fn expired_and_revoked_keys_fail_at_once() {
    let (env, server) = installation(&[("adam", "admin")]);
    let (admin, _) = tokens(&server, "adam").await;
    // Bad requests are refused precisely.
    for body in [
        json!({"name": "x", "permissions": ["users:read"]}),
        json!({"name": "x", "permissions": []}),
        json!({"name": "x", "permissions": ["bookmarks:read"], "expires_at": 1}),
        json!({"name": "x", "permissions": ["bookmarks:read"], "rate_limit_per_minute": 0}),
    ] {
        let r = bearer(&server, &admin, Method::POST, "/api/v1/keys")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422, "{body}");
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let (short_id, short) = agent_key(
        &server,
        &admin,
        json!({"name": "short", "permissions": ["bookmarks:read"], "expires_at": now + 2}),
    )
    .await;
    let r = bearer(&server, &short, Method::GET, "/api/v1/auth/me")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // A key exchanged for a bearer acts as the key.
    let (s, v) = token_grant(&server, json!({"grant_type": "agent_key", "key": short})).await;
    assert_eq!(s, 200, "{v}");
    assert!(
        v.get("refresh_token").is_none(),
        "agent keys get no refresh token"
    );
    let key_bearer = v["access_token"].as_str().unwrap().to_string();
    let me: Value = bearer(&server, &key_bearer, Method::GET, "/api/v1/auth/me")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["kind"], "agent_key");
    let r = bearer(&server, &key_bearer, Method::GET, "/api/v1/users")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    tokio::time::sleep(std::time::Duration::from_millis(3100)).await;
    // The lb- key itself is recognised: 403 `key_expired`; the bearer it
    // was exchanged for is a dead session: 401.
    for (t, want, code) in [
        (&short, 403, "key_expired"),
        (&key_bearer, 401, "unauthorized"),
    ] {
        let r = bearer(&server, t, Method::GET, "/api/v1/auth/me")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), want, "expired");
        let v: serde_json::Value = r.json().await.unwrap();
        assert_eq!(v["error"]["code"], code, "{v}");
    }
    // Revocation: the key and its bearer fail on the next request.
    let (id, key) = agent_key(
        &server,
        &admin,
        json!({"name": "rev", "permissions": ["knowledge:read"]}),
    )
    .await;
    let (_, v) = token_grant(&server, json!({"grant_type": "agent_key", "key": key})).await;
    let kb = v["access_token"].as_str().unwrap().to_string();
    let path = format!("/api/v1/keys/{id}/revoke");
    let r = bearer(&server, &admin, Method::POST, &path)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    for (t, want, code) in [(&key, 403, "key_revoked"), (&kb, 401, "unauthorized")] {
        let r = bearer(&server, t, Method::GET, "/api/v1/auth/me")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), want, "revoked");
        let v: serde_json::Value = r.json().await.unwrap();
        assert_eq!(v["error"]["code"], code, "{v}");
    }
    // A key nobody issued stays 401.
    let r = bearer(
        &server,
        &format!("lb-{}", "0".repeat(48)),
        Method::GET,
        "/api/v1/auth/me",
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 401, "unknown");
    let r = bearer(
        &server,
        &admin,
        Method::DELETE,
        &format!("/api/v1/keys/{id}"),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 204);
    drop(server);
    let rows = audit_rows(&env);
    // Audit entries name the key, not the human who made it.
    assert!(
        rows.iter()
            .any(|r| r.0 == "auth.key_expired" && r.1 == "agent_key" && r.2 == short_id)
    );
    assert!(
        rows.iter()
            .any(|r| r.0 == "auth.token.issue" && r.1 == "agent_key" && r.2 == short_id)
    );
    assert!(
        rows.iter()
            .any(|r| r.0 == "key.revoke" && r.3 == format!("key:{id}"))
    );
    assert!(rows.iter().any(|r| r.0 == "key.delete"));
    // Using a revoked key is recorded once under the key.
    assert_eq!(
        rows.iter()
            .filter(|r| r.0 == "auth.key_revoked_used" && r.2 == id)
            .count(),
        1
    );
}
