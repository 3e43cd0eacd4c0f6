//! SQL for knowledge documents and their parent and child chunks.
//!
//! An ingest is one transaction: the document row, every parent and child
//! chunk (children indexed in FTS5 by trigger) and the per-agent caps and
//! duplicate check commit together or not at all. Search words arrive as
//! an `agents::retrieval::AnyWords`, rendered here as quoted FTS5
//! literals; vector scoring is the caller's function, so no retrieval math
//! lives here. `KnowledgeStore` is the same contract for every backend
//! (PostgreSQL: `pg::knowledge`).

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;
use utoipa::ToSchema;

use super::memories::{blob_f32, f32_blob};
use super::{Store, StoreError};
use crate::agents::retrieval::AnyWords;

/// A knowledge document as the API shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct Document {
    pub id: i64,
    /// Sanitised display name.
    pub name: String,
    pub mime: String,
    /// Bytes uploaded.
    pub size: i64,
    /// Parent chunks (the passages search returns).
    pub chunks: i64,
    /// True when promptguard flagged the extracted text.
    pub flagged: bool,
    pub created_at: i64,
}

/// A parent chunk and the child chunks indexed for it.
pub struct NewParent {
    pub text: String,
    /// Child text with its embedding, when the provider gave one.
    pub children: Vec<(String, Option<Vec<f32>>)>,
}

/// What `knowledge_insert` writes.
pub struct NewDocument {
    pub agent_id: i64,
    pub name: String,
    pub mime: String,
    pub size: i64,
    /// Hex SHA-256 of the uploaded bytes: the duplicate key.
    pub sha256: String,
    pub flagged: bool,
    pub created_by: Option<i64>,
    pub created_at: i64,
    pub parents: Vec<NewParent>,
}

/// Per-agent caps checked inside the insert transaction.
#[derive(Clone, Copy, Debug)]
pub struct KnowledgeCaps {
    pub docs: usize,
    pub child_chunks: usize,
}

/// How an insert ended.
#[derive(Debug)]
pub enum KnowledgeInsert {
    Inserted(Document),
    /// The agent already has a document with the same bytes.
    Duplicate(Document),
    /// A per-agent cap would be exceeded.
    Full,
}

/// A parent chunk as search returns it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParentChunk {
    pub id: i64,
    pub doc_id: i64,
    pub doc_name: String,
    pub text: String,
    pub flagged: bool,
}

const DOC_COLS: &str = "id, name, mime, size, chunks, flagged, created_at";

fn doc_from_row(r: &Row<'_>) -> rusqlite::Result<Document> {
    Ok(Document {
        id: r.get(0)?,
        name: r.get(1)?,
        mime: r.get(2)?,
        size: r.get(3)?,
        chunks: r.get(4)?,
        flagged: r.get(5)?,
        created_at: r.get(6)?,
    })
}

fn doc_by_hash(
    conn: &Connection,
    agent_id: i64,
    sha256: &str,
) -> Result<Option<Document>, StoreError> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {DOC_COLS} FROM knowledge_docs WHERE agent_id = ?1 AND sha256 = ?2"
        ))?
        .query_row(params![agent_id, sha256], doc_from_row)
        .optional()?)
}

fn doc_by_id(conn: &Connection, agent_id: i64, id: i64) -> Result<Option<Document>, StoreError> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {DOC_COLS} FROM knowledge_docs WHERE agent_id = ?1 AND id = ?2"
        ))?
        .query_row(params![agent_id, id], doc_from_row)
        .optional()?)
}

pub(crate) fn as_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The knowledge aggregate as every backend provides it: SQLCipher
/// (`Store`) and PostgreSQL (`pg::PgStore`), checked by the conformance
/// suite (`tests/store_conformance/memory.rs`). Every call names the
/// agent: another agent's document or chunk is the same as a missing one.
pub trait KnowledgeStore: Send + Sync {
    /// The agent's document with these bytes (hex SHA-256), if any.
    fn knowledge_by_hash(
        &self,
        agent_id: i64,
        sha256: String,
    ) -> impl Future<Output = Result<Option<Document>, StoreError>> + Send;
    /// Writes the document and every chunk, all or nothing, unless the
    /// agent has one with the same `sha256` (`Duplicate`) or the agent's
    /// documents would exceed `caps.docs` or its child chunks
    /// `caps.child_chunks` (`Full`). Decided atomically: concurrent
    /// ingests can neither pass a cap together nor store the same bytes
    /// twice. Chunks are numbered in order (parent, its children, next
    /// parent, ...). An unknown agent is an error.
    fn knowledge_insert(
        &self,
        new: NewDocument,
        caps: KnowledgeCaps,
    ) -> impl Future<Output = Result<KnowledgeInsert, StoreError>> + Send;
    /// The agent's documents, newest (highest id) first.
    fn knowledge_list(
        &self,
        agent_id: i64,
    ) -> impl Future<Output = Result<Vec<Document>, StoreError>> + Send;
    /// Deletes a document with all its chunks (and their search entries);
    /// the deleted row, or `None` when the agent has no such document.
    fn knowledge_delete(
        &self,
        agent_id: i64,
        doc_id: i64,
    ) -> impl Future<Output = Result<Option<Document>, StoreError>> + Send;
    /// For the up to `limit` best child chunks matching any of `words`
    /// (each a phrase of its tokens, case and Latin diacritics folded),
    /// best first, their parent chunk's id: one entry per child, so a
    /// parent may repeat. Parent chunks themselves are never matched.
    fn knowledge_search_fts(
        &self,
        agent_id: i64,
        words: AnyWords,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<i64>, StoreError>> + Send;
    /// Scores every embedded child chunk of the agent with `score` (`None`
    /// skips it) and returns the parent ids of the `limit` best, best
    /// first, holding at most `limit` rows in memory.
    fn knowledge_vector_top<F>(
        &self,
        agent_id: i64,
        score: F,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<i64>, StoreError>> + Send
    where
        F: Fn(&[f32]) -> Option<f32> + Send + 'static;
    /// The agent's parent chunks with these ids, in the order asked; ids
    /// that are gone, belong to another agent or name a child chunk are
    /// skipped.
    fn knowledge_parents(
        &self,
        agent_id: i64,
        ids: Vec<i64>,
    ) -> impl Future<Output = Result<Vec<ParentChunk>, StoreError>> + Send;
}

impl KnowledgeStore for Store {
    fn knowledge_by_hash(
        &self,
        agent_id: i64,
        sha256: String,
    ) -> impl Future<Output = Result<Option<Document>, StoreError>> + Send {
        Store::knowledge_by_hash(self, agent_id, sha256)
    }
    fn knowledge_insert(
        &self,
        new: NewDocument,
        caps: KnowledgeCaps,
    ) -> impl Future<Output = Result<KnowledgeInsert, StoreError>> + Send {
        Store::knowledge_insert(self, new, caps)
    }
    fn knowledge_list(
        &self,
        agent_id: i64,
    ) -> impl Future<Output = Result<Vec<Document>, StoreError>> + Send {
        Store::knowledge_list(self, agent_id)
    }
    fn knowledge_delete(
        &self,
        agent_id: i64,
        doc_id: i64,
    ) -> impl Future<Output = Result<Option<Document>, StoreError>> + Send {
        Store::knowledge_delete(self, agent_id, doc_id)
    }
    fn knowledge_search_fts(
        &self,
        agent_id: i64,
        words: AnyWords,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<i64>, StoreError>> + Send {
        Store::knowledge_search_fts(self, agent_id, words, limit)
    }
    fn knowledge_vector_top<F>(
        &self,
        agent_id: i64,
        score: F,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<i64>, StoreError>> + Send
    where
        F: Fn(&[f32]) -> Option<f32> + Send + 'static,
    {
        Store::knowledge_vector_top(self, agent_id, score, limit)
    }
    fn knowledge_parents(
        &self,
        agent_id: i64,
        ids: Vec<i64>,
    ) -> impl Future<Output = Result<Vec<ParentChunk>, StoreError>> + Send {
        Store::knowledge_parents(self, agent_id, ids)
    }
}

impl Store {
    /// The agent's document with these bytes, if any.
    pub async fn knowledge_by_hash(
        &self,
        agent_id: i64,
        sha256: String,
    ) -> Result<Option<Document>, StoreError> {
        self.read(move |conn| doc_by_hash(conn, agent_id, &sha256))
            .await
    }

    /// Writes a document and all its chunks in one transaction.
    pub async fn knowledge_insert(
        &self,
        new: NewDocument,
        caps: KnowledgeCaps,
    ) -> Result<KnowledgeInsert, StoreError> {
        self.write(move |conn| {
            let tx = conn.transaction()?;
            if let Some(existing) = doc_by_hash(&tx, new.agent_id, &new.sha256)? {
                return Ok(KnowledgeInsert::Duplicate(existing));
            }
            let (docs, children): (i64, i64) = tx.query_row(
                "SELECT (SELECT count(*) FROM knowledge_docs WHERE agent_id = ?1), \
                 (SELECT count(*) FROM knowledge_chunks c JOIN knowledge_docs d ON d.id = c.doc_id \
                  WHERE d.agent_id = ?1 AND c.parent_id IS NOT NULL)",
                params![new.agent_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let adding: usize = new.parents.iter().map(|p| p.children.len()).sum();
            if docs >= as_i64(caps.docs)
                || children.saturating_add(as_i64(adding)) > as_i64(caps.child_chunks)
            {
                return Ok(KnowledgeInsert::Full);
            }
            tx.execute(
                "INSERT INTO knowledge_docs (agent_id, name, mime, size, sha256, chunks, flagged, \
                 created_by, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    new.agent_id,
                    new.name,
                    new.mime,
                    new.size,
                    new.sha256,
                    as_i64(new.parents.len()),
                    new.flagged,
                    new.created_by,
                    new.created_at
                ],
            )?;
            let doc_id = tx.last_insert_rowid();
            {
                let mut parent_stmt = tx.prepare_cached(
                    "INSERT INTO knowledge_chunks (doc_id, parent_id, ord, text, embedding) \
                     VALUES (?1, NULL, ?2, ?3, NULL)",
                )?;
                let mut child_stmt = tx.prepare_cached(
                    "INSERT INTO knowledge_chunks (doc_id, parent_id, ord, text, embedding) \
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )?;
                let mut ord = 0i64;
                for parent in &new.parents {
                    parent_stmt.execute(params![doc_id, ord, parent.text])?;
                    let parent_id = tx.last_insert_rowid();
                    ord += 1;
                    for (text, vector) in &parent.children {
                        child_stmt.execute(params![
                            doc_id,
                            parent_id,
                            ord,
                            text,
                            vector.as_deref().map(f32_blob)
                        ])?;
                        ord += 1;
                    }
                }
            }
            let row = doc_by_id(&tx, new.agent_id, doc_id)?.ok_or(StoreError::NotFound)?;
            tx.commit()?;
            Ok(KnowledgeInsert::Inserted(row))
        })
        .await
    }

    /// The agent's documents, newest first.
    pub async fn knowledge_list(&self, agent_id: i64) -> Result<Vec<Document>, StoreError> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {DOC_COLS} FROM knowledge_docs WHERE agent_id = ?1 ORDER BY id DESC"
            ))?;
            let rows = stmt
                .query_map(params![agent_id], doc_from_row)?
                .collect::<Result<_, _>>()?;
            Ok(rows)
        })
        .await
    }

    /// Deletes a document and every chunk of it (and so its index rows).
    pub async fn knowledge_delete(
        &self,
        agent_id: i64,
        doc_id: i64,
    ) -> Result<Option<Document>, StoreError> {
        self.write(move |conn| {
            let tx = conn.transaction()?;
            let Some(row) = doc_by_id(&tx, agent_id, doc_id)? else {
                return Ok(None);
            };
            // Children first, explicitly, so the FTS delete trigger runs for
            // each indexed row whatever the foreign-key cascade order.
            tx.execute(
                "DELETE FROM knowledge_chunks WHERE doc_id = ?1 AND parent_id IS NOT NULL",
                params![doc_id],
            )?;
            tx.execute(
                "DELETE FROM knowledge_chunks WHERE doc_id = ?1",
                params![doc_id],
            )?;
            tx.execute(
                "DELETE FROM knowledge_docs WHERE agent_id = ?1 AND id = ?2",
                params![agent_id, doc_id],
            )?;
            tx.commit()?;
            Ok(Some(row))
        })
        .await
    }

    /// Parent ids of the BM25-best child chunks matching any of `words`,
    /// best first, one entry per child.
    pub async fn knowledge_search_fts(
        &self,
        agent_id: i64,
        words: AnyWords,
        limit: usize,
    ) -> Result<Vec<i64>, StoreError> {
        let fts = words.fts5();
        let limit = as_i64(limit);
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT c.parent_id FROM knowledge_fts f \
                 JOIN knowledge_chunks c ON c.id = f.rowid \
                 JOIN knowledge_docs d ON d.id = c.doc_id \
                 WHERE knowledge_fts MATCH ?2 AND d.agent_id = ?1 AND c.parent_id IS NOT NULL \
                 ORDER BY bm25(knowledge_fts) LIMIT ?3",
            )?;
            let rows = stmt
                .query_map(params![agent_id, fts, limit], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            Ok(rows)
        })
        .await
    }

    /// Scores every embedded child chunk of the agent with `score` and
    /// returns the parent ids of the `limit` best, best first. Rows are
    /// streamed, so memory stays bounded by `limit`.
    pub async fn knowledge_vector_top<F>(
        &self,
        agent_id: i64,
        score: F,
        limit: usize,
    ) -> Result<Vec<i64>, StoreError>
    where
        F: Fn(&[f32]) -> Option<f32> + Send + 'static,
    {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT c.parent_id, c.embedding FROM knowledge_chunks c \
                 JOIN knowledge_docs d ON d.id = c.doc_id \
                 WHERE d.agent_id = ?1 AND c.parent_id IS NOT NULL AND c.embedding IS NOT NULL",
            )?;
            let mut rows = stmt.query(params![agent_id])?;
            let mut best: Vec<(f32, i64)> = Vec::with_capacity(limit.saturating_add(1));
            while let Some(r) = rows.next()? {
                let blob = r.get_ref(1)?;
                let Some(s) = blob
                    .as_blob()
                    .ok()
                    .and_then(blob_f32)
                    .and_then(|v| score(&v))
                else {
                    continue;
                };
                if best.len() == limit && best.last().is_none_or(|(worst, _)| s <= *worst) {
                    continue;
                }
                let at = best.partition_point(|(b, _)| *b >= s);
                best.insert(at, (s, r.get(0)?));
                best.truncate(limit);
            }
            Ok(best.into_iter().map(|(_, id)| id).collect())
        })
        .await
    }

    /// The parent chunks with these ids (any order in, same order out;
    /// ids of other agents or gone are skipped).
    pub async fn knowledge_parents(
        &self,
        agent_id: i64,
        ids: Vec<i64>,
    ) -> Result<Vec<ParentChunk>, StoreError> {
        self.read(move |conn| {
            let json = serde_json::Value::from(ids.clone()).to_string();
            let mut stmt = conn.prepare_cached(
                "SELECT c.id, c.doc_id, d.name, c.text, d.flagged FROM knowledge_chunks c \
                 JOIN knowledge_docs d ON d.id = c.doc_id \
                 WHERE d.agent_id = ?1 AND c.parent_id IS NULL \
                 AND c.id IN (SELECT value FROM json_each(?2))",
            )?;
            let mut found: HashMap<i64, ParentChunk> = stmt
                .query_map(params![agent_id, json], |r| {
                    Ok(ParentChunk {
                        id: r.get(0)?,
                        doc_id: r.get(1)?,
                        doc_name: r.get(2)?,
                        text: r.get(3)?,
                        flagged: r.get(4)?,
                    })
                })?
                .map(|r| r.map(|p| (p.id, p)))
                .collect::<Result<_, _>>()?;
            Ok(ids.iter().filter_map(|id| found.remove(id)).collect())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::memories::{MemoryInsert, NewMemory, Scope, Source, seeded_store};

    async fn index_hits(store: &Store, table: &'static str, word: &'static str) -> i64 {
        store
            .read(move |conn| {
                let sql = format!("SELECT count(rowid) FROM {table} WHERE {table} MATCH ?1");
                Ok(conn.query_row(&sql, params![format!("\"{word}\"")], |r| r.get(0))?)
            })
            .await
            .unwrap()
    }

    /// Deleting an agent or a user cascades to chunks and memories; the
    /// FTS delete triggers must run for those rows too, or stale index
    /// entries would match rows that later reuse their ids.
    #[tokio::test]
    async fn cascaded_deletes_leave_no_index_rows() {
        let (_tmp, store) = seeded_store().await;
        let new = NewDocument {
            agent_id: 1,
            name: "z.txt".into(),
            mime: "text/plain".into(),
            size: 5,
            sha256: "00".into(),
            flagged: false,
            created_by: None,
            created_at: 0,
            parents: vec![NewParent {
                text: "zebra crossing".into(),
                children: vec![("zebra".into(), Some(vec![1.0])), ("crossing".into(), None)],
            }],
        };
        let caps = KnowledgeCaps {
            docs: 10,
            child_chunks: 10,
        };
        assert!(matches!(
            store.knowledge_insert(new, caps).await.unwrap(),
            KnowledgeInsert::Inserted(_)
        ));
        let memory = NewMemory {
            agent_id: 2,
            scope: Scope::User(2),
            text: "walrus facts".into(),
            norm: "walrus facts".into(),
            embedding: None,
            source: Source::Owner,
            created_by: None,
            created_at: 0,
        };
        assert!(matches!(
            store.memory_insert(memory, 10).await.unwrap(),
            MemoryInsert::Inserted(_)
        ));
        assert_eq!(index_hits(&store, "knowledge_fts", "zebra").await, 1);
        assert_eq!(index_hits(&store, "agent_memories_fts", "walrus").await, 1);
        store
            .write(|conn| {
                conn.execute_batch(
                    "DELETE FROM agents WHERE id = 1; DELETE FROM users WHERE id = 2;",
                )?;
                Ok(())
            })
            .await
            .unwrap();
        assert_eq!(index_hits(&store, "knowledge_fts", "zebra").await, 0);
        assert_eq!(index_hits(&store, "agent_memories_fts", "walrus").await, 0);
    }

    #[tokio::test]
    async fn caps_are_checked_inside_the_insert() {
        let (_tmp, store) = seeded_store().await;
        let doc = |sha: &str, kids: usize| NewDocument {
            agent_id: 1,
            name: "d.txt".into(),
            mime: "text/plain".into(),
            size: 1,
            sha256: sha.into(),
            flagged: false,
            created_by: None,
            created_at: 0,
            parents: vec![NewParent {
                text: "p".into(),
                children: (0..kids).map(|i| (format!("c{i}"), None)).collect(),
            }],
        };
        let caps = KnowledgeCaps {
            docs: 2,
            child_chunks: 5,
        };
        let ins = |d| store.knowledge_insert(d, caps);
        assert!(matches!(
            ins(doc("a", 3)).await.unwrap(),
            KnowledgeInsert::Inserted(_)
        ));
        assert!(matches!(
            ins(doc("a", 1)).await.unwrap(),
            KnowledgeInsert::Duplicate(_)
        ));
        assert!(matches!(
            ins(doc("b", 3)).await.unwrap(),
            KnowledgeInsert::Full
        ));
        assert!(matches!(
            ins(doc("b", 2)).await.unwrap(),
            KnowledgeInsert::Inserted(_)
        ));
        assert!(matches!(
            ins(doc("c", 0)).await.unwrap(),
            KnowledgeInsert::Full
        ));
        assert_eq!(store.knowledge_list(1).await.unwrap().len(), 2);
    }
}
