//! `hardshell audit verify|tail|export|prune|accept`.
//!
//! `verify` exits 0 with the entry count when the chain and every anchor
//! are intact, 1 naming the first bad seq and the kind of break otherwise,
//! and 2 when it could not run. It only reads: it never appends or
//! re-signs, so a break stays visible to every later verification.
//! `accept` is the one audited way past a break (after an intended restore).

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use audit::{Actor, ActorKind, Entry};
use clap::Subcommand;
use serde_json::json;

use super::GlobalArgs;

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the hash chain and every anchor (reads only).
    Verify {
        #[arg(long)]
        json: bool,
    },
    /// Print the newest entries.
    Tail {
        #[arg(short = 'n', default_value_t = 20)]
        n: u32,
        #[arg(long)]
        json: bool,
    },
    /// Write every entry as JSON lines to stdout.
    Export {
        /// JSON lines (the only format, named for clarity).
        #[arg(long, required = true)]
        jsonl: bool,
    },
    /// Delete entries older than DATE (YYYY-MM-DD or RFC 3339), leaving a
    /// signed checkpoint so verification still passes.
    Prune {
        #[arg(long, value_name = "DATE")]
        before: String,
    },
    /// Accept the chain as it is now (after an intended restore or a
    /// reviewed incident): records the old anchors and the head, then
    /// re-anchors. The only way to write again after a break.
    Accept {
        /// Why this state is accepted; stored in the audit log.
        #[arg(long, value_name = "TEXT")]
        reason: String,
    },
}

/// Exit status of a verification that could not run.
const COULD_NOT_RUN: u8 = 2;

pub fn cli_actor() -> Actor {
    Actor::new(ActorKind::System, "cli")
}

pub async fn run(g: &GlobalArgs, cmd: AuditCommand) -> anyhow::Result<ExitCode> {
    let opened = super::open_all(g);
    match cmd {
        AuditCommand::Verify { json } => {
            let report = match opened {
                Ok((_unlocked, opened)) => verify(&opened, json).await,
                Err(e) => Err(e),
            };
            Ok(report.unwrap_or_else(|e| {
                eprintln!("audit verify could not run: {e:#}");
                ExitCode::from(COULD_NOT_RUN)
            }))
        }
        other => {
            let (_unlocked, opened) = opened?;
            run_opened(opened, other).await
        }
    }
}

async fn run_opened(opened: crate::app::Opened, cmd: AuditCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        AuditCommand::Verify { json } => verify(&opened, json).await,
        AuditCommand::Tail { n, json } => {
            let entries = opened.store.audit_tail(n).await?;
            let mut out = std::io::stdout().lock();
            for e in entries {
                if json {
                    writeln!(out, "{}", serde_json::to_string(&e)?)?;
                } else {
                    writeln!(out, "{}", human_line(&e))?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Export { jsonl: _ } => {
            let written = opened
                .store
                .audit_scan(|_, rows| -> std::io::Result<u64> {
                    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
                    let mut n = 0;
                    for e in rows.flatten() {
                        serde_json::to_writer(&mut out, &e)?;
                        out.write_all(b"\n")?;
                        n += 1;
                    }
                    out.flush()?;
                    Ok(n)
                })
                .await?
                .context("writing the export")?;
            eprintln!("exported {written} entries");
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Prune { before } => {
            let before = parse_date(&before)?;
            let removed = opened.audit.prune(before.clone()).await?;
            eprintln!("pruned {removed} entries older than {before}");
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Accept { reason } => {
            let head = opened.audit.accept(cli_actor(), &reason).await?;
            println!(
                "accepted: the audit log records the acceptance at seq {}; the anchors now name it",
                head.seq
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `audit verify`: reads the chain and every anchor, appends nothing.
async fn verify(opened: &crate::app::Opened, json: bool) -> anyhow::Result<ExitCode> {
    let report = opened.audit.verify().await?;
    if json {
        println!(
            "{}",
            json!({
                "intact": report.intact,
                "entries": report.count,
                "first_bad_seq": report.first_break.map(|b| b.seq),
                "break": report.first_break.map(|b| b.kind.as_str()),
                "found": report.detail,
            })
        );
    } else if let Some(b) = report.first_break {
        println!(
            "audit chain BROKEN: {} at seq {} ({} entries read)",
            b.kind.as_str(),
            b.seq,
            report.count
        );
        if let Some(d) = &report.detail {
            println!("found: {d}");
        }
    } else {
        println!("audit chain intact: {} entries", report.count);
    }
    Ok(if report.intact {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn human_line(e: &Entry) -> String {
    format!(
        "{:>6} {} {}:{} {} {} {}{}",
        e.seq,
        e.ts,
        e.actor.kind.as_str(),
        e.actor.id,
        e.action,
        e.outcome.as_str(),
        e.target,
        e.ip.as_deref()
            .map(|ip| format!(" from {ip}"))
            .unwrap_or_default()
    )
}

/// `YYYY-MM-DD` (midnight UTC) or RFC 3339, normalised to the stored
/// timestamp form so string order is time order.
pub fn parse_date(s: &str) -> anyhow::Result<String> {
    use time::format_description::well_known::Rfc3339;
    let t = if s.len() == 10 {
        let d = time::Date::parse(s, time::macros::format_description!("[year]-[month]-[day]"))
            .with_context(|| format!("{s:?} is not a date like 2026-01-31"))?;
        d.midnight().assume_utc()
    } else {
        time::OffsetDateTime::parse(s, &Rfc3339)
            .with_context(|| format!("{s:?} is not an RFC 3339 time"))?
    };
    Ok(audit::format_ts(t.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_normalise_to_stored_form() {
        assert_eq!(
            parse_date("2026-01-31").unwrap(),
            "2026-01-31T00:00:00.000Z"
        );
        assert_eq!(
            parse_date("2026-01-31T10:00:00+02:00").unwrap(),
            "2026-01-31T08:00:00.000Z"
        );
        assert!(parse_date("yesterday").is_err());
        assert!(parse_date("2026-13-01").is_err());
    }
}
