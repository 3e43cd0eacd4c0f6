//! The tool registry: every tool's name, domain, read-only flag, strict
//! argument schema and executor, one file per tool family.
//!
//! Owns parsing a call into typed arguments, its canonical form and its
//! resolved target (what an approval's fingerprint covers). Executors are
//! private to this module: the only way in is `execute_with_permit`, which takes a
//! `trust::gate::Permit` that only the gate can make. Nothing here decides
//! whether a call may run.

mod agents;
mod bookmarks;
pub(crate) mod egress;
mod files;
mod knowledge;
mod memory;
mod messaging;
pub(crate) mod net;
pub(crate) mod shell;

pub(crate) use files::workspace_root;
pub(crate) mod web;

pub use net::ToolsConfig;

use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;
use tokio::sync::watch;

use super::providers::{SharedProvider, ToolCall, ToolSpec};
use super::runtime::Runtime;
use crate::store::agents::AgentRow;
use crate::trust::Domain;
use crate::trust::gate::Permit;

/// Who is calling, for scoping what a tool may touch.
pub(crate) struct ToolScope<'a> {
    pub agent: &'a AgentRow,
    pub conversation_id: i64,
    pub user_id: Option<i64>,
    /// Whose user-scoped memories the memory tools touch: `user_id`, except
    /// in a channel conversation (see `memory::person`).
    pub memory_user: Option<i64>,
    pub depth: u8,
    pub embedder: Option<SharedProvider>,
    /// Secret bindings, loaded only when a call names a secret.
    pub bindings: Vec<crate::store::tool_rules::BindingRow>,
    /// Largest file a file tool writes.
    pub max_file_bytes: usize,
    /// The agent's workspace (for the files a shell command names).
    pub workspace: Option<std::path::PathBuf>,
    /// The trust level in effect for the call's domain.
    pub level: u8,
}

/// One tool as the registry knows it.
pub(crate) struct ToolDef {
    pub name: &'static str,
    pub domain: Domain,
    /// Reads only the agent's own data: always allowed, never parks.
    pub read_only: bool,
    /// Its result is untrusted content that taints the turn.
    pub taints: bool,
    description: &'static str,
    schema: fn() -> Value,
}

impl ToolDef {
    pub fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: self.name.into(),
            description: self.description.into(),
            parameters: (self.schema)(),
        }
    }
}

/// Every tool, in the order they are offered.
pub(crate) static REGISTRY: &[ToolDef] = &[
    memory::SAVE,
    memory::SEARCH,
    knowledge::SEARCH,
    agents::CALL_AGENT,
    web::WEB_FETCH,
    web::HTTP_REQUEST,
    files::READ,
    files::LIST,
    files::WRITE,
    files::DELETE,
    messaging::SEND_MESSAGE,
    shell::SHELL,
    bookmarks::SEARCH,
    bookmarks::ADD,
];

pub(crate) fn lookup(name: &str) -> Option<&'static ToolDef> {
    REGISTRY.iter().find(|t| t.name == name)
}

/// What the server can offer beside an agent's own settings.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Offer {
    pub max_depth: u8,
    /// The sandbox passed its probe.
    pub shell: bool,
}

/// The agent's settings allow this tool at this depth (trust aside).
pub(crate) fn available(agent: &AgentRow, name: &str, depth: u8, offer: Offer) -> bool {
    agent.tools.iter().any(|t| t == name)
        && match name {
            "memory_save" | "memory_search" => agent.memory,
            "knowledge_search" => agent.knowledge,
            "call_agent" => depth < offer.max_depth,
            "shell" => offer.shell,
            _ => lookup(name).is_some(),
        }
}

/// The specs offered to the model: available tools whose domain is above
/// level 0 (`levels` gives each domain's level).
pub(crate) fn specs(
    agent: &AgentRow,
    depth: u8,
    offer: Offer,
    levels: &[(Domain, u8)],
) -> Vec<ToolSpec> {
    REGISTRY
        .iter()
        .filter(|t| available(agent, t.name, depth, offer))
        .filter(|t| t.read_only || levels.iter().any(|(d, l)| *d == t.domain && *l > 0))
        .map(ToolDef::spec)
        .collect()
}

/// A call parsed against its schema.
pub(crate) enum Args {
    MemorySave(memory::SaveArgs),
    MemorySearch(memory::QueryArgs),
    KnowledgeSearch(memory::QueryArgs),
    CallAgent(agents::CallArgs),
    WebFetch(web::FetchArgs),
    Http(web::HttpArgs),
    FileRead(files::PathArgs),
    FileList(files::ListArgs),
    FileWrite(files::WriteArgs),
    FileDelete(files::PathArgs),
    SendMessage(messaging::SendArgs),
    Shell(shell::ShellArgs),
    BookmarkSearch(bookmarks::SearchArgs),
    BookmarkAdd(bookmarks::AddArgs),
}

/// A parsed call: typed arguments, their normalised form and the resolved
/// target, which together are what an approval is bound to.
pub(crate) struct Prepared {
    pub def: &'static ToolDef,
    args: Args,
    /// Normalised arguments (parsed and re-serialised: no unknown fields,
    /// keys in canonical order when hashed).
    pub normalised: Value,
    /// What the call acts on, resolved: a URL with method, a workspace path,
    /// an agent handle, a memory scope.
    pub target: String,
    /// Extra bytes the fingerprint covers (a request body's hash).
    pub target_extra: String,
}

fn parse<T: for<'de> Deserialize<'de>>(call: &ToolCall) -> Result<T, String> {
    let raw = if call.arguments.trim().is_empty() {
        "{}"
    } else {
        &call.arguments
    };
    serde_json::from_str(raw).map_err(|e| format!("invalid arguments for {}: {e}", call.name))
}

fn to_value<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// Parses `call` strictly (unknown fields refused) and resolves its target.
pub(crate) fn prepare(call: &ToolCall, scope: &ToolScope<'_>) -> Result<Prepared, String> {
    let def = lookup(&call.name).ok_or_else(|| format!("unknown tool `{}`", call.name))?;
    let mut extra = String::new();
    let (args, normalised, target) = match def.name {
        "memory_save" => {
            let a: memory::SaveArgs = parse(call)?;
            let target = memory::target(&a, scope)?;
            let v = to_value(&a);
            (Args::MemorySave(a), v, target)
        }
        "memory_search" => {
            let a: memory::QueryArgs = parse(call)?;
            let v = to_value(&a);
            (Args::MemorySearch(a), v, "memory".into())
        }
        "knowledge_search" => {
            let a: memory::QueryArgs = parse(call)?;
            let v = to_value(&a);
            (Args::KnowledgeSearch(a), v, "knowledge".into())
        }
        "call_agent" => {
            let a: agents::CallArgs = parse(call)?;
            let handle = agents::handle_of(&a);
            // Refused before any approval is asked for: it could never run.
            if handle.eq_ignore_ascii_case(&scope.agent.handle) {
                return Err("an agent cannot call itself".into());
            }
            let target = format!("agent:@{handle}");
            let v = to_value(&a);
            (Args::CallAgent(a), v, target)
        }
        "web_fetch" => {
            let (a, target) = web::prepare_fetch(parse(call)?)?;
            let v = to_value(&a);
            (Args::WebFetch(a), v, target)
        }
        "http_request" => {
            let (a, target, body_hash) = web::prepare_http(parse(call)?, scope)?;
            extra = body_hash;
            let v = to_value(&a);
            (Args::Http(a), v, target)
        }
        "file_read" | "file_delete" => {
            let (a, target) = files::prepare_path(parse(call)?)?;
            let v = to_value(&a);
            let args = if def.name == "file_read" {
                Args::FileRead(a)
            } else {
                Args::FileDelete(a)
            };
            (args, v, target)
        }
        "file_list" => {
            let (a, target) = files::prepare_list(parse(call)?)?;
            let v = to_value(&a);
            (Args::FileList(a), v, target)
        }
        "file_write" => {
            let (a, target) = files::prepare_write(parse(call)?, scope.max_file_bytes)?;
            let v = to_value(&a);
            (Args::FileWrite(a), v, target)
        }
        "send_message" => {
            let (a, target) = messaging::prepare(parse(call)?, scope)?;
            let v = to_value(&a);
            (Args::SendMessage(a), v, target)
        }
        "shell" => {
            let (a, target, hashes) = shell::prepare(parse(call)?, scope)?;
            extra = hashes;
            let v = to_value(&a);
            (Args::Shell(a), v, target)
        }
        "bookmark_search" => {
            let a: bookmarks::SearchArgs = parse(call)?;
            let v = to_value(&a);
            (Args::BookmarkSearch(a), v, "bookmarks".into())
        }
        "bookmark_add" => {
            let a: bookmarks::AddArgs = parse(call)?;
            let target = bookmarks::add_target(&a)?;
            let v = to_value(&a);
            (Args::BookmarkAdd(a), v, target)
        }
        other => return Err(format!("unknown tool `{other}`")),
    };
    // A secret may be named only where egress resolves it.
    if def.name != "http_request" && egress::mentions_secret(&normalised.to_string()) {
        return Err(format!(
            "{{{{secret:NAME}}}} placeholders work only in http_request, never in {}",
            def.name
        ));
    }
    Ok(Prepared {
        def,
        args,
        normalised,
        target,
        target_extra: extra,
    })
}

/// Runs a prepared call. Only the gate holds a `Permit`. `Ok` is the
/// result text, `Err` an error the model reads.
pub(crate) async fn execute_with_permit(
    _permit: Permit,
    rt: &Arc<Runtime>,
    scope: ToolScope<'_>,
    prepared: Prepared,
    cancel: watch::Receiver<bool>,
) -> Result<String, String> {
    match prepared.args {
        Args::MemorySave(a) => memory::save(rt, &scope, a).await,
        Args::MemorySearch(a) => memory::search(rt, &scope, a).await,
        Args::KnowledgeSearch(a) => knowledge::search(rt, &scope, a).await,
        Args::CallAgent(a) => agents::call_agent(rt, &scope, a, cancel).await,
        Args::WebFetch(a) => web::fetch(rt, &scope, a).await,
        Args::Http(a) => web::request(rt, &scope, a).await,
        Args::FileRead(a) => files::read(rt, &scope, a).await,
        Args::FileList(a) => files::list(rt, &scope, a).await,
        Args::FileWrite(a) => files::write(rt, &scope, a).await,
        Args::FileDelete(a) => files::delete(rt, &scope, a).await,
        Args::SendMessage(a) => messaging::send(rt, &scope, a).await,
        Args::Shell(a) => shell::run(rt, &scope, a).await,
        Args::BookmarkSearch(a) => bookmarks::search(rt, &scope, a).await,
        Args::BookmarkAdd(a) => bookmarks::add(rt, &scope, a).await,
    }
}

#[cfg(test)]
mod tests;
