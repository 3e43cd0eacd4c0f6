//! `hardshell doctor [--json] [--fix]`: runs every check and prints the
//! findings; exits 1 when a critical finding is not acknowledged (the same
//! rule that stops `serve`).
//!
//! Reads only, except `--fix`, which only tightens data-directory modes. It
//! works while the server runs.

use std::process::ExitCode;

use clap::Args;

use super::GlobalArgs;
use crate::config::Config;
use crate::doctor::{self, Context, Depth, Severity};

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// One JSON object: the findings and a summary.
    #[arg(long)]
    pub json: bool,
    /// Tighten data-directory permissions (0700/0600); nothing else changes.
    #[arg(long)]
    pub fix: bool,
}

pub async fn run(g: &GlobalArgs, args: DoctorArgs) -> anyhow::Result<ExitCode> {
    let dd = g.data_dir()?;
    // Judged (and with --fix, repaired) before anything is opened: the
    // normal open path refuses a directory that is too open.
    let perms = doctor::permissions(&dd, args.fix);
    let config = Config::load(&dd.config_path())?;
    let mut unlocked = crate::secrets::unlock(&dd, &g.unlock_options()?)?;
    let opened = crate::app::open(&dd, &mut unlocked.vault)?;
    let ctx = Context {
        dd: &dd,
        config: &config,
        store: &opened.store,
        audit: &opened.audit,
        bind: config.server.bind,
        unlock: unlocked.source,
        passphrase_file: g.passphrase_file.clone(),
        now: time::OffsetDateTime::now_utc().unix_timestamp(),
    };
    let vault = &unlocked.vault;
    let secrets = config
        .channels
        .check_secrets_in(&vault.names(), |name| vault.get(name).cloned());
    let mut extra = vec![perms];
    extra.extend(doctor::channel_secrets_finding(secrets));
    let findings = doctor::run(&ctx, Depth::Full, extra).await?;
    let blocking = findings.iter().filter(|f| f.blocks()).count();
    let count = |s: Severity| findings.iter().filter(|f| f.severity == s).count();
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "findings": findings,
                "critical": count(Severity::Critical),
                "warning": count(Severity::Warning),
                "blocking": blocking,
            })
        );
    } else {
        for f in &findings {
            let mut tags = String::new();
            if f.acknowledged {
                tags.push_str(" [acknowledged]");
            }
            if f.fixed {
                tags.push_str(" [fixed]");
            }
            println!(
                "{:<8} {}{tags}: {}\n         fix: {}",
                f.severity.as_str().to_uppercase(),
                f.id,
                f.finding,
                f.fix
            );
        }
        println!(
            "{} critical ({} stopping `serve`), {} warnings",
            count(Severity::Critical),
            blocking,
            count(Severity::Warning)
        );
    }
    Ok(if blocking > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
