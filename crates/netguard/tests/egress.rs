//! The egress hook: it sees the pinned first hop before anything is sent,
//! may rewrite headers, query and body only, can stop the request with
//! nothing sent, and a request it marks as carrying a secret never follows
//! a redirect.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use common::{Reply, serve};
use netguard::{Client, Egress, EgressParts, Policy, Request, StaticResolver};

const LOOPBACK: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

fn client() -> Client {
    let resolver = StaticResolver::new()
        .with("api.test", LOOPBACK)
        .with("other.test", LOOPBACK);
    let policy = Policy::builder()
        .allow_private("api.test")
        .unwrap()
        .allow_private("other.test")
        .unwrap()
        .build();
    Client::new(policy, Arc::new(resolver)).unwrap()
}

/// Replaces `PLACEHOLDER` with `value` in headers, query and body, and
/// records the pinned host and port it was shown.
struct Swap {
    value: &'static str,
    seen: Mutex<Vec<(String, u16, usize)>>,
    refuse: bool,
}

impl Egress for Swap {
    fn finish(&self, parts: &mut EgressParts<'_>) -> Result<bool, String> {
        self.seen.lock().unwrap().push((
            parts.target.host.clone(),
            parts.target.port,
            parts.target.addrs.len(),
        ));
        if self.refuse {
            return Err("not bound here".into());
        }
        for (_, v) in &mut parts.headers {
            *v = v.replace("PLACEHOLDER", self.value);
        }
        parts.query = parts
            .query
            .take()
            .map(|q| q.replace("PLACEHOLDER", self.value));
        parts.body = String::from_utf8_lossy(&parts.body)
            .replace("PLACEHOLDER", self.value)
            .into_bytes();
        Ok(true)
    }
}

fn swap(refuse: bool) -> Swap {
    Swap {
        value: "s3cr3t",
        seen: Mutex::new(Vec::new()),
        refuse,
    }
}

#[tokio::test]
async fn the_hook_sees_the_pinned_hop_and_its_rewrite_is_what_leaves() {
    let server = serve("127.0.0.1:0", |_| Reply::Ok(b"ok".to_vec())).await;
    let port = server.addr.port();
    let hook = swap(false);
    let request = Request::new("POST", &format!("http://api.test:{port}/x?k=PLACEHOLDER"))
        .header("authorization", "Bearer PLACEHOLDER")
        .body(b"{\"t\":\"PLACEHOLDER\"}".to_vec());
    let resp = client().request_with_egress(request, &hook).await.unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(
        hook.seen.lock().unwrap().clone(),
        vec![("api.test".into(), port, 1)]
    );
    let seen = server.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].path, "/x?k=s3cr3t");
    assert_eq!(seen[0].headers["authorization"], "Bearer s3cr3t");
    assert_eq!(seen[0].body, b"{\"t\":\"s3cr3t\"}");
}

#[tokio::test]
async fn a_refusing_hook_stops_the_request_before_any_connection() {
    let server = serve("127.0.0.1:0", |_| Reply::Ok(b"ok".to_vec())).await;
    let hook = swap(true);
    let url = format!("http://api.test:{}/x", server.addr.port());
    let err = client()
        .request_with_egress(Request::get(&url), &hook)
        .await
        .unwrap_err();
    assert_eq!(err.reason(), "egress_refused", "{err}");
    assert_eq!(server.connections(), 0);
}

#[tokio::test]
async fn a_request_carrying_a_secret_never_follows_a_redirect() {
    let other = serve("127.0.0.1:0", |_| Reply::Ok(b"other".to_vec())).await;
    let to = format!("http://other.test:{}/collect", other.addr.port());
    let origin = serve("127.0.0.1:0", move |_| Reply::Redirect(302, to.clone())).await;
    let url = format!("http://api.test:{}/x", origin.addr.port());
    let request = Request::get(&url).header("authorization", "PLACEHOLDER");
    let resp = client()
        .request_with_egress(request, &swap(false))
        .await
        .unwrap();
    assert_eq!(resp.status, 302);
    assert_eq!(other.connections(), 0, "the redirect was followed");
    // Without the hook, the same redirect is followed.
    let resp = client().get(&url).await.unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(other.connections(), 1);
}
