//! Parking a turn that waits for an approval, and resuming it.
//!
//! A parked turn's state (prompt so far, the calls not yet handled, usage,
//! taint) is saved beside its approval in the database, so it survives a
//! restart. Resuming is claimed once; the approved call goes back through
//! the gate, which dispatches it only under its approval and only once.
//! This module never runs a tool itself.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::providers::{ChatMessage, SharedProvider, ToolCall, Usage};
use super::runtime::Runtime;
use super::turn::{self, End, Turn, TurnRequest};
use crate::store::agents::ProviderRow;
use crate::store::approvals::Requested;
use crate::trust::gate::Ask;

/// Calls a resumed turn handles first: `calls[0]` under approval `approval`.
pub(crate) struct Pending {
    pub calls: Vec<ToolCall>,
    pub approval: i64,
    /// The approval's status when the turn resumed.
    pub status: String,
}

/// A parked turn, as saved.
#[derive(Serialize, Deserialize)]
struct Parked {
    agent_id: i64,
    conversation_id: i64,
    user_id: Option<i64>,
    reply_to: i64,
    nonce: String,
    taint: Option<String>,
    flagged: bool,
    messages: Vec<ChatMessage>,
    calls: Vec<ToolCall>,
    rounds: usize,
    input_tokens: u64,
    output_tokens: u64,
}

impl Turn {
    /// Saves the turn and files `ask`. `Ok` ends the turn parked; `Err` is
    /// the tool content when an identical request was already pending (the
    /// turn goes on without this call).
    pub(super) async fn park(
        &mut self,
        messages: &[ChatMessage],
        calls: &[ToolCall],
        ask: &Ask,
    ) -> Result<End, String> {
        let parked = Parked {
            agent_id: self.agent.id,
            conversation_id: self.conversation_id,
            user_id: self.user_id,
            reply_to: self.reply_to,
            nonce: self.nonce.clone(),
            taint: self.taint.clone(),
            flagged: self.tainted,
            messages: messages.to_vec(),
            calls: calls.to_vec(),
            rounds: self.rounds,
            input_tokens: self.usage.input_tokens,
            output_tokens: self.usage.output_tokens,
        };
        let state = serde_json::to_string(&parked).map_err(|e| e.to_string())?;
        let call_id = calls.first().map(|c| c.id.clone()).unwrap_or_default();
        match crate::trust::approvals::request(
            &self.rt,
            &self.agent,
            self.conversation_id,
            ask,
            state,
        )
        .await
        {
            Ok(Requested::New(row)) => {
                self.emit(
                    "agent.tool_call",
                    json!({"turn_id": self.turn_id, "agent_id": self.agent.id, "call_id": call_id,
                           "name": ask.tool, "status": "awaiting_approval", "flagged": false,
                           "approval_id": row.id}),
                );
                Ok(End::Parked { approval: row.id })
            }
            Ok(Requested::Merged(row)) => Err(format!(
                "an identical request (approval #{}) is already waiting for the owner; this call did not run",
                row.id
            )),
            Err(e) => {
                tracing::error!(%e, "could not file an approval");
                Err("I could not ask the owner for approval, so the call did not run".into())
            }
        }
    }

    /// Handles a resumed turn's pending calls; `Some` ends the turn.
    pub(super) async fn resume_pending(
        &mut self,
        messages: &mut Vec<ChatMessage>,
        pending: Pending,
        provider: &SharedProvider,
        row: &ProviderRow,
    ) -> Option<End> {
        for (i, call) in pending.calls.iter().enumerate() {
            let outcome = if i == 0 {
                match pending.status.as_str() {
                    "approved" => self.run_tool(call, provider, row, Some(pending.approval)).await,
                    "denied" => Ok("the owner denied this call; it did not run".into()),
                    "expired" => Ok(
                        "the approval request expired, which counts as a denial; the call did not run"
                            .into(),
                    ),
                    _ => Ok("this call was dispatched before a restart and its result was lost; it will not run again".into()),
                }
            } else {
                self.run_tool(call, provider, row, None).await
            };
            let content = match outcome {
                Ok(content) => content,
                Err(ask) => match self.park(messages, &pending.calls[i..], &ask).await {
                    Ok(end) => return Some(end),
                    Err(content) => content,
                },
            };
            messages.push(ChatMessage::tool(call, content));
        }
        None
    }
}

/// Resumes the parked turn of decided approval `id`, once.
pub(crate) async fn resume(rt: Arc<Runtime>, id: i64) {
    let state = match rt.store.approval_claim(id).await {
        Ok(Some(s)) => s,
        Ok(None) => return,
        Err(e) => {
            tracing::error!(%e, approval = id, "could not claim a parked turn");
            return;
        }
    };
    let status = match rt.store.approval_get(id).await {
        Ok(Some(row)) => row.status,
        _ => return,
    };
    let done = |rt: Arc<Runtime>| async move {
        if let Err(e) = rt.store.approval_resumed(id).await {
            tracing::error!(%e, approval = id, "could not clear a parked turn");
        }
    };
    let parked: Parked = match serde_json::from_str(&state) {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(%e, approval = id, "a parked turn could not be read");
            done(rt).await;
            return;
        }
    };
    let agent = match rt.store.agent_get(parked.agent_id).await {
        Ok(Some(a)) if !a.disabled => a,
        _ => {
            done(rt).await;
            return;
        }
    };
    let (_guard, cancel) = rt.register(parked.conversation_id, parked.agent_id);
    let req = TurnRequest {
        agent_id: parked.agent_id,
        conversation_id: parked.conversation_id,
        reply_to: parked.reply_to,
        user_id: parked.user_id,
        taint: None,
    };
    let mut turn = Turn::new(Arc::clone(&rt), agent, &req, 0, true, cancel);
    turn.nonce = parked.nonce;
    turn.taint = parked.taint;
    turn.tainted = parked.flagged;
    turn.rounds = parked.rounds;
    turn.usage = Usage {
        input_tokens: parked.input_tokens,
        output_tokens: parked.output_tokens,
    };
    turn.pending = Some(Pending {
        calls: parked.calls,
        approval: id,
        status,
    });
    turn.emit(
        "agent.started",
        json!({"turn_id": turn.turn_id, "reply_to": parked.reply_to, "resumed_approval": id,
               "agent": crate::store::chat::Ref::Agent { id: turn.agent.id, name: turn.agent.handle.clone() }}),
    );
    let end = turn.execute(parked.messages).await;
    turn.finish_text();
    let reply = turn::finish(&rt, &mut turn, end, parked.reply_to).await;
    // A channel sender waiting on this turn gets the answer too (best
    // effort: the conversation keeps it either way).
    if let (Some(text), Some(channels)) = (reply, rt.channels()) {
        channels.tool_message(parked.conversation_id, &text).await;
    }
    done(rt).await;
}
