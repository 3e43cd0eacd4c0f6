//! A person's data on the real server: the export archive (yourself or the
//! owner; everyone else refused) and erasure (API and CLI) with tombstones
//! in shared conversations, the audit chain still verifying.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::io::Read;

use common::chat::{call, get, group, post, post_raw, upload_text};
use common::client;
use common::identity::{agent_key, audit_rows, bearer, db, installation, pf, tokens};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// The archive's files by path.
fn untar(bytes: &[u8]) -> HashMap<String, Vec<u8>> {
    let mut out = HashMap::new();
    let mut ar = tar::Archive::new(bytes);
    for entry in ar.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().to_string_lossy().into_owned();
        let mut buf = Vec::new();
        entry.read_to_end(&mut buf).unwrap();
        out.insert(path, buf);
    }
    out
}

fn json_file(files: &HashMap<String, Vec<u8>>, name: &str) -> Value {
    serde_json::from_slice(files.get(name).unwrap_or_else(|| panic!("no {name}"))).unwrap()
}

fn user_id(me: &Value) -> i64 {
    me["user"]["id"].as_i64().or(me["id"].as_i64()).unwrap()
}

async fn id_of(server: &common::Server, token: &str) -> i64 {
    let (s, me) = get(server, token, "/api/v1/auth/me").await;
    assert_eq!(s, StatusCode::OK);
    user_id(&me)
}

async fn export(server: &common::Server, token: &str, id: i64) -> (StatusCode, Vec<u8>) {
    let resp = bearer(
        server,
        token,
        Method::GET,
        &format!("/api/v1/users/{id}/export"),
    )
    .send()
    .await
    .unwrap();
    let status = resp.status();
    if status == StatusCode::OK {
        assert_eq!(resp.headers()["content-type"], "application/x-tar");
        assert!(
            resp.headers()["content-disposition"]
                .to_str()
                .unwrap()
                .starts_with("attachment;")
        );
    }
    (status, resp.bytes().await.unwrap().to_vec())
}

#[tokio::test(flavor = "multi_thread")]
async fn export_then_erase_round_trip() {
    let (env, server) = installation(&[
        ("olga", "owner"),
        ("adam", "admin"),
        ("ann", "member"),
        ("bob", "member"),
    ]);
    let owner = tokens(&server, "olga").await.0;
    let admin = tokens(&server, "adam").await.0;
    let ann = tokens(&server, "ann").await.0;
    let bob = tokens(&server, "bob").await.0;
    let ann_id = id_of(&server, &ann).await;

    // Ann's life: a shared group with Bob, a group only she is in, an
    // attached upload, a memory about her, a bookmark.
    let shared = group(&server, &ann, "kitchen", &["bob"]).await["id"]
        .as_i64()
        .unwrap();
    let alone = group(&server, &ann, "diary", &[]).await["id"]
        .as_i64()
        .unwrap();
    let upload = upload_text(&server, &ann, "recipe.txt", "two eggs and saffron").await;
    let (s, with_file) = post_raw(
        &server,
        &ann,
        shared,
        json!({"text": "ann's secret recipe", "attachments": [upload]}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{with_file}");
    let bobs = post(&server, &bob, shared, "bob says thanks").await;
    post(&server, &ann, alone, "ann's private diary line").await;
    let (_, agents) = get(&server, &owner, "/api/v1/agents").await;
    let agent = agents.as_array().or(agents["agents"].as_array()).unwrap()[0]["id"]
        .as_i64()
        .unwrap();
    let (s, v) = call(
        &server,
        &owner,
        Method::POST,
        &format!("/api/v1/agents/{agent}/memories"),
        Some(json!({"text": "ann is allergic to walnuts", "scope": "user", "user_id": ann_id})),
    )
    .await;
    assert!(s.is_success(), "{v}");
    let (s, v) = call(
        &server,
        &ann,
        Method::POST,
        "/api/v1/bookmarks",
        Some(json!({"url": "https://example.org/saffron", "title": "Saffron"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");

    // Who may export: Ann herself and the owner; nobody else.
    let (s, _) = export(&server, &bob, ann_id).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = export(&server, &admin, ann_id).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (_, key) = agent_key(
        &server,
        &owner,
        json!({"name": "k", "permissions": ["messages:read"]}),
    )
    .await;
    let (s, _) = export(&server, &key, ann_id).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let resp = client()
        .get(server.url(&format!("/api/v1/users/{ann_id}/export")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let (s, _) = export(&server, &owner, 9999).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, by_owner) = export(&server, &owner, ann_id).await;
    assert_eq!(s, StatusCode::OK);
    assert!(!by_owner.is_empty());

    let (s, bytes) = export(&server, &ann, ann_id).await;
    assert_eq!(s, StatusCode::OK);
    let files = untar(&bytes);
    let manifest = json_file(&files, "manifest.json");
    assert_eq!(manifest["format"], "hardshell-user-export-v1");
    assert_eq!(manifest["user"]["username"], "ann");
    let messages = json_file(&files, "messages.json").to_string();
    assert!(messages.contains("ann's secret recipe"), "{messages}");
    assert!(messages.contains("ann's private diary line"), "{messages}");
    assert!(!messages.contains("bob says thanks"), "{messages}");
    let uploads = json_file(&files, "uploads.json");
    assert_eq!(uploads[0]["public_id"], upload.as_str());
    assert_eq!(
        files.get(&format!("uploads/{upload}")).map(Vec::as_slice),
        Some(b"two eggs and saffron".as_slice())
    );
    assert!(uploads[0].get("file_name").is_none(), "{uploads}");
    assert!(
        json_file(&files, "memories.json")
            .to_string()
            .contains("walnuts")
    );
    assert!(
        json_file(&files, "bookmarks.json")
            .to_string()
            .contains("https://example.org/saffron")
    );
    let sessions = json_file(&files, "sessions.json");
    assert!(!sessions.as_array().unwrap().is_empty());
    let sessions_text = sessions.to_string();
    assert!(!sessions_text.contains(&ann) && !sessions_text.contains("hash"));
    let audit = String::from_utf8(files["audit.jsonl"].clone()).unwrap();
    assert!(audit.contains("\"user.create\""), "{audit}");
    // Nothing of anyone else's secrets: no token, no other user's messages.
    let all: Vec<u8> = files.values().flatten().copied().collect();
    let all = String::from_utf8_lossy(&all);
    assert!(!all.contains(&bob) && !all.contains(&owner));

    // Bob has the conversation open when Ann is erased.
    let (mut bob_ws, _) = common::ws::connect(&server, common::ws::Cred::Bearer(&bob), "").await;

    // Erase Ann through the API (the owner only).
    let erase_path = format!("/api/v1/users/{ann_id}?erase=true");
    let (s, _) = call(&server, &admin, Method::DELETE, &erase_path, None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, v) = call(&server, &owner, Method::DELETE, &erase_path, None).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");

    let live = common::ws::next_of(
        &mut bob_ws,
        "message.updated",
        std::time::Duration::from_secs(10),
    )
    .await;
    assert_eq!(live["conversation_id"], shared);
    assert_eq!(live["data"]["id"], with_file["id"]);
    assert_eq!(live["data"]["text"], "");
    assert!(!live.to_string().contains("secret recipe"), "{live}");

    // Bob's conversation keeps his message and a tombstone for hers.
    let (s, page) = get(
        &server,
        &bob,
        &format!("/api/v1/conversations/{shared}/messages"),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let msgs = page["messages"].as_array().unwrap();
    let text = page.to_string();
    assert!(!text.contains("secret recipe"), "{text}");
    assert!(text.contains("bob says thanks"));
    let tomb = msgs
        .iter()
        .find(|m| m["id"] == with_file["id"])
        .expect("the tombstone stays in place");
    assert_eq!(tomb["text"], "");
    assert_eq!(tomb["attachments"], json!([]));
    assert!(msgs.iter().any(|m| m["id"] == bobs["id"]));
    // Search no longer finds her words.
    let (_, hits) = get(&server, &bob, "/api/v1/search?q=recipe").await;
    assert_eq!(hits["hits"], json!([]), "{hits}");
    // The upload is gone, for Bob too, and its file left the disk.
    let (s, _) = get(&server, &bob, &format!("/api/v1/uploads/{upload}")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let conn = db(&env);
    let count = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).unwrap() };
    assert_eq!(count("SELECT count(*) FROM uploads"), 0);
    let files_left = std::fs::read_dir(env.data.join("uploads"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(files_left, 0);
    assert_eq!(
        count(&format!(
            "SELECT count(*) FROM conversations WHERE id = {alone}"
        )),
        0
    );
    assert_eq!(
        count("SELECT count(*) FROM agent_memories WHERE text LIKE '%walnuts%'"),
        0
    );
    assert_eq!(count("SELECT count(*) FROM bookmarks"), 0);
    assert_eq!(
        count("SELECT count(*) FROM messages WHERE text LIKE '%diary%'"),
        0
    );
    assert_eq!(
        count(&format!("SELECT count(*) FROM users WHERE id = {ann_id}")),
        0
    );
    // Her sessions went with her account.
    let (s, _) = get(&server, &ann, "/api/v1/auth/me").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    // Audited, and the chain still verifies.
    let rows = audit_rows(&env);
    assert!(rows.iter().any(|r| r.0 == "user.export"), "{rows:?}");
    assert!(rows.iter().any(|r| r.0 == "user.erase"), "{rows:?}");
    let resp = bearer(&server, &owner, Method::POST, "/api/v1/audit/verify")
        .send()
        .await
        .unwrap();
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["intact"], true, "{v}");

    // And from the shell: Bob, erased with `users delete --erase`.
    drop(server);
    let p = pf(&env);
    let out = env.ok(
        &["users", "delete", "bob", "--erase", "--passphrase-file", &p],
        None,
    );
    assert!(out.contains("erased"), "{out}");
    let conn = db(&env);
    let left: i64 = conn
        .query_row(
            "SELECT count(*) FROM messages WHERE text LIKE '%thanks%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(left, 0);
    let out = env.ok(&["audit", "verify", "--passphrase-file", &p], None);
    assert!(out.to_lowercase().contains("intact"), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreadable_upload_is_listed_and_the_rest_is_still_exported() {
    let (env, server) = installation(&[("olga", "owner"), ("ann", "member")]);
    let ann = tokens(&server, "ann").await.0;
    let ann_id = id_of(&server, &ann).await;
    let conv = group(&server, &ann, "notes", &[]).await["id"]
        .as_i64()
        .unwrap();
    let upload = upload_text(&server, &ann, "a.txt", "alpha").await;
    let (s, _) = post_raw(
        &server,
        &ann,
        conv,
        json!({"text": "see file", "attachments": [upload]}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    for f in std::fs::read_dir(env.data.join("uploads")).unwrap() {
        std::fs::write(f.unwrap().path(), b"tampered").unwrap();
    }
    let (s, bytes) = export(&server, &ann, ann_id).await;
    assert_eq!(s, StatusCode::OK);
    let files = untar(&bytes);
    let uploads = json_file(&files, "uploads.json");
    assert_eq!(uploads[0]["public_id"], upload.as_str());
    assert!(uploads[0]["path"].is_null(), "{uploads}");
    assert!(!files.contains_key(&format!("uploads/{upload}")));
    assert!(
        json_file(&files, "messages.json")
            .to_string()
            .contains("see file")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn erasing_the_last_owner_is_refused_and_changes_nothing() {
    let (env, server) = installation(&[("olga", "owner")]);
    let owner = tokens(&server, "olga").await.0;
    let olga_id = id_of(&server, &owner).await;
    let conv = group(&server, &owner, "mine", &[]).await["id"]
        .as_i64()
        .unwrap();
    post(&server, &owner, conv, "still here").await;
    let (s, v) = call(
        &server,
        &owner,
        Method::DELETE,
        &format!("/api/v1/users/{olga_id}?erase=true"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    let (s, page) = get(
        &server,
        &owner,
        &format!("/api/v1/conversations/{conv}/messages"),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.to_string().contains("still here"));
    assert!(!audit_rows(&env).iter().any(|r| r.0 == "user.erase"));
}
