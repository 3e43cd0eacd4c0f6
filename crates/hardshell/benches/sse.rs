//! Provider stream parsing: the `sse-parse` crate (what the server uses,
//! with the same cap and end-of-stream rule as `agents/providers/wire.rs`)
//! against the hand-written parser it replaced, on the same bytes in the
//! same run, rounds interleaved so machine noise hits both alike.
//!
//! The input is a typical OpenAI-style stream: 20,000 small `data:` chunk
//! events cut into 1,460-byte reads, and the same with one 256 KiB event
//! (a large tool-call argument) in the middle.
//!
//! Run: `cargo bench -p hardshell --bench sse`
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/sse_reference.rs"]
mod sse_reference;

use std::hint::black_box;
use std::time::{Duration, Instant};

fn stream(big: bool) -> Vec<u8> {
    let mut s = Vec::new();
    for i in 0..20_000 {
        s.extend_from_slice(
            format!(
                "data: {{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"word{i} \"}}}}]}}\n\n"
            )
            .as_bytes(),
        );
        if big && i == 10_000 {
            s.extend_from_slice(b"data: ");
            s.extend(std::iter::repeat_n(b'a', 256 * 1024));
            s.extend_from_slice(b"\n\n");
        }
    }
    s.extend_from_slice(b"data: [DONE]\n\n");
    s
}

fn crate_parse(bytes: &[u8]) -> usize {
    let mut p = sse_parse::SseParser::new().max_buffer(1 << 20);
    let mut n = 0;
    for chunk in bytes.chunks(1460) {
        p.feed(chunk);
        assert_eq!(p.overflows(), 0);
        while let Some(e) = p.next_event() {
            n += black_box(e.data.len()).min(1);
        }
    }
    p.feed(b"\n\n");
    p.finish();
    while let Some(e) = p.next_event() {
        n += black_box(e.data.len()).min(1);
    }
    n
}

fn reference_parse(bytes: &[u8]) -> usize {
    let mut p = sse_reference::SseParser::new();
    let mut out = Vec::new();
    let mut n = 0;
    for chunk in bytes.chunks(1460) {
        p.feed(chunk, &mut out);
        n += out
            .drain(..)
            .map(|e| black_box(e.data.len()).min(1))
            .sum::<usize>();
    }
    p.finish(&mut out);
    n + out
        .drain(..)
        .map(|e| black_box(e.data.len()).min(1))
        .sum::<usize>()
}

fn main() {
    for big in [false, true] {
        let input = stream(big);
        assert_eq!(crate_parse(&input), reference_parse(&input));
        let (mut t_crate, mut t_ref) = (Vec::new(), Vec::new());
        for _ in 0..15 {
            let t = Instant::now();
            black_box(crate_parse(black_box(&input)));
            t_crate.push(t.elapsed());
            let t = Instant::now();
            black_box(reference_parse(black_box(&input)));
            t_ref.push(t.elapsed());
        }
        let median = |v: &mut Vec<Duration>| {
            v.sort();
            v[v.len() / 2]
        };
        let mib = input.len() as f64 / (1024.0 * 1024.0);
        let (c, r) = (median(&mut t_crate), median(&mut t_ref));
        println!(
            "{} ({:.1} MiB): sse-parse {:.2} ms = {:.0} MiB/s; hand-written {:.2} ms = {:.0} MiB/s; ratio {:.2}",
            if big {
                "20k events + one 256 KiB event"
            } else {
                "20k small events"
            },
            mib,
            c.as_secs_f64() * 1e3,
            mib / c.as_secs_f64(),
            r.as_secs_f64() * 1e3,
            mib / r.as_secs_f64(),
            r.as_secs_f64() / c.as_secs_f64(),
        );
    }
}
