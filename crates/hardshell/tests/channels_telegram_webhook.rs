//! Telegram's webhook mode on the real server: at start the webhook is
//! registered with the secret token and the public HTTPS URL (and nothing
//! polls); an update carrying the right `X-Telegram-Bot-Api-Secret-Token`
//! takes the same paired path as a polled one, a missing or wrong token is
//! a bare 401 that stores nothing and reaches no model, and a redelivered
//! update is answered once. Polling mode removes a webhook before polling.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::agents::create_agent;
use common::chat::call;
use common::client;
use common::fake_llm::Reply;
use common::fake_telegram::{FakeTelegram, TOKEN};
use common::gate::{World, eventually, world_full};
use common::identity::{db, pf};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const HOOK_SECRET: &str = "tgwh_0123456789abcdefghijklmnopqrstuvwxyzABCD";
const ORIGIN: &str = "https://hs.example.test";
const PATH: &str = "/api/v1/channels/telegram/webhook";

struct Hooked {
    w: World,
    tg: FakeTelegram,
}

async fn webhook_mode() -> Hooked {
    let tg = FakeTelegram::start().await;
    let base = tg.base();
    let w = world_full("", "", move |env| {
        env.ok(
            &["vault", "set", "tg-token", "--passphrase-file", &pf(env)],
            Some(TOKEN),
        );
        env.ok(
            &["vault", "set", "tg-hook", "--passphrase-file", &pf(env)],
            Some(HOOK_SECRET),
        );
        let path = env.data.join("config.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        let mut text = text.replace(
            "# public_origin = \"https://hardshell.example.com\"",
            &format!("public_origin = \"{ORIGIN}\""),
        );
        assert!(text.contains(ORIGIN), "config layout changed");
        text.push_str(&format!(
            "\n[channels.telegram]\ntoken_secret = \"tg-token\"\nagent = \"helper\"\napi_base = \"{base}\"\npoll_timeout_secs = 1\nmode = \"webhook\"\nwebhook_secret = \"tg-hook\"\n"
        ));
        std::fs::write(&path, text).unwrap();
    })
    .await;
    create_agent(&w.server, &w.owner, "helper", "openai/m1", json!({})).await;
    Hooked { w, tg }
}

/// A private text message from `from`, as Telegram posts it.
fn update(id: i64, from: i64, text: &str) -> Value {
    json!({"update_id": id, "message": {"message_id": id, "date": 1_700_000_000,
        "from": {"id": from, "is_bot": false, "first_name": "Ann", "username": "ann"},
        "chat": {"id": from, "type": "private"}, "text": text}})
}

async fn post(h: &Hooked, secret: Option<&str>, body: &Value) -> (StatusCode, Value) {
    let mut r = client().post(h.w.server.url(PATH)).json(body);
    if let Some(s) = secret {
        r = r.header("X-Telegram-Bot-Api-Secret-Token", s);
    }
    let resp = r.send().await.unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn sent(h: &Hooked, n: usize) -> Vec<Value> {
    eventually("telegram messages", || async {
        let s = h.tg.sent();
        (s.len() >= n).then_some(s)
    })
    .await
}

fn rows(h: &Hooked, sql: &str) -> i64 {
    db(&h.w.env).query_row(sql, [], |r| r.get(0)).unwrap()
}

async fn pair(h: &Hooked, user: i64, update_id: i64) {
    let (s, v) = call(
        &h.w.server,
        &h.w.owner,
        Method::POST,
        "/api/v1/channels/pairing/invites",
        Some(json!({"channel": "telegram"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let before = h.tg.sent().len();
    let start = format!("/start {}", v["code"].as_str().unwrap());
    let (s, v) = post(h, Some(HOOK_SECRET), &update(update_id, user, &start)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let s = sent(h, before + 1).await;
    assert!(s[before]["text"].as_str().unwrap().contains("paired"));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_webhook_is_registered_with_its_secret_and_nothing_polls() {
    let h = webhook_mode().await;
    let calls = eventually("setWebhook", || async {
        let c = h.tg.webhook_calls();
        (!c.is_empty()).then_some(c)
    })
    .await;
    let (method, body) = &calls[0];
    assert_eq!(method, "setWebhook");
    assert_eq!(body["url"], format!("{ORIGIN}{PATH}"));
    assert_eq!(body["secret_token"], HOOK_SECRET);
    assert_eq!(body["allowed_updates"], json!(["message"]));
    // A paired message goes through while nothing polls.
    pair(&h, 31, 500).await;
    h.w.llm.push(Reply::text(["hello from the webhook"]));
    let (s, v) = post(&h, Some(HOOK_SECRET), &update(501, 31, "hi there")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let s = sent(&h, 2).await;
    assert_eq!(s[1]["chat_id"], 31);
    assert_eq!(s[1]["text"], "hello from the webhook");
    assert!(h.tg.offsets().is_empty(), "webhook mode must not poll");
    let prompt = h.w.llm.chat_requests()[0].body.to_string();
    assert!(prompt.contains("hi there") && prompt.contains("channel:telegram"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_or_wrong_secret_is_a_bare_401_and_stores_nothing() {
    let h = webhook_mode().await;
    pair(&h, 40, 600).await;
    let stranger = update(601, 666, "hello, let me in");
    let paired = update(602, 40, "run something for me");
    let wrong = HOOK_SECRET.replace('A', "B");
    for body in [&stranger, &paired] {
        for secret in [
            None,
            Some(wrong.as_str()),
            Some(""),
            Some(&HOOK_SECRET[..20]),
        ] {
            let (s, v) = post(&h, secret, body).await;
            assert_eq!(s, StatusCode::UNAUTHORIZED, "{secret:?}: {v}");
            assert_eq!(v["error"]["message"], "authentication required", "{v}");
        }
    }
    // The bot token itself is not the secret either.
    let (s, _) = post(&h, Some(TOKEN), &paired).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(h.tg.sent().len(), 1, "only the pairing reply");
    assert!(h.w.llm.chat_requests().is_empty());
    assert_eq!(rows(&h, "SELECT count(*) FROM channel_inbound"), 0);
    assert_eq!(rows(&h, "SELECT count(*) FROM pairing_requests"), 0);
    // Not a Telegram update, with the right secret: 400, nothing stored.
    let (s, _) = post(&h, Some(HOOK_SECRET), &json!({"hello": 1})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // An oversized body is refused before it is parsed.
    let big = update(603, 40, &"x".repeat(300 * 1024));
    let (s, _) = post(&h, Some(HOOK_SECRET), &big).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(rows(&h, "SELECT count(*) FROM channel_inbound"), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_update_posted_twice_is_answered_once() {
    let h = webhook_mode().await;
    pair(&h, 50, 700).await;
    h.w.llm.push(Reply::text(["only once"]));
    let u = update(701, 50, "hello");
    let (s, _) = post(&h, Some(HOOK_SECRET), &u).await;
    assert_eq!(s, StatusCode::OK);
    sent(&h, 2).await;
    // Telegram retries (it did not see our 200): same update_id.
    let (s, _) = post(&h, Some(HOOK_SECRET), &u).await;
    assert_eq!(s, StatusCode::OK);
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(h.w.llm.chat_requests().len(), 1, "a second turn ran");
    assert_eq!(h.tg.sent().len(), 2, "answered twice");
    assert_eq!(rows(&h, "SELECT count(*) FROM channel_inbound"), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_group_mention_through_the_webhook_is_answered_in_the_group() {
    let h = webhook_mode().await;
    // setWebhook comes after getMe, so the bot knows its name by then.
    eventually("setWebhook", || async {
        (!h.tg.webhook_calls().is_empty()).then_some(())
    })
    .await;
    pair(&h, 60, 800).await;
    h.w.llm.push(Reply::text(["hi team"]));
    let group = |id: i64, from: i64, text: &str, entities: Value| {
        json!({"update_id": id, "message": {"message_id": id, "date": 1_700_000_000,
            "from": {"id": from, "is_bot": false, "first_name": "Ann"},
            "chat": {"id": -100_777, "type": "group", "title": "Team"},
            "text": text, "entities": entities}})
    };
    let at = json!([{"type": "mention", "offset": 0, "length": 19}]);
    // A stranger in the group, then the paired member.
    let (s, _) = post(
        &h,
        Some(HOOK_SECRET),
        &group(801, 61, "@hardshell_test_bot hello", at.clone()),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = post(
        &h,
        Some(HOOK_SECRET),
        &group(802, 60, "@hardshell_test_bot hello", at),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let s = sent(&h, 2).await;
    assert_eq!(s[1]["chat_id"], -100_777);
    assert_eq!(s[1]["reply_parameters"]["message_id"], 802);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(h.tg.sent().len(), 2, "the stranger was answered");
    assert_eq!(h.w.llm.chat_requests().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn polling_mode_removes_a_webhook_and_refuses_webhook_posts() {
    let tg = FakeTelegram::start().await;
    let base = tg.base();
    let w = world_full("", "", move |env| {
        env.ok(
            &["vault", "set", "tg-token", "--passphrase-file", &pf(env)],
            Some(TOKEN),
        );
        let path = env.data.join("config.toml");
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str(&format!(
            "\n[channels.telegram]\ntoken_secret = \"tg-token\"\nagent = \"helper\"\napi_base = \"{base}\"\npoll_timeout_secs = 1\n"
        ));
        std::fs::write(&path, text).unwrap();
    })
    .await;
    eventually("a poll", || async {
        (!tg.offsets().is_empty()).then_some(())
    })
    .await;
    let calls = tg.webhook_calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0].0, "deleteWebhook");
    assert_eq!(calls[0].1["drop_pending_updates"], false);
    // With no webhook configured, the route knows no secret at all.
    let r = client()
        .post(w.server.url(PATH))
        .header("X-Telegram-Bot-Api-Secret-Token", HOOK_SECRET)
        .json(&update(1, 2, "hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[test]
fn serve_refuses_webhook_mode_without_an_https_origin() {
    let env = common::Env::new();
    env.init_with_passphrase();
    env.ok(
        &["vault", "set", "tg-token", "--passphrase-file", &pf(&env)],
        Some(TOKEN),
    );
    env.ok(
        &["vault", "set", "tg-hook", "--passphrase-file", &pf(&env)],
        Some(HOOK_SECRET),
    );
    let path = env.data.join("config.toml");
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str(
        "\n[channels.telegram]\ntoken_secret = \"tg-token\"\nagent = \"helper\"\nmode = \"webhook\"\nwebhook_secret = \"tg-hook\"\n",
    );
    std::fs::write(&path, &text).unwrap();
    let err = common::Server::start(&env, &["--passphrase-file", &pf(&env)])
        .err()
        .expect("serve started without a public origin");
    assert!(err.contains("public_origin"), "{err}");
    let text = text.replace(
        "# public_origin = \"https://hardshell.example.com\"",
        "public_origin = \"http://hs.example.test\"",
    );
    std::fs::write(&path, &text).unwrap();
    let err = common::Server::start(&env, &["--passphrase-file", &pf(&env)])
        .err()
        .expect("serve started with an http origin");
    assert!(err.contains("https://"), "{err}");
}
