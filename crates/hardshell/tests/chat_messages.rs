//! Messages (issue 6) against the real server: pagination bounds, input
//! validation that leaves nothing stored, authorship rules for edit and
//! delete, guests, sanitised Markdown and mentions, attachment rights, and
//! agent keys posting as themselves. One installation for all scenarios.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Server;
use common::chat::{call, get, group, message_ids, messages_path, post, post_raw, upload_text};
use common::identity::{agent_key, audit_rows, bearer, installation, tokens};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

struct World {
    server: Server,
    ann: String,
    bob: String,
    cat: String,
    gus: String,
    ada: String,
    olga: String,
}

fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or_default()
}

fn msg_path(conv: i64, id: i64) -> String {
    format!("{}/{id}", messages_path(conv))
}

fn id(v: &Value) -> i64 {
    v["id"].as_i64().unwrap()
}

#[tokio::test]
async fn messages() {
    let (env, server) = installation(&[
        ("ann", "member"),
        ("bob", "member"),
        ("cat", "member"),
        ("gus", "guest"),
        ("ada", "admin"),
        ("olga", "owner"),
    ]);
    let w = World {
        ann: tokens(&server, "ann").await.0,
        bob: tokens(&server, "bob").await.0,
        cat: tokens(&server, "cat").await.0,
        gus: tokens(&server, "gus").await.0,
        ada: tokens(&server, "ada").await.0,
        olga: tokens(&server, "olga").await.0,
        server,
    };
    let team = id(&group(&w.server, &w.ann, "Team", &["bob", "gus", "ada"]).await);

    pagination_and_its_bounds(&w).await;
    bad_posts_are_refused_and_store_nothing(&w, team).await;
    replies_stay_in_their_conversation(&w, team).await;
    only_authors_edit(&w, team).await;
    authors_and_admins_delete(&w, team).await;
    guests_read_but_never_write(&w, team).await;
    xss_payloads_are_sanitised(&w, team).await;
    mentions_resolve_against_members(&w, team).await;
    attachments_need_upload_rights(&w, team).await;
    let key_id = agent_keys_post_as_themselves(&w).await;

    let rows = audit_rows(&env);
    let moderated: Vec<_> = rows
        .iter()
        .filter(|r| r.0 == "chat.message_deleted")
        .collect();
    assert_eq!(
        moderated.len(),
        1,
        "exactly the admin's deletion is audited"
    );
    assert_eq!(moderated[0].1, "user");
    assert!(
        rows.iter()
            .any(|r| r.0 == "chat.message_posted" && r.1 == "agent_key" && r.2 == key_id),
        "agent-key posts are audited"
    );
    assert!(
        rows.iter()
            .filter(|r| r.0 == "chat.message_posted")
            .all(|r| r.1 == "agent_key"),
        "human posts are not audited"
    );
}

async fn page(s: &Server, token: &str, conv: i64, query: &str) -> (StatusCode, Vec<i64>) {
    let (st, v) = get(s, token, &format!("{}{query}", messages_path(conv))).await;
    let ids = v["messages"]
        .as_array()
        .map(|a| a.iter().map(id).collect())
        .unwrap_or_default();
    (st, ids)
}

async fn pagination_and_its_bounds(w: &World) {
    let s = &w.server;
    let c = id(&group(s, &w.ann, "Pages", &["bob"]).await);
    let mut all = Vec::new();
    for i in 0..7 {
        all.push(id(&post(
            s,
            if i % 2 == 0 { &w.ann } else { &w.bob },
            c,
            &format!("m{i}"),
        )
        .await));
    }
    assert_eq!(page(s, &w.bob, c, "").await, (StatusCode::OK, all.clone()));
    assert_eq!(page(s, &w.bob, c, "?limit=3").await.1, all[4..]);
    assert_eq!(
        page(s, &w.bob, c, &format!("?limit=3&before={}", all[4]))
            .await
            .1,
        all[1..4]
    );
    assert_eq!(
        page(s, &w.bob, c, &format!("?before={}", all[1])).await.1,
        all[..1]
    );
    assert!(
        page(s, &w.bob, c, &format!("?before={}", all[0]))
            .await
            .1
            .is_empty()
    );
    assert_eq!(page(s, &w.bob, c, "?limit=1").await.1, all[6..]);
    assert_eq!(page(s, &w.bob, c, "?limit=100").await.1, all);
    for bad in [
        "?limit=0",
        "?limit=101",
        "?limit=-1",
        "?limit=abc",
        "?before=x",
    ] {
        let (st, v) = get(s, &w.bob, &format!("{}{bad}", messages_path(c))).await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{bad}: {v}");
        assert!(!code(&v).is_empty());
    }
}

async fn bad_posts_are_refused_and_store_nothing(w: &World, team: i64) {
    let s = &w.server;
    let other = id(&group(s, &w.ann, "Elsewhere", &[]).await);
    let foreign = id(&post(s, &w.ann, other, "over there").await);
    let before = message_ids(s, &w.ann, team).await;

    let resp = bearer(s, &w.ann, Method::POST, &messages_path(team))
        .header("content-type", "application/json")
        .body("{\"text\": \"unterminated")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(!code(&resp.json::<Value>().await.unwrap()).is_empty());

    let eleven: Vec<String> = (0..11).map(|i| format!("upload{i}")).collect();
    let cases = [
        (json!({"text": ""}), "invalid_text"),
        (json!({"text": " \n\t "}), "invalid_text"),
        (json!({"text": "x".repeat(16_001)}), "invalid_text"),
        (json!({"text": "hi", "reply_to": 999_999}), "bad_reply_to"),
        (json!({"text": "hi", "reply_to": foreign}), "bad_reply_to"),
        (
            json!({"text": "hi", "attachments": ["no-such-upload-id-000000"]}),
            "bad_attachment",
        ),
        (
            json!({"text": "hi", "attachments": eleven}),
            "bad_attachment",
        ),
    ];
    for (body, want) in cases {
        let (st, v) = post_raw(s, &w.ann, team, body).await;
        assert_eq!(
            (st, code(&v)),
            (StatusCode::UNPROCESSABLE_ENTITY, want),
            "{v}"
        );
    }
    // Wrong shapes are refused by the JSON layer, still as JSON.
    for body in [
        json!({"txt": "hi"}),
        json!({"text": 5}),
        json!({"text": "hi", "admin": true}),
    ] {
        let (st, v) = post_raw(s, &w.ann, team, body.clone()).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(!code(&v).is_empty());
    }
    assert_eq!(message_ids(s, &w.ann, team).await, before, "nothing stored");
    // The boundary itself is accepted.
    let (st, _) = post_raw(s, &w.ann, team, json!({"text": "y".repeat(16_000)})).await;
    assert_eq!(st, StatusCode::CREATED);
}

async fn replies_stay_in_their_conversation(w: &World, team: i64) {
    let s = &w.server;
    let first = id(&post(s, &w.ann, team, "question?").await);
    let (st, v) = post_raw(
        s,
        &w.bob,
        team,
        json!({"text": "answer", "reply_to": first}),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED);
    assert_eq!(v["reply_to"], first);
    assert_eq!(v["author"]["kind"], "user");
    assert_eq!(v["author"]["name"], "bob");
    assert_eq!(v["edited_at"], Value::Null);
    assert!(v["created_at"].as_i64().unwrap() > 0);
}

async fn only_authors_edit(w: &World, team: i64) {
    let s = &w.server;
    let m = id(&post(s, &w.ann, team, "*draft*").await);
    let path = msg_path(team, m);
    for token in [&w.bob, &w.ada] {
        let (st, _) = call(
            s,
            token,
            Method::PATCH,
            &path,
            Some(json!({"text": "hijacked"})),
        )
        .await;
        assert_eq!(st, StatusCode::FORBIDDEN);
    }
    let (st, _) = call(
        s,
        &w.gus,
        Method::PATCH,
        &path,
        Some(json!({"text": "guest"})),
    )
    .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, v) = call(s, &w.ann, Method::PATCH, &path, Some(json!({"text": "  "}))).await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_text")
    );
    // The message must belong to the conversation in the path.
    let other = id(&group(s, &w.ann, "Edit elsewhere", &[]).await);
    let (st, _) = call(
        s,
        &w.ann,
        Method::PATCH,
        &msg_path(other, m),
        Some(json!({"text": "x"})),
    )
    .await;
    assert_eq!(st, StatusCode::NOT_FOUND);

    let (st, v) = call(
        s,
        &w.ann,
        Method::PATCH,
        &path,
        Some(json!({"text": "**final** @bob"})),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["text"], "**final** @bob");
    assert!(
        v["html"]
            .as_str()
            .unwrap()
            .contains("<strong>final</strong>")
    );
    assert!(
        v["html"]
            .as_str()
            .unwrap()
            .contains("<span class=\"mention\">@bob</span>")
    );
    assert_eq!(v["mentions"][0]["name"], "bob");
    assert!(v["edited_at"].as_i64().is_some());
    let (_, pg) = get(s, &w.bob, &format!("{}?limit=100", messages_path(team))).await;
    let stored = pg["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| id(x) == m)
        .unwrap()
        .clone();
    assert_eq!(stored["text"], "**final** @bob");
}

async fn authors_and_admins_delete(w: &World, team: i64) {
    let s = &w.server;
    let anns = id(&post(s, &w.ann, team, "mine").await);
    let bobs = id(&post(s, &w.bob, team, "bob's").await);
    for token in [&w.bob, &w.gus] {
        let (st, _) = call(s, token, Method::DELETE, &msg_path(team, anns), None).await;
        assert_eq!(st, StatusCode::FORBIDDEN);
    }
    let (st, _) = call(s, &w.ann, Method::DELETE, &msg_path(team, anns), None).await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    // An admin member may moderate anyone's message (audited).
    let (st, _) = call(s, &w.ada, Method::DELETE, &msg_path(team, bobs), None).await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let ids = message_ids(s, &w.ann, team).await;
    assert!(!ids.contains(&anns) && !ids.contains(&bobs));
    let (st, _) = call(s, &w.ann, Method::DELETE, &msg_path(team, anns), None).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
}

async fn guests_read_but_never_write(w: &World, team: i64) {
    let s = &w.server;
    let (st, _) = get(s, &w.gus, &messages_path(team)).await;
    assert_eq!(st, StatusCode::OK);
    let before = message_ids(s, &w.ann, team).await;
    let (st, _) = post_raw(s, &w.gus, team, json!({"text": "guest says"})).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    assert_eq!(message_ids(s, &w.ann, team).await, before);
}

async fn xss_payloads_are_sanitised(w: &World, team: i64) {
    let s = &w.server;
    let payloads = [
        "<img src=x onerror=alert(1)>",
        "<script>alert(1)</script>",
        "[x](javascript:alert(1))",
        "[x](JaVaScRiPt:alert(1))",
        "[x](&#106;avascript:alert(1))",
        "<svg onload=alert(1)>",
        "<a href=\"data:text/html;base64,PHNjcmlwdD4=\">x</a>",
        "<iframe src=\"https://evil.example\"></iframe>",
        "<style>*{display:none}</style>",
        "<javascript:alert(1)>",
        "![x](https://evil.example/track.png)",
        "<span class=\"mention\">@forged</span>",
    ];
    for p in payloads {
        let m = post(s, &w.ann, team, p).await;
        assert_eq!(m["text"], p, "raw text is kept as written");
        let html = m["html"].as_str().unwrap();
        for bad in [
            "<script",
            "<img",
            "<svg",
            "<iframe",
            "<style",
            " onerror=\"",
            " onload=\"",
            "<a href=\"javascript",
            "<a href=\"JaVaScRiPt",
            "<a href=\"data",
            "<span class=\"mention\">@forged",
        ] {
            assert!(!html.contains(bad), "{p} rendered as {html}");
        }
    }
    let m = post(s, &w.ann, team, "[ok](https://example.com)").await;
    let html = m["html"].as_str().unwrap();
    assert!(html.contains("href=\"https://example.com\""), "{html}");
    assert!(
        html.contains("rel=\"noopener noreferrer nofollow\""),
        "{html}"
    );
    assert!(html.contains("target=\"_blank\""), "{html}");
}

async fn mentions_resolve_against_members(w: &World, team: i64) {
    let s = &w.server;
    let m = post(
        s,
        &w.ann,
        team,
        "@BOB see `@ada`, mail cat@example.com, @cat @nobody",
    )
    .await;
    // cat is not a member; ada only appears in code.
    assert_eq!(
        m["mentions"],
        json!([{"kind": "user", "id": m["mentions"][0]["id"], "name": "bob"}])
    );
    let html = m["html"].as_str().unwrap();
    assert!(
        html.contains("<span class=\"mention\">@BOB</span>"),
        "{html}"
    );
    assert!(
        !html.contains("@cat</span>") && !html.contains("@nobody</span>"),
        "{html}"
    );
    let all = post(s, &w.bob, team, "@all standup").await;
    let names: Vec<&str> = all["mentions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["ann", "bob", "gus", "ada"]);
}

async fn attachments_need_upload_rights(w: &World, team: i64) {
    let s = &w.server;
    let anns = upload_text(s, &w.ann, "notes.txt", "meeting notes").await;
    let cats = upload_text(s, &w.cat, "cat.txt", "private to cat").await;
    // Bob can neither attach Ann's unshared upload nor Cat's.
    for upload in [&anns, &cats] {
        let (st, v) = post_raw(
            s,
            &w.bob,
            team,
            json!({"text": "look", "attachments": [upload]}),
        )
        .await;
        assert_eq!(
            (st, code(&v)),
            (StatusCode::UNPROCESSABLE_ENTITY, "bad_attachment")
        );
    }
    // Ann attaches her own; text may be empty when something is attached.
    let (st, m) = post_raw(
        s,
        &w.ann,
        team,
        json!({"text": "", "attachments": [anns, anns]}),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{m}");
    let att = &m["attachments"];
    assert_eq!(att.as_array().unwrap().len(), 1);
    assert_eq!(att[0]["id"], anns.as_str());
    assert_eq!(att[0]["name"], "notes.txt");
    assert_eq!(att[0]["mime"], "text/plain");
    assert_eq!(att[0]["inline"], false);
    assert_eq!(att[0]["url"], format!("/api/v1/uploads/{anns}"));
    let (_, pg) = get(s, &w.bob, &messages_path(team)).await;
    let listed = pg["messages"].as_array().unwrap().last().unwrap();
    assert_eq!(listed["attachments"], *att);
    // Now shared in Bob's conversation, Bob may attach it too.
    let (st, _) = post_raw(
        s,
        &w.bob,
        team,
        json!({"text": "again", "attachments": [anns]}),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED);
    // Cat is not in that conversation, so it is still not hers to attach.
    let cats_room = id(&group(s, &w.cat, "Cat's", &[]).await);
    let (st, v) = post_raw(
        s,
        &w.cat,
        cats_room,
        json!({"text": "x", "attachments": [anns]}),
    )
    .await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "bad_attachment")
    );
    assert!(message_ids(s, &w.cat, cats_room).await.is_empty());
}

async fn agent_keys_post_as_themselves(w: &World) -> String {
    let s = &w.server;
    let adas = id(&group(s, &w.ada, "Ada and keys", &["ann"]).await);
    let anns = id(&group(s, &w.ann, "No keys here", &[]).await);
    let (_, reader) = agent_key(
        s,
        &w.ada,
        json!({"name": "reader", "permissions": ["messages:read"]}),
    )
    .await;
    assert_eq!(
        get(s, &reader, &messages_path(adas)).await.0,
        StatusCode::OK
    );
    assert_eq!(
        get(s, &reader, &messages_path(anns)).await.0,
        StatusCode::NOT_FOUND
    );
    let (st, _) = post_raw(s, &reader, adas, json!({"text": "no"})).await;
    assert_eq!(st, StatusCode::FORBIDDEN);

    let (key_id, poster) = agent_key(
        s,
        &w.ada,
        json!({"name": "poster", "permissions": ["messages:read", "messages:write"]}),
    )
    .await;
    let (st, m) = post_raw(s, &poster, adas, json!({"text": "beep @ann"})).await;
    assert_eq!(st, StatusCode::CREATED, "{m}");
    assert_eq!(
        m["author"],
        json!({"kind": "key", "id": key_id, "name": "poster"})
    );
    assert_eq!(m["mentions"][0]["name"], "ann");
    let (st, _) = post_raw(s, &poster, anns, json!({"text": "intrude"})).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    // Editing needs messages:edit.
    let (st, _) = call(
        s,
        &poster,
        Method::PATCH,
        &msg_path(adas, id(&m)),
        Some(json!({"text": "x"})),
    )
    .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    // The creator itself is not the key: Ada cannot edit the key's message.
    let (st, _) = call(
        s,
        &w.ada,
        Method::PATCH,
        &msg_path(adas, id(&m)),
        Some(json!({"text": "x"})),
    )
    .await;
    assert_eq!(st, StatusCode::FORBIDDEN);

    // Once the creator is demoted to guest, the key can no longer post.
    let (_, users) = get(s, &w.olga, "/api/v1/users").await;
    let ada = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "ada")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let (st, _) = call(
        s,
        &w.olga,
        Method::PATCH,
        &format!("/api/v1/users/{ada}"),
        Some(json!({"role": "guest"})),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    let before = message_ids(s, &w.ann, adas).await;
    let (st, _) = post_raw(s, &poster, adas, json!({"text": "still here?"})).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    assert_eq!(message_ids(s, &w.ann, adas).await, before);
    key_id
}
