//! Gathers what a turn's prompt is built from: SOUL.md, recent history,
//! and the memories and knowledge relevant to the message being answered.
//!
//! Only messages people typed go in as plain user text. Other agents'
//! messages, automation posts, memories and knowledge are untrusted: they
//! are wrapped, stripped and scanned here, and a flag taints the turn.

use super::memory::{self, Scope};
use super::prompt::{self, HistoryItem, Parts};
use super::providers::{ChatMessage, Role};
use super::turn::{End, Turn};
use super::{knowledge, workspace};
use crate::store::chat::{MessageRow, Ref};

async fn soul(turn: &Turn) -> String {
    let dd = turn.rt.data_dir.clone();
    let id = turn.agent.id;
    match tokio::task::spawn_blocking(move || workspace::read_soul(&dd, id)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            tracing::warn!(%e, agent = id, "could not read SOUL.md");
            String::new()
        }
        Err(_) => String::new(),
    }
}

fn attachments_note(m: &MessageRow) -> String {
    m.attachments
        .iter()
        .map(|a| format!("\n[attachment: {} ({})]", a.name, a.mime))
        .collect()
}

/// One history message as the model sees it; `None` to leave it out.
async fn history_item(turn: &mut Turn, m: &MessageRow) -> Option<HistoryItem> {
    let body = format!("{}{}", m.text, attachments_note(m));
    // A message a channel brought in was typed by someone outside: it is
    // untrusted whoever it was stored under.
    if let Some(channel) = m.meta.get("channel").and_then(|c| c.as_str()) {
        let source = format!("channel:{channel}");
        if turn.taint.is_none() {
            turn.taint = Some(format!("a message from {source}"));
        }
        let p = turn.screened(&source, &body).await;
        return Some(HistoryItem {
            role: Role::User,
            text: p.text,
        });
    }
    match &m.author {
        Ref::User { name, .. } => Some(HistoryItem {
            role: Role::User,
            text: format!("[{name}] {body}"),
        }),
        Ref::Agent { id, .. } if *id == turn.agent.id => {
            // Our own error explanations are not part of the dialogue.
            let errored = m.meta.get("error").is_some_and(|e| !e.is_null());
            (!errored).then(|| HistoryItem {
                role: Role::Assistant,
                text: m.text.clone(),
            })
        }
        Ref::Agent { name, .. } | Ref::Key { name, .. } => {
            let kind = if matches!(m.author, Ref::Agent { .. }) {
                "agent"
            } else {
                "key"
            };
            let source = format!("{kind}:{name}");
            // Provenance: a message by a key or another agent taints the turn.
            if turn.taint.is_none() {
                turn.taint = Some(format!("a message by {source}"));
            }
            let p = turn.screened(&source, &body).await;
            Some(HistoryItem {
                role: Role::User,
                text: p.text,
            })
        }
    }
}

/// Relevant memories and knowledge for `query`, wrapped.
async fn retrieved(turn: &mut Turn, query: &str) -> (Vec<String>, Vec<String>) {
    let embedder = turn.embedder();
    let store = turn.rt.store.clone();
    let mut memories = Vec::new();
    if turn.agent.memory {
        let mut scopes = vec![Scope::Conversation(turn.conversation_id)];
        let found = match memory::person(&store, turn.conversation_id, turn.user_id).await {
            Ok(person) => {
                scopes.extend(person.map(Scope::User));
                memory::search(
                    &store,
                    turn.agent.id,
                    &scopes,
                    query,
                    turn.rt.limits.memory_hits,
                    embedder.as_ref(),
                )
                .await
            }
            Err(e) => Err(e.into()),
        };
        match found {
            Ok(found) => {
                for m in found {
                    let p = turn.screened("memory", &m.text).await;
                    memories.push(p.text);
                }
            }
            Err(e) => tracing::warn!(%e, "memory search failed"),
        }
    }
    let mut docs = Vec::new();
    if turn.agent.knowledge {
        match knowledge::search(
            &store,
            turn.agent.id,
            query,
            turn.rt.limits.knowledge_hits,
            embedder.as_ref(),
        )
        .await
        {
            Ok(hits) => {
                for h in hits {
                    let source = format!("knowledge:{}", h.doc_name);
                    if turn.taint.is_none() {
                        turn.taint = Some(format!("knowledge document {}", h.doc_name));
                    }
                    let p = turn.screened(&source, &h.text).await;
                    // Flagged when it was added, though this chunk alone
                    // may not be.
                    if h.flagged && !p.verdict.flagged {
                        turn.flag(&source, &p.verdict).await;
                    }
                    docs.push(format!("[source: {}]\n{}", h.doc_name, p.text));
                }
            }
            Err(e) => tracing::warn!(%e, "knowledge search failed"),
        }
    }
    (memories, docs)
}

fn context_tokens(turn: &Turn) -> usize {
    usize::try_from(turn.agent.context_tokens).unwrap_or(8192)
}

/// The prompt for answering message `reply_to` in the turn's conversation.
pub(super) async fn build(turn: &mut Turn, reply_to: i64) -> Result<Vec<ChatMessage>, End> {
    turn.ensure_provider().await?;
    let rows = match turn
        .rt
        .store
        .history_for_prompt(
            turn.conversation_id,
            reply_to,
            turn.rt.limits.history_messages,
        )
        .await
    {
        Ok(rows) => rows,
        Err(e) => {
            tracing::error!(%e, "history lookup failed");
            return Err(End::Failed {
                code: "internal",
                message: "I could not read this conversation.".into(),
            });
        }
    };
    let query = rows.last().map(|m| m.text.clone()).unwrap_or_default();
    let mut history = Vec::with_capacity(rows.len());
    for m in &rows {
        if let Some(item) = history_item(turn, m).await {
            history.push(item);
        }
    }
    let (memories, knowledge) = retrieved(turn, &query).await;
    let soul = soul(turn).await;
    Ok(prompt::assemble(Parts {
        nonce: &turn.nonce,
        handle: &turn.agent.handle,
        name: &turn.agent.name,
        soul: &soul,
        memories,
        knowledge,
        history,
        context_tokens: context_tokens(turn),
    }))
}

/// The prompt for a `call_agent` callee: its own SOUL and retrieval, and
/// the caller's question as untrusted input (it was written by a model).
pub(super) async fn build_nested(turn: &mut Turn, question: &str) -> Vec<ChatMessage> {
    // The question was written by another agent's model.
    turn.taint = Some("a question from another agent".into());
    let p = turn.screened("agent_call", question).await;
    let (memories, knowledge) = retrieved(turn, question).await;
    let soul = soul(turn).await;
    prompt::assemble(Parts {
        nonce: &turn.nonce,
        handle: &turn.agent.handle,
        name: &turn.agent.name,
        soul: &soul,
        memories,
        knowledge,
        history: vec![HistoryItem {
            role: Role::User,
            text: format!("Another agent asks you:\n{}", p.text),
        }],
        context_tokens: context_tokens(turn),
    })
}
