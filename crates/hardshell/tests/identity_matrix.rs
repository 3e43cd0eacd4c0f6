//! The role × route matrix, as a table, against the real server: every
//! identity route × owner, admin, member, guest, an agent key with every
//! permission, an agent key with one, and nobody. The table is checked to
//! cover every such route in the OpenAPI document.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;

use common::identity::{agent_key, bearer, installation, tokens};
use common::{Server, client};
use reqwest::Method;
use serde_json::{Value, json};

const CALLERS: [&str; 7] = [
    "owner",
    "admin",
    "member",
    "guest",
    "key_all",
    "key_one",
    "anonymous",
];

/// (method, route template, concrete path, body, expected status per caller
/// in `CALLERS` order). `{self}` is the caller's own user id.
type Row = (&'static str, &'static str, &'static str, Value, [u16; 7]);

fn table() -> Vec<Row> {
    let none = Value::Null;
    vec![
        (
            "POST",
            "/api/v1/setup",
            "/api/v1/setup",
            json!({"setup_token": "x", "username": "x", "password": "x"}),
            [410; 7],
        ),
        (
            "GET",
            "/api/v1/setup",
            "/api/v1/setup",
            none.clone(),
            [200; 7],
        ),
        (
            "POST",
            "/api/v1/auth/login",
            "/api/v1/auth/login",
            json!({}),
            [422; 7],
        ),
        (
            "POST",
            "/api/v1/auth/login/key",
            "/api/v1/auth/login/key",
            json!({}),
            [422; 7],
        ),
        (
            "POST",
            "/api/v1/auth/token",
            "/api/v1/auth/token",
            json!({"grant_type": "nope"}),
            [422; 7],
        ),
        (
            "GET",
            "/api/v1/auth/me",
            "/api/v1/auth/me",
            none.clone(),
            [200, 200, 200, 200, 200, 200, 401],
        ),
        (
            "GET",
            "/api/v1/auth/sessions",
            "/api/v1/auth/sessions",
            none.clone(),
            [200, 200, 200, 200, 403, 403, 401],
        ),
        (
            "DELETE",
            "/api/v1/auth/sessions/{id}",
            "/api/v1/auth/sessions/nope",
            none.clone(),
            [404, 404, 404, 404, 403, 403, 401],
        ),
        (
            "GET",
            "/api/v1/users",
            "/api/v1/users",
            none.clone(),
            [200, 200, 403, 403, 403, 403, 401],
        ),
        (
            "POST",
            "/api/v1/users",
            "/api/v1/users",
            json!({"username": "", "role": "guest"}),
            [422, 403, 403, 403, 403, 403, 401],
        ),
        (
            "PATCH",
            "/api/v1/users/{id}",
            "/api/v1/users/999999",
            json!({"role": "guest"}),
            [404, 403, 403, 403, 403, 403, 401],
        ),
        (
            "DELETE",
            "/api/v1/users/{id}",
            "/api/v1/users/999999",
            none.clone(),
            [404, 403, 403, 403, 403, 403, 401],
        ),
        (
            "GET",
            "/api/v1/users/{id}/export",
            "/api/v1/users/{self}/export",
            none.clone(),
            [200, 200, 200, 200, 403, 403, 401],
        ),
        (
            "GET",
            "/api/v1/users/{id}/export",
            "/api/v1/users/999999/export",
            none.clone(),
            [404, 403, 403, 403, 403, 403, 401],
        ),
        (
            "POST",
            "/api/v1/users/{id}/identity-key",
            "/api/v1/users/{self}/identity-key",
            none.clone(),
            [201, 201, 201, 403, 403, 403, 401],
        ),
        (
            "GET",
            "/api/v1/keys",
            "/api/v1/keys",
            none.clone(),
            [200, 200, 403, 403, 403, 403, 401],
        ),
        (
            "POST",
            "/api/v1/keys",
            "/api/v1/keys",
            json!({"name": "", "permissions": []}),
            [422, 422, 403, 403, 403, 403, 401],
        ),
        (
            "POST",
            "/api/v1/keys/{id}/revoke",
            "/api/v1/keys/nope/revoke",
            none.clone(),
            [404, 404, 403, 403, 403, 403, 401],
        ),
        (
            "DELETE",
            "/api/v1/keys/{id}",
            "/api/v1/keys/nope",
            none.clone(),
            [404, 404, 403, 403, 403, 403, 401],
        ),
        // These end the caller's session: each human gets a fresh token.
        (
            "POST",
            "/api/v1/auth/logout",
            "/api/v1/auth/logout",
            none.clone(),
            [204, 204, 204, 204, 403, 403, 401],
        ),
        (
            "POST",
            "/api/v1/auth/sessions/revoke-all",
            "/api/v1/auth/sessions/revoke-all",
            none,
            [200, 200, 200, 200, 403, 403, 401],
        ),
    ]
}

const ENDS_SESSION: [&str; 2] = ["/api/v1/auth/logout", "/api/v1/auth/sessions/revoke-all"];

async fn call(server: &Server, token: Option<&str>, method: &str, path: &str, body: &Value) -> u16 {
    let m = Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = match token {
        Some(t) => bearer(server, t, m, path),
        None => client().request(m, server.url(path)),
    };
    if !body.is_null() {
        req = req.json(body);
    }
    req.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn every_role_on_every_route() {
    let users = [
        ("olivia", "owner"),
        ("adam", "admin"),
        ("mia", "member"),
        ("gus", "guest"),
    ];
    let (_env, server) = installation(&users);
    let mut human_tokens = Vec::new();
    let mut ids = Vec::new();
    for (name, _) in users {
        let (access, _) = tokens(&server, name).await;
        let me: Value = bearer(&server, &access, Method::GET, "/api/v1/auth/me")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        ids.push(me["user"]["id"].as_i64().unwrap());
        human_tokens.push(access);
    }
    let all: Vec<String> = ["bookmarks", "conversations", "messages", "knowledge"]
        .iter()
        .flat_map(|r| ["read", "write", "edit", "delete"].map(|a| format!("{r}:{a}")))
        .collect();
    let (_, key_all) = agent_key(
        &server,
        &human_tokens[0],
        json!({"name": "all", "permissions": all}),
    )
    .await;
    let (_, key_one) = agent_key(
        &server,
        &human_tokens[0],
        json!({"name": "one", "permissions": ["bookmarks:read"]}),
    )
    .await;

    let mut failures = Vec::new();
    for (method, _template, path, body, expected) in table() {
        for (i, caller) in CALLERS.iter().enumerate() {
            let self_id = ids.get(i).copied().unwrap_or(1);
            let path = path.replace("{self}", &self_id.to_string());
            let fresh;
            let token: Option<&str> = match i {
                0..=3 if ENDS_SESSION.contains(&path.as_str()) => {
                    fresh = tokens(&server, users[i].0).await.0;
                    Some(&fresh)
                }
                0..=3 => Some(&human_tokens[i]),
                4 => Some(&key_all),
                5 => Some(&key_one),
                _ => None,
            };
            let got = call(&server, token, method, &path, &body).await;
            if got != expected[i] {
                failures.push(format!(
                    "{method} {path} as {caller}: got {got}, want {}",
                    expected[i]
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "matrix mismatches:\n{}",
        failures.join("\n")
    );

    // The table covers every identity route the server documents.
    let doc = common::openapi(&server).await;
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        let ours = [
            "/api/v1/auth",
            "/api/v1/users",
            "/api/v1/keys",
            "/api/v1/setup",
        ]
        .iter()
        .any(|p| path.starts_with(p));
        if ours {
            for m in item
                .as_object()
                .unwrap()
                .keys()
                .filter(|k| ["get", "post", "put", "patch", "delete"].contains(&k.as_str()))
            {
                documented.insert((m.to_uppercase(), path.clone()));
            }
        }
    }
    let tested: BTreeSet<(String, String)> = table()
        .into_iter()
        .map(|(m, t, ..)| (m.to_string(), t.to_string()))
        .collect();
    assert_eq!(documented, tested);
}
