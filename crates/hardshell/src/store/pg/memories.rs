//! The memory aggregate on PostgreSQL: the same contract as the SQLCipher
//! code (`store::memories::MemoryStore`), checked by the conformance suite.
//!
//! SQLite serialises every write through one connection; PostgreSQL runs
//! transactions side by side. So an insert first takes a
//! transaction-scoped advisory lock on "this agent's memories": without
//! it, two saves at `cap - 1` would each count `cap - 1` and both commit.
//! The dedup unique index backs the duplicate check the same way. Scope
//! filters and search words are always bind parameters, never SQL text.

use deadpool_postgres::GenericClient;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::search::tsquery_any;
use super::{PgStore, is_unique_violation, pg_error};
use crate::agents::retrieval::AnyWords;
use crate::store::StoreError;
use crate::store::chat::Ref;
use crate::store::knowledge::as_i64;
use crate::store::memories::{
    Memory, MemoryInsert, MemoryStore, NewMemory, Scope, ScopeFilter, blob_f32, f32_blob,
};

/// Namespace of the per-agent insert lock (`hashtextextended` of this and
/// the agent id; a collision only serialises two agents' inserts).
const LOCK_NAMESPACE: &str = "hardshell.agent_memories";

const COLS: &str = "m.id, m.scope, m.user_id, u.username, m.conversation_id, m.text, \
     m.source, m.created_at";
const FROM: &str = "FROM agent_memories m LEFT JOIN users u ON u.id = m.user_id";

/// The scope condition on `m`: user ids in `$2` (BIGINT[]), conversation
/// ids in `$3`, every scope when `$4` is true.
const SCOPE_WHERE: &str = "($4 \
     OR (m.scope = 'user' AND m.user_id = ANY($2)) \
     OR (m.scope = 'conversation' AND m.conversation_id = ANY($3)))";

fn from_row(r: &Row) -> Result<Memory, StoreError> {
    let user_id: Option<i64> = r.try_get(2)?;
    let name: Option<String> = r.try_get(3)?;
    Ok(Memory {
        id: r.try_get(0)?,
        scope: r.try_get(1)?,
        user: user_id.map(|id| Ref::User {
            id,
            name: name.unwrap_or_else(|| "deleted user".into()),
        }),
        conversation_id: r.try_get(4)?,
        text: r.try_get(5)?,
        source: r.try_get(6)?,
        created_at: r.try_get(7)?,
    })
}

/// The bound parameters for `SCOPE_WHERE`.
fn scope_params(filter: ScopeFilter<'_>) -> (Vec<i64>, Vec<i64>, bool) {
    let (mut users, mut convs) = (Vec::new(), Vec::new());
    let all = match filter {
        ScopeFilter::All => true,
        ScopeFilter::Only(scopes) => {
            for s in scopes {
                match *s {
                    Scope::User(u) => users.push(u),
                    Scope::Conversation(c) => convs.push(c),
                }
            }
            false
        }
    };
    (users, convs, all)
}

async fn by_id(
    c: &impl GenericClient,
    agent_id: i64,
    id: i64,
) -> Result<Option<Memory>, StoreError> {
    c.query_opt(
        &format!("SELECT {COLS} {FROM} WHERE m.agent_id = $1 AND m.id = $2"),
        &[&agent_id, &id],
    )
    .await?
    .as_ref()
    .map(from_row)
    .transpose()
}

async fn find_dup(
    c: &impl GenericClient,
    agent_id: i64,
    scope: Scope,
    norm: &str,
) -> Result<Option<Memory>, StoreError> {
    let (kind, user, conv) = scope.parts();
    c.query_opt(
        &format!(
            "SELECT {COLS} {FROM} WHERE m.agent_id = $1 AND m.scope = $2 \
             AND COALESCE(m.user_id, 0) = COALESCE($3::bigint, 0) \
             AND COALESCE(m.conversation_id, 0) = COALESCE($4::bigint, 0) AND m.norm = $5"
        ),
        &[&agent_id, &kind, &user, &conv, &norm],
    )
    .await?
    .as_ref()
    .map(from_row)
    .transpose()
}

/// The insert proper, inside `insert`'s transaction and lock.
async fn insert_locked(
    tx: &deadpool_postgres::Transaction<'_>,
    new: &NewMemory,
    cap: usize,
) -> Result<Result<MemoryInsert, tokio_postgres::Error>, StoreError> {
    if let Some(existing) = find_dup(tx, new.agent_id, new.scope, &new.norm).await? {
        return Ok(Ok(MemoryInsert::Duplicate(existing)));
    }
    let count: i64 = tx
        .query_one(
            "SELECT count(*) FROM agent_memories WHERE agent_id = $1",
            &[&new.agent_id],
        )
        .await?
        .get(0);
    if count >= as_i64(cap) {
        return Ok(Ok(MemoryInsert::Full));
    }
    let (kind, user, conv) = new.scope.parts();
    let (sql, id) = match new.scope {
        Scope::User(u) => ("SELECT 1 FROM users WHERE id = $1", u),
        Scope::Conversation(c) => ("SELECT 1 FROM conversations WHERE id = $1", c),
    };
    if tx.query_opt(sql, &[&id]).await?.is_none() {
        return Ok(Ok(MemoryInsert::NoSuchScope));
    }
    let blob = new.embedding.as_deref().map(f32_blob);
    let res = tx
        .query_one(
            "INSERT INTO agent_memories (agent_id, scope, user_id, conversation_id, text, \
             norm, embedding, source, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
            &[
                &new.agent_id,
                &kind,
                &user,
                &conv,
                &new.text,
                &new.norm,
                &blob,
                &new.source.as_str(),
                &new.created_by,
                &new.created_at,
            ],
        )
        .await;
    let id: i64 = match res {
        Ok(row) => row.get(0),
        Err(e) => return Ok(Err(e)),
    };
    let row = by_id(tx, new.agent_id, id)
        .await?
        .ok_or(StoreError::NotFound)?;
    Ok(Ok(MemoryInsert::Inserted(row)))
}

impl MemoryStore for PgStore {
    async fn memory_find_duplicate(
        &self,
        agent_id: i64,
        scope: Scope,
        norm: String,
    ) -> Result<Option<Memory>, StoreError> {
        find_dup(&self.client().await?, agent_id, scope, &norm).await
    }

    async fn memory_insert(&self, new: NewMemory, cap: usize) -> Result<MemoryInsert, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        super::lock_named(&tx, &format!("{LOCK_NAMESPACE}:{}", new.agent_id)).await?;
        match insert_locked(&tx, &new, cap).await? {
            Ok(MemoryInsert::Inserted(row)) => {
                tx.commit().await?;
                Ok(MemoryInsert::Inserted(row))
            }
            Ok(other) => Ok(other),
            // Only reachable if a writer bypassed the lock: the unique
            // index still refuses the second copy.
            Err(e) if is_unique_violation(&e) => {
                drop(tx);
                find_dup(&client, new.agent_id, new.scope, &new.norm)
                    .await?
                    .map(MemoryInsert::Duplicate)
                    .ok_or_else(|| pg_error(e))
            }
            Err(e) => Err(pg_error(e)),
        }
    }

    async fn memory_list(
        &self,
        agent_id: i64,
        filter: ScopeFilter<'_>,
        limit: usize,
    ) -> Result<Vec<Memory>, StoreError> {
        let (users, convs, all) = scope_params(filter);
        let limit = as_i64(limit);
        self.client()
            .await?
            .query(
                &format!(
                    "SELECT {COLS} {FROM} WHERE m.agent_id = $1 AND {SCOPE_WHERE} \
                     ORDER BY m.id DESC LIMIT $5"
                ),
                &[&agent_id, &users, &convs, &all, &limit],
            )
            .await?
            .iter()
            .map(from_row)
            .collect()
    }

    async fn memory_search_fts(
        &self,
        agent_id: i64,
        filter: ScopeFilter<'_>,
        words: AnyWords,
        limit: usize,
    ) -> Result<Vec<Memory>, StoreError> {
        let (users, convs, all) = scope_params(filter);
        let limit = as_i64(limit);
        let (query, terms) = tsquery_any(&words, 6);
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![&agent_id, &users, &convs, &all, &limit];
        params.extend(terms.iter().map(|t| t as &(dyn ToSql + Sync)));
        self.client()
            .await?
            .query(
                &format!(
                    "SELECT {COLS} {FROM}, (SELECT {query} AS q) AS query \
                     WHERE m.search @@ query.q AND m.agent_id = $1 AND {SCOPE_WHERE} \
                     ORDER BY ts_rank(m.search, query.q, 1) DESC, m.id LIMIT $5"
                ),
                &params,
            )
            .await?
            .iter()
            .map(from_row)
            .collect()
    }

    async fn memory_vectors(
        &self,
        agent_id: i64,
        filter: ScopeFilter<'_>,
    ) -> Result<Vec<(Memory, Vec<f32>)>, StoreError> {
        let (users, convs, all) = scope_params(filter);
        let rows = self
            .client()
            .await?
            .query(
                &format!(
                    "SELECT {COLS}, m.embedding {FROM} WHERE m.agent_id = $1 AND {SCOPE_WHERE} \
                     AND m.embedding IS NOT NULL"
                ),
                &[&agent_id, &users, &convs, &all],
            )
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let blob: Vec<u8> = r.try_get(8)?;
            if let Some(v) = blob_f32(&blob) {
                out.push((from_row(r)?, v));
            }
        }
        Ok(out)
    }

    async fn memory_delete(&self, agent_id: i64, id: i64) -> Result<Option<Memory>, StoreError> {
        // One statement: of two concurrent deletes, only one sees the row.
        self.client()
            .await?
            .query_opt(
                &format!(
                    "WITH m AS (DELETE FROM agent_memories WHERE agent_id = $1 AND id = $2 \
                     RETURNING *) SELECT {COLS} FROM m LEFT JOIN users u ON u.id = m.user_id"
                ),
                &[&agent_id, &id],
            )
            .await?
            .as_ref()
            .map(from_row)
            .transpose()
    }
}
