-- PostgreSQL schema, version 11 (mirrors SQLite V_CHANNELS_GROUPS in
-- channels_schema.rs). A queued message from a group chat remembers the
-- chat and its message id there, and each (sender, agent, chat) has a
-- conversation of its own, apart from the sender's private one.

ALTER TABLE channel_inbound ADD COLUMN chat TEXT;
ALTER TABLE channel_inbound ADD COLUMN reply_to TEXT;

CREATE TABLE channel_group_conversations (
    sender_id       BIGINT NOT NULL REFERENCES channel_senders(id) ON DELETE CASCADE,
    agent_id        BIGINT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    chat            TEXT NOT NULL,
    conversation_id BIGINT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    PRIMARY KEY (sender_id, agent_id, chat)
);
CREATE INDEX channel_group_conversations_conv ON channel_group_conversations (conversation_id);
