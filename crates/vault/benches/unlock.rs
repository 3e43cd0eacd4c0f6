//! Unlock time (Argon2id at the production parameters) and the cost of one
//! persisted `set` (encode, AES-GCM, atomic write with fsyncs).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use vault::{SecretString, Vault};

fn unlock(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vault.hsv");
    let pass = SecretString::from("correct horse battery staple");
    let mut vault = Vault::create(&path, &pass).unwrap();
    for i in 0..20 {
        vault
            .set(
                &format!("SECRET_{i}"),
                SecretString::from(format!("value-{i}-{}", "x".repeat(40))),
            )
            .unwrap();
    }
    drop(vault);

    let mut group = c.benchmark_group("vault");
    group.sample_size(10);
    group.bench_function("open_production_argon2id_64MiB_t3_p1", |b| {
        b.iter(|| black_box(Vault::open(&path, &pass).unwrap()))
    });
    let mut vault = Vault::open(&path, &pass).unwrap();
    group.bench_function("set_and_persist_20_secrets", |b| {
        b.iter(|| {
            vault
                .set("ROTATING", SecretString::from("new value"))
                .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, unlock);
criterion_main!(benches);
