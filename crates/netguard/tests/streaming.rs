//! Streamed responses: chunks arrive as the server writes them, and the byte
//! cap, per-chunk read timeout, total timeout and the no-redirect rule hold
//! while streaming. The policy still refuses ungranted private addresses.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use netguard::{Client, NetError, Policy, PolicyBuilder, Request, StaticResolver};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// One scripted write: bytes, or wait until the test says go.
enum Write {
    Bytes(Vec<u8>),
    WaitForGo,
    Stall,
    Pause(Duration),
}

struct Raw {
    addr: SocketAddr,
    requests: Arc<AtomicUsize>,
    go: mpsc::UnboundedSender<()>,
}

async fn read_request(stream: &mut TcpStream) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk).await.unwrap_or(0);
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..i]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            while buf.len() < i + 4 + len {
                let n = stream.read(&mut chunk).await.unwrap_or(0);
                if n == 0 {
                    return;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            return;
        }
    }
}

/// A one-script raw server on loopback: every connection gets the script.
async fn raw(script: Vec<Write>) -> Raw {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let requests = Arc::new(AtomicUsize::new(0));
    let (go, mut go_rx) = mpsc::unbounded_channel::<()>();
    let script = Arc::new(script);
    let seen = requests.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            read_request(&mut stream).await;
            seen.fetch_add(1, Ordering::SeqCst);
            for step in script.iter() {
                match step {
                    Write::Bytes(b) => {
                        if stream.write_all(b).await.is_err() {
                            break;
                        }
                        let _ = stream.flush().await;
                    }
                    Write::WaitForGo => {
                        let _ = go_rx.recv().await;
                    }
                    Write::Stall => tokio::time::sleep(Duration::from_secs(30)).await,
                    Write::Pause(d) => tokio::time::sleep(*d).await,
                }
            }
            let _ = stream.shutdown().await;
        }
    });
    Raw { addr, requests, go }
}

fn chunk(data: &[u8]) -> Write {
    let mut out = format!("{:x}\r\n", data.len()).into_bytes();
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
    Write::Bytes(out)
}

fn head() -> Write {
    Write::Bytes(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n".to_vec())
}

fn end() -> Write {
    Write::Bytes(b"0\r\n\r\n".to_vec())
}

fn granted() -> PolicyBuilder {
    Policy::builder().allow_private("llm.test").unwrap()
}

fn client(policy: Policy) -> Client {
    Client::new(
        policy,
        Arc::new(StaticResolver::new().with("llm.test", IpAddr::V4(Ipv4Addr::LOCALHOST))),
    )
    .unwrap()
}

fn post(server: &Raw, path: &str) -> Request {
    Request::new(
        "POST",
        &format!("http://llm.test:{}{path}", server.addr.port()),
    )
    .header("content-type", "application/json")
    .body(b"{\"stream\":true}".to_vec())
}

#[tokio::test]
async fn chunks_arrive_before_the_body_is_complete() {
    let server = raw(vec![
        head(),
        chunk(b"data: one\n\n"),
        Write::WaitForGo,
        chunk(b"data: two\n\n"),
        end(),
    ])
    .await;
    let mut resp = client(granted().build())
        .send_streaming(post(&server, "/v1/chat"))
        .await
        .unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("content-type"), Some("text/event-stream"));
    // The server holds the second chunk until we have read the first: the
    // client must hand it over without waiting for the end of the body.
    assert_eq!(&resp.chunk().await.unwrap().unwrap()[..], b"data: one\n\n");
    server.go.send(()).unwrap();
    assert_eq!(&resp.chunk().await.unwrap().unwrap()[..], b"data: two\n\n");
    assert!(resp.chunk().await.unwrap().is_none());
    assert_eq!(resp.received(), 22);
}

#[tokio::test]
async fn the_byte_cap_holds_while_streaming() {
    let server = raw(vec![head(), chunk(&[b'a'; 60]), chunk(&[b'b'; 60]), end()]).await;
    let mut resp = client(granted().max_body_bytes(100).build())
        .send_streaming(post(&server, "/"))
        .await
        .unwrap();
    assert_eq!(resp.chunk().await.unwrap().unwrap().len(), 60);
    let err = resp.chunk().await.unwrap_err();
    assert!(
        matches!(err, NetError::BodyTooLarge { limit: 100 }),
        "{err:?}"
    );
    // Nothing past the cap is handed out afterwards.
    assert!(resp.chunk().await.unwrap().is_none());
}

#[tokio::test]
async fn a_declared_length_over_the_cap_is_refused_at_the_head() {
    let server = raw(vec![Write::Bytes(
        b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\nConnection: close\r\n\r\nabc".to_vec(),
    )])
    .await;
    let err = client(granted().max_body_bytes(1000).build())
        .send_streaming(post(&server, "/"))
        .await
        .unwrap_err();
    assert_eq!(err.reason(), "body_too_large");
}

#[tokio::test]
async fn a_silent_gap_between_chunks_times_out() {
    let server = raw(vec![head(), chunk(b"data: first\n\n"), Write::Stall]).await;
    let policy = granted()
        .read_timeout(Duration::from_millis(300))
        .total_timeout(Duration::from_secs(20))
        .build();
    let mut resp = client(policy)
        .send_streaming(post(&server, "/"))
        .await
        .unwrap();
    assert!(resp.chunk().await.unwrap().is_some());
    let err = resp.chunk().await.unwrap_err();
    assert!(
        matches!(err, NetError::Timeout("reading the body")),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_trickling_stream_hits_the_total_timeout() {
    let mut script = vec![head()];
    for _ in 0..200 {
        script.push(chunk(b"."));
        script.push(Write::Pause(Duration::from_millis(20)));
    }
    script.push(end());
    let server = raw(script).await;
    let policy = granted()
        .read_timeout(Duration::from_secs(5))
        .total_timeout(Duration::from_millis(400))
        .build();
    let mut resp = client(policy)
        .send_streaming(post(&server, "/"))
        .await
        .unwrap();
    let err = loop {
        match resp.chunk().await {
            Ok(Some(_)) => continue,
            Ok(None) => panic!("the stream should not finish within the total limit"),
            Err(e) => break e,
        }
    };
    assert!(
        matches!(err, NetError::Timeout("the total time limit passed")),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_missing_response_head_times_out() {
    let server = raw(vec![Write::Stall]).await;
    let policy = granted().read_timeout(Duration::from_millis(300)).build();
    let err = client(policy)
        .send_streaming(post(&server, "/"))
        .await
        .unwrap_err();
    assert_eq!(err.reason(), "timeout");
}

#[tokio::test]
async fn redirects_are_refused_not_followed() {
    for status in [301u16, 302, 307, 308] {
        let server = raw(vec![Write::Bytes(
            format!(
                "HTTP/1.1 {status} Moved\r\nLocation: http://llm.test:1/steal\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )
            .into_bytes(),
        )])
        .await;
        let err = client(granted().build())
            .send_streaming(post(&server, "/"))
            .await
            .unwrap_err();
        assert!(
            matches!(err, NetError::RedirectRefused { status: s } if s == status),
            "{err:?}"
        );
        assert_eq!(server.requests.load(Ordering::SeqCst), 1);
    }
}

#[tokio::test]
async fn an_ungranted_private_host_is_still_refused() {
    let server = raw(vec![head(), chunk(b"secret"), end()]).await;
    // Same loopback server, but no allow_private grant for the name.
    let err = client(Policy::default())
        .send_streaming(post(&server, "/"))
        .await
        .unwrap_err();
    assert_eq!(err.reason(), "blocked_address");
    // And a literal loopback address without a grant.
    let err = client(Policy::default())
        .send_streaming(Request::get(&format!(
            "http://127.0.0.1:{}/",
            server.addr.port()
        )))
        .await
        .unwrap_err();
    assert_eq!(err.reason(), "blocked_address");
    assert_eq!(server.requests.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn an_allow_list_keeps_a_provider_client_on_its_one_host() {
    let server = raw(vec![head(), chunk(b"ok"), end()]).await;
    let policy = Policy::builder()
        .allow("127.0.0.1")
        .unwrap()
        .allow_private("127.0.0.1")
        .unwrap()
        .build();
    let c = client(policy);
    let mut resp = c
        .send_streaming(Request::get(&format!(
            "http://127.0.0.1:{}/",
            server.addr.port()
        )))
        .await
        .unwrap();
    assert_eq!(resp.bytes().await.unwrap(), b"ok");
    let err = c.send_streaming(post(&server, "/")).await.unwrap_err();
    assert_eq!(err.reason(), "blocked_host");
}
