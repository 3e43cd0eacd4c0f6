//! Agent helpers for the integration tests: providers pointed at the fake
//! LLM server, agents, and groups with agent members.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::Server;
use super::chat::call;

/// `PUT /api/v1/providers/{name}` as `token`; asserts success.
pub async fn set_provider(server: &Server, token: &str, name: &str, body: Value) -> Value {
    let (s, v) = call(
        server,
        token,
        Method::PUT,
        &format!("/api/v1/providers/{name}"),
        Some(body),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "provider {name}: {v}");
    v
}

/// An `openai` provider that agents may name but that nothing answers
/// for (the discard port): creating an agent needs a configured provider.
/// `token` must be the owner's.
pub async fn offline_provider(server: &Server, token: &str) {
    set_provider(
        server,
        token,
        "openai",
        json!({"kind": "openai", "base_url": "http://127.0.0.1:9"}),
    )
    .await;
}

/// Creates an agent (`extra` fields merged in); returns its id.
pub async fn create_agent(
    server: &Server,
    token: &str,
    handle: &str,
    model: &str,
    extra: Value,
) -> i64 {
    let mut body = json!({"handle": handle, "name": handle, "model": model});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            b.insert(k.clone(), v.clone());
        }
    }
    let (s, v) = call(server, token, Method::POST, "/api/v1/agents", Some(body)).await;
    assert_eq!(s, StatusCode::CREATED, "agent {handle}: {v}");
    v["id"].as_i64().unwrap()
}

/// Adds an agent to a group.
pub async fn add_agent(server: &Server, token: &str, conv: i64, agent: i64) {
    let (s, v) = call(
        server,
        token,
        Method::POST,
        &format!("/api/v1/conversations/{conv}/members"),
        Some(json!({"agent_id": agent})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "add agent {agent}: {v}");
}

/// A direct conversation with an agent; returns its id.
pub async fn direct(server: &Server, token: &str, agent: i64) -> i64 {
    let (s, v) = call(
        server,
        token,
        Method::POST,
        "/api/v1/conversations",
        Some(json!({"kind": "direct", "agent_id": agent})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "direct with {agent}: {v}");
    v["id"].as_i64().unwrap()
}
