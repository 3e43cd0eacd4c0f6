//! The first run's agent: `@assistant`, with a SOUL.md that carries the
//! safety rules, so a new owner has someone to talk to once a provider is
//! connected.
//!
//! Seeded once per data directory: the `agents/` workspace directory is the
//! marker, so an owner who deletes the assistant does not get it back at
//! the next start.

use super::model;
use super::workspace;
use crate::config::DataDir;
use crate::store::agents::{AgentFields, AgentRow};
use crate::store::{Store, StoreError};

pub const HANDLE: &str = "assistant";
/// The default model; the owner connects `openai` or edits the agent.
/// Seeded without a configured provider on purpose: the first-run path in
/// the web UI connects one and points the agent at it.
pub const MODEL: &str = "openai/gpt-4o-mini";

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("could not write the agent workspace: {0}")]
    Io(#[from] std::io::Error),
}

/// Creates the default agent if this data directory never had agents.
pub async fn seed_default(store: &Store, dd: &DataDir) -> Result<Option<AgentRow>, SeedError> {
    if dd.root().join("agents").exists() || store.agent_count().await? > 0 {
        return Ok(None);
    }
    let fields = AgentFields {
        handle: HANDLE.into(),
        name: "Assistant".into(),
        description: "A helpful general assistant.".into(),
        model: MODEL.into(),
        tools: model::KNOWN_TOOLS.iter().map(|t| t.to_string()).collect(),
        memory: true,
        knowledge: true,
        context_tokens: 8192,
        budgets: model::default_budgets(),
        disabled: false,
    };
    let Ok(row) = store.agent_create(fields, None, None).await? else {
        // A user already has the handle; leave it to the owner.
        tracing::warn!("not seeding @{HANDLE}: the handle is taken");
        return Ok(None);
    };
    let dd2 = dd.clone();
    let id = row.id;
    let written = tokio::task::spawn_blocking(move || {
        workspace::write_soul(&dd2, id, &workspace::soul_template("Assistant"))
    })
    .await
    .map_err(|e| std::io::Error::other(e.to_string()))?;
    if let Err(e) = written {
        store.agent_delete(id).await?;
        return Err(e.into());
    }
    Ok(Some(row))
}
