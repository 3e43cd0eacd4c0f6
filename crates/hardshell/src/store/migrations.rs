//! Versioned schema. Append new migrations; never edit one that has shipped.

use rusqlite_migration::{M, Migrations};

/// Every migration in order: version N is `SQLITE[N - 1]`. PostgreSQL has
/// a twin of each under the same number (`store/pg/migrations/`); add a new
/// one to both.
const SQLITE: &[&str] = &[
    V1,
    V2,
    V3,
    V4,
    super::memory_schema::V5,
    super::tools_schema::V6,
    super::bookmarks_schema::V7,
    super::bookmarks_schema::V8,
    super::channels_schema::V_CHANNELS,
    super::channels_schema::V_CHANNELS_MEDIA,
    super::channels_schema::V_CHANNELS_GROUPS,
    super::channels_schema::V_CHANNELS_DEFERRED,
];

pub(super) fn migrations() -> Migrations<'static> {
    Migrations::new(SQLITE.iter().map(|sql| M::up(sql)).collect())
}

/// How many SQLite migrations exist: the PostgreSQL list must have as many.
#[cfg(test)]
pub(crate) fn sqlite_migration_count() -> usize {
    SQLITE.len()
}

const V1: &str = r#"
CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    uuid          TEXT NOT NULL UNIQUE,
    username      TEXT NOT NULL UNIQUE COLLATE NOCASE,
    role          TEXT NOT NULL CHECK (role IN ('owner','admin','member','guest')),
    password_hash TEXT,
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    TEXT NOT NULL
);

-- `id` is the physical insertion order that verification walks; `seq` is the
-- chain position the entry claims. Keeping both lets a swap be told apart
-- from an edit.
CREATE TABLE audit_log (
    id         INTEGER PRIMARY KEY,
    seq        INTEGER NOT NULL UNIQUE,
    ts         TEXT NOT NULL,
    actor_kind TEXT NOT NULL,
    actor_id   TEXT NOT NULL,
    action     TEXT NOT NULL,
    target     TEXT NOT NULL,
    outcome    TEXT NOT NULL,
    ip         TEXT,
    details    TEXT NOT NULL,
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL
);
CREATE INDEX audit_log_action ON audit_log(action, seq);
CREATE INDEX audit_log_actor ON audit_log(actor_kind, actor_id, seq);
"#;

/// Identity and access (issue 5). Credentials are stored only as
/// `HMAC-SHA256(pepper, token)` in `*_hash` BLOB columns; times are Unix
/// seconds.
const V2: &str = r#"
CREATE TABLE setup_tokens (
    id         INTEGER PRIMARY KEY,
    token_hash BLOB NOT NULL UNIQUE,
    expires_at INTEGER NOT NULL
);

CREATE TABLE agent_keys (
    id                    INTEGER PRIMARY KEY,
    public_id             TEXT NOT NULL UNIQUE,
    name                  TEXT NOT NULL,
    key_hash              BLOB NOT NULL UNIQUE,
    permissions           TEXT NOT NULL,
    created_by            INTEGER REFERENCES users(id) ON DELETE CASCADE,
    created_at            INTEGER NOT NULL,
    expires_at            INTEGER,
    rate_limit_per_minute INTEGER,
    last_used_at          INTEGER,
    revoked_at            INTEGER
);

-- One row per login: a web session, a bearer/refresh family, or an
-- agent key's bearer grant. Revoking the row kills every token in it.
CREATE TABLE auth_sessions (
    id           INTEGER PRIMARY KEY,
    public_id    TEXT NOT NULL UNIQUE,
    user_id      INTEGER REFERENCES users(id) ON DELETE CASCADE,
    agent_key_id INTEGER REFERENCES agent_keys(id) ON DELETE CASCADE,
    kind         TEXT NOT NULL CHECK (kind IN ('web','token')),
    csrf_hash    BLOB,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    revoked_at   INTEGER,
    ip           TEXT,
    CHECK ((user_id IS NULL) <> (agent_key_id IS NULL))
);
CREATE INDEX auth_sessions_user ON auth_sessions(user_id);

CREATE TABLE auth_tokens (
    token_hash BLOB PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES auth_sessions(id) ON DELETE CASCADE,
    kind       TEXT NOT NULL CHECK (kind IN ('cookie','access','refresh')),
    expires_at INTEGER NOT NULL,
    spent_at   INTEGER
);
CREATE INDEX auth_tokens_session ON auth_tokens(session_id);

CREATE TABLE identity_keys (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL UNIQUE REFERENCES users(id) ON DELETE CASCADE,
    key_hash   BLOB NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);
"#;

/// Chat (issue 6): conversations, members, messages with FTS5 search, and
/// uploads. `agents` is the minimal registry that members and message
/// authors point at; the agents issue adds its runtime columns. Times are
/// Unix seconds. Exactly one author column of a message is set.
const V3: &str = r#"
CREATE TABLE agents (
    id         INTEGER PRIMARY KEY,
    uuid       TEXT NOT NULL UNIQUE,
    handle     TEXT NOT NULL UNIQUE COLLATE NOCASE,
    name       TEXT NOT NULL,
    disabled   INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);

CREATE TABLE conversations (
    id               INTEGER PRIMARY KEY,
    kind             TEXT NOT NULL CHECK (kind IN ('direct','group')),
    title            TEXT NOT NULL,
    created_by       INTEGER REFERENCES users(id) ON DELETE SET NULL,
    default_agent_id INTEGER REFERENCES agents(id) ON DELETE SET NULL,
    created_at       INTEGER NOT NULL,
    last_activity_at INTEGER NOT NULL
);

CREATE TABLE conversation_members (
    conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    user_id         INTEGER REFERENCES users(id) ON DELETE CASCADE,
    agent_id        INTEGER REFERENCES agents(id) ON DELETE CASCADE,
    added_at        INTEGER NOT NULL,
    CHECK ((user_id IS NULL) <> (agent_id IS NULL))
);
CREATE UNIQUE INDEX conversation_members_user
    ON conversation_members(user_id, conversation_id) WHERE user_id IS NOT NULL;
CREATE UNIQUE INDEX conversation_members_agent
    ON conversation_members(agent_id, conversation_id) WHERE agent_id IS NOT NULL;
CREATE INDEX conversation_members_conversation ON conversation_members(conversation_id);

CREATE TABLE messages (
    id              INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    author_user_id  INTEGER REFERENCES users(id) ON DELETE SET NULL,
    author_agent_id INTEGER REFERENCES agents(id) ON DELETE SET NULL,
    author_key_id   INTEGER REFERENCES agent_keys(id) ON DELETE SET NULL,
    author_kind     TEXT NOT NULL CHECK (author_kind IN ('user','agent','key')),
    text            TEXT NOT NULL,
    html            TEXT NOT NULL,
    mentions        TEXT NOT NULL DEFAULT '[]',
    reply_to        INTEGER REFERENCES messages(id) ON DELETE SET NULL,
    created_at      INTEGER NOT NULL,
    edited_at       INTEGER
);
CREATE INDEX messages_conversation ON messages(conversation_id, id);

-- External-content FTS5 index over message text, kept in step by triggers.
CREATE VIRTUAL TABLE messages_fts USING fts5(
    text, content='messages', content_rowid='id',
    tokenize='unicode61 remove_diacritics 2'
);
CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts(rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF text ON messages BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
    INSERT INTO messages_fts(rowid, text) VALUES (new.id, new.text);
END;

-- `file_name` is the content address under uploads/; `name` is only a
-- sanitised display name and never touches the file system.
CREATE TABLE uploads (
    id             INTEGER PRIMARY KEY,
    public_id      TEXT NOT NULL UNIQUE,
    file_name      TEXT NOT NULL,
    size           INTEGER NOT NULL,
    mime           TEXT NOT NULL,
    name           TEXT NOT NULL,
    uploader_user  INTEGER REFERENCES users(id) ON DELETE SET NULL,
    uploader_key   INTEGER REFERENCES agent_keys(id) ON DELETE SET NULL,
    created_at     INTEGER NOT NULL
);
CREATE INDEX uploads_file ON uploads(file_name);

CREATE TABLE message_attachments (
    message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    upload_id  INTEGER NOT NULL REFERENCES uploads(id) ON DELETE CASCADE,
    PRIMARY KEY (message_id, upload_id)
);
CREATE INDEX message_attachments_upload ON message_attachments(upload_id);
"#;

/// Agents (issue 8): the runtime columns of `agents`, provider settings
/// (their API keys live in the vault, never here), token and spend usage
/// per agent, conversation and UTC day, and per-message metadata (tool
/// calls, injection flags, errors) for agent replies.
const V4: &str = r#"
ALTER TABLE agents ADD COLUMN model TEXT NOT NULL DEFAULT '';
ALTER TABLE agents ADD COLUMN description TEXT NOT NULL DEFAULT '';
ALTER TABLE agents ADD COLUMN tools TEXT NOT NULL DEFAULT '[]';
ALTER TABLE agents ADD COLUMN memory_enabled INTEGER NOT NULL DEFAULT 1;
ALTER TABLE agents ADD COLUMN knowledge_enabled INTEGER NOT NULL DEFAULT 1;
ALTER TABLE agents ADD COLUMN context_tokens INTEGER NOT NULL DEFAULT 8192;
ALTER TABLE agents ADD COLUMN tokens_per_turn INTEGER NOT NULL DEFAULT 20000;
ALTER TABLE agents ADD COLUMN tokens_per_conversation_day INTEGER NOT NULL DEFAULT 200000;
ALTER TABLE agents ADD COLUMN daily_spend_cap_micros INTEGER;
ALTER TABLE agents ADD COLUMN created_by INTEGER REFERENCES users(id) ON DELETE SET NULL;
ALTER TABLE agents ADD COLUMN updated_at INTEGER NOT NULL DEFAULT 0;

CREATE TABLE providers (
    name                  TEXT PRIMARY KEY COLLATE NOCASE,
    kind                  TEXT NOT NULL CHECK (kind IN ('openai','ollama','anthropic')),
    base_url              TEXT NOT NULL,
    models                TEXT NOT NULL DEFAULT '[]',
    embedding_model       TEXT,
    input_micros_per_mtok  INTEGER NOT NULL DEFAULT 0,
    output_micros_per_mtok INTEGER NOT NULL DEFAULT 0,
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL
);

CREATE TABLE agent_usage (
    agent_id        INTEGER NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    day             TEXT NOT NULL,
    input_tokens    INTEGER NOT NULL DEFAULT 0,
    output_tokens   INTEGER NOT NULL DEFAULT 0,
    spend_micros    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (agent_id, conversation_id, day)
);
CREATE INDEX agent_usage_day ON agent_usage(agent_id, day);

ALTER TABLE messages ADD COLUMN meta TEXT NOT NULL DEFAULT '{}';
"#;

#[cfg(test)]
mod tests {
    #[test]
    fn migrations_are_valid() {
        super::migrations().validate().unwrap();
    }
}
