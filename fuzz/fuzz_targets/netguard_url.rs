//! Fuzzes the URL-and-policy path: WHATWG parsing, host normalisation, the
//! allow/block/grant lists and the classifier. Invariants: nothing panics,
//! and an allowed URL is http(s) with only public addresses (no grant here
//! except `granted.example`).
#![no_main]

use std::future::Future;
use std::net::{IpAddr, Ipv6Addr};
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use libfuzzer_sys::fuzz_target;
use netguard::{HostPattern, Policy, StaticResolver, check, classify, parse_override};

/// The static resolver answers at once, so polling to completion never spins.
fn run_ready<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

fuzz_target!(|data: &[u8]| {
    // The first 16 bytes also serve as an address for the classifier and for
    // the names below; the rest is the URL.
    let mut raw = [0u8; 16];
    let n = data.len().min(16);
    raw[..n].copy_from_slice(&data[..n]);
    let v6 = Ipv6Addr::from(raw);
    let v4 = IpAddr::from([raw[0], raw[1], raw[2], raw[3]]);
    let _ = classify(v6.into());
    let _ = classify(v4);

    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = HostPattern::parse(text);
    let _ = parse_override(text);

    let resolver = StaticResolver::new()
        .with("fuzz.example", v4)
        .with("fuzz6.example", v6.into())
        .with("granted.example", IpAddr::from([127, 0, 0, 1]))
        .with("public.example", IpAddr::from([8, 8, 8, 8]));
    let Ok(policy) = Policy::builder()
        .block("*.blocked.example")
        .and_then(|b| b.allow_private("granted.example"))
    else {
        return;
    };
    let policy = policy.build();
    for url in [
        text.to_owned(),
        format!("http://{text}/"),
        format!("http://{text}.fuzz.example/"),
    ] {
        let report = run_ready(check(&url, &policy, &resolver));
        if report.allowed {
            assert!(
                report.url.starts_with("http://") || report.url.starts_with("https://"),
                "{url}"
            );
            assert!(!report.addresses.is_empty(), "{url}");
            let host = report
                .url
                .split("://")
                .nth(1)
                .and_then(|r| r.split(['/', ':', '?', '#']).next());
            let granted = host == Some("granted.example");
            for a in &report.addresses {
                let ip: IpAddr = a.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]));
                assert!(granted || classify(ip).is_none(), "{url} allowed {a}");
            }
        } else {
            assert_ne!(report.reason, "allowed");
        }
    }
});
