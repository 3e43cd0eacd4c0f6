//! Append throughput per batch, with and without the outside anchor, in
//! the same run: what one batch of the writer task costs in this crate
//! (seal every draft, then sign the head into the anchors), and the file
//! side of the gate that runs before each batch (read and check every
//! anchor). The database transaction is not included, so the relative cost
//! of the outside anchor is overstated, not understated.
//!
//! Run: `cargo bench -p audit --bench anchors`

#![allow(clippy::unwrap_used, clippy::expect_used)]

use audit::{
    Actor, AnchorFile, AnchorSource, AuditKey, ChainHead, DirId, Draft, KnownAnchor, Outcome,
    Redactor, SignedHead, seal_entry,
};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use serde_json::json;
use std::hint::black_box;
use std::path::Path;
use std::time::SystemTime;

fn draft(i: u64) -> Draft {
    Draft::new(Actor::user("42"), "auth.login", Outcome::Success)
        .target(format!("user:{i}"))
        .ip("127.0.0.1")
        .details(json!({"method": "password", "session": "s-1", "attempt": i}))
}

/// One batch as the writer does it today: seal, then the inside anchor.
fn batch_today(key: &AuditKey, r: &Redactor, head: &mut ChainHead, n: u64, inside: &Path) {
    for i in 0..n {
        let e = seal_entry(key, head, draft(i), r);
        *head = ChainHead::of(&e);
    }
    audit::write_anchor(inside, &AnchorFile::sign(key, head)).unwrap();
}

/// The gate's file side: read both anchors and check their MACs.
fn gate_files(key: &AuditKey, id: &DirId, inside: &Path, outside: &Path) -> usize {
    let a = KnownAnchor::inside(audit::read_anchor(inside), key, "in");
    let b = KnownAnchor::signed_head(
        AnchorSource::Outside,
        audit::read_outside_anchor(outside),
        key,
        id,
        "out",
    );
    usize::from(a.genuine_head().is_some()) + usize::from(b.genuine_head().is_some())
}

fn bench_batches(c: &mut Criterion) {
    let key = AuditKey::from_bytes([1u8; 32]);
    let id = DirId::derive(&key);
    let r = Redactor::new((0..20).map(|i| format!("sk-provider-secret-value-{i:04}-abcdef")));
    let data = tempfile::tempdir().unwrap();
    let config = tempfile::tempdir().unwrap();
    let inside = data.path().join("audit.anchor");
    let outside = config.path().join(id.anchor_file_name());
    let mut head = ChainHead::genesis();
    for n in [1u64, 64, 512] {
        let mut g = c.benchmark_group(format!("audit_batch_{n}"));
        g.throughput(Throughput::Elements(n));
        g.sample_size(if n == 512 { 20 } else { 40 });
        g.bench_function("today_inside_anchor", |b| {
            b.iter(|| batch_today(&key, &r, &mut head, n, &inside))
        });
        g.bench_function("with_outside_anchor", |b| {
            b.iter(|| {
                batch_today(&key, &r, &mut head, n, &inside);
                let signed = SignedHead::sign(&key, &id, &head, SystemTime::now());
                audit::write_outside_anchor(&outside, &signed).unwrap();
            })
        });
        g.bench_function("with_outside_anchor_and_gate", |b| {
            b.iter(|| {
                black_box(gate_files(&key, &id, &inside, &outside));
                batch_today(&key, &r, &mut head, n, &inside);
                let signed = SignedHead::sign(&key, &id, &head, SystemTime::now());
                audit::write_outside_anchor(&outside, &signed).unwrap();
            })
        });
        g.finish();
    }
    let mut g = c.benchmark_group("audit_gate");
    g.bench_function("read_and_check_both_anchors", |b| {
        b.iter_batched(
            || (),
            |()| black_box(gate_files(&key, &id, &inside, &outside)),
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, bench_batches);
criterion_main!(benches);
