//! A vault value removed while the server runs leaves the leak guard at
//! once: the next agent reply is no longer scrubbed of it, while a value
//! stored a moment ago is. (The redactors are rebuilt from the vault on
//! every change; the one that knew the removed value is dropped and wipes
//! its copies, see `docs/architecture.md`, "Secrets in memory".)
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::agents::{create_agent, direct, set_provider};
use common::chat::{call, get, messages_path, post};
use common::fake_llm::{FakeLlm, Reply};
use common::gate::eventually;
use common::identity::{installation, tokens};
use reqwest::Method;
use serde_json::json;

const REMOVED: &str = "removed-vault-value-0123456789";
const ADDED: &str = "added-vault-value-9876543210";

/// The agent's replies in `conv`, oldest first, once there are `n`.
async fn replies(server: &common::Server, token: &str, conv: i64, n: usize) -> Vec<String> {
    eventually("the agent's replies", || async {
        let (_, page) = get(server, token, &messages_path(conv)).await;
        let texts: Vec<String> = page["messages"]
            .as_array()?
            .iter()
            .filter(|m| m["author"]["kind"] == "agent")
            .filter_map(|m| m["text"].as_str().map(str::to_string))
            .collect();
        (texts.len() >= n).then_some(texts)
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_removed_secret_leaves_the_leak_guard_and_a_new_one_joins_it() {
    let (_env, server) = installation(&[("olga", "owner")]);
    let llm = FakeLlm::start().await;
    let owner = tokens(&server, "olga").await.0;
    set_provider(
        &server,
        &owner,
        "openai",
        json!({"kind": "openai", "base_url": llm.openai_base(), "api_key": "sk-test-0123456789abcdefghij"}),
    )
    .await;
    let agent = create_agent(&server, &owner, "helper", "openai/m1", json!({})).await;
    let conv = direct(&server, &owner, agent).await;
    let put = |value: &str| json!({ "value": value });
    let (s, v) = call(
        &server,
        &owner,
        Method::PUT,
        "/api/v1/secrets/OLD",
        Some(put(REMOVED)),
    )
    .await;
    assert!(s.is_success(), "{v}");
    let say = format!("first {REMOVED} then {ADDED}");

    llm.push(Reply::text([say.clone()]));
    post(&server, &owner, conv, "one").await;
    let first = replies(&server, &owner, conv, 1).await;
    assert_eq!(first[0], format!("first [REDACTED] then {ADDED}"));

    // Remove one value, store another: the next reply shows the removed
    // value and hides the new one.
    let (s, v) = call(&server, &owner, Method::DELETE, "/api/v1/secrets/OLD", None).await;
    assert!(s.is_success(), "{v}");
    let (s, v) = call(
        &server,
        &owner,
        Method::PUT,
        "/api/v1/secrets/NEW",
        Some(put(ADDED)),
    )
    .await;
    assert!(s.is_success(), "{v}");
    llm.push(Reply::text([say.clone()]));
    post(&server, &owner, conv, "two").await;
    let second = replies(&server, &owner, conv, 2).await;
    assert_eq!(second[1], format!("first {REMOVED} then [REDACTED]"));
}
