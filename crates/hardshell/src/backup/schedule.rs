//! Scheduled backups (`[backup] every`, `keep`, `dir`, `recipient`), run by
//! the server.
//!
//! Owns when the next backup is due (the newest successful `backup.created`
//! in the audit log plus `every`; at once when there is none), running it
//! off the async workers, and pruning: only archives this schedule names
//! (`hardshell-<time>.backup.age`) are ever deleted, oldest first, down to
//! `keep`. Every run, failure and prune is audited as `system:scheduler`.
//! It never writes a backup without a recipient and never deletes a file
//! it did not name.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use audit::{Actor, ActorKind, Draft, Outcome};

use super::{BackupError, SealTo, StagedKeys};
use crate::app::Opened;
use crate::config::{BackupConfig, DataDir};
use crate::secrets::live::LiveVault;

/// Archives kept when `keep` is not set.
pub const DEFAULT_KEEP: usize = 7;
/// The wait after a failed run before the next try (or `every`, if shorter).
const RETRY: Duration = Duration::from_secs(15 * 60);

/// A parsed `[backup]` schedule.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub every: Duration,
    pub keep: usize,
    pub dir: PathBuf,
    pub recipient: String,
}

impl Schedule {
    /// `None` when `every` is not set (config validation already refused
    /// `every` without `recipient` and a malformed interval).
    pub fn from_config(cfg: &BackupConfig, dd: &DataDir) -> Option<Schedule> {
        let every = crate::config::parse_interval(cfg.every.as_deref()?).ok()?;
        Some(Schedule {
            every,
            keep: cfg.keep.unwrap_or(DEFAULT_KEEP),
            dir: super::default_dir(dd, cfg.dir.as_deref()),
            recipient: cfg.recipient.clone()?,
        })
    }
}

fn actor() -> Actor {
    Actor::new(ActorKind::System, "scheduler")
}

/// Unix time of an RFC 3339 audit timestamp.
pub fn parse_ts(ts: &str) -> Option<i64> {
    time::OffsetDateTime::parse(ts, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp())
}

/// Whether `name` is one this schedule writes (and so may prune).
fn scheduled_name(name: &str) -> bool {
    name.strip_prefix("hardshell-")
        .and_then(|rest| rest.strip_suffix(super::SUFFIX))
        .is_some_and(|stamp| {
            stamp.len() == 16
                && stamp.as_bytes()[8] == b'T'
                && stamp.ends_with('Z')
                && stamp
                    .bytes()
                    .enumerate()
                    .all(|(i, b)| i == 8 || i == 15 || b.is_ascii_digit())
        })
}

/// Deletes the oldest scheduled archives in `dir` beyond `keep`; returns
/// the names it deleted.
pub fn prune(dir: &std::path::Path, keep: usize) -> Result<Vec<String>, BackupError> {
    let mut ours: Vec<_> = super::list(dir)?
        .into_iter()
        .filter(|l| !l.incomplete && scheduled_name(&l.name))
        .collect();
    // The name carries the creation time; it sorts the same way.
    ours.sort_by(|a, b| a.name.cmp(&b.name));
    let excess = ours.len().saturating_sub(keep);
    let mut removed = Vec::new();
    for old in ours.into_iter().take(excess) {
        std::fs::remove_file(&old.path).map_err(|e| BackupError::io(&old.path, e))?;
        removed.push(old.name);
    }
    Ok(removed)
}

/// One scheduled run: create, verify (inside `create`), prune, audit.
async fn run_once(
    schedule: &Schedule,
    dd: &DataDir,
    opened: &Opened,
    vault: &LiveVault,
) -> Result<(), BackupError> {
    let keys = StagedKeys::from_live(vault)?;
    let to = SealTo::recipients(std::slice::from_ref(&schedule.recipient))?;
    let out = schedule
        .dir
        .join(super::default_name(time::OffsetDateTime::now_utc()));
    let created = super::create(dd, opened, &keys, &to, &out, actor()).await?;
    tracing::info!(path = %created.path.display(), bytes = created.size, "scheduled backup written");
    let removed = prune(&schedule.dir, schedule.keep)?;
    if !removed.is_empty() {
        opened
            .audit
            .record(
                Draft::new(actor(), "backup.pruned", Outcome::Success)
                    .target(schedule.dir.display().to_string())
                    .detail("removed", removed)
                    .detail("keep", schedule.keep),
            )
            .await?;
    }
    Ok(())
}

/// Starts the schedule as a task; each run goes to the blocking pool
/// (archives are written with blocking I/O, and age's recipients are not
/// `Sync`, so a run cannot live on the async workers).
pub fn spawn(schedule: Schedule, dd: DataDir, opened: Opened, vault: Arc<LiveVault>) {
    tokio::spawn(run(schedule, dd, opened, vault));
}

fn share(o: &Opened) -> Opened {
    Opened {
        store: o.store.clone(),
        audit: o.audit.clone(),
        pepper: Arc::clone(&o.pepper),
    }
}

async fn run_blocking(
    schedule: &Schedule,
    dd: &DataDir,
    opened: &Opened,
    vault: &Arc<LiveVault>,
) -> Result<(), BackupError> {
    let handle = tokio::runtime::Handle::current();
    let (schedule, dd, opened, vault) = (
        schedule.clone(),
        dd.clone(),
        share(opened),
        Arc::clone(vault),
    );
    tokio::task::spawn_blocking(move || handle.block_on(run_once(&schedule, &dd, &opened, &vault)))
        .await
        .unwrap_or_else(|e| Err(BackupError::Invalid(format!("the backup task failed: {e}"))))
}

async fn run(schedule: Schedule, dd: DataDir, opened: Opened, vault: Arc<LiveVault>) {
    loop {
        let last = match opened.store.last_backup_ts().await {
            Ok(ts) => ts.as_deref().and_then(parse_ts),
            Err(e) => {
                tracing::error!(error = %e, "scheduled backups: cannot read the last backup");
                None
            }
        };
        let now = crate::auth::now_secs();
        let every = i64::try_from(schedule.every.as_secs()).unwrap_or(i64::MAX);
        let wait = last.map_or(0, |t| t.saturating_add(every).saturating_sub(now).max(0));
        tokio::time::sleep(Duration::from_secs(wait.unsigned_abs())).await;
        if let Err(e) = run_blocking(&schedule, &dd, &opened, &vault).await {
            tracing::error!(error = %e, "scheduled backup failed");
            let recorded = opened
                .audit
                .record(
                    Draft::new(actor(), "backup.failed", Outcome::Failure)
                        .target(schedule.dir.display().to_string())
                        .detail("error", e.to_string()),
                )
                .await;
            if let Err(e) = recorded {
                tracing::error!(error = %e, "could not audit a failed scheduled backup");
            }
            tokio::time::sleep(RETRY.min(schedule.every)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_scheduled_names_are_pruned_oldest_first() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let names = [
            "hardshell-20261201T000000Z.backup.age",
            "hardshell-20261202T000000Z.backup.age",
            "hardshell-20261203T000000Z.backup.age",
            "my-own.backup.age",
            "hardshell-before-upgrade.backup.age",
        ];
        for n in names {
            std::fs::write(dir.join(n), b"x").unwrap();
        }
        std::fs::write(
            dir.join(".hardshell-20261204T000000Z.backup.age.x.partial"),
            b"x",
        )
        .unwrap();
        let removed = prune(dir, 2).unwrap();
        assert_eq!(removed, vec!["hardshell-20261201T000000Z.backup.age"]);
        for kept in &names[1..] {
            assert!(dir.join(kept).exists(), "{kept}");
        }
        assert!(prune(dir, 2).unwrap().is_empty());
        assert!(!scheduled_name("hardshell-2026120XT000000Z.backup.age"));
    }
}
