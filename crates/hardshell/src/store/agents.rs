//! SQL for agents, provider settings, token/spend usage and agent-authored
//! messages.
//!
//! Validation (handle syntax, model syntax, budgets) happens in `agents`
//! before these run; here only what needs the database is checked (unique
//! handles, handles that collide with usernames). Provider API keys never
//! come here: they live in the vault. `AgentStore` (at the end) is the
//! backend-neutral interface; `pg/agents.rs` implements it on PostgreSQL.

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;
use utoipa::ToSchema;

use super::chat::{MessageRow, Ref, message_by_id, message_page, touch_conversation};
use super::{Fut, Store, StoreError};

/// Budgets of one agent. `daily_spend_micros` is millionths of a US dollar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budgets {
    pub tokens_per_turn: i64,
    pub tokens_per_conversation_day: i64,
    pub daily_spend_micros: Option<i64>,
}

/// An agent as stored. SOUL.md lives in the agent's workspace, not here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentRow {
    pub id: i64,
    pub uuid: String,
    pub handle: String,
    pub name: String,
    pub description: String,
    pub model: String,
    pub tools: Vec<String>,
    pub memory: bool,
    pub knowledge: bool,
    pub context_tokens: i64,
    pub budgets: Budgets,
    pub disabled: bool,
    pub created_by: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The fields an agent is created or replaced with (already validated).
#[derive(Clone, Debug)]
pub struct AgentFields {
    pub handle: String,
    pub name: String,
    pub description: String,
    pub model: String,
    pub tools: Vec<String>,
    pub memory: bool,
    pub knowledge: bool,
    pub context_tokens: i64,
    pub budgets: Budgets,
    pub disabled: bool,
}

/// Why an agent write was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AgentReject {
    HandleTaken,
    /// The model names a provider that is not configured.
    UnknownProvider,
}

const AGENT_COLS: &str = "id, uuid, handle, name, description, model, tools, memory_enabled, \
     knowledge_enabled, context_tokens, tokens_per_turn, tokens_per_conversation_day, \
     daily_spend_cap_micros, disabled, created_by, created_at, updated_at";

fn agent_from_row(r: &Row<'_>) -> rusqlite::Result<AgentRow> {
    let tools: String = r.get(6)?;
    Ok(AgentRow {
        id: r.get(0)?,
        uuid: r.get(1)?,
        handle: r.get(2)?,
        name: r.get(3)?,
        description: r.get(4)?,
        model: r.get(5)?,
        tools: serde_json::from_str(&tools).unwrap_or_default(),
        memory: r.get(7)?,
        knowledge: r.get(8)?,
        context_tokens: r.get(9)?,
        budgets: Budgets {
            tokens_per_turn: r.get(10)?,
            tokens_per_conversation_day: r.get(11)?,
            daily_spend_micros: r.get(12)?,
        },
        disabled: r.get(13)?,
        created_by: r.get(14)?,
        created_at: r.get(15)?,
        updated_at: r.get(16)?,
    })
}

fn agent_by_id(conn: &Connection, id: i64) -> Result<Option<AgentRow>, StoreError> {
    let sql = format!("SELECT {AGENT_COLS} FROM agents WHERE id = ?1");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([id], agent_from_row)
        .optional()?)
}

/// A handle may not equal another agent's handle or any username, so an
/// `@mention` is never ambiguous.
fn handle_free(conn: &Connection, handle: &str, except: Option<i64>) -> Result<bool, StoreError> {
    let agent = conn
        .prepare_cached("SELECT 1 FROM agents WHERE handle = ?1 AND id IS NOT ?2")?
        .exists(params![handle, except])?;
    let user = conn
        .prepare_cached("SELECT 1 FROM users WHERE username = ?1")?
        .exists([handle])?;
    Ok(!agent && !user)
}

/// Whether a provider with this name is configured.
fn provider_exists(conn: &Connection, name: &str) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM providers WHERE name = ?1")?
        .exists([name])?)
}

fn tools_json(tools: &[String]) -> Result<String, StoreError> {
    serde_json::to_string(tools).map_err(|_| StoreError::TaskFailed)
}

/// Writes every settable column of agent `id` and returns the stored row.
fn write_fields(
    conn: &Connection,
    id: i64,
    f: &AgentFields,
    now: i64,
) -> Result<AgentRow, StoreError> {
    conn.execute(
        "UPDATE agents SET handle = ?2, name = ?3, description = ?4, model = ?5, \
         tools = ?6, memory_enabled = ?7, knowledge_enabled = ?8, context_tokens = ?9, \
         tokens_per_turn = ?10, tokens_per_conversation_day = ?11, \
         daily_spend_cap_micros = ?12, disabled = ?13, updated_at = ?14 WHERE id = ?1",
        params![
            id,
            f.handle,
            f.name,
            f.description,
            f.model,
            tools_json(&f.tools)?,
            f.memory,
            f.knowledge,
            f.context_tokens,
            f.budgets.tokens_per_turn,
            f.budgets.tokens_per_conversation_day,
            f.budgets.daily_spend_micros,
            f.disabled,
            now
        ],
    )?;
    agent_by_id(conn, id)?.ok_or(StoreError::NotFound)
}

/// A configured provider (its key, if any, is in the vault).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderRow {
    pub name: String,
    pub kind: String,
    pub base_url: String,
    pub models: Vec<String>,
    pub embedding_model: Option<String>,
    pub input_micros_per_mtok: i64,
    pub output_micros_per_mtok: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

const PROVIDER_COLS: &str = "name, kind, base_url, models, embedding_model, \
     input_micros_per_mtok, output_micros_per_mtok, created_at, updated_at";

fn provider_from_row(r: &Row<'_>) -> rusqlite::Result<ProviderRow> {
    let models: String = r.get(3)?;
    Ok(ProviderRow {
        name: r.get(0)?,
        kind: r.get(1)?,
        base_url: r.get(2)?,
        models: serde_json::from_str(&models).unwrap_or_default(),
        embedding_model: r.get(4)?,
        input_micros_per_mtok: r.get(5)?,
        output_micros_per_mtok: r.get(6)?,
        created_at: r.get(7)?,
        updated_at: r.get(8)?,
    })
}

/// Today's usage of one agent: in one conversation, and its spend overall.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct UsageToday {
    pub conversation_tokens: i64,
    pub agent_spend_micros: i64,
}

/// What a conversation needs for routing: its kind, default agent, and
/// the enabled agents that are members.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoutingInfo {
    pub kind: String,
    pub default_agent_id: Option<i64>,
    pub agents: Vec<(i64, String)>,
}

/// Routing facts for a conversation, or `None` if it does not exist.
/// Callers go through the chat cache (`Store::conversation_facts`).
pub(crate) fn routing_info_conn(
    conn: &Connection,
    conversation_id: i64,
) -> Result<Option<RoutingInfo>, StoreError> {
    let head: Option<(String, Option<i64>)> = conn
        .prepare_cached("SELECT kind, default_agent_id FROM conversations WHERE id = ?1")?
        .query_row([conversation_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let Some((kind, default_agent_id)) = head else {
        return Ok(None);
    };
    let mut stmt = conn.prepare_cached(
        "SELECT a.id, a.handle FROM conversation_members cm \
         JOIN agents a ON a.id = cm.agent_id \
         WHERE cm.conversation_id = ?1 AND a.disabled = 0 ORDER BY a.id",
    )?;
    let agents = stmt
        .query_map([conversation_id], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(RoutingInfo {
        kind,
        default_agent_id,
        agents,
    }))
}

/// An agent's reply (or its explanation of an error), already redacted and
/// rendered.
#[derive(Clone, Debug)]
pub struct AgentMessage {
    pub conversation_id: i64,
    pub agent_id: i64,
    pub text: String,
    pub html: String,
    pub mentions: Vec<Ref>,
    pub reply_to: Option<i64>,
    /// JSON object: turn id, tool calls, flags, error, usage.
    pub meta: serde_json::Value,
}

impl Store {
    /// Creates an agent. `provider`, when given, must be configured: it is
    /// checked in the same transaction as the insert.
    pub async fn agent_create(
        &self,
        fields: AgentFields,
        created_by: Option<i64>,
        provider: Option<String>,
    ) -> Result<Result<AgentRow, AgentReject>, StoreError> {
        let now = crate::auth::now_secs();
        let uuid = crate::auth::tokens::uuid_v4();
        self.write(move |conn| {
            let tx = conn.transaction()?;
            if !handle_free(&tx, &fields.handle, None)? {
                return Ok(Err(AgentReject::HandleTaken));
            }
            if let Some(p) = &provider
                && !provider_exists(&tx, p)?
            {
                return Ok(Err(AgentReject::UnknownProvider));
            }
            // The row is born with its identity; every other column is set
            // by the same statement an update runs.
            tx.execute(
                "INSERT INTO agents (uuid, handle, name, created_by, created_at) \
                 VALUES (?1, ?2, '', ?3, ?4)",
                params![uuid, fields.handle, created_by, now],
            )?;
            let id = tx.last_insert_rowid();
            let row = write_fields(&tx, id, &fields, now)?;
            tx.commit()?;
            Ok(Ok(row))
        })
        .await
    }

    /// Replaces every field of an agent (the caller merged a patch).
    /// `provider`, when given, must be configured (checked in the same
    /// transaction).
    pub async fn agent_update(
        &self,
        id: i64,
        fields: AgentFields,
        provider: Option<String>,
    ) -> Result<Result<AgentRow, AgentReject>, StoreError> {
        let now = crate::auth::now_secs();
        self.write(move |conn| {
            let tx = conn.transaction()?;
            if agent_by_id(&tx, id)?.is_none() {
                return Err(StoreError::NotFound);
            }
            if !handle_free(&tx, &fields.handle, Some(id))? {
                return Ok(Err(AgentReject::HandleTaken));
            }
            if let Some(p) = &provider
                && !provider_exists(&tx, p)?
            {
                return Ok(Err(AgentReject::UnknownProvider));
            }
            let row = write_fields(&tx, id, &fields, now)?;
            tx.commit()?;
            Ok(Ok(row))
        })
        .await
    }

    pub async fn agent_get(&self, id: i64) -> Result<Option<AgentRow>, StoreError> {
        self.read(move |conn| agent_by_id(conn, id)).await
    }

    pub async fn agent_list(&self) -> Result<Vec<AgentRow>, StoreError> {
        self.read(|conn| {
            let sql = format!("SELECT {AGENT_COLS} FROM agents ORDER BY handle");
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt.query_map([], agent_from_row)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    pub async fn agent_count(&self) -> Result<i64, StoreError> {
        self.read(|conn| Ok(conn.query_row("SELECT count(*) FROM agents", [], |r| r.get(0))?))
            .await
    }

    /// Deletes an agent; its memberships, memories, knowledge and usage go
    /// with it (cascade); its past messages stay, authored by "agent 0".
    pub async fn agent_delete(&self, id: i64) -> Result<bool, StoreError> {
        self.write(move |conn| Ok(conn.execute("DELETE FROM agents WHERE id = ?1", [id])? > 0))
            .await
    }

    pub async fn provider_put(&self, row: ProviderRow) -> Result<ProviderRow, StoreError> {
        let now = crate::auth::now_secs();
        self.write(move |conn| {
            conn.execute(
                "INSERT INTO providers (name, kind, base_url, models, embedding_model, \
                 input_micros_per_mtok, output_micros_per_mtok, created_at, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8) \
                 ON CONFLICT(name) DO UPDATE SET kind = excluded.kind, \
                 base_url = excluded.base_url, models = excluded.models, \
                 embedding_model = excluded.embedding_model, \
                 input_micros_per_mtok = excluded.input_micros_per_mtok, \
                 output_micros_per_mtok = excluded.output_micros_per_mtok, \
                 updated_at = excluded.updated_at",
                params![
                    row.name,
                    row.kind,
                    row.base_url,
                    tools_json(&row.models)?,
                    row.embedding_model,
                    row.input_micros_per_mtok,
                    row.output_micros_per_mtok,
                    now
                ],
            )?;
            let sql = format!("SELECT {PROVIDER_COLS} FROM providers WHERE name = ?1");
            Ok(conn.query_row(&sql, [&row.name], provider_from_row)?)
        })
        .await
    }

    pub async fn provider_get(&self, name: &str) -> Result<Option<ProviderRow>, StoreError> {
        let name = name.to_owned();
        self.read(move |conn| {
            let sql = format!("SELECT {PROVIDER_COLS} FROM providers WHERE name = ?1");
            Ok(conn
                .prepare_cached(&sql)?
                .query_row([name], provider_from_row)
                .optional()?)
        })
        .await
    }

    pub async fn provider_list(&self) -> Result<Vec<ProviderRow>, StoreError> {
        self.read(|conn| {
            let sql = format!("SELECT {PROVIDER_COLS} FROM providers ORDER BY name");
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt.query_map([], provider_from_row)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    pub async fn provider_delete(&self, name: &str) -> Result<bool, StoreError> {
        let name = name.to_owned();
        self.write(move |conn| {
            Ok(conn.execute("DELETE FROM providers WHERE name = ?1", [name])? > 0)
        })
        .await
    }

    /// Adds one provider call's tokens and cost to today's usage.
    pub async fn usage_add(
        &self,
        agent_id: i64,
        conversation_id: i64,
        day: String,
        input_tokens: i64,
        output_tokens: i64,
        spend_micros: i64,
    ) -> Result<(), StoreError> {
        self.write(move |conn| {
            conn.execute(
                "INSERT INTO agent_usage (agent_id, conversation_id, day, input_tokens, \
                 output_tokens, spend_micros) VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
                 ON CONFLICT(agent_id, conversation_id, day) DO UPDATE SET \
                 input_tokens = input_tokens + excluded.input_tokens, \
                 output_tokens = output_tokens + excluded.output_tokens, \
                 spend_micros = spend_micros + excluded.spend_micros",
                params![
                    agent_id,
                    conversation_id,
                    day,
                    input_tokens,
                    output_tokens,
                    spend_micros
                ],
            )?;
            Ok(())
        })
        .await
    }

    pub async fn usage_today(
        &self,
        agent_id: i64,
        conversation_id: i64,
        day: String,
    ) -> Result<UsageToday, StoreError> {
        self.read(move |conn| {
            let conversation_tokens = conn
                .prepare_cached(
                    "SELECT IFNULL(SUM(input_tokens + output_tokens), 0) FROM agent_usage \
                     WHERE agent_id = ?1 AND conversation_id = ?2 AND day = ?3",
                )?
                .query_row(params![agent_id, conversation_id, day], |r| r.get(0))?;
            let agent_spend_micros = conn
                .prepare_cached(
                    "SELECT IFNULL(SUM(spend_micros), 0) FROM agent_usage \
                     WHERE agent_id = ?1 AND day = ?2",
                )?
                .query_row(params![agent_id, day], |r| r.get(0))?;
            Ok(UsageToday {
                conversation_tokens,
                agent_spend_micros,
            })
        })
        .await
    }

    /// Stores an agent's message, if the agent is still a member.
    pub async fn agent_message_insert(
        &self,
        msg: AgentMessage,
    ) -> Result<Option<MessageRow>, StoreError> {
        let now = crate::auth::now_secs();
        self.write(move |conn| {
            let tx = conn.transaction()?;
            let member = tx
                .prepare_cached(
                    "SELECT 1 FROM conversation_members WHERE conversation_id = ?1 AND agent_id = ?2",
                )?
                .exists(params![msg.conversation_id, msg.agent_id])?;
            if !member {
                return Ok(None);
            }
            let reply_to = match msg.reply_to {
                Some(rid) => tx
                    .prepare_cached("SELECT id FROM messages WHERE id = ?1 AND conversation_id = ?2")?
                    .query_row(params![rid, msg.conversation_id], |r| r.get::<_, i64>(0))
                    .optional()?,
                None => None,
            };
            tx.execute(
                "INSERT INTO messages (conversation_id, author_agent_id, author_kind, text, html, \
                 mentions, reply_to, created_at, meta) \
                 VALUES (?1, ?2, 'agent', ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    msg.conversation_id,
                    msg.agent_id,
                    msg.text,
                    msg.html,
                    serde_json::to_string(&msg.mentions).map_err(|_| StoreError::TaskFailed)?,
                    reply_to,
                    now,
                    msg.meta.to_string()
                ],
            )?;
            let id = tx.last_insert_rowid();
            touch_conversation(&tx, msg.conversation_id, now)?;
            let row = message_by_id(&tx, id)?;
            tx.commit()?;
            Ok(Some(row))
        })
        .await
    }

    /// The `limit` most recent messages up to and including `up_to`, oldest
    /// first, for prompt history: the same page query the chat API uses.
    pub async fn history_for_prompt(
        &self,
        conversation_id: i64,
        up_to: i64,
        limit: usize,
    ) -> Result<Vec<MessageRow>, StoreError> {
        self.read(move |conn| message_page(conn, conversation_id, up_to.saturating_add(1), limit))
            .await
    }
}

/// The agents aggregate's interface: agents, provider settings and token /
/// spend usage, as every backend provides them. The SQLCipher code is the
/// inherent methods above; PostgreSQL's is `pg/agents.rs`; the conformance
/// suite (`tests/store_conformance/agents.rs`) runs the same cases on both.
///
/// Agent messages (`agent_message_insert`) and prompt history
/// (`history_for_prompt`) are message rows: they belong to the chat
/// aggregate's interface, not this one.
///
/// Names compare without regard to ASCII case: an agent handle is unique
/// among agents and may not equal any username; a provider name is unique
/// and found in any case. Lists sort by that folded name.
pub trait AgentStore: Send + Sync {
    /// Creates an agent. `Err(HandleTaken)` when another agent has the
    /// handle, or a user has it as username, in any ASCII case; `Err(UnknownProvider)`
    /// when `provider` is given and not configured, checked in the same
    /// transaction as the insert (a provider deleted at the same moment is
    /// either seen as gone or deleted after the agent exists). Two creates
    /// of one handle racing: one wins, the other is `HandleTaken`. A
    /// refused create leaves nothing behind.
    fn agent_create(
        &self,
        fields: AgentFields,
        created_by: Option<i64>,
        provider: Option<String>,
    ) -> impl Fut<Result<AgentRow, AgentReject>>;
    /// Replaces every field of agent `id` (`NotFound` if there is none),
    /// with the same refusals as [`AgentStore::agent_create`]; an agent
    /// may keep its own handle or change only its case.
    fn agent_update(
        &self,
        id: i64,
        fields: AgentFields,
        provider: Option<String>,
    ) -> impl Fut<Result<AgentRow, AgentReject>>;
    fn agent_get(&self, id: i64) -> impl Fut<Option<AgentRow>>;
    /// Every agent, by handle (ASCII case folded).
    fn agent_list(&self) -> impl Fut<Vec<AgentRow>>;
    fn agent_count(&self) -> impl Fut<i64>;
    /// Deletes an agent with its memberships, memories, knowledge and
    /// usage; true if it existed. Its past messages stay, authorless.
    fn agent_delete(&self, id: i64) -> impl Fut<bool>;
    /// Creates or replaces a provider. A name that matches an existing one
    /// in another case updates that provider and keeps its stored name
    /// and `created_at`.
    fn provider_put(&self, row: ProviderRow) -> impl Fut<ProviderRow>;
    /// A provider by name, in any case.
    fn provider_get(&self, name: &str) -> impl Fut<Option<ProviderRow>>;
    /// Every provider, by name (ASCII case folded).
    fn provider_list(&self) -> impl Fut<Vec<ProviderRow>>;
    /// Deletes a provider by name in any case; true if it existed. Agents
    /// that name it stay (their turns then fail with "unknown provider").
    fn provider_delete(&self, name: &str) -> impl Fut<bool>;
    /// Adds one provider call's tokens and cost to the agent's usage in
    /// that conversation on that UTC day. Concurrent adds all count: the
    /// totals are exact sums.
    fn usage_add(
        &self,
        agent_id: i64,
        conversation_id: i64,
        day: String,
        input_tokens: i64,
        output_tokens: i64,
        spend_micros: i64,
    ) -> impl Fut<()>;
    /// The day's tokens in one conversation and the agent's spend across
    /// all conversations; zeros when nothing was recorded.
    fn usage_today(&self, agent_id: i64, conversation_id: i64, day: String)
    -> impl Fut<UsageToday>;
}

impl AgentStore for Store {
    fn agent_create(
        &self,
        fields: AgentFields,
        created_by: Option<i64>,
        provider: Option<String>,
    ) -> impl Fut<Result<AgentRow, AgentReject>> {
        Store::agent_create(self, fields, created_by, provider)
    }
    fn agent_update(
        &self,
        id: i64,
        fields: AgentFields,
        provider: Option<String>,
    ) -> impl Fut<Result<AgentRow, AgentReject>> {
        Store::agent_update(self, id, fields, provider)
    }
    fn agent_get(&self, id: i64) -> impl Fut<Option<AgentRow>> {
        Store::agent_get(self, id)
    }
    fn agent_list(&self) -> impl Fut<Vec<AgentRow>> {
        Store::agent_list(self)
    }
    fn agent_count(&self) -> impl Fut<i64> {
        Store::agent_count(self)
    }
    fn agent_delete(&self, id: i64) -> impl Fut<bool> {
        Store::agent_delete(self, id)
    }
    fn provider_put(&self, row: ProviderRow) -> impl Fut<ProviderRow> {
        Store::provider_put(self, row)
    }
    fn provider_get(&self, name: &str) -> impl Fut<Option<ProviderRow>> {
        Store::provider_get(self, name)
    }
    fn provider_list(&self) -> impl Fut<Vec<ProviderRow>> {
        Store::provider_list(self)
    }
    fn provider_delete(&self, name: &str) -> impl Fut<bool> {
        Store::provider_delete(self, name)
    }
    fn usage_add(
        &self,
        agent_id: i64,
        conversation_id: i64,
        day: String,
        input_tokens: i64,
        output_tokens: i64,
        spend_micros: i64,
    ) -> impl Fut<()> {
        Store::usage_add(
            self,
            agent_id,
            conversation_id,
            day,
            input_tokens,
            output_tokens,
            spend_micros,
        )
    }
    fn usage_today(
        &self,
        agent_id: i64,
        conversation_id: i64,
        day: String,
    ) -> impl Fut<UsageToday> {
        Store::usage_today(self, agent_id, conversation_id, day)
    }
}
