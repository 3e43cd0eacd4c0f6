//! `memory_save` (files domain: it writes what the agent keeps) and
//! `memory_search` (read-only). Saved text passes the leak guard first, so
//! a vault value never reaches a memory and from there a later prompt.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{ToolDef, ToolScope};
use crate::agents::memory::{self, Scope, Source};
use crate::agents::runtime::Runtime;
use crate::trust::Domain;

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SaveArgs {
    text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct QueryArgs {
    pub query: String,
}

fn save_schema() -> Value {
    json!({"type":"object","properties":{
        "text":{"type":"string","description":"the fact, one sentence"},
        "scope":{"type":"string","enum":["user","conversation"]}},
        "required":["text"],"additionalProperties":false})
}

pub(super) fn query_schema() -> Value {
    json!({"type":"object","properties":{"query":{"type":"string"}},
        "required":["query"],"additionalProperties":false})
}

pub(super) const SAVE: ToolDef = ToolDef {
    name: "memory_save",
    domain: Domain::Files,
    read_only: false,
    taints: false,
    description: "Remember a short fact for later conversations. scope `user` is about the person you are talking to; `conversation` is about this conversation.",
    schema: save_schema,
};

pub(super) const SEARCH: ToolDef = ToolDef {
    name: "memory_search",
    domain: Domain::Files,
    read_only: true,
    taints: false,
    description: "Search facts you saved earlier about this person or conversation.",
    schema: query_schema,
};

fn scope_of(a: &SaveArgs, scope: &ToolScope<'_>) -> Result<Scope, String> {
    match (a.scope.as_deref(), scope.memory_user) {
        (Some("conversation"), _) | (None, None) => Ok(Scope::Conversation(scope.conversation_id)),
        // A channel sender: this conversation is their whole memory scope.
        (Some("user"), None) if scope.user_id.is_some() => {
            Ok(Scope::Conversation(scope.conversation_id))
        }
        (Some("user") | None, Some(uid)) => Ok(Scope::User(uid)),
        (Some("user"), None) => Err("there is no person to remember this about".into()),
        (Some(other), _) => Err(format!("unknown scope `{other}`")),
    }
}

/// The resolved scope, for the approval's target.
pub(super) fn target(a: &SaveArgs, scope: &ToolScope<'_>) -> Result<String, String> {
    Ok(match scope_of(a, scope)? {
        Scope::User(u) => format!("memory:user:{u}"),
        Scope::Conversation(c) => format!("memory:conversation:{c}"),
    })
}

pub(super) async fn save(
    rt: &Arc<Runtime>,
    scope: &ToolScope<'_>,
    a: SaveArgs,
) -> Result<String, String> {
    let target = scope_of(&a, scope)?;
    let (text, hits) = rt.vault.redactor().redact(&a.text);
    if !hits.is_empty() {
        return Err("that text contains a secret, so it was not saved".into());
    }
    let saved = memory::save(
        &rt.store,
        scope.agent.id,
        target,
        &text,
        Source::Tool,
        None,
        scope.embedder.as_ref(),
    )
    .await
    .map_err(|e| e.to_string())?;
    Ok(if saved.duplicate {
        "already remembered".into()
    } else {
        "saved".into()
    })
}

pub(super) async fn search(
    rt: &Arc<Runtime>,
    scope: &ToolScope<'_>,
    a: QueryArgs,
) -> Result<String, String> {
    let mut scopes = vec![Scope::Conversation(scope.conversation_id)];
    scopes.extend(scope.memory_user.map(Scope::User));
    let found = memory::search(
        &rt.store,
        scope.agent.id,
        &scopes,
        &a.query,
        10,
        scope.embedder.as_ref(),
    )
    .await
    .map_err(|e| e.to_string())?;
    if found.is_empty() {
        return Ok("no memories found".into());
    }
    Ok(found
        .iter()
        .map(|m| format!("- {}", m.text))
        .collect::<Vec<_>>()
        .join("\n"))
}
