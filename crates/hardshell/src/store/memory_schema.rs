//! Schema V5 (issue 8): agent memories and knowledge documents, each with
//! an FTS5 index kept by triggers and an optional embedding stored as
//! little-endian f32 bytes. Kept apart from `migrations.rs` so the memory
//! and knowledge code owns its tables.

/// Memories are scoped to one user or one conversation; `norm` is the
/// normalised text used for deduplication. Knowledge documents are split
/// into parent chunks (returned to the model) and child chunks (indexed).
pub(super) const V5: &str = r#"
CREATE TABLE agent_memories (
    id              INTEGER PRIMARY KEY,
    agent_id        INTEGER NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    scope           TEXT NOT NULL CHECK (scope IN ('user','conversation')),
    user_id         INTEGER REFERENCES users(id) ON DELETE CASCADE,
    conversation_id INTEGER REFERENCES conversations(id) ON DELETE CASCADE,
    text            TEXT NOT NULL,
    norm            TEXT NOT NULL,
    embedding       BLOB,
    source          TEXT NOT NULL CHECK (source IN ('tool','owner')),
    created_by      INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at      INTEGER NOT NULL,
    CHECK ((scope = 'user' AND user_id IS NOT NULL AND conversation_id IS NULL)
        OR (scope = 'conversation' AND conversation_id IS NOT NULL AND user_id IS NULL))
);
CREATE UNIQUE INDEX agent_memories_dedup
    ON agent_memories(agent_id, scope, IFNULL(user_id, 0), IFNULL(conversation_id, 0), norm);
CREATE INDEX agent_memories_agent ON agent_memories(agent_id, id);

CREATE VIRTUAL TABLE agent_memories_fts USING fts5(
    text, content='agent_memories', content_rowid='id',
    tokenize='unicode61 remove_diacritics 2'
);
CREATE TRIGGER agent_memories_fts_insert AFTER INSERT ON agent_memories BEGIN
    INSERT INTO agent_memories_fts(rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER agent_memories_fts_delete AFTER DELETE ON agent_memories BEGIN
    INSERT INTO agent_memories_fts(agent_memories_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;

CREATE TABLE knowledge_docs (
    id         INTEGER PRIMARY KEY,
    agent_id   INTEGER NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    mime       TEXT NOT NULL,
    size       INTEGER NOT NULL,
    sha256     TEXT NOT NULL,
    chunks     INTEGER NOT NULL,
    flagged    INTEGER NOT NULL DEFAULT 0,
    created_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX knowledge_docs_content ON knowledge_docs(agent_id, sha256);

CREATE TABLE knowledge_chunks (
    id        INTEGER PRIMARY KEY,
    doc_id    INTEGER NOT NULL REFERENCES knowledge_docs(id) ON DELETE CASCADE,
    parent_id INTEGER REFERENCES knowledge_chunks(id) ON DELETE CASCADE,
    ord       INTEGER NOT NULL,
    text      TEXT NOT NULL,
    embedding BLOB
);
CREATE INDEX knowledge_chunks_doc ON knowledge_chunks(doc_id, ord);
CREATE INDEX knowledge_chunks_parent ON knowledge_chunks(parent_id);

-- Only child chunks (parent_id set) are indexed; search returns their parent.
CREATE VIRTUAL TABLE knowledge_fts USING fts5(
    text, content='knowledge_chunks', content_rowid='id',
    tokenize='unicode61 remove_diacritics 2'
);
CREATE TRIGGER knowledge_fts_insert AFTER INSERT ON knowledge_chunks
WHEN new.parent_id IS NOT NULL BEGIN
    INSERT INTO knowledge_fts(rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER knowledge_fts_delete AFTER DELETE ON knowledge_chunks
WHEN old.parent_id IS NOT NULL BEGIN
    INSERT INTO knowledge_fts(knowledge_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;
"#;
