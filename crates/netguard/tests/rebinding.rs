//! DNS rebinding: the resolver answers a public address first and 127.0.0.1
//! afterwards. The client resolves once per hop and dials only what it
//! checked, so the loopback target never sees a connection.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::sync::Arc;

use common::{RecordingDialer, Reply, SequenceResolver, serve};
use netguard::{Client, Policy, Resolve};

/// A public address used only as a stand-in: the recording dialer diverts
/// dials to it onto a loopback server, so nothing leaves the machine.
const PUBLIC: &str = "93.184.215.14";

struct Setup {
    client: Client,
    resolver: Arc<SequenceResolver>,
    dialer: Arc<RecordingDialer>,
    internal: common::TestServer,
    public: common::TestServer,
    url: String,
}

async fn setup() -> Setup {
    // The attacker's real target: a loopback service.
    let internal = serve("127.0.0.1:0", |_| Reply::Ok(b"internal secret".to_vec())).await;
    // What the "public" address answers with.
    let public = serve("127.0.0.1:0", |req| match req.path.as_str() {
        "/again" => Reply::Redirect(302, "/final".into()),
        _ => Reply::Ok(b"public page".to_vec()),
    })
    .await;
    let port = internal.addr.port();
    let public_addr: SocketAddr = format!("{PUBLIC}:{port}").parse().unwrap();
    let mut dialer = RecordingDialer::default();
    dialer.divert.insert(public_addr, public.addr);
    let dialer = Arc::new(dialer);
    let resolver = Arc::new(SequenceResolver::new(&[(
        "rebind.test",
        &[PUBLIC, "127.0.0.1"],
    )]));
    let client = Client::builder(Policy::default(), resolver.clone() as Arc<dyn Resolve>)
        .dialer(dialer.clone())
        .build()
        .unwrap();
    let url = format!("http://rebind.test:{port}/");
    Setup {
        client,
        resolver,
        dialer,
        internal,
        public,
        url,
    }
}

#[tokio::test]
async fn second_answer_127_0_0_1_is_never_dialled() {
    let s = setup().await;
    let public_addr: SocketAddr = format!("{PUBLIC}:{}", s.internal.addr.port())
        .parse()
        .unwrap();

    let first = s.client.get(&s.url).await.unwrap();
    assert_eq!(first.text(), "public page");
    assert_eq!(
        first.remote_addr, public_addr,
        "connected to the checked address"
    );
    // One lookup for the whole request: nothing re-resolved at connect time.
    assert_eq!(s.resolver.calls("rebind.test"), 1);

    let second = s.client.get(&s.url).await.unwrap_err();
    assert_eq!(second.reason(), "blocked_address");
    assert_eq!(s.resolver.calls("rebind.test"), 2);

    assert_eq!(
        s.dialer.dials(),
        vec![public_addr],
        "only the checked public address was dialled"
    );
    assert_eq!(
        s.internal.connections(),
        0,
        "the loopback target saw a connection"
    );
    assert_eq!(s.public.connections(), 1);
}

#[tokio::test]
async fn a_same_host_redirect_is_re_resolved_and_re_checked() {
    let s = setup().await;
    let err = s.client.get(&format!("{}again", s.url)).await.unwrap_err();
    assert_eq!(err.reason(), "blocked_address");
    assert_eq!(
        s.resolver.calls("rebind.test"),
        2,
        "each hop resolves exactly once"
    );
    assert_eq!(s.public.paths(), vec!["/again"]);
    assert_eq!(s.dialer.dials().len(), 1);
    assert_eq!(s.internal.connections(), 0);
}
