//! Full-text search (issue 6) against the real server: hits only from the
//! caller's conversations, user text that cannot act as FTS5 syntax, plain
//! text snippets, input bounds, and an index that follows edits, deletes,
//! departures and deleted conversations.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::chat::{call, group, post, search_ids};
use common::identity::{agent_key, bearer, installation, tokens};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

fn id(v: &Value) -> i64 {
    v["id"].as_i64().unwrap()
}

async fn search_raw(
    server: &common::Server,
    token: &str,
    query: &[(&str, &str)],
) -> (StatusCode, Value) {
    let resp = bearer(server, token, Method::GET, "/api/v1/search")
        .query(query)
        .send()
        .await
        .unwrap();
    let st = resp.status();
    (st, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn search() {
    let (_env, s) = installation(&[
        ("ann", "member"),
        ("bob", "member"),
        ("cat", "member"),
        ("gus", "guest"),
        ("ada", "admin"),
    ]);
    let ann = tokens(&s, "ann").await.0;
    let bob = tokens(&s, "bob").await.0;
    let cat = tokens(&s, "cat").await.0;
    let gus = tokens(&s, "gus").await.0;
    let ada = tokens(&s, "ada").await.0;
    let team = id(&group(&s, &ann, "Team", &["bob", "gus"]).await);
    let cats = id(&group(&s, &cat, "Cat only", &[]).await);
    let secret = id(&post(&s, &cat, cats, "the zanzibarfoo launch code").await);

    // Scoping: the unique word is found only by the member.
    assert_eq!(search_ids(&s, &cat, "zanzibarfoo").await, [secret]);
    for token in [&ann, &bob, &gus, &ada] {
        assert!(search_ids(&s, token, "zanzibarfoo").await.is_empty());
        assert!(search_ids(&s, token, "launch code").await.is_empty());
    }

    // Hits carry the message, its conversation and a plain-text snippet.
    let m = id(&post(&s, &ann, team, "**Quarterly** report <b>draft</b> is ready").await);
    let (st, v) = search_raw(&s, &gus, &[("q", "quarterly")]).await;
    assert_eq!(st, StatusCode::OK);
    let hit = &v["hits"][0];
    assert_eq!(hit["conversation_id"], team);
    assert_eq!(hit["message"]["id"], m);
    assert!(
        hit["message"]["html"]
            .as_str()
            .unwrap()
            .contains("<strong>Quarterly</strong>")
    );
    let snippet = hit["snippet"].as_str().unwrap();
    assert!(snippet.contains("Quarterly"), "{snippet}");
    assert!(
        snippet.contains("<b>draft</b>"),
        "snippet is the raw text: {snippet}"
    );

    // FTS5 syntax typed by the user is matched as words, never run.
    let apple = id(&post(&s, &ann, team, "apple pie").await);
    let banana = id(&post(&s, &ann, team, "banana split").await);
    assert_eq!(search_ids(&s, &ann, "apple").await, [apple]);
    for q in [
        "apple OR banana",
        "apple NOT pie",
        "ban*",
        "text:apple banana",
        "NEAR(apple banana)",
        "apple\" OR \"banana",
        "{text}: zanzibarfoo",
        "zanzibarfoo OR apple",
    ] {
        let ids = search_ids(&s, &ann, q).await;
        assert!(
            !ids.contains(&banana) && !ids.contains(&secret),
            "{q:?} was interpreted: {ids:?}"
        );
    }
    for q in ["\"", "*", "(", "AND", "^apple", "apple:"] {
        let (st, v) = search_raw(&s, &ann, &[("q", q)]).await;
        assert!(
            st == StatusCode::OK || st == StatusCode::BAD_REQUEST,
            "{q:?}: {st} {v}"
        );
    }

    // Bounds.
    for query in [
        vec![("q", "")],
        vec![("q", "   ")],
        vec![("q", "* ( )")],
        vec![],
        vec![("q", "apple"), ("limit", "0")],
        vec![("q", "apple"), ("limit", "51")],
    ] {
        let (st, v) = search_raw(&s, &ann, &query).await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{query:?}: {v}");
        assert!(v["error"]["code"].is_string());
    }
    let long = "a".repeat(201);
    assert_eq!(
        search_raw(&s, &ann, &[("q", &long)]).await.0,
        StatusCode::BAD_REQUEST
    );
    let max = "a".repeat(200);
    assert_eq!(search_raw(&s, &ann, &[("q", &max)]).await.0, StatusCode::OK);
    for i in 0..3 {
        post(&s, &bob, team, &format!("kiwi number {i}")).await;
    }
    let (_, v) = search_raw(&s, &ann, &[("q", "kiwi"), ("limit", "2")]).await;
    assert_eq!(v["hits"].as_array().unwrap().len(), 2);

    // The index follows edits and deletes.
    let path = format!("/api/v1/conversations/{team}/messages/{apple}");
    let (st, _) = call(
        &s,
        &ann,
        Method::PATCH,
        &path,
        Some(json!({"text": "cherry pie"})),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert!(search_ids(&s, &ann, "apple").await.is_empty());
    assert_eq!(search_ids(&s, &ann, "cherry").await, [apple]);
    let (st, _) = call(&s, &ann, Method::DELETE, &path, None).await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    assert!(search_ids(&s, &ann, "cherry").await.is_empty());

    // Leaving a conversation ends search access to it.
    assert!(!search_ids(&s, &bob, "banana").await.is_empty());
    let (st, _) = call(
        &s,
        &bob,
        Method::DELETE,
        &format!("/api/v1/conversations/{team}/members"),
        Some(json!({"username": "bob"})),
    )
    .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    assert!(search_ids(&s, &bob, "banana").await.is_empty());

    // Agent keys search their creator's conversations, with messages:read.
    let adas = id(&group(&s, &ada, "Ada", &[]).await);
    let mango = id(&post(&s, &ada, adas, "mango season").await);
    post(&s, &ann, team, "mango chutney").await;
    let (_, reader) = agent_key(
        &s,
        &ada,
        json!({"name": "r", "permissions": ["messages:read"]}),
    )
    .await;
    assert_eq!(search_ids(&s, &reader, "mango").await, [mango]);
    let (_, other) = agent_key(
        &s,
        &ada,
        json!({"name": "o", "permissions": ["conversations:read"]}),
    )
    .await;
    assert_eq!(
        search_raw(&s, &other, &[("q", "mango")]).await.0,
        StatusCode::FORBIDDEN
    );

    // Deleting a conversation removes its messages from search.
    assert_eq!(search_ids(&s, &cat, "zanzibarfoo").await, [secret]);
    let (st, _) = call(
        &s,
        &cat,
        Method::DELETE,
        &format!("/api/v1/conversations/{cats}"),
        None,
    )
    .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    assert!(search_ids(&s, &cat, "zanzibarfoo").await.is_empty());
    let (_, v) = search_raw(&s, &cat, &[("q", "launch")]).await;
    assert_eq!(v["hits"], json!([]));
}
