//! The one gate every tool call passes, and what it decides with: trust
//! levels per agent and domain, taint, approvals and their parked turns,
//! and trust that changes from evidence (docs/architecture.md, "Agent tools, the gate, trust and approvals").
//!
//! Owns the decision (run, describe only, ask, refuse) and the approval
//! lifecycle. It must never run a tool any other way than through
//! `gate::Permit`, never let a tainted turn act without the owner, and
//! never write an argument value or a secret into the audit log.

pub mod approvals;
pub mod cards;
pub mod gate;
pub mod levels;
pub mod rules;

use serde::{Deserialize, Serialize};

/// The nine domains a tool belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Domain {
    Messaging,
    Files,
    Web,
    Shell,
    Finance,
    Calendar,
    Email,
    Integrations,
    System,
}

impl Domain {
    pub const ALL: [Domain; 9] = [
        Domain::Messaging,
        Domain::Files,
        Domain::Web,
        Domain::Shell,
        Domain::Finance,
        Domain::Calendar,
        Domain::Email,
        Domain::Integrations,
        Domain::System,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Domain::Messaging => "messaging",
            Domain::Files => "files",
            Domain::Web => "web",
            Domain::Shell => "shell",
            Domain::Finance => "finance",
            Domain::Calendar => "calendar",
            Domain::Email => "email",
            Domain::Integrations => "integrations",
            Domain::System => "system",
        }
    }

    pub fn parse(s: &str) -> Option<Domain> {
        Domain::ALL.into_iter().find(|d| d.as_str() == s)
    }

    /// 0 for shell, finance, email and system; 2 for the rest.
    pub fn default_level(self) -> u8 {
        match self {
            Domain::Shell | Domain::Finance | Domain::Email | Domain::System => 0,
            _ => 2,
        }
    }
}

/// The highest level an automatic change may set.
pub const MAX_AUTOMATIC_LEVEL: u8 = 3;
/// Failed or denied calls in a row that lower a domain one level.
pub const DEMOTE_AFTER: u32 = 3;

/// `[approvals]` in config.toml.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApprovalSettings {
    /// Seconds before a pending approval expires (a denial).
    pub expiry_secs: u64,
    /// Admins may decide approvals too (the owner always may).
    pub admins_may_decide: bool,
}

impl Default for ApprovalSettings {
    fn default() -> Self {
        Self {
            expiry_secs: 30 * 60,
            admins_may_decide: false,
        }
    }
}

/// The level in effect for `agent` in `domain`.
pub async fn level_of(
    store: &crate::store::Store,
    agent: i64,
    domain: Domain,
) -> Result<u8, crate::store::StoreError> {
    Ok(store
        .trust_level(agent, domain.as_str())
        .await?
        .unwrap_or(domain.default_level()))
}

/// Every domain's level for an agent, in `Domain::ALL` order.
pub async fn levels_of(
    store: &crate::store::Store,
    agent: i64,
) -> Result<Vec<(Domain, u8)>, crate::store::StoreError> {
    let stored = store.trust_levels(agent).await?;
    Ok(Domain::ALL
        .into_iter()
        .map(|d| {
            let l = stored
                .iter()
                .find(|(name, _)| name == d.as_str())
                .map_or(d.default_level(), |(_, l)| *l);
            (d, l)
        })
        .collect())
}
