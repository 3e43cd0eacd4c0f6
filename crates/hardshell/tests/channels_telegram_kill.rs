//! `kill -9` of the real `hardshell serve` while it long-polls the fake
//! Bot API: an update fetched and stored, its turn still running, and its
//! confirmation (the next `getUpdates`) never reaching Telegram; another
//! update arriving while the server is down. After a restart on the same
//! data directory every message is answered exactly once, none is lost,
//! and the restarted poller asks for the unconfirmed update again (and
//! treats it as a duplicate) before moving past the last one.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;

use common::chat::call;
use common::fake_llm::Reply;
use common::gate::eventually;
use common::identity::db;
use common::tg_world::{Tg, telegram_world};
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_during_long_polling_loses_nothing_and_answers_once() {
    let Tg { mut w, tg, .. } = telegram_world("", "").await;
    // Pair user 7 in a private chat.
    let (s, v) = call(
        &w.server,
        &w.owner,
        Method::POST,
        "/api/v1/channels/pairing/invites",
        Some(json!({"channel": "telegram"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let start = tg.push_text(7, "ann", &format!("/start {}", v["code"].as_str().unwrap()));
    eventually("the pairing reply", || async {
        (tg.sent().len() == 1).then_some(())
    })
    .await;
    eventually("the /start update to be confirmed", || async {
        tg.offsets().iter().any(|o| *o > start).then_some(())
    })
    .await;

    // The first question is fetched and stored; its turn hangs at the
    // provider; the poller's next call (which would confirm it) is held.
    w.llm.push(Reply::hang());
    tg.hold_confirmations(true);
    let u1 = tg.push_text(7, "ann", "first question");
    eventually(
        "the turn to run and the confirmation to be held",
        || async { (w.llm.chat_requests().len() == 1 && tg.held() >= 1).then_some(()) },
    )
    .await;
    w.server.child.kill().unwrap();
    w.server.child.wait().unwrap();

    // While the server is down, another message arrives.
    let u2 = tg.push_text(7, "ann", "second question");
    tg.hold_confirmations(false);
    let before_restart = tg.offsets().len();
    w.llm.push(Reply::text(["answer A"]));
    w.llm.push(Reply::text(["answer B"]));
    w.server = common::identity::start(&w.env);

    eventually("both answers", || async {
        (tg.sent().len() >= 3).then_some(())
    })
    .await;
    eventually(
        "the restarted poller to confirm the last update",
        || async {
            tg.offsets()[before_restart..]
                .iter()
                .any(|o| *o > u2)
                .then_some(())
        },
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;

    // The restarted poller asked for the unconfirmed update first.
    let after = tg.offsets()[before_restart..].to_vec();
    assert!(
        after[0] <= u1,
        "restart skipped update {u1}: offsets {after:?}"
    );
    assert!(after.contains(&(u2 + 1)), "{after:?}");
    assert!(after.iter().all(|o| *o <= u2 + 1), "{after:?}");

    // Exactly one answer per message, none lost.
    let sent = tg.sent();
    assert_eq!(sent.len(), 3, "{sent:?}");
    let mut texts: Vec<&str> = sent[1..]
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    texts.sort_unstable();
    assert_eq!(texts, ["answer A", "answer B"]);
    assert!(sent.iter().all(|m| m["chat_id"] == 7));
    assert_eq!(w.llm.chat_requests().len(), 3, "1 killed turn + 2 answers");
    let conn = db(&w.env);
    let mut stmt = conn
        .prepare("SELECT message_key, state, reply FROM channel_inbound ORDER BY id")
        .unwrap();
    let rows: BTreeMap<String, (String, Option<String>)> = stmt
        .query_map([], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?))))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    for id in [u1, u2] {
        let (state, reply) = &rows[&id.to_string()];
        assert_eq!(state, "done", "update {id}");
        assert!(reply.as_deref().is_some_and(|r| r.starts_with("answer")));
    }
    // The user's two questions, each posted once, each answered once.
    let agent_replies: i64 = conn
        .query_row(
            "SELECT count(*) FROM messages m JOIN channel_conversations c
               ON c.conversation_id = m.conversation_id WHERE m.author_kind = 'agent'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(agent_replies, 2);
}
