//! Agent memory: short facts an agent keeps about one user or one
//! conversation, saved by its `memory_save` tool or by a person, and found
//! again by BM25 plus, when the provider embeds, vector similarity fused
//! with RRF.
//!
//! Owns validation, dedup normalisation and the per-agent cap. Never
//! widens a search beyond the scopes the caller passes: the runtime passes
//! the current user's and conversation's scopes, and an empty list finds
//! nothing.

use unicode_normalization::UnicodeNormalization;

use super::providers::SharedProvider;
use super::retrieval::{AnyWords, cosine, embed_query};
use super::rrf;
use crate::auth::now_secs;
use crate::store::memories::{MemoryInsert, NewMemory, ScopeFilter};
use crate::store::{Store, StoreError};

pub use crate::store::memories::{Memory, Scope, Source};

/// Longest memory, in characters.
pub const MAX_CHARS: usize = 2000;
/// Longest search text for `search_all`, in characters.
pub const MAX_QUERY_CHARS: usize = 500;
/// Memories one agent may hold.
pub const MAX_PER_AGENT: usize = 1000;
/// Candidates each ranker contributes before fusion, per result wanted.
const CANDIDATES_PER_RESULT: usize = 4;
const MIN_CANDIDATES: usize = 20;

#[derive(Debug, thiserror::Error)]
pub enum MemoryError {
    #[error("a memory cannot be empty")]
    Empty,
    #[error("a memory is limited to {MAX_CHARS} characters")]
    TooLong,
    #[error("the search text is longer than {MAX_QUERY_CHARS} characters")]
    QueryTooLong,
    #[error("this agent already holds {0} memories; delete some first")]
    Full(usize),
    #[error("the user or conversation of that scope does not exist")]
    NoSuchScope,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The result of a save: the stored memory, and whether it already existed.
#[derive(Clone, Debug)]
pub struct Saved {
    pub memory: Memory,
    pub duplicate: bool,
}

/// The dedup key: NFKC, lower case, whitespace runs collapsed to one space.
pub fn normalise(text: &str) -> String {
    let folded: String = text.nfkc().flat_map(char::to_lowercase).collect();
    folded.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The user whose user-scoped memories a turn in `conversation_id` reads
/// and writes: the person writing, except in a channel conversation. A
/// channel sender's memories stay in their own conversation (one per sender
/// and agent), so a message from outside never reads or writes what the
/// linked user's web conversations remembered.
pub async fn person(
    store: &Store,
    conversation_id: i64,
    user_id: Option<i64>,
) -> Result<Option<i64>, StoreError> {
    let Some(user) = user_id else {
        return Ok(None);
    };
    Ok((!store.is_channel_conversation(conversation_id).await?).then_some(user))
}

/// Saves a memory unless the same one (after normalisation) is already in
/// that scope; `Full` when the agent is at its cap.
pub async fn save(
    store: &Store,
    agent_id: i64,
    scope: Scope,
    text: &str,
    source: Source,
    created_by: Option<i64>,
    embedder: Option<&SharedProvider>,
) -> Result<Saved, MemoryError> {
    save_capped(
        store,
        agent_id,
        scope,
        text,
        source,
        created_by,
        embedder,
        MAX_PER_AGENT,
    )
    .await
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn save_capped(
    store: &Store,
    agent_id: i64,
    scope: Scope,
    text: &str,
    source: Source,
    created_by: Option<i64>,
    embedder: Option<&SharedProvider>,
    cap: usize,
) -> Result<Saved, MemoryError> {
    // Counted as sent, before trimming (like every limit).
    if text.chars().count() > MAX_CHARS {
        return Err(MemoryError::TooLong);
    }
    let text = text.trim();
    if text.is_empty() {
        return Err(MemoryError::Empty);
    }
    let norm = normalise(text);
    // Found before embedding, so a repeat costs no provider call.
    if let Some(memory) = store
        .memory_find_duplicate(agent_id, scope, norm.clone())
        .await?
    {
        return Ok(Saved {
            memory,
            duplicate: true,
        });
    }
    let embedding = embed_query(embedder, text).await;
    let new = NewMemory {
        agent_id,
        scope,
        text: text.to_string(),
        norm,
        embedding,
        source,
        created_by,
        created_at: now_secs(),
    };
    match store.memory_insert(new, cap).await? {
        MemoryInsert::Inserted(memory) => Ok(Saved {
            memory,
            duplicate: false,
        }),
        MemoryInsert::Duplicate(memory) => Ok(Saved {
            memory,
            duplicate: true,
        }),
        MemoryInsert::Full => Err(MemoryError::Full(cap)),
        MemoryInsert::NoSuchScope => Err(MemoryError::NoSuchScope),
    }
}

/// The memories in `scopes` most relevant to `query`, best first.
pub async fn search(
    store: &Store,
    agent_id: i64,
    scopes: &[Scope],
    query: &str,
    limit: usize,
    embedder: Option<&SharedProvider>,
) -> Result<Vec<Memory>, MemoryError> {
    if scopes.is_empty() {
        return Ok(Vec::new());
    }
    ranked(
        store,
        agent_id,
        ScopeFilter::Only(scopes),
        query,
        limit,
        embedder,
    )
    .await
}

/// Every scope's memories most relevant to `query`: the owner's view.
pub async fn search_all(
    store: &Store,
    agent_id: i64,
    query: &str,
    limit: usize,
    embedder: Option<&SharedProvider>,
) -> Result<Vec<Memory>, MemoryError> {
    if query.chars().count() > MAX_QUERY_CHARS {
        return Err(MemoryError::QueryTooLong);
    }
    ranked(store, agent_id, ScopeFilter::All, query, limit, embedder).await
}

async fn ranked(
    store: &Store,
    agent_id: i64,
    filter: ScopeFilter<'_>,
    query: &str,
    limit: usize,
    embedder: Option<&SharedProvider>,
) -> Result<Vec<Memory>, MemoryError> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let wanted = limit
        .saturating_mul(CANDIDATES_PER_RESULT)
        .max(MIN_CANDIDATES);
    let bm25 = match AnyWords::parse(query) {
        Some(words) => {
            store
                .memory_search_fts(agent_id, filter, words, wanted)
                .await?
        }
        None => Vec::new(),
    };
    let mut by_vector = Vec::new();
    if let Some(q) = embed_query(embedder, query).await {
        let mut scored: Vec<(f32, Memory)> = store
            .memory_vectors(agent_id, filter)
            .await?
            .into_iter()
            .filter_map(|(m, v)| cosine(&q, &v).map(|s| (s, m)))
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0));
        scored.truncate(wanted);
        by_vector = scored.into_iter().map(|(_, m)| m).collect();
    }
    if by_vector.is_empty() {
        let mut out = bm25;
        out.truncate(limit);
        return Ok(out);
    }
    let ids_bm25: Vec<i64> = bm25.iter().map(|m| m.id).collect();
    let ids_vec: Vec<i64> = by_vector.iter().map(|m| m.id).collect();
    let mut rows: std::collections::HashMap<i64, Memory> = bm25
        .into_iter()
        .chain(by_vector)
        .map(|m| (m.id, m))
        .collect();
    Ok(rrf::fuse(&[&ids_bm25, &ids_vec], rrf::K)
        .into_iter()
        .filter_map(|id| rows.remove(&id))
        .take(limit)
        .collect())
}

/// The agent's memories, newest first (the owner's list).
pub async fn list(store: &Store, agent_id: i64, limit: usize) -> Result<Vec<Memory>, MemoryError> {
    Ok(store.memory_list(agent_id, ScopeFilter::All, limit).await?)
}

/// Deletes one memory; the deleted memory, or `None` when there was none.
pub async fn delete(
    store: &Store,
    agent_id: i64,
    memory_id: i64,
) -> Result<Option<Memory>, MemoryError> {
    Ok(store.memory_delete(agent_id, memory_id).await?)
}

#[cfg(test)]
#[path = "memory_tests.rs"]
mod tests;
