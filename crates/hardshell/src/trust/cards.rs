//! Messages the gate posts into the conversation: "would run" cards
//! (level 1), approval cards (level 2 and taint) and receipts (level 3).
//!
//! Every card's text and details pass the leak guard before they are
//! stored or published. Cards are agent messages with a `card` in their
//! meta, so the web client renders them and history keeps them.

use serde_json::{Value, json};

use super::gate::Ask;
use crate::agents::runtime::Runtime;
use crate::store::agents::{AgentMessage, AgentRow};
use crate::store::approvals::ApprovalRow;

/// Longest result excerpt in a receipt.
const RECEIPT_CHARS: usize = 300;

fn clip(s: &str, n: usize) -> String {
    let mut out: String = s.chars().take(n).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}

/// Stores and publishes one agent message (leak guard applied to the text
/// and the meta). `Ok(false)` when the conversation no longer takes it.
pub(crate) async fn post_as_agent(
    rt: &Runtime,
    agent: &AgentRow,
    conversation_id: i64,
    text: &str,
    meta: Value,
) -> Result<bool, String> {
    let redactor = rt.vault.redactor();
    let (text, _) = redactor.redact(text);
    let (meta_text, _) = redactor.redact(&meta.to_string());
    let meta: Value = serde_json::from_str(&meta_text).unwrap_or(Value::Null);
    let html = crate::chat::markdown::render(&text, &[]);
    let stored = rt
        .store
        .agent_message_insert(AgentMessage {
            conversation_id,
            agent_id: agent.id,
            text,
            html,
            mentions: Vec::new(),
            reply_to: None,
            meta,
        })
        .await
        .map_err(|e| e.to_string())?;
    let Some(row) = stored else {
        return Ok(false);
    };
    match crate::chat::hub::Event::new("message.created", conversation_id, &row) {
        Ok(ev) => rt.hub.publish(ev),
        Err(e) => tracing::error!(%e, "could not serialise an agent message"),
    }
    Ok(true)
}

/// Stores and publishes one card; failures are logged (the call's own
/// outcome is already decided and audited).
pub(crate) async fn post(
    rt: &Runtime,
    agent: &AgentRow,
    conversation_id: i64,
    text: &str,
    card: Value,
) {
    let meta = json!({ "card": card });
    if let Err(e) = post_as_agent(rt, agent, conversation_id, text, meta).await {
        tracing::error!(%e, "could not store a card");
    }
}

pub(crate) async fn would_run(
    rt: &Runtime,
    agent: &AgentRow,
    conversation_id: i64,
    tool: &str,
    target: &str,
    arguments: &str,
) {
    let text = format!(
        "@{} would run `{tool}` on `{target}` (trust level 1: not run)",
        agent.handle
    );
    let card = json!({"kind": "would_run", "tool": tool, "target": target, "arguments": arguments});
    post(rt, agent, conversation_id, &text, card).await;
}

pub(crate) async fn receipt(
    rt: &Runtime,
    agent: &AgentRow,
    conversation_id: i64,
    tool: &str,
    target: &str,
    ok: bool,
    result: &str,
) {
    let outcome = if ok { "ran" } else { "tried" };
    let excerpt = clip(result, RECEIPT_CHARS);
    let text = format!(
        "🧾 @{} {outcome} `{tool}` on `{target}`: {excerpt}",
        agent.handle
    );
    let card =
        json!({"kind": "receipt", "tool": tool, "target": target, "ok": ok, "result": excerpt});
    post(rt, agent, conversation_id, &text, card).await;
}

/// The card for a new approval request, and the `approval.requested` event.
pub(crate) async fn approval(rt: &Runtime, agent: &AgentRow, row: &ApprovalRow, ask: &Ask) {
    let taint = ask
        .taint
        .as_deref()
        .map(|t| format!(" The turn read untrusted content from {t}."))
        .unwrap_or_default();
    let text = format!(
        "⏸ @{} asks to run `{}` on `{}` (approval #{}).{taint}",
        agent.handle, ask.tool, ask.target, row.id
    );
    let card = json!({"kind": "approval", "approval_id": row.id, "tool": ask.tool,
        "domain": ask.domain.as_str(), "target": ask.target, "arguments": ask.arguments,
        "taint_source": ask.taint, "reason": ask.reason, "expires_at": row.expires_at});
    post(rt, agent, row.conversation_id, &text, card).await;
    match crate::chat::hub::Event::new("approval.requested", row.conversation_id, row) {
        Ok(ev) => rt.hub.publish(ev),
        Err(e) => tracing::error!(%e, "could not serialise an approval event"),
    }
}
