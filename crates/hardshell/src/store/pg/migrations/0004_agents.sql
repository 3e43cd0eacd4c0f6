-- PostgreSQL schema, version 4 (mirrors SQLite V4: agents). The runtime
-- columns of `agents`, provider settings (their API keys live in the vault,
-- never here), token and spend usage per agent, conversation and UTC day,
-- and per-message metadata (tool calls, injection flags, errors) for agent
-- replies.

ALTER TABLE agents ADD COLUMN model TEXT NOT NULL DEFAULT '';
ALTER TABLE agents ADD COLUMN description TEXT NOT NULL DEFAULT '';
ALTER TABLE agents ADD COLUMN tools TEXT NOT NULL DEFAULT '[]';
ALTER TABLE agents ADD COLUMN memory_enabled BOOLEAN NOT NULL DEFAULT true;
ALTER TABLE agents ADD COLUMN knowledge_enabled BOOLEAN NOT NULL DEFAULT true;
ALTER TABLE agents ADD COLUMN context_tokens BIGINT NOT NULL DEFAULT 8192;
ALTER TABLE agents ADD COLUMN tokens_per_turn BIGINT NOT NULL DEFAULT 20000;
ALTER TABLE agents ADD COLUMN tokens_per_conversation_day BIGINT NOT NULL DEFAULT 200000;
ALTER TABLE agents ADD COLUMN daily_spend_cap_micros BIGINT;
ALTER TABLE agents ADD COLUMN created_by BIGINT REFERENCES users(id) ON DELETE SET NULL;
ALTER TABLE agents ADD COLUMN updated_at BIGINT NOT NULL DEFAULT 0;

-- SQLite: `name TEXT PRIMARY KEY COLLATE NOCASE`. The primary key stays on
-- the exact name; `providers_name_lower` makes it unique without regard to
-- case. An upsert must name that index's expression
-- (`ON CONFLICT ((lower(name)))`) to behave like SQLite's `ON CONFLICT(name)`.
CREATE TABLE providers (
    name                   TEXT PRIMARY KEY,
    kind                   TEXT NOT NULL CHECK (kind IN ('openai','ollama','anthropic')),
    base_url               TEXT NOT NULL,
    models                 TEXT NOT NULL DEFAULT '[]',
    embedding_model        TEXT,
    input_micros_per_mtok  BIGINT NOT NULL DEFAULT 0,
    output_micros_per_mtok BIGINT NOT NULL DEFAULT 0,
    created_at             BIGINT NOT NULL,
    updated_at             BIGINT NOT NULL
);
CREATE UNIQUE INDEX providers_name_lower ON providers (lower(name));

CREATE TABLE agent_usage (
    agent_id        BIGINT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    conversation_id BIGINT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    day             TEXT NOT NULL,
    input_tokens    BIGINT NOT NULL DEFAULT 0,
    output_tokens   BIGINT NOT NULL DEFAULT 0,
    spend_micros    BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (agent_id, conversation_id, day)
);
CREATE INDEX agent_usage_day ON agent_usage (agent_id, day);

ALTER TABLE messages ADD COLUMN meta TEXT NOT NULL DEFAULT '{}';
