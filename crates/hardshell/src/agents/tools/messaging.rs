//! `send_message` (messaging): posts a message into the conversation of
//! the turn. When that conversation is a paired channel sender's, the
//! message also goes out to that sender (and only to them: a revoked
//! sender gets nothing).
//!
//! Owns the tool's limits. The text passes the leak guard in
//! `trust::cards::post_as_agent` before it is stored or published; it never
//! posts into another conversation than the turn's.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{ToolDef, ToolScope};
use crate::agents::runtime::Runtime;
use crate::trust::Domain;

/// Longest message the tool posts, in bytes (the chat limit).
const MAX_TEXT_BYTES: usize = 16 * 1024;

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SendArgs {
    text: String,
}

fn schema() -> Value {
    json!({"type":"object","properties":{"text":{"type":"string"}},
        "required":["text"],"additionalProperties":false})
}

pub(super) const SEND_MESSAGE: ToolDef = ToolDef {
    name: "send_message",
    domain: Domain::Messaging,
    read_only: false,
    taints: false,
    description: "Post a separate message into this conversation.",
    schema,
};

pub(super) fn prepare(a: SendArgs, scope: &ToolScope<'_>) -> Result<(SendArgs, String), String> {
    if a.text.trim().is_empty() {
        return Err("the message is empty".into());
    }
    if a.text.len() > MAX_TEXT_BYTES {
        return Err(format!("the message is over {MAX_TEXT_BYTES} bytes"));
    }
    Ok((a, format!("conversation:{}", scope.conversation_id)))
}

pub(super) async fn send(
    rt: &Arc<Runtime>,
    scope: &ToolScope<'_>,
    a: SendArgs,
) -> Result<String, String> {
    match crate::trust::cards::post_as_agent(
        rt,
        scope.agent,
        scope.conversation_id,
        &a.text,
        json!({"sent_by_tool": true}),
    )
    .await?
    {
        true => {
            // The same leak guard as the stored copy, before it leaves.
            let (text, _) = rt.vault.redactor().redact(&a.text);
            match rt.channels() {
                Some(ch) if ch.tool_message(scope.conversation_id, &text).await => {
                    Ok("sent (also delivered to the channel sender)".into())
                }
                _ => Ok("sent".into()),
            }
        }
        false => Err("the conversation no longer takes messages from you".into()),
    }
}
