//! Helpers for the gate, approval and trust tests: an installation with
//! every role, an agent in a direct conversation, trust levels, approvals,
//! memory rows read past the API, and waiting for a condition.

use std::future::Future;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::agents::{create_agent, direct, set_provider};
use super::chat::call;
use super::fake_llm::FakeLlm;
use super::identity::{add_user, db, pf, tokens};
use super::{Env, Server};

pub const API_KEY: &str = "sk-test-0123456789abcdefghij";
pub const WAIT: Duration = Duration::from_secs(20);

pub struct World {
    pub env: Env,
    pub server: Server,
    pub llm: FakeLlm,
    pub owner: String,
}

/// Sets `[approvals]` keys in config.toml (before the server starts).
pub fn set_approvals_config(env: &Env, lines: &str) {
    let path = env.data.join("config.toml");
    let mut text = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        !text.contains("[approvals]"),
        "config already has [approvals]"
    );
    text.push_str(&format!("\n[approvals]\n{lines}\n"));
    std::fs::write(&path, text).unwrap();
}

/// Owner olga, admin adam, member ann, guest gus; `config` goes under
/// `[approvals]`; an `openai` provider pointed at the fake.
pub async fn world(config: &str) -> World {
    world_with(config, "").await
}

/// Like `world`, with `tools` under `[tools]` in config.toml.
pub async fn world_with(config: &str, tools: &str) -> World {
    world_full(config, tools, |_| {}).await
}

/// Like `world_with`; `prepare` may change the environment (the user the
/// server runs as, its `PATH`) after `init` and before the server starts.
pub async fn world_full(config: &str, tools: &str, prepare: impl FnOnce(&mut Env)) -> World {
    let mut env = Env::new();
    env.init_with_passphrase();
    for (name, role) in [
        ("olga", "owner"),
        ("adam", "admin"),
        ("ann", "member"),
        ("gus", "guest"),
    ] {
        add_user(&env, name, role);
    }
    if !config.is_empty() {
        set_approvals_config(&env, config);
    }
    if !tools.is_empty() {
        let path = env.data.join("config.toml");
        let mut text = std::fs::read_to_string(&path).unwrap_or_default();
        text.push_str(&format!("\n[tools]\n{tools}\n"));
        std::fs::write(&path, text).unwrap();
    }
    prepare(&mut env);
    let server = super::identity::start(&env);
    let llm = FakeLlm::start().await;
    let owner = tokens(&server, "olga").await.0;
    set_provider(
        &server,
        &owner,
        "openai",
        json!({"kind": "openai", "base_url": llm.openai_base(), "api_key": API_KEY}),
    )
    .await;
    World {
        env,
        server,
        llm,
        owner,
    }
}

impl World {
    /// A new agent and the owner's direct conversation with it.
    pub async fn agent(&self, handle: &str) -> (i64, i64) {
        let agent = create_agent(&self.server, &self.owner, handle, "openai/m1", json!({})).await;
        let conv = direct(&self.server, &self.owner, agent).await;
        (agent, conv)
    }

    pub async fn set_level(&self, agent: i64, domain: &str, level: u8) -> Value {
        let (s, v) = call(
            &self.server,
            &self.owner,
            Method::PUT,
            &format!("/api/v1/agents/{agent}/trust/{domain}"),
            Some(json!({"level": level, "reason": "test"})),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "set level: {v}");
        v
    }

    pub async fn level(&self, agent: i64, domain: &str) -> u64 {
        let (s, v) = call(
            &self.server,
            &self.owner,
            Method::GET,
            &format!("/api/v1/agents/{agent}/trust"),
            None,
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        v["levels"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["domain"] == domain)
            .unwrap()["level"]
            .as_u64()
            .unwrap()
    }

    pub async fn approvals(&self, status: &str) -> Vec<Value> {
        let (s, v) = call(
            &self.server,
            &self.owner,
            Method::GET,
            &format!("/api/v1/approvals?status={status}"),
            None,
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        v["approvals"].as_array().unwrap().clone()
    }

    pub async fn approval(&self, id: i64) -> Value {
        let (s, v) = call(
            &self.server,
            &self.owner,
            Method::GET,
            &format!("/api/v1/approvals/{id}"),
            None,
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        v
    }

    /// `POST /api/v1/approvals/{id}/{verb}` as `token`.
    pub async fn decide(&self, token: &str, id: i64, verb: &str) -> (StatusCode, Value) {
        call(
            &self.server,
            token,
            Method::POST,
            &format!("/api/v1/approvals/{id}/{verb}"),
            None,
        )
        .await
    }

    /// Memories of an agent, read past the API.
    pub fn memories(&self, agent: i64) -> Vec<String> {
        let conn = db(&self.env);
        let mut stmt = conn
            .prepare("SELECT text FROM agent_memories WHERE agent_id = ?1 ORDER BY id")
            .unwrap();
        stmt.query_map([agent], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    /// Runs a CLI command with this installation's passphrase.
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        let p = pf(&self.env);
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--passphrase-file", &p]);
        self.env.run(&all, None)
    }
}

/// Polls `f` until it yields `Some`, for up to `WAIT`.
pub async fn eventually<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The content of the last tool message in a recorded chat request.
pub fn last_tool_result(req: &super::fake_llm::Recorded) -> String {
    req.messages()
        .into_iter()
        .rev()
        .find(|m| m["role"] == "tool")
        .map(|m| m["content"].as_str().unwrap_or_default().to_string())
        .unwrap_or_default()
}

/// Agent messages of a conversation (cards included), oldest first.
pub async fn agent_messages(w: &World, conv: i64) -> Vec<Value> {
    let (_, page) = super::chat::get(
        &w.server,
        &w.owner,
        &format!("/api/v1/conversations/{conv}/messages?limit=100"),
    )
    .await;
    page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["author"]["kind"] == "agent")
        .cloned()
        .collect()
}
