//! Seal and verify throughput of the audit chain.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use audit::{
    Actor, AnchorFile, AuditKey, ChainHead, Draft, Entry, Outcome, Redactor, Verifier, seal_entry,
};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use serde_json::json;
use std::hint::black_box;

fn typical_draft(i: u64) -> Draft {
    Draft::new(
        Actor::user(format!("{}", i % 50)),
        "tool.call",
        Outcome::Success,
    )
    .target(format!("agent:{}", i % 7))
    .ip("192.0.2.10")
    .details(json!({
        "tool": "http_fetch",
        "url": "https://example.org/page",
        "approved_by": "owner",
        "duration_ms": 182,
        "headers": {"Authorization": "Bearer x"},
    }))
}

fn vault_like_redactor() -> Redactor {
    Redactor::new((0..20).map(|i| format!("sk-provider-secret-value-{i:04}-abcdef")))
}

fn build_chain(key: &AuditKey, n: u64) -> Vec<Entry> {
    let r = vault_like_redactor();
    let mut head = ChainHead::genesis();
    (0..n)
        .map(|i| {
            let e = seal_entry(key, &head, typical_draft(i), &r);
            head = ChainHead::of(&e);
            e
        })
        .collect()
}

fn bench_seal(c: &mut Criterion) {
    let key = AuditKey::from_bytes([1u8; 32]);
    let r = vault_like_redactor();
    let head = ChainHead {
        seq: 41,
        hash: "ab".repeat(32),
    };
    let mut g = c.benchmark_group("audit_seal");
    g.throughput(Throughput::Elements(1));
    g.bench_function("seal_entry_20_secrets", |b| {
        b.iter_batched(
            || typical_draft(7),
            |d| black_box(seal_entry(&key, &head, d, &r)),
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

fn bench_verify(c: &mut Criterion) {
    const N: u64 = 100_000;
    let key = AuditKey::from_bytes([1u8; 32]);
    let chain = build_chain(&key, N);
    let anchor = AnchorFile::sign(&key, &ChainHead::of(chain.last().unwrap()));
    let mut g = c.benchmark_group("audit_verify");
    g.sample_size(10);
    g.throughput(Throughput::Elements(N));
    g.bench_function("verify_100k", |b| {
        b.iter(|| {
            let mut v = Verifier::new(&key, Some(anchor.clone()), None);
            for e in &chain {
                v.push(e);
            }
            let report = v.finish();
            assert!(report.intact);
            black_box(report)
        })
    });
    g.finish();
}

criterion_group!(benches, bench_seal, bench_verify);
criterion_main!(benches);
