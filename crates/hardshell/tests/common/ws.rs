//! WebSocket client helpers for the integration tests: connect with a chosen
//! credential and Origin, read JSON frames with a deadline, wait for a close.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::Server;

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How a test client authenticates.
#[derive(Clone, Copy, Debug)]
pub enum Cred<'a> {
    None,
    Cookie(&'a str),
    Bearer(&'a str),
}

/// The `ws://` URL for `path_and_query` on `server`.
pub fn ws_url(server: &Server, path_and_query: &str) -> String {
    format!(
        "{}{path_and_query}",
        server.base.replacen("http://", "ws://", 1)
    )
}

/// Opens `/api/v1/ws{query}`; on refusal returns the HTTP status and JSON body.
pub async fn try_connect(
    server: &Server,
    cred: Cred<'_>,
    origin: Option<&str>,
    query: &str,
) -> Result<Ws, (u16, Value)> {
    let mut req = ws_url(server, &format!("/api/v1/ws{query}"))
        .into_client_request()
        .unwrap();
    let h = req.headers_mut();
    if let Some(o) = origin {
        h.insert("origin", HeaderValue::from_str(o).unwrap());
    }
    match cred {
        Cred::None => {}
        Cred::Cookie(c) => {
            h.insert(
                "cookie",
                HeaderValue::from_str(&format!("hs_session={c}")).unwrap(),
            );
        }
        Cred::Bearer(t) => {
            h.insert(
                "authorization",
                HeaderValue::from_str(&format!("Bearer {t}")).unwrap(),
            );
        }
    }
    // The client accepts big frames; the server's limits are under test.
    let config = WebSocketConfig::default();
    match tokio_tungstenite::connect_async_with_config(req, Some(config), false).await {
        Ok((ws, _)) => Ok(ws),
        Err(Error::Http(resp)) => {
            let status = resp.status().as_u16();
            let body = resp
                .body()
                .as_ref()
                .and_then(|b| serde_json::from_slice(b).ok())
                .unwrap_or(Value::Null);
            Err((status, body))
        }
        Err(e) => panic!("websocket connect failed: {e}"),
    }
}

/// A connection attempt that must be refused: its status and JSON body.
pub async fn refused(
    server: &Server,
    cred: Cred<'_>,
    origin: Option<&str>,
    query: &str,
) -> (u16, Value) {
    match try_connect(server, cred, origin, query).await {
        Ok(_) => panic!("connection with {cred:?} origin {origin:?} query {query:?} was accepted"),
        Err(refusal) => refusal,
    }
}

/// Connects with the server's own Origin, reads the `ready` frame and
/// returns the socket with that frame.
pub async fn connect(server: &Server, cred: Cred<'_>, query: &str) -> (Ws, Value) {
    let mut ws = try_connect(server, cred, Some(&server.base), query)
        .await
        .unwrap_or_else(|(s, b)| panic!("connect refused: {s} {b}"));
    let ready = next_json(&mut ws, Duration::from_secs(10))
        .await
        .expect("ready frame");
    assert_eq!(ready["type"], "ready", "{ready}");
    (ws, ready)
}

/// The next text frame as JSON, or `None` when nothing arrives in `wait`
/// (or the connection closes).
pub async fn next_json(ws: &mut Ws, wait: Duration) -> Option<Value> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let msg = tokio::time::timeout_at(deadline, ws.next())
            .await
            .ok()??
            .ok()?;
        match msg {
            Message::Text(t) => return Some(serde_json::from_str(t.as_str()).unwrap()),
            Message::Close(_) => return None,
            _ => continue,
        }
    }
}

/// The next frame of type `kind`, skipping others of the listed `skip` types.
pub async fn next_of(ws: &mut Ws, kind: &str, wait: Duration) -> Value {
    let v = next_json(ws, wait)
        .await
        .unwrap_or_else(|| panic!("no {kind} frame"));
    assert_eq!(v["type"], kind, "expected {kind}, got {v}");
    v
}

/// Reads until the server closes; returns the close code (None if the
/// connection ended without a close frame or `wait` passed).
pub async fn close_code(ws: &mut Ws, wait: Duration) -> Option<u16> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Ok(Some(Ok(Message::Close(frame)))) => return frame.map(|f| u16::from(f.code)),
            Ok(Some(Ok(_))) => continue,
            _ => return None,
        }
    }
}

pub async fn send_json(ws: &mut Ws, v: &Value) {
    ws.send(Message::text(v.to_string())).await.unwrap();
}
