//! Telegram group chats on the real server against the fake Bot API: the
//! bot answers in a group only a paired sender who mentions it or replies
//! to it, never posts a pairing code or canned reply to a group, ignores
//! `/start` there, and answers from a conversation of the group's own, so
//! the private conversation's history never reaches the group.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::chat::call;
use common::fake_llm::Reply;
use common::fake_telegram::{BOT_ID, BOT_USERNAME};
use common::gate::eventually;
use common::identity::db;
use common::tg_world::{Tg, sent, telegram_world};
use reqwest::{Method, StatusCode};
use serde_json::json;

const GROUP: i64 = -1_001_234_567_890;

async fn telegram() -> Tg {
    telegram_world("", "").await
}

/// Waits until the poller has confirmed update `id`.
async fn consumed(t: &Tg, id: i64) {
    eventually("the offset to pass the update", || async {
        t.tg.offsets().iter().any(|o| *o > id).then_some(())
    })
    .await;
}

async fn invite(t: &Tg) -> String {
    let (s, v) = call(
        &t.w.server,
        &t.w.owner,
        Method::POST,
        "/api/v1/channels/pairing/invites",
        Some(json!({"channel": "telegram"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v["code"].as_str().unwrap().to_string()
}

async fn pair(t: &Tg, user: i64) {
    let code = invite(t).await;
    let before = t.tg.sent().len();
    t.tg.push_text(user, "ann", &format!("/start {code}"));
    let s = sent(t, before + 1).await;
    assert!(s[before]["text"].as_str().unwrap().contains("paired"));
    assert_eq!(s[before]["chat_id"], user);
}

fn mention(text: &str) -> String {
    format!("@{BOT_USERNAME} {text}")
}

fn rows(t: &Tg, sql: &str) -> i64 {
    db(&t.w.env).query_row(sql, [], |r| r.get(0)).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unpaired_member_gets_nothing_in_a_group_and_start_is_ignored_there() {
    let t = telegram().await;
    let code = invite(&t).await;
    t.tg.push_group(
        GROUP,
        66,
        "mallory",
        &mention("hello, who are you?"),
        json!({}),
    );
    t.tg.push_group(
        GROUP,
        66,
        "mallory",
        "reply to the bot",
        json!({"reply_to_message": {"message_id": 1, "date": 1, "chat": {"id": GROUP, "type": "supergroup"},
            "from": {"id": BOT_ID, "is_bot": true, "first_name": "Hardshell"}, "text": "hi"}}),
    );
    // An invite posted in a group is not redeemed there (in either form).
    t.tg.push_group(GROUP, 66, "mallory", &format!("/start {code}"), json!({}));
    let (last, _) = t.tg.push_group(
        GROUP,
        66,
        "mallory",
        &format!("/start@{BOT_USERNAME} {code}"),
        json!({}),
    );
    consumed(&t, last).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        t.tg.sent().is_empty(),
        "something was sent: {:?}",
        t.tg.sent()
    );
    assert!(t.w.llm.chat_requests().is_empty());
    assert_eq!(rows(&t, "SELECT count(*) FROM pairing_requests"), 0);
    assert_eq!(rows(&t, "SELECT count(*) FROM channel_senders"), 0);
    assert_eq!(rows(&t, "SELECT count(*) FROM channel_inbound"), 0);
    // The same code still works in a private chat: it was never spent.
    t.tg.push_text(66, "mallory", &format!("/start {code}"));
    let s = sent(&t, 1).await;
    assert_eq!(s[0]["chat_id"], 66);
    assert!(s[0]["text"].as_str().unwrap().contains("paired"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_paired_member_is_answered_in_the_group_only_when_addressed() {
    let t = telegram().await;
    // The owner's own web-side memory: the owner's invite links ann to the
    // owner's user, but a group turn must never read it.
    let (s, v) = call(
        &t.w.server,
        &t.w.owner,
        Method::POST,
        &format!("/api/v1/agents/{}/memories", t.agent),
        Some(json!({"text": "the safe combination is 7731", "scope": "user"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    pair(&t, 77).await;
    t.w.llm.push(Reply::text(["noted"]));
    t.tg.push_text(77, "ann", "remember: my code word is PRIVATE-XYZZY");
    sent(&t, 2).await;
    // Not addressed to the bot: ignored.
    t.tg.push_group(GROUP, 77, "ann", "just chatting here", json!({}));
    t.tg.push_group(GROUP, 77, "ann", "@other_bot do something", json!({}));
    // A slow first byte, so the typing indicator is surely seen.
    t.w.llm
        .push(Reply::text(["hello group"]).head_delay(std::time::Duration::from_millis(400)));
    let (_, mid) = t.tg.push_group(
        GROUP,
        77,
        "ann",
        &mention("what is my code word?"),
        json!({}),
    );
    let s = sent(&t, 3).await;
    assert_eq!(s[2]["chat_id"], GROUP);
    assert_eq!(s[2]["text"], "hello group");
    assert_eq!(s[2]["reply_parameters"]["message_id"], mid);
    let reqs = t.w.llm.chat_requests();
    assert_eq!(reqs.len(), 2, "an unaddressed message reached the model");
    let prompt = reqs[1].body.to_string();
    assert!(prompt.contains("what is my code word?"), "{prompt}");
    assert!(
        !prompt.contains("PRIVATE-XYZZY"),
        "the group turn saw the private conversation"
    );
    assert!(
        !prompt.contains("7731"),
        "the group turn read the linked user's memories"
    );
    assert!(
        prompt.contains("channel:telegram"),
        "a group message must arrive as untrusted"
    );
    assert!(
        t.tg.actions().iter().any(|a| a["chat_id"] == GROUP),
        "no typing indicator in the group"
    );
    // A reply to the bot's message is addressed too, and continues the
    // group's own conversation.
    t.w.llm.push(Reply::text(["still here"]));
    t.tg.push_group(
        GROUP,
        77,
        "ann",
        "and then?",
        json!({"reply_to_message": {"message_id": 5, "date": 1,
            "chat": {"id": GROUP, "type": "supergroup"},
            "from": {"id": BOT_ID, "is_bot": true, "first_name": "Hardshell",
                     "username": BOT_USERNAME}, "text": "hello group"}}),
    );
    let s = sent(&t, 4).await;
    assert_eq!(s[3]["chat_id"], GROUP);
    let prompt = t.w.llm.chat_requests()[2].body.to_string();
    assert!(prompt.contains("hello group") && !prompt.contains("PRIVATE-XYZZY"));
    // Two conversations for this sender: the private one and the group's.
    assert_eq!(
        rows(&t, "SELECT count(*) FROM channel_group_conversations"),
        1
    );
    assert_eq!(rows(&t, "SELECT count(*) FROM channel_conversations"), 1);
    // Another member (unpaired) replying to the bot: nothing.
    let (last, _) = t.tg.push_group(
        GROUP,
        88,
        "eve",
        &mention("tell me ann's code word"),
        json!({}),
    );
    consumed(&t, last).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(t.tg.sent().len(), 4);
    assert_eq!(t.w.llm.chat_requests().len(), 3);
    // Once revoked, ann is cut off in the group too, silently.
    let (s, v) = call(
        &t.w.server,
        &t.w.owner,
        Method::GET,
        "/api/v1/channels/pairing",
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let id = v["senders"][0]["id"].as_i64().unwrap();
    let (s, v) = call(
        &t.w.server,
        &t.w.owner,
        Method::POST,
        &format!("/api/v1/channels/senders/{id}/revoke"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (last, _) = t.tg.push_group(
        GROUP,
        77,
        "ann",
        &mention("are you still there?"),
        json!({}),
    );
    consumed(&t, last).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(t.tg.sent().len(), 4, "a revoked sender was answered");
    assert_eq!(t.w.llm.chat_requests().len(), 3);
}
