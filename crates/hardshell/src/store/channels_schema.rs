//! Schema for channels and pairing (issue 19). Kept apart from
//! `migrations.rs` so the channel code owns its tables.
//!
//! A sender is (channel, external id), never a display name. Codes are
//! stored only as `HMAC-SHA256(pepper, code)`. The inbound queue is keyed
//! by the channel's own message id, so a redelivered message is stored
//! once. Times are Unix seconds.

/// `channel_senders.revoked_at` cuts a sender off; `channel_inbound.state`
/// walks `queued` (stored, not answered) → `reply` (answer stored, not yet
/// sent) → `done`. `channel_seen` remembers webhook signatures for the
/// replay window.
pub(super) const V_CHANNELS: &str = r#"
CREATE TABLE channel_senders (
    id          INTEGER PRIMARY KEY,
    channel     TEXT NOT NULL,
    external_id TEXT NOT NULL,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    display     TEXT NOT NULL DEFAULT '',
    via         TEXT NOT NULL CHECK (via IN ('invite','request')),
    paired_by   INTEGER REFERENCES users(id) ON DELETE SET NULL,
    paired_at   INTEGER NOT NULL,
    revoked_at  INTEGER,
    UNIQUE (channel, external_id)
);

CREATE TABLE pairing_invites (
    id         INTEGER PRIMARY KEY,
    channel    TEXT NOT NULL,
    code_hash  BLOB NOT NULL UNIQUE,
    created_by INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER,
    sender_id  INTEGER REFERENCES channel_senders(id) ON DELETE SET NULL
);

CREATE TABLE pairing_requests (
    id          INTEGER PRIMARY KEY,
    channel     TEXT NOT NULL,
    external_id TEXT NOT NULL,
    display     TEXT NOT NULL DEFAULT '',
    code_hash   BLOB NOT NULL UNIQUE,
    status      TEXT NOT NULL CHECK (status IN ('pending','approved','denied','expired')),
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    decided_by  INTEGER REFERENCES users(id) ON DELETE SET NULL,
    decided_at  INTEGER
);
CREATE UNIQUE INDEX pairing_requests_one_pending
    ON pairing_requests(channel, external_id) WHERE status = 'pending';
CREATE INDEX pairing_requests_status ON pairing_requests(channel, status, created_at);

CREATE TABLE channel_inbound (
    id          INTEGER PRIMARY KEY,
    channel     TEXT NOT NULL,
    message_key TEXT NOT NULL,
    sender_id   INTEGER NOT NULL REFERENCES channel_senders(id) ON DELETE CASCADE,
    text        TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('queued','reply','done','dropped')),
    message_id  INTEGER REFERENCES messages(id) ON DELETE SET NULL,
    reply       TEXT,
    UNIQUE (channel, message_key)
);
CREATE INDEX channel_inbound_open ON channel_inbound(state, id) WHERE state IN ('queued','reply');

CREATE TABLE channel_conversations (
    sender_id       INTEGER NOT NULL REFERENCES channel_senders(id) ON DELETE CASCADE,
    agent_id        INTEGER NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    PRIMARY KEY (sender_id, agent_id)
);

CREATE TABLE channel_seen (
    channel   TEXT NOT NULL,
    signature BLOB NOT NULL,
    seen_at   INTEGER NOT NULL,
    PRIMARY KEY (channel, signature)
);
CREATE INDEX channel_seen_time ON channel_seen(seen_at);
"#;

/// Approval prompts sent to a decider's private chat (only a hash of each
/// button's nonce is kept, bound to the approval and the paired sender it
/// went to; `used_at` makes a prompt single use), and the uploads that
/// arrived with a queued channel message (attached when it is posted).
pub(super) const V_CHANNELS_MEDIA: &str = r#"
CREATE TABLE channel_approval_prompts (
    id          INTEGER PRIMARY KEY,
    approval_id INTEGER NOT NULL REFERENCES approvals(id) ON DELETE CASCADE,
    sender_id   INTEGER NOT NULL REFERENCES channel_senders(id) ON DELETE CASCADE,
    nonce_hash  BLOB NOT NULL,
    created_at  INTEGER NOT NULL,
    used_at     INTEGER,
    UNIQUE (approval_id, sender_id)
);

CREATE TABLE channel_inbound_uploads (
    inbound_id INTEGER NOT NULL REFERENCES channel_inbound(id) ON DELETE CASCADE,
    upload_id  INTEGER NOT NULL REFERENCES uploads(id) ON DELETE CASCADE,
    PRIMARY KEY (inbound_id, upload_id)
);
"#;

/// Group chats (Telegram): a queued message from a group remembers the
/// chat and its message id there (the answer goes back to that group as a
/// reply), and each (sender, agent, chat) has a conversation of its own,
/// apart from the sender's private one.
pub(super) const V_CHANNELS_GROUPS: &str = r#"
ALTER TABLE channel_inbound ADD COLUMN chat TEXT;
ALTER TABLE channel_inbound ADD COLUMN reply_to TEXT;

CREATE TABLE channel_group_conversations (
    sender_id       INTEGER NOT NULL REFERENCES channel_senders(id) ON DELETE CASCADE,
    agent_id        INTEGER NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    chat            TEXT NOT NULL,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    PRIMARY KEY (sender_id, agent_id, chat)
);
CREATE INDEX channel_group_conversations_conv ON channel_group_conversations(conversation_id);
"#;

/// Deferred work (migration 12). A Telegram photo or document is queued
/// with the file still to fetch (`channel_inbound_files`, deleted when the
/// file is stored or refused), so the poller never waits on a download.
/// An approval prompt remembers the Telegram message it went out as, so it
/// can be edited once the request is decided anywhere; `closed_at` is set
/// once that edit was made (or claimed).
pub(super) const V_CHANNELS_DEFERRED: &str = r#"
CREATE TABLE channel_inbound_files (
    inbound_id INTEGER PRIMARY KEY REFERENCES channel_inbound(id) ON DELETE CASCADE,
    file_id    TEXT NOT NULL,
    declared   INTEGER,
    name       TEXT
);

ALTER TABLE channel_approval_prompts ADD COLUMN message_id INTEGER;
ALTER TABLE channel_approval_prompts ADD COLUMN closed_at INTEGER;
CREATE INDEX channel_approval_prompts_open
    ON channel_approval_prompts(approval_id) WHERE closed_at IS NULL AND message_id IS NOT NULL;
"#;
