//! The agents aggregate on PostgreSQL (`store::agents::AgentStore`):
//! agents, provider settings, token and spend usage. Provider API keys
//! never come here (they live in the vault), and neither do agent messages
//! (the chat aggregate's).
//!
//! SQLite compares handles and provider names with `COLLATE NOCASE`; here
//! every comparison goes through `lower()`, matching the `lower(...)`
//! unique indexes, and lists sort by `lower(...) COLLATE "C"` (NOCASE's
//! order for the ASCII these names are made of). What SQLite got from its
//! single writer this file gets from the database itself:
//! * two creates (or renames) to one handle both pass the "is it free"
//!   check; the unique index `agents_handle_lower` refuses the second
//!   insert, and that violation is `HandleTaken`, not an error;
//! * the provider an agent names is read `FOR SHARE` in the insert's
//!   transaction, so a concurrent delete of it waits for the agent to
//!   commit (or the create sees it gone): never "checked, then deleted,
//!   then inserted";
//! * a provider put is an upsert on the `lower(name)` index, retried when
//!   a racing insert of the exact same name wins on the primary key;
//! * usage is one `INSERT ... ON CONFLICT DO UPDATE` adding to the row,
//!   which PostgreSQL makes atomic per row: concurrent adds never lose one.

use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::{PgStore, col, is_unique_violation, pg_error};
use crate::store::StoreError;
use crate::store::agents::{
    AgentFields, AgentReject, AgentRow, AgentStore, Budgets, ProviderRow, UsageToday,
};

const AGENT_COLS: &str = "id, uuid, handle, name, description, model, tools, memory_enabled, \
     knowledge_enabled, context_tokens, tokens_per_turn, tokens_per_conversation_day, \
     daily_spend_cap_micros, disabled, created_by, created_at, updated_at";

const PROVIDER_COLS: &str = "name, kind, base_url, models, embedding_model, \
     input_micros_per_mtok, output_micros_per_mtok, created_at, updated_at";

/// How often a provider put runs into a racing insert of the same name
/// before it gives up (see `provider_put`).
const PUT_ATTEMPTS: u32 = 3;

/// The unique index on `lower(handle)` (migration 0003).
const HANDLE_INDEX: &str = "agents_handle_lower";

fn agent_from_row(r: &Row) -> Result<AgentRow, StoreError> {
    let tools: String = col(r, 6)?;
    Ok(AgentRow {
        id: col(r, 0)?,
        uuid: col(r, 1)?,
        handle: col(r, 2)?,
        name: col(r, 3)?,
        description: col(r, 4)?,
        model: col(r, 5)?,
        tools: serde_json::from_str(&tools).unwrap_or_default(),
        memory: col(r, 7)?,
        knowledge: col(r, 8)?,
        context_tokens: col(r, 9)?,
        budgets: Budgets {
            tokens_per_turn: col(r, 10)?,
            tokens_per_conversation_day: col(r, 11)?,
            daily_spend_micros: col(r, 12)?,
        },
        disabled: col(r, 13)?,
        created_by: col(r, 14)?,
        created_at: col(r, 15)?,
        updated_at: col(r, 16)?,
    })
}

fn provider_from_row(r: &Row) -> Result<ProviderRow, StoreError> {
    let models: String = col(r, 3)?;
    Ok(ProviderRow {
        name: col(r, 0)?,
        kind: col(r, 1)?,
        base_url: col(r, 2)?,
        models: serde_json::from_str(&models).unwrap_or_default(),
        embedding_model: col(r, 4)?,
        input_micros_per_mtok: col(r, 5)?,
        output_micros_per_mtok: col(r, 6)?,
        created_at: col(r, 7)?,
        updated_at: col(r, 8)?,
    })
}

fn json(list: &[String]) -> Result<String, StoreError> {
    serde_json::to_string(list).map_err(|_| StoreError::TaskFailed)
}

/// Whether no other agent has this handle and no user this username (in
/// any case). The agents' unique index backs the first half under races.
async fn handle_free(
    c: &impl GenericClient,
    handle: &str,
    except: Option<i64>,
) -> Result<bool, StoreError> {
    let taken: bool = c
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM agents
                            WHERE lower(handle) = lower($1) AND id IS DISTINCT FROM $2::BIGINT)
                 OR EXISTS (SELECT 1 FROM users WHERE lower(username) = lower($1))",
            &[&handle, &except],
        )
        .await?
        .get(0);
    Ok(!taken)
}

/// Whether the provider is configured; the row stays share-locked until
/// the transaction ends, so it cannot be deleted under the caller.
async fn provider_held(c: &impl GenericClient, name: &str) -> Result<bool, StoreError> {
    Ok(c.query_opt(
        "SELECT 1 FROM providers WHERE lower(name) = lower($1) FOR SHARE",
        &[&name],
    )
    .await?
    .is_some())
}

/// An insert or update of an agent: a race lost on the handle index is a
/// refusal, anything else an error.
fn agent_write_result(
    res: Result<Row, tokio_postgres::Error>,
) -> Result<Result<AgentRow, AgentReject>, StoreError> {
    match res {
        Ok(row) => Ok(Ok(agent_from_row(&row)?)),
        Err(e)
            if is_unique_violation(&e)
                && e.as_db_error().and_then(|d| d.constraint()) == Some(HANDLE_INDEX) =>
        {
            Ok(Err(AgentReject::HandleTaken))
        }
        Err(e) => Err(pg_error(e)),
    }
}

impl AgentStore for PgStore {
    async fn agent_create(
        &self,
        f: AgentFields,
        created_by: Option<i64>,
        provider: Option<String>,
    ) -> Result<Result<AgentRow, AgentReject>, StoreError> {
        let now = crate::auth::now_secs();
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        if !handle_free(&tx, &f.handle, None).await? {
            return Ok(Err(AgentReject::HandleTaken));
        }
        if let Some(p) = &provider
            && !provider_held(&tx, p).await?
        {
            return Ok(Err(AgentReject::UnknownProvider));
        }
        let res = tx
            .query_one(
                &format!(
                    "INSERT INTO agents (uuid, handle, name, description, model, tools,
                         memory_enabled, knowledge_enabled, context_tokens, tokens_per_turn,
                         tokens_per_conversation_day, daily_spend_cap_micros, disabled,
                         created_by, created_at, updated_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14,
                         $15, $15)
                     RETURNING {AGENT_COLS}"
                ),
                &[
                    &crate::auth::tokens::uuid_v4(),
                    &f.handle,
                    &f.name,
                    &f.description,
                    &f.model,
                    &json(&f.tools)?,
                    &f.memory,
                    &f.knowledge,
                    &f.context_tokens,
                    &f.budgets.tokens_per_turn,
                    &f.budgets.tokens_per_conversation_day,
                    &f.budgets.daily_spend_micros,
                    &f.disabled,
                    &created_by,
                    &now,
                ],
            )
            .await;
        let out = agent_write_result(res)?;
        if out.is_ok() {
            tx.commit().await?;
        }
        Ok(out)
    }

    async fn agent_update(
        &self,
        id: i64,
        f: AgentFields,
        provider: Option<String>,
    ) -> Result<Result<AgentRow, AgentReject>, StoreError> {
        let now = crate::auth::now_secs();
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        let exists = tx
            .query_opt("SELECT 1 FROM agents WHERE id = $1 FOR UPDATE", &[&id])
            .await?;
        if exists.is_none() {
            return Err(StoreError::NotFound);
        }
        if !handle_free(&tx, &f.handle, Some(id)).await? {
            return Ok(Err(AgentReject::HandleTaken));
        }
        if let Some(p) = &provider
            && !provider_held(&tx, p).await?
        {
            return Ok(Err(AgentReject::UnknownProvider));
        }
        let res = tx
            .query_one(
                &format!(
                    "UPDATE agents SET handle = $2, name = $3, description = $4, model = $5,
                         tools = $6, memory_enabled = $7, knowledge_enabled = $8,
                         context_tokens = $9, tokens_per_turn = $10,
                         tokens_per_conversation_day = $11, daily_spend_cap_micros = $12,
                         disabled = $13, updated_at = $14
                     WHERE id = $1 RETURNING {AGENT_COLS}"
                ),
                &[
                    &id,
                    &f.handle,
                    &f.name,
                    &f.description,
                    &f.model,
                    &json(&f.tools)?,
                    &f.memory,
                    &f.knowledge,
                    &f.context_tokens,
                    &f.budgets.tokens_per_turn,
                    &f.budgets.tokens_per_conversation_day,
                    &f.budgets.daily_spend_micros,
                    &f.disabled,
                    &now,
                ],
            )
            .await;
        let out = agent_write_result(res)?;
        if out.is_ok() {
            tx.commit().await?;
        }
        Ok(out)
    }

    async fn agent_get(&self, id: i64) -> Result<Option<AgentRow>, StoreError> {
        let row = self
            .client()
            .await?
            .query_opt(
                &format!("SELECT {AGENT_COLS} FROM agents WHERE id = $1"),
                &[&id],
            )
            .await?;
        row.as_ref().map(agent_from_row).transpose()
    }

    async fn agent_list(&self) -> Result<Vec<AgentRow>, StoreError> {
        self.client()
            .await?
            .query(
                &format!("SELECT {AGENT_COLS} FROM agents ORDER BY lower(handle) COLLATE \"C\""),
                &[],
            )
            .await?
            .iter()
            .map(agent_from_row)
            .collect()
    }

    async fn agent_count(&self) -> Result<i64, StoreError> {
        let row = self
            .client()
            .await?
            .query_one("SELECT count(*) FROM agents", &[])
            .await?;
        col(&row, 0)
    }

    async fn agent_delete(&self, id: i64) -> Result<bool, StoreError> {
        let n = self
            .client()
            .await?
            .execute("DELETE FROM agents WHERE id = $1", &[&id])
            .await?;
        Ok(n > 0)
    }

    async fn provider_put(&self, row: ProviderRow) -> Result<ProviderRow, StoreError> {
        let now = crate::auth::now_secs();
        let models = json(&row.models)?;
        let c = self.client().await?;
        // The arbiter is the `lower(name)` index, as SQLite's NOCASE
        // primary key: "OpenAI" updates "openai" and keeps its name. The
        // exact-name primary key is a second unique index the upsert does
        // not arbitrate: a put racing an insert of the very same name can
        // hit it first. That violation is raised only once the other
        // insert has committed, so the next attempt finds the row and
        // updates it.
        let mut attempts = 0;
        let stored = loop {
            attempts += 1;
            let res = c
                .query_one(
                    &format!(
                        "INSERT INTO providers AS p (name, kind, base_url, models,
                             embedding_model, input_micros_per_mtok, output_micros_per_mtok,
                             created_at, updated_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
                         ON CONFLICT ((lower(name))) DO UPDATE SET kind = excluded.kind,
                             base_url = excluded.base_url, models = excluded.models,
                             embedding_model = excluded.embedding_model,
                             input_micros_per_mtok = excluded.input_micros_per_mtok,
                             output_micros_per_mtok = excluded.output_micros_per_mtok,
                             updated_at = excluded.updated_at
                         RETURNING {PROVIDER_COLS}"
                    ),
                    &[
                        &row.name,
                        &row.kind,
                        &row.base_url,
                        &models,
                        &row.embedding_model,
                        &row.input_micros_per_mtok,
                        &row.output_micros_per_mtok,
                        &now,
                    ],
                )
                .await;
            match res {
                Ok(stored) => break stored,
                Err(e) if is_unique_violation(&e) && attempts < PUT_ATTEMPTS => continue,
                Err(e) => return Err(pg_error(e)),
            }
        };
        provider_from_row(&stored)
    }

    async fn provider_get(&self, name: &str) -> Result<Option<ProviderRow>, StoreError> {
        let row = self
            .client()
            .await?
            .query_opt(
                &format!("SELECT {PROVIDER_COLS} FROM providers WHERE lower(name) = lower($1)"),
                &[&name],
            )
            .await?;
        row.as_ref().map(provider_from_row).transpose()
    }

    async fn provider_list(&self) -> Result<Vec<ProviderRow>, StoreError> {
        self.client()
            .await?
            .query(
                &format!(
                    "SELECT {PROVIDER_COLS} FROM providers ORDER BY lower(name) COLLATE \"C\""
                ),
                &[],
            )
            .await?
            .iter()
            .map(provider_from_row)
            .collect()
    }

    async fn provider_delete(&self, name: &str) -> Result<bool, StoreError> {
        let n = self
            .client()
            .await?
            .execute(
                "DELETE FROM providers WHERE lower(name) = lower($1)",
                &[&name],
            )
            .await?;
        Ok(n > 0)
    }

    async fn usage_add(
        &self,
        agent_id: i64,
        conversation_id: i64,
        day: String,
        input_tokens: i64,
        output_tokens: i64,
        spend_micros: i64,
    ) -> Result<(), StoreError> {
        self.client()
            .await?
            .execute(
                "INSERT INTO agent_usage AS u (agent_id, conversation_id, day, input_tokens,
                     output_tokens, spend_micros) VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (agent_id, conversation_id, day) DO UPDATE SET
                     input_tokens = u.input_tokens + excluded.input_tokens,
                     output_tokens = u.output_tokens + excluded.output_tokens,
                     spend_micros = u.spend_micros + excluded.spend_micros",
                &[
                    &agent_id,
                    &conversation_id,
                    &day,
                    &input_tokens,
                    &output_tokens,
                    &spend_micros,
                ],
            )
            .await?;
        Ok(())
    }

    async fn usage_today(
        &self,
        agent_id: i64,
        conversation_id: i64,
        day: String,
    ) -> Result<UsageToday, StoreError> {
        // One statement, so both sums come from one snapshot. `sum(bigint)`
        // is numeric in PostgreSQL; the totals fit a BIGINT.
        let row = self
            .client()
            .await?
            .query_one(
                "SELECT
                     COALESCE(SUM(input_tokens + output_tokens)
                              FILTER (WHERE conversation_id = $2), 0)::BIGINT,
                     COALESCE(SUM(spend_micros), 0)::BIGINT
                 FROM agent_usage WHERE agent_id = $1 AND day = $3",
                &[&agent_id, &conversation_id, &day],
            )
            .await?;
        Ok(UsageToday {
            conversation_tokens: col(&row, 0)?,
            agent_spend_micros: col(&row, 1)?,
        })
    }
}
