//! The owner's live notice of a new pairing request (issue 19): a
//! stranger's first message on a signed-webhook channel opens a request,
//! and the owner's WebSocket gets `pairing.requested` with the pending
//! count and the request (its display name as sent, never a code); a
//! decision sends `pairing.pending` with the new count, and so does a
//! decision by the CLI (another process) and a request expiring. An
//! admin, a member, a guest and the owner's own agent key get neither:
//! each of them reads on until a later message in a shared conversation,
//! which the hub delivers after the notice, so "not received" needs no
//! timing. The Channels status lists each webhook's agent and callback
//! host, never a secret.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::chat::{get, group, post};
use common::gate::{World, world_full};
use common::identity::{agent_key, audit_rows, pf, tokens};
use common::sites::{Page, Site};
use common::ws::{Cred, Ws, connect, next_json};
use hmac::{Hmac, KeyInit, Mac};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Sha256;

const SECRET: &str = "whsec-0123456789abcdefghijklmnopqrstuvwxyz";
const WAIT: Duration = Duration::from_secs(20);
const HOSTILE: &str = "<img src=x onerror=alert(1)>Olga";

/// Webhook `crm` answered by `helper`; replies (the canned one with the
/// request code) go to a loopback site.
async fn hooked() -> (World, Site) {
    let site = Site::start().await;
    site.page("/hook", Page::Body("application/json", "{}".into()));
    let callback = format!("http://127.0.0.1:{}/hook", site.port());
    let w = world_full("", "", move |env| {
        env.ok(
            &["vault", "set", "crm-secret", "--passphrase-file", &pf(env)],
            Some(SECRET),
        );
        let path = env.data.join("config.toml");
        let mut text = std::fs::read_to_string(&path).unwrap_or_default();
        text.push_str(&format!(
            "\n[channels.webhooks.crm]\nsecret = \"crm-secret\"\nagent = \"helper\"\n\
             callback_url = \"{callback}\"\n"
        ));
        std::fs::write(&path, text).unwrap();
    })
    .await;
    (w, site)
}

/// The request code the site received for `sender` (the canned reply).
async fn code_for(site: &Site, sender: &str) -> String {
    for _ in 0..200 {
        for seen in site.seen() {
            let v: Value = serde_json::from_str(&seen.body).unwrap_or(Value::Null);
            if v["to"] == sender
                && let Some(code) = v["text"].as_str().and_then(|t| t.rsplit(' ').next())
            {
                return code.to_string();
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no reply reached {sender}");
}

fn now() -> String {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string()
}

/// Posts a correctly signed message (signed here, independently).
async fn say(w: &World, id: &str, sender: &str, name: &str, text: &str) -> StatusCode {
    let body = json!({"id": id, "sender": sender, "name": name, "text": text}).to_string();
    let ts = now();
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(SECRET.as_bytes()).unwrap();
    m.update(ts.as_bytes());
    m.update(b".");
    m.update(body.as_bytes());
    let sig = format!("sha256={}", hex::encode(m.finalize().into_bytes()));
    common::client()
        .post(w.server.url("/api/v1/channels/crm/inbound"))
        .header("content-type", "application/json")
        .header("x-hardshell-timestamp", ts)
        .header("x-hardshell-signature", sig)
        .body(body)
        .send()
        .await
        .unwrap()
        .status()
}

/// Frames up to and including the `message.created` carrying `marker`.
async fn until_marker(ws: &mut Ws, marker: &str) -> Vec<Value> {
    let mut seen = Vec::new();
    loop {
        let f = next_json(ws, WAIT)
            .await
            .unwrap_or_else(|| panic!("no marker {marker:?}; saw {seen:?}"));
        let done = f["type"] == "message.created" && f["data"]["text"] == marker;
        seen.push(f);
        if done {
            return seen;
        }
    }
}

/// The next frame of type `kind` (other frames are skipped).
async fn next_of_type(ws: &mut Ws, kind: &str) -> Value {
    loop {
        let f = next_json(ws, WAIT)
            .await
            .unwrap_or_else(|| panic!("no {kind} frame"));
        if f["type"] == kind {
            return f;
        }
    }
}

fn is_pairing(f: &Value) -> bool {
    f["type"]
        .as_str()
        .is_some_and(|t| t.starts_with("pairing."))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_pairing_request_reaches_the_owner_live_and_nobody_else() {
    let (w, site) = hooked().await;
    let s = &w.server;
    let adam = tokens(s, "adam").await.0;
    let ann = tokens(s, "ann").await.0;
    let gus = tokens(s, "gus").await.0;
    let lobby = group(s, &w.owner, "Lobby", &["adam", "ann", "gus"]).await["id"]
        .as_i64()
        .unwrap();
    // The owner's own key reads the owner's conversations, but is no human.
    let (_, key) = agent_key(
        s,
        &w.owner,
        json!({"name": "reader", "permissions": ["messages:read"]}),
    )
    .await;

    let (mut owner_ws, _) = connect(s, Cred::Bearer(&w.owner), "").await;
    let mut others = Vec::new();
    for (who, cred) in [
        ("admin", adam.as_str()),
        ("member", ann.as_str()),
        ("guest", gus.as_str()),
        ("owner's agent key", key.as_str()),
    ] {
        others.push((who, connect(s, Cred::Bearer(cred), "").await.0));
    }

    assert_eq!(
        say(&w, "m1", "tg-555", HOSTILE, "hello?").await,
        StatusCode::ACCEPTED
    );
    let notice = next_of_type(&mut owner_ws, "pairing.requested").await;
    assert_eq!(notice["conversation_id"], 0, "{notice}");
    assert_eq!(notice["data"]["pending"], 1, "{notice}");
    let req = &notice["data"]["request"];
    assert_eq!(req["channel"], "webhook:crm");
    assert_eq!(req["external_id"], "tg-555");
    assert_eq!(req["display"], HOSTILE, "the name is carried as sent");
    assert_eq!(req["status"], "pending");
    assert!(
        !notice.to_string().to_lowercase().contains("code"),
        "a notice never carries a pairing code: {notice}"
    );

    // Published after the notice: everyone in the Lobby gets it.
    post(s, &w.owner, lobby, "marker-1").await;
    for (who, ws) in &mut others {
        let frames = until_marker(ws, "marker-1").await;
        assert!(
            !frames.iter().any(is_pairing),
            "the {who} received a pairing notice: {frames:?}"
        );
    }
    let frames = until_marker(&mut owner_ws, "marker-1").await;
    assert!(!frames.iter().any(is_pairing), "{frames:?}");

    // The same stranger again opens nothing; a second stranger does, and
    // the notice carries the new count and the newest request.
    assert_eq!(
        say(&w, "m2", "tg-555", HOSTILE, "hello again").await,
        StatusCode::ACCEPTED
    );
    assert_eq!(
        say(&w, "m3", "tg-777", "Bob", "hi").await,
        StatusCode::ACCEPTED
    );
    let notice = next_of_type(&mut owner_ws, "pairing.requested").await;
    assert_eq!(notice["data"]["pending"], 2, "{notice}");
    assert_eq!(notice["data"]["request"]["external_id"], "tg-777");

    // The owner denies the first: the count goes down, live.
    let code = code_for(&site, "tg-555").await;
    let (status, v) = common::chat::call(
        s,
        &w.owner,
        reqwest::Method::POST,
        "/api/v1/channels/pairing/deny",
        Some(json!({ "code": code })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let notice = next_of_type(&mut owner_ws, "pairing.pending").await;
    assert_eq!(notice["data"]["pending"], 1, "{notice}");
    assert!(notice["data"]["request"].is_null(), "{notice}");
    post(s, &w.owner, lobby, "marker-2").await;
    for (who, ws) in &mut others {
        let frames = until_marker(ws, "marker-2").await;
        assert!(
            !frames.iter().any(is_pairing),
            "the {who} received a pairing notice: {frames:?}"
        );
    }

    // The audit entry is there too.
    let requests = audit_rows(&w.env)
        .into_iter()
        .filter(|r| r.0 == "pairing.request")
        .count();
    assert_eq!(requests, 2, "{:?}", audit_rows(&w.env));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channels_status_shows_each_webhook_agent_and_callback_host_never_a_secret() {
    let (w, _site) = hooked().await;
    let (status, v) = get(&w.server, &w.owner, "/api/v1/channels").await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["webhooks"], json!(["webhook:crm"]));
    let hook = &v["hooks"][0];
    assert_eq!(hook["channel"], "webhook:crm");
    assert_eq!(hook["agent"], "helper");
    assert_eq!(hook["secret_entry"], "crm-secret");
    assert_eq!(hook["callback_host"], "127.0.0.1");
    assert!(
        v["telegram"].is_null() && v["telegram_setup"].is_null(),
        "{v}"
    );
    assert!(!v.to_string().contains(SECRET), "the secret never leaves");
    // Owner only.
    let adam = tokens(&w.server, "adam").await.0;
    let (status, _) = get(&w.server, &adam, "/api/v1/channels").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_badge_follows_a_cli_decision_and_an_expiry_live() {
    let (w, site) = hooked().await;
    let (mut owner_ws, _) = connect(&w.server, Cred::Bearer(&w.owner), "").await;
    for (id, sender) in [("m1", "tg-1"), ("m2", "tg-2")] {
        assert_eq!(
            say(&w, id, sender, "Stranger", "hi").await,
            StatusCode::ACCEPTED
        );
    }
    let mut n = 0;
    while n < 2 {
        n = next_of_type(&mut owner_ws, "pairing.requested").await["data"]["pending"]
            .as_u64()
            .unwrap();
    }
    // Denied by the CLI, in another process: the server hears of it only
    // through the store, and the owner's badge still goes down.
    let code = code_for(&site, "tg-1").await;
    let out = w.cli(&["pairing", "deny", &code]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let notice = next_of_type(&mut owner_ws, "pairing.pending").await;
    assert_eq!(notice["data"]["pending"], 1, "{notice}");
    // The other request runs out (its expiry moved to the past, as an
    // hour passing would): the badge goes to zero with no decision.
    let conn = common::identity::db(&w.env);
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    let changed = conn
        .execute(
            "UPDATE pairing_requests SET expires_at = CAST(strftime('%s', 'now') AS INTEGER) - 1
             WHERE external_id = 'tg-2' AND status = 'pending'",
            [],
        )
        .unwrap();
    assert_eq!(changed, 1);
    let notice = next_of_type(&mut owner_ws, "pairing.pending").await;
    assert_eq!(notice["data"]["pending"], 0, "{notice}");
    let (status, v) = get(&w.server, &w.owner, "/api/v1/channels/pairing").await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["requests"], json!([]), "{v}");
}
