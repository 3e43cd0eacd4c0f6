//! Limits on a granted loopback test server: body cap (declared and actual),
//! read and total timeouts, per-client concurrency, and request validation.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use common::{Reply, serve};
use netguard::{Client, Limits, NetError, Policy, PolicyBuilder, Request, StaticResolver};

const LOOPBACK: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

fn granted() -> PolicyBuilder {
    Policy::builder().allow_private("origin.test").unwrap()
}

fn client(policy: Policy) -> Client {
    Client::new(
        policy,
        Arc::new(StaticResolver::new().with("origin.test", LOOPBACK)),
    )
    .unwrap()
}

fn url(server: &common::TestServer, path: &str) -> String {
    format!("http://origin.test:{}{path}", server.addr.port())
}

#[test]
fn defaults_follow_the_design() {
    let l = Limits::default();
    assert_eq!(l.max_body_bytes, 5 * 1024 * 1024);
    assert_eq!(l.max_redirects, 5);
    assert_eq!(l.max_concurrent, 10);
    assert_eq!(Policy::default().limits(), &l);
}

#[tokio::test]
async fn default_cap_refuses_a_body_over_five_megabytes() {
    let server = serve("127.0.0.1:0", |req| match req.path.as_str() {
        "/big" => {
            // No Content-Length: the body ends when the connection closes.
            let mut raw = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n".to_vec();
            raw.resize(raw.len() + 5 * 1024 * 1024 + 1, b'a');
            Reply::Raw(raw)
        }
        _ => Reply::Ok(vec![b'a'; 5 * 1024 * 1024]),
    })
    .await;
    let c = client(granted().build());
    let err = c.get(&url(&server, "/big")).await.unwrap_err();
    assert!(
        matches!(err, NetError::BodyTooLarge { limit } if limit == 5 * 1024 * 1024),
        "{err:?}"
    );
    let ok = c.get(&url(&server, "/exact")).await.unwrap();
    assert_eq!(ok.body.len(), 5 * 1024 * 1024);
}

#[tokio::test]
async fn declared_length_over_the_cap_is_refused_before_reading() {
    let server = serve("127.0.0.1:0", |_| {
        Reply::Raw(
            b"HTTP/1.1 200 OK\r\nContent-Length: 999999999\r\nConnection: close\r\n\r\nabc"
                .to_vec(),
        )
    })
    .await;
    let err = client(granted().max_body_bytes(1000).build())
        .get(&url(&server, "/"))
        .await
        .unwrap_err();
    assert_eq!(err.reason(), "body_too_large");
}

#[tokio::test]
async fn chunked_body_over_the_cap_is_refused() {
    let server = serve("127.0.0.1:0", |_| {
        let mut raw =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n".to_vec();
        for _ in 0..3 {
            raw.extend_from_slice(b"190\r\n");
            raw.extend_from_slice(&[b'x'; 400]);
            raw.extend_from_slice(b"\r\n");
        }
        raw.extend_from_slice(b"0\r\n\r\n");
        Reply::Raw(raw)
    })
    .await;
    let err = client(granted().max_body_bytes(1000).build())
        .get(&url(&server, "/"))
        .await
        .unwrap_err();
    assert_eq!(err.reason(), "body_too_large");
    let ok = client(granted().max_body_bytes(1200).build())
        .get(&url(&server, "/"))
        .await
        .unwrap();
    assert_eq!(ok.body.len(), 1200);
}

#[tokio::test]
async fn a_silent_server_hits_the_read_timeout() {
    let server = serve("127.0.0.1:0", |_| Reply::Hang).await;
    let policy = granted().read_timeout(Duration::from_millis(200)).build();
    let err = client(policy).get(&url(&server, "/")).await.unwrap_err();
    assert!(
        matches!(err, NetError::Timeout("waiting for response headers")),
        "{err:?}"
    );
}

#[tokio::test]
async fn the_total_timeout_bounds_the_whole_fetch() {
    let server = serve("127.0.0.1:0", |_| Reply::Hang).await;
    let policy = granted()
        .read_timeout(Duration::from_secs(20))
        .total_timeout(Duration::from_millis(200))
        .build();
    let err = client(policy).get(&url(&server, "/")).await.unwrap_err();
    assert!(
        matches!(err, NetError::Timeout("the total time limit passed")),
        "{err:?}"
    );
}

#[tokio::test]
async fn at_most_n_requests_run_at_once_per_client() {
    let server = serve("127.0.0.1:0", |_| {
        Reply::Delayed(Duration::from_millis(100), b"ok".to_vec())
    })
    .await;
    let c = client(granted().max_concurrent(2).build());
    let u = url(&server, "/");
    let fetches: Vec<_> = (0..6)
        .map(|_| {
            let (c, u) = (c.clone(), u.clone());
            tokio::spawn(async move { c.get(&u).await })
        })
        .collect();
    for f in fetches {
        assert_eq!(f.await.unwrap().unwrap().text(), "ok");
    }
    assert_eq!(server.connections(), 6);
    let peak = server.max_active.load(std::sync::atomic::Ordering::SeqCst);
    assert!(peak <= 2, "{peak} requests ran at once");
}

#[tokio::test]
async fn a_closed_port_is_a_connect_failure() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let err = client(granted().build())
        .get(&format!("http://origin.test:{port}/"))
        .await
        .unwrap_err();
    assert_eq!(err.reason(), "connect_failed");
}

#[tokio::test]
async fn https_to_a_plain_server_fails_in_tls() {
    // Answers plain HTTP the moment a client connects, whatever it sends.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        if let Ok((mut s, _)) = listener.accept().await {
            let _ = s
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nplain")
                .await;
        }
    });
    let err = client(granted().build())
        .get(&format!("https://origin.test:{port}/"))
        .await
        .unwrap_err();
    assert_eq!(err.reason(), "tls_failure", "{err}");
}

#[tokio::test]
async fn reserved_and_malformed_headers_are_refused_before_any_connection() {
    let server = serve("127.0.0.1:0", |_| Reply::Ok(b"x".to_vec())).await;
    let c = client(granted().build());
    for (name, value) in [
        ("Host", "internal.corp"),
        ("Transfer-Encoding", "chunked"),
        ("bad header", "x"),
        ("x-ok", "line\r\nbreak"),
    ] {
        let err = c
            .request(Request::get(&url(&server, "/")).header(name, value))
            .await
            .unwrap_err();
        assert_eq!(err.reason(), "invalid_request", "{name}");
    }
    let err = c
        .request(Request::new("GE T", &url(&server, "/")))
        .await
        .unwrap_err();
    assert_eq!(err.reason(), "invalid_request");
    assert_eq!(server.connections(), 0);
}

#[tokio::test]
async fn host_header_carries_the_name_and_non_default_port() {
    let server = serve("127.0.0.1:0", |_| Reply::Ok(b"x".to_vec())).await;
    client(granted().build())
        .get(&url(&server, "/p?q=1"))
        .await
        .unwrap();
    let seen = server.seen.lock().unwrap().clone();
    assert_eq!(seen[0].path, "/p?q=1");
    assert_eq!(
        seen[0].headers["host"],
        format!("origin.test:{}", server.addr.port())
    );
    assert!(
        !seen[0].headers.contains_key("accept-encoding"),
        "no compression: the cap counts real bytes"
    );
}
