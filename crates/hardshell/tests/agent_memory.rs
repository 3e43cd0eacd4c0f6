//! Agent memories (issue 8) against the real server: owner/admin CRUD,
//! dedup, validation, audit, refusal for members, guests and keys, FTS
//! syntax kept inert, and scoping through a real turn: a turn for bob
//! never sees a memory about ann, by words or by vectors.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::agents::{create_agent, direct, offline_provider, set_provider};
use common::chat::{call, get, group, post};
use common::fake_llm::FakeLlm;
use common::identity::{agent_key, audit_rows, installation, tokens};
use common::ws::{Cred, connect, next_json};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

fn mem_path(agent: i64) -> String {
    format!("/api/v1/agents/{agent}/memories")
}

async fn user_id(server: &common::Server, token: &str) -> i64 {
    get(server, token, "/api/v1/auth/me").await.1["user"]["id"]
        .as_i64()
        .unwrap()
}

async fn add(server: &common::Server, token: &str, agent: i64, body: Value) -> (StatusCode, Value) {
    call(server, token, Method::POST, &mem_path(agent), Some(body)).await
}

fn texts(v: &Value) -> Vec<String> {
    v["memories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn owners_and_admins_curate_memories_with_dedup_validation_and_audit() {
    let (env, server) = installation(&[("olga", "owner"), ("adam", "admin"), ("ann", "member")]);
    let owner = tokens(&server, "olga").await.0;
    offline_provider(&server, &owner).await;
    let admin = tokens(&server, "adam").await.0;
    let ann_token = tokens(&server, "ann").await.0;
    let olga_id = user_id(&server, &owner).await;
    let ann_id = user_id(&server, &ann_token).await;
    let agent = create_agent(&server, &owner, "helper", "openai/m1", json!({})).await;
    let conv = group(&server, &owner, "Team", &["ann"]).await["id"]
        .as_i64()
        .unwrap();

    // Default scope target is the caller.
    let (s, mine) = add(
        &server,
        &owner,
        agent,
        json!({"text": "Prefers green tea", "scope": "user"}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{mine}");
    assert_eq!(mine["scope"], "user");
    assert_eq!(mine["user"]["id"], olga_id);
    assert_eq!(mine["source"], "owner");
    assert_eq!(mine["conversation_id"], Value::Null);
    // The same fact, differently spelled: 200 with the existing memory.
    let (s, dup) = add(
        &server,
        &admin,
        agent,
        json!({"text": "  PREFERS   green TEA ", "scope": "user", "user_id": olga_id}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{dup}");
    assert_eq!(dup["id"], mine["id"]);
    let (s, about_ann) = add(
        &server,
        &admin,
        agent,
        json!({"text": "Ann's standup is at nine", "scope": "user", "user_id": ann_id}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{about_ann}");
    assert_eq!(about_ann["user"]["name"], "ann");
    let (s, team) = add(&server, &owner, agent, json!({"text": "The team ships on fridays", "scope": "conversation", "conversation_id": conv})).await;
    assert_eq!(s, StatusCode::CREATED, "{team}");
    assert_eq!(team["conversation_id"], conv);
    assert_eq!(team["user"], Value::Null);

    // Refused input leaves nothing behind.
    for bad in [
        json!({"text": "", "scope": "user"}),
        json!({"text": "   ", "scope": "user"}),
        json!({"text": "x".repeat(2001), "scope": "user"}),
        json!({"text": "t", "scope": "user", "conversation_id": conv}),
        json!({"text": "t", "scope": "conversation"}),
        json!({"text": "t", "scope": "everyone"}),
        json!({"text": "t", "scope": "user", "user_id": 9999}),
        json!({"text": "t", "scope": "conversation", "conversation_id": 9999}),
    ] {
        let (s, v) = add(&server, &owner, agent, bad.clone()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {v}");
        assert!(v["error"]["code"].is_string(), "{v}");
    }
    let (s, _) = add(
        &server,
        &owner,
        agent,
        json!({"text": "t", "scope": "user", "extra": 1}),
    )
    .await;
    assert!(s.is_client_error());

    // List (newest first) and search; FTS syntax is only ever text.
    let (s, all) = get(&server, &owner, &mem_path(agent)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        texts(&all),
        [
            "The team ships on fridays",
            "Ann's standup is at nine",
            "Prefers green tea"
        ]
    );
    let (_, found) = get(&server, &admin, &format!("{}?q=tea", mem_path(agent))).await;
    assert_eq!(texts(&found), ["Prefers green tea"]);
    for q in [
        "%22",
        "a%22%20OR%20",
        "text%3A*",
        "NEAR(a%20b)",
        "*",
        "(",
        "-x",
        "AND",
    ] {
        let (s, v) = get(&server, &owner, &format!("{}?q={q}", mem_path(agent))).await;
        assert_eq!(s, StatusCode::OK, "{q}: {v}");
    }
    let (s, _) = get(&server, &owner, &format!("{}?limit=0", mem_path(agent))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // Delete, then it is gone; other agents and missing agents are 404.
    let id = mine["id"].as_i64().unwrap();
    let other = create_agent(&server, &owner, "other", "openai/m1", json!({})).await;
    let (s, _) = call(
        &server,
        &owner,
        Method::DELETE,
        &format!("{}/{id}", mem_path(other)),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = call(
        &server,
        &owner,
        Method::DELETE,
        &format!("{}/{id}", mem_path(agent)),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = call(
        &server,
        &owner,
        Method::DELETE,
        &format!("{}/{id}", mem_path(agent)),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, found) = get(&server, &owner, &format!("{}?q=tea", mem_path(agent))).await;
    assert!(texts(&found).is_empty());
    for (m, body) in [
        (Method::GET, None),
        (Method::POST, Some(json!({"text": "x", "scope": "user"}))),
    ] {
        let (s, _) = call(&server, &owner, m, &mem_path(9999), body).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
    }

    let rows = audit_rows(&env);
    let count = |a: &str| rows.iter().filter(|r| r.0 == a && r.4 == "success").count();
    assert_eq!(
        count("agent.memory_added"),
        3,
        "a duplicate is not a new memory"
    );
    assert_eq!(count("agent.memory_deleted"), 1);
    assert!(
        rows.iter()
            .any(|r| r.0 == "agent.memory_added" && r.3 == format!("agent:{agent}"))
    );
    server.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn members_guests_and_keys_cannot_read_or_write_memories() {
    let (_env, server) = installation(&[("olga", "owner"), ("ann", "member"), ("gus", "guest")]);
    let owner = tokens(&server, "olga").await.0;
    offline_provider(&server, &owner).await;
    let agent = create_agent(&server, &owner, "helper", "openai/m1", json!({})).await;
    let (s, m) = add(
        &server,
        &owner,
        agent,
        json!({"text": "a private fact", "scope": "user"}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    let (_, key) = agent_key(
        &server,
        &owner,
        json!({"name": "bot", "permissions": ["knowledge:read", "knowledge:write", "knowledge:delete", "messages:read"]}),
    )
    .await;
    let mut callers = vec![key];
    for name in ["ann", "gus"] {
        callers.push(tokens(&server, name).await.0);
    }
    for token in &callers {
        let (s, _) = get(&server, token, &mem_path(agent)).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let (s, _) = add(
            &server,
            token,
            agent,
            json!({"text": "planted", "scope": "user"}),
        )
        .await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let path = format!("{}/{}", mem_path(agent), m["id"]);
        let (s, _) = call(&server, token, Method::DELETE, &path, None).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
    }
    let (_, all) = get(&server, &owner, &mem_path(agent)).await;
    assert_eq!(texts(&all), ["a private fact"]);
    server.stop();
}

/// The last chat request's whole prompt, as text.
fn prompt_of(llm: &FakeLlm) -> String {
    llm.last_chat()
        .unwrap()
        .messages()
        .iter()
        .map(Value::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_turn_for_one_user_never_sees_another_users_memories() {
    let (_env, server) = installation(&[("olga", "owner"), ("ann", "member"), ("bob", "member")]);
    let llm = FakeLlm::start().await;
    let owner = tokens(&server, "olga").await.0;
    set_provider(
        &server,
        &owner,
        "openai",
        json!({"kind": "openai", "base_url": llm.openai_base(), "api_key": "sk-test-0123456789abcdefghij",
               "embedding_model": "fake-embed"}),
    )
    .await;
    let agent = create_agent(&server, &owner, "helper", "openai/m1", json!({})).await;
    let ann = tokens(&server, "ann").await.0;
    let bob = tokens(&server, "bob").await.0;
    let (ann_id, bob_id) = (user_id(&server, &ann).await, user_id(&server, &bob).await);
    for (uid, text) in [
        (ann_id, "ann's locker code is 4417"),
        (bob_id, "bob's locker is next to the window"),
    ] {
        let (s, v) = add(
            &server,
            &owner,
            agent,
            json!({"text": text, "scope": "user", "user_id": uid}),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
    }
    // The embeddings endpoint was used for the saves.
    assert!(llm.requests().iter().any(|r| !r.is_chat()));

    for (token, own, other) in [
        (&bob, "next to the window", "4417"),
        (&ann, "4417", "next to the window"),
    ] {
        let conv = direct(&server, token, agent).await;
        let (mut ws, _) = connect(&server, Cred::Bearer(token), "").await;
        post(&server, token, conv, "what is my locker code").await;
        loop {
            let f = next_json(&mut ws, Duration::from_secs(20))
                .await
                .expect("turn frames");
            if f["type"] == "agent.finished" || f["type"] == "agent.error" {
                assert_eq!(f["type"], "agent.finished", "{f}");
                break;
            }
        }
        let prompt = prompt_of(&llm);
        assert!(prompt.contains(own), "own memory missing: {prompt}");
        assert!(
            !prompt.contains(other),
            "another user's memory leaked: {prompt}"
        );
    }
    server.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_memory_answers_409_and_keeps_answering_duplicates() {
    let (_env, server) = installation(&[("olga", "owner")]);
    let owner = tokens(&server, "olga").await.0;
    offline_provider(&server, &owner).await;
    let agent = create_agent(&server, &owner, "helper", "openai/m1", json!({})).await;
    // The cap is 1000 per agent; fill it 20 requests at a time.
    for batch in 0..50 {
        let posts = (0..20).map(|i| {
            let body = json!({"text": format!("fact number {}", batch * 20 + i), "scope": "user"});
            add(&server, &owner, agent, body)
        });
        for (s, v) in futures_util::future::join_all(posts).await {
            assert_eq!(s, StatusCode::CREATED, "{v}");
        }
    }
    let (s, v) = add(
        &server,
        &owner,
        agent,
        json!({"text": "one too many", "scope": "user"}),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["error"]["code"], "memory_full");
    let (s, v) = add(
        &server,
        &owner,
        agent,
        json!({"text": "FACT number 7", "scope": "user"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["text"], "fact number 7");
    server.stop();
}
