//! `hardshell import xiajiao DIR`: moving in from a xiajiao installation
//! (issue 22).
//!
//! Owns reading a xiajiao directory (its `agents.json`, `models.json`,
//! `im-settings.json`, `data/xiajiao.db` and `data/workspace-<id>/`) into a
//! `Plan`, and applying that plan through the store's and the vault's own
//! methods. It never writes SQL against our store, never reads outside DIR
//! (an agent's custom workspace path is ignored), and never writes before
//! the whole directory has been read and checked: a malformed directory,
//! a taken handle or an unknown model is refused with nothing changed.
//! The xiajiao database is opened read-only; its plaintext API keys go into
//! the vault and the user is told to wipe the old copy.

use std::collections::{BTreeMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use serde::Deserialize;

use crate::agents::knowledge::extract;
use crate::agents::model;
use crate::agents::workspace;
use crate::store::agents::{AgentFields, ProviderRow};

/// Largest JSON settings file read.
const MAX_JSON: u64 = 16 * 1024 * 1024;
/// Largest knowledge file carried across.
const MAX_KNOWLEDGE_FILE: u64 = 16 * 1024 * 1024;

#[derive(Deserialize)]
struct AgentsFile {
    agents: Vec<XAgent>,
}

#[derive(Deserialize)]
struct XAgent {
    id: String,
    name: String,
    #[serde(default)]
    model: Option<String>,
}

#[derive(Deserialize, Default)]
struct ModelsFile {
    #[serde(default)]
    providers: BTreeMap<String, XProvider>,
    #[serde(default)]
    models: Vec<XModel>,
}

#[derive(Deserialize)]
struct XProvider {
    #[serde(rename = "baseUrl", default)]
    base_url: Option<String>,
    #[serde(rename = "apiKey", default)]
    api_key: Option<String>,
    #[serde(default)]
    api: Option<String>,
}

#[derive(Deserialize)]
struct XModel {
    id: String,
    #[serde(default)]
    provider: Option<String>,
}

#[derive(Deserialize, Default)]
struct Settings {
    #[serde(rename = "defaultModel", default)]
    default_model: Option<String>,
}

/// A provider to configure, with the key to move into the vault.
pub struct PlannedProvider {
    pub row: ProviderRow,
    pub key: Option<String>,
}

/// One message of a direct conversation, oldest first.
pub struct PlannedMessage {
    pub from_agent: bool,
    pub text: String,
    /// xiajiao's timestamp (milliseconds), kept in the message's meta.
    pub ts: i64,
}

/// An agent and everything that belongs to it.
pub struct PlannedAgent {
    pub xiajiao_id: String,
    pub fields: AgentFields,
    pub soul: String,
    pub messages: Vec<PlannedMessage>,
    pub memories: Vec<String>,
    /// Knowledge files by name, already known to be extractable.
    pub files: Vec<(String, Vec<u8>)>,
}

/// Everything an import will write, read and checked in full.
pub struct Plan {
    pub providers: Vec<PlannedProvider>,
    pub agents: Vec<PlannedAgent>,
    /// Messages in group channels, of unknown agents, or breaking our
    /// message rules (not carried across).
    pub skipped_messages: usize,
    /// Workspace files no knowledge extractor accepts.
    pub skipped_files: Vec<String>,
}

fn read_capped(path: &Path, max: u64) -> anyhow::Result<Vec<u8>> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(max + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("reading {}", path.display()))?;
    if bytes.len() as u64 > max {
        bail!("{} is over {} MiB", path.display(), max / 1024 / 1024);
    }
    Ok(bytes)
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> anyhow::Result<Option<T>> {
    if !path.exists() {
        return Ok(None);
    }
    let bytes = read_capped(path, MAX_JSON)?;
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| anyhow::anyhow!("{} is not a xiajiao file: {e}", path.display()))
}

fn provider_kind(api: Option<&str>) -> &'static str {
    match api {
        Some(a) if a.contains("anthropic") => "anthropic",
        _ => "openai",
    }
}

fn providers(models: ModelsFile) -> anyhow::Result<Vec<PlannedProvider>> {
    let mut out = Vec::new();
    for (name, p) in models.providers {
        if !model::is_slug(&name) {
            bail!("models.json: provider name {name:?} is not a valid Hardshell provider name");
        }
        let kind = provider_kind(p.api.as_deref());
        let base_url = match p.base_url.filter(|u| !u.trim().is_empty()) {
            Some(u) if u.starts_with("https://") || u.starts_with("http://") => u,
            Some(u) => bail!("models.json: provider {name}: base URL {u:?} is not http(s)"),
            None => bail!("models.json: provider {name} has no baseUrl"),
        };
        let key = p.api_key.filter(|k| !k.is_empty());
        if let Some(k) = &key
            && (k.len() > 4096 || k.chars().any(char::is_control))
        {
            bail!("models.json: provider {name}: the API key is not valid text");
        }
        let prefix = format!("{name}/");
        let ids: Vec<String> = models
            .models
            .iter()
            .filter(|m| m.provider.as_deref() == Some(name.as_str()) || m.id.starts_with(&prefix))
            .map(|m| m.id.strip_prefix(&prefix).unwrap_or(&m.id).to_string())
            .collect();
        for m in &ids {
            model::parse_model(&format!("{name}/{m}"))
                .map_err(|_| anyhow::anyhow!("models.json: model {m:?} of {name} is not valid"))?;
        }
        out.push(PlannedProvider {
            row: ProviderRow {
                name,
                kind: kind.to_string(),
                base_url,
                models: ids,
                embedding_model: None,
                input_micros_per_mtok: 0,
                output_micros_per_mtok: 0,
                created_at: 0,
                updated_at: 0,
            },
            key,
        });
    }
    Ok(out)
}

fn table_exists(conn: &Connection, name: &str) -> anyhow::Result<bool> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
            [name],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// (channel, type, agent, text, ts) of every message, oldest first.
type XMessage = (String, String, Option<String>, Option<String>, i64);
/// (agent id, content) of every live memory, oldest first.
type XMemory = (String, String);

fn read_db(path: &Path) -> anyhow::Result<(Vec<XMessage>, Vec<XMemory>)> {
    if !path.is_file() {
        bail!(
            "{} is missing: this does not look like a xiajiao directory",
            path.display()
        );
    }
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .with_context(|| format!("opening {}", path.display()))?;
    let bad =
        |e: rusqlite::Error| anyhow::anyhow!("{} is not a xiajiao database: {e}", path.display());
    if !table_exists(&conn, "messages").map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))? {
        bail!(
            "{} has no messages table: not a xiajiao database",
            path.display()
        );
    }
    let mut stmt = conn
        .prepare("SELECT channel, type, agent, text, ts FROM messages ORDER BY ts, rowid")
        .map_err(bad)?;
    let messages = stmt
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .and_then(|rows| rows.collect::<Result<Vec<XMessage>, _>>())
        .map_err(bad)?;
    let mut memories = Vec::new();
    if table_exists(&conn, "agent_memories")? {
        let mut stmt = conn
            .prepare(
                "SELECT agent_id, content FROM agent_memories \
                 WHERE consolidated_into IS NULL ORDER BY created_at, rowid",
            )
            .map_err(bad)?;
        memories = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .and_then(|rows| rows.collect::<Result<Vec<XMemory>, _>>())
            .map_err(bad)?;
    }
    Ok((messages, memories))
}

/// A regular file, not a symbolic link: links are never followed out of DIR.
fn plain_file(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_file())
}

/// A directory, not a symbolic link to one.
fn plain_dir(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_dir())
}

/// The knowledge files in an agent's workspace: every visible regular file
/// but SOUL.md; those no extractor accepts are named in `skipped`.
fn knowledge_files(ws: &Path, skipped: &mut Vec<String>) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let mut out = Vec::new();
    if !plain_dir(ws) {
        return Ok(out);
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(ws)
        .with_context(|| format!("listing {}", ws.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for path in entries {
        let Some(name) = path
            .file_name()
            .and_then(|n| n.to_str())
            .map(str::to_string)
        else {
            continue;
        };
        if !plain_file(&path) || name.starts_with('.') || name == "SOUL.md" {
            continue;
        }
        let bytes = read_capped(&path, MAX_KNOWLEDGE_FILE)?;
        let usable = extract::kind_of(&bytes, &name)
            .and_then(|k| extract::extract(k, &bytes))
            .is_ok_and(|x| !x.text.trim().is_empty());
        if usable {
            out.push((name, bytes));
        } else {
            skipped.push(format!("{}: {name}", ws.display()));
        }
    }
    Ok(out)
}

/// Reads and checks a whole xiajiao directory. `taken` holds the handles
/// and usernames already in use; `configured` the providers already set up.
pub fn read(
    dir: &Path,
    taken: &HashSet<String>,
    configured: &HashSet<String>,
) -> anyhow::Result<Plan> {
    if !dir.is_dir() {
        bail!("{} is not a directory", dir.display());
    }
    let agents: AgentsFile = read_json(&dir.join("agents.json"))?.ok_or_else(|| {
        anyhow::anyhow!(
            "{} has no agents.json: this does not look like a xiajiao directory",
            dir.display()
        )
    })?;
    let models: ModelsFile = read_json(&dir.join("models.json"))?.unwrap_or_default();
    let settings: Settings = read_json(&dir.join("im-settings.json"))?.unwrap_or_default();
    let first_model = models.models.first().map(|m| m.id.clone());
    let providers = providers(models)?;
    let (messages, memories) = read_db(&dir.join("data").join("xiajiao.db"))?;

    let known: HashSet<String> = providers
        .iter()
        .map(|p| p.row.name.clone())
        .chain(configured.iter().cloned())
        .collect();
    let default_model = settings
        .default_model
        .filter(|m| !m.is_empty())
        .or(first_model);
    let mut planned: Vec<PlannedAgent> = Vec::new();
    let mut skipped_files = Vec::new();
    let mut seen = HashSet::new();
    for a in agents.agents {
        let handle = a.id.to_ascii_lowercase();
        if model::check_handle(&handle).is_err() {
            bail!("agent {:?}: its id is not a valid Hardshell handle", a.id);
        }
        if !seen.insert(handle.clone()) {
            bail!("agents.json names {handle} twice");
        }
        if taken.contains(&handle) {
            bail!(
                "@{handle} already exists here (imported before?); nothing was imported. \
                 Rename or delete it first"
            );
        }
        let model_name = a
            .model
            .filter(|m| !m.is_empty())
            .or_else(|| default_model.clone())
            .ok_or_else(|| {
                anyhow::anyhow!("agent {handle} has no model and xiajiao sets no default model")
            })?;
        let provider = model::parse_model(&model_name)
            .map_err(|_| {
                anyhow::anyhow!("agent {handle}: model {model_name:?} is not provider/model")
            })?
            .provider
            .to_string();
        if !known.contains(&provider) {
            bail!(
                "agent {handle}: its model {model_name} names provider {provider}, which models.json does not configure"
            );
        }
        let fields = AgentFields {
            handle: handle.clone(),
            name: a.name.trim().to_string(),
            description: "Moved in from xiajiao.".to_string(),
            model: model_name,
            tools: model::KNOWN_TOOLS.iter().map(|t| t.to_string()).collect(),
            memory: true,
            knowledge: true,
            context_tokens: 8192,
            budgets: model::default_budgets(),
            disabled: false,
        };
        model::check_fields(&fields).map_err(|e| anyhow::anyhow!("agent {handle}: {e}"))?;
        let ws = dir.join("data").join(format!("workspace-{}", a.id));
        let soul_path = ws.join("SOUL.md");
        let soul = if plain_file(&soul_path) && plain_dir(&ws) {
            let bytes = read_capped(&soul_path, model::MAX_SOUL_BYTES as u64)?;
            String::from_utf8(bytes)
                .map_err(|_| anyhow::anyhow!("{} is not UTF-8", soul_path.display()))?
        } else {
            workspace::soul_template(&fields.name)
        };
        model::check_soul(&soul).map_err(|e| anyhow::anyhow!("{}: {e}", soul_path.display()))?;
        let files = knowledge_files(&ws, &mut skipped_files)?;
        if files.len() > crate::agents::knowledge::MAX_DOCS_PER_AGENT {
            bail!(
                "{}: more documents than an agent's knowledge holds ({})",
                ws.display(),
                crate::agents::knowledge::MAX_DOCS_PER_AGENT
            );
        }
        planned.push(PlannedAgent {
            xiajiao_id: a.id,
            fields,
            soul,
            messages: Vec::new(),
            memories: Vec::new(),
            files,
        });
    }
    let mut skipped_messages = 0;
    for (channel, kind, agent, text, ts) in messages {
        // The same rules as a message posted here: one that breaks them
        // (over-long, blank, a NUL) stays behind and is counted.
        let Ok(text) = crate::chat::validate::text(&text.unwrap_or_default(), false) else {
            skipped_messages += 1;
            continue;
        };
        let target = planned.iter_mut().find(|p| p.xiajiao_id == channel);
        match (target, kind.as_str()) {
            (Some(p), "user") if !text.trim().is_empty() => p.messages.push(PlannedMessage {
                from_agent: false,
                text,
                ts,
            }),
            (Some(p), "agent")
                if !text.trim().is_empty() && agent.as_deref() == Some(p.xiajiao_id.as_str()) =>
            {
                p.messages.push(PlannedMessage {
                    from_agent: true,
                    text,
                    ts,
                })
            }
            _ => skipped_messages += 1,
        }
    }
    for (agent, content) in memories {
        let Some(p) = planned.iter_mut().find(|p| p.xiajiao_id == agent) else {
            bail!("a memory belongs to agent {agent:?}, which agents.json does not list");
        };
        let text = content.trim();
        if text.is_empty() || text.chars().count() > crate::agents::memory::MAX_CHARS {
            bail!("a memory of agent {agent} is empty or too long");
        }
        p.memories.push(text.to_string());
        if p.memories.len() > crate::agents::memory::MAX_PER_AGENT {
            bail!("agent {agent} has more memories than Hardshell keeps per agent");
        }
    }
    Ok(Plan {
        providers,
        agents: planned,
        skipped_messages,
        skipped_files,
    })
}

/// What an import wrote.
#[derive(Debug, Default, serde::Serialize)]
pub struct Report {
    pub agents: Vec<String>,
    pub messages: usize,
    pub memories: usize,
    pub knowledge_files: usize,
    pub providers: Vec<String>,
    /// Vault entries the plaintext keys moved into.
    pub keys_moved: Vec<String>,
    /// Providers already configured here, left as they were.
    pub providers_kept: Vec<String>,
    pub skipped_messages: usize,
    pub skipped_files: Vec<String>,
}

/// What `write` has changed so far, so a failure midway can be undone.
#[derive(Default)]
struct Written {
    keys: Vec<String>,
    providers: Vec<String>,
    agents: Vec<i64>,
    conversations: Vec<i64>,
}

/// Writes a checked plan: keys, providers, then each agent with its soul,
/// conversation, memories and knowledge. Everything was validated by
/// `read`, so a failure here is an I/O or database failure; then what was
/// written is removed again (newest first) and the error says so.
pub async fn apply(
    plan: Plan,
    store: &crate::store::Store,
    vault: &mut vault::Vault,
    dd: &crate::config::DataDir,
    owner: i64,
    configured: &HashSet<String>,
) -> anyhow::Result<Report> {
    let mut written = Written::default();
    let result = write(plan, store, vault, dd, owner, configured, &mut written).await;
    let Err(e) = result else {
        return result;
    };
    match undo(store, vault, dd, written).await {
        Ok(()) => Err(anyhow::anyhow!(
            "{e:#}; what was written was removed again, nothing was imported"
        )),
        Err(u) => Err(anyhow::anyhow!(
            "{e:#}; removing what was written failed too ({u:#}): check the agents, providers and vault"
        )),
    }
}

async fn undo(
    store: &crate::store::Store,
    vault: &mut vault::Vault,
    dd: &crate::config::DataDir,
    w: Written,
) -> anyhow::Result<()> {
    // Messages go with their conversation; memories and knowledge with
    // their agent.
    for id in w.conversations.into_iter().rev() {
        store.conversation_delete(id).await?;
    }
    for id in w.agents.into_iter().rev() {
        store.agent_delete(id).await?;
        // Only a workspace directory is removed: whatever stood in the way
        // of making one is not ours to delete.
        let dir = dd.clone();
        tokio::task::spawn_blocking(move || {
            if plain_dir(&workspace::agent_dir(&dir, id)) {
                workspace::remove(&dir, id)
            } else {
                Ok(())
            }
        })
        .await
        .context("removing a workspace")??;
    }
    for name in w.providers.into_iter().rev() {
        store.provider_delete(&name).await?;
    }
    for key in w.keys.into_iter().rev() {
        vault.remove(&key)?;
    }
    Ok(())
}

async fn write(
    plan: Plan,
    store: &crate::store::Store,
    vault: &mut vault::Vault,
    dd: &crate::config::DataDir,
    owner: i64,
    configured: &HashSet<String>,
    written: &mut Written,
) -> anyhow::Result<Report> {
    use crate::agents::registry::key_name;
    use crate::chat::validate::render_message;
    use crate::store::agents::AgentMessage;
    use crate::store::chat_conversations::NewConversation;
    use crate::store::chat_messages::{Author, NewMessage};
    use crate::store::memories::{Scope, Source};

    let mut report = Report {
        skipped_messages: plan.skipped_messages,
        skipped_files: plan.skipped_files,
        ..Report::default()
    };
    for p in plan.providers {
        let name = p.row.name.clone();
        if configured.contains(&name) {
            report.providers_kept.push(name);
            continue;
        }
        if let Some(k) = p.key {
            let entry = key_name(&name);
            vault
                .set(&entry, secrecy::SecretString::from(k))
                .with_context(|| format!("storing the key of {name} in the vault"))?;
            written.keys.push(entry.clone());
            report.keys_moved.push(entry);
        }
        store.provider_put(p.row).await?;
        written.providers.push(name.clone());
        report.providers.push(name);
    }
    for a in plan.agents {
        let provider = model::parse_model(&a.fields.model)
            .ok()
            .map(|m| m.provider.to_string());
        let handle = a.fields.handle.clone();
        let row = store
            .agent_create(a.fields, Some(owner), provider)
            .await?
            .map_err(|r| anyhow::anyhow!("agent {handle} was refused: {r:?}"))?;
        written.agents.push(row.id);
        let (dir, id, soul) = (dd.clone(), row.id, a.soul);
        tokio::task::spawn_blocking(move || workspace::write_soul(&dir, id, &soul))
            .await
            .context("writing SOUL.md")?
            .with_context(|| format!("writing the SOUL.md of {handle}"))?;
        report.agents.push(handle.clone());
        if !a.messages.is_empty() {
            let conv = store
                .conversation_create(NewConversation {
                    kind: "direct",
                    title: None,
                    created_by: owner,
                    usernames: Vec::new(),
                    agent_id: Some(row.id),
                })
                .await?
                .map_err(|r| anyhow::anyhow!("conversation with {handle} refused: {r:?}"))?;
            written.conversations.push(conv.id);
            for m in a.messages {
                let (html, _) = render_message(&m.text, &[]);
                if m.from_agent {
                    store
                        .agent_message_insert(AgentMessage {
                            conversation_id: conv.id,
                            agent_id: row.id,
                            text: m.text,
                            html,
                            mentions: Vec::new(),
                            reply_to: None,
                            meta: serde_json::json!({"imported": "xiajiao", "xiajiao_ts": m.ts}),
                        })
                        .await?;
                } else {
                    store
                        .message_insert(NewMessage {
                            conversation_id: conv.id,
                            author: Author::User(owner),
                            text: m.text,
                            html,
                            mentions: Vec::new(),
                            reply_to: None,
                            attachments: Vec::new(),
                        })
                        .await?
                        .map_err(|r| anyhow::anyhow!("a message to {handle} was refused: {r:?}"))?;
                }
                report.messages += 1;
            }
        }
        for text in a.memories {
            let saved = crate::agents::memory::save(
                store,
                row.id,
                Scope::User(owner),
                &text,
                Source::Owner,
                Some(owner),
                None,
            )
            .await
            .with_context(|| format!("saving a memory of {handle}"))?;
            // xiajiao may hold the same memory twice; it is kept once.
            if !saved.duplicate {
                report.memories += 1;
            }
        }
        for (name, bytes) in a.files {
            match crate::agents::knowledge::ingest(store, row.id, &name, &bytes, Some(owner), None)
                .await
            {
                Ok(_) => report.knowledge_files += 1,
                // The same content twice in one workspace: one copy is enough.
                Err(crate::agents::knowledge::KnowledgeError::Duplicate(_)) => {}
                Err(e) => return Err(anyhow::anyhow!("{handle}: knowledge file {name}: {e}")),
            }
        }
    }
    Ok(report)
}
