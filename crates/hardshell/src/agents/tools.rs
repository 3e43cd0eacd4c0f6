//! The tools a turn may call in this release: `memory_save`,
//! `memory_search`, `knowledge_search` and `call_agent`.
//!
//! Each call is checked against the agent's allowed tools and settings
//! before it runs; arguments are parsed strictly and a bad call becomes an
//! error result the model can read, never a crash. The trust levels and
//! approval gate of the tools issue will sit in front of `run`.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::json;
use tokio::sync::watch;

use super::knowledge;
use super::memory::{self, Scope, Source};
use super::providers::{SharedProvider, ToolCall, ToolSpec};
use super::runtime::Runtime;
use super::turn::{self, TurnRequest};
use crate::store::agents::AgentRow;

/// Who is calling, for scoping what a tool may touch.
pub(super) struct ToolScope<'a> {
    pub agent: &'a AgentRow,
    pub conversation_id: i64,
    pub user_id: Option<i64>,
    pub depth: u8,
    pub embedder: Option<SharedProvider>,
}

fn allowed(agent: &AgentRow, name: &str, depth: u8, max_depth: u8) -> bool {
    agent.tools.iter().any(|t| t == name)
        && match name {
            "memory_save" | "memory_search" => agent.memory,
            "knowledge_search" => agent.knowledge,
            "call_agent" => depth < max_depth,
            _ => false,
        }
}

/// The tool specs offered to the model for this agent and depth.
pub(super) fn specs(agent: &AgentRow, depth: u8, max_depth: u8) -> Vec<ToolSpec> {
    let all = [
        ToolSpec {
            name: "memory_save".into(),
            description: "Remember a short fact for later conversations. scope `user` is about the person you are talking to; `conversation` is about this conversation.".into(),
            parameters: json!({"type":"object","properties":{
                "text":{"type":"string","description":"the fact, one sentence"},
                "scope":{"type":"string","enum":["user","conversation"]}},
                "required":["text"]}),
        },
        ToolSpec {
            name: "memory_search".into(),
            description: "Search facts you saved earlier about this person or conversation.".into(),
            parameters: json!({"type":"object","properties":{
                "query":{"type":"string"}},"required":["query"]}),
        },
        ToolSpec {
            name: "knowledge_search".into(),
            description: "Search your knowledge documents. Cite results as [source: name].".into(),
            parameters: json!({"type":"object","properties":{
                "query":{"type":"string"}},"required":["query"]}),
        },
        ToolSpec {
            name: "call_agent".into(),
            description: "Ask another agent (by handle) a question and get its answer.".into(),
            parameters: json!({"type":"object","properties":{
                "handle":{"type":"string"},"message":{"type":"string"}},
                "required":["handle","message"]}),
        },
    ];
    all.into_iter()
        .filter(|s| allowed(agent, &s.name, depth, max_depth))
        .collect()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SaveArgs {
    text: String,
    scope: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QueryArgs {
    query: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CallArgs {
    handle: String,
    message: String,
}

fn parse<'a, T: Deserialize<'a>>(call: &'a ToolCall) -> Result<T, String> {
    let raw = if call.arguments.trim().is_empty() {
        "{}"
    } else {
        &call.arguments
    };
    serde_json::from_str(raw).map_err(|e| format!("invalid arguments for {}: {e}", call.name))
}

/// Runs one call. `Ok` is the result text, `Err` an error the model reads.
pub(super) async fn run(
    rt: &Arc<Runtime>,
    scope: ToolScope<'_>,
    call: &ToolCall,
    cancel: watch::Receiver<bool>,
) -> Result<String, String> {
    if !allowed(scope.agent, &call.name, scope.depth, rt.limits.max_depth) {
        return Err(format!("tool `{}` is not available to you", call.name));
    }
    let embedder = scope.embedder.as_ref();
    match call.name.as_str() {
        "memory_save" => {
            let args: SaveArgs = parse(call)?;
            let target = match (args.scope.as_deref(), scope.user_id) {
                (Some("conversation"), _) | (None, None) => {
                    Scope::Conversation(scope.conversation_id)
                }
                (Some("user") | None, Some(uid)) => Scope::User(uid),
                (Some("user"), None) => {
                    return Err("there is no person to remember this about".into());
                }
                (Some(other), _) => return Err(format!("unknown scope `{other}`")),
            };
            let saved = memory::save(
                &rt.store,
                scope.agent.id,
                target,
                &args.text,
                Source::Tool,
                None,
                embedder,
            )
            .await
            .map_err(|e| e.to_string())?;
            Ok(if saved.duplicate {
                "already remembered".into()
            } else {
                "saved".into()
            })
        }
        "memory_search" => {
            let args: QueryArgs = parse(call)?;
            let mut scopes = vec![Scope::Conversation(scope.conversation_id)];
            scopes.extend(scope.user_id.map(Scope::User));
            let found = memory::search(
                &rt.store,
                scope.agent.id,
                &scopes,
                &args.query,
                10,
                embedder,
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
        "knowledge_search" => {
            let args: QueryArgs = parse(call)?;
            let hits = knowledge::search(&rt.store, scope.agent.id, &args.query, 5, embedder)
                .await
                .map_err(|e| e.to_string())?;
            if hits.is_empty() {
                return Ok("no documents matched".into());
            }
            Ok(hits
                .iter()
                .map(|h| format!("[source: {}]\n{}", h.doc_name, h.text))
                .collect::<Vec<_>>()
                .join("\n\n"))
        }
        "call_agent" => {
            let args: CallArgs = parse(call)?;
            call_agent(rt, &scope, args, cancel).await
        }
        other => Err(format!("unknown tool `{other}`")),
    }
}

async fn call_agent(
    rt: &Arc<Runtime>,
    scope: &ToolScope<'_>,
    args: CallArgs,
    cancel: watch::Receiver<bool>,
) -> Result<String, String> {
    let handle = args.handle.trim().trim_start_matches('@');
    if handle.eq_ignore_ascii_case(&scope.agent.handle) {
        return Err("an agent cannot call itself".into());
    }
    let agents = rt.store.agent_list().await.map_err(|e| e.to_string())?;
    let Some(callee) = agents
        .into_iter()
        .find(|a| a.handle.eq_ignore_ascii_case(handle) && !a.disabled)
    else {
        return Err(format!("no agent @{handle}"));
    };
    let req = TurnRequest {
        agent_id: callee.id,
        conversation_id: scope.conversation_id,
        reply_to: 0,
        user_id: scope.user_id,
    };
    let audit = audit::Draft::new(
        audit::Actor::system(),
        "agent.call_agent",
        audit::Outcome::Success,
    )
    .target(format!("agent:{}", callee.id))
    .detail("caller", scope.agent.id)
    .detail("conversation_id", scope.conversation_id)
    .detail("depth", u64::from(scope.depth + 1));
    if let Err(e) = rt.audit.record(audit).await {
        tracing::error!(%e, "could not audit call_agent");
    }
    turn::run_nested(
        Arc::clone(rt),
        callee,
        req,
        scope.depth + 1,
        cancel,
        args.message,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::agents::Budgets;

    fn agent(tools: &[&str], memory: bool) -> AgentRow {
        AgentRow {
            id: 1,
            uuid: String::new(),
            handle: "a".into(),
            name: "A".into(),
            description: String::new(),
            model: "openai/x".into(),
            tools: tools.iter().map(|t| t.to_string()).collect(),
            memory,
            knowledge: true,
            context_tokens: 8192,
            budgets: Budgets {
                tokens_per_turn: 1,
                tokens_per_conversation_day: 1,
                daily_spend_micros: None,
            },
            disabled: false,
            created_by: None,
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn only_allowed_tools_are_offered() {
        let a = agent(&["memory_save", "call_agent"], true);
        let names: Vec<String> = specs(&a, 0, 3).into_iter().map(|s| s.name).collect();
        assert_eq!(names, ["memory_save", "call_agent"]);
        let off = agent(&["memory_save", "memory_search"], false);
        assert!(
            specs(&off, 0, 3).is_empty(),
            "memory off hides memory tools"
        );
    }

    #[test]
    fn call_agent_disappears_at_the_depth_limit() {
        let a = agent(&["call_agent"], true);
        assert_eq!(specs(&a, 2, 3).len(), 1);
        assert!(specs(&a, 3, 3).is_empty());
    }
}
