-- PostgreSQL schema, version 12 (mirrors SQLite V_CHANNELS_DEFERRED in
-- channels_schema.rs). A Telegram photo or document is queued with the file
-- still to fetch (`channel_inbound_files`, deleted when the file is stored
-- or refused). An approval prompt remembers the Telegram message it went out
-- as; `closed_at` is set once that message was edited (or the edit claimed).
--
-- `inbound_id` is SQLite's `INTEGER PRIMARY KEY REFERENCES channel_inbound`:
-- always the queued message's id, so no identity.

CREATE TABLE channel_inbound_files (
    inbound_id BIGINT PRIMARY KEY REFERENCES channel_inbound(id) ON DELETE CASCADE,
    file_id    TEXT NOT NULL,
    declared   BIGINT,
    name       TEXT
);

ALTER TABLE channel_approval_prompts ADD COLUMN message_id BIGINT;
ALTER TABLE channel_approval_prompts ADD COLUMN closed_at BIGINT;
CREATE INDEX channel_approval_prompts_open
    ON channel_approval_prompts (approval_id) WHERE closed_at IS NULL AND message_id IS NOT NULL;
