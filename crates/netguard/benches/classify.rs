//! Throughput of the address classifier and of `check` with a static resolver.

use std::hint::black_box;
use std::net::IpAddr;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use netguard::{Policy, StaticResolver, check, classify};

const ADDRS: &[&str] = &[
    "8.8.8.8",
    "127.0.0.1",
    "10.1.2.3",
    "100.64.0.1",
    "203.0.113.9",
    "2606:4700::1111",
    "::ffff:127.0.0.1",
    "64:ff9b::7f00:1",
    "2002:7f00:1::",
    "fd00:ec2::254",
];

const URLS: &[&str] = &[
    "https://example.com/path?q=1",
    "http://2130706433/",
    "http://[::ffff:127.0.0.1]/",
    "http://rebind.nip.io/",
    "https://1.1.1.1/",
    "gopher://example.com/",
    "http://localhost./",
    "http://0x7f.1/",
];

/// Polls a future that completes without waiting (static resolver only).
fn run_ready<F: std::future::Future>(fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

fn bench(c: &mut Criterion) {
    let ips: Vec<IpAddr> = ADDRS.iter().filter_map(|s| s.parse().ok()).collect();
    let mut g = c.benchmark_group("netguard");
    g.throughput(Throughput::Elements(ips.len() as u64));
    g.bench_function("classify", |b| {
        b.iter(|| {
            for ip in &ips {
                black_box(classify(black_box(*ip)));
            }
        })
    });
    let policy = Policy::default();
    let resolver = StaticResolver::new()
        .with(
            "example.com",
            "93.184.215.14"
                .parse()
                .unwrap_or(IpAddr::from([1, 1, 1, 1])),
        )
        .with("rebind.nip.io", IpAddr::from([127, 0, 0, 1]));
    g.throughput(Throughput::Elements(URLS.len() as u64));
    g.bench_function("check_static", |b| {
        b.iter(|| {
            for url in URLS {
                black_box(run_ready(check(black_box(url), &policy, &resolver)));
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
