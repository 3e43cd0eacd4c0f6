//! Bookmarks on the real server: CRUD, duplicates, validation, list
//! filters, search and cursors, folder deletion, the agent-key scope
//! matrix, attribution and bulk semantics (import sessions are in
//! `bookmarks_io.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::chat::call;
use common::identity::{agent_key, audit_rows, db, installation, tokens};
use common::{Server, client};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const BM: &str = "/api/v1/bookmarks";

async fn create(server: &Server, token: &str, body: Value) -> Value {
    let (s, v) = call(server, token, Method::POST, BM, Some(body)).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v
}

async fn folder(server: &Server, token: &str, name: &str, parent: Option<i64>) -> i64 {
    let (s, v) = call(
        server,
        token,
        Method::POST,
        "/api/v1/folders",
        Some(json!({"name": name, "parent_id": parent})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v["id"].as_i64().unwrap()
}

fn ids(page: &Value) -> Vec<i64> {
    page["bookmarks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["id"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn crud_duplicates_and_validation() {
    let (_env, server) = installation(&[("olga", "owner"), ("ann", "member"), ("gus", "guest")]);
    let olga = tokens(&server, "olga").await.0;
    let ann = tokens(&server, "ann").await.0;
    let gus = tokens(&server, "gus").await.0;

    let b = create(
        &server,
        &olga,
        json!({"url": "HTTPS://Example.COM:443/docs/#intro", "title": " Docs ",
               "tags": ["Rust", "rust", "Web Dev"], "color": "#AABBCC"}),
    )
    .await;
    assert_eq!(b["url"], "https://example.com/docs/#intro");
    assert_eq!(b["title"], "Docs");
    assert_eq!(b["tags"], json!(["rust", "web-dev"]));
    assert_eq!(b["color"], "#aabbcc");
    assert_eq!(b["created_by"]["kind"], "user");
    let id = b["id"].as_i64().unwrap();

    // The same normalised URL (fragment, trailing slash) is a duplicate.
    for dup in [
        "https://example.com/docs",
        "https://EXAMPLE.com/docs/?#other",
    ] {
        let (s, v) = call(&server, &olga, Method::POST, BM, Some(json!({"url": dup}))).await;
        assert_eq!(s, StatusCode::CONFLICT, "{dup}: {v}");
        assert_eq!(v["error"]["code"], "duplicate");
    }
    // Another user may bookmark the same URL; they never see olga's.
    create(&server, &ann, json!({"url": "https://example.com/docs"})).await;
    let (s, _) = call(&server, &ann, Method::GET, &format!("{BM}/{id}"), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = call(&server, &ann, Method::DELETE, &format!("{BM}/{id}"), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // Guests have no bookmarks.
    let (s, _) = call(&server, &gus, Method::GET, BM, None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // Refused: hostile schemes, bad fields, unknown fields, too many tags.
    let many: Vec<String> = (0..21).map(|i| format!("t{i}")).collect();
    for (body, code) in [
        (json!({"url": "javascript:alert(1)"}), "invalid_bookmark"),
        (
            json!({"url": "data:text/html,<script>alert(1)</script>"}),
            "invalid_bookmark",
        ),
        (json!({"url": "file:///etc/passwd"}), "invalid_bookmark"),
        (
            json!({"url": "https://u:p@example.org/"}),
            "invalid_bookmark",
        ),
        (
            json!({"url": "https://example.org/", "tags": many}),
            "invalid_bookmark",
        ),
        (
            json!({"url": "https://example.org/", "color": "red"}),
            "invalid_bookmark",
        ),
        (
            json!({"url": "https://example.org/", "folder_id": 999}),
            "no_such_folder",
        ),
        (
            json!({"url": "https://example.org/", "owner": 1}),
            "invalid_body",
        ),
    ] {
        let (s, v) = call(&server, &olga, Method::POST, BM, Some(body.clone())).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {v}");
        assert_eq!(v["error"]["code"], code, "{body}");
    }

    // PATCH: change, clear, and refuse a duplicate URL or unknown field.
    let (s, v) = call(
        &server,
        &olga,
        Method::PATCH,
        &format!("{BM}/{id}"),
        Some(json!({"title": "New", "color": null, "tags": []})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["title"], "New");
    assert_eq!(v["color"], Value::Null);
    assert_eq!(v["tags"], json!([]));
    assert_eq!(v["url"], "https://example.com/docs/#intro", "untouched");
    let other = create(&server, &olga, json!({"url": "https://other.example/"})).await;
    let (s, _) = call(
        &server,
        &olga,
        Method::PATCH,
        &format!("{BM}/{}", other["id"]),
        Some(json!({"url": "https://example.com/docs/"})),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (s, _) = call(
        &server,
        &olga,
        Method::PATCH,
        &format!("{BM}/{id}"),
        Some(json!({"nope": true})),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);

    // Star and archive.
    let (s, v) = call(
        &server,
        &olga,
        Method::POST,
        &format!("{BM}/{id}/star"),
        None,
    )
    .await;
    assert_eq!((s, v["starred"].clone()), (StatusCode::OK, json!(true)));
    let (_, v) = call(
        &server,
        &olga,
        Method::POST,
        &format!("{BM}/{id}/archive"),
        None,
    )
    .await;
    assert_eq!(v["archived"], true);
    let (_, v) = call(
        &server,
        &olga,
        Method::DELETE,
        &format!("{BM}/{id}/star"),
        None,
    )
    .await;
    assert_eq!(v["starred"], false);

    // Delete.
    let (s, _) = call(&server, &olga, Method::DELETE, &format!("{BM}/{id}"), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = call(&server, &olga, Method::GET, &format!("{BM}/{id}"), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // Once deleted, the URL can be bookmarked again.
    create(&server, &olga, json!({"url": "https://example.com/docs"})).await;
}

#[tokio::test]
async fn list_filters_search_cursor_tags_and_stats() {
    let (_env, server) = installation(&[("olga", "owner")]);
    let t = tokens(&server, "olga").await.0;
    let f = folder(&server, &t, "Work", None).await;
    let mut made = Vec::new();
    for (i, (title, tags, starred)) in [
        ("Tokio tutorial", vec!["rust", "async"], true),
        ("Serde guide", vec!["rust"], false),
        ("Bread recipes", vec!["food"], true),
        ("Async Python", vec!["python", "async"], false),
        ("Quarterly report", vec![], false),
    ]
    .into_iter()
    .enumerate()
    {
        let folder_id = if i == 4 { Some(f) } else { None };
        let b = create(
            &server,
            &t,
            json!({"url": format!("https://site{i}.example/page"), "title": title,
                   "tags": tags, "starred": starred, "folder_id": folder_id,
                   "description": if i == 2 { "sourdough and rye" } else { "" }}),
        )
        .await;
        made.push(b["id"].as_i64().unwrap());
    }
    let newest_first: Vec<i64> = made.iter().rev().copied().collect();

    // Cursor pages cover everything once, newest first.
    let mut seen = Vec::new();
    let mut cursor: Option<i64> = None;
    loop {
        let path = match cursor {
            Some(c) => format!("{BM}?limit=2&cursor={c}"),
            None => format!("{BM}?limit=2"),
        };
        let (s, page) = call(&server, &t, Method::GET, &path, None).await;
        assert_eq!(s, StatusCode::OK, "{page}");
        seen.extend(ids(&page));
        match page["next_cursor"].as_i64() {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(seen, newest_first);

    let q = |path: &str| {
        let path = format!("{BM}?{path}");
        let server = &server;
        let t = t.clone();
        async move {
            let (s, page) = call(server, &t, Method::GET, &path, None).await;
            assert_eq!(s, StatusCode::OK, "{path}: {page}");
            ids(&page)
        }
    };
    assert_eq!(q("starred=true").await, [made[2], made[0]]);
    assert_eq!(q("tag=ASYNC").await, [made[3], made[0]]);
    assert_eq!(q(&format!("folder={f}")).await, [made[4]]);
    assert_eq!(q("folder=root").await.len(), 4);
    // Search: title, description, URL and tags; every word must match.
    assert_eq!(q("q=async").await, [made[3], made[0]]);
    assert_eq!(q("q=sourdough").await, [made[2]]);
    assert_eq!(q("q=site1.example").await, [made[1]]);
    assert_eq!(q("q=python%20async").await, [made[3]]);
    assert_eq!(q("q=rust&starred=true").await, [made[0]]);
    // FTS syntax typed by a user is matched as text, never run.
    assert!(q("q=%22%20OR%20title:*%20NEAR(").await.is_empty());
    for bad in ["limit=0", "limit=201", "folder=abc", "bogus=1", "q=%2A%2A"] {
        let (s, _) = call(&server, &t, Method::GET, &format!("{BM}?{bad}"), None).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}");
    }

    let (_, tags) = call(&server, &t, Method::GET, &format!("{BM}/tags"), None).await;
    assert_eq!(
        tags,
        json!([{"tag": "async", "count": 2}, {"tag": "rust", "count": 2},
               {"tag": "food", "count": 1}, {"tag": "python", "count": 1}])
    );
    let (_, stats) = call(&server, &t, Method::GET, &format!("{BM}/stats"), None).await;
    assert_eq!(stats["total"], 5);
    assert_eq!(stats["starred"], 2);
    assert_eq!(stats["folders"], 1);
    assert_eq!(stats["tags"], 4);
}

#[tokio::test]
async fn deleting_a_folder_moves_its_contents_to_the_parent() {
    let (env, server) = installation(&[("olga", "owner"), ("ann", "member")]);
    let t = tokens(&server, "olga").await.0;
    let ann = tokens(&server, "ann").await.0;
    let a = folder(&server, &t, "A", None).await;
    let b = folder(&server, &t, "B", Some(a)).await;
    let c = folder(&server, &t, "C", Some(b)).await;
    let in_b = create(
        &server,
        &t,
        json!({"url": "https://b.example/", "folder_id": b}),
    )
    .await;
    let in_c = create(
        &server,
        &t,
        json!({"url": "https://c.example/", "folder_id": c}),
    )
    .await;

    // A folder cannot move inside itself or its descendants.
    for target in [a, c] {
        let (s, v) = call(
            &server,
            &t,
            Method::PATCH,
            &format!("/api/v1/folders/{a}"),
            Some(json!({"parent_id": target})),
        )
        .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        assert_eq!(v["error"]["code"], "folder_cycle");
    }
    // Another user's folder is not a folder for you.
    let (s, _) = call(
        &server,
        &ann,
        Method::POST,
        BM,
        Some(json!({"url": "https://x.example/", "folder_id": a})),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, _) = call(
        &server,
        &ann,
        Method::DELETE,
        &format!("/api/v1/folders/{a}"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    let (s, v) = call(
        &server,
        &t,
        Method::DELETE,
        &format!("/api/v1/folders/{b}"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        v,
        json!({"id": b, "parent_id": a, "moved_bookmarks": 1, "moved_folders": 1})
    );
    let (_, moved) = call(
        &server,
        &t,
        Method::GET,
        &format!("{BM}/{}", in_b["id"]),
        None,
    )
    .await;
    assert_eq!(moved["folder_id"], a);
    let (_, still) = call(
        &server,
        &t,
        Method::GET,
        &format!("{BM}/{}", in_c["id"]),
        None,
    )
    .await;
    assert_eq!(still["folder_id"], c);
    let (_, folders) = call(&server, &t, Method::GET, "/api/v1/folders", None).await;
    let c_row = folders
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == c)
        .unwrap();
    assert_eq!(c_row["parent_id"], a);
    // Deleting the top folder moves everything to the top level.
    call(
        &server,
        &t,
        Method::DELETE,
        &format!("/api/v1/folders/{a}"),
        None,
    )
    .await;
    let (_, moved) = call(
        &server,
        &t,
        Method::GET,
        &format!("{BM}/{}", in_b["id"]),
        None,
    )
    .await;
    assert_eq!(moved["folder_id"], Value::Null);
    drop(server);
    // No dangling reference anywhere.
    let conn = db(&env);
    let broken: i64 = conn
        .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(broken, 0);
    let audit = audit_rows(&env);
    assert!(
        audit
            .iter()
            .any(|r| r.0 == "folder.delete" && r.3 == format!("folder:{b}"))
    );
}

/// Each bookmark route with the one permission a key needs for it.
fn scope_table(id: i64, folder: i64) -> Vec<(Method, String, Option<Value>, &'static str)> {
    vec![
        (Method::GET, BM.into(), None, "bookmarks:read"),
        (Method::GET, format!("{BM}/{id}"), None, "bookmarks:read"),
        (Method::GET, format!("{BM}/tags"), None, "bookmarks:read"),
        (Method::GET, format!("{BM}/stats"), None, "bookmarks:read"),
        (
            Method::GET,
            format!("{BM}/export?format=json"),
            None,
            "bookmarks:read",
        ),
        (
            Method::GET,
            "/api/v1/folders".into(),
            None,
            "bookmarks:read",
        ),
        (
            Method::POST,
            BM.into(),
            Some(json!({"url": "https://new.example/"})),
            "bookmarks:write",
        ),
        (
            Method::POST,
            format!("{BM}/bulk"),
            Some(json!([])),
            "bookmarks:write",
        ),
        (
            Method::POST,
            "/api/v1/folders".into(),
            Some(json!({"name": "K"})),
            "bookmarks:write",
        ),
        (
            Method::PATCH,
            format!("{BM}/{id}"),
            Some(json!({"title": "t"})),
            "bookmarks:edit",
        ),
        (
            Method::POST,
            format!("{BM}/{id}/star"),
            None,
            "bookmarks:edit",
        ),
        (
            Method::DELETE,
            format!("{BM}/{id}/archive"),
            None,
            "bookmarks:edit",
        ),
        (
            Method::PATCH,
            format!("/api/v1/folders/{folder}"),
            Some(json!({"name": "F2"})),
            "bookmarks:edit",
        ),
        (
            Method::DELETE,
            format!("{BM}/999999"),
            None,
            "bookmarks:delete",
        ),
        (
            Method::DELETE,
            "/api/v1/folders/999999".into(),
            None,
            "bookmarks:delete",
        ),
    ]
}

#[tokio::test]
async fn agent_key_scope_matrix_and_attribution() {
    let (env, server) = installation(&[("olga", "owner")]);
    let t = tokens(&server, "olga").await.0;
    let b = create(&server, &t, json!({"url": "https://owned.example/"})).await;
    let id = b["id"].as_i64().unwrap();
    let f = folder(&server, &t, "F", None).await;
    let perms = [
        "bookmarks:read",
        "bookmarks:write",
        "bookmarks:edit",
        "bookmarks:delete",
    ];
    let mut keys = Vec::new();
    for p in perms {
        keys.push((
            p,
            agent_key(&server, &t, json!({"name": p, "permissions": [p]})).await,
        ));
    }
    let other = agent_key(
        &server,
        &t,
        json!({"name": "msgs", "permissions": ["messages:read"]}),
    )
    .await;
    for (method, path, body, needed) in scope_table(id, f) {
        for (perm, (_, key)) in &keys {
            let (s, v) = call(&server, key, method.clone(), &path, body.clone()).await;
            if *perm == needed {
                assert_ne!(s, StatusCode::FORBIDDEN, "{perm} {method} {path}: {v}");
                assert_ne!(s, StatusCode::UNAUTHORIZED, "{perm} {method} {path}");
            } else {
                assert_eq!(s, StatusCode::FORBIDDEN, "{perm} on {method} {path}: {v}");
            }
        }
        let (s, _) = call(&server, &other.1, method.clone(), &path, body.clone()).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "messages key on {method} {path}");
        let r = client()
            .request(method.clone(), server.url(&path))
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            StatusCode::UNAUTHORIZED,
            "anonymous {method} {path}"
        );
    }
    // Keys never open import sessions.
    let (s, _) = call(
        &server,
        keys[1].1.1.as_str(),
        Method::POST,
        &format!("{BM}/import-sessions"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // A key works on its creator's bookmarks, attributed to the key.
    let (key_id, writer) = &keys[1].1;
    let made = create(&server, writer, json!({"url": "https://by-key.example/"})).await;
    assert_eq!(made["created_by"], json!({"kind": "key", "id": key_id}));
    let (_, mine) = call(
        &server,
        &t,
        Method::GET,
        &format!("{BM}/{}", made["id"]),
        None,
    )
    .await;
    assert_eq!(mine["url"], "https://by-key.example/");
    let (_, stats) = call(&server, &t, Method::GET, &format!("{BM}/stats"), None).await;
    // The write key made one in the matrix above and one here.
    assert_eq!(stats["by_keys"], 2);
    drop(server);
    let audit = audit_rows(&env);
    let row = audit
        .iter()
        .find(|r| r.0 == "bookmark.create" && r.3 == format!("bookmark:{}", made["id"]))
        .unwrap();
    assert_eq!(
        (row.1.as_str(), row.2.as_str()),
        ("agent_key", key_id.as_str())
    );
}

#[tokio::test]
async fn bulk_semantics() {
    let (_env, server) = installation(&[("olga", "owner")]);
    let t = tokens(&server, "olga").await.0;
    let bulk = format!("{BM}/bulk");
    create(&server, &t, json!({"url": "https://stored.example/"})).await;
    let writer = agent_key(
        &server,
        &t,
        json!({"name": "w", "permissions": ["bookmarks:write"]}),
    )
    .await;
    let reader = agent_key(
        &server,
        &t,
        json!({"name": "r", "permissions": ["bookmarks:read"]}),
    )
    .await;

    let r = client()
        .post(server.url(&bulk))
        .json(&json!([]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let (s, _) = call(&server, &reader.1, Method::POST, &bulk, Some(json!([]))).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    for body in [
        json!({"url": "https://a.example/"}),
        json!("x"),
        json!(null),
    ] {
        let (s, v) = call(&server, &writer.1, Method::POST, &bulk, Some(body.clone())).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {v}");
    }
    let over: Vec<Value> = (0..1001)
        .map(|i| json!({"url": format!("https://o{i}.example/")}))
        .collect();
    let (s, v) = call(&server, &writer.1, Method::POST, &bulk, Some(json!(over))).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["code"], "too_many");
    let (s, v) = call(&server, &writer.1, Method::POST, &bulk, Some(json!([]))).await;
    assert_eq!(s, StatusCode::MULTI_STATUS);
    assert_eq!(
        (v["imported"].clone(), v["failed"].clone()),
        (json!(0), json!(0))
    );

    let items = json!([
        {"url": "https://one.example/", "title": "one"},
        {"url": "not a url"},
        {"url": "javascript:alert(1)"},
        {"url": "https://one.example"},
        {"url": "https://stored.example/"},
        {"url": "https://two.example/", "unknown": 1},
        {"title": "no url"},
        42,
        {"url": "https://three.example/", "tags": ["a"]},
    ]);
    let n = items.as_array().unwrap().len();
    let (s, v) = call(&server, &writer.1, Method::POST, &bulk, Some(items)).await;
    assert_eq!(s, StatusCode::MULTI_STATUS, "{v}");
    assert_eq!(v["imported"], 2);
    assert_eq!(v["failed"], 7);
    assert_eq!(
        v["imported"].as_u64().unwrap() + v["failed"].as_u64().unwrap(),
        n as u64
    );
    let errs = v["errors"].as_array().unwrap();
    let idx: Vec<u64> = errs.iter().map(|e| e["index"].as_u64().unwrap()).collect();
    assert_eq!(idx, [1, 2, 3, 4, 5, 6, 7]);
    assert!(errs[1]["reason"].as_str().unwrap().contains("http"));
    assert!(
        errs[2]["reason"]
            .as_str()
            .unwrap()
            .contains("earlier in this batch")
    );
    assert!(
        errs[3]["reason"]
            .as_str()
            .unwrap()
            .contains("already bookmarked")
    );
    // The URL as parsed (the index is what ties it to the input).
    assert_eq!(errs[2]["url"], "https://one.example/");

    // A full batch of 1000 goes through.
    let full: Vec<Value> = (0..1000)
        .map(|i| json!({"url": format!("https://f{i}.example/")}))
        .collect();
    let (s, v) = call(&server, &writer.1, Method::POST, &bulk, Some(json!(full))).await;
    assert_eq!(
        (s, v["imported"].clone()),
        (StatusCode::MULTI_STATUS, json!(1000))
    );

    // Revoked and expired keys are refused with 403 and say why; a key
    // nobody issued is 401.
    let (s, _) = call(
        &server,
        &t,
        Method::POST,
        &format!("/api/v1/keys/{}/revoke", writer.0),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = call(&server, &writer.1, Method::POST, &bulk, Some(json!([]))).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(v["error"]["code"], "key_revoked");
    let unknown = format!("lb-{}", "Z".repeat(48));
    let (s, _) = call(&server, &unknown, Method::POST, &bulk, Some(json!([]))).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let soon = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 2;
    let short = agent_key(
        &server,
        &t,
        json!({"name": "s", "permissions": ["bookmarks:write"], "expires_at": soon}),
    )
    .await;
    let (s, _) = call(&server, &short.1, Method::POST, &bulk, Some(json!([]))).await;
    assert_eq!(s, StatusCode::MULTI_STATUS);
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let (s, v) = call(&server, &short.1, Method::POST, &bulk, Some(json!([]))).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(v["error"]["code"], "key_expired");
}
