//! Agent knowledge: documents uploaded to an agent, split into parent and
//! child chunks, and searched by BM25 over the children plus, when the
//! provider embeds, vector similarity, fused with RRF (k = 60). A hit is
//! the child's parent chunk, so the model reads a whole passage.
//!
//! Owns type detection, extraction, chunking, the injection scan and the
//! caps. Document text is untrusted: it is scanned here and the verdict
//! stored (`flagged`); the runtime still wraps every hit as untrusted
//! content. Never stores half a document: an ingest is one transaction.

pub mod chunk;
pub mod extract;

use sha2::{Digest, Sha256};

use super::providers::SharedProvider;
use super::retrieval::{AnyWords, cosine, embed_query};
use super::rrf;
use crate::auth::now_secs;
pub use crate::store::knowledge::Document;
use crate::store::knowledge::{KnowledgeCaps, KnowledgeInsert, NewDocument, NewParent};
use crate::store::{Store, StoreError};
pub use extract::{DocKind, ExtractError};

/// Documents one agent may hold.
pub const MAX_DOCS_PER_AGENT: usize = 200;
/// Indexed child chunks one agent may hold (bounds a vector scan).
pub const MAX_CHILD_CHUNKS_PER_AGENT: usize = 20_000;
/// Child chunks embedded per provider call.
const EMBED_BATCH: usize = 64;
/// Most hits one search returns.
pub const MAX_HITS: usize = 50;
const CANDIDATES_PER_RESULT: usize = 4;
const MIN_CANDIDATES: usize = 20;

#[derive(Debug, thiserror::Error)]
pub enum KnowledgeError {
    #[error(transparent)]
    Extract(#[from] ExtractError),
    #[error("this agent already has a document with the same content")]
    Duplicate(Document),
    #[error(
        "this agent's knowledge is full ({MAX_DOCS_PER_AGENT} documents or {MAX_CHILD_CHUNKS_PER_AGENT} chunks)"
    )]
    Full,
    #[error("a background task failed")]
    Task,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One search result: a parent chunk and the document it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KnowledgeHit {
    pub doc_id: i64,
    pub doc_name: String,
    /// The parent chunk.
    pub text: String,
    /// The document was flagged by the injection scan.
    pub flagged: bool,
}

/// What the blocking part of an ingest produces.
struct Prepared {
    kind: DocKind,
    pieces: Vec<(String, Vec<String>)>,
    flagged: bool,
}

/// Extracts, chunks and scans (CPU work, run off the async workers).
fn prepare(name: &str, bytes: &[u8]) -> Result<Prepared, ExtractError> {
    let kind = extract::kind_of(bytes, name)?;
    let extracted = extract::extract(kind, bytes)?;
    // Hidden passages never reach the model, but they are scanned, and a
    // hit there weighs more than the same words in visible text.
    let split = promptguard::Split {
        visible: extracted.text,
        hidden: extracted.hidden,
    };
    // The name reaches the model too, in citations.
    let flagged = promptguard::scan_split(&split).flagged || promptguard::scan(name).flagged;
    let pieces = chunk::split(&split.visible);
    if pieces.is_empty() {
        return Err(ExtractError::NoText);
    }
    Ok(Prepared {
        kind,
        pieces,
        flagged,
    })
}

/// Embeddings for `texts`, or `None` for all of them when the provider has
/// none or any batch fails (the document is then found by BM25 only).
async fn embed_all(embedder: Option<&SharedProvider>, texts: &[&String]) -> Option<Vec<Vec<f32>>> {
    let provider = embedder?;
    let mut out = Vec::with_capacity(texts.len());
    for batch in texts.chunks(EMBED_BATCH) {
        let inputs: Vec<String> = batch.iter().map(|s| (*s).clone()).collect();
        match provider.embed(inputs).await {
            Ok(v) if v.len() == batch.len() => out.extend(v),
            Ok(v) => {
                tracing::debug!(got = v.len(), want = batch.len(), "embeddings: wrong count");
                return None;
            }
            Err(e) => {
                tracing::debug!(
                    code = e.code(),
                    "embeddings unavailable; indexing for BM25 only"
                );
                return None;
            }
        }
    }
    Some(out)
}

/// Adds a document to an agent's knowledge. `name` is a display name only.
pub async fn ingest(
    store: &Store,
    agent_id: i64,
    name: &str,
    bytes: &[u8],
    created_by: Option<i64>,
    embedder: Option<&SharedProvider>,
) -> Result<Document, KnowledgeError> {
    ingest_marked(store, agent_id, name, bytes, created_by, embedder, false).await
}

/// Like `ingest`, for text a caller already scanned (a fetched page whose
/// hidden passages were withheld): `flagged` marks the document flagged
/// even when its text alone would pass the scan.
pub async fn ingest_marked(
    store: &Store,
    agent_id: i64,
    name: &str,
    bytes: &[u8],
    created_by: Option<i64>,
    embedder: Option<&SharedProvider>,
    flagged: bool,
) -> Result<Document, KnowledgeError> {
    let name = uploadtype::display_name(name);
    let sha256 = hex::encode(Sha256::digest(bytes));
    // Before any parsing or embedding: a repeat costs nothing.
    if let Some(existing) = store.knowledge_by_hash(agent_id, sha256.clone()).await? {
        return Err(KnowledgeError::Duplicate(existing));
    }
    let owned = bytes.to_vec();
    let name_for_task = name.clone();
    let prepared = tokio::task::spawn_blocking(move || prepare(&name_for_task, &owned))
        .await
        .map_err(|_| KnowledgeError::Task)??;
    let child_texts: Vec<&String> = prepared.pieces.iter().flat_map(|(_, c)| c).collect();
    let mut vectors = embed_all(embedder, &child_texts).await.map(Vec::into_iter);
    let parents = prepared
        .pieces
        .into_iter()
        .map(|(text, children)| NewParent {
            text,
            children: children
                .into_iter()
                .map(|c| (c, vectors.as_mut().and_then(Iterator::next)))
                .collect(),
        })
        .collect();
    let new = NewDocument {
        agent_id,
        name,
        mime: prepared.kind.mime().to_string(),
        size: i64::try_from(bytes.len()).unwrap_or(i64::MAX),
        sha256,
        flagged: prepared.flagged || flagged,
        created_by,
        created_at: now_secs(),
        parents,
    };
    let caps = KnowledgeCaps {
        docs: MAX_DOCS_PER_AGENT,
        child_chunks: MAX_CHILD_CHUNKS_PER_AGENT,
    };
    match store.knowledge_insert(new, caps).await? {
        KnowledgeInsert::Inserted(doc) => Ok(doc),
        KnowledgeInsert::Duplicate(doc) => Err(KnowledgeError::Duplicate(doc)),
        KnowledgeInsert::Full => Err(KnowledgeError::Full),
    }
}

/// The parent chunks most relevant to `query`, best first, each at most
/// once (children are mapped to distinct parents before fusion).
pub async fn search(
    store: &Store,
    agent_id: i64,
    query: &str,
    limit: usize,
    embedder: Option<&SharedProvider>,
) -> Result<Vec<KnowledgeHit>, KnowledgeError> {
    let limit = limit.min(MAX_HITS);
    if limit == 0 {
        return Ok(Vec::new());
    }
    let wanted = limit
        .saturating_mul(CANDIDATES_PER_RESULT)
        .max(MIN_CANDIDATES);
    let by_words = match AnyWords::parse(query) {
        Some(words) => distinct(store.knowledge_search_fts(agent_id, words, wanted).await?),
        None => Vec::new(),
    };
    let by_vector = match embed_query(embedder, query).await {
        Some(q) => distinct(
            store
                .knowledge_vector_top(agent_id, move |v| cosine(&q, v), wanted)
                .await?,
        ),
        None => Vec::new(),
    };
    let ids: Vec<i64> = rrf::fuse(&[&by_words, &by_vector], rrf::K)
        .into_iter()
        .take(limit)
        .collect();
    Ok(store
        .knowledge_parents(agent_id, ids)
        .await?
        .into_iter()
        .map(|p| KnowledgeHit {
            doc_id: p.doc_id,
            doc_name: p.doc_name,
            text: p.text,
            flagged: p.flagged,
        })
        .collect())
}

/// Keeps the first occurrence of each id, in order.
fn distinct(ids: Vec<i64>) -> Vec<i64> {
    let mut seen = std::collections::HashSet::new();
    ids.into_iter().filter(|id| seen.insert(*id)).collect()
}

/// The agent's documents, newest first.
pub async fn list(store: &Store, agent_id: i64) -> Result<Vec<Document>, KnowledgeError> {
    Ok(store.knowledge_list(agent_id).await?)
}

/// Deletes a document and its chunks; the deleted document, or `None`.
pub async fn delete(
    store: &Store,
    agent_id: i64,
    doc_id: i64,
) -> Result<Option<Document>, KnowledgeError> {
    Ok(store.knowledge_delete(agent_id, doc_id).await?)
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
