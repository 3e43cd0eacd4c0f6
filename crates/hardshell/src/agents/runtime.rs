//! The agent runtime: receives posted messages, decides who answers, runs
//! each turn as its own task, and can cancel them.
//!
//! It owns the set of running turns and nothing else; the turn itself is
//! in `turn`. A message is routed after it is stored and published, so an
//! agent never answers something the conversation does not show.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use super::providers::CallLimits;
use super::registry::Registry;
use super::routing::{self, Room, Sender};
use super::turn::{self, TurnRequest};
use crate::audit_log::AuditLog;
use crate::chat::hub::Hub;
use crate::config::DataDir;
use crate::secrets::live::LiveVault;
use crate::store::Store;
use crate::store::agents::RoutingInfo;
use crate::store::chat::MessageRow;

/// Limits of the turn loop (docs/architecture.md, "The path of an agent turn").
#[derive(Clone, Debug)]
pub struct TurnLimits {
    pub max_rounds: usize,
    /// This many identical tool calls in a row end the loop.
    pub identical_calls: usize,
    pub history_messages: usize,
    /// `call_agent` nesting.
    pub max_depth: u8,
    pub memory_hits: usize,
    pub knowledge_hits: usize,
}

impl Default for TurnLimits {
    fn default() -> Self {
        TurnLimits {
            max_rounds: 10,
            identical_calls: 3,
            history_messages: 30,
            max_depth: 3,
            memory_hits: 5,
            knowledge_hits: 4,
        }
    }
}

struct Running {
    conversation_id: i64,
    agent_id: i64,
    cancel: watch::Sender<bool>,
}

/// Shared by every handler through `AppState`.
pub struct Runtime {
    pub(crate) store: Store,
    pub(crate) hub: Hub,
    pub(crate) audit: AuditLog,
    pub(crate) vault: Arc<LiveVault>,
    pub(super) registry: Registry,
    pub(crate) data_dir: Arc<DataDir>,
    pub(crate) limits: TurnLimits,
    /// Approval expiry and who decides (`[approvals]` in config).
    pub(crate) approvals: crate::trust::ApprovalSettings,
    /// What the web tools may reach, and the file tools' limits.
    pub(crate) tool_net: crate::agents::tools::net::ToolNet,
    /// Whether the sandbox passed its probe, and its run slots.
    pub(crate) shell: crate::agents::tools::shell::ShellState,
    /// The optional model judge of untrusted content (`[promptguard]`).
    pub(crate) judge: Option<super::judge::Judge>,
    running: Mutex<HashMap<u64, Running>>,
    next_id: AtomicU64,
    /// The channels, set once they exist (they hold this runtime).
    channels: std::sync::OnceLock<std::sync::Weak<crate::channels::Channels>>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Runtime")
    }
}

/// Removes a turn from the running set when its task ends, however it ends.
pub(super) struct RunningGuard {
    rt: Arc<Runtime>,
    id: u64,
}

impl Drop for RunningGuard {
    fn drop(&mut self) {
        if let Ok(mut map) = self.rt.running.lock() {
            map.remove(&self.id);
        }
    }
}

impl Runtime {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        tool_net: crate::agents::tools::net::ToolNet,
        store: Store,
        hub: Hub,
        audit: AuditLog,
        vault: Arc<LiveVault>,
        data_dir: Arc<DataDir>,
        call_limits: CallLimits,
        approvals: crate::trust::ApprovalSettings,
        judge: Option<super::judge::Judge>,
    ) -> Arc<Self> {
        Arc::new(Runtime {
            registry: Registry::new(store.clone(), Arc::clone(&vault), call_limits),
            store,
            hub,
            audit,
            vault,
            data_dir,
            limits: TurnLimits::default(),
            approvals,
            tool_net,
            shell: crate::agents::tools::shell::ShellState::probe(),
            judge,
            running: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            channels: std::sync::OnceLock::new(),
        })
    }

    /// What tools the server can offer at all.
    pub(crate) fn offer(&self) -> crate::agents::tools::Offer {
        crate::agents::tools::Offer {
            max_depth: self.limits.max_depth,
            shell: self.shell.available(),
        }
    }

    /// The judge's counters and budget, when one is configured.
    pub fn judge_stats(&self) -> Option<super::judge::JudgeStats> {
        self.judge.as_ref().map(super::judge::Judge::stats)
    }

    /// Lets `send_message` reach a channel conversation's sender.
    pub(crate) fn set_channels(&self, channels: &Arc<crate::channels::Channels>) {
        let _ = self.channels.set(Arc::downgrade(channels));
    }

    pub(crate) fn channels(&self) -> Option<Arc<crate::channels::Channels>> {
        self.channels.get().and_then(std::sync::Weak::upgrade)
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Starts the approval sweeper: expiry, decisions made by the CLI or
    /// before a restart, and parked turns a stopped process left behind.
    pub fn start_approvals(self: &Arc<Self>) {
        tokio::spawn(crate::trust::approvals::sweeper(Arc::clone(self)));
    }

    /// A decision was just made here: resume its parked turn now rather
    /// than at the next sweep (the claim makes a double resume harmless),
    /// and close its Telegram prompts now rather than at the channels'
    /// next sweep.
    pub fn approval_decided(self: &Arc<Self>, approval_id: i64) {
        let rt = Arc::clone(self);
        tokio::spawn(async move { super::turn_park::resume(rt, approval_id).await });
        if let Some(channels) = self.channels() {
            tokio::spawn(async move { channels.close_stale_prompts().await });
        }
    }

    /// Registers a turn; the guard unregisters it.
    pub(super) fn register(
        self: &Arc<Self>,
        conversation_id: i64,
        agent_id: i64,
    ) -> (RunningGuard, watch::Receiver<bool>) {
        let (tx, rx) = watch::channel(false);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut map) = self.running.lock() {
            map.insert(
                id,
                Running {
                    conversation_id,
                    agent_id,
                    cancel: tx,
                },
            );
        }
        (
            RunningGuard {
                rt: Arc::clone(self),
                id,
            },
            rx,
        )
    }

    fn cancel_where(&self, pred: impl Fn(&Running) -> bool) -> usize {
        let Ok(map) = self.running.lock() else {
            return 0;
        };
        map.values()
            .filter(|r| pred(r))
            .filter(|r| r.cancel.send(true).is_ok())
            .count()
    }

    /// Cancels every running turn in a conversation; returns how many.
    pub fn stop_conversation(&self, conversation_id: i64) -> usize {
        self.cancel_where(|r| r.conversation_id == conversation_id)
    }

    /// Cancels an agent's turns (it is being deleted or disabled).
    pub fn stop_agent(&self, agent_id: i64) -> usize {
        self.cancel_where(|r| r.agent_id == agent_id)
    }

    /// How many turns are running (for tests and shutdown).
    pub fn running(&self) -> usize {
        self.running.lock().map_or(0, |m| m.len())
    }

    /// Hands a stored, published message to the agents that should answer.
    /// Returns at once; each turn runs as its own task.
    pub fn on_message(self: &Arc<Self>, msg: &MessageRow, sender: Sender, user_id: Option<i64>) {
        if sender != Sender::Member {
            return;
        }
        // Most posts go to rooms without agents: with current cached facts
        // that is decided here, with no task and no database read.
        if let Some(facts) = self.store.cached_conversation_facts(msg.conversation_id) {
            self.start_turns(facts.as_deref().map(|f| &f.routing), msg, sender, user_id);
            return;
        }
        let rt = Arc::clone(self);
        let msg = msg.clone();
        tokio::spawn(async move {
            match rt.store.conversation_facts(msg.conversation_id).await {
                Ok(facts) => {
                    rt.start_turns(facts.as_deref().map(|f| &f.routing), &msg, sender, user_id)
                }
                Err(e) => tracing::error!(%e, "routing lookup failed"),
            }
        });
    }

    /// Starts one turn per agent that `routing` says should answer.
    fn start_turns(
        self: &Arc<Self>,
        info: Option<&RoutingInfo>,
        msg: &MessageRow,
        sender: Sender,
        user_id: Option<i64>,
    ) {
        let Some(info) = info else {
            return;
        };
        let ids: Vec<i64> = info.agents.iter().map(|(id, _)| *id).collect();
        let room = Room {
            direct: info.kind == "direct",
            default_agent: info.default_agent_id,
            agents: &ids,
        };
        for agent_id in routing::responders(sender, &room, &msg.mentions) {
            let rt = Arc::clone(self);
            let req = TurnRequest {
                agent_id,
                conversation_id: msg.conversation_id,
                reply_to: msg.id,
                user_id,
                taint: None,
            };
            tokio::spawn(async move { turn::run_streamed(rt, req).await });
        }
    }
}
