//! The streaming redactor's workload from `benches/throughput.rs` (10,000
//! pushes of 8-byte deltas, 10 secrets), run a fixed number of times so
//! `perf stat -e instructions:u` can compare builds on a noisy machine.
//! Run: cargo run --release -p promptguard --example stream_push -- 20

use std::sync::Arc;

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20);
    let secrets: Vec<String> = (0..10)
        .map(|i| format!("sk-provider-{i:02}-live-credential-value-0123456789abcdefghij"))
        .collect();
    let redactor = Arc::new(promptguard::Redactor::new(&secrets));
    let unit = "Thanks for the notes; see https://example.com/docs?page=2 and the résumé. ";
    let text = unit.repeat(80_000 / unit.len() + 1);
    let mut deltas: Vec<&str> = Vec::new();
    let mut pos = 0;
    while pos < text.len() && deltas.len() < 10_000 {
        let mut end = (pos + 8).min(text.len());
        while !text.is_char_boundary(end) {
            end += 1;
        }
        deltas.push(&text[pos..end]);
        pos = end;
    }
    let mut out = 0usize;
    for _ in 0..rounds {
        let mut s = promptguard::StreamRedactor::new(Arc::clone(&redactor));
        for d in &deltas {
            out += s.push(d).len();
        }
        out += s.finish().len();
    }
    println!("{rounds} rounds, {out} bytes out");
}
