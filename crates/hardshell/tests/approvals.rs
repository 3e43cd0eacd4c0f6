//! Approvals on the real server with the fake LLM: a level-2 call parks
//! the turn and files a request; the owner approves (the call runs once,
//! exactly as approved, and the turn resumes) or denies (the model is
//! told); who may decide; changed arguments; double dispatch; merging;
//! expiry; a restart with a request pending; the CLI.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::chat::post;
use common::fake_llm::Reply;
use common::gate::{World, agent_messages, eventually, last_tool_result, world};
use common::identity::{agent_key, audit_rows, tokens};
use common::ws::{Cred, connect, next_json};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn save(text: &str) -> String {
    json!({"text": text, "scope": "conversation"}).to_string()
}

/// The one pending approval, once it exists.
async fn pending(w: &World) -> Value {
    eventually("a pending approval", || async {
        w.approvals("pending").await.into_iter().next()
    })
    .await
}

async fn status_of(w: &World, id: i64, want: &str) {
    eventually(&format!("approval {id} {want}"), || async {
        (w.approval(id).await["status"] == want).then_some(())
    })
    .await;
}

/// Waits until the parked state of approval `id` is gone (resumed turn done).
async fn resumed(w: &World, id: i64) {
    let conn = std::sync::Mutex::new(common::identity::db(&w.env));
    eventually(&format!("approval {id} resumed"), || async {
        let parked: Option<String> = conn
            .lock()
            .unwrap()
            .query_row("SELECT parked FROM approvals WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .unwrap();
        parked.is_none().then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_level_two_call_waits_for_the_owner_then_runs_once() {
    let w = world("").await;
    let (agent, conv) = w.agent("helper").await;
    let (mut ws, _) = connect(&w.server, Cred::Bearer(&w.owner), "").await;
    w.llm.push(Reply::tool_call(
        "memory_save",
        &save("Olga likes green tea"),
    ));
    w.llm.push(Reply::text(["Saved ", "it."]));
    post(&w.server, &w.owner, conv, "remember that I like green tea").await;

    // The event and the card name the tool, the target and the arguments.
    let event = loop {
        let f = next_json(&mut ws, common::gate::WAIT)
            .await
            .expect("no approval event");
        if f["type"] == "approval.requested" {
            break f["data"].clone();
        }
    };
    let id = event["id"].as_i64().unwrap();
    assert_eq!(event["tool"], "memory_save");
    assert_eq!(event["domain"], "files");
    assert_eq!(event["status"], "pending");
    assert_eq!(event["target"], format!("memory:conversation:{conv}"));
    assert!(event["arguments"].as_str().unwrap().contains("green tea"));
    assert_eq!(event["fingerprint"].as_str().unwrap().len(), 64);
    let cards = agent_messages(&w, conv).await;
    let card = cards
        .iter()
        .find(|m| m["meta"]["card"]["kind"] == "approval")
        .expect("an approval card");
    assert_eq!(card["meta"]["card"]["approval_id"], id);
    // Parked: nothing ran, the model was asked once.
    assert!(w.memories(agent).is_empty());
    assert_eq!(w.llm.chat_requests().len(), 1);

    let (s, v) = w.decide(&w.owner, id, "approve").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    resumed(&w, id).await;
    status_of(&w, id, "dispatched").await;
    assert_eq!(w.memories(agent), ["Olga likes green tea"]);
    let chats = w.llm.chat_requests();
    assert_eq!(chats.len(), 2);
    let result = last_tool_result(&chats[1]);
    assert!(result.contains("saved"), "{result}");
    let replies = agent_messages(&w, conv).await;
    assert!(
        replies.iter().any(|m| m["text"] == "Saved it."),
        "{replies:?}"
    );

    // Approving again is a conflict and runs nothing.
    let (s, v) = w.decide(&w.owner, id, "approve").await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["error"]["code"], "not_pending");
    assert_eq!(w.memories(agent).len(), 1);

    let rows = audit_rows(&w.env);
    let has = |action: &str, kind: &str| rows.iter().any(|r| r.0 == action && r.1 == kind);
    assert!(has("approval.requested", "agent"), "{rows:?}");
    assert!(has("approval.approved", "user"), "{rows:?}");
    assert!(has("tool.call", "agent"), "{rows:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_denied_call_never_runs_and_the_model_is_told() {
    let w = world("").await;
    let (agent, conv) = w.agent("helper").await;
    w.llm
        .push(Reply::tool_call("memory_save", &save("secret plan")));
    w.llm.push(Reply::text(["Understood."]));
    post(&w.server, &w.owner, conv, "remember the plan").await;
    let id = pending(&w).await["id"].as_i64().unwrap();
    let (s, v) = w.decide(&w.owner, id, "deny").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["status"], "denied");
    resumed(&w, id).await;
    assert!(w.memories(agent).is_empty());
    let chats = w.llm.chat_requests();
    assert_eq!(chats.len(), 2);
    assert!(last_tool_result(&chats[1]).contains("denied"));
    assert_eq!(w.approval(id).await["status"], "denied");
}

#[tokio::test(flavor = "multi_thread")]
async fn only_the_owner_decides() {
    let w = world("").await;
    let (agent, conv) = w.agent("helper").await;
    w.llm.push(Reply::tool_call("memory_save", &save("x")));
    w.llm.push(Reply::text(["ok"]));
    post(&w.server, &w.owner, conv, "go").await;
    let id = pending(&w).await["id"].as_i64().unwrap();
    let (_, key) = agent_key(
        &w.server,
        &w.owner,
        json!({"name": "bot", "permissions": ["messages:read", "messages:write"]}),
    )
    .await;
    for name in ["adam", "ann", "gus"] {
        let token = tokens(&w.server, name).await.0;
        let (s, v) = w.decide(&token, id, "approve").await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{name}: {v}");
        assert!(v["error"]["code"].is_string());
    }
    let (s, _) = w.decide(&key, id, "approve").await;
    assert_eq!(s, StatusCode::FORBIDDEN, "agent key");
    let (s, _) = w.decide(&key, id, "deny").await;
    assert_eq!(s, StatusCode::FORBIDDEN, "agent key deny");
    // Still pending, nothing ran.
    assert_eq!(w.approval(id).await["status"], "pending");
    assert!(w.memories(agent).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn admins_decide_only_when_config_allows() {
    let w = world("admins_may_decide = true").await;
    let (agent, conv) = w.agent("helper").await;
    w.llm
        .push(Reply::tool_call("memory_save", &save("from admin")));
    w.llm.push(Reply::text(["ok"]));
    post(&w.server, &w.owner, conv, "go").await;
    let id = pending(&w).await["id"].as_i64().unwrap();
    let ann = tokens(&w.server, "ann").await.0;
    assert_eq!(w.decide(&ann, id, "approve").await.0, StatusCode::FORBIDDEN);
    let adam = tokens(&w.server, "adam").await.0;
    let (s, v) = w.decide(&adam, id, "approve").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    resumed(&w, id).await;
    assert_eq!(w.memories(agent), ["from admin"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_approval_covers_only_the_arguments_it_was_given_and_one_dispatch() {
    let w = world("").await;
    let (agent, conv) = w.agent("helper").await;
    // A approved; after it ran, the model sends A again and then B: each
    // needs its own approval and neither runs.
    w.llm.push(Reply::tool_call("memory_save", &save("A")));
    w.llm.push(Reply::tool_call("memory_save", &save("A")));
    post(&w.server, &w.owner, conv, "go").await;
    let first = pending(&w).await["id"].as_i64().unwrap();
    w.decide(&w.owner, first, "approve").await;
    resumed(&w, first).await;
    assert_eq!(w.memories(agent), ["A"]);
    let second = pending(&w).await;
    assert_ne!(
        second["id"].as_i64().unwrap(),
        first,
        "a dispatched approval is spent"
    );
    let second_id = second["id"].as_i64().unwrap();
    assert_eq!(w.memories(agent), ["A"], "the repeat did not run");
    // Deny the repeat; the model then sends B, which needs a new approval.
    w.llm.push(Reply::tool_call("memory_save", &save("B")));
    w.decide(&w.owner, second_id, "deny").await;
    let third = eventually("approval for B", || async {
        w.approvals("pending")
            .await
            .into_iter()
            .find(|a| a["arguments"].as_str().unwrap().contains("\"B\""))
    })
    .await;
    assert_ne!(third["fingerprint"], second["fingerprint"]);
    assert_eq!(w.memories(agent), ["A"], "B did not run under A's approval");
}

#[tokio::test(flavor = "multi_thread")]
async fn identical_pending_requests_merge_into_one() {
    let w = world("").await;
    let (_agent, conv) = w.agent("helper").await;
    w.llm.push(Reply::tool_call("memory_save", &save("same")));
    post(&w.server, &w.owner, conv, "one").await;
    let first = pending(&w).await;
    w.llm.push(Reply::tool_call("memory_save", &save("same")));
    w.llm.push(Reply::text(["waiting"]));
    post(&w.server, &w.owner, conv, "two").await;
    eventually("the second turn's answer", || async {
        (w.llm.chat_requests().len() == 3).then_some(())
    })
    .await;
    let all = w.approvals("pending").await;
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0]["id"], first["id"]);
    assert_eq!(all[0]["merged"], 1);
    assert!(last_tool_result(&w.llm.chat_requests()[2]).contains("already waiting"));
    let cards: Vec<Value> = agent_messages(&w, conv)
        .await
        .into_iter()
        .filter(|m| m["meta"]["card"]["kind"] == "approval")
        .collect();
    assert_eq!(cards.len(), 1, "one card for both requests");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_approval_is_a_denial_the_model_hears_about() {
    let w = world("expiry_secs = 1").await;
    let (agent, conv) = w.agent("helper").await;
    w.llm.push(Reply::tool_call("memory_save", &save("late")));
    w.llm.push(Reply::text(["ok, not saved"]));
    post(&w.server, &w.owner, conv, "go").await;
    let id = pending(&w).await["id"].as_i64().unwrap();
    status_of(&w, id, "expired").await;
    resumed(&w, id).await;
    let (s, _) = w.decide(&w.owner, id, "approve").await;
    assert_eq!(s, StatusCode::CONFLICT, "too late to approve");
    assert!(w.memories(agent).is_empty());
    let chats = w.llm.chat_requests();
    assert!(last_tool_result(&chats[1]).contains("expired"));
    let rows = audit_rows(&w.env);
    assert!(rows.iter().any(|r| r.0 == "approval.expired"), "{rows:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pending_approval_survives_a_restart_and_runs_once() {
    let w = world("").await;
    let (agent, conv) = w.agent("helper").await;
    w.llm.push(Reply::tool_call("memory_save", &save("kept")));
    post(&w.server, &w.owner, conv, "go").await;
    let id = pending(&w).await["id"].as_i64().unwrap();
    let World {
        env,
        server,
        llm,
        owner,
    } = w;
    assert!(server.stop().0);
    let w = World {
        server: common::identity::start(&env),
        env,
        llm,
        owner,
    };
    // Still pending after the restart; then decided by the CLI while the
    // server is down.
    assert_eq!(w.approval(id).await["status"], "pending");
    let World {
        env,
        server,
        llm,
        owner,
    } = w;
    assert!(server.stop().0);
    let w = World {
        server: common::identity::start(&env),
        env,
        llm,
        owner,
    };
    let World {
        env,
        server,
        llm,
        owner,
    } = w;
    assert!(server.stop().0);
    let out = {
        let p = common::identity::pf(&env);
        env.run(
            &[
                "approvals",
                "approve",
                &id.to_string(),
                "--passphrase-file",
                &p,
            ],
            None,
        )
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    llm.push(Reply::text(["done after restart"]));
    let w = World {
        server: common::identity::start(&env),
        env,
        llm,
        owner,
    };
    assert!(w.memories(agent).is_empty() || w.memories(agent) == ["kept"]);
    resumed(&w, id).await;
    assert_eq!(w.approval(id).await["status"], "dispatched");
    assert_eq!(w.memories(agent), ["kept"]);
    // Another restart resumes nothing and runs nothing again.
    let World {
        env,
        server,
        llm,
        owner,
    } = w;
    assert!(server.stop().0);
    let w = World {
        server: common::identity::start(&env),
        env,
        llm,
        owner,
    };
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(w.memories(agent), ["kept"]);
    assert_eq!(w.llm.chat_requests().len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cli_lists_and_denies_while_the_server_runs() {
    let w = world("").await;
    let (agent, conv) = w.agent("helper").await;
    w.llm
        .push(Reply::tool_call("memory_save", &save("via cli")));
    w.llm.push(Reply::text(["fine"]));
    post(&w.server, &w.owner, conv, "go").await;
    let id = pending(&w).await["id"].as_i64().unwrap();
    let out = w.cli(&["approvals", "list"]);
    assert!(out.status.success());
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(listed.contains(&format!("#{id} pending")), "{listed}");
    assert!(listed.contains("memory_save"));
    let out = w.cli(&["approvals", "deny", &id.to_string()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    resumed(&w, id).await;
    assert!(w.memories(agent).is_empty());
    assert!(last_tool_result(&w.llm.chat_requests()[1]).contains("denied"));
}
