//! What a channel sender's turn may reach beyond its own conversation, and
//! the bound on unauthenticated inbound work (issue 19): a paired sender
//! has its own memory scope, never the linked user's web memories, and the
//! public inbound route answers 503 past `max_inflight` before it reads a
//! body or computes a MAC.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::chat::call;
use common::fake_llm::Reply;
use common::gate::eventually;
use common::hooks::*;
use common::identity::db;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// Memories of `agent` as (scope, user_id, conversation_id, text).
fn memory_rows(h: &Hooked) -> Vec<(String, Option<i64>, Option<i64>, String)> {
    let conn = db(&h.w.env);
    let mut stmt = conn
        .prepare(
            "SELECT scope, user_id, conversation_id, text FROM agent_memories
             WHERE agent_id = ?1 ORDER BY id",
        )
        .unwrap();
    stmt.query_map([h.agent], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

/// The text of the newest chat request the fake model received.
fn last_prompt(h: &Hooked) -> String {
    h.w.llm
        .last_chat()
        .map(|r| r.body.to_string())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sender_remembers_in_its_own_scope_and_never_reads_the_users() {
    let h = hooked().await;
    // The owner's own, web-side memory about themself.
    let (s, v) = call(
        &h.w.server,
        &h.w.owner,
        Method::POST,
        &format!("/api/v1/agents/{}/memories", h.agent),
        Some(json!({"text": "the safe combination is 7731", "scope": "user"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");

    // The owner's invite links sender u-1 to the owner's user.
    let code = invite(&h).await;
    say(&h, "p1", "u-1", "", &format!("/start {code}")).await;
    deliveries(&h, 1).await;

    // The worst-case model saves a fact "about the user" from the channel.
    h.w.llm.push(Reply::tool_call(
        "memory_save",
        &json!({"text": "the sender drinks green tea", "scope": "user"}).to_string(),
    ));
    h.w.llm.push(Reply::text(["noted"]));
    say(&h, "p2", "u-1", "", "remember that I drink green tea").await;
    // Tainted turn: the save waits for the owner.
    let approval = eventually("the approval request", || async {
        let (_, v) = call(
            &h.w.server,
            &h.w.owner,
            Method::GET,
            "/api/v1/approvals?status=pending",
            None,
        )
        .await;
        v["approvals"].as_array().unwrap().first().cloned()
    })
    .await;
    let target = approval["target"].as_str().unwrap_or_default();
    assert!(
        target.starts_with("memory:conversation:"),
        "a channel sender's `user` scope must be its own conversation: {approval}"
    );
    let (s, v) =
        h.w.decide(&h.w.owner, approval["id"].as_i64().unwrap(), "approve")
            .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    deliveries(&h, 2).await;
    let rows = memory_rows(&h);
    let saved = rows
        .iter()
        .find(|r| r.3.contains("green tea"))
        .unwrap_or_else(|| panic!("the approved save did not land: {rows:?}"));
    assert_eq!(saved.0, "conversation", "{rows:?}");
    assert_eq!(
        saved.1, None,
        "written into the linked user's scope: {rows:?}"
    );

    // The next channel turn finds its own memory, never the user's.
    h.w.llm.push(Reply::text(["ok"]));
    say(
        &h,
        "p3",
        "u-1",
        "",
        "what tea do I drink, and the safe combination?",
    )
    .await;
    deliveries(&h, 3).await;
    let prompt = last_prompt(&h);
    assert!(prompt.contains("green tea"), "own memory missing: {prompt}");
    assert!(
        !prompt.contains("7731"),
        "the linked user's web memory reached a channel turn: {prompt}"
    );

    // And memory_search from the channel is held to the same scopes.
    h.w.llm.push(Reply::tool_call(
        "memory_search",
        &json!({"query": "safe combination"}).to_string(),
    ));
    h.w.llm.push(Reply::text(["done"]));
    say(
        &h,
        "p4",
        "u-1",
        "",
        "search your memory for the safe combination",
    )
    .await;
    deliveries(&h, 4).await;
    let prompt = last_prompt(&h);
    assert!(
        prompt.contains("memory_search"),
        "the tool result is in the prompt: {prompt}"
    );
    assert!(
        !prompt.contains("7731"),
        "memory_search crossed into the user's scope: {prompt}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn inbound_requests_past_max_inflight_get_503_before_any_work() {
    // One slot: while a slow client holds it, every other request is 503.
    let h = hooked_cfg("", "max_inflight = 1").await;
    let addr =
        h.w.server
            .url(INBOUND)
            .trim_start_matches("http://")
            .split('/')
            .next()
            .unwrap()
            .to_string();
    // A client that sends fresh, signed-looking headers promising a body,
    // then stalls: the handler holds its slot while it waits for the body.
    let ts = now();
    let mut slow = tokio::net::TcpStream::connect(&addr).await.unwrap();
    use tokio::io::AsyncWriteExt;
    slow.write_all(
        format!(
            "POST {INBOUND} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\n\
             content-length: 1000\r\nx-hardshell-timestamp: {ts}\r\nx-hardshell-signature: sha256=00\r\n\r\n{{"
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    // The stalled request holds the only slot: a correctly signed message
    // is turned away with 503 and nothing is stored.
    let refused = eventually("a 503 while the slot is held", || async {
        let (s, v) = say(&h, "m1", "u-9", "", "hello").await;
        (s == StatusCode::SERVICE_UNAVAILABLE).then_some(v)
    })
    .await;
    assert!(
        refused["error"]["code"].is_string(),
        "a JSON error: {refused}"
    );
    let p = pairing(&h).await;
    assert!(
        p["requests"].as_array().unwrap().is_empty(),
        "a refused request was stored: {p}"
    );
    assert!(h.w.llm.chat_requests().is_empty());

    // Once the slow client goes away, the slot comes back.
    drop(slow);
    let (s, v): (StatusCode, Value) = eventually("the slot freed", || async {
        let r = say(&h, "m2", "u-9", "", "hello again").await;
        (r.0 != StatusCode::SERVICE_UNAVAILABLE).then_some(r)
    })
    .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    tokio::time::sleep(Duration::from_millis(10)).await;
}
