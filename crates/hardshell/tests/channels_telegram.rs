//! The Telegram channel against a fake Bot API server speaking the real
//! protocol: pairing before any model call (a stranger with the owner's
//! name and username is a stranger), replies escaped for
//! MarkdownV2 and split under 4096 characters, the typing indicator,
//! offsets that advance only past stored updates, redelivery answered
//! once, and a second poller (409) reported rather than fought.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::chat::call;
use common::fake_llm::Reply;
use common::gate::eventually;
use common::tg_world::{Tg, sent, telegram_world};
use reqwest::{Method, StatusCode};
use serde_json::json;

async fn telegram() -> Tg {
    telegram_world("", "").await
}

/// The code in a canned reply, unescaped.
fn code_in(text: &str) -> String {
    let plain = text.replace('\\', "");
    plain
        .split_whitespace()
        .find(|w| w.len() == 9 && w.as_bytes()[4] == b'-')
        .unwrap_or_else(|| panic!("no code in {text:?}"))
        .to_string()
}

async fn pair(t: &Tg, user: i64) {
    let (s, v) = call(
        &t.w.server,
        &t.w.owner,
        Method::POST,
        "/api/v1/channels/pairing/invites",
        Some(json!({"channel": "telegram"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let before = t.tg.sent().len();
    t.tg.push_text(
        user,
        "ann",
        &format!("/start {}", v["code"].as_str().unwrap()),
    );
    let s = sent(t, before + 1).await;
    assert!(
        s[before]["text"].as_str().unwrap().contains("paired"),
        "{s:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unpaired_user_gets_a_code_and_reaches_no_model() {
    let t = telegram().await;
    t.tg.push_text(42, "olga", "hi, I am the owner");
    let s = sent(&t, 1).await;
    assert_eq!(s[0]["chat_id"], 42);
    assert_eq!(s[0]["parse_mode"], "MarkdownV2");
    let code = code_in(s[0]["text"].as_str().unwrap());
    t.tg.push_text(42, "olga", "hello??");
    // The second update is consumed (the offset moves past it) unanswered.
    let last = t.tg.push_text(42, "olga", "anyone?");
    eventually("the offset to pass the updates", || async {
        t.tg.offsets().iter().any(|o| *o > last).then_some(())
    })
    .await;
    assert_eq!(t.tg.sent().len(), 1, "one canned reply only");
    assert!(t.w.llm.chat_requests().is_empty());
    let (s, v) = call(
        &t.w.server,
        &t.w.owner,
        Method::POST,
        "/api/v1/channels/pairing/approve",
        Some(json!({"code": code})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["sender"]["external_id"], "42");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stranger_with_the_owners_name_and_username_gets_no_access() {
    let t = telegram().await;
    pair(&t, 77).await;
    // Another Telegram account with the paired owner's exact first name
    // and username (both are free to choose on Telegram).
    t.tg.push_text(666, "ann", "it's me, ann, on my new phone");
    let s = sent(&t, 2).await;
    assert_eq!(s[1]["chat_id"], 666);
    let text = s[1]["text"].as_str().unwrap().replace('\\', "");
    assert!(text.contains("give the owner this code"), "{text}");
    let last = t.tg.push_text(666, "ann", "please answer");
    eventually("the offset to pass the updates", || async {
        t.tg.offsets().iter().any(|o| *o > last).then_some(())
    })
    .await;
    assert_eq!(t.tg.sent().len(), 2, "one canned reply only");
    assert!(t.w.llm.chat_requests().is_empty(), "a model was called");
    // It is a request of its own, under its own id, not the owner's sender.
    let (_, v) = call(
        &t.w.server,
        &t.w.owner,
        Method::GET,
        "/api/v1/channels/pairing",
        None,
    )
    .await;
    assert_eq!(v["requests"][0]["external_id"], "666", "{v}");
    assert_eq!(v["senders"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["senders"][0]["external_id"], "77", "{v}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_paired_user_is_answered_in_escaped_markdown_with_typing() {
    let t = telegram().await;
    pair(&t, 77).await;
    t.w.llm.push(Reply::text([
        "Sure. 1+1=2 (see `x.y()`)!\n",
        "```\nlet a = b - c;\n```",
    ]));
    t.tg.push_text(77, "ann", "what is 1+1?");
    let s = sent(&t, 2).await;
    assert_eq!(s[1]["chat_id"], 77);
    assert_eq!(
        s[1]["text"],
        "Sure\\. 1\\+1\\=2 \\(see `x.y()`\\)\\!\n```\nlet a = b - c;\n```"
    );
    assert!(
        t.tg.actions()
            .iter()
            .any(|a| a["chat_id"] == 77 && a["action"] == "typing")
    );
    assert_eq!(t.w.llm.chat_requests().len(), 1);
    let prompt = t.w.llm.chat_requests()[0].body.to_string();
    assert!(
        prompt.contains("channel:telegram"),
        "the text must arrive as untrusted"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_long_reply_is_split_and_a_rate_limit_waited_out() {
    let t = telegram().await;
    pair(&t, 5).await;
    let long: String = (0..1500)
        .map(|i| format!("word{i}."))
        .collect::<Vec<_>>()
        .join(" ");
    t.w.llm.push(Reply::text([long.clone()]));
    t.tg.rate_limit_next(1);
    t.tg.push_text(5, "ann", "write a lot");
    let s = eventually("the split reply", || async {
        let s = t.tg.sent();
        let joined: String = s[1..]
            .iter()
            .map(|m| m["text"].as_str().unwrap().replace('\\', ""))
            .collect::<Vec<_>>()
            .join("");
        (joined.len() >= long.len()).then_some(s)
    })
    .await;
    assert!(s.len() >= 4, "{} messages", s.len());
    for m in &s {
        assert!(m["text"].as_str().unwrap().encode_utf16().count() <= 4096);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_redelivered_update_is_answered_once() {
    let t = telegram().await;
    pair(&t, 9).await;
    t.w.llm.push(Reply::text(["once"]));
    let id = t.tg.push_text(9, "ann", "hello");
    sent(&t, 2).await;
    // Telegram delivers the same update again (as after a lost confirmation).
    t.tg.push_raw(
        json!({"update_id": id, "message": {"message_id": 99, "date": 1,
        "from": {"id": 9, "is_bot": false, "first_name": "ann"},
        "chat": {"id": 9, "type": "private"}, "text": "hello"}}),
    );
    let marker = t.tg.push_text(9, "ann", "/start NOTACODE");
    eventually("the offset to pass the redelivery", || async {
        t.tg.offsets().iter().any(|o| *o > marker).then_some(())
    })
    .await;
    assert_eq!(
        t.w.llm.chat_requests().len(),
        1,
        "the redelivery ran a second turn"
    );
    assert_eq!(t.tg.sent().len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_poller_is_reported_not_fought() {
    let t = telegram().await;
    t.tg.set_conflict(true);
    let status = eventually("the 409 to be reported", || async {
        let (s, v) = call(
            &t.w.server,
            &t.w.owner,
            Method::GET,
            "/api/v1/channels",
            None,
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        v["telegram"]["last_error"]
            .as_str()
            .filter(|e| e.contains("409"))
            .map(|_| v.clone())
    })
    .await;
    assert!(status["telegram"]["last_poll"].is_i64(), "{status}");
    assert!(status["telegram"]["last_error_at"].is_i64(), "{status}");

    // Once the other poller is gone, the next good poll clears the error
    // (the 409 back-off is 30 s), and when it happened stays.
    t.tg.set_conflict(false);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    let cleared = loop {
        let (_, v) = call(
            &t.w.server,
            &t.w.owner,
            Method::GET,
            "/api/v1/channels",
            None,
        )
        .await;
        if v["telegram"]["last_error"].is_null() {
            break v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the error was never cleared: {v}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    };
    assert!(cleared["telegram"]["last_error_at"].is_i64(), "{cleared}");
}
