//! The in-memory chat cache (conversation facts and rendered history
//! pages) must never outlive a change: for every way a page, a member list
//! or the routing facts go stale, warm the cache with reads, change it,
//! and see the very next request answered from the new state. Covers
//! membership (API and a raw foreign commit), message post, edit and
//! delete, user deletion, conversation deletion, agent renames, and
//! agents joining or being disabled.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::Server;
use common::agents::{add_agent, create_agent, set_provider};
use common::chat::{call, get, group, messages_path, post, post_raw};
use common::fake_llm::{FakeLlm, Reply};
use common::identity::{db, installation, tokens};
use common::ws::{Cred, connect, next_json};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// Reads a page three times (so it is surely cached); all must agree.
async fn warm_page(server: &Server, token: &str, path: &str) -> Value {
    let (s, first) = get(server, token, path).await;
    assert_eq!(s, StatusCode::OK, "{first}");
    for _ in 0..2 {
        let (s, again) = get(server, token, path).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(again, first);
    }
    first
}

fn texts(page: &Value) -> Vec<String> {
    page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap().to_string())
        .collect()
}

async fn user_id(server: &Server, token: &str, name: &str) -> i64 {
    let (s, v) = get(server, token, "/api/v1/users").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v.as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == name)
        .unwrap()["id"]
        .as_i64()
        .unwrap()
}

/// Adds (POST) or removes (DELETE) a user member.
async fn members(server: &Server, token: &str, conv: i64, method: Method, name: &str) {
    let path = format!("/api/v1/conversations/{conv}/members");
    let body = json!({ "username": name });
    let (s, v) = call(server, token, method, &path, Some(body)).await;
    assert!(s.is_success(), "{name}: {s} {v}");
}

#[tokio::test]
async fn membership_changes_beat_a_warm_cache() {
    let (env, server) = installation(&[("olga", "owner"), ("ann", "member"), ("bob", "member")]);
    let olga = tokens(&server, "olga").await.0;
    let ann = tokens(&server, "ann").await.0;
    let bob = tokens(&server, "bob").await.0;
    let conv = group(&server, &ann, "Team", &["olga"]).await["id"]
        .as_i64()
        .unwrap();
    for i in 0..3 {
        post(&server, &ann, conv, &format!("note {i}")).await;
    }
    let path = messages_path(conv);
    let page = warm_page(&server, &ann, &path).await;
    assert_eq!(texts(&page), ["note 0", "note 1", "note 2"]);

    // A non-member is refused from a warm cache, reading and posting.
    assert_eq!(get(&server, &bob, &path).await.0, StatusCode::NOT_FOUND);
    let (s, _) = post_raw(&server, &bob, conv, json!({"text": "let me in"})).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // Added: the very next read and post succeed.
    members(&server, &ann, conv, Method::POST, "bob").await;
    assert_eq!(get(&server, &bob, &path).await.1, page);
    post(&server, &bob, conv, "hello").await;
    warm_page(&server, &bob, &path).await;

    // Removed: the very next read and post are refused.
    members(&server, &ann, conv, Method::DELETE, "bob").await;
    assert_eq!(get(&server, &bob, &path).await.0, StatusCode::NOT_FOUND);
    let (s, _) = post_raw(&server, &bob, conv, json!({"text": "still here?"})).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // Re-added, warmed, then removed by a commit the server never saw
    // coming (another connection to the same database).
    members(&server, &ann, conv, Method::POST, "bob").await;
    warm_page(&server, &bob, &path).await;
    let bob_id = user_id(&server, &olga, "bob").await;
    let n = db(&env)
        .execute(
            "DELETE FROM conversation_members WHERE conversation_id = ?1 AND user_id = ?2",
            [conv, bob_id],
        )
        .unwrap();
    assert_eq!(n, 1);
    assert_eq!(
        get(&server, &bob, &path).await.0,
        StatusCode::NOT_FOUND,
        "foreign commit"
    );

    // The conversation deleted: gone for everyone at once.
    warm_page(&server, &ann, &path).await;
    let (s, v) = call(
        &server,
        &ann,
        Method::DELETE,
        &format!("/api/v1/conversations/{conv}"),
        None,
    )
    .await;
    assert!(s.is_success(), "{s} {v}");
    assert_eq!(get(&server, &ann, &path).await.0, StatusCode::NOT_FOUND);
    assert_eq!(get(&server, &olga, &path).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn message_writes_beat_a_warm_page() {
    let (env, server) = installation(&[("olga", "owner"), ("ann", "member")]);
    let olga = tokens(&server, "olga").await.0;
    let ann = tokens(&server, "ann").await.0;
    let conv = group(&server, &olga, "Team", &["ann"]).await["id"]
        .as_i64()
        .unwrap();
    let mut ids = Vec::new();
    for i in 0..4 {
        ids.push(
            post(&server, &ann, conv, &format!("m{i}")).await["id"]
                .as_i64()
                .unwrap(),
        );
    }
    let path = messages_path(conv);
    let older = format!("{path}?before={}&limit=2", ids[2]);
    let small = format!("{path}?limit=1");
    assert_eq!(
        texts(&warm_page(&server, &ann, &path).await),
        ["m0", "m1", "m2", "m3"]
    );
    assert_eq!(texts(&warm_page(&server, &ann, &older).await), ["m0", "m1"]);
    assert_eq!(texts(&warm_page(&server, &ann, &small).await), ["m3"]);

    // Post.
    post(&server, &olga, conv, "m4").await;
    assert_eq!(
        texts(&get(&server, &ann, &path).await.1),
        ["m0", "m1", "m2", "m3", "m4"]
    );
    assert_eq!(texts(&get(&server, &ann, &small).await.1), ["m4"]);

    // Edit, as the page's html shows it.
    warm_page(&server, &ann, &path).await;
    let (s, v) = call(
        &server,
        &ann,
        Method::PATCH,
        &format!("{path}/{}", ids[0]),
        Some(json!({"text": "**edited**"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let page = get(&server, &ann, &path).await.1;
    assert_eq!(page["messages"][0]["text"], "**edited**");
    assert!(
        page["messages"][0]["html"]
            .as_str()
            .unwrap()
            .contains("<strong>edited</strong>")
    );
    assert_eq!(
        texts(&get(&server, &ann, &older).await.1),
        ["**edited**", "m1"]
    );

    // Delete.
    warm_page(&server, &ann, &path).await;
    let (s, _) = call(
        &server,
        &ann,
        Method::DELETE,
        &format!("{path}/{}", ids[1]),
        None,
    )
    .await;
    assert!(s.is_success());
    assert_eq!(
        texts(&get(&server, &ann, &path).await.1),
        ["**edited**", "m2", "m3", "m4"]
    );

    // A message rewritten by another process.
    warm_page(&server, &ann, &path).await;
    let n = db(&env)
        .execute(
            "UPDATE messages SET text = 'rewritten' WHERE id = ?1",
            [ids[3]],
        )
        .unwrap();
    assert_eq!(n, 1);
    assert_eq!(
        texts(&get(&server, &ann, &path).await.1),
        ["**edited**", "m2", "rewritten", "m4"],
        "foreign commit"
    );

    // The author deleted: their messages stay, shown as a deleted user.
    warm_page(&server, &olga, &path).await;
    let ann_id = user_id(&server, &olga, "ann").await;
    let (s, v) = call(
        &server,
        &olga,
        Method::DELETE,
        &format!("/api/v1/users/{ann_id}"),
        None,
    )
    .await;
    assert!(s.is_success(), "{s} {v}");
    let page = get(&server, &olga, &path).await.1;
    let first = &page["messages"][0]["author"];
    assert_ne!(first["name"], "ann", "{first}");
}

#[tokio::test(flavor = "multi_thread")]
async fn agent_changes_beat_warm_conversation_facts() {
    let (_env, server) = installation(&[("olga", "owner")]);
    let olga = tokens(&server, "olga").await.0;
    let llm = FakeLlm::start().await;
    set_provider(
        &server,
        &olga,
        "openai",
        json!({"kind": "openai", "base_url": llm.openai_base(), "api_key": "sk-test-0123456789abcdef"}),
    )
    .await;
    let conv = group(&server, &olga, "Team", &[]).await["id"]
        .as_i64()
        .unwrap();
    let (mut ws, _) = connect(&server, Cred::Bearer(&olga), "").await;
    // Facts cached while the room has no agent: nobody answers.
    for _ in 0..3 {
        post(&server, &olga, conv, "@alpha are you there?").await;
    }

    // The agent joins: the next mention reaches it.
    let alpha = create_agent(&server, &olga, "alpha", "openai/m1", json!({})).await;
    add_agent(&server, &olga, conv, alpha).await;
    llm.push(Reply::text(["here"]));
    let msg = post(&server, &olga, conv, "@alpha now?").await;
    assert_eq!(msg["mentions"][0]["name"], "alpha", "{msg}");
    wait_for_agent_reply(&mut ws, "here").await;
    assert_eq!(llm.chat_requests().len(), 1);

    // Renamed: the new handle is a mention at once, the old one is not.
    let (s, v) = call(
        &server,
        &olga,
        Method::PATCH,
        &format!("/api/v1/agents/{alpha}"),
        Some(json!({"handle": "omega"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    llm.push(Reply::text(["renamed"]));
    let msg = post(&server, &olga, conv, "@alpha or @omega?").await;
    let names: Vec<&str> = msg["mentions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["omega"], "{msg}");
    wait_for_agent_reply(&mut ws, "renamed").await;

    // Disabled: a mention no longer starts a turn. A second agent answers
    // the same post, which proves the post was routed after the change.
    let (s, _) = call(
        &server,
        &olga,
        Method::PATCH,
        &format!("/api/v1/agents/{alpha}"),
        Some(json!({"disabled": true})),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let beta = create_agent(&server, &olga, "beta", "openai/m2", json!({})).await;
    add_agent(&server, &olga, conv, beta).await;
    llm.push(Reply::text(["beta only"]));
    post(&server, &olga, conv, "@omega and @beta").await;
    wait_for_agent_reply(&mut ws, "beta only").await;
    let models: Vec<Value> = llm
        .chat_requests()
        .iter()
        .map(|r| r.body["model"].clone())
        .collect();
    assert_eq!(models, [json!("m1"), json!("m1"), json!("m2")]);
}

/// Waits for an agent's stored reply with `text` on the WebSocket.
async fn wait_for_agent_reply(ws: &mut common::ws::Ws, text: &str) {
    loop {
        let v = next_json(ws, Duration::from_secs(20))
            .await
            .unwrap_or_else(|| panic!("no agent reply {text:?}"));
        if v["type"] == "message.created"
            && v["data"]["author"]["kind"] == "agent"
            && v["data"]["text"] == text
        {
            return;
        }
        assert_ne!(v["type"], "agent.error", "{v}");
    }
}
