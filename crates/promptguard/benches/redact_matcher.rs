//! The leak guard's secret matcher against the library automaton it
//! replaced (aho-corasick, overlapping search over the same variants), in
//! one run: 10 and 50 secrets, 4 KiB and 1 MiB of text. Also the whole
//! `Redactor::redact` (key formats included) and building a `Redactor`.
//! Run: cargo bench -p promptguard --bench redact_matcher
#![allow(clippy::expect_used)]

use std::hint::black_box;

use aho_corasick::{AhoCorasickBuilder, MatchKind};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// Prose with code, a URL and non-ASCII text, as an agent reply has.
fn text(target: usize) -> String {
    let parts = [
        "Thanks for the notes from yesterday's meeting; the report is attached. ",
        "```rust\nlet total: u64 = rows.iter().map(|r| r.amount).sum();\n```\n",
        "See https://example.com/docs?page=2&sort=asc for the previous version. ",
        "Les résultats sont prêts; 結果は準備できました. ",
        "Authorization: Bearer eyJhbGciOi-not-a-real-token and id 0123456789abcdef. ",
    ];
    let mut s = String::with_capacity(target + 200);
    let mut i = 0;
    while s.len() < target {
        s.push_str(parts[i % parts.len()]);
        i += 1;
    }
    s
}

/// Provider keys, passwords and tokens of the lengths vaults hold.
fn secrets(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| match i % 3 {
            0 => format!("sk-provider-{i:02}-live-credential-value-0123456789abcdefghij"),
            1 => format!("correct horse battery staple {i:03}"),
            _ => format!("{i:04}:AAH-bot-token-Zx81kd02LmQp7"),
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    for n in [10usize, 50] {
        let secrets = secrets(n);
        let refs: Vec<&str> = secrets.iter().map(String::as_str).collect();
        let variants = promptguard::bench_support::variants(&refs);
        let ac = AhoCorasickBuilder::new()
            .match_kind(MatchKind::Standard)
            .build(variants.iter().map(|v| v.as_slice()))
            .expect("automaton");
        let redactor = promptguard::Redactor::new(&refs);
        println!("{n} secrets: {} variants", variants.len());
        let mut g = c.benchmark_group(format!("redact_matcher_{n}_secrets"));
        g.bench_function("build_aho_corasick", |b| {
            b.iter(|| {
                AhoCorasickBuilder::new()
                    .match_kind(MatchKind::Standard)
                    .build(black_box(&variants).iter().map(|v| v.as_slice()))
            })
        });
        g.bench_function("build_redactor", |b| {
            b.iter(|| promptguard::Redactor::new(black_box(&refs)))
        });
        for (size, name) in [(4096usize, "4k"), (1 << 20, "1m")] {
            let mut t = text(size);
            // One plain and one base64 occurrence, as a leak would look.
            t.push_str(&secrets[0]);
            t.push(' ');
            t.push_str(&base64_of(&secrets[n - 1]));
            let found_ac = ac
                .try_find_overlapping_iter(t.as_str())
                .expect("overlapping")
                .count();
            let found_new = promptguard::bench_support::occurrences(&redactor, &t);
            assert_eq!(found_ac, found_new, "both matchers find the same");
            if size > 4096 {
                g.sample_size(10);
            }
            g.throughput(Throughput::Bytes(t.len() as u64));
            g.bench_function(format!("aho_corasick_{name}"), |b| {
                b.iter(|| {
                    ac.try_find_overlapping_iter(black_box(t.as_str()))
                        .expect("overlapping")
                        .map(|m| (m.start(), m.end(), m.pattern()))
                        .collect::<Vec<_>>()
                })
            });
            g.bench_function(format!("window_filter_{name}"), |b| {
                b.iter(|| promptguard::bench_support::occurrences(&redactor, black_box(&t)))
            });
            g.bench_function(format!("redact_{name}"), |b| {
                b.iter(|| redactor.redact(black_box(&t)))
            });
        }
        g.finish();
    }
}

fn base64_of(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(s)
}

criterion_group!(benches, bench);
criterion_main!(benches);
