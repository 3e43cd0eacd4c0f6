//! SQL for agent memories (`agent_memories` and its FTS5 index).
//!
//! Owns the dedup check and the per-agent cap, both decided inside the
//! insert transaction so two concurrent saves cannot pass them together.
//! Scope filters are always bound parameters; search words arrive as an
//! `agents::retrieval::AnyWords`, rendered here as quoted FTS5 literals,
//! never raw. `MemoryStore` is the same contract for every backend
//! (PostgreSQL: `pg::memories`).

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;
use utoipa::ToSchema;

use super::chat::Ref;
use super::{Store, StoreError};
use crate::agents::retrieval::AnyWords;

/// Whose memory it is: one user's, or one conversation's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    User(i64),
    Conversation(i64),
}

impl Scope {
    /// The `scope` column, `user_id` and `conversation_id`.
    pub(crate) fn parts(self) -> (&'static str, Option<i64>, Option<i64>) {
        match self {
            Scope::User(u) => ("user", Some(u), None),
            Scope::Conversation(c) => ("conversation", None, Some(c)),
        }
    }
}

/// Who saved it: the agent through its tool, or a person through the API.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Tool,
    Owner,
}

impl Source {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Source::Tool => "tool",
            Source::Owner => "owner",
        }
    }
}

/// A memory as the API shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct Memory {
    pub id: i64,
    /// `user` or `conversation`.
    pub scope: String,
    /// The user a user-scoped memory is about.
    pub user: Option<Ref>,
    pub conversation_id: Option<i64>,
    pub text: String,
    /// `tool` or `owner`.
    pub source: String,
    pub created_at: i64,
}

/// What `memory_insert` writes.
pub struct NewMemory {
    pub agent_id: i64,
    pub scope: Scope,
    pub text: String,
    /// The dedup key (normalised text).
    pub norm: String,
    pub embedding: Option<Vec<f32>>,
    pub source: Source,
    pub created_by: Option<i64>,
    pub created_at: i64,
}

/// How an insert ended.
#[derive(Debug)]
pub enum MemoryInsert {
    Inserted(Memory),
    /// The same normalised text already exists in that scope.
    Duplicate(Memory),
    /// The agent already holds `cap` memories.
    Full,
    /// The scope's user or conversation does not exist.
    NoSuchScope,
}

/// Which memories a read may see. `Only(&[])` sees nothing.
#[derive(Clone, Copy, Debug)]
pub enum ScopeFilter<'a> {
    All,
    Only(&'a [Scope]),
}

/// Embeddings are stored as little-endian f32 bytes.
pub(crate) fn f32_blob(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// The vector in an embedding BLOB; `None` for a damaged length.
pub(crate) fn blob_f32(b: &[u8]) -> Option<Vec<f32>> {
    if !b.len().is_multiple_of(4) {
        return None;
    }
    Some(
        b.chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
    )
}

const COLS: &str = "m.id, m.scope, m.user_id, u.username, m.conversation_id, m.text, \
     m.source, m.created_at";
const FROM: &str = "FROM agent_memories m LEFT JOIN users u ON u.id = m.user_id";

/// The scope condition on `m`, reading user ids from `?2` and conversation
/// ids from `?3` (JSON arrays) and whether all scopes pass from `?4`.
const SCOPE_WHERE: &str = "(?4 = 1 \
     OR (m.scope = 'user' AND m.user_id IN (SELECT value FROM json_each(?2))) \
     OR (m.scope = 'conversation' AND m.conversation_id IN (SELECT value FROM json_each(?3))))";

fn from_row(r: &Row<'_>) -> rusqlite::Result<Memory> {
    let user_id: Option<i64> = r.get(2)?;
    let user = user_id.map(|id| -> rusqlite::Result<Ref> {
        Ok(Ref::User {
            id,
            name: r
                .get::<_, Option<String>>(3)?
                .unwrap_or_else(|| "deleted user".into()),
        })
    });
    Ok(Memory {
        id: r.get(0)?,
        scope: r.get(1)?,
        user: user.transpose()?,
        conversation_id: r.get(4)?,
        text: r.get(5)?,
        source: r.get(6)?,
        created_at: r.get(7)?,
    })
}

/// The bound parameters for `SCOPE_WHERE`.
fn scope_params(filter: ScopeFilter<'_>) -> (String, String, i64) {
    let (mut users, mut convs) = (Vec::new(), Vec::new());
    let all = match filter {
        ScopeFilter::All => 1,
        ScopeFilter::Only(scopes) => {
            for s in scopes {
                match *s {
                    Scope::User(u) => users.push(u),
                    Scope::Conversation(c) => convs.push(c),
                }
            }
            0
        }
    };
    let json = |v: Vec<i64>| serde_json::Value::from(v).to_string();
    (json(users), json(convs), all)
}

fn by_id(conn: &Connection, agent_id: i64, id: i64) -> Result<Option<Memory>, StoreError> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {COLS} {FROM} WHERE m.agent_id = ?1 AND m.id = ?2"
        ))?
        .query_row(params![agent_id, id], from_row)
        .optional()?)
}

fn find_dup(
    conn: &Connection,
    agent_id: i64,
    scope: Scope,
    norm: &str,
) -> Result<Option<Memory>, StoreError> {
    let (kind, user, conv) = scope.parts();
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {COLS} {FROM} WHERE m.agent_id = ?1 AND m.scope = ?2 \
             AND IFNULL(m.user_id, 0) = IFNULL(?3, 0) \
             AND IFNULL(m.conversation_id, 0) = IFNULL(?4, 0) AND m.norm = ?5"
        ))?
        .query_row(params![agent_id, kind, user, conv, norm], from_row)
        .optional()?)
}

/// The memory aggregate as every backend provides it: SQLCipher (`Store`)
/// and PostgreSQL (`pg::PgStore`). The conformance suite
/// (`tests/store_conformance/memory.rs`) runs the same cases on both;
/// domain code keeps calling `Store`'s methods of the same names.
///
/// Every read and write names the agent: another agent's memory id is the
/// same as a missing one. A read sees only the scopes its `ScopeFilter`
/// lets through, so one user's or conversation's memories never reach
/// another.
pub trait MemoryStore: Send + Sync {
    /// The agent's memory in `scope` whose normalised text is `norm`.
    fn memory_find_duplicate(
        &self,
        agent_id: i64,
        scope: Scope,
        norm: String,
    ) -> impl Future<Output = Result<Option<Memory>, StoreError>> + Send;
    /// Inserts unless the same `norm` exists in that scope (`Duplicate`,
    /// with the stored row), the agent already holds `cap` memories
    /// (`Full`), or the scope's user or conversation does not exist
    /// (`NoSuchScope`). Decided atomically: concurrent inserts can neither
    /// pass the cap together nor store one text twice. An unknown agent is
    /// an error.
    fn memory_insert(
        &self,
        new: NewMemory,
        cap: usize,
    ) -> impl Future<Output = Result<MemoryInsert, StoreError>> + Send;
    /// Up to `limit` of the agent's memories visible through `filter`,
    /// newest (highest id) first.
    fn memory_list(
        &self,
        agent_id: i64,
        filter: ScopeFilter<'_>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Memory>, StoreError>> + Send;
    /// Up to `limit` visible memories matching any of `words` (each word a
    /// phrase of its tokens, case and Latin diacritics folded), best first:
    /// more of the words, and rarer ones, rank higher.
    fn memory_search_fts(
        &self,
        agent_id: i64,
        filter: ScopeFilter<'_>,
        words: AnyWords,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Memory>, StoreError>> + Send;
    /// Every visible memory with an embedding, with its vector (stored as
    /// little-endian f32 bytes; a damaged one is skipped). Any order.
    fn memory_vectors(
        &self,
        agent_id: i64,
        filter: ScopeFilter<'_>,
    ) -> impl Future<Output = Result<Vec<(Memory, Vec<f32>)>, StoreError>> + Send;
    /// Deletes one of the agent's memories (and its search entry); the
    /// deleted row, or `None` when the agent has no memory with that id.
    fn memory_delete(
        &self,
        agent_id: i64,
        id: i64,
    ) -> impl Future<Output = Result<Option<Memory>, StoreError>> + Send;
}

impl MemoryStore for Store {
    fn memory_find_duplicate(
        &self,
        agent_id: i64,
        scope: Scope,
        norm: String,
    ) -> impl Future<Output = Result<Option<Memory>, StoreError>> + Send {
        Store::memory_find_duplicate(self, agent_id, scope, norm)
    }
    fn memory_insert(
        &self,
        new: NewMemory,
        cap: usize,
    ) -> impl Future<Output = Result<MemoryInsert, StoreError>> + Send {
        Store::memory_insert(self, new, cap)
    }
    fn memory_list(
        &self,
        agent_id: i64,
        filter: ScopeFilter<'_>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Memory>, StoreError>> + Send {
        Store::memory_list(self, agent_id, filter, limit)
    }
    fn memory_search_fts(
        &self,
        agent_id: i64,
        filter: ScopeFilter<'_>,
        words: AnyWords,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Memory>, StoreError>> + Send {
        Store::memory_search_fts(self, agent_id, filter, words, limit)
    }
    fn memory_vectors(
        &self,
        agent_id: i64,
        filter: ScopeFilter<'_>,
    ) -> impl Future<Output = Result<Vec<(Memory, Vec<f32>)>, StoreError>> + Send {
        Store::memory_vectors(self, agent_id, filter)
    }
    fn memory_delete(
        &self,
        agent_id: i64,
        id: i64,
    ) -> impl Future<Output = Result<Option<Memory>, StoreError>> + Send {
        Store::memory_delete(self, agent_id, id)
    }
}

impl Store {
    /// The existing memory with the same normalised text in that scope.
    pub async fn memory_find_duplicate(
        &self,
        agent_id: i64,
        scope: Scope,
        norm: String,
    ) -> Result<Option<Memory>, StoreError> {
        self.read(move |conn| find_dup(conn, agent_id, scope, &norm))
            .await
    }

    /// Inserts a memory unless it is a duplicate, the agent is at `cap`, or
    /// the scope's target is missing; all decided in one transaction.
    pub async fn memory_insert(
        &self,
        new: NewMemory,
        cap: usize,
    ) -> Result<MemoryInsert, StoreError> {
        self.write(move |conn| {
            let tx = conn.transaction()?;
            if let Some(existing) = find_dup(&tx, new.agent_id, new.scope, &new.norm)? {
                return Ok(MemoryInsert::Duplicate(existing));
            }
            let count: i64 = tx.query_row(
                "SELECT count(*) FROM agent_memories WHERE agent_id = ?1",
                params![new.agent_id],
                |r| r.get(0),
            )?;
            if usize::try_from(count).unwrap_or(usize::MAX) >= cap {
                return Ok(MemoryInsert::Full);
            }
            let (kind, user, conv) = new.scope.parts();
            let target_exists = match new.scope {
                Scope::User(u) => tx
                    .prepare_cached("SELECT 1 FROM users WHERE id = ?1")?
                    .exists(params![u])?,
                Scope::Conversation(c) => tx
                    .prepare_cached("SELECT 1 FROM conversations WHERE id = ?1")?
                    .exists(params![c])?,
            };
            if !target_exists {
                return Ok(MemoryInsert::NoSuchScope);
            }
            tx.execute(
                "INSERT INTO agent_memories (agent_id, scope, user_id, conversation_id, text, \
                 norm, embedding, source, created_by, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    new.agent_id,
                    kind,
                    user,
                    conv,
                    new.text,
                    new.norm,
                    new.embedding.as_deref().map(f32_blob),
                    new.source.as_str(),
                    new.created_by,
                    new.created_at
                ],
            )?;
            let id = tx.last_insert_rowid();
            let row = by_id(&tx, new.agent_id, id)?.ok_or(StoreError::NotFound)?;
            tx.commit()?;
            Ok(MemoryInsert::Inserted(row))
        })
        .await
    }

    /// The agent's memories visible through `filter`, newest first.
    pub async fn memory_list(
        &self,
        agent_id: i64,
        filter: ScopeFilter<'_>,
        limit: usize,
    ) -> Result<Vec<Memory>, StoreError> {
        let (users, convs, all) = scope_params(filter);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {COLS} {FROM} WHERE m.agent_id = ?1 AND {SCOPE_WHERE} \
                 ORDER BY m.id DESC LIMIT ?5"
            ))?;
            let rows = stmt
                .query_map(params![agent_id, users, convs, all, limit], from_row)?
                .collect::<Result<_, _>>()?;
            Ok(rows)
        })
        .await
    }

    /// BM25-ranked matches of any of `words`, best first.
    pub async fn memory_search_fts(
        &self,
        agent_id: i64,
        filter: ScopeFilter<'_>,
        words: AnyWords,
        limit: usize,
    ) -> Result<Vec<Memory>, StoreError> {
        let fts = words.fts5();
        let (users, convs, all) = scope_params(filter);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {COLS} FROM agent_memories_fts f \
                 JOIN agent_memories m ON m.id = f.rowid \
                 LEFT JOIN users u ON u.id = m.user_id \
                 WHERE agent_memories_fts MATCH ?6 AND m.agent_id = ?1 AND {SCOPE_WHERE} \
                 ORDER BY bm25(agent_memories_fts) LIMIT ?5"
            ))?;
            let rows = stmt
                .query_map(params![agent_id, users, convs, all, limit, fts], from_row)?
                .collect::<Result<_, _>>()?;
            Ok(rows)
        })
        .await
    }

    /// Every embedded memory visible through `filter`, with its vector.
    /// Bounded by the per-agent cap.
    pub async fn memory_vectors(
        &self,
        agent_id: i64,
        filter: ScopeFilter<'_>,
    ) -> Result<Vec<(Memory, Vec<f32>)>, StoreError> {
        let (users, convs, all) = scope_params(filter);
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {COLS}, m.embedding {FROM} WHERE m.agent_id = ?1 AND {SCOPE_WHERE} \
                 AND m.embedding IS NOT NULL"
            ))?;
            let mut rows = stmt.query(params![agent_id, users, convs, all])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                let blob: Vec<u8> = r.get(8)?;
                if let Some(v) = blob_f32(&blob) {
                    out.push((from_row(r)?, v));
                }
            }
            Ok(out)
        })
        .await
    }

    /// Deletes one memory of the agent; the deleted row, or `None`.
    pub async fn memory_delete(
        &self,
        agent_id: i64,
        id: i64,
    ) -> Result<Option<Memory>, StoreError> {
        self.write(move |conn| {
            let tx = conn.transaction()?;
            let Some(row) = by_id(&tx, agent_id, id)? else {
                return Ok(None);
            };
            tx.execute(
                "DELETE FROM agent_memories WHERE agent_id = ?1 AND id = ?2",
                params![agent_id, id],
            )?;
            tx.commit()?;
            Ok(Some(row))
        })
        .await
    }
}

/// Test fixture: a store with users 1 (ann) and 2 (bob), agents 1 and 2,
/// and conversation 1.
#[cfg(test)]
pub(crate) async fn seeded_store() -> (tempfile::TempDir, Store) {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let store = Store::open(&tmp.path().join("t.db"), super::DbKey::generate())
        .unwrap_or_else(|e| panic!("{e}"));
    store
        .write(|conn| {
            conn.execute_batch(
                "INSERT INTO users (id, uuid, username, role, created_at) VALUES \
                 (1, 'u1', 'ann', 'owner', '0'), (2, 'u2', 'bob', 'member', '0'); \
                 INSERT INTO agents (id, uuid, handle, name, created_at) VALUES \
                 (1, 'a1', 'helper', 'Helper', 0), (2, 'a2', 'other', 'Other', 0); \
                 INSERT INTO conversations (id, kind, title, created_at, last_activity_at) \
                 VALUES (1, 'group', 'g', 0, 0);",
            )?;
            Ok(())
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    (tmp, store)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn blobs_round_trip(v in proptest::collection::vec(any::<f32>(), 0..64)) {
            let back = blob_f32(&f32_blob(&v)).unwrap();
            prop_assert_eq!(back.len(), v.len());
            for (a, b) in back.iter().zip(&v) {
                prop_assert_eq!(a.to_bits(), b.to_bits());
            }
        }
    }

    #[test]
    fn blob_is_little_endian_and_damaged_lengths_are_refused() {
        assert_eq!(f32_blob(&[1.0]), vec![0, 0, 0x80, 0x3f]);
        assert!(blob_f32(&[1, 2, 3]).is_none());
    }
}
