//! One agent turn: budgets, prompt, the streamed tool loop, the leak
//! guard, and the stored reply.
//!
//! Every piece of model output passes one `StreamRedactor` before it is
//! streamed, stored or audited, so a vault value split across deltas is
//! still caught. Tool results come back as typed tool messages, wrapped as
//! untrusted and scanned; a flagged one taints the turn. The loop ends
//! after `max_rounds` tool rounds, after `identical_calls` identical calls
//! in a row, on a budget, or when the turn is cancelled.

use std::sync::Arc;
use std::time::Instant;

use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use promptguard::StreamRedactor;
use serde_json::json;
use tokio::sync::watch;

use super::budget::{self, Spend};
use super::context;
use super::judge::Opinion;
use super::live_text::{LiveText, Snapshot};
use super::providers::{
    ChatMessage, ChatRequest, ProviderError, SharedProvider, StreamEvent, ToolCall, Usage,
};
use super::runtime::Runtime;
use super::tools;
use super::untrusted;
use crate::store::agents::{AgentMessage, AgentRow, ProviderRow};
use crate::store::chat::Ref;
use crate::trust::gate::{self, CallSite, Gated};

/// What started a turn.
#[derive(Clone, Debug)]
pub struct TurnRequest {
    pub agent_id: i64,
    pub conversation_id: i64,
    /// The message being answered.
    pub reply_to: i64,
    /// The person who wrote it (user-scoped memories).
    pub user_id: Option<i64>,
}

/// How a turn ended.
#[derive(Debug)]
pub(super) enum End {
    Done,
    Stopped,
    Failed {
        code: &'static str,
        message: String,
    },
    /// Waiting for the owner to decide approval `approval` (state saved).
    Parked {
        approval: i64,
    },
}

/// One tool call as the message metadata and UI badge show it.
#[derive(Clone, Debug, serde::Serialize)]
pub(super) struct ToolRecord {
    pub name: String,
    pub status: &'static str,
    pub flagged: bool,
}

/// The state of one running turn.
pub(super) struct Turn {
    pub rt: Arc<Runtime>,
    pub agent: AgentRow,
    pub conversation_id: i64,
    pub user_id: Option<i64>,
    pub turn_id: String,
    pub nonce: String,
    pub depth: u8,
    /// Publish live events (false for a `call_agent` callee).
    pub live: bool,
    pub cancel: watch::Receiver<bool>,
    redactor: StreamRedactor,
    /// Paces `agent.delta` events and renders their snapshots.
    live_text: LiveText,
    /// Redacted visible output, exactly as streamed.
    pub text: String,
    pub tools: Vec<ToolRecord>,
    /// Untrusted content was flagged during this turn.
    pub tainted: bool,
    /// The untrusted source that tainted the turn (provenance or a flag):
    /// from then on side-effecting calls need approval.
    pub taint: Option<String>,
    /// The message being answered.
    pub reply_to: i64,
    /// Calls a resumed turn handles before asking the model again.
    pub pending: Option<super::turn_park::Pending>,
    pub usage: Usage,
    pub rounds: usize,
    pub note: Option<&'static str>,
    provider: Option<(SharedProvider, ProviderRow)>,
}

fn failed(code: &'static str, message: impl Into<String>) -> End {
    End::Failed {
        code,
        message: message.into(),
    }
}

/// An error a person can act on, never the provider's raw body.
fn provider_failure(e: &ProviderError, provider: &str) -> End {
    let message = match e {
        ProviderError::Unreachable { .. } => format!(
            "I could not reach the `{provider}` provider. Check that it is running and that its base URL is right (Settings → Providers)."
        ),
        ProviderError::Timeout(_) => format!("The `{provider}` provider took too long to answer."),
        ProviderError::Status {
            status: 401 | 403, ..
        } => format!(
            "The `{provider}` provider refused the API key. An owner can update it under Settings → Providers."
        ),
        ProviderError::Status { status: 429, .. } => {
            format!("The `{provider}` provider is rate-limiting us; try again in a moment.")
        }
        other => format!("The `{provider}` provider failed: {other}"),
    };
    failed(e.code(), message)
}

impl Turn {
    pub(super) fn new(
        rt: Arc<Runtime>,
        agent: AgentRow,
        req: &TurnRequest,
        depth: u8,
        live: bool,
        cancel: watch::Receiver<bool>,
    ) -> Turn {
        let redactor = StreamRedactor::new(rt.vault.redactor());
        Turn {
            rt,
            agent,
            conversation_id: req.conversation_id,
            user_id: req.user_id,
            turn_id: crate::auth::tokens::uuid_v4(),
            nonce: untrusted::new_nonce(),
            depth,
            live,
            cancel,
            redactor,
            live_text: LiveText::default(),
            text: String::new(),
            tools: Vec::new(),
            tainted: false,
            taint: None,
            reply_to: req.reply_to,
            pending: None,
            usage: Usage::default(),
            rounds: 0,
            note: None,
            provider: None,
        }
    }

    pub(super) fn emit<T: serde::Serialize>(&self, kind: &str, data: T) {
        if !self.live {
            return;
        }
        match crate::chat::hub::Event::new(kind, self.conversation_id, &data) {
            Ok(ev) => self.rt.hub.publish(ev),
            Err(e) => tracing::error!(%e, kind, "could not serialise an agent event"),
        }
    }

    /// Feeds model text through the leak guard and streams what is safe.
    fn push_text(&mut self, piece: &str) {
        let safe = self.redactor.push(piece);
        self.publish_text(safe);
    }

    /// Adds redacted text to the reply; a rendered snapshot goes out when
    /// one is due (see `live_text`).
    fn publish_text(&mut self, safe: String) {
        if safe.is_empty() {
            return;
        }
        self.text.push_str(&safe);
        if self.live {
            let due = self.live_text.push(&safe, &self.text, Instant::now());
            self.send_snapshot(due);
        }
    }

    /// Sends whatever text is still pending (before a tool call, at the end).
    fn flush_text(&mut self) {
        if self.live {
            let pending = self.live_text.flush(&self.text, Instant::now());
            self.send_snapshot(pending);
        }
    }

    fn send_snapshot(&self, snapshot: Option<Snapshot>) {
        if let Some(s) = snapshot {
            self.emit(
                "agent.delta",
                json!({"turn_id": self.turn_id, "agent_id": self.agent.id, "text": s.text, "html": s.html}),
            );
        }
    }

    /// Flushes the leak guard and the pending snapshot at the end of the turn.
    pub(super) fn finish_text(&mut self) {
        let rest = self.redactor.finish();
        self.publish_text(rest);
        self.flush_text();
    }

    pub(super) fn leak_kinds(&self) -> Vec<String> {
        let mut k: Vec<String> = self
            .redactor
            .hits()
            .iter()
            .map(|h| h.kind.clone())
            .collect();
        k.sort();
        k.dedup();
        k
    }

    /// The provider for embeddings, when it has an embedding model.
    pub(super) fn embedder(&self) -> Option<SharedProvider> {
        self.provider
            .as_ref()
            .filter(|(_, row)| row.embedding_model.is_some())
            .map(|(p, _)| p.clone())
    }

    fn cancelled(&self) -> bool {
        *self.cancel.borrow()
    }

    /// Resolves the agent's provider, or explains why there is none.
    pub(super) async fn ensure_provider(&mut self) -> Result<(SharedProvider, ProviderRow), End> {
        if let Some(p) = &self.provider {
            return Ok(p.clone());
        }
        let Ok(model) = super::model::parse_model(&self.agent.model) else {
            return Err(failed(
                "no_provider",
                format!(
                    "My model `{}` is not a `provider/model` name. An admin can fix it in the agent's settings.",
                    self.agent.model
                ),
            ));
        };
        let name = model.provider.to_string();
        match self.rt.registry.get(&name).await {
            Ok(Some(p)) => {
                self.provider = Some(p.clone());
                Ok(p)
            }
            Ok(None) => Err(failed(
                "no_provider",
                format!(
                    "No provider named `{name}` is configured, so I cannot answer yet. An owner can add it under Settings → Providers (or `PUT /api/v1/providers/{name}`)."
                ),
            )),
            Err(e) => {
                tracing::error!(%e, provider = %name, "provider setup failed");
                Err(failed(
                    "provider_error",
                    format!("The `{name}` provider could not be set up."),
                ))
            }
        }
    }

    /// Runs the tool loop on `messages` until the model stops.
    pub(super) async fn execute(&mut self, mut messages: Vec<ChatMessage>) -> End {
        let (provider, row) = match self.ensure_provider().await {
            Ok(p) => p,
            Err(end) => return end,
        };
        let Ok(model) = super::model::parse_model(&self.agent.model) else {
            return failed("no_provider", "invalid model");
        };
        let model = model.model.to_string();
        // Level-0 domains are not offered; the gate re-reads levels per call.
        let levels = crate::trust::levels_of(&self.rt.store, self.agent.id)
            .await
            .unwrap_or_else(|_| crate::trust::Domain::ALL.map(|d| (d, 0)).to_vec());
        let specs = tools::specs(&self.agent, self.depth, self.rt.offer(), &levels);
        if let Some(pending) = self.pending.take()
            && let Some(end) = self
                .resume_pending(&mut messages, pending, &provider, &row)
                .await
        {
            return end;
        }
        let mut last_call: Option<(String, String)> = None;
        let mut repeats = 0usize;
        loop {
            let allowance = match budget::allowance(
                &self.rt.store,
                &self.agent,
                self.conversation_id,
                self.usage,
            )
            .await
            {
                Ok(Ok(a)) => a,
                Ok(Err(why)) => return failed("budget_exhausted", why),
                Err(e) => {
                    tracing::error!(%e, "budget lookup failed");
                    return failed("internal", "I could not check my budget, so I stopped.");
                }
            };
            if self.rounds > 0 && !self.text.is_empty() {
                self.push_text("\n\n");
            }
            let request = ChatRequest {
                model: model.clone(),
                messages: messages.clone(),
                tools: specs.clone(),
                max_tokens: Some(allowance),
                temperature: None,
            };
            let mut cancel = self.cancel.clone();
            let started = tokio::select! {
                r = provider.stream(request) => r,
                _ = cancel.wait_for(|c| *c) => return End::Stopped,
            };
            let mut stream = match started {
                Ok(s) => s,
                Err(e) => return provider_failure(&e, &row.name),
            };
            let mut calls: Vec<ToolCall> = Vec::new();
            let mut raw = String::new();
            let mut round_usage = Usage::default();
            let end = loop {
                let next = tokio::select! {
                    n = stream.next() => n,
                    _ = cancel.wait_for(|c| *c) => break Some(End::Stopped),
                };
                match next {
                    Some(Ok(StreamEvent::Delta(t))) => {
                        raw.push_str(&t);
                        self.push_text(&t);
                    }
                    Some(Ok(StreamEvent::ToolCall(c))) => calls.push(c),
                    Some(Ok(StreamEvent::Usage(u))) => round_usage = u,
                    Some(Ok(StreamEvent::Finished(_))) | None => break None,
                    Some(Err(e)) => break Some(provider_failure(&e, &row.name)),
                }
            };
            drop(stream);
            if round_usage == Usage::default() {
                // No usage reported: charge an estimate so budgets still bind.
                round_usage = Usage {
                    input_tokens: messages
                        .iter()
                        .map(|m| super::prompt::estimate_tokens(&m.content) as u64)
                        .sum(),
                    output_tokens: super::prompt::estimate_tokens(&raw) as u64,
                };
            }
            self.charge(&row, round_usage).await;
            self.rounds += 1;
            if let Some(end) = end {
                return end;
            }
            if calls.is_empty() {
                return End::Done;
            }
            if self.rounds > self.rt.limits.max_rounds {
                self.note = Some("I stopped after the most tool rounds a turn may take.");
                return End::Done;
            }
            messages.push(ChatMessage::assistant(raw, calls.clone()));
            for (i, call) in calls.iter().enumerate() {
                let key = (call.name.clone(), call.arguments.clone());
                repeats = if last_call.as_ref() == Some(&key) {
                    repeats + 1
                } else {
                    1
                };
                last_call = Some(key);
                if repeats >= self.rt.limits.identical_calls {
                    self.note = Some("I stopped because I kept repeating the same tool call.");
                    return End::Done;
                }
                let content = match self.run_tool(call, &provider, &row, None).await {
                    Ok(content) => content,
                    Err(ask) => match self.park(&messages, &calls[i..], &ask).await {
                        Ok(end) => return end,
                        Err(content) => content,
                    },
                };
                messages.push(ChatMessage::tool(call, content));
                if self.cancelled() {
                    return End::Stopped;
                }
            }
        }
    }

    /// Records a provider call's tokens and cost.
    async fn charge(&mut self, row: &ProviderRow, u: Usage) {
        self.usage.input_tokens += u.input_tokens;
        self.usage.output_tokens += u.output_tokens;
        let spend = Spend::of(row, u);
        if let Err(e) = self
            .rt
            .store
            .usage_add(
                self.agent.id,
                self.conversation_id,
                budget::today(),
                u.input_tokens as i64,
                u.output_tokens as i64,
                spend.micros,
            )
            .await
        {
            tracing::error!(%e, "could not record agent usage");
        }
    }

    /// Runs one tool call through the gate; returns the (wrapped, scanned)
    /// content for the model, or the approval request that parks the turn.
    /// `approval` is the approval a resumed turn dispatches under.
    pub(super) async fn run_tool(
        &mut self,
        call: &ToolCall,
        provider: &SharedProvider,
        row: &ProviderRow,
        approval: Option<i64>,
    ) -> Result<String, crate::trust::gate::Ask> {
        let call_id = call.id.clone();
        self.flush_text();
        self.emit(
            "agent.tool_call",
            json!({"turn_id": self.turn_id, "agent_id": self.agent.id, "call_id": call_id,
                   "name": call.name, "status": "running", "flagged": false}),
        );
        let site = CallSite {
            agent: &self.agent,
            conversation_id: self.conversation_id,
            user_id: self.user_id,
            depth: self.depth,
            turn_id: &self.turn_id,
            taint: self.taint.as_deref(),
            embedder: row.embedding_model.as_ref().map(|_| Arc::clone(provider)),
            approval,
        };
        let (status, body) = match gate::call(&self.rt, &site, call, self.cancel.clone()).await {
            Gated::Ran {
                ok,
                text,
                taints,
                target,
            } => {
                if taints && self.taint.is_none() {
                    self.taint = Some(format!("{} ({target})", call.name));
                }
                (if ok { "ok" } else { "error" }, text)
            }
            Gated::Described(text) => ("described", text),
            Gated::Refused(text) => ("refused", text),
            Gated::Ask(ask) if self.live && self.depth == 0 => return Err(ask),
            Gated::Ask(ask) => (
                "refused",
                format!(
                    "`{}` needs the owner's approval ({}), which a call made for another agent cannot wait for; it did not run",
                    ask.tool, ask.reason
                ),
            ),
        };
        // What the gate wrote itself (a refusal, a description) is not
        // worth a judge call; what a tool brought back is.
        let from_tool = matches!(status, "ok" | "error");
        let prepared = self
            .screen(&format!("tool:{}", call.name), &body, from_tool)
            .await;
        let flagged = prepared.verdict.flagged;
        self.tools.push(ToolRecord {
            name: call.name.clone(),
            status,
            flagged,
        });
        self.emit(
            "agent.tool_call",
            json!({"turn_id": self.turn_id, "agent_id": self.agent.id, "call_id": call_id,
                   "name": call.name, "status": status, "flagged": flagged}),
        );
        Ok(prepared.text)
    }

    /// Untrusted text for the prompt: wrapped and scanned by the rules and,
    /// when they did not flag it and a judge is configured, judged. A flag
    /// from either taints the turn; the judge can only add one.
    pub(super) async fn screened(&mut self, source: &str, text: &str) -> untrusted::Prepared {
        self.screen(source, text, true).await
    }

    async fn screen(&mut self, source: &str, text: &str, ask_judge: bool) -> untrusted::Prepared {
        let mut p = untrusted::prepare(source, text, &self.nonce);
        let rt = Arc::clone(&self.rt);
        if ask_judge
            && !p.verdict.flagged
            && let Some(judge) = &rt.judge
            && judge.ask(&rt.registry, source, text).await == Opinion::Injection
        {
            super::judge::add_flag(&mut p.verdict);
        }
        if p.verdict.flagged {
            self.flag(source, &p.verdict).await;
        }
        p
    }

    /// Audits a flagged item and taints the turn.
    pub(super) async fn flag(&mut self, source: &str, verdict: &promptguard::Verdict) {
        self.tainted = true;
        if self.taint.is_none() {
            self.taint = Some(source.to_string());
        }
        let draft = audit::Draft::new(
            audit::Actor::system(),
            "agent.injection_flagged",
            audit::Outcome::Denied,
        )
        .target(format!("agent:{}", self.agent.id))
        .detail("conversation_id", self.conversation_id)
        .detail("turn_id", self.turn_id.clone())
        .detail("source", source.to_string())
        .detail("rules", untrusted::rules(verdict))
        .detail("score", f64::from(verdict.score));
        if let Err(e) = self.rt.audit.record(draft).await {
            tracing::error!(%e, "could not audit an injection flag");
        }
    }
}

/// Runs a turn that answers a message in the conversation: streamed live,
/// stored, audited. Used for every routed message.
pub async fn run_streamed(rt: Arc<Runtime>, req: TurnRequest) {
    let (_guard, cancel) = rt.register(req.conversation_id, req.agent_id);
    let agent = match rt.store.agent_get(req.agent_id).await {
        Ok(Some(a)) if !a.disabled => a,
        Ok(_) => return,
        Err(e) => {
            tracing::error!(%e, "agent lookup failed");
            return;
        }
    };
    let mut turn = Turn::new(Arc::clone(&rt), agent, &req, 0, true, cancel);
    turn.emit(
        "agent.started",
        json!({"turn_id": turn.turn_id, "reply_to": req.reply_to,
               "agent": Ref::Agent { id: turn.agent.id, name: turn.agent.handle.clone() }}),
    );
    let end = match context::build(&mut turn, req.reply_to).await {
        Ok(messages) => turn.execute(messages).await,
        Err(end) => end,
    };
    turn.finish_text();
    finish(&rt, &mut turn, end, req.reply_to).await;
}

/// Runs a callee turn for `call_agent`: nothing streamed or stored; the
/// redacted text is the tool result.
pub(super) fn run_nested(
    rt: Arc<Runtime>,
    agent: AgentRow,
    req: TurnRequest,
    depth: u8,
    cancel: watch::Receiver<bool>,
    question: String,
) -> BoxFuture<'static, Result<String, String>> {
    Box::pin(async move {
        let mut turn = Turn::new(Arc::clone(&rt), agent, &req, depth, false, cancel);
        let messages = context::build_nested(&mut turn, &question).await;
        let end = turn.execute(messages).await;
        turn.finish_text();
        match end {
            End::Done => Ok(turn.text),
            End::Stopped => Err("the call was stopped".into()),
            End::Failed { message, .. } => Err(message),
            // Nested turns refuse calls that need approval instead of parking.
            End::Parked { .. } => Err("the call is waiting for an approval".into()),
        }
    })
}

/// Stores the reply (or the explanation), publishes, audits.
pub(super) async fn finish(rt: &Arc<Runtime>, turn: &mut Turn, end: End, reply_to: i64) {
    crate::metrics::turn(match &end {
        End::Done => "done",
        End::Failed { .. } => "failed",
        End::Stopped => "stopped",
        End::Parked { .. } => "parked",
    });
    let (error, stopped) = match &end {
        End::Failed { code, .. } => (Some(*code), false),
        End::Stopped => (None, true),
        End::Done | End::Parked { .. } => (None, false),
    };
    let parked = match &end {
        End::Parked { approval } => Some(*approval),
        _ => None,
    };
    if let Some(id) = parked {
        turn.note = Some("Waiting for the owner's approval; I will continue when it is decided.");
        tracing::debug!(approval = id, "turn parked");
    }
    let mut text = turn.text.clone();
    if let Some(note) = turn.note {
        text = if text.is_empty() {
            note.to_string()
        } else {
            format!("{text}\n\n_{note}_")
        };
    }
    if let End::Failed { code, message } = &end {
        // A provider's own error text can echo what it was sent.
        let (message, _) = rt.vault.redactor().redact(message);
        turn.emit(
            "agent.error",
            json!({"turn_id": turn.turn_id, "agent_id": turn.agent.id, "code": code, "message": message}),
        );
        text = if text.is_empty() {
            format!("⚠️ {message}")
        } else {
            format!("{text}\n\n⚠️ {message}")
        };
    }
    let leaks = turn.leak_kinds();
    if !leaks.is_empty() {
        let draft = audit::Draft::new(
            audit::Actor::system(),
            "agent.leak_redacted",
            audit::Outcome::Denied,
        )
        .target(format!("agent:{}", turn.agent.id))
        .detail("conversation_id", turn.conversation_id)
        .detail("turn_id", turn.turn_id.clone())
        .detail("kinds", leaks.join(","));
        if let Err(e) = rt.audit.record(draft).await {
            tracing::error!(%e, "could not audit a leak redaction");
        }
    }
    let meta = json!({
        "turn_id": turn.turn_id, "model": turn.agent.model, "tool_calls": turn.tools,
        "flagged": turn.tainted, "error": error, "stopped": stopped,
        "usage": turn.usage, "parked": parked, "taint_source": turn.taint,
    });
    let mut message_id = None;
    if !text.trim().is_empty() {
        let html = crate::chat::markdown::render(&text, &[]);
        let stored = rt
            .store
            .agent_message_insert(AgentMessage {
                conversation_id: turn.conversation_id,
                agent_id: turn.agent.id,
                text,
                html,
                mentions: Vec::new(),
                reply_to: Some(reply_to),
                meta: meta.clone(),
            })
            .await;
        match stored {
            Ok(Some(row)) => {
                message_id = Some(row.id);
                turn.emit("message.created", &row);
            }
            Ok(None) => {}
            Err(e) => tracing::error!(%e, "could not store an agent reply"),
        }
    }
    if error.is_none() {
        turn.emit(
            "agent.finished",
            json!({"turn_id": turn.turn_id, "agent_id": turn.agent.id, "message_id": message_id,
                   "stopped": stopped, "usage": turn.usage}),
        );
    }
    let outcome = match (&end, error) {
        (_, Some("budget_exhausted")) => audit::Outcome::Denied,
        (_, Some(_)) => audit::Outcome::Failure,
        _ => audit::Outcome::Success,
    };
    let draft = audit::Draft::new(audit::Actor::system(), "agent.turn", outcome)
        .target(format!("agent:{}", turn.agent.id))
        .detail("conversation_id", turn.conversation_id)
        .detail("turn_id", turn.turn_id.clone())
        .detail("rounds", turn.rounds as u64)
        .detail("tool_calls", turn.tools.len() as u64)
        .detail("input_tokens", turn.usage.input_tokens)
        .detail("output_tokens", turn.usage.output_tokens)
        .detail("flagged", turn.tainted)
        .detail("stopped", stopped)
        .detail(
            "parked",
            parked.map_or(serde_json::Value::Null, serde_json::Value::from),
        )
        .detail("error", error.unwrap_or(""));
    if let Err(e) = rt.audit.record(draft).await {
        tracing::error!(%e, "could not audit an agent turn");
    }
}
