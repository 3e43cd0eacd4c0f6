//! The in-memory credential cache must never outlive a revocation: for
//! every way a credential stops being valid, warm the cache with
//! successful requests, revoke, and see the very next request refused.
//! Covers API revocations, role and status changes, agent keys (revoke,
//! delete, expiry), and writes by another process (the CLI, and a raw
//! connection to the same database) while the server runs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Server;
use common::identity::{agent_key, bearer, db, installation, login, pf, token_grant, tokens};
use reqwest::Method;
use serde_json::{Value, json};

async fn me(server: &Server, token: &str) -> (u16, Value) {
    let r = bearer(server, token, Method::GET, "/api/v1/auth/me")
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// A few successful requests, so the credential is surely cached.
async fn warm(server: &Server, token: &str) -> Value {
    let mut last = Value::Null;
    for _ in 0..3 {
        let (s, v) = me(server, token).await;
        assert_eq!(s, 200, "warming {v}");
        last = v;
    }
    last
}

async fn status(server: &Server, token: &str) -> u16 {
    me(server, token).await.0
}

async fn send(server: &Server, token: &str, method: Method, path: &str, body: Value) -> u16 {
    bearer(server, token, method, path)
        .json(&body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn session_revocations_beat_a_warm_cache() {
    let (_env, server) = installation(&[("olivia", "owner"), ("mia", "member")]);

    // Bearer logout.
    let (a, _) = tokens(&server, "mia").await;
    warm(&server, &a).await;
    assert_eq!(
        send(&server, &a, Method::POST, "/api/v1/auth/logout", json!({})).await,
        204
    );
    assert_eq!(status(&server, &a).await, 401, "bearer logout");

    // Cookie logout.
    let s = login(&server, "mia").await;
    for _ in 0..3 {
        let r = s.req(&server, Method::GET, "/api/v1/auth/me").send().await;
        assert_eq!(r.unwrap().status(), 200);
    }
    let r = s.req(&server, Method::POST, "/api/v1/auth/logout").send();
    assert_eq!(r.await.unwrap().status(), 204);
    let r = s.req(&server, Method::GET, "/api/v1/auth/me").send().await;
    assert_eq!(r.unwrap().status(), 401, "cookie logout");

    // One session revoked from another.
    let (victim, _) = tokens(&server, "mia").await;
    let (other, _) = tokens(&server, "mia").await;
    let v = warm(&server, &victim).await;
    warm(&server, &other).await;
    let path = format!(
        "/api/v1/auth/sessions/{}",
        v["session_id"].as_str().unwrap()
    );
    assert_eq!(
        send(&server, &other, Method::DELETE, &path, json!({})).await,
        204
    );
    assert_eq!(status(&server, &victim).await, 401, "session revoke");
    assert_eq!(status(&server, &other).await, 200);

    // Revoke-all, with a cookie session among them.
    let cookie = login(&server, "mia").await;
    let (b, _) = tokens(&server, "mia").await;
    warm(&server, &b).await;
    let r = cookie.req(&server, Method::GET, "/api/v1/auth/me").send();
    assert_eq!(r.await.unwrap().status(), 200);
    let path = "/api/v1/auth/sessions/revoke-all";
    assert_eq!(send(&server, &b, Method::POST, path, json!({})).await, 200);
    for t in [&b, &other] {
        assert_eq!(status(&server, t).await, 401, "revoke-all");
    }
    let r = cookie.req(&server, Method::GET, "/api/v1/auth/me").send();
    assert_eq!(r.await.unwrap().status(), 401, "revoke-all, cookie");

    // A refresh token reused: the family (and its warm access token) dies.
    let (access, refresh) = tokens(&server, "mia").await;
    warm(&server, &access).await;
    let grant = json!({"grant_type": "refresh_token", "refresh_token": refresh});
    let (s1, _) = token_grant(&server, grant.clone()).await;
    assert_eq!(s1, 200);
    let (s2, _) = token_grant(&server, grant).await;
    assert_eq!(s2, 401);
    assert_eq!(status(&server, &access).await, 401, "refresh reuse");
}

#[tokio::test]
async fn user_changes_beat_a_warm_cache() {
    let (_env, server) = installation(&[
        ("olivia", "owner"),
        ("mia", "member"),
        ("dan", "member"),
        ("gus", "member"),
    ]);
    let (owner, _) = tokens(&server, "olivia").await;

    // Role change: the very next request sees the new role.
    let (mia, _) = tokens(&server, "mia").await;
    let v = warm(&server, &mia).await;
    assert_eq!(v["user"]["role"], "member");
    let mia_id = v["user"]["id"].as_i64().unwrap();
    let conv = json!({"kind": "group", "title": "t"});
    assert_eq!(
        send(
            &server,
            &mia,
            Method::POST,
            "/api/v1/conversations",
            conv.clone()
        )
        .await,
        201
    );
    let path = format!("/api/v1/users/{mia_id}");
    assert_eq!(
        send(
            &server,
            &owner,
            Method::PATCH,
            &path,
            json!({"role": "guest"})
        )
        .await,
        200
    );
    assert_eq!(me(&server, &mia).await.1["user"]["role"], "guest");
    assert_eq!(
        send(&server, &mia, Method::POST, "/api/v1/conversations", conv).await,
        403,
        "a guest may not create conversations"
    );

    // Disable through the API.
    let (dan, _) = tokens(&server, "dan").await;
    let dan_id = warm(&server, &dan).await["user"]["id"].as_i64().unwrap();
    let path = format!("/api/v1/users/{dan_id}");
    let body = json!({"disabled": true});
    assert_eq!(send(&server, &owner, Method::PATCH, &path, body).await, 200);
    assert_eq!(status(&server, &dan).await, 401, "disabled");

    // Delete through the API.
    let (gus, _) = tokens(&server, "gus").await;
    let gus_id = warm(&server, &gus).await["user"]["id"].as_i64().unwrap();
    let path = format!("/api/v1/users/{gus_id}");
    assert_eq!(
        send(&server, &owner, Method::DELETE, &path, json!({})).await,
        204
    );
    assert_eq!(status(&server, &gus).await, 401, "deleted");

    // A new identity key: the old one no longer signs in.
    let path = format!("/api/v1/users/{mia_id}/identity-key");
    let mint = || async {
        let r = bearer(&server, &owner, Method::POST, &path).send().await;
        let v: Value = r.unwrap().json().await.unwrap();
        v["token"].as_str().unwrap().to_string()
    };
    let old = mint().await;
    let grant = |k: &str| token_grant(&server, json!({"grant_type": "human_key", "key": k}));
    let (s, v) = grant(&old).await;
    assert_eq!(s, 200);
    warm(&server, v["access_token"].as_str().unwrap()).await;
    let new = mint().await;
    assert_eq!(grant(&old).await.0, 401, "replaced identity key");
    assert_eq!(grant(&new).await.0, 200);
}

#[tokio::test]
async fn agent_key_revocation_deletion_and_expiry_beat_a_warm_cache() {
    let (_env, server) = installation(&[("adam", "admin")]);
    let (admin, _) = tokens(&server, "adam").await;
    let perms = json!(["conversations:read"]);

    // Revoke: the key and the bearer it was exchanged for.
    let (id, key) = agent_key(&server, &admin, json!({"name": "r", "permissions": perms})).await;
    let (_, v) = token_grant(&server, json!({"grant_type": "agent_key", "key": key})).await;
    let kb = v["access_token"].as_str().unwrap().to_string();
    warm(&server, &key).await;
    warm(&server, &kb).await;
    let path = format!("/api/v1/keys/{id}/revoke");
    assert_eq!(
        send(&server, &admin, Method::POST, &path, json!({})).await,
        200
    );
    // A recognised lb- key that is revoked or expired is 403; the bearer
    // it was exchanged for is a dead session (401).
    assert_eq!(status(&server, &key).await, 403, "revoked key");
    assert_eq!(status(&server, &kb).await, 401, "revoked key's bearer");

    // Delete.
    let (id, key) = agent_key(&server, &admin, json!({"name": "d", "permissions": perms})).await;
    let (_, v) = token_grant(&server, json!({"grant_type": "agent_key", "key": key})).await;
    let kb = v["access_token"].as_str().unwrap().to_string();
    warm(&server, &key).await;
    warm(&server, &kb).await;
    let path = format!("/api/v1/keys/{id}");
    assert_eq!(
        send(&server, &admin, Method::DELETE, &path, json!({})).await,
        204
    );
    assert_eq!(status(&server, &key).await, 401, "deleted key");
    assert_eq!(status(&server, &kb).await, 401, "deleted key's bearer");

    // Expiry is checked from the cached value: no write happens in between.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let body = json!({"name": "e", "permissions": perms, "expires_at": now + 2});
    let (_, key) = agent_key(&server, &admin, body).await;
    let (_, v) = token_grant(&server, json!({"grant_type": "agent_key", "key": key})).await;
    let kb = v["access_token"].as_str().unwrap().to_string();
    warm(&server, &key).await;
    warm(&server, &kb).await;
    tokio::time::sleep(std::time::Duration::from_millis(3100)).await;
    assert_eq!(status(&server, &kb).await, 401, "expired key's bearer");
    assert_eq!(status(&server, &key).await, 403, "expired key");
}

#[tokio::test]
async fn writes_by_another_process_beat_a_warm_cache() {
    let (env, server) = installation(&[("olivia", "owner"), ("mia", "member"), ("dan", "member")]);
    let p = pf(&env);

    // The CLI disables a user while the server runs.
    let (mia, _) = tokens(&server, "mia").await;
    let cookie = login(&server, "mia").await;
    warm(&server, &mia).await;
    let r = cookie.req(&server, Method::GET, "/api/v1/auth/me").send();
    assert_eq!(r.await.unwrap().status(), 200);
    env.ok(&["users", "disable", "mia", "--passphrase-file", &p], None);
    assert_eq!(status(&server, &mia).await, 401, "CLI disable");
    let r = cookie.req(&server, Method::GET, "/api/v1/auth/me").send();
    assert_eq!(r.await.unwrap().status(), 401, "CLI disable, cookie");

    // The CLI changes a role.
    let (dan, _) = tokens(&server, "dan").await;
    assert_eq!(warm(&server, &dan).await["user"]["role"], "member");
    env.ok(
        &["users", "set-role", "dan", "guest", "--passphrase-file", &p],
        None,
    );
    assert_eq!(
        me(&server, &dan).await.1["user"]["role"],
        "guest",
        "CLI role"
    );

    // A bare revocation committed on another connection, with no audit
    // entry or anything else the server would notice but the database.
    let (owner, _) = tokens(&server, "olivia").await;
    let sid = warm(&server, &owner).await["session_id"]
        .as_str()
        .unwrap()
        .to_string();
    let conn = db(&env);
    let n = conn
        .execute(
            "UPDATE auth_sessions SET revoked_at = 1 WHERE public_id = ?1",
            [&sid],
        )
        .unwrap();
    assert_eq!(n, 1);
    drop(conn);
    assert_eq!(status(&server, &owner).await, 401, "foreign commit");

    // The CLI deletes a user.
    let (dan2, _) = tokens(&server, "dan").await;
    warm(&server, &dan2).await;
    env.ok(&["users", "delete", "dan", "--passphrase-file", &p], None);
    assert_eq!(status(&server, &dan2).await, 401, "CLI delete");
}
