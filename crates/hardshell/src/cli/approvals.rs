//! `hardshell approvals list|approve ID|deny ID` and
//! `hardshell trust show|set|history|rollback`.
//!
//! Whoever can unlock the vault is the owner, so these decide and change
//! levels as the owner (audited as `system:cli`). They work while the
//! server runs: a running server picks a CLI decision up within a second
//! and resumes the parked turn.

use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Subcommand;

use super::GlobalArgs;
use super::audit::cli_actor;
use crate::auth::Role;
use crate::store::Store;
use crate::trust::{approvals, levels};

#[derive(Debug, Subcommand)]
pub enum ApprovalsCommand {
    /// List approval requests (pending by default).
    List {
        /// pending, approved, denied, expired, dispatched or all.
        #[arg(long, default_value = "pending")]
        status: String,
        #[arg(long)]
        json: bool,
    },
    /// Approve a pending request.
    Approve { id: i64 },
    /// Deny a pending request.
    Deny { id: i64 },
    /// "Allow always" rules.
    Rules {
        #[arg(long)]
        json: bool,
    },
    /// Revoke an "allow always" rule: the next such call asks again.
    RevokeRule { id: i64 },
}

#[derive(Debug, Subcommand)]
pub enum TrustCommand {
    /// An agent's level in each domain.
    Show { agent: String },
    /// Set an agent's level in one domain.
    Set {
        agent: String,
        domain: String,
        level: u8,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Level changes, newest first.
    History { agent: Option<String> },
    /// Restore the level a change replaced.
    Rollback { id: i64 },
}

async fn owner_id(store: &Store) -> anyhow::Result<i64> {
    store
        .users_list()
        .await?
        .into_iter()
        .find(|u| u.role == Role::Owner && !u.disabled)
        .map(|u| u.id)
        .context("there is no owner account yet")
}

async fn agent_id(store: &Store, agent: &str) -> anyhow::Result<i64> {
    let want = agent.trim_start_matches('@');
    let agents = store.agent_list().await?;
    agents
        .iter()
        .find(|a| a.handle.eq_ignore_ascii_case(want) || a.id.to_string() == want)
        .map(|a| a.id)
        .with_context(|| format!("no agent `{agent}`"))
}

pub async fn run_approvals(g: &GlobalArgs, cmd: ApprovalsCommand) -> anyhow::Result<ExitCode> {
    let (_unlocked, opened) = super::open_all(g)?;
    let store = &opened.store;
    match cmd {
        ApprovalsCommand::List { status, json } => {
            let filter = (status != "all").then_some(status);
            let rows = store.approval_list(filter, 200).await?;
            if json {
                println!("{}", serde_json::to_string(&rows)?);
            } else if rows.is_empty() {
                println!("no approvals");
            } else {
                for r in rows {
                    let taint = r
                        .taint_source
                        .map(|t| format!(" (tainted by {t})"))
                        .unwrap_or_default();
                    println!(
                        "#{} {} agent {} `{}` on {} args {}{taint}",
                        r.id, r.status, r.agent_id, r.tool, r.target, r.arguments
                    );
                }
            }
        }
        ApprovalsCommand::Approve { id } | ApprovalsCommand::Deny { id } => {
            let approve = matches!(cmd, ApprovalsCommand::Approve { .. });
            let by = owner_id(store).await?;
            let row = approvals::decide(store, &opened.audit, id, approve, by, cli_actor())
                .await
                .map_err(|e| anyhow::anyhow!("approval #{id}: {e}"))?;
            println!("approval #{} {}", row.id, row.status);
        }
        ApprovalsCommand::Rules { json } => {
            let rules = store.allow_rules(None).await?;
            if json {
                println!("{}", serde_json::to_string(&rules)?);
            } else if rules.is_empty() {
                println!("no rules");
            } else {
                for r in rules {
                    println!("#{} agent {} `{}` {}", r.id, r.agent_id, r.tool, r.scope);
                }
            }
        }
        ApprovalsCommand::RevokeRule { id } => {
            let Some(rule) = store.allow_rule_remove(id).await? else {
                bail!("no rule #{id}");
            };
            let draft =
                audit::Draft::new(cli_actor(), "allow_rule.revoked", audit::Outcome::Success)
                    .target(format!("agent:{}", rule.agent_id))
                    .detail("tool", rule.tool)
                    .detail("scope", rule.scope)
                    .detail("rule_id", rule.id);
            opened.audit.record(draft).await?;
            println!("rule #{id} revoked");
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn run_trust(g: &GlobalArgs, cmd: TrustCommand) -> anyhow::Result<ExitCode> {
    let (_unlocked, opened) = super::open_all(g)?;
    let store = &opened.store;
    match cmd {
        TrustCommand::Show { agent } => {
            let id = agent_id(store, &agent).await?;
            for (d, level) in crate::trust::levels_of(store, id).await? {
                println!("{:<13} {level}", d.as_str());
            }
        }
        TrustCommand::Set {
            agent,
            domain,
            level,
            reason,
        } => {
            let id = agent_id(store, &agent).await?;
            let c = levels::set(
                store,
                &opened.audit,
                id,
                &domain,
                level,
                &reason,
                cli_actor(),
            )
            .await?;
            println!(
                "change #{}: {} {} -> {}",
                c.id, c.domain, c.old_level, c.new_level
            );
        }
        TrustCommand::History { agent } => {
            let id = match agent {
                Some(a) => Some(agent_id(store, &a).await?),
                None => None,
            };
            for c in store.trust_history(id, 500).await? {
                println!(
                    "#{} agent {} {} {} -> {} by {}:{} ({})",
                    c.id,
                    c.agent_id,
                    c.domain,
                    c.old_level,
                    c.new_level,
                    c.actor_kind,
                    c.actor_id,
                    c.reason
                );
            }
        }
        TrustCommand::Rollback { id } => {
            let c = match levels::rollback(store, &opened.audit, id, cli_actor()).await {
                Ok(c) => c,
                Err(e) => bail!("rollback #{id}: {e}"),
            };
            println!(
                "change #{}: {} {} -> {}",
                c.id, c.domain, c.old_level, c.new_level
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
