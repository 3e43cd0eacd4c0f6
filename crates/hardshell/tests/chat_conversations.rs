//! Conversations and members (issue 6) against the real server: the
//! membership rule (404 for outsiders on every route), who may manage a
//! conversation, input validation, agent keys bounded by their creator,
//! and the audit trail. One installation is shared by all scenarios; each
//! scenario works in conversations of its own.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Server;
use common::chat::{call, get, group, messages_path, post, post_raw};
use common::identity::{agent_key, audit_rows, db, installation, tokens};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

struct World {
    server: Server,
    ann: String,
    bob: String,
    cat: String,
    gus: String,
    ada: String,
    ids: std::collections::HashMap<&'static str, i64>,
}

fn conv_path(id: i64) -> String {
    format!("/api/v1/conversations/{id}")
}

fn members_path(id: i64) -> String {
    format!("/api/v1/conversations/{id}/members")
}

fn member_names(conv: &Value) -> Vec<String> {
    conv["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap().to_string())
        .collect()
}

fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or_default()
}

async fn me(server: &Server, token: &str) -> i64 {
    let (s, v) = get(server, token, "/api/v1/auth/me").await;
    assert_eq!(s, StatusCode::OK);
    v["user"]["id"].as_i64().or(v["id"].as_i64()).unwrap()
}

#[tokio::test]
async fn conversations_and_members() {
    let (env, server) = installation(&[
        ("ann", "member"),
        ("bob", "member"),
        ("cat", "member"),
        ("gus", "guest"),
        ("ada", "admin"),
    ]);
    let mut w = World {
        ann: tokens(&server, "ann").await.0,
        bob: tokens(&server, "bob").await.0,
        cat: tokens(&server, "cat").await.0,
        gus: tokens(&server, "gus").await.0,
        ada: tokens(&server, "ada").await.0,
        server,
        ids: Default::default(),
    };
    for (name, token) in [("ann", &w.ann), ("bob", &w.bob), ("ada", &w.ada)] {
        let id = me(&w.server, token).await;
        w.ids.insert(name, id);
    }

    creating_and_listing(&w).await;
    outsiders_get_404_on_every_route(&w).await;
    guests_read_but_never_manage(&w).await;
    only_the_creator_or_an_admin_manages(&w).await;
    member_changes_are_validated(&w).await;
    bad_conversation_input_is_refused_and_stores_nothing(&w).await;
    patch_and_delete(&w).await;
    direct_conversations_with_a_registered_agent(&w, &env).await;
    agent_keys_act_within_their_creator(&w).await;

    let actions: Vec<String> = audit_rows(&env).into_iter().map(|r| r.0).collect();
    for a in [
        "chat.conversation_created",
        "chat.conversation_updated",
        "chat.conversation_deleted",
        "chat.member_added",
        "chat.member_removed",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a} not audited");
    }
    // Ordinary human posts are not audited.
    assert!(!actions.iter().any(|x| x == "chat.message_posted"));
}

async fn creating_and_listing(w: &World) {
    let s = &w.server;
    let team = group(s, &w.ann, "  Team  ", &["bob", "BOB", "gus"]).await;
    assert_eq!(team["title"], "Team");
    assert_eq!(team["kind"], "group");
    assert_eq!(team["created_by"], w.ids["ann"]);
    assert_eq!(team["last_message_id"], Value::Null);
    assert_eq!(member_names(&team), ["ann", "bob", "gus"]);
    assert_eq!(
        team["members"][1],
        json!({"kind": "user", "id": w.ids["bob"], "name": "bob"})
    );
    let other = group(s, &w.ann, "Other", &[]).await;
    let team_id = team["id"].as_i64().unwrap();

    // Newest activity first: a message moves Team above Other.
    let (_, list) = get(s, &w.ann, "/api/v1/conversations").await;
    let order: Vec<i64> = list["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_i64().unwrap())
        .collect();
    assert!(order.contains(&team_id) && order.contains(&other["id"].as_i64().unwrap()));
    // Activity times are seconds; make Team strictly newer.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let msg = post(s, &w.bob, team_id, "hello").await;
    let (_, list) = get(s, &w.ann, "/api/v1/conversations").await;
    let first = &list["conversations"][0];
    assert_eq!(first["id"], team_id);
    assert_eq!(first["last_message_id"], msg["id"]);

    // Only the caller's conversations are listed.
    let (_, cat_list) = get(s, &w.cat, "/api/v1/conversations").await;
    assert!(
        !cat_list["conversations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["id"] == team_id)
    );
    let (st, one) = get(s, &w.bob, &conv_path(team_id)).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(one["title"], "Team");
}

async fn outsiders_get_404_on_every_route(w: &World) {
    let s = &w.server;
    let c = group(s, &w.ann, "Private", &["bob"]).await["id"]
        .as_i64()
        .unwrap();
    let m = post(s, &w.ann, c, "secret plans").await["id"]
        .as_i64()
        .unwrap();
    let attempts: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, conv_path(c), None),
        (Method::PATCH, conv_path(c), Some(json!({"title": "mine"}))),
        (Method::DELETE, conv_path(c), None),
        (
            Method::POST,
            members_path(c),
            Some(json!({"username": "cat"})),
        ),
        (
            Method::DELETE,
            members_path(c),
            Some(json!({"username": "cat"})),
        ),
        (Method::GET, messages_path(c), None),
        (Method::POST, messages_path(c), Some(json!({"text": "hi"}))),
        (
            Method::PATCH,
            format!("{}/{m}", messages_path(c)),
            Some(json!({"text": "edited"})),
        ),
        (Method::DELETE, format!("{}/{m}", messages_path(c)), None),
    ];
    // An admin who is not a member is an outsider too.
    for token in [&w.cat, &w.ada] {
        for (method, path, body) in &attempts {
            let (st, v) = call(s, token, method.clone(), path, body.clone()).await;
            assert_eq!(st, StatusCode::NOT_FOUND, "{method} {path}: {v}");
            assert_eq!(code(&v), "not_found");
        }
    }
    // Indistinguishable from a conversation that does not exist.
    let (st, v) = get(s, &w.cat, &conv_path(987_654)).await;
    assert_eq!((st, code(&v)), (StatusCode::NOT_FOUND, "not_found"));
    // Nothing changed.
    let (_, conv) = get(s, &w.ann, &conv_path(c)).await;
    assert_eq!(conv["title"], "Private");
    assert_eq!(member_names(&conv), ["ann", "bob"]);
    let (_, page) = get(s, &w.ann, &messages_path(c)).await;
    assert_eq!(page["messages"][0]["text"], "secret plans");
    assert_eq!(page["messages"].as_array().unwrap().len(), 1);
}

async fn guests_read_but_never_manage(w: &World) {
    let s = &w.server;
    let c = group(s, &w.ann, "With guest", &["gus"]).await["id"]
        .as_i64()
        .unwrap();
    assert_eq!(get(s, &w.gus, &conv_path(c)).await.0, StatusCode::OK);
    let refused: Vec<(Method, String, Option<Value>)> = vec![
        (Method::PATCH, conv_path(c), Some(json!({"title": "x"}))),
        (Method::DELETE, conv_path(c), None),
        (
            Method::POST,
            members_path(c),
            Some(json!({"username": "cat"})),
        ),
        (
            Method::DELETE,
            members_path(c),
            Some(json!({"username": "ann"})),
        ),
        (
            Method::POST,
            "/api/v1/conversations".into(),
            Some(json!({"kind": "group", "title": "g"})),
        ),
    ];
    for (method, path, body) in refused {
        let (st, v) = call(s, &w.gus, method.clone(), &path, body).await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{method} {path}: {v}");
    }
    let (_, conv) = get(s, &w.ann, &conv_path(c)).await;
    assert_eq!(member_names(&conv), ["ann", "gus"]);
}

async fn only_the_creator_or_an_admin_manages(w: &World) {
    let s = &w.server;
    let c = group(s, &w.ann, "Ann's", &["bob"]).await["id"]
        .as_i64()
        .unwrap();
    let refused: Vec<(Method, String, Option<Value>)> = vec![
        (
            Method::PATCH,
            conv_path(c),
            Some(json!({"title": "bob's now"})),
        ),
        (Method::DELETE, conv_path(c), None),
        (
            Method::POST,
            members_path(c),
            Some(json!({"username": "cat"})),
        ),
        (
            Method::DELETE,
            members_path(c),
            Some(json!({"username": "ann"})),
        ),
    ];
    for (method, path, body) in refused {
        let (st, v) = call(s, &w.bob, method.clone(), &path, body).await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{method} {path}: {v}");
    }
    // The creator adds an admin; the admin may then manage it.
    let (st, conv) = call(
        s,
        &w.ann,
        Method::POST,
        &members_path(c),
        Some(json!({"username": "ADA"})),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{conv}");
    assert_eq!(member_names(&conv), ["ann", "bob", "ada"]);
    let (st, v) = call(
        s,
        &w.ada,
        Method::PATCH,
        &conv_path(c),
        Some(json!({"title": "Renamed"})),
    )
    .await;
    assert_eq!((st, v["title"].as_str()), (StatusCode::OK, Some("Renamed")));
    let (st, _) = call(
        s,
        &w.ada,
        Method::DELETE,
        members_path(c).as_str(),
        Some(json!({"user_id": w.ids["bob"]})),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(get(s, &w.bob, &conv_path(c)).await.0, StatusCode::NOT_FOUND);
}

async fn member_changes_are_validated(w: &World) {
    let s = &w.server;
    let c = group(s, &w.ann, "Members", &["bob"]).await["id"]
        .as_i64()
        .unwrap();
    let cases = [
        (
            json!({"username": "bob"}),
            StatusCode::CONFLICT,
            "already_member",
        ),
        (
            json!({"user_id": w.ids["bob"]}),
            StatusCode::CONFLICT,
            "already_member",
        ),
        (
            json!({"username": "nobody"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_user",
        ),
        (
            json!({"user_id": 999_999}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_user",
        ),
        (
            json!({"agent_id": 4242}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_agent",
        ),
        (
            json!({"username": "cat", "user_id": 1}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_member",
        ),
        (
            json!({}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_member",
        ),
    ];
    for (body, status, want) in cases {
        let (st, v) = call(
            s,
            &w.ann,
            Method::POST,
            &members_path(c),
            Some(body.clone()),
        )
        .await;
        assert_eq!((st, code(&v)), (status, want), "{body}");
    }
    // Removing someone who is not a member.
    let (st, v) = call(
        s,
        &w.ann,
        Method::DELETE,
        &members_path(c),
        Some(json!({"username": "cat"})),
    )
    .await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "not_member")
    );
    // Anyone may leave: 204, and the conversation disappears for them.
    let (st, _) = call(
        s,
        &w.bob,
        Method::DELETE,
        &members_path(c),
        Some(json!({"username": "bob"})),
    )
    .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    assert_eq!(get(s, &w.bob, &conv_path(c)).await.0, StatusCode::NOT_FOUND);
    let (_, conv) = get(s, &w.ann, &conv_path(c)).await;
    assert_eq!(member_names(&conv), ["ann"]);
    // Malformed JSON is a JSON 400, not a crash.
    let resp = common::identity::bearer(s, &w.ann, Method::POST, &members_path(c))
        .header("content-type", "application/json")
        .body("{\"username\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let v: Value = resp.json().await.unwrap();
    assert!(!code(&v).is_empty());
}

async fn ann_conversation_count(w: &World) -> usize {
    let (_, v) = get(&w.server, &w.ann, "/api/v1/conversations").await;
    v["conversations"].as_array().unwrap().len()
}

async fn bad_conversation_input_is_refused_and_stores_nothing(w: &World) {
    let s = &w.server;
    let before = ann_conversation_count(w).await;
    let long = "x".repeat(121);
    let cases = [
        (json!({"kind": "group", "title": "   "}), "invalid_title"),
        (json!({"kind": "group", "title": long}), "invalid_title"),
        (
            json!({"kind": "group", "title": "a\u{0007}b"}),
            "invalid_title",
        ),
        (json!({"kind": "group"}), "invalid_title"),
        (
            json!({"kind": "group", "title": "t", "members": ["bob", "ghost"]}),
            "unknown_user",
        ),
        (json!({"kind": "direct", "agent_id": 4242}), "unknown_agent"),
        (json!({"kind": "direct"}), "unknown_agent"),
    ];
    for (body, want) in cases {
        let (st, v) = call(
            s,
            &w.ann,
            Method::POST,
            "/api/v1/conversations",
            Some(body.clone()),
        )
        .await;
        assert_eq!(
            (st, code(&v)),
            (StatusCode::UNPROCESSABLE_ENTITY, want),
            "{body}"
        );
    }
    let (st, v) = call(
        s,
        &w.ann,
        Method::POST,
        "/api/v1/conversations",
        Some(json!({"kind": "channel", "title": "t"})),
    )
    .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(v["error"]["code"].is_string());
    assert_eq!(ann_conversation_count(w).await, before);
    // 120 characters is fine.
    group(s, &w.ann, &"é".repeat(120), &[]).await;
}

async fn patch_and_delete(w: &World) {
    let s = &w.server;
    let c = group(s, &w.ann, "Patchable", &["bob"]).await["id"]
        .as_i64()
        .unwrap();
    let (st, v) = call(
        s,
        &w.ann,
        Method::PATCH,
        &conv_path(c),
        Some(json!({"title": " New "})),
    )
    .await;
    assert_eq!((st, v["title"].as_str()), (StatusCode::OK, Some("New")));
    let (st, v) = call(s, &w.ann, Method::PATCH, &conv_path(c), Some(json!({}))).await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_body")
    );
    let (st, v) = call(
        s,
        &w.ann,
        Method::PATCH,
        &conv_path(c),
        Some(json!({"title": ""})),
    )
    .await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_title")
    );
    let (st, v) = call(
        s,
        &w.ann,
        Method::PATCH,
        &conv_path(c),
        Some(json!({"default_agent_id": 77})),
    )
    .await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "unknown_agent")
    );
    let (st, v) = call(
        s,
        &w.ann,
        Method::PATCH,
        &conv_path(c),
        Some(json!({"default_agent_id": null})),
    )
    .await;
    assert_eq!((st, &v["default_agent_id"]), (StatusCode::OK, &Value::Null));

    let m = post(s, &w.bob, c, "will vanish").await["id"]
        .as_i64()
        .unwrap();
    let (st, _) = call(s, &w.ann, Method::DELETE, &conv_path(c), None).await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    for token in [&w.ann, &w.bob] {
        assert_eq!(get(s, token, &conv_path(c)).await.0, StatusCode::NOT_FOUND);
        assert_eq!(
            get(s, token, &messages_path(c)).await.0,
            StatusCode::NOT_FOUND
        );
    }
    let (st, _) = post_raw(s, &w.bob, c, json!({"text": "late"})).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (st, _) = call(
        s,
        &w.bob,
        Method::DELETE,
        &format!("{}/{m}", messages_path(c)),
        None,
    )
    .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
}

async fn direct_conversations_with_a_registered_agent(w: &World, env: &common::Env) {
    let s = &w.server;
    // Agents are registered by a later issue; insert one directly.
    let conn = db(env);
    conn.execute(
        "INSERT INTO agents (uuid, handle, name, created_at) VALUES ('a-1', 'helper', 'Helper', 0)",
        [],
    )
    .unwrap();
    let agent: i64 = conn.last_insert_rowid();
    drop(conn);
    let (st, d) = call(
        s,
        &w.ann,
        Method::POST,
        "/api/v1/conversations",
        Some(json!({"kind": "direct", "agent_id": agent})),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{d}");
    assert_eq!(d["title"], "Helper");
    assert_eq!(d["default_agent_id"], agent);
    assert_eq!(
        d["members"][1],
        json!({"kind": "agent", "id": agent, "name": "helper"})
    );
    let id = d["id"].as_i64().unwrap();
    for method in [Method::POST, Method::DELETE] {
        let (st, v) = call(
            s,
            &w.ann,
            method,
            &members_path(id),
            Some(json!({"username": "bob"})),
        )
        .await;
        assert_eq!(
            (st, code(&v)),
            (StatusCode::CONFLICT, "direct_conversation")
        );
    }
    // In a group, an agent member can be the default agent.
    let g = group(s, &w.ann, "With agent", &[]).await["id"]
        .as_i64()
        .unwrap();
    let (st, v) = call(
        s,
        &w.ann,
        Method::PATCH,
        &conv_path(g),
        Some(json!({"default_agent_id": agent})),
    )
    .await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "unknown_agent")
    );
    let (st, _) = call(
        s,
        &w.ann,
        Method::POST,
        &members_path(g),
        Some(json!({"agent_id": agent})),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    let (st, v) = call(
        s,
        &w.ann,
        Method::PATCH,
        &conv_path(g),
        Some(json!({"default_agent_id": agent})),
    )
    .await;
    assert_eq!(
        (st, &v["default_agent_id"]),
        (StatusCode::OK, &json!(agent))
    );
    // Mentions resolve agent handles too.
    let m = post(s, &w.ann, g, "ping @Helper").await;
    assert_eq!(
        m["mentions"],
        json!([{"kind": "agent", "id": agent, "name": "helper"}])
    );
}

async fn agent_keys_act_within_their_creator(w: &World) {
    let s = &w.server;
    let adas = group(s, &w.ada, "Ada's room", &["ann"]).await["id"]
        .as_i64()
        .unwrap();
    let anns = group(s, &w.ann, "Not Ada's", &[]).await["id"]
        .as_i64()
        .unwrap();
    let (_, reader) = agent_key(
        s,
        &w.ada,
        json!({"name": "reader", "permissions": ["conversations:read"]}),
    )
    .await;
    let (st, list) = get(s, &reader, "/api/v1/conversations").await;
    assert_eq!(st, StatusCode::OK);
    let ids: Vec<i64> = list["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_i64().unwrap())
        .collect();
    assert!(ids.contains(&adas));
    assert!(!ids.contains(&anns));
    assert_eq!(
        get(s, &reader, &conv_path(anns)).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(get(s, &reader, &conv_path(adas)).await.0, StatusCode::OK);
    // Without the permission the matrix refuses.
    let (st, _) = call(
        s,
        &reader,
        Method::POST,
        "/api/v1/conversations",
        Some(json!({"kind": "group", "title": "k"})),
    )
    .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    assert_eq!(
        get(s, &reader, &messages_path(adas)).await.0,
        StatusCode::FORBIDDEN
    );
    let (_, writer) = agent_key(
        s,
        &w.ada,
        json!({"name": "maker", "permissions": ["conversations:write", "conversations:edit"]}),
    )
    .await;
    let (st, v) = call(
        s,
        &writer,
        Method::POST,
        "/api/v1/conversations",
        Some(json!({"kind": "group", "title": "By key"})),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    assert_eq!(v["created_by"], w.ids["ada"]);
    assert_eq!(member_names(&v), ["ada"]);
    // A key never moderates: it manages only what its creator created.
    let (st, _) = call(
        s,
        &writer,
        Method::PATCH,
        &conv_path(anns),
        Some(json!({"title": "x"})),
    )
    .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let shared = group(s, &w.ann, "Shared with Ada", &["ada"]).await["id"]
        .as_i64()
        .unwrap();
    let (st, _) = call(
        s,
        &writer,
        Method::PATCH,
        &conv_path(shared),
        Some(json!({"title": "x"})),
    )
    .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
}
