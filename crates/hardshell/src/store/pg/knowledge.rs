//! The knowledge aggregate on PostgreSQL: the same contract as the
//! SQLCipher code (`store::knowledge::KnowledgeStore`), checked by the
//! conformance suite.
//!
//! An ingest is one transaction under a transaction-scoped advisory lock on
//! "this agent's knowledge", so two concurrent ingests cannot both pass
//! the per-agent caps (SQLite gets that from its single writer); the
//! `(agent_id, sha256)` unique index backs the duplicate check. Chunks are
//! written with two statements whatever their number. Search words are
//! bind parameters, never SQL text; vector scoring stays the caller's.

use std::collections::HashMap;

use futures_util::TryStreamExt;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::search::tsquery_any;
use super::{PgStore, is_unique_violation, pg_error};
use crate::agents::retrieval::AnyWords;
use crate::store::StoreError;
use crate::store::knowledge::{
    Document, KnowledgeCaps, KnowledgeInsert, KnowledgeStore, NewDocument, ParentChunk, as_i64,
};
use crate::store::memories::{blob_f32, f32_blob};

/// Namespace of the per-agent ingest lock (see `pg::memories`).
const LOCK_NAMESPACE: &str = "hardshell.knowledge";

const DOC_COLS: &str = "id, name, mime, size, chunks, flagged, created_at";

fn doc_from_row(r: &Row) -> Result<Document, StoreError> {
    Ok(Document {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        mime: r.try_get(2)?,
        size: r.try_get(3)?,
        chunks: r.try_get(4)?,
        flagged: r.try_get(5)?,
        created_at: r.try_get(6)?,
    })
}

async fn doc_by_hash(
    c: &impl deadpool_postgres::GenericClient,
    agent_id: i64,
    sha256: &str,
) -> Result<Option<Document>, StoreError> {
    c.query_opt(
        &format!("SELECT {DOC_COLS} FROM knowledge_docs WHERE agent_id = $1 AND sha256 = $2"),
        &[&agent_id, &sha256],
    )
    .await?
    .as_ref()
    .map(doc_from_row)
    .transpose()
}

/// The insert proper, inside `knowledge_insert`'s transaction and lock. A
/// database error is returned unmapped so a unique violation can be told
/// apart.
async fn insert_locked(
    tx: &deadpool_postgres::Transaction<'_>,
    new: &NewDocument,
    caps: KnowledgeCaps,
) -> Result<Result<KnowledgeInsert, tokio_postgres::Error>, StoreError> {
    if let Some(existing) = doc_by_hash(tx, new.agent_id, &new.sha256).await? {
        return Ok(Ok(KnowledgeInsert::Duplicate(existing)));
    }
    let counts = tx
        .query_one(
            "SELECT (SELECT count(*) FROM knowledge_docs WHERE agent_id = $1), \
             (SELECT count(*) FROM knowledge_chunks c JOIN knowledge_docs d ON d.id = c.doc_id \
              WHERE d.agent_id = $1 AND c.parent_id IS NOT NULL)",
            &[&new.agent_id],
        )
        .await?;
    let (docs, children): (i64, i64) = (counts.get(0), counts.get(1));
    let adding: usize = new.parents.iter().map(|p| p.children.len()).sum();
    if docs >= as_i64(caps.docs)
        || children.saturating_add(as_i64(adding)) > as_i64(caps.child_chunks)
    {
        return Ok(Ok(KnowledgeInsert::Full));
    }
    let doc = match tx
        .query_one(
            &format!(
                "INSERT INTO knowledge_docs (agent_id, name, mime, size, sha256, chunks, \
                 flagged, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                 RETURNING {DOC_COLS}"
            ),
            &[
                &new.agent_id,
                &new.name,
                &new.mime,
                &new.size,
                &new.sha256,
                &as_i64(new.parents.len()),
                &new.flagged,
                &new.created_by,
                &new.created_at,
            ],
        )
        .await
    {
        Ok(row) => doc_from_row(&row)?,
        Err(e) => return Ok(Err(e)),
    };
    // Ordinals as SQLite numbers them: each parent, then its children.
    let (mut parent_ords, mut parent_texts) = (Vec::new(), Vec::new());
    let (mut child_parent_ords, mut child_ords, mut child_texts, mut child_vecs) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut ord = 0i64;
    for parent in &new.parents {
        let parent_ord = ord;
        parent_ords.push(parent_ord);
        parent_texts.push(parent.text.as_str());
        ord += 1;
        for (text, vector) in &parent.children {
            child_parent_ords.push(parent_ord);
            child_ords.push(ord);
            child_texts.push(text.as_str());
            child_vecs.push(vector.as_deref().map(f32_blob));
            ord += 1;
        }
    }
    let parent_ids: HashMap<i64, i64> = tx
        .query(
            "INSERT INTO knowledge_chunks (doc_id, parent_id, ord, text, embedding) \
             SELECT $1, NULL, o, t, NULL FROM unnest($2::bigint[], $3::text[]) AS p(o, t) \
             RETURNING ord, id",
            &[&doc.id, &parent_ords, &parent_texts],
        )
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let child_parents: Vec<i64> = child_parent_ords
        .iter()
        .map(|o| parent_ids.get(o).copied().ok_or(StoreError::NotFound))
        .collect::<Result<_, _>>()?;
    if !child_ords.is_empty() {
        tx.execute(
            "INSERT INTO knowledge_chunks (doc_id, parent_id, ord, text, embedding) \
             SELECT $1, p, o, t, e \
             FROM unnest($2::bigint[], $3::bigint[], $4::text[], $5::bytea[]) AS c(p, o, t, e) \
             ORDER BY o",
            &[
                &doc.id,
                &child_parents,
                &child_ords,
                &child_texts,
                &child_vecs,
            ],
        )
        .await?;
    }
    Ok(Ok(KnowledgeInsert::Inserted(doc)))
}

impl KnowledgeStore for PgStore {
    async fn knowledge_by_hash(
        &self,
        agent_id: i64,
        sha256: String,
    ) -> Result<Option<Document>, StoreError> {
        doc_by_hash(&self.client().await?, agent_id, &sha256).await
    }

    async fn knowledge_insert(
        &self,
        new: NewDocument,
        caps: KnowledgeCaps,
    ) -> Result<KnowledgeInsert, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        super::lock_named(&tx, &format!("{LOCK_NAMESPACE}:{}", new.agent_id)).await?;
        match insert_locked(&tx, &new, caps).await? {
            Ok(KnowledgeInsert::Inserted(doc)) => {
                tx.commit().await?;
                Ok(KnowledgeInsert::Inserted(doc))
            }
            Ok(other) => Ok(other),
            // Only reachable if a writer bypassed the lock: the unique
            // index still refuses the second copy.
            Err(e) if is_unique_violation(&e) => {
                drop(tx);
                doc_by_hash(&client, new.agent_id, &new.sha256)
                    .await?
                    .map(KnowledgeInsert::Duplicate)
                    .ok_or_else(|| pg_error(e))
            }
            Err(e) => Err(pg_error(e)),
        }
    }

    async fn knowledge_list(&self, agent_id: i64) -> Result<Vec<Document>, StoreError> {
        self.client()
            .await?
            .query(
                &format!(
                    "SELECT {DOC_COLS} FROM knowledge_docs WHERE agent_id = $1 ORDER BY id DESC"
                ),
                &[&agent_id],
            )
            .await?
            .iter()
            .map(doc_from_row)
            .collect()
    }

    async fn knowledge_delete(
        &self,
        agent_id: i64,
        doc_id: i64,
    ) -> Result<Option<Document>, StoreError> {
        // The chunks (and so their `search` entries) go by cascade, in the
        // same statement.
        self.client()
            .await?
            .query_opt(
                &format!(
                    "DELETE FROM knowledge_docs WHERE agent_id = $1 AND id = $2 \
                     RETURNING {DOC_COLS}"
                ),
                &[&agent_id, &doc_id],
            )
            .await?
            .as_ref()
            .map(doc_from_row)
            .transpose()
    }

    async fn knowledge_search_fts(
        &self,
        agent_id: i64,
        words: AnyWords,
        limit: usize,
    ) -> Result<Vec<i64>, StoreError> {
        let limit = as_i64(limit);
        let (query, terms) = tsquery_any(&words, 3);
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![&agent_id, &limit];
        params.extend(terms.iter().map(|t| t as &(dyn ToSql + Sync)));
        let rows = self
            .client()
            .await?
            .query(
                &format!(
                    "SELECT c.parent_id FROM knowledge_chunks c \
                     JOIN knowledge_docs d ON d.id = c.doc_id, (SELECT {query} AS q) AS query \
                     WHERE c.search @@ query.q AND d.agent_id = $1 AND c.parent_id IS NOT NULL \
                     ORDER BY ts_rank(c.search, query.q, 1) DESC, c.id LIMIT $2"
                ),
                &params,
            )
            .await?;
        rows.iter()
            .map(|r| r.try_get(0).map_err(pg_error))
            .collect()
    }

    async fn knowledge_vector_top<F>(
        &self,
        agent_id: i64,
        score: F,
        limit: usize,
    ) -> Result<Vec<i64>, StoreError>
    where
        F: Fn(&[f32]) -> Option<f32> + Send + 'static,
    {
        let client = self.client().await?;
        let rows = client
            .query_raw(
                "SELECT c.parent_id, c.embedding FROM knowledge_chunks c \
                 JOIN knowledge_docs d ON d.id = c.doc_id \
                 WHERE d.agent_id = $1 AND c.parent_id IS NOT NULL AND c.embedding IS NOT NULL",
                [&agent_id as &(dyn ToSql + Sync)],
            )
            .await?;
        let mut rows = std::pin::pin!(rows);
        let mut best: Vec<(f32, i64)> = Vec::with_capacity(limit.saturating_add(1));
        while let Some(r) = rows.try_next().await? {
            let blob: &[u8] = r.try_get(1)?;
            let Some(s) = blob_f32(blob).and_then(|v| score(&v)) else {
                continue;
            };
            if best.len() == limit && best.last().is_none_or(|(worst, _)| s <= *worst) {
                continue;
            }
            let at = best.partition_point(|(b, _)| *b >= s);
            best.insert(at, (s, r.try_get(0)?));
            best.truncate(limit);
        }
        Ok(best.into_iter().map(|(_, id)| id).collect())
    }

    async fn knowledge_parents(
        &self,
        agent_id: i64,
        ids: Vec<i64>,
    ) -> Result<Vec<ParentChunk>, StoreError> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT c.id, c.doc_id, d.name, c.text, d.flagged FROM knowledge_chunks c \
                 JOIN knowledge_docs d ON d.id = c.doc_id \
                 WHERE d.agent_id = $1 AND c.parent_id IS NULL AND c.id = ANY($2)",
                &[&agent_id, &ids],
            )
            .await?;
        let mut found: HashMap<i64, ParentChunk> = HashMap::with_capacity(rows.len());
        for r in &rows {
            let p = ParentChunk {
                id: r.try_get(0)?,
                doc_id: r.try_get(1)?,
                doc_name: r.try_get(2)?,
                text: r.try_get(3)?,
                flagged: r.try_get(4)?,
            };
            found.insert(p.id, p);
        }
        Ok(ids.iter().filter_map(|id| found.remove(id)).collect())
    }
}
