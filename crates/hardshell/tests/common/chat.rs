//! Chat helpers for the integration tests: JSON calls with a bearer token,
//! conversation and message shortcuts, and a small upload.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::Server;
use super::identity::bearer;

/// Sends `body` (if any) as JSON with `token`; returns status and JSON body.
pub async fn call(
    server: &Server,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut r = bearer(server, token, method, path);
    if let Some(b) = body {
        r = r.json(&b);
    }
    let resp = r.send().await.unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

pub async fn get(server: &Server, token: &str, path: &str) -> (StatusCode, Value) {
    call(server, token, Method::GET, path, None).await
}

/// Creates a group; returns its JSON.
pub async fn group(server: &Server, token: &str, title: &str, members: &[&str]) -> Value {
    let (s, v) = call(
        server,
        token,
        Method::POST,
        "/api/v1/conversations",
        Some(json!({"kind": "group", "title": title, "members": members})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "create {title}: {v}");
    v
}

pub fn messages_path(conv: i64) -> String {
    format!("/api/v1/conversations/{conv}/messages")
}

/// Posts `body` to a conversation.
pub async fn post_raw(server: &Server, token: &str, conv: i64, body: Value) -> (StatusCode, Value) {
    call(
        server,
        token,
        Method::POST,
        &messages_path(conv),
        Some(body),
    )
    .await
}

/// Posts text that must succeed; returns the message.
pub async fn post(server: &Server, token: &str, conv: i64, text: &str) -> Value {
    let (s, v) = post_raw(server, token, conv, json!({ "text": text })).await;
    assert_eq!(s, StatusCode::CREATED, "post {text:?}: {v}");
    v
}

/// Every message id of a conversation, oldest first (up to 100).
pub async fn message_ids(server: &Server, token: &str, conv: i64) -> Vec<i64> {
    let (s, v) = get(server, token, &format!("{}?limit=100", messages_path(conv))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_i64().unwrap())
        .collect()
}

/// Search hits' message ids for `q`.
pub async fn search_ids(server: &Server, token: &str, q: &str) -> Vec<i64> {
    let resp = bearer(server, token, Method::GET, "/api/v1/search")
        .query(&[("q", q)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "search {q:?}");
    let v: Value = resp.json().await.unwrap();
    v["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["message"]["id"].as_i64().unwrap())
        .collect()
}

/// Uploads a small text file; returns the upload's public id.
pub async fn upload_text(server: &Server, token: &str, name: &str, content: &str) -> String {
    const B: &str = "hs-chat-test-boundary";
    let body = format!(
        "--{B}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
         Content-Type: text/plain\r\n\r\n{content}\r\n--{B}--\r\n"
    );
    let resp = bearer(server, token, Method::POST, "/api/v1/uploads")
        .header("content-type", format!("multipart/form-data; boundary={B}"))
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let v: Value = resp.json().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "upload: {v}");
    v["id"].as_str().unwrap().to_string()
}
