//! Prints one line per dataset row: file, line, flagged, score and the rule
//! ids hit, so two builds can be compared line by line.
//! Run: cargo run --release -p promptguard --example dump_verdicts -- tests/data/*.jsonl

fn main() {
    for path in std::env::args().skip(1) {
        let Ok(body) = std::fs::read_to_string(&path) else {
            eprintln!("cannot read {path}");
            continue;
        };
        for (i, line) in body.lines().enumerate() {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
                continue;
            };
            let Some(text) = v["text"].as_str() else {
                continue;
            };
            let verdict = promptguard::scan(text);
            let spans = std::env::var("PG_SPANS").is_ok();
            let mut rules: Vec<String> = verdict
                .findings
                .iter()
                .map(|f| {
                    if spans {
                        format!("{}@{}-{}:{}", f.rule, f.start, f.end, f.encoding)
                    } else {
                        f.rule.clone()
                    }
                })
                .collect();
            rules.sort_unstable();
            rules.dedup();
            println!(
                "{path}:{} {} {:.2} {}",
                i + 1,
                verdict.flagged,
                verdict.score,
                rules.join(",")
            );
        }
    }
}
