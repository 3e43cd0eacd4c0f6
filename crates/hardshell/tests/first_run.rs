//! The first hour against the real server: the sign-in page's setup state,
//! finding Ollama and testing a provider with one real call (against the
//! fake LLM server), agents refused for a provider that does not exist, a
//! new agent's SOUL.md, groups started with agents, and replies streamed as
//! rendered, sanitised Markdown snapshots.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::agents::{create_agent, direct, set_provider};
use common::chat::{call, get, post};
use common::fake_llm::{FakeLlm, Reply};
use common::identity::{audit_rows, installation, start, tokens};
use common::ws::{Cred, connect, next_json};
use common::{Env, client};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const KEY: &str = "sk-first-run-0123456789abcdef";
const WAIT: Duration = Duration::from_secs(20);

fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("")
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[tokio::test]
async fn the_sign_in_page_can_tell_whether_setup_is_done() {
    let env = Env::new();
    env.init_with_passphrase();
    let server = start(&env);
    let status = |server: &common::Server| {
        let url = server.url("/api/v1/setup");
        async move {
            let r = client().get(url).send().await.unwrap();
            assert_eq!(r.status(), 200);
            r.json::<Value>().await.unwrap()
        }
    };
    assert_eq!(status(&server).await, json!({"setup_done": false}));
    let token = server.setup_token().unwrap();
    let r = client()
        .post(server.url("/api/v1/setup"))
        .json(&json!({"setup_token": token, "username": "olga", "password": common::identity::password_of("olga")}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(status(&server).await, json!({"setup_done": true}));
    // The login page carries the hint and the script that shows it.
    let page = client()
        .get(server.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("id=\"setup-hint\""), "{page}");
    server.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn ollama_is_found_and_its_models_listed_by_the_owner_only() {
    let (_env, server) = installation(&[("olga", "owner"), ("adam", "admin")]);
    let owner = tokens(&server, "olga").await.0;
    let admin = tokens(&server, "adam").await.0;
    let llm = FakeLlm::start().await;
    llm.set_models(&["qwen2.5", "llama3.2"]);
    let detect = |token: &str, body: Value| {
        let (server, token) = (&server, token.to_string());
        async move {
            call(
                server,
                &token,
                Method::POST,
                "/api/v1/providers/detect",
                Some(body),
            )
            .await
        }
    };
    let (s, v) = detect(&owner, json!({"base_url": llm.ollama_base()})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["models"], json!(["llama3.2", "qwen2.5"]));
    assert_eq!(v["base_url"], llm.ollama_base());
    assert!(llm.requests().iter().any(|r| r.path == "/api/tags"));

    // Nothing there: a clear answer, not an error status.
    let nowhere = format!("http://127.0.0.1:{}", closed_port());
    let (s, v) = detect(&owner, json!({"base_url": nowhere})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["ok"], false);
    assert_eq!(v["code"], "provider_unreachable");
    assert!(
        v["message"].as_str().unwrap().contains("Nothing answered"),
        "{v}"
    );

    // Only http(s) URLs, and only the owner.
    for bad in [
        "file:///etc/passwd",
        "http://u:p@127.0.0.1:1",
        "gopher://x",
        "not a url",
    ] {
        let (s, v) = detect(&owner, json!({"base_url": bad})).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {v}");
        assert_eq!(code(&v), "invalid_base_url");
    }
    let (s, _) = detect(&owner, json!({"base_url": llm.ollama_base(), "extra": 1})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let before = llm.requests().len();
    let (s, _) = detect(&admin, json!({"base_url": llm.ollama_base()})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(
        llm.requests().len(),
        before,
        "a refused caller made no call"
    );
    server.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn test_connection_makes_one_real_call_with_the_saved_key() {
    let (env, server) = installation(&[("olga", "owner"), ("adam", "admin")]);
    let owner = tokens(&server, "olga").await.0;
    let admin = tokens(&server, "adam").await.0;
    let llm = FakeLlm::start().await;
    llm.require_key(KEY);
    let test = |token: &str, name: &str| {
        let (server, token, path) = (
            &server,
            token.to_string(),
            format!("/api/v1/providers/{name}/test"),
        );
        async move { call(server, &token, Method::POST, &path, Some(json!({}))).await }
    };
    set_provider(
        &server,
        &owner,
        "openai",
        json!({"kind": "openai", "base_url": llm.openai_base(), "api_key": "sk-wrong-key-000000000000"}),
    )
    .await;
    let (s, v) = test(&owner, "openai").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["ok"], false, "a wrong key fails the test: {v}");
    assert_eq!(v["code"], "provider_error");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("refused the API key"),
        "{v}"
    );
    assert!(
        !v.to_string().contains("sk-wrong"),
        "the key never comes back"
    );

    // The right key: the call reaches the provider with it.
    set_provider(
        &server,
        &owner,
        "openai",
        json!({"kind": "openai", "base_url": llm.openai_base(), "api_key": KEY}),
    )
    .await;
    let (s, v) = test(&owner, "openai").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["models"], json!(["fake-embed", "fake-model"]));
    let last = llm.requests().last().cloned().unwrap();
    assert_eq!(last.path, "/v1/models");
    assert_eq!(
        last.header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );

    // A provider that does not answer.
    set_provider(
        &server,
        &owner,
        "local",
        json!({"kind": "ollama", "base_url": format!("http://127.0.0.1:{}", closed_port())}),
    )
    .await;
    let (_, v) = test(&owner, "local").await;
    assert_eq!(v["ok"], false);
    assert_eq!(v["code"], "provider_unreachable");

    let (s, _) = test(&owner, "nosuch").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let calls = llm.requests().len();
    let (s, _) = test(&admin, "openai").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(llm.requests().len(), calls);

    let tested: Vec<_> = audit_rows(&env)
        .into_iter()
        .filter(|r| r.0 == "provider.tested")
        .map(|r| (r.3, r.4))
        .collect();
    assert_eq!(
        tested,
        [
            ("provider:openai".to_string(), "failure".to_string()),
            ("provider:openai".to_string(), "success".to_string()),
            ("provider:local".to_string(), "failure".to_string()),
        ]
    );
    server.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn an_agent_must_name_a_configured_provider() {
    let (_env, server) = installation(&[("olga", "owner")]);
    let owner = tokens(&server, "olga").await.0;
    let count = || async {
        get(&server, &owner, "/api/v1/agents").await.1["agents"]
            .as_array()
            .unwrap()
            .len()
    };
    let before = count().await;
    let (s, v) = call(
        &server,
        &owner,
        Method::POST,
        "/api/v1/agents",
        Some(json!({"handle": "helper", "name": "Helper", "model": "nope/m1"})),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(code(&v), "unknown_provider");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("`nope`"),
        "{v}"
    );
    assert_eq!(count().await, before, "nothing half-made");

    set_provider(&server, &owner, "local", json!({"kind": "ollama"})).await;
    let id = create_agent(&server, &owner, "helper", "local/m1", json!({})).await;
    let patch = |body: Value| {
        let (server, owner, path) = (&server, owner.clone(), format!("/api/v1/agents/{id}"));
        async move { call(server, &owner, Method::PATCH, &path, Some(body)).await }
    };
    let (s, v) = patch(json!({"model": "nope/m2"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(code(&v), "unknown_provider");
    let (_, a) = get(&server, &owner, &format!("/api/v1/agents/{id}")).await;
    assert_eq!(a["model"], "local/m1", "unchanged");

    // Deleting the provider later leaves the agent editable (it explains
    // itself when asked); only a changed model must name a provider.
    let (s, _) = call(
        &server,
        &owner,
        Method::DELETE,
        "/api/v1/providers/local",
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, v) = patch(json!({"name": "Helper 2", "model": "local/m1"})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["name"], "Helper 2");
    server.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_agents_soul_has_its_name_and_the_safety_rules() {
    let (_env, server) = installation(&[("olga", "owner")]);
    let owner = tokens(&server, "olga").await.0;
    set_provider(&server, &owner, "local", json!({"kind": "ollama"})).await;
    let id = create_agent(
        &server,
        &owner,
        "scout",
        "local/m1",
        json!({"name": "Scout Bot"}),
    )
    .await;
    let (_, v) = get(&server, &owner, &format!("/api/v1/agents/{id}/soul")).await;
    let soul = v["soul"].as_str().unwrap();
    assert!(soul.starts_with("# Scout Bot\n"), "{soul}");
    assert!(soul.contains("You are Scout Bot"), "{soul}");
    assert!(
        soul.contains("## Safety rules") && soul.contains("UNTRUSTED"),
        "{soul}"
    );
    assert!(!soul.contains("# Assistant"), "{soul}");
    server.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_group_starts_with_people_and_agents() {
    let (_env, server) = installation(&[("olga", "owner"), ("ann", "member")]);
    let owner = tokens(&server, "olga").await.0;
    set_provider(&server, &owner, "local", json!({"kind": "ollama"})).await;
    let helper = create_agent(&server, &owner, "helper", "local/m1", json!({})).await;
    let create = |members: Value| {
        let (server, owner) = (&server, owner.clone());
        async move {
            call(
                server,
                &owner,
                Method::POST,
                "/api/v1/conversations",
                Some(json!({"kind": "group", "title": "Team", "members": members})),
            )
            .await
        }
    };
    let (s, v) = create(json!(["ann", "@helper"])).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let members = v["members"].as_array().unwrap();
    assert!(
        members
            .iter()
            .any(|m| m["kind"] == "agent" && m["id"] == helper),
        "{v}"
    );
    assert!(
        members
            .iter()
            .any(|m| m["kind"] == "user" && m["name"] == "ann"),
        "{v}"
    );
    assert_eq!(
        v["default_agent_id"], helper,
        "the only agent answers by default"
    );

    // Two agents: no default (mention one). Unknown names: 422, nothing made.
    create_agent(&server, &owner, "critic", "local/m1", json!({})).await;
    let (s, v) = create(json!(["helper", "critic"])).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert!(v["default_agent_id"].is_null(), "{v}");
    let (_, list) = get(&server, &owner, "/api/v1/conversations").await;
    let n = list["conversations"].as_array().unwrap().len();
    let (s, v) = create(json!(["ann", "@ghost"])).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("ghost"),
        "{v}"
    );
    let (_, list) = get(&server, &owner, "/api/v1/conversations").await;
    assert_eq!(list["conversations"].as_array().unwrap().len(), n);
    // A disabled agent cannot be added this way either.
    let (s, _) = call(
        &server,
        &owner,
        Method::PATCH,
        &format!("/api/v1/agents/{helper}"),
        Some(json!({"disabled": true})),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = create(json!(["helper"])).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    server.stop();
}

/// True when `html` holds no element or attribute that could run script:
/// every real tag (text has `<` escaped) is a plain formatting tag with no
/// event handler, style or script URL.
fn inert(html: &str) -> bool {
    const PLAIN: [&str; 10] = [
        "p", "strong", "em", "code", "pre", "a", "ul", "ol", "li", "br",
    ];
    html.split('<').skip(1).all(|rest| {
        let tag = rest.split('>').next().unwrap_or("").to_ascii_lowercase();
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(char::is_ascii_alphanumeric)
            .collect();
        PLAIN.contains(&name.as_str())
            && !tag.contains(" on")
            && !tag.contains("style")
            && !tag.contains("javascript:")
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_streamed_reply_arrives_as_rendered_sanitised_snapshots() {
    let (_env, server) = installation(&[("olga", "owner")]);
    let owner = tokens(&server, "olga").await.0;
    let llm = FakeLlm::start().await;
    set_provider(
        &server,
        &owner,
        "openai",
        json!({"kind": "openai", "base_url": llm.openai_base()}),
    )
    .await;
    let agent = create_agent(&server, &owner, "writer", "openai/m1", json!({})).await;
    let conv = direct(&server, &owner, agent).await;
    let (mut ws, _) = connect(&server, Cred::Bearer(&owner), "").await;
    let chunks = [
        "Here is **bo",
        "ld** text <scr",
        "ipt>alert(1)</script> <img src=x onerr",
        "or=alert(1)> and [a link](javascript:alert(1)) ",
        "and `code`.",
    ];
    llm.push(Reply::text(chunks).with_delay(Duration::from_millis(150)));
    post(&server, &owner, conv, "write something").await;
    let mut frames = Vec::new();
    loop {
        let f = next_json(&mut ws, WAIT).await.expect("the turn finishes");
        let done = f["type"] == "agent.finished";
        frames.push(f);
        if done {
            break;
        }
    }
    let deltas: Vec<&Value> = frames
        .iter()
        .filter(|f| f["type"] == "agent.delta")
        .collect();
    assert!(!deltas.is_empty(), "{frames:#?}");
    let text: String = deltas
        .iter()
        .map(|d| d["data"]["text"].as_str().unwrap())
        .collect();
    assert_eq!(text, chunks.concat(), "the raw text still adds up");
    for d in &deltas {
        let html = d["data"]["html"]
            .as_str()
            .expect("every delta carries a snapshot");
        assert!(inert(html), "live HTML in a snapshot: {html}");
    }
    let last = deltas.last().unwrap()["data"]["html"].as_str().unwrap();
    assert!(last.contains("<strong>bold</strong>"), "{last}");
    assert!(last.contains("<code>code</code>"), "{last}");
    assert!(last.contains("&lt;script&gt;"), "shown as text: {last}");
    let stored = frames
        .iter()
        .find(|f| f["type"] == "message.created" && f["data"]["author"]["kind"] == "agent")
        .unwrap();
    assert_eq!(
        stored["data"]["html"], last,
        "the last snapshot is the stored reply"
    );
    server.stop();
}
