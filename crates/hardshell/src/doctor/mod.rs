//! `hardshell doctor`: the go-live checklist as checks. Each finding has a
//! stable id, a severity, what was found and how to fix it.
//!
//! Owns the list of checks, their severities, `--fix` (it only ever
//! tightens file modes), and the start-up gate: `serve` refuses to start on
//! a critical finding that `[doctor] acknowledge` does not name. It reads
//! the store through `store::doctor` and never changes a row; it never
//! prints a secret (the password check reports only that an owner's
//! password is on the list, never which entry).

mod checks;

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Serialize;

use crate::audit_log::{AuditLog, AuditLogError};
use crate::config::{Config, DataDir};
use crate::secrets::PassphraseSource;
use crate::store::{Store, StoreError};

pub use checks::permissions;

#[derive(Debug, thiserror::Error)]
pub enum DoctorError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Audit(#[from] AuditLogError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Critical => "critical",
        }
    }
}

/// One finding of one check.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub id: &'static str,
    pub severity: Severity,
    pub finding: String,
    pub fix: String,
    /// Named in `[doctor] acknowledge`: reported, but does not stop `serve`.
    pub acknowledged: bool,
    /// `--fix` repaired it.
    pub fixed: bool,
}

impl Finding {
    pub(crate) fn new(
        id: &'static str,
        severity: Severity,
        finding: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Self {
            id,
            severity,
            finding: finding.into(),
            fix: fix.into(),
            acknowledged: false,
            fixed: false,
        }
    }

    /// Critical, not fixed and not acknowledged: this stops `serve`.
    pub fn blocks(&self) -> bool {
        self.severity == Severity::Critical && !self.acknowledged && !self.fixed
    }
}

/// How much to check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    /// Every check (`hardshell doctor`).
    Full,
    /// At `serve` start: skips what `serve` has just checked itself (the
    /// audit chain, permissions) and what is slow (the owner-password list
    /// costs one Argon2id per entry; the sandbox probe runs a trial command).
    Startup,
    /// The running server on the owner's request (the web's Security page):
    /// the start-up checks plus the audit chain. The caller adds the
    /// sandbox as the server found it and the permissions.
    Online,
}

/// How this server was started, for the checks that depend on it.
#[derive(Debug, Clone)]
pub struct Launch {
    pub bind: SocketAddr,
    pub unlock: PassphraseSource,
    pub passphrase_file: Option<PathBuf>,
}

/// The finding for the channels' secrets as the caller's vault has them
/// (`ChannelsConfig::check_secrets`), if they are not sound.
pub fn channel_secrets_finding(checked: Result<(), String>) -> Option<Finding> {
    checks::channel_secrets(checked)
}

/// The sandbox finding for a probe already made (the server's own, at
/// start): `Err` carries why `shell` is not offered.
pub fn sandbox_finding(probed: Result<(), String>) -> Finding {
    checks::sandbox_finding(probed)
}

/// What the checks look at.
pub struct Context<'a> {
    pub dd: &'a DataDir,
    pub config: &'a Config,
    pub store: &'a Store,
    pub audit: &'a AuditLog,
    /// The address the server listens (or would listen) on.
    pub bind: SocketAddr,
    /// How the vault was unlocked by this process.
    pub unlock: PassphraseSource,
    pub passphrase_file: Option<PathBuf>,
    /// Now, in Unix seconds.
    pub now: i64,
}

/// Runs the checks, adds `extra` (findings made before the store was
/// open, such as `permissions`), and marks the acknowledged findings.
pub async fn run(
    ctx: &Context<'_>,
    depth: Depth,
    extra: Vec<Finding>,
) -> Result<Vec<Finding>, DoctorError> {
    let facts = ctx.store.doctor_facts().await?;
    let mut out = extra;
    checks::bind_and_tls(ctx, !facts.owners.is_empty(), &mut out);
    checks::proxies(ctx.config, &mut out);
    checks::vault_unlock(ctx, &mut out);
    if depth == Depth::Online {
        checks::audit_chain(ctx.audit, &mut out).await?;
    }
    if depth == Depth::Full {
        checks::audit_chain(ctx.audit, &mut out).await?;
        let owners = facts.owners.clone();
        let found = tokio::task::spawn_blocking(move || checks::owner_passwords(&owners))
            .await
            .unwrap_or_default();
        out.extend(found);
        out.push(
            tokio::task::spawn_blocking(checks::sandbox)
                .await
                .unwrap_or_else(|_| {
                    Finding::new(
                        "sandbox.unavailable",
                        Severity::Warning,
                        "the sandbox probe did not finish",
                        "run `hardshell doctor` again",
                    )
                }),
        );
    }
    checks::outside_anchor(ctx.audit, &mut out).await?;
    checks::owners(&facts, &mut out);
    checks::backups(&facts, ctx.now, &mut out);
    checks::trust(&facts, &mut out);
    checks::keys(&facts, ctx.now, &mut out);
    checks::souls(ctx.dd, &facts, &mut out);
    checks::channels(ctx.config, &mut out);
    for f in &mut out {
        f.acknowledged = ctx.config.doctor.acknowledge.iter().any(|a| a == f.id);
    }
    out.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.id.cmp(b.id)));
    Ok(out)
}

/// What `serve` says when critical findings stop it.
pub fn refusal(blocking: &[&Finding]) -> String {
    let list = blocking
        .iter()
        .map(|f| format!("  {}: {} (fix: {})", f.id, f.finding, f.fix))
        .collect::<Vec<_>>()
        .join("\n");
    let ids = blocking
        .iter()
        .map(|f| format!("\"{}\"", f.id))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "refusing to start: `hardshell doctor` has critical findings:\n{list}\n\
         Fix them, or, if you accept the risk, acknowledge them in config.toml:\n  \
         [doctor]\n  acknowledge = [{ids}]"
    )
}
