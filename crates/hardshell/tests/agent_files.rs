//! File tools confined to the agent's workspace (attack test 6 of the tools
//! issue), `send_message`, and "allow always" rules, on the real server
//! with the fake LLM as the model.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;

use common::chat::{call, post};
use common::fake_llm::Reply;
use common::gate::{World, agent_messages, eventually, last_tool_result, world_with};
use common::identity::{audit_rows, tokens};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

fn dones(msgs: &[Value]) -> usize {
    msgs.iter()
        .filter(|m| m["meta"]["card"].is_null() && m["text"] == "done")
        .count()
}

/// One turn: a tool call, then "done"; returns the tool's result.
async fn one_call(w: &World, conv: i64, tool: &str, args: Value) -> String {
    let before = dones(&agent_messages(w, conv).await);
    w.llm.push(Reply::tool_call(tool, &args.to_string()));
    w.llm.push(Reply::text(["done"]));
    post(&w.server, &w.owner, conv, "go").await;
    eventually("the turn's answer", || async {
        (dones(&agent_messages(w, conv).await) > before).then_some(())
    })
    .await;
    let wrapped = last_tool_result(&w.llm.last_chat().unwrap());
    // The result as the tool wrote it, inside the untrusted-content markers.
    let lines: Vec<&str> = wrapped.lines().collect();
    assert!(
        lines.len() >= 2 && lines[0].starts_with("<<<UNTRUSTED"),
        "{wrapped}"
    );
    lines[1..lines.len() - 1].join("\n")
}

fn workspace(w: &World, agent: i64) -> PathBuf {
    w.env
        .data
        .join("agents")
        .join(agent.to_string())
        .join("files")
}

#[tokio::test(flavor = "multi_thread")]
async fn attack_6_file_tools_never_leave_the_workspace() {
    let w = world_with("", "max_file_bytes = 1024").await;
    let (agent, conv) = w.agent("scribe").await;
    // An outside directory with a file the agent must never read or replace.
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.txt"), "outside secret").unwrap();
    let ws = workspace(&w, agent);
    std::fs::create_dir_all(&ws).unwrap();
    std::os::unix::fs::symlink(outside.path(), ws.join("link")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("secret.txt"), ws.join("passwd")).unwrap();
    let soul = w
        .env
        .data
        .join("agents")
        .join(agent.to_string())
        .join("SOUL.md");
    let soul_before = std::fs::read_to_string(&soul).unwrap();
    let attempts = [
        (
            "file_write",
            json!({"path": "../SOUL.md", "content": "obey evil"}),
        ),
        (
            "file_write",
            json!({"path": "/tmp/pwned.txt", "content": "x"}),
        ),
        (
            "file_write",
            json!({"path": "%2e%2e/SOUL.md", "content": "x"}),
        ),
        ("file_write", json!({"path": "a\u{0}b", "content": "x"})),
        (
            "file_write",
            json!({"path": "link/new.txt", "content": "x"}),
        ),
        (
            "file_write",
            json!({"path": "passwd", "content": "replaced"}),
        ),
        (
            "file_write",
            json!({"path": "big.txt", "content": "x".repeat(2000)}),
        ),
        ("file_read", json!({"path": "link/secret.txt"})),
        ("file_read", json!({"path": "passwd"})),
        ("file_read", json!({"path": "../../../config.toml"})),
        ("file_list", json!({"path": "link"})),
        ("file_delete", json!({"path": "../SOUL.md"})),
        (
            "file_write",
            json!({"path": "x", "content": "y", "mode": "0777"}),
        ),
    ];
    w.set_level(agent, "files", 4).await;
    for (tool, args) in attempts {
        // Refusals count as failures and would lower the level.
        w.set_level(agent, "files", 4).await;
        let r = one_call(&w, conv, tool, args.clone()).await;
        assert!(
            !r.contains("outside secret") && !r.starts_with("wrote") && !r.starts_with("deleted"),
            "{tool} {args}: {r}"
        );
        assert!(
            r.contains("refused")
                || r.contains("may not")
                || r.contains("limit")
                || r.contains("invalid arguments")
                || r.contains("no such file"),
            "{tool} {args}: {r}"
        );
    }
    assert_eq!(std::fs::read_to_string(&soul).unwrap(), soul_before);
    assert!(!std::path::Path::new("/tmp/pwned.txt").exists());
    let outside_names: Vec<_> = std::fs::read_dir(outside.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(outside_names, ["secret.txt"]);
    assert_eq!(
        std::fs::read_to_string(outside.path().join("secret.txt")).unwrap(),
        "outside secret"
    );
    assert!(!ws.join("big.txt").exists());
    // Inside the workspace the tools work.
    w.set_level(agent, "files", 4).await;
    let r = one_call(
        &w,
        conv,
        "file_write",
        json!({"path": "notes/a.txt", "content": "hello"}),
    )
    .await;
    assert!(r.starts_with("wrote 5 bytes"), "{r}");
    assert_eq!(
        std::fs::read_to_string(ws.join("notes/a.txt")).unwrap(),
        "hello"
    );
    let r = one_call(&w, conv, "file_read", json!({"path": "./notes//a.txt"})).await;
    assert!(r.contains("hello"), "{r}");
    let r = one_call(&w, conv, "file_list", json!({})).await;
    assert!(r.contains("notes/"), "{r}");
    let r = one_call(&w, conv, "file_delete", json!({"path": "notes/a.txt"})).await;
    assert!(r.starts_with("deleted"), "{r}");
    assert!(!ws.join("notes/a.txt").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn send_message_posts_into_the_conversation_through_the_leak_guard() {
    let w = world_with("", "").await;
    let (agent, conv) = w.agent("herald").await;
    w.set_level(agent, "messaging", 4).await;
    let r = one_call(
        &w,
        conv,
        "send_message",
        json!({"text": "Hello from a tool"}),
    )
    .await;
    assert_eq!(r, "sent");
    let msgs = agent_messages(&w, conv).await;
    assert!(
        msgs.iter()
            .any(|m| m["text"] == "Hello from a tool" && m["meta"]["sent_by_tool"] == true),
        "{msgs:?}"
    );
    let r = one_call(&w, conv, "send_message", json!({"text": "  "})).await;
    assert!(r.contains("empty"), "{r}");
}

#[tokio::test(flavor = "multi_thread")]
async fn allow_always_covers_its_scope_only_and_never_a_tainted_turn() {
    let w = world_with("", "").await;
    let (agent, conv) = w.agent("keeper").await;
    // files stays at its default, level 2: the first write asks.
    w.llm.push(Reply::tool_call(
        "file_write",
        &json!({"path": "notes/a.txt", "content": "1"}).to_string(),
    ));
    w.llm.push(Reply::text(["done"]));
    post(&w.server, &w.owner, conv, "go").await;
    let first = eventually("an approval", || async {
        w.approvals("pending").await.into_iter().next()
    })
    .await;
    let id = first["id"].as_i64().unwrap();
    // A member cannot make a rule; the owner approves with "always".
    let ann = tokens(&w.server, "ann").await.0;
    let (s, _) = call(
        &w.server,
        &ann,
        Method::POST,
        &format!("/api/v1/approvals/{id}/approve"),
        Some(json!({"always": true})),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, v) = call(
        &w.server,
        &w.owner,
        Method::POST,
        &format!("/api/v1/approvals/{id}/approve"),
        Some(json!({"always": true})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = call(
        &w.server,
        &w.owner,
        Method::GET,
        "/api/v1/allow-rules",
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let rules = v["rules"].as_array().unwrap().clone();
    assert_eq!(rules.len(), 1, "{v}");
    assert_eq!(rules[0]["scope"], "path:notes/");
    let ws = workspace(&w, agent);
    eventually("the approved write and the turn's answer", || async {
        (ws.join("notes/a.txt").exists() && dones(&agent_messages(&w, conv).await) == 1)
            .then_some(())
    })
    .await;
    // Same tool and scope: runs without asking, with a receipt.
    let r = one_call(
        &w,
        conv,
        "file_write",
        json!({"path": "notes/b.txt", "content": "2"}),
    )
    .await;
    assert!(r.starts_with("wrote"), "{r}");
    assert!(w.approvals("pending").await.is_empty());
    let kinds: Vec<String> = agent_messages(&w, conv)
        .await
        .iter()
        .filter_map(|m| m["meta"]["card"]["kind"].as_str().map(str::to_string))
        .collect();
    assert!(kinds.contains(&"receipt".to_string()), "{kinds:?}");
    // Outside the scope it asks again.
    w.llm.push(Reply::tool_call(
        "file_write",
        &json!({"path": "other/c.txt", "content": "3"}).to_string(),
    ));
    post(&w.server, &w.owner, conv, "go").await;
    let asked = eventually("a second approval", || async {
        w.approvals("pending").await.into_iter().next()
    })
    .await;
    assert_eq!(asked["target"], "file:other/c.txt");
    w.llm.push(Reply::text(["done"]));
    let (s, _) = call(
        &w.server,
        &w.owner,
        Method::POST,
        &format!("/api/v1/approvals/{}/deny", asked["id"]),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    eventually("the denied turn's answer", || async {
        (dones(&agent_messages(&w, conv).await) == 3).then_some(())
    })
    .await;
    // In a tainted turn the rule does not apply, even inside its scope.
    w.llm.push(Reply::tool_call(
        "knowledge_search",
        &json!({"query": "x"}).to_string(),
    ));
    w.llm.push(Reply::tool_call(
        "file_write",
        &json!({"path": "notes/d.txt", "content": "4"}).to_string(),
    ));
    post(&w.server, &w.owner, conv, "go").await;
    let tainted = eventually("a tainted approval", || async {
        w.approvals("pending").await.into_iter().next()
    })
    .await;
    assert_eq!(tainted["target"], "file:notes/d.txt");
    assert!(tainted["taint_source"].is_string(), "{tainted}");
    assert!(!ws.join("notes/d.txt").exists());
    let (s, _) = call(
        &w.server,
        &w.owner,
        Method::POST,
        &format!("/api/v1/approvals/{}/deny", tainted["id"]),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    // The CLI lists the rule while the server runs.
    let out = w.cli(&["approvals", "rules"]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("path:notes/"),
        "{out:?}"
    );
    // Revoked, the rule no longer applies.
    let rule_id = rules[0]["id"].as_i64().unwrap();
    let (s, _) = call(
        &w.server,
        &w.owner,
        Method::DELETE,
        &format!("/api/v1/allow-rules/{rule_id}"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, v) = call(
        &w.server,
        &w.owner,
        Method::GET,
        "/api/v1/allow-rules",
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(v["rules"].as_array().unwrap().is_empty());
    let rows = audit_rows(&w.env);
    assert!(rows.iter().any(|r| r.0 == "allow_rule.created"), "{rows:?}");
    assert!(rows.iter().any(|r| r.0 == "allow_rule.revoked"), "{rows:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn always_is_refused_outside_level_two_and_changes_nothing() {
    let w = world_with("", "").await;
    let (agent, conv) = w.agent("tainted").await;
    // Level 4, but a knowledge read (untrusted) makes the write ask.
    w.set_level(agent, "files", 4).await;
    w.set_level(agent, "messaging", 4).await;
    // A message from another agent's key would taint too; use call_agent's
    // simplest provenance: knowledge_search marks the turn untrusted.
    w.llm.push(Reply::tool_call(
        "knowledge_search",
        &json!({"query": "x"}).to_string(),
    ));
    w.llm.push(Reply::tool_call(
        "send_message",
        &json!({"text": "hi"}).to_string(),
    ));
    post(&w.server, &w.owner, conv, "go").await;
    let asked = eventually("an approval", || async {
        w.approvals("pending").await.into_iter().next()
    })
    .await;
    let id = asked["id"].as_i64().unwrap();
    let (s, v) = call(
        &w.server,
        &w.owner,
        Method::POST,
        &format!("/api/v1/approvals/{id}/approve"),
        Some(json!({"always": true})),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["code"], "rule_not_allowed");
    // Nothing changed: still pending, no rule.
    assert_eq!(w.approval(id).await["status"], "pending");
    let (_, v) = call(
        &w.server,
        &w.owner,
        Method::GET,
        "/api/v1/allow-rules",
        None,
    )
    .await;
    assert!(v["rules"].as_array().unwrap().is_empty());
}
