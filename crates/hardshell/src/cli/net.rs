//! `hardshell net check <url>`: netguard's verdict for a URL. It resolves
//! the name and classifies every address, but fetches nothing.
//!
//! Exit status: 0 allowed, 3 blocked, 2 usage error (clap's, and a bad
//! `--resolve`).

use std::process::ExitCode;
use std::sync::Arc;

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum NetCommand {
    /// Would a tool be allowed to fetch this URL?
    Check {
        url: String,
        /// Answer HOST with IP instead of asking DNS (like curl's --resolve);
        /// repeatable. Lets rebinding-style names be tested offline.
        #[arg(long = "resolve", value_name = "HOST:IP")]
        resolve: Vec<String>,
        #[arg(long)]
        json: bool,
    },
}

pub const EXIT_BLOCKED: u8 = 3;
pub const EXIT_USAGE: u8 = 2;

pub async fn run(cmd: NetCommand) -> anyhow::Result<ExitCode> {
    let NetCommand::Check { url, resolve, json } = cmd;
    let mut resolver = netguard::StaticResolver::with_fallback(Arc::new(netguard::SystemResolver));
    for spec in &resolve {
        if let Err(e) = resolver.add_override(spec) {
            eprintln!("error: --resolve {spec}: {e}");
            return Ok(ExitCode::from(EXIT_USAGE));
        }
    }
    let policy = netguard::Policy::default();
    let report = netguard::check(&url, &policy, &resolver).await;
    if json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        let verdict = if report.allowed { "allowed" } else { "BLOCKED" };
        println!("{verdict}: {} ({})", report.url, report.reason);
        if !report.addresses.is_empty() {
            println!("addresses: {}", report.addresses.join(", "));
        }
        if let Some(detail) = &report.detail {
            println!("{detail}");
        }
    }
    Ok(if report.allowed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_BLOCKED)
    })
}
