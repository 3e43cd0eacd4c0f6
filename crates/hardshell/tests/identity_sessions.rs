//! Sessions and tokens against the real server: cookie attributes, CSRF
//! (header and Origin), refresh rotation and reuse detection, revocation on
//! the very next request, persistence across a restart, and identity keys.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::client;
use common::identity::{audit_rows, bearer, installation, login, pf, start, token_grant, tokens};
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test]
async fn csrf_is_required_on_cookie_writes_and_not_on_bearer() {
    let (_env, server) = installation(&[("olivia", "owner")]);
    let resp = client()
        .post(server.url("/api/v1/auth/login"))
        .json(&json!({"username": "olivia", "password": common::identity::password_of("olivia")}))
        .send()
        .await
        .unwrap();
    let set_cookie = resp.headers()["set-cookie"].to_str().unwrap().to_string();
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=86400"] {
        assert!(set_cookie.contains(attr), "{set_cookie}");
    }
    assert!(!set_cookie.contains("Secure"), "plain http on loopback");
    let s = login(&server, "olivia").await;
    assert!(s.csrf.starts_with("csrf-"));
    let cookie = format!("hs_session={}", s.cookie);
    let write = || {
        client()
            .delete(server.url("/api/v1/auth/sessions/nope"))
            .header("cookie", &cookie)
    };
    // No header → 403.
    let resp = write().header("origin", &server.base).send().await.unwrap();
    assert_eq!(resp.status(), 403);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "csrf_failed");
    // Wrong token → 403.
    let resp = write()
        .header("origin", &server.base)
        .header("x-csrf-token", "csrf-wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    // Right token, foreign or missing Origin → 403.
    let resp = write()
        .header("x-csrf-token", &s.csrf)
        .header("origin", "http://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let resp = write()
        .header("x-csrf-token", &s.csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    // Both right → the handler runs (404: no such session).
    let resp = write()
        .header("x-csrf-token", &s.csrf)
        .header("origin", &server.base)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    // Reads need no CSRF header.
    let resp = client()
        .get(server.url("/api/v1/auth/me"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    // A bearer write needs neither header; with a cookie too, the bearer wins.
    let (access, _) = tokens(&server, "olivia").await;
    let resp = bearer(
        &server,
        &access,
        Method::DELETE,
        "/api/v1/auth/sessions/nope",
    )
    .header("cookie", &cookie)
    .send()
    .await
    .unwrap();
    assert_eq!(resp.status(), 404);
    let me: Value = bearer(&server, &access, Method::GET, "/api/v1/auth/me")
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["via"], "bearer");
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let (env, server) = installation(&[("olivia", "owner")]);
    let (access1, rt1) = tokens(&server, "olivia").await;
    assert!(access1.starts_with("api-") && rt1.starts_with("rt-"));
    let (s, v) = token_grant(
        &server,
        json!({"grant_type": "refresh_token", "refresh_token": rt1}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let access2 = v["access_token"].as_str().unwrap().to_string();
    let rt2 = v["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(rt1, rt2);
    let me = bearer(&server, &access2, Method::GET, "/api/v1/auth/me")
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    // The spent token again: refused, and the whole family dies.
    let (s, _) = token_grant(
        &server,
        json!({"grant_type": "refresh_token", "refresh_token": rt1}),
    )
    .await;
    assert_eq!(s, 401);
    let (s, _) = token_grant(
        &server,
        json!({"grant_type": "refresh_token", "refresh_token": rt2}),
    )
    .await;
    assert_eq!(s, 401, "the successor is revoked too");
    for t in [&access1, &access2] {
        let r = bearer(&server, t, Method::GET, "/api/v1/auth/me")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    }
    // Another login is unaffected.
    let (other, _) = tokens(&server, "olivia").await;
    let r = bearer(&server, &other, Method::GET, "/api/v1/auth/me")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    drop(server);
    let rows = audit_rows(&env);
    assert!(
        rows.iter()
            .any(|r| r.0 == "auth.refresh_reuse" && r.4 == "denied"),
        "{rows:?}"
    );
    assert!(rows.iter().any(|r| r.0 == "auth.token.refresh"));
}

#[tokio::test]
async fn revocation_is_immediate_and_survives_a_restart() {
    let (env, server) = installation(&[("olivia", "owner"), ("mia", "member")]);
    let me = |t: String| {
        let server = &server;
        async move {
            bearer(server, &t, Method::GET, "/api/v1/auth/me")
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    // Logout kills the bearer at once.
    let (a, _) = tokens(&server, "olivia").await;
    let r = bearer(&server, &a, Method::POST, "/api/v1/auth/logout")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(me(a).await, 401);
    // Cookie logout.
    let s = login(&server, "olivia").await;
    let r = s
        .req(&server, Method::POST, "/api/v1/auth/logout")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = s
        .req(&server, Method::GET, "/api/v1/auth/me")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // Revoking one session by id from another.
    let (victim, _) = tokens(&server, "olivia").await;
    let (admin, _) = tokens(&server, "olivia").await;
    let list: Vec<Value> = bearer(&server, &admin, Method::GET, "/api/v1/auth/sessions")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(list.iter().filter(|s| s["current"] == true).count() == 1);
    let victim_id: Value = bearer(&server, &victim, Method::GET, "/api/v1/auth/me")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let vid = victim_id["session_id"].as_str().unwrap();
    let path = format!("/api/v1/auth/sessions/{vid}");
    let r = bearer(&server, &admin, Method::DELETE, &path)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(me(victim).await, 401);
    assert_eq!(me(admin.clone()).await, 200);
    // Someone else's session cannot be revoked (404, not theirs).
    let (mia, _) = tokens(&server, "mia").await;
    let mia_me: Value = bearer(&server, &mia, Method::GET, "/api/v1/auth/me")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let path = format!(
        "/api/v1/auth/sessions/{}",
        mia_me["session_id"].as_str().unwrap()
    );
    let r = bearer(&server, &admin, Method::DELETE, &path)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(me(mia.clone()).await, 200);
    // Revoke-all ends every session of the caller.
    let (keep_a, _) = tokens(&server, "olivia").await;
    let r = bearer(
        &server,
        &admin,
        Method::POST,
        "/api/v1/auth/sessions/revoke-all",
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(me(admin).await, 401);
    assert_eq!(me(keep_a).await, 401);
    // Disabling a user from the CLI ends their sessions on the next request.
    let (live, _) = tokens(&server, "olivia").await;
    let (revoked, _) = tokens(&server, "olivia").await;
    bearer(&server, &revoked, Method::POST, "/api/v1/auth/logout")
        .send()
        .await
        .unwrap();
    env.ok(
        &["users", "disable", "mia", "--passphrase-file", &pf(&env)],
        None,
    );
    assert_eq!(me(mia).await, 401);
    // Tokens are not kept only in memory: a restart keeps the live one
    // valid and the revoked one revoked.

    let (clean, _) = server.stop();
    assert!(clean);
    let server = start(&env);
    let status = |t: &str| bearer(&server, t, Method::GET, "/api/v1/auth/me").send();
    assert_eq!(status(&live).await.unwrap().status(), 200);
    assert_eq!(status(&revoked).await.unwrap().status(), 401);
    drop(server);
    let actions: Vec<String> = audit_rows(&env).into_iter().map(|r| r.0).collect();
    for a in [
        "auth.logout",
        "auth.session.revoke",
        "auth.sessions.revoke_all",
        "auth.login",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a}");
    }
}

#[tokio::test]
async fn identity_key_is_a_one_time_download_and_minting_revokes_the_old() {
    let (_env, server) = installation(&[("olivia", "owner"), ("mia", "member")]);
    let (mia, _) = tokens(&server, "mia").await;
    let me: Value = bearer(&server, &mia, Method::GET, "/api/v1/auth/me")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = me["user"]["id"].as_i64().unwrap();
    let path = format!("/api/v1/users/{id}/identity-key");
    let resp = bearer(&server, &mia, Method::POST, &path)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let cd = resp.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(cd.starts_with("attachment;"), "{cd}");
    let file: Value = resp.json().await.unwrap();
    assert_eq!(file["username"], "mia");
    assert_eq!(file["uuid"], me["user"]["uuid"]);
    let old = file["token"].as_str().unwrap().to_string();
    assert!(old.starts_with("hu-") && old.len() == 67);
    let key_login = |k: String| {
        let server = &server;
        async move {
            client()
                .post(server.url("/api/v1/auth/login/key"))
                .json(&json!({"key": k}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(key_login(old.clone()).await, 200);
    let (s, _) = token_grant(&server, json!({"grant_type": "human_key", "key": old})).await;
    assert_eq!(s, 200);
    // A member cannot mint for someone else; the owner can.
    let (owner, _) = tokens(&server, "olivia").await;
    let owner_id = bearer(&server, &owner, Method::GET, "/api/v1/auth/me")
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()["user"]["id"]
        .as_i64()
        .unwrap();
    let other = format!("/api/v1/users/{owner_id}/identity-key");
    let r = bearer(&server, &mia, Method::POST, &other)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = bearer(&server, &owner, Method::POST, &path)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let new: Value = r.json().await.unwrap();
    let new = new["token"].as_str().unwrap().to_string();
    assert_eq!(key_login(old).await, 401, "minting revoked the old key");
    assert_eq!(key_login(new).await, 200);
}
