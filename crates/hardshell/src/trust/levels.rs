//! Changing a trust level on purpose: the owner sets one, or rolls a
//! stored change back. Both write the new level and its history row in one
//! transaction and are audited with the actor and the reason.
//!
//! Automatic changes (demotion from evidence) live in `gate::evidence`;
//! nothing here ever raises a level without a person asking for it.

use super::Domain;
use crate::audit_log::AuditLog;
use crate::store::trust::{ChangeBy, TrustChange};
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum LevelError {
    #[error(
        "unknown domain `{0}`; domains are messaging, files, web, shell, finance, calendar, email, integrations, system"
    )]
    Domain(String),
    #[error("a level is 0 (none) to 4 (full)")]
    Level,
    #[error("a reason is at most {MAX_REASON_CHARS} characters")]
    Reason,
    #[error("no such agent")]
    NoAgent,
    #[error("no such trust change")]
    NoChange,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the change could not be audited")]
    Audit,
}

/// Longest reason for a change, in characters as sent.
pub const MAX_REASON_CHARS: usize = 200;

/// Sets `domain` of `agent` to `level` on behalf of `actor`.
pub async fn set(
    store: &Store,
    audit_log: &AuditLog,
    agent: i64,
    domain: &str,
    level: u8,
    reason: &str,
    actor: audit::Actor,
) -> Result<TrustChange, LevelError> {
    let d = Domain::parse(domain).ok_or_else(|| LevelError::Domain(domain.to_string()))?;
    if level > 4 {
        return Err(LevelError::Level);
    }
    if reason.chars().count() > MAX_REASON_CHARS {
        return Err(LevelError::Reason);
    }
    if store.agent_get(agent).await?.is_none() {
        return Err(LevelError::NoAgent);
    }
    let reason = if reason.trim().is_empty() {
        "set by the owner".to_string()
    } else {
        reason.trim().to_string()
    };
    let by = ChangeBy {
        reason,
        actor_kind: actor.kind.as_str().to_string(),
        actor_id: actor.id.clone(),
    };
    let change = store
        .trust_set(agent, d.as_str(), d.default_level(), level, by)
        .await?;
    let draft = audit::Draft::new(actor, "trust.changed", audit::Outcome::Success)
        .target(format!("agent:{agent}"))
        .detail("domain", d.as_str())
        .detail("old_level", u64::from(change.old_level))
        .detail("new_level", u64::from(change.new_level))
        .detail("reason", change.reason.clone())
        .detail("change_id", change.id);
    audit_log
        .record(draft)
        .await
        .map_err(|_| LevelError::Audit)?;
    Ok(change)
}

/// Restores the level a stored change replaced.
pub async fn rollback(
    store: &Store,
    audit_log: &AuditLog,
    change_id: i64,
    actor: audit::Actor,
) -> Result<TrustChange, LevelError> {
    let change = store
        .trust_change(change_id)
        .await?
        .ok_or(LevelError::NoChange)?;
    set(
        store,
        audit_log,
        change.agent_id,
        &change.domain,
        change.old_level,
        &format!("rollback of change #{change_id}"),
        actor,
    )
    .await
}
