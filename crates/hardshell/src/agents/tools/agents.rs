//! `call_agent` (messaging): ask another agent of the same conversation.
//! The question passes the leak guard before the callee sees it; the
//! callee's answer was written by a model, so it taints the caller's turn.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::watch;

use super::{ToolDef, ToolScope};
use crate::agents::runtime::Runtime;
use crate::agents::turn::{self, TurnRequest};
use crate::trust::Domain;

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CallArgs {
    handle: String,
    message: String,
}

fn schema() -> Value {
    json!({"type":"object","properties":{
        "handle":{"type":"string"},"message":{"type":"string"}},
        "required":["handle","message"],"additionalProperties":false})
}

pub(super) const CALL_AGENT: ToolDef = ToolDef {
    name: "call_agent",
    domain: Domain::Messaging,
    read_only: false,
    taints: true,
    description: "Ask another agent of this conversation (by handle) a question and get its answer.",
    schema,
};

pub(super) fn handle_of(a: &CallArgs) -> String {
    a.handle.trim().trim_start_matches('@').to_ascii_lowercase()
}

pub(super) async fn call_agent(
    rt: &Arc<Runtime>,
    scope: &ToolScope<'_>,
    args: CallArgs,
    cancel: watch::Receiver<bool>,
) -> Result<String, String> {
    let handle = handle_of(&args);
    if handle.eq_ignore_ascii_case(&scope.agent.handle) {
        return Err("an agent cannot call itself".into());
    }
    let facts = rt
        .store
        .conversation_facts(scope.conversation_id)
        .await
        .map_err(|e| e.to_string())?;
    let member = facts.as_deref().and_then(|f| {
        f.routing
            .agents
            .iter()
            .find(|(_, h)| h.eq_ignore_ascii_case(&handle))
            .map(|(id, _)| *id)
    });
    let Some(callee_id) = member else {
        return Err(format!(
            "@{handle} is not a member of this conversation; you can only call agents that are"
        ));
    };
    let callee = match rt.store.agent_get(callee_id).await {
        Ok(Some(a)) if !a.disabled => a,
        Ok(_) => return Err(format!("no agent @{handle}")),
        Err(e) => return Err(e.to_string()),
    };
    let (message, _) = rt.vault.redactor().redact(&args.message);
    let req = TurnRequest {
        agent_id: callee.id,
        conversation_id: scope.conversation_id,
        reply_to: 0,
        user_id: scope.user_id,
        taint: None,
    };
    turn::run_nested(
        Arc::clone(rt),
        callee,
        req,
        scope.depth + 1,
        cancel,
        message,
    )
    .await
}
