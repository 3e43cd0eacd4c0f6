//! `GET /api/v1/ws` against the real server: Origin before auth, the
//! membership filter on live events and replay, membership changes while
//! connected, typing rights, frame and rate limits, credential
//! revocation closing an open connection, bursts larger than the write
//! buffer, and a client that stops reading being dropped.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::identity::{
    self, add_user, agent_key, audit_rows, bearer, installation, login, tokens,
};
use common::ws::{Cred, Ws, close_code, connect, next_json, next_of, refused, send_json};
use common::{Env, Server};
use futures_util::SinkExt;
use reqwest::Method;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

const WAIT: Duration = Duration::from_secs(10);

/// An installation whose `[limits]` get `extra` lines before the server starts.
fn installation_with(users: &[(&str, &str)], extra: &str) -> (Env, Server) {
    let env = Env::new();
    env.init_with_passphrase();
    for (name, role) in users {
        add_user(&env, name, role);
    }
    let path = env.data.join("config.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("[limits]\n"), "{text}");
    std::fs::write(
        &path,
        text.replacen("[limits]\n", &format!("[limits]\n{extra}\n"), 1),
    )
    .unwrap();
    let server = identity::start(&env);
    (env, server)
}

async fn group(server: &Server, token: &str, title: &str, members: &[&str]) -> i64 {
    let resp = bearer(server, token, Method::POST, "/api/v1/conversations")
        .json(&json!({"kind": "group", "title": title, "members": members}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201, "create {title}");
    resp.json::<Value>().await.unwrap()["id"].as_i64().unwrap()
}

async fn post(server: &Server, token: &str, conv: i64, text: &str) -> i64 {
    let resp = bearer(
        server,
        token,
        Method::POST,
        &format!("/api/v1/conversations/{conv}/messages"),
    )
    .json(&json!({ "text": text }))
    .send()
    .await
    .unwrap();
    assert_eq!(resp.status(), 201, "post {text}");
    resp.json::<Value>().await.unwrap()["id"].as_i64().unwrap()
}

async fn members(server: &Server, token: &str, method: Method, conv: i64, username: &str) {
    let resp = bearer(
        server,
        token,
        method.clone(),
        &format!("/api/v1/conversations/{conv}/members"),
    )
    .json(&json!({ "username": username }))
    .send()
    .await
    .unwrap();
    assert!(
        resp.status().is_success(),
        "{method} member {username}: {}",
        resp.status()
    );
}

/// The next `message.created` frame: (conversation id, text, message id).
async fn next_message(ws: &mut Ws) -> (i64, String, i64) {
    let v = next_of(ws, "message.created", WAIT).await;
    (
        v["conversation_id"].as_i64().unwrap(),
        v["data"]["text"].as_str().unwrap().to_string(),
        v["data"]["id"].as_i64().unwrap(),
    )
}

/// Sends a `ping` and requires the very next frame to be its `pong`:
/// proves nothing else was queued for this client before it.
async fn assert_nothing_pending(ws: &mut Ws) {
    send_json(ws, &json!({"type": "ping"})).await;
    let v = next_json(ws, WAIT).await.expect("pong");
    assert_eq!(v["type"], "pong", "unexpected frame before pong: {v}");
}

#[tokio::test]
async fn origin_is_checked_before_any_credential_and_refusals_are_audited() {
    let (env, server) = installation(&[("ann", "member")]);
    let (access, _) = tokens(&server, "ann").await;
    let web = login(&server, "ann").await;

    // A valid bearer with a foreign Origin, and a valid cookie with none:
    // both refused on the Origin alone.
    let (status, body) = refused(
        &server,
        Cred::Bearer(&access),
        Some("https://evil.example"),
        "",
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(body["error"]["code"], "forbidden_origin");
    let (status, body) = refused(&server, Cred::Cookie(&web.cookie), None, "").await;
    assert_eq!(status, 403);
    assert_eq!(body["error"]["code"], "forbidden_origin");
    // Loopback spelled differently is still a different origin.
    let other_port = server.base.replace("127.0.0.1:", "127.0.0.1:1");
    let (status, _) = refused(&server, Cred::Cookie(&web.cookie), Some(&other_port), "").await;
    assert_eq!(status, 403);
    // A bogus credential with a foreign Origin is refused as 403 too: the
    // credential was never looked at.
    let (status, _) = refused(&server, Cred::Bearer("api-bogus"), Some("null"), "").await;
    assert_eq!(status, 403);

    // With the right Origin, the credential decides.
    let (status, body) = refused(&server, Cred::None, Some(&server.base), "").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("unauthorized"))
    );
    let (status, _) = refused(&server, Cred::Bearer("api-unknown"), Some(&server.base), "").await;
    assert_eq!(status, 401);
    let (ws, ready) = connect(&server, Cred::Cookie(&web.cookie), "").await;
    assert_eq!(ready["data"]["user"]["kind"], "user");
    assert_eq!(ready["data"]["user"]["name"], "ann");
    drop(ws);
    let resp = bearer(
        &server,
        &access,
        Method::POST,
        "/api/v1/auth/sessions/revoke-all",
    )
    .send()
    .await
    .unwrap();
    assert!(resp.status().is_success());
    let (status, _) = refused(&server, Cred::Bearer(&access), Some(&server.base), "").await;
    assert_eq!(status, 401);
    // No credential in the query string, ever.
    let (status, _) = refused(
        &server,
        Cred::None,
        Some(&server.base),
        &format!("?access_token={access}"),
    )
    .await;
    assert_eq!(status, 401);

    // A plain GET (no upgrade) gets a JSON 426.
    let (access, _) = tokens(&server, "ann").await;
    let resp = bearer(&server, &access, Method::GET, "/api/v1/ws")
        .header("origin", &server.base)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 426);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "upgrade_required");

    // A huge Origin is refused and recorded only in part.
    let long = format!("https://{}.example", "a".repeat(300));
    let (status, _) = refused(&server, Cred::Bearer(&access), Some(&long), "").await;
    assert_eq!(status, 403);

    let refused: Vec<_> = audit_rows(&env)
        .into_iter()
        .filter(|r| r.0 == "ws.origin_refused")
        .collect();
    assert_eq!(refused.len(), 5, "{refused:?}");
    assert!(refused.iter().all(|r| r.4 == "denied" && r.1 == "system"));
    let details: Vec<Value> = identity::db(&env)
        .prepare("SELECT details FROM audit_log WHERE action = 'ws.origin_refused' ORDER BY seq")
        .unwrap()
        .query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(|d| serde_json::from_str(&d.unwrap()).unwrap())
        .collect();
    assert_eq!(details[0]["origin"], "https://evil.example");
    assert_eq!(details[1]["reason"], "missing");
    let recorded = details[4]["origin"].as_str().unwrap();
    assert_eq!(recorded.chars().count(), 200);
    assert!(long.starts_with(recorded));
}

#[tokio::test]
async fn members_receive_live_messages_and_non_members_receive_nothing() {
    let (_env, server) = installation(&[("ann", "member"), ("bob", "member"), ("cat", "member")]);
    let (ann, _) = tokens(&server, "ann").await;
    let (bob, _) = tokens(&server, "bob").await;
    let (cat, _) = tokens(&server, "cat").await;
    let shared = group(&server, &ann, "ann+bob", &["bob"]).await;
    let own = group(&server, &cat, "cat alone", &[]).await;

    let (mut bob_ws, _) = connect(&server, Cred::Bearer(&bob), "").await;
    let (mut cat_ws, _) = connect(&server, Cred::Bearer(&cat), "").await;
    post(&server, &ann, shared, "hello bob").await;
    assert_eq!(next_message(&mut bob_ws).await.0, shared);

    // cat's first message event is for her own conversation, not ann's.
    post(&server, &cat, own, "note to self").await;
    let (conv, text, _) = next_message(&mut cat_ws).await;
    assert_eq!((conv, text.as_str()), (own, "note to self"));
    assert_nothing_pending(&mut cat_ws).await;
    // And bob never sees cat's.
    assert_nothing_pending(&mut bob_ws).await;
}

#[tokio::test]
async fn since_replays_exactly_the_missed_messages_of_the_caller() {
    let (_env, server) = installation(&[("ann", "member"), ("bob", "member")]);
    let (ann, _) = tokens(&server, "ann").await;
    let (bob, _) = tokens(&server, "bob").await;
    let shared = group(&server, &ann, "shared", &["bob"]).await;
    let private = group(&server, &ann, "ann only", &[]).await;
    let seen = post(&server, &ann, shared, "seen").await;
    let m2 = post(&server, &ann, shared, "missed one").await;
    post(&server, &ann, private, "not for bob").await;
    let m4 = post(&server, &ann, shared, "missed two").await;

    let (mut ws, _) = connect(&server, Cred::Bearer(&bob), &format!("?since={seen}")).await;
    assert_eq!(next_message(&mut ws).await.2, m2);
    assert_eq!(next_message(&mut ws).await.2, m4);
    // Then live, with nothing replayed twice and nothing from `private`.
    let m5 = post(&server, &ann, shared, "live").await;
    assert_eq!(next_message(&mut ws).await.2, m5);
    assert_nothing_pending(&mut ws).await;

    // A negative or unknown parameter is a 400, not a silent full replay.
    for q in ["?since=-1", "?since=abc", "?token=x"] {
        let (status, _) = refused(&server, Cred::Bearer(&bob), Some(&server.base), q).await;
        assert_eq!(status, 400, "{q}");
    }
}

#[tokio::test]
async fn joining_and_leaving_while_connected_changes_what_arrives() {
    let (_env, server) = installation(&[("ann", "member"), ("bob", "member")]);
    let (ann, _) = tokens(&server, "ann").await;
    let (bob, _) = tokens(&server, "bob").await;
    let team = group(&server, &ann, "team", &[]).await;
    let bobs = group(&server, &bob, "bob's", &[]).await;
    let (mut ws, _) = connect(&server, Cred::Bearer(&bob), "").await;

    post(&server, &ann, team, "before bob").await;
    members(&server, &ann, Method::POST, team, "bob").await;
    let added = next_json(&mut ws, WAIT).await.unwrap();
    assert_eq!(
        (added["type"].as_str(), added["conversation_id"].as_i64()),
        (Some("member.added"), Some(team))
    );
    post(&server, &ann, team, "welcome").await;
    let (conv, text, _) = next_message(&mut ws).await;
    assert_eq!((conv, text.as_str()), (team, "welcome"));

    members(&server, &ann, Method::DELETE, team, "bob").await;
    let removed = next_json(&mut ws, WAIT).await.unwrap();
    assert_eq!(
        (
            removed["type"].as_str(),
            removed["conversation_id"].as_i64()
        ),
        (Some("member.removed"), Some(team))
    );
    post(&server, &ann, team, "after bob").await;
    post(&server, &bob, bobs, "bob's own").await;
    let (conv, text, _) = next_message(&mut ws).await;
    assert_eq!((conv, text.as_str()), (bobs, "bob's own"));
    assert_nothing_pending(&mut ws).await;
}

#[tokio::test]
async fn typing_needs_membership_and_posting_rights() {
    let (_env, server) = installation(&[("ann", "member"), ("gus", "guest"), ("cat", "member")]);
    let (ann, _) = tokens(&server, "ann").await;
    let (gus, _) = tokens(&server, "gus").await;
    let (cat, _) = tokens(&server, "cat").await;
    let team = group(&server, &ann, "team", &["gus"]).await;
    let cats = group(&server, &cat, "cat's", &[]).await;
    let (mut ann_ws, _) = connect(&server, Cred::Bearer(&ann), "").await;
    let (mut gus_ws, _) = connect(&server, Cred::Bearer(&gus), "").await;
    let (mut cat_ws, _) = connect(&server, Cred::Bearer(&cat), "").await;

    // A guest may read but not type.
    send_json(
        &mut gus_ws,
        &json!({"type": "typing", "conversation_id": team}),
    )
    .await;
    let err = next_of(&mut gus_ws, "error", WAIT).await;
    assert_eq!(err["data"]["code"], "forbidden");
    // A member typing reaches the other member...
    send_json(
        &mut ann_ws,
        &json!({"type": "typing", "conversation_id": team}),
    )
    .await;
    let typing = next_of(&mut gus_ws, "typing", WAIT).await;
    assert_eq!(typing["conversation_id"], team);
    assert_eq!(
        typing["data"]["user"],
        json!({"kind": "user", "id": typing["data"]["user"]["id"], "name": "ann"})
    );
    // ...and the first typing ann sees is her own: gus's never went out.
    let first = next_of(&mut ann_ws, "typing", WAIT).await;
    assert_eq!(first["data"]["user"]["name"], "ann");
    // Not in the conversation: refused, and nothing reaches its members.
    send_json(
        &mut ann_ws,
        &json!({"type": "typing", "conversation_id": cats}),
    )
    .await;
    let err = next_of(&mut ann_ws, "error", WAIT).await;
    assert_eq!(err["data"]["code"], "not_found");
    assert_nothing_pending(&mut cat_ws).await;
    // Malformed input is an error frame, not a disconnect.
    ann_ws.send(Message::text("{not json")).await.unwrap();
    assert_eq!(
        next_of(&mut ann_ws, "error", WAIT).await["data"]["code"],
        "bad_message"
    );
    ann_ws.send(Message::binary(vec![1u8, 2, 3])).await.unwrap();
    assert_eq!(
        next_of(&mut ann_ws, "error", WAIT).await["data"]["code"],
        "bad_message"
    );
    assert_nothing_pending(&mut ann_ws).await;
    assert_nothing_pending(&mut gus_ws).await;
}

/// The server reads the socket 512 bytes at a time; a frame many times
/// that (under the 16 KiB default limit) must still arrive whole.
#[tokio::test]
async fn frames_larger_than_the_read_buffer_arrive_whole() {
    let (_env, server) = installation(&[("ann", "member")]);
    let (ann, _) = tokens(&server, "ann").await;
    let team = group(&server, &ann, "team", &[]).await;
    let (mut ws, _) = connect(&server, Cred::Bearer(&ann), "").await;
    let frame = format!(
        "{}{}",
        json!({"type": "typing", "conversation_id": team}),
        " ".repeat(15_000)
    );
    assert!(frame.len() > 16 * 512 && frame.len() < 16 * 1024);
    ws.send(Message::text(frame)).await.unwrap();
    let typing = next_of(&mut ws, "typing", WAIT).await;
    assert_eq!(typing["conversation_id"], team);
    assert_eq!(typing["data"]["user"]["name"], "ann");
}

#[tokio::test]
async fn oversized_frames_and_floods_close_the_connection() {
    let (_env, server) = installation_with(
        &[("ann", "member")],
        "ws_frame_bytes = 1024\nws_messages_per_minute = 5",
    );
    let (ann, _) = tokens(&server, "ann").await;

    let (mut ws, _) = connect(&server, Cred::Bearer(&ann), "").await;
    ws.send(Message::text("x".repeat(4000))).await.unwrap();
    assert_eq!(close_code(&mut ws, WAIT).await, Some(1009));

    let (mut ws, _) = connect(&server, Cred::Bearer(&ann), "").await;
    for _ in 0..20 {
        if ws.send(Message::text(r#"{"type":"ping"}"#)).await.is_err() {
            break;
        }
    }
    assert_eq!(close_code(&mut ws, WAIT).await, Some(1008));
}

#[tokio::test]
async fn revoking_the_credential_closes_open_connections() {
    let (_env, server) = installation_with(&[("ann", "member")], "ws_ping_secs = 1");
    let (access, _) = tokens(&server, "ann").await;
    let web = login(&server, "ann").await;
    let (mut by_cookie, _) = connect(&server, Cred::Cookie(&web.cookie), "").await;
    let (mut by_bearer, _) = connect(&server, Cred::Bearer(&access), "").await;

    // Alive across several pings while the credential is good (reading
    // answers the server's pings).
    let quiet = Duration::from_millis(2500);
    let (a, b) = tokio::join!(
        next_json(&mut by_bearer, quiet),
        next_json(&mut by_cookie, quiet)
    );
    assert!(a.is_none() && b.is_none(), "{a:?} {b:?}");
    assert_nothing_pending(&mut by_bearer).await;
    assert_nothing_pending(&mut by_cookie).await;

    let resp = bearer(
        &server,
        &access,
        Method::POST,
        "/api/v1/auth/sessions/revoke-all",
    )
    .send()
    .await
    .unwrap();
    assert!(resp.status().is_success());
    let (a, b) = tokio::join!(
        close_code(&mut by_bearer, WAIT),
        close_code(&mut by_cookie, WAIT)
    );
    assert_eq!((a, b), (Some(4001), Some(4001)));
}

#[tokio::test]
async fn a_client_that_never_answers_pings_is_closed() {
    let (_env, server) = installation_with(&[("ann", "member")], "ws_ping_secs = 1");
    let (access, _) = tokens(&server, "ann").await;
    let (mut ws, _) = connect(&server, Cred::Bearer(&access), "").await;
    // Not reading means not answering; the server gives up after two pings.
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(close_code(&mut ws, WAIT).await, Some(4002));
}

#[tokio::test]
async fn agent_keys_see_only_their_creators_conversations() {
    let (_env, server) = installation(&[("ann", "admin"), ("bob", "member")]);
    let (ann, _) = tokens(&server, "ann").await;
    let (bob, _) = tokens(&server, "bob").await;
    let shared = group(&server, &ann, "ann+bob", &["bob"]).await;
    let bobs = group(&server, &bob, "bob only", &[]).await;
    let (_, reader) = agent_key(
        &server,
        &ann,
        json!({"name": "reader", "permissions": ["messages:read"]}),
    )
    .await;
    let (_, other) = agent_key(
        &server,
        &ann,
        json!({"name": "other", "permissions": ["conversations:read"]}),
    )
    .await;

    let (status, body) = refused(&server, Cred::Bearer(&other), Some(&server.base), "").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("forbidden"))
    );

    let (mut ws, ready) = connect(&server, Cred::Bearer(&reader), "").await;
    assert_eq!(ready["data"]["user"]["kind"], "key");
    assert_eq!(ready["data"]["user"]["name"], "reader");
    post(&server, &bob, bobs, "private to bob").await;
    post(&server, &bob, shared, "for ann").await;
    let (conv, text, _) = next_message(&mut ws).await;
    assert_eq!((conv, text.as_str()), (shared, "for ann"));
    // A read-only key may not signal typing.
    send_json(
        &mut ws,
        &json!({"type": "typing", "conversation_id": shared}),
    )
    .await;
    assert_eq!(
        next_of(&mut ws, "error", WAIT).await["data"]["code"],
        "forbidden"
    );
}

/// Each connection writes through a 2 KiB buffer: a burst of events many
/// times that size, queued while the client is not reading, arrives
/// whole and in order.
#[tokio::test]
async fn a_burst_larger_than_the_write_buffer_arrives_whole_and_in_order() {
    let (_env, server) = installation(&[("ann", "member")]);
    let (ann, _) = tokens(&server, "ann").await;
    let team = group(&server, &ann, "team", &[]).await;
    let (mut ws, _) = connect(&server, Cred::Bearer(&ann), "").await;
    let texts: Vec<String> = (0..40)
        .map(|i| format!("burst message {i}: {}", "lorem ipsum ".repeat(40)))
        .collect();
    let mut ids = Vec::new();
    for t in &texts {
        ids.push(post(&server, &ann, team, t).await);
    }
    assert!(texts.iter().map(String::len).sum::<usize>() > 8 * 2048);
    for (t, id) in texts.iter().zip(&ids) {
        let (conv, text, got) = next_message(&mut ws).await;
        // The server stores the text trimmed.
        assert_eq!((conv, text.as_str(), got), (team, t.trim_end(), *id));
    }
    assert_nothing_pending(&mut ws).await;
}

/// Opens `/api/v1/ws` over a socket with a small receive buffer, so a
/// client that stops reading backs up the server quickly.
async fn connect_small_window(server: &Server, token: &str) -> Ws {
    use tokio_tungstenite::MaybeTlsStream;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let addr = server.base.strip_prefix("http://").unwrap();
    let stream = socket.connect(addr.parse().unwrap()).await.unwrap();
    let mut req = common::ws::ws_url(server, "/api/v1/ws")
        .into_client_request()
        .unwrap();
    let h = req.headers_mut();
    h.insert("origin", server.base.parse().unwrap());
    h.insert("authorization", format!("Bearer {token}").parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::client_async(req, MaybeTlsStream::Plain(stream))
        .await
        .unwrap();
    assert_eq!(next_of(&mut ws, "ready", WAIT).await["type"], "ready");
    ws
}

/// A client that stops reading is dropped (its writes time out, or it
/// misses the pings it cannot answer, whichever comes first): the stream
/// it finally reads ends. A reading client in the same conversation
/// meanwhile gets every message, in order. How much the dropped client
/// still reads is not asserted: the kernel's socket buffers (autotuned up
/// to megabytes) may already hold the whole backlog on a fast machine.
#[tokio::test]
async fn a_client_that_stops_reading_is_dropped_and_others_get_everything() {
    use futures_util::StreamExt;
    let (_env, server) = installation_with(&[("ann", "member")], "ws_ping_secs = 1");
    let (ann, _) = tokens(&server, "ann").await;
    let team = group(&server, &ann, "team", &[]).await;
    let mut slow = connect_small_window(&server, &ann).await;
    let (mut fast, _) = connect(&server, Cred::Bearer(&ann), "").await;
    const POSTS: usize = 60;
    let reader = tokio::spawn(async move {
        let mut ids = Vec::new();
        while ids.len() < POSTS {
            ids.push(next_message(&mut fast).await.2);
        }
        ids
    });
    let big = "word ".repeat(3000);
    let mut posted = Vec::new();
    for i in 0..POSTS {
        posted.push(post(&server, &ann, team, &format!("{i} {big}")).await);
    }
    assert_eq!(reader.await.unwrap(), posted);

    // Give the server time to give up on the slow client, then read what
    // it was sent: the stream must end.
    tokio::time::sleep(Duration::from_secs(12)).await;
    let ended = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(Ok(msg)) = slow.next().await {
            if let Message::Close(_) = msg {
                break;
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the slow client was never dropped");
}
