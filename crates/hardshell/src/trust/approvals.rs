//! The approval lifecycle around the store's transitions: filing a request
//! (or merging it into an identical pending one), deciding it, expiring it,
//! and handing decided requests back to their parked turns.
//!
//! Owns who may decide (the owner; admins only when config allows; never a
//! member, guest, key or agent) and the sweep that makes expiry and
//! decisions made elsewhere (the CLI, before a restart) take effect. It
//! never runs a tool: a resumed turn's call goes back through the gate.

use std::sync::Arc;
use std::time::Duration;

use super::gate::{self, Ask};
use super::{ApprovalSettings, Domain, cards};
use crate::agents::runtime::Runtime;
use crate::audit_log::AuditLog;
use crate::auth::Role;
use crate::store::agents::AgentRow;
use crate::store::approvals::{ApprovalRow, NewApproval, Requested};
use crate::store::{Store, StoreError};

/// How often expiry and out-of-process decisions are picked up.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// Only the owner decides, and admins when config says so.
pub fn may_decide(role: Role, settings: &ApprovalSettings) -> bool {
    match role {
        Role::Owner => true,
        Role::Admin => settings.admins_may_decide,
        _ => false,
    }
}

fn draft(actor: audit::Actor, action: &str, row: &ApprovalRow) -> audit::Draft {
    audit::Draft::new(actor, action, audit::Outcome::Success)
        .target(format!("approval:{}", row.id))
        .detail("agent_id", row.agent_id)
        .detail("conversation_id", row.conversation_id)
        .detail("tool", row.tool.clone())
        .detail("domain", row.domain.clone())
        .detail("fingerprint", row.fingerprint.clone())
        .detail("call_target", row.target.clone())
        .detail("status", row.status.clone())
}

/// Files `ask` with the parked turn; a new request gets a card and an
/// `approval.requested` event.
pub(crate) async fn request(
    rt: &Runtime,
    agent: &AgentRow,
    conversation_id: i64,
    ask: &Ask,
    parked: String,
) -> Result<Requested, StoreError> {
    let expiry = i64::try_from(rt.approvals.expiry_secs).unwrap_or(i64::MAX / 2);
    let requested = rt
        .store
        .approval_request(NewApproval {
            agent_id: agent.id,
            conversation_id,
            tool: ask.tool.to_string(),
            domain: ask.domain.as_str().to_string(),
            fingerprint: ask.fingerprint.clone(),
            target: ask.target.clone(),
            arguments: ask.arguments.clone(),
            taint_source: ask.taint.clone(),
            reason: ask.reason.clone(),
            expires_at: crate::auth::now_secs().saturating_add(expiry),
            parked,
        })
        .await?;
    let actor = audit::Actor::agent(agent.id.to_string());
    let (action, row) = match &requested {
        Requested::New(row) => ("approval.requested", row),
        Requested::Merged(row) => ("approval.merged", row),
    };
    let d = draft(actor, action, row).detail("taint_source", ask.taint.clone());
    if let Err(e) = rt.audit.record(d).await {
        tracing::error!(%e, "could not audit an approval request");
    }
    if let Requested::New(row) = &requested {
        cards::approval(rt, agent, row, ask).await;
        if let Some(channels) = rt.channels() {
            channels.approval_prompt(row.clone(), agent.handle.clone());
        }
    }
    Ok(requested)
}

/// Why a decision was refused.
#[derive(Debug, thiserror::Error)]
pub enum DecideError {
    #[error("only the owner (or an admin, if config allows) decides approvals")]
    Forbidden,
    #[error("no such approval")]
    NotFound,
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(StoreError),
    #[error("the decision could not be audited")]
    Audit,
}

/// Approves or denies a pending request as owner (or admin) `by`, already
/// checked by role; `actor` is who the audit names (the user, or the CLI).
/// A denial counts as trust evidence against the domain.
pub async fn decide(
    store: &Store,
    audit_log: &AuditLog,
    id: i64,
    approve: bool,
    by: i64,
    actor: audit::Actor,
) -> Result<ApprovalRow, DecideError> {
    let row = match store.approval_decide(id, approve, by).await {
        Ok(r) => r,
        Err(StoreError::NotFound) => return Err(DecideError::NotFound),
        Err(StoreError::Conflict(m)) => return Err(DecideError::Conflict(m)),
        Err(e) => return Err(DecideError::Store(e)),
    };
    let action = if approve {
        "approval.approved"
    } else {
        "approval.denied"
    };
    let d = draft(actor, action, &row).detail("approver", by);
    audit_log.record(d).await.map_err(|_| DecideError::Audit)?;
    if !approve && let Some(domain) = Domain::parse(&row.domain) {
        gate::evidence(store, audit_log, row.agent_id, domain, false).await;
    }
    Ok(row)
}

/// Expires overdue requests (a denial: audited, counted as evidence).
async fn expire(rt: &Runtime) {
    match rt.store.approvals_expire(crate::auth::now_secs()).await {
        Ok(rows) => {
            for row in rows {
                let d = draft(audit::Actor::system(), "approval.expired", &row);
                if let Err(e) = rt.audit.record(d).await {
                    tracing::error!(%e, "could not audit an expiry");
                }
                if let Some(domain) = Domain::parse(&row.domain) {
                    gate::evidence(&rt.store, &rt.audit, row.agent_id, domain, false).await;
                }
            }
        }
        Err(e) => tracing::error!(%e, "approval expiry failed"),
    }
}

/// One pass: expire, then resume every decided request's parked turn.
pub(crate) async fn sweep(rt: &Arc<Runtime>) {
    expire(rt).await;
    match rt.store.approvals_resumable().await {
        Ok(ids) => {
            for id in ids {
                let rt = Arc::clone(rt);
                tokio::spawn(async move { crate::agents::turn_park::resume(rt, id).await });
            }
        }
        Err(e) => tracing::error!(%e, "could not list decided approvals"),
    }
}

/// Runs for the life of the server: releases claims a stopped process
/// left, then sweeps every second.
pub(crate) async fn sweeper(rt: Arc<Runtime>) {
    if let Err(e) = rt.store.approvals_release_claims().await {
        tracing::error!(%e, "could not release approval claims");
    }
    let mut tick = tokio::time::interval(SWEEP_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        sweep(&rt).await;
    }
}
