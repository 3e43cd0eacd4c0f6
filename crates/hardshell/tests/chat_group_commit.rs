//! Posts that arrive together share one transaction (group commit), each in
//! its own savepoint. Many concurrent posts, some refused, through the real
//! server: every accepted post is stored, searchable and delivered exactly
//! once; no refused one leaves a trace; each answer matches its own post.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::chat::{get, group, messages_path, post, post_raw, search_ids};
use common::identity::{installation, tokens};
use common::ws::{Cred, connect, next_json};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_posts_with_refusals_mixed_in() {
    let (_env, server) = installation(&[("ann", "member"), ("bob", "member")]);
    let ann = tokens(&server, "ann").await.0;
    let bob = tokens(&server, "bob").await.0;
    let conv = group(&server, &ann, "Busy", &["bob"]).await["id"]
        .as_i64()
        .unwrap();
    let other = group(&server, &ann, "Elsewhere", &[]).await["id"]
        .as_i64()
        .unwrap();
    let foreign = post(&server, &ann, other, "not here").await["id"]
        .as_i64()
        .unwrap();
    let (mut ws, _) = connect(&server, Cred::Bearer(&bob), "").await;

    const POSTS: usize = 60;
    let base = server.base.clone();
    let mut tasks = Vec::new();
    for i in 0..POSTS {
        let token = if i % 2 == 0 { ann.clone() } else { bob.clone() };
        // Every third post is refused: a reply to another conversation's
        // message, or an attachment that does not exist.
        let body = match i % 6 {
            2 => json!({"text": format!("refused{i}"), "reply_to": foreign}),
            5 => json!({"text": format!("refused{i}"), "attachments": ["u_missing"]}),
            _ => json!({"text": format!("zebra{i} accepted")}),
        };
        let http = common::client();
        let url = format!("{base}{}", messages_path(conv));
        tasks.push(tokio::spawn(async move {
            let r = http
                .post(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = r.status();
            (i, status, r.json::<serde_json::Value>().await.unwrap())
        }));
    }
    let mut accepted = HashSet::new();
    for t in tasks {
        let (i, status, v) = t.await.unwrap();
        if i % 6 == 2 || i % 6 == 5 {
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "post {i}: {v}");
        } else {
            assert_eq!(status, StatusCode::CREATED, "post {i}: {v}");
            // The answer is this post's own row.
            assert_eq!(v["text"], format!("zebra{i} accepted"));
            assert!(accepted.insert(v["id"].as_i64().unwrap()), "duplicate id");
        }
    }
    assert_eq!(accepted.len(), 40);

    // Stored: exactly the accepted ones, in the page and in search.
    let (s, page) = get(&server, &ann, &format!("{}?limit=100", messages_path(conv))).await;
    assert_eq!(s, StatusCode::OK);
    let stored: HashSet<i64> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            assert!(!m["text"].as_str().unwrap().starts_with("refused"), "{m}");
            m["id"].as_i64().unwrap()
        })
        .collect();
    assert_eq!(stored, accepted);
    let found: HashSet<i64> = search_ids(&server, &ann, "accepted")
        .await
        .into_iter()
        .collect();
    assert_eq!(found.len(), 20, "search returns at most 20 hits");
    assert!(found.is_subset(&accepted));
    assert!(search_ids(&server, &ann, "refused2").await.is_empty());

    // Delivered live exactly once each, and nothing refused.
    let mut live = HashSet::new();
    while live.len() < accepted.len() {
        let v = next_json(&mut ws, Duration::from_secs(20)).await.unwrap();
        if v["type"] == "message.created" && v["conversation_id"] == conv {
            assert!(live.insert(v["data"]["id"].as_i64().unwrap()), "twice: {v}");
        }
    }
    assert_eq!(live, accepted);

    // Still writable one by one afterwards.
    let (s, _) = post_raw(&server, &bob, conv, json!({"text": "after"})).await;
    assert_eq!(s, StatusCode::CREATED);
}
