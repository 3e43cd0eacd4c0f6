//! Request bodies against the real server: every JSON body refuses a field
//! it does not know, and values past the documented limits are refused
//! with a JSON error before anything is written.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::chat::{call, get};
use common::identity::{installation, tokens};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("")
}

/// Operations whose JSON body is not read by a plain struct, with why.
const NOT_A_STRUCT: &[(&str, &str)] = &[
    // Authenticated by the body's HMAC before it is parsed: a bare 401.
    ("/api/v1/channels/{name}/inbound", "signed webhook"),
    // Authenticated by Telegram's secret-token header before parsing.
    ("/api/v1/channels/telegram/webhook", "Telegram webhook"),
    // An array whose items fail one by one (checked below).
    ("/api/v1/bookmarks/bulk", "per-item outcome"),
];

#[tokio::test(flavor = "multi_thread")]
async fn every_json_body_refuses_an_unknown_field() {
    let (_env, server) = installation(&[("olga", "owner")]);
    let owner = tokens(&server, "olga").await.0;
    let doc = common::openapi(&server).await;
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        if NOT_A_STRUCT.iter().any(|(p, _)| p == path) {
            continue;
        }
        for (method, op) in item.as_object().unwrap() {
            if op["requestBody"]["content"]["application/json"].is_null() {
                continue;
            }
            // Every path parameter as `1`: the body is read before any
            // lookup, so the refusal comes first.
            let mut concrete = String::new();
            let mut in_param = false;
            for c in path.chars() {
                match c {
                    '{' => in_param = true,
                    '}' => {
                        in_param = false;
                        concrete.push('1');
                    }
                    _ if in_param => {}
                    _ => concrete.push(c),
                }
            }
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let (s, v) = call(&server, &owner, m, &concrete, Some(json!({"zzz": 1}))).await;
            assert!(
                s == StatusCode::UNPROCESSABLE_ENTITY,
                "{method} {path}: {s} {v}"
            );
            let message = v["error"]["message"].as_str().unwrap_or("");
            assert!(message.contains("zzz"), "{method} {path}: {v}");
            checked += 1;
        }
    }
    assert!(checked >= 30, "only {checked} JSON bodies");

    // Bulk: the unknown field fails its item, and nothing is stored.
    let (s, v) = call(
        &server,
        &owner,
        Method::POST,
        "/api/v1/bookmarks/bulk",
        Some(json!([{"url": "https://example.com/", "zzz": 1}])),
    )
    .await;
    assert_eq!(s, StatusCode::MULTI_STATUS, "{v}");
    assert_eq!(v["imported"], 0, "{v}");
    let (_, list) = get(&server, &owner, "/api/v1/bookmarks").await;
    assert_eq!(
        list["bookmarks"].as_array().map(Vec::len),
        Some(0),
        "{list}"
    );
}

/// Sends and expects a refusal with `status` and `code`.
async fn refused(
    server: &common::Server,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
    status: StatusCode,
    want: &str,
) {
    let (s, v) = call(server, token, method, path, body).await;
    assert_eq!(s, status, "{path}: {v}");
    assert_eq!(code(&v), want, "{path}: {v}");
}

/// A GET whose query string is past a limit: 400 `bad_request`.
async fn refused_query(server: &common::Server, token: &str, path: &str) {
    refused(
        server,
        token,
        Method::GET,
        path,
        None,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn values_past_the_documented_limits_are_refused() {
    let (_env, server) = installation(&[("olga", "owner")]);
    let owner = tokens(&server, "olga").await.0;
    let (_, agents) = get(&server, &owner, "/api/v1/agents").await;
    let agent = agents["agents"][0]["id"].as_i64().unwrap();
    let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;

    // A trust change's reason: 200 characters are kept, 201 refused.
    let trust = format!("/api/v1/agents/{agent}/trust/web");
    let (s, v) = call(
        &server,
        &owner,
        Method::PUT,
        &trust,
        Some(json!({"level": 1, "reason": "r".repeat(200)})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let long = json!({"level": 2, "reason": "r".repeat(201)});
    refused(
        &server,
        &owner,
        Method::PUT,
        &trust,
        Some(long),
        unprocessable,
        "invalid_reason",
    )
    .await;
    let (_, levels) = get(&server, &owner, &format!("/api/v1/agents/{agent}/trust")).await;
    let web = levels["levels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["domain"] == "web")
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        web["level"], 1,
        "the refused change wrote nothing: {levels}"
    );

    // The memory search text.
    let q = "w".repeat(501);
    let path = format!("/api/v1/agents/{agent}/memories?q={q}");
    refused_query(&server, &owner, &path).await;

    // Agent keys: more permissions than exist, or an expiry past 9999.
    let perms: Vec<&str> = vec!["bookmarks:read"; 17];
    let body = json!({"name": "k", "permissions": perms});
    refused(
        &server,
        &owner,
        Method::POST,
        "/api/v1/keys",
        Some(body),
        unprocessable,
        "invalid_key_request",
    )
    .await;
    let body =
        json!({"name": "k", "permissions": ["bookmarks:read"], "expires_at": 253_402_300_800_i64});
    refused(
        &server,
        &owner,
        Method::POST,
        "/api/v1/keys",
        Some(body),
        unprocessable,
        "invalid_key_request",
    )
    .await;

    // Providers: an overlong base_url, an embedding model with a space.
    let url = format!("http://h.test/{}", "p".repeat(2048));
    let body = json!({"kind": "ollama", "base_url": url});
    refused(
        &server,
        &owner,
        Method::PUT,
        "/api/v1/providers/x",
        Some(body),
        unprocessable,
        "invalid_base_url",
    )
    .await;
    let body = json!({"kind": "ollama", "embedding_model": "two words"});
    refused(
        &server,
        &owner,
        Method::PUT,
        "/api/v1/providers/x",
        Some(body),
        unprocessable,
        "invalid_model",
    )
    .await;

    // A secret binding with more slots than allowed.
    let slots: Vec<String> = (0..33).map(|i| format!("header:x-{i}")).collect();
    let body = json!({"scheme": "https", "host": "api.test", "slots": slots});
    let path = "/api/v1/secrets/api_key/binding";
    refused(
        &server,
        &owner,
        Method::PUT,
        path,
        Some(body),
        unprocessable,
        "invalid_binding",
    )
    .await;

    // An agent with more tools than exist.
    let tools: Vec<&str> = vec!["shell"; 15];
    let body = json!({"handle": "many", "name": "Many", "model": "openai/m", "tools": tools});
    refused(
        &server,
        &owner,
        Method::POST,
        "/api/v1/agents",
        Some(body),
        unprocessable,
        "invalid_tool",
    )
    .await;

    // Query strings refuse unknown parameters too.
    for path in [
        format!("/api/v1/agents/{agent}/memories?zzz=1"),
        "/api/v1/approvals?zzz=1".to_string(),
        "/api/v1/trust/history?zzz=1".to_string(),
        "/api/v1/audit?zzz=1".to_string(),
        "/api/v1/bookmarks?zzz=1".to_string(),
    ] {
        let (s, v) = get(&server, &owner, &path).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{path}: {v}");
        assert!(
            v["error"]["message"].as_str().unwrap_or("").contains("zzz"),
            "{v}"
        );
    }

    // Audit filters.
    let path = format!("/api/v1/audit?action={}", "a".repeat(129));
    refused_query(&server, &owner, &path).await;

    // A message naming one upload eleven times.
    let conv = common::chat::group(&server, &owner, "Limits", &[]).await["id"]
        .as_i64()
        .unwrap();
    let ids = vec!["a".repeat(24); 11];
    let body = json!({"text": "hi", "attachments": ids});
    let path = common::chat::messages_path(conv);
    refused(
        &server,
        &owner,
        Method::POST,
        &path,
        Some(body),
        unprocessable,
        "bad_attachment",
    )
    .await;
}

/// Bookmark tags and the `tag` filter were cut to 64 characters; now the
/// limit passes, one character more is refused with an error naming the
/// field, characters (not bytes) are counted, and so are the spaces
/// that trimming would drop. A refused write changes nothing.
#[tokio::test(flavor = "multi_thread")]
async fn over_long_tags_are_refused_not_cut() {
    let (_env, server) = installation(&[("olga", "owner")]);
    let owner = tokens(&server, "olga").await.0;
    const BM: &str = "/api/v1/bookmarks";
    let at = "ä".repeat(64);
    let (s, b) = call(
        &server,
        &owner,
        Method::POST,
        BM,
        Some(json!({"url": "https://example.org/", "tags": [at]})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(b["tags"], json!([at]), "stored whole");
    let id = b["id"].as_i64().unwrap();

    for long in [format!("{at}ä"), format!(" {at}"), "x".repeat(1000)] {
        let (s, v) = call(
            &server,
            &owner,
            Method::POST,
            BM,
            Some(json!({"url": "https://example.com/", "tags": ["ok", long]})),
        )
        .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        assert_eq!(code(&v), "invalid_bookmark", "{v}");
        assert!(
            v["error"]["message"].as_str().unwrap().contains("tag"),
            "{v}"
        );
        let (s, v) = call(
            &server,
            &owner,
            Method::PATCH,
            &format!("{BM}/{id}"),
            Some(json!({"tags": [long]})),
        )
        .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        // The filter: 400 like every query value past its limit.
        let (s, v) = get(&server, &owner, &format!("{BM}?tag={long}")).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
        assert!(
            v["error"]["message"].as_str().unwrap().contains("tag"),
            "{v}"
        );
    }
    // Nothing was written: one bookmark, its tag unchanged, and the
    // filter at the limit finds it.
    let (s, list) = get(&server, &owner, &format!("{BM}?tag={at}")).await;
    assert_eq!(s, StatusCode::OK, "{list}");
    let all = list["bookmarks"].as_array().unwrap();
    assert_eq!(all.len(), 1, "{list}");
    assert_eq!(all[0]["tags"], json!([at]));

    // The search text counts the same way: 200 characters pass, a space
    // more is refused even though trimming would drop it.
    let q = "ü".repeat(200);
    let (s, v) = get(&server, &owner, &format!("{BM}?q={q}")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = get(&server, &owner, &format!("{BM}?q=%20{q}")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
}

/// A request body around one value.
type BodyOf = Box<dyn Fn(String) -> Value>;

/// Limits count characters as sent: a value of exactly the limit in
/// two-byte characters is taken, and the same value with one space in
/// front (which trimming would drop) is refused with 422. Nothing the
/// refused request carried is stored.
#[tokio::test(flavor = "multi_thread")]
async fn limits_count_characters_before_trimming() {
    let (_env, server) = installation(&[("olga", "owner")]);
    let owner = tokens(&server, "olga").await.0;
    let (_, agents) = get(&server, &owner, "/api/v1/agents").await;
    let agent = agents["agents"][0]["id"].as_i64().unwrap();
    let e = |n: usize| "é".repeat(n);
    let cases: Vec<(Method, String, BodyOf, usize)> = vec![
        (
            Method::POST,
            "/api/v1/conversations".into(),
            Box::new(|t| json!({"kind": "group", "title": t})),
            120,
        ),
        (
            Method::POST,
            "/api/v1/keys".into(),
            Box::new(|t| json!({"name": t, "permissions": ["bookmarks:read"]})),
            100,
        ),
        (
            Method::PUT,
            format!("/api/v1/agents/{agent}/trust/web"),
            Box::new(|t| json!({"level": 1, "reason": t})),
            200,
        ),
        (
            Method::PATCH,
            format!("/api/v1/agents/{agent}"),
            Box::new(|t| json!({"name": t})),
            60,
        ),
        (
            Method::POST,
            format!("/api/v1/agents/{agent}/memories"),
            Box::new(|t| json!({"text": t, "scope": "user"})),
            2000,
        ),
    ];
    for (method, path, body, limit) in &cases {
        let (s, v) = call(&server, &owner, method.clone(), path, Some(body(e(*limit)))).await;
        assert!(s.is_success(), "{method} {path} at the limit: {s} {v}");
        let over = format!(" {}", e(*limit));
        let (s, v) = call(&server, &owner, method.clone(), path, Some(body(over))).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{method} {path}: {v}");
    }
    // The refused memory was not stored: one memory, the one at the limit.
    let (_, list) = get(&server, &owner, &format!("/api/v1/agents/{agent}/memories")).await;
    let memories = list["memories"].as_array().cloned().unwrap_or_default();
    assert_eq!(memories.len(), 1, "{list}");
}

/// Control characters in search text (a NUL made SQLite's FTS5 fail, a
/// 500 that schemathesis found) are word breaks, in every search.
#[tokio::test(flavor = "multi_thread")]
async fn control_characters_in_search_text_are_not_a_server_error() {
    let (_env, server) = installation(&[("olga", "owner")]);
    let owner = tokens(&server, "olga").await.0;
    let (_, agents) = get(&server, &owner, "/api/v1/agents").await;
    let agent = agents["agents"][0]["id"].as_i64().unwrap();
    for path in [
        "/api/v1/search?q=a%00b%01c".to_string(),
        "/api/v1/search?q=%C2%825%3D%00%23%26&limit=9".to_string(),
        "/api/v1/bookmarks?q=a%00b".to_string(),
        format!("/api/v1/agents/{agent}/memories?q=a%00b"),
    ] {
        let (s, v) = get(&server, &owner, &path).await;
        assert_eq!(s, StatusCode::OK, "{path}: {v}");
    }
}
