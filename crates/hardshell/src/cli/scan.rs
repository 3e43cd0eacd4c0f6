//! `hardshell scan [--json] < text`: promptguard's prompt-injection verdict
//! for the text on stdin. Always exits 0; the verdict is evidence, and the
//! caller decides what to do with it.

use std::io::Read;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Args;

/// Larger inputs are refused rather than scanned partially.
const MAX_INPUT: u64 = 16 * 1024 * 1024;

#[derive(Debug, Args)]
pub struct ScanArgs {
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: ScanArgs) -> anyhow::Result<ExitCode> {
    let mut raw = Vec::new();
    std::io::stdin()
        .take(MAX_INPUT + 1)
        .read_to_end(&mut raw)
        .context("reading stdin")?;
    if raw.len() as u64 > MAX_INPUT {
        bail!("input larger than {} MiB", MAX_INPUT / 1024 / 1024);
    }
    let text = String::from_utf8_lossy(&raw);
    let verdict = promptguard::scan(&text);
    if args.json {
        println!("{}", serde_json::to_string(&verdict)?);
    } else {
        println!(
            "{} (score {})",
            if verdict.flagged { "FLAGGED" } else { "clean" },
            verdict.score
        );
        for f in &verdict.findings {
            println!("  {} [{}..{}] {:?}", f.rule, f.start, f.end, f.excerpt);
        }
    }
    Ok(ExitCode::SUCCESS)
}
