//! A signed-webhook channel on the real server, for the channel tests:
//! webhook channel `crm` answered by agent `helper`, replies going to a
//! loopback site, and requests signed here independently of the server's
//! code.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use super::agents::create_agent;
use super::chat::call;
use super::gate::{World, eventually, world_full};
use super::identity::pf;
use super::sites::{Page, Site};
use hmac::{Hmac, KeyInit, Mac};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::Sha256;

pub const SECRET: &str = "whsec-0123456789abcdefghijklmnopqrstuvwxyz";
pub const INBOUND: &str = "/api/v1/channels/crm/inbound";

pub struct Hooked {
    pub w: World,
    pub site: Site,
    pub agent: i64,
}

/// An installation with webhook channel `crm` answered by agent `helper`,
/// replies going to a loopback site. `extra` goes under the channel.
pub async fn hooked_with(extra: &str) -> Hooked {
    hooked_cfg(extra, "").await
}

/// Like `hooked_with`; `general` goes under `[channels]`.
pub async fn hooked_cfg(extra: &str, general: &str) -> Hooked {
    let site = Site::start().await;
    site.page("/hook", Page::Body("application/json", "{}".into()));
    let callback = format!("http://127.0.0.1:{}/hook", site.port());
    let extra = extra.to_string();
    let general = general.to_string();
    let w = world_full("", "", move |env| {
        env.ok(
            &["vault", "set", "crm-secret", "--passphrase-file", &pf(env)],
            Some(SECRET),
        );
        let path = env.data.join("config.toml");
        let mut text = std::fs::read_to_string(&path).unwrap_or_default();
        text.push_str(&format!(
            "\n[channels]\n{general}\n[channels.webhooks.crm]\nsecret = \"crm-secret\"\nagent = \"helper\"\ncallback_url = \"{callback}\"\n{extra}\n"
        ));
        std::fs::write(&path, text).unwrap();
    })
    .await;
    let agent = create_agent(&w.server, &w.owner, "helper", "openai/m1", json!({})).await;
    Hooked { w, site, agent }
}

pub async fn hooked() -> Hooked {
    hooked_with("").await
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The signature, computed here independently of the server's code.
pub fn signature(secret: &str, ts: &str, body: &[u8]) -> String {
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap();
    m.update(ts.as_bytes());
    m.update(b".");
    m.update(body);
    format!("sha256={}", hex::encode(m.finalize().into_bytes()))
}

pub async fn raw(
    h: &Hooked,
    path: &str,
    ts: Option<String>,
    sig: Option<String>,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    let mut req = super::client()
        .post(h.w.server.url(path))
        .header("content-type", "application/json")
        .body(body);
    if let Some(ts) = ts {
        req = req.header("x-hardshell-timestamp", ts);
    }
    if let Some(sig) = sig {
        req = req.header("x-hardshell-signature", sig);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// Posts a correctly signed message from `sender`.
pub async fn say(
    h: &Hooked,
    id: &str,
    sender: &str,
    name: &str,
    text: &str,
) -> (StatusCode, Value) {
    say_at(h, now(), id, sender, name, text).await
}

/// Like `say`, signed at `ts` (a redelivery is signed afresh).
pub async fn say_at(
    h: &Hooked,
    ts: i64,
    id: &str,
    sender: &str,
    name: &str,
    text: &str,
) -> (StatusCode, Value) {
    let body = json!({"id": id, "sender": sender, "name": name, "text": text}).to_string();
    let ts = ts.to_string();
    let sig = signature(SECRET, &ts, body.as_bytes());
    raw(h, INBOUND, Some(ts), Some(sig), body.into_bytes()).await
}

/// Callback deliveries so far: (to, text, reply_to).
pub fn delivered(h: &Hooked) -> Vec<(String, String, Value)> {
    h.site
        .seen()
        .into_iter()
        .map(|s| {
            // Every delivery is signed with the channel's secret.
            let ts = s.headers["x-hardshell-timestamp"].clone();
            assert_eq!(
                s.headers["x-hardshell-signature"],
                signature(SECRET, &ts, s.body.as_bytes()),
                "a reply went out unsigned or badly signed"
            );
            let v: Value = serde_json::from_str(&s.body).unwrap();
            (
                v["to"].as_str().unwrap().to_string(),
                v["text"].as_str().unwrap().to_string(),
                v["reply_to"].clone(),
            )
        })
        .collect()
}

/// The `XXXX-XXXX` code in a canned reply.
pub fn code_in(text: &str) -> String {
    text.split_whitespace()
        .find(|w| w.len() == 9 && w.as_bytes()[4] == b'-')
        .unwrap_or_else(|| panic!("no code in {text:?}"))
        .to_string()
}

pub async fn pairing(h: &Hooked) -> Value {
    let (s, v) = call(
        &h.w.server,
        &h.w.owner,
        Method::GET,
        "/api/v1/channels/pairing",
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v
}

pub async fn invite(h: &Hooked) -> String {
    let (s, v) = call(
        &h.w.server,
        &h.w.owner,
        Method::POST,
        "/api/v1/channels/pairing/invites",
        Some(json!({"channel": "webhook:crm"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v["code"].as_str().unwrap().to_string()
}

pub async fn decide(h: &Hooked, token: &str, verb: &str, code: &str) -> (StatusCode, Value) {
    call(
        &h.w.server,
        token,
        Method::POST,
        &format!("/api/v1/channels/pairing/{verb}"),
        Some(json!({"code": code})),
    )
    .await
}

/// Waits for `n` callback deliveries.
pub async fn deliveries(h: &Hooked, n: usize) -> Vec<(String, String, Value)> {
    eventually("callback deliveries", || async {
        let d = delivered(h);
        (d.len() >= n).then_some(d)
    })
    .await
}
