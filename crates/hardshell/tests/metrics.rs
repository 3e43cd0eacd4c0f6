//! `/metrics` on the real server: off by default, owner bearer only, and
//! what a real turn with a tool call that asks for approval leaves in it.
//! Routes appear as templates, never as raw paths.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::chat::post;
use common::client;
use common::fake_llm::Reply;
use common::gate::{World, eventually, world_full};
use common::identity::{agent_key, bearer, installation, login, tokens};
use reqwest::{Method, StatusCode};
use serde_json::json;

async fn metrics_world() -> World {
    world_full("", "", |env| {
        let path = env.data.join("config.toml");
        let mut text = std::fs::read_to_string(&path).unwrap_or_default();
        text.push_str("\n[metrics]\nenabled = true\n");
        std::fs::write(&path, text).unwrap();
    })
    .await
}

async fn scrape(w: &World, token: &str) -> (StatusCode, String, String) {
    let resp = bearer(&w.server, token, Method::GET, "/metrics")
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let ctype = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, ctype, resp.text().await.unwrap())
}

/// The value of the first sample line starting with `prefix`.
fn sample(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_count_routes_turns_tool_calls_and_approvals() {
    let w = metrics_world().await;
    let (_agent, conv) = w.agent("helper").await;
    // Memory writes sit at level 2 by default: the call asks, the turn parks.
    w.llm.push(Reply::tool_call(
        "memory_save",
        &json!({"text": "likes tea", "scope": "conversation"}).to_string(),
    ));
    post(&w.server, &w.owner, conv, "remember that I like tea").await;
    let owner = w.owner.clone();
    let text = eventually("the turn to park and be counted", || {
        let w = &w;
        let owner = owner.clone();
        async move {
            let (_, _, text) = scrape(w, &owner).await;
            text.contains(r#"hardshell_agent_turns_total{outcome="parked"} 1"#)
                .then_some(text)
        }
    })
    .await;
    assert!(
        text.contains(r#"hardshell_tool_calls_total{decision="ask"} 1"#),
        "{text}"
    );
    assert_eq!(sample(&text, "hardshell_pending_approvals "), Some(1.0));
    assert!(sample(&text, "hardshell_database_bytes ").unwrap() > 0.0);
    assert!(sample(&text, "hardshell_audit_append_seconds_count ").unwrap() >= 1.0);
    assert!(sample(&text, "hardshell_provider_response_seconds_count ").unwrap() >= 1.0);

    // A route with an id and a path nothing matches.
    let secret_path = "/no/such/place-7d1e";
    let resp = bearer(
        &w.server,
        &w.owner,
        Method::GET,
        &format!("/api/v1/conversations/{conv}"),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = client()
        .get(w.server.url(secret_path))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);

    let (status, ctype, text) = scrape(&w, &w.owner).await;
    assert_eq!(status, StatusCode::OK);
    assert!(ctype.starts_with("text/plain; version=0.0.4"), "{ctype}");
    assert!(
        text.contains(
            r#"hardshell_http_requests_total{method="GET",route="/api/v1/conversations/{id}",status="200"}"#
        ),
        "{text}"
    );
    assert!(
        text.contains(r#"route="unmatched",status="404"}"#),
        "{text}"
    );
    assert!(!text.contains(secret_path), "raw path leaked: {text}");
    assert!(
        !text.contains(&format!("/api/v1/conversations/{conv}\"")),
        "{text}"
    );
    assert!(!text.contains("tea"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn only_the_owners_bearer_token_reads_metrics() {
    let w = metrics_world().await;
    // Anonymous.
    let resp = client().get(w.server.url("/metrics")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    // A wrong token.
    let (status, _, _) = scrape(&w, "api-not-a-real-token").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Admin, member and guest bearer tokens.
    for name in ["adam", "ann", "gus"] {
        let token = tokens(&w.server, name).await.0;
        let (status, _, text) = scrape(&w, &token).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{name}");
        assert!(!text.contains("hardshell_"), "{name}: {text}");
    }
    // The owner's own browser session: bearer only.
    let cookie = login(&w.server, "olga").await;
    let resp = cookie
        .req(&w.server, Method::GET, "/metrics")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    // An agent key made by the owner, with every right it can hold.
    let (_, key) = agent_key(
        &w.server,
        &w.owner,
        json!({"name": "scraper", "permissions": ["conversations:read", "messages:read"]}),
    )
    .await;
    let (status, _, _) = scrape(&w, &key).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // And the owner's bearer token does get in.
    let (status, _, text) = scrape(&w, &w.owner).await;
    assert_eq!(status, StatusCode::OK);
    assert!(text.contains("# TYPE hardshell_http_requests_total counter"));
    assert_eq!(sample(&text, "hardshell_websocket_connections "), Some(0.0));

    // An open WebSocket is counted while it is open.
    let (ws, _) = common::ws::connect(&w.server, common::ws::Cred::Bearer(&w.owner), "").await;
    let (_, _, text) = scrape(&w, &w.owner).await;
    assert_eq!(sample(&text, "hardshell_websocket_connections "), Some(1.0));
    drop(ws);
    let owner = w.owner.clone();
    eventually("the closed socket to be uncounted", || {
        let w = &w;
        let owner = owner.clone();
        async move {
            let (_, _, text) = scrape(w, &owner).await;
            (sample(&text, "hardshell_websocket_connections ") == Some(0.0)).then_some(())
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_are_off_by_default() {
    let (_env, server) = installation(&[("olga", "owner")]);
    let token = tokens(&server, "olga").await.0;
    let resp = bearer(&server, &token, Method::GET, "/metrics")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let resp = client().get(server.url("/metrics")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
}
