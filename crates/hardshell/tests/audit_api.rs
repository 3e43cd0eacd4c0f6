//! The audit API over HTTP: who may read and verify, paging and filters,
//! and that a tampered chain is reported through the API too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::identity::{agent_key, bearer, db, installation, tokens};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

#[tokio::test]
async fn owner_and_admin_read_owner_verifies_others_refused() {
    let (env, server) = installation(&[
        ("olivia", "owner"),
        ("adam", "admin"),
        ("mia", "member"),
        ("gus", "guest"),
    ]);
    let (owner, _) = tokens(&server, "olivia").await;
    let (admin, _) = tokens(&server, "adam").await;
    let (member, _) = tokens(&server, "mia").await;
    let (guest, _) = tokens(&server, "gus").await;
    let every_perm: Vec<String> = ["bookmarks", "conversations", "messages", "knowledge"]
        .iter()
        .flat_map(|r| ["read", "write", "edit", "delete"].map(|a| format!("{r}:{a}")))
        .collect();
    let (_, key) = agent_key(
        &server,
        &owner,
        json!({"name": "bot", "permissions": every_perm}),
    )
    .await;

    let get = |t: &str| bearer(&server, t, Method::GET, "/api/v1/audit").send();
    assert_eq!(get(&owner).await.unwrap().status(), StatusCode::OK);
    assert_eq!(get(&admin).await.unwrap().status(), StatusCode::OK);
    for t in [&member, &guest, &key] {
        assert_eq!(get(t).await.unwrap().status(), StatusCode::FORBIDDEN);
    }
    let anon = common::client()
        .get(server.url("/api/v1/audit"))
        .send()
        .await
        .unwrap();
    assert_eq!(anon.status(), StatusCode::UNAUTHORIZED);

    let verify = |t: &str| bearer(&server, t, Method::POST, "/api/v1/audit/verify").send();
    for t in [&admin, &member, &key] {
        assert_eq!(verify(t).await.unwrap().status(), StatusCode::FORBIDDEN);
    }
    let resp = verify(&owner).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["intact"], true, "{v}");

    // Paging and filters.
    let page: Value = bearer(&server, &owner, Method::GET, "/api/v1/audit?limit=2")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["entries"].as_array().unwrap().len(), 2);
    let next = page["next_after_seq"].as_u64().unwrap();
    let page2: Value = bearer(
        &server,
        &owner,
        Method::GET,
        &format!("/api/v1/audit?after_seq={next}&limit=1000"),
    )
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(page2["entries"][0]["seq"], next + 1);
    let logins: Value = bearer(
        &server,
        &owner,
        Method::GET,
        "/api/v1/audit?action=auth.token.issue",
    )
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let entries = logins["entries"].as_array().unwrap();
    assert!(!entries.is_empty());
    assert!(entries.iter().all(|e| e["action"] == "auth.token.issue"));
    // No issued credential appears in what the API returns.
    let all = bearer(&server, &owner, Method::GET, "/api/v1/audit?limit=1000")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for secret in [&owner, &admin, &member, &guest, &key] {
        assert!(!all.contains(secret.as_str()));
    }
    for bad in ["limit=0", "limit=5000", "limit=x", "bogus=1"] {
        let r = bearer(
            &server,
            &owner,
            Method::GET,
            &format!("/api/v1/audit?{bad}"),
        )
        .send()
        .await
        .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{bad}");
        let body: Value = r.json().await.unwrap();
        assert!(body["error"]["code"].is_string());
    }

    // Tamper with a stored entry: the API reports it.
    db(&env)
        .execute("UPDATE audit_log SET outcome = 'failure' WHERE seq = 3", [])
        .unwrap();
    let v: Value = verify(&owner).await.unwrap().json().await.unwrap();
    assert_eq!(v["intact"], false, "{v}");
    assert_eq!(v["break"], "modified");
    assert_eq!(v["first_bad_seq"], 3);
}
