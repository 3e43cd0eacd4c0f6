//! Schema V6 (issue 15): trust levels and their history, approvals with
//! the parked turn beside them, "allow always" rules, and secret bindings.
//! Kept apart from `migrations.rs` so the gate's code owns its tables.

/// Levels are 0..=4 per (agent, domain); `failures` is the current streak
/// of failed or denied calls. An approval's `parked` holds the turn's saved
/// state until it has resumed; `claimed` marks a resume in progress. At
/// most one pending approval exists per (agent, conversation, fingerprint).
pub(super) const V6: &str = r#"
CREATE TABLE trust_levels (
    agent_id INTEGER NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    domain   TEXT NOT NULL,
    level    INTEGER NOT NULL CHECK (level BETWEEN 0 AND 4),
    failures INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (agent_id, domain)
);

CREATE TABLE trust_history (
    id         INTEGER PRIMARY KEY,
    agent_id   INTEGER NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    domain     TEXT NOT NULL,
    old_level  INTEGER NOT NULL,
    new_level  INTEGER NOT NULL,
    reason     TEXT NOT NULL,
    actor_kind TEXT NOT NULL,
    actor_id   TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX trust_history_agent ON trust_history(agent_id, id);

CREATE TABLE approvals (
    id              INTEGER PRIMARY KEY,
    agent_id        INTEGER NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    tool            TEXT NOT NULL,
    domain          TEXT NOT NULL,
    fingerprint     TEXT NOT NULL,
    target          TEXT NOT NULL,
    arguments       TEXT NOT NULL,
    taint_source    TEXT,
    reason          TEXT NOT NULL,
    status          TEXT NOT NULL
                    CHECK (status IN ('pending','approved','denied','expired','dispatched')),
    merged          INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    decided_at      INTEGER,
    decided_by      INTEGER REFERENCES users(id) ON DELETE SET NULL,
    dispatched_at   INTEGER,
    parked          TEXT,
    claimed         INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX approvals_one_pending
    ON approvals(agent_id, conversation_id, fingerprint) WHERE status = 'pending';
CREATE INDEX approvals_status ON approvals(status, expires_at);

CREATE TABLE allow_rules (
    id         INTEGER PRIMARY KEY,
    agent_id   INTEGER NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    tool       TEXT NOT NULL,
    scope      TEXT NOT NULL,
    created_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (agent_id, tool, scope)
);

CREATE TABLE secret_bindings (
    name        TEXT PRIMARY KEY,
    scheme      TEXT NOT NULL CHECK (scheme IN ('http','https')),
    host        TEXT NOT NULL,
    port        INTEGER NOT NULL,
    path_prefix TEXT,
    slots       TEXT NOT NULL DEFAULT '[]',
    updated_at  INTEGER NOT NULL
);
"#;
