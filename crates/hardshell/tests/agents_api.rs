//! Agents and providers over the real API: the seeded assistant, CRUD and
//! its refusals, SOUL.md in the workspace, who may manage what, and
//! provider keys that go into the vault and never come back out.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::agents::{create_agent, offline_provider, set_provider};
use common::chat::{call, get};
use common::fake_llm::FakeLlm;
use common::identity::{self, audit_rows, installation, pf, tokens};
use common::mode;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const KEY: &str = "sk-live-provider-key-0123456789";

fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_first_run_seeds_one_assistant_with_safety_rules_once() {
    let (env, server) = installation(&[("olga", "owner"), ("gus", "guest")]);
    let guest = tokens(&server, "gus").await.0;
    let (s, v) = get(&server, &guest, "/api/v1/agents").await;
    assert_eq!(s, StatusCode::OK);
    let agents = v["agents"].as_array().unwrap();
    assert_eq!(agents.len(), 1, "{v}");
    assert_eq!(agents[0]["handle"], "assistant");
    let id = agents[0]["id"].as_i64().unwrap();
    // A guest sees the agent's name, never its SOUL.md or knowledge.
    for path in [
        format!("/api/v1/agents/{id}/soul"),
        format!("/api/v1/agents/{id}/knowledge"),
    ] {
        let (s, _) = get(&server, &guest, &path).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{path}");
    }
    let owner = tokens(&server, "olga").await.0;
    let (_, soul) = get(&server, &owner, &format!("/api/v1/agents/{id}/soul")).await;
    let soul = soul["soul"].as_str().unwrap();
    assert!(
        soul.contains("Safety rules") && soul.contains("UNTRUSTED"),
        "{soul}"
    );
    let file = env.data.join(format!("agents/{id}/SOUL.md"));
    assert_eq!(mode(&file) & 0o777, 0o600);
    // Deleted by the owner, it does not come back at the next start.
    let (s, _) = call(
        &server,
        &owner,
        Method::DELETE,
        &format!("/api/v1/agents/{id}"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert!(!file.exists());
    drop(server);
    let server = identity::start(&env);
    let owner = tokens(&server, "olga").await.0;
    let (_, v) = get(&server, &owner, "/api/v1/agents").await;
    assert_eq!(v["agents"].as_array().unwrap().len(), 0, "{v}");
}

#[tokio::test(flavor = "multi_thread")]
async fn agents_are_validated_and_only_admins_manage_them() {
    let (env, server) = installation(&[("olga", "owner"), ("adam", "admin"), ("ann", "member")]);
    let admin = tokens(&server, "adam").await.0;
    let member = tokens(&server, "ann").await.0;
    offline_provider(&server, &tokens(&server, "olga").await.0).await;
    let id = create_agent(
        &server,
        &admin,
        "helper",
        "openai/gpt-4o-mini",
        json!({"soul": "Be brief."}),
    )
    .await;
    let bad = [
        (
            json!({"handle": "helper", "name": "x", "model": "openai/m"}),
            StatusCode::CONFLICT,
            "handle_taken",
        ),
        (
            json!({"handle": "ann", "name": "x", "model": "openai/m"}),
            StatusCode::CONFLICT,
            "handle_taken",
        ),
        (
            json!({"handle": "all", "name": "x", "model": "openai/m"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_handle",
        ),
        (
            json!({"handle": "../x", "name": "x", "model": "openai/m"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_handle",
        ),
        (
            json!({"handle": "h2", "name": "x", "model": "gpt-4o"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_model",
        ),
        (
            json!({"handle": "h2", "name": "x", "model": "openai/m", "tools": ["format_disk"]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_tool",
        ),
        (
            json!({"handle": "h2", "name": "x", "model": "openai/m", "budgets": {"tokens_per_turn": 0, "tokens_per_conversation_day": 5, "daily_spend_usd": null}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_budgets",
        ),
        (
            json!({"handle": "h2", "name": "", "model": "openai/m"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_name",
        ),
    ];
    for (body, status, want) in bad {
        let (s, v) = call(
            &server,
            &admin,
            Method::POST,
            "/api/v1/agents",
            Some(body.clone()),
        )
        .await;
        assert_eq!((s, code(&v)), (status, want), "{body}");
    }
    // Members read but never write.
    let (s, _) = get(&server, &member, &format!("/api/v1/agents/{id}")).await;
    assert_eq!(s, StatusCode::OK);
    for (method, path, body) in [
        (
            Method::POST,
            "/api/v1/agents".to_string(),
            Some(json!({"handle": "m", "name": "m", "model": "openai/m"})),
        ),
        (
            Method::PATCH,
            format!("/api/v1/agents/{id}"),
            Some(json!({"name": "pwned"})),
        ),
        (Method::DELETE, format!("/api/v1/agents/{id}"), None),
        (
            Method::PUT,
            format!("/api/v1/agents/{id}/soul"),
            Some(json!({"soul": "obey ann"})),
        ),
    ] {
        let (s, _) = call(&server, &member, method.clone(), &path, body).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{method} {path}");
    }
    // PATCH changes only what it names; a bad value changes nothing.
    let (s, v) = call(
        &server,
        &admin,
        Method::PATCH,
        &format!("/api/v1/agents/{id}"),
        Some(json!({"name": "Helper 2", "memory": false})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (
            v["name"].as_str(),
            v["memory"].as_bool(),
            v["model"].as_str()
        ),
        (Some("Helper 2"), Some(false), Some("openai/gpt-4o-mini"))
    );
    let (s, _) = call(
        &server,
        &admin,
        Method::PATCH,
        &format!("/api/v1/agents/{id}"),
        Some(json!({"name": "ok", "model": "bad"})),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (_, v) = get(&server, &admin, &format!("/api/v1/agents/{id}")).await;
    assert_eq!(v["name"], "Helper 2");
    // Budgets patch field by field; null removes the spend cap.
    let agent_path = format!("/api/v1/agents/{id}");
    let (s, v) = call(
        &server,
        &admin,
        Method::PATCH,
        &agent_path,
        Some(json!({"budgets": {"daily_spend_usd": 2.5}})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        v["budgets"],
        json!({"tokens_per_turn": 20000, "tokens_per_conversation_day": 200000, "daily_spend_usd": 2.5})
    );
    let (_, v) = call(
        &server,
        &admin,
        Method::PATCH,
        &agent_path,
        Some(json!({"budgets": {"tokens_per_turn": 900}})),
    )
    .await;
    assert_eq!(
        (
            v["budgets"]["tokens_per_turn"].as_i64(),
            v["budgets"]["daily_spend_usd"].as_f64()
        ),
        (Some(900), Some(2.5))
    );
    let (_, v) = call(
        &server,
        &admin,
        Method::PATCH,
        &agent_path,
        Some(json!({"budgets": {"daily_spend_usd": null}})),
    )
    .await;
    assert!(v["budgets"]["daily_spend_usd"].is_null(), "{v}");
    // SOUL.md round trip, with a size cap.
    let path = format!("/api/v1/agents/{id}/soul");
    let (_, v) = get(&server, &admin, &path).await;
    assert_eq!(v["soul"], "Be brief.");
    let (s, _) = call(
        &server,
        &admin,
        Method::PUT,
        &path,
        Some(json!({"soul": "# New\nBe kind."})),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        std::fs::read_to_string(env.data.join(format!("agents/{id}/SOUL.md"))).unwrap(),
        "# New\nBe kind."
    );
    let (s, v) = call(
        &server,
        &admin,
        Method::PUT,
        &path,
        Some(json!({"soul": "x".repeat(40 * 1024)})),
    )
    .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_soul")
    );
    let (s, _) = get(&server, &admin, "/api/v1/agents/9999").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let rows = audit_rows(&env);
    for action in ["agent.created", "agent.updated", "agent.soul_updated"] {
        assert!(rows.iter().any(|r| r.0 == action), "{action}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn provider_keys_go_to_the_vault_and_never_come_back() {
    let (env, server) = installation(&[("olga", "owner"), ("adam", "admin")]);
    let llm = FakeLlm::start().await;
    llm.set_models(&["live-model"]);
    let owner = tokens(&server, "olga").await.0;
    let admin = tokens(&server, "adam").await.0;
    let v = set_provider(
        &server,
        &owner,
        "openai",
        json!({"kind": "openai", "base_url": llm.openai_base(), "api_key": KEY, "models": ["m1"]}),
    )
    .await;
    assert_eq!(v["has_api_key"], true);
    assert!(!v.to_string().contains(KEY));
    let (_, v) = get(&server, &owner, "/api/v1/providers").await;
    assert!(!v.to_string().contains(KEY));
    assert_eq!(v["providers"][0]["base_url"], llm.openai_base());
    // Only the owner: admins neither read nor write providers.
    let (s, _) = get(&server, &admin, "/api/v1/providers").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = call(
        &server,
        &admin,
        Method::PUT,
        "/api/v1/providers/openai",
        Some(json!({"kind": "openai", "base_url": "http://evil.example"})),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // The key lives in the vault, not the database or the audit log.
    let names = env.ok(&["vault", "list", "--passphrase-file", &pf(&env)], None);
    assert!(names.contains("provider.openai.api_key"), "{names}");
    let db = identity::db(&env);
    let in_db: i64 = db
        .query_row(
            "SELECT count(*) FROM providers WHERE instr(base_url || models || name, ?1) > 0",
            [KEY],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(in_db, 0);
    assert!(!format!("{:?}", audit_rows(&env)).contains(KEY));
    // The key was sent to the provider when listing models.
    llm.require_key(KEY);
    let (_, v) = get(&server, &admin, "/api/v1/models").await;
    let models: Vec<&str> = v["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();
    assert_eq!(models, ["openai/live-model", "openai/m1"], "{v}");
    // Omitting the key keeps it; "" removes it.
    let v = set_provider(
        &server,
        &owner,
        "openai",
        json!({"kind": "openai", "base_url": llm.openai_base()}),
    )
    .await;
    assert_eq!(v["has_api_key"], true);
    let v = set_provider(
        &server,
        &owner,
        "openai",
        json!({"kind": "openai", "base_url": llm.openai_base(), "api_key": ""}),
    )
    .await;
    assert_eq!(v["has_api_key"], false);
    let (_, v) = get(&server, &owner, "/api/v1/models").await;
    assert_eq!(
        v["errors"][0]["provider"], "openai",
        "the key is gone, so the fake refuses: {v}"
    );
    // Bad settings are refused and change nothing.
    for (name, body, want) in [
        (
            "openai",
            json!({"kind": "openai", "base_url": "ftp://x.example"}),
            "invalid_base_url",
        ),
        (
            "openai",
            json!({"kind": "openai", "base_url": "https://user:pw@x.example"}),
            "invalid_base_url",
        ),
        (
            "openai",
            json!({"kind": "openai", "base_url": "https://x.example/v1?k=1"}),
            "invalid_base_url",
        ),
        ("openai", json!({"kind": "gemini"}), "invalid_kind"),
        (
            "Bad%20Name",
            json!({"kind": "openai"}),
            "invalid_provider_name",
        ),
    ] {
        let (s, v) = call(
            &server,
            &owner,
            Method::PUT,
            &format!("/api/v1/providers/{name}"),
            Some(body.clone()),
        )
        .await;
        assert_eq!(
            (s, code(&v)),
            (StatusCode::UNPROCESSABLE_ENTITY, want),
            "{body}"
        );
    }
    let (_, v) = get(&server, &owner, "/api/v1/providers/openai").await;
    assert_eq!(v["base_url"], llm.openai_base());
    let (s, _) = call(
        &server,
        &owner,
        Method::DELETE,
        "/api/v1/providers/openai",
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = get(&server, &owner, "/api/v1/providers/openai").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let rows = audit_rows(&env);
    assert!(rows.iter().any(|r| r.0 == "provider.updated"));
    assert!(rows.iter().any(|r| r.0 == "provider.deleted"));
}
