//! A Telegram bot on the real server, for the Telegram channel tests: the
//! fake Bot API, the bot token in the vault, `[channels.telegram]` polling
//! it every second, and agent `helper` answering.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};

use super::agents::create_agent;
use super::fake_telegram::{FakeTelegram, TOKEN};
use super::gate::{World, eventually, world_full};
use super::identity::pf;

pub struct Tg {
    pub w: World,
    pub tg: FakeTelegram,
    pub agent: i64,
}

/// `approvals` goes under `[approvals]`, `extra` under `[channels.telegram]`.
pub async fn telegram_world(approvals: &str, extra: &str) -> Tg {
    let tg = FakeTelegram::start().await;
    let base = tg.base();
    let extra = extra.to_string();
    let w = world_full(approvals, "", move |env| {
        env.ok(
            &["vault", "set", "tg-token", "--passphrase-file", &pf(env)],
            Some(TOKEN),
        );
        let path = env.data.join("config.toml");
        let mut text = std::fs::read_to_string(&path).unwrap_or_default();
        text.push_str(&format!(
            "\n[channels.telegram]\ntoken_secret = \"tg-token\"\nagent = \"helper\"\napi_base = \"{base}\"\npoll_timeout_secs = 1\n{extra}\n"
        ));
        std::fs::write(&path, text).unwrap();
    })
    .await;
    let agent = create_agent(&w.server, &w.owner, "helper", "openai/m1", json!({})).await;
    Tg { w, tg, agent }
}

/// Waits until the bot has sent `n` messages; returns them all.
pub async fn sent(t: &Tg, n: usize) -> Vec<Value> {
    eventually("telegram messages", || async {
        let s = t.tg.sent();
        (s.len() >= n).then_some(s)
    })
    .await
}
