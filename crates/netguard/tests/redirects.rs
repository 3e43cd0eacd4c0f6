//! Redirects from a loopback test server: each hop is re-checked, and a hop
//! that lands on a refused address is never requested.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::IpAddr;
use std::sync::Arc;

use common::{Reply, serve};
use netguard::{Client, NetError, Policy, Request, StaticResolver};

const LOOPBACK: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

/// `origin.test` is the only granted name; `internal.test` resolves to the
/// same loopback address but has no grant.
fn client(policy: Policy) -> Client {
    let resolver = StaticResolver::new()
        .with("origin.test", LOOPBACK)
        .with("other.test", LOOPBACK)
        .with("internal.test", LOOPBACK)
        .with("rebound.nip.io", LOOPBACK);
    Client::new(policy, Arc::new(resolver)).unwrap()
}

fn granted() -> Policy {
    Policy::builder()
        .allow_private("origin.test")
        .unwrap()
        .allow_private("other.test")
        .unwrap()
        .build()
}

#[tokio::test]
async fn chain_ending_at_a_private_address_is_blocked_before_it_is_requested() {
    let internal = serve("127.0.0.1:0", |_| Reply::Ok(b"secret".to_vec())).await;
    let port = internal.addr.port();
    let targets = [
        (
            format!("http://internal.test:{port}/secret"),
            "blocked_address",
        ),
        (
            format!("http://rebound.nip.io:{port}/secret"),
            "blocked_address",
        ),
        (format!("http://127.0.0.1:{port}/secret"), "blocked_address"),
        (format!("http://0x7f.1:{port}/secret"), "blocked_address"),
        (
            format!("http://2130706433:{port}/secret"),
            "blocked_address",
        ),
        (
            format!("http://[::ffff:127.0.0.1]:{port}/secret"),
            "blocked_address",
        ),
        (format!("http://[::1]:{port}/secret"), "blocked_address"),
        (format!("http://localhost:{port}/secret"), "blocked_host"),
        (format!("http://localhost.:{port}/secret"), "blocked_host"),
        (
            format!("http://evil@127.0.0.1:{port}/secret"),
            "invalid_url",
        ),
        ("file:///etc/passwd".to_owned(), "blocked_scheme"),
        (format!("gopher://127.0.0.1:{port}/_x"), "blocked_scheme"),
    ];
    for (final_hop, want) in targets {
        let hop = final_hop.clone();
        let origin = serve("127.0.0.1:0", move |req| match req.path.as_str() {
            "/start" => Reply::Redirect(302, "/hop1".into()),
            "/hop1" => Reply::Redirect(301, "hop2".into()),
            "/hop2" => Reply::Redirect(307, hop.clone()),
            _ => Reply::Ok(b"unexpected".to_vec()),
        })
        .await;
        let url = format!("http://origin.test:{}/start", origin.addr.port());
        let err = client(granted()).get(&url).await.unwrap_err();
        assert_eq!(err.reason(), want, "{final_hop}: {err}");
        assert_eq!(
            origin.paths(),
            vec!["/start", "/hop1", "/hop2"],
            "{final_hop}"
        );
        assert_eq!(
            internal.connections(),
            0,
            "{final_hop} reached the internal server"
        );
    }
}

#[tokio::test]
async fn blocked_address_error_names_ip_and_range() {
    let origin = serve("127.0.0.1:0", |_| {
        Reply::Redirect(302, "http://169.254.169.254/latest/meta-data/".into())
    })
    .await;
    let err = client(granted())
        .get(&format!("http://origin.test:{}/", origin.addr.port()))
        .await
        .unwrap_err();
    match err {
        NetError::BlockedAddress { ip, range } => {
            assert_eq!(ip.to_string(), "169.254.169.254");
            assert_eq!(range.cidr, "169.254.0.0/16");
        }
        other => panic!("expected BlockedAddress, got {other:?}"),
    }
}

#[tokio::test]
async fn at_most_five_redirects_are_followed() {
    // /r/N redirects to /r/N-1; /r/0 answers.
    let origin = serve("127.0.0.1:0", |req| {
        let n: usize = req.path.trim_start_matches("/r/").parse().unwrap_or(0);
        if n == 0 {
            Reply::Ok(b"done".to_vec())
        } else {
            Reply::Redirect(302, format!("/r/{}", n - 1))
        }
    })
    .await;
    let base = format!("http://origin.test:{}", origin.addr.port());
    let c = client(granted());
    let ok = c.get(&format!("{base}/r/5")).await.unwrap();
    assert_eq!(
        (ok.status, ok.redirects, ok.text().as_str()),
        (200, 5, "done")
    );
    assert!(ok.url.ends_with("/r/0"));

    let before = origin.paths().len();
    let err = c.get(&format!("{base}/r/6")).await.unwrap_err();
    assert_eq!(err.reason(), "too_many_redirects");
    // The first request plus five followed hops; the sixth target is never asked.
    assert_eq!(origin.paths().len() - before, 6);
    // /r/0 was only reached by the first (five-hop) chain.
    assert_eq!(origin.paths().iter().filter(|p| *p == "/r/0").count(), 1);
}

#[tokio::test]
async fn caller_headers_never_follow_a_cross_origin_redirect() {
    let other = serve("127.0.0.1:0", |_| Reply::Ok(b"other".to_vec())).await;
    let other_url = format!("http://other.test:{}/landing", other.addr.port());
    let origin = serve("127.0.0.1:0", move |req| match req.path.as_str() {
        "/same" => Reply::Redirect(302, "/final".into()),
        "/cross" => Reply::Redirect(307, other_url.clone()),
        _ => Reply::Ok(b"final".to_vec()),
    })
    .await;
    let base = format!("http://origin.test:{}", origin.addr.port());
    let c = client(granted());

    c.request(Request::get(&format!("{base}/same")).header("x-api-key", "s3cret"))
        .await
        .unwrap();
    let seen = origin.seen.lock().unwrap().clone();
    assert_eq!(seen.last().unwrap().path, "/final");
    assert_eq!(
        seen.last()
            .unwrap()
            .headers
            .get("x-api-key")
            .map(String::as_str),
        Some("s3cret")
    );

    let resp = c
        .request(
            Request::get(&format!("{base}/cross"))
                .header("Authorization", "Bearer s3cret")
                .header("x-api-key", "s3cret"),
        )
        .await
        .unwrap();
    assert_eq!(resp.text(), "other");
    let seen = other.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert!(!seen[0].headers.contains_key("authorization"));
    assert!(!seen[0].headers.contains_key("x-api-key"));
}

#[tokio::test]
async fn a_request_body_never_follows_a_cross_origin_307() {
    let other = serve("127.0.0.1:0", |_| Reply::Ok(b"other".to_vec())).await;
    let other_url = format!("http://other.test:{}/collect", other.addr.port());
    let origin = serve("127.0.0.1:0", move |_| {
        Reply::Redirect(307, other_url.clone())
    })
    .await;
    let url = format!("http://origin.test:{}/submit", origin.addr.port());
    let resp = client(granted())
        .request(Request::new("POST", &url).body("token=s3cret"))
        .await
        .unwrap();
    assert_eq!((resp.status, resp.redirects), (307, 0));
    assert_eq!(other.connections(), 0);
}

#[tokio::test]
async fn see_other_turns_post_into_get_without_body() {
    let origin = serve("127.0.0.1:0", |req| match req.path.as_str() {
        "/form" => Reply::Redirect(303, "/result".into()),
        _ => Reply::Ok(b"result".to_vec()),
    })
    .await;
    let url = format!("http://origin.test:{}/form", origin.addr.port());
    let resp = client(granted())
        .request(
            Request::new("POST", &url)
                .header("content-type", "text/plain")
                .body("payload"),
        )
        .await
        .unwrap();
    assert_eq!(resp.text(), "result");
    let seen = origin.seen.lock().unwrap().clone();
    assert_eq!(
        (seen[0].method.as_str(), seen[0].body.as_slice()),
        ("POST", b"payload".as_slice())
    );
    assert_eq!(seen[1].method, "GET");
    assert!(seen[1].body.is_empty());
    assert!(!seen[1].headers.contains_key("content-type"));
}

#[tokio::test]
async fn an_ungranted_name_for_the_same_server_is_refused_up_front() {
    let origin = serve("127.0.0.1:0", |_| Reply::Ok(b"hi".to_vec())).await;
    let err = client(granted())
        .get(&format!("http://internal.test:{}/", origin.addr.port()))
        .await
        .unwrap_err();
    assert_eq!(err.reason(), "blocked_address");
    assert_eq!(origin.connections(), 0);
}
