//! SQL for channel group chats: queueing a group message with its chat
//! and message id, reading them back for the answer, and the conversation
//! each (sender, agent, group chat) has apart from the private one.
//!
//! Owns only storage; who may speak in a group is `channels`'. A group
//! conversation is never found through `channel_sender_of` (so an agent's
//! `send_message` from it reaches nobody in the group).

use rusqlite::{OptionalExtension, Transaction, params};

use super::channels::SenderRow;
use super::{Store, StoreError};

impl Store {
    /// Queues a paired sender's message from group `chat` (its id there
    /// is `reply_to`); `None` for a redelivery.
    pub async fn channel_inbound_enqueue_group(
        &self,
        channel: &str,
        message_key: &str,
        sender_id: i64,
        text: &str,
        chat: &str,
        reply_to: &str,
    ) -> Result<Option<i64>, StoreError> {
        let (c, k, t) = (
            channel.to_string(),
            message_key.to_string(),
            text.to_string(),
        );
        let (chat, reply_to) = (chat.to_string(), reply_to.to_string());
        self.write(move |conn| {
            let n = conn
                .prepare_cached(
                    "INSERT INTO channel_inbound (channel, message_key, sender_id, text, received_at,
                       state, chat, reply_to)
                     VALUES (?1, ?2, ?3, ?4, ?5, 'queued', ?6, ?7)
                     ON CONFLICT (channel, message_key) DO NOTHING",
                )?
                .execute(params![
                    c,
                    k,
                    sender_id,
                    t,
                    crate::auth::now_secs(),
                    chat,
                    reply_to
                ])?;
            Ok((n > 0).then(|| conn.last_insert_rowid()))
        })
        .await
    }

    /// The group chat and message id a queued row answers, if it came
    /// from a group.
    pub async fn channel_inbound_group(
        &self,
        id: i64,
    ) -> Result<Option<(String, String)>, StoreError> {
        self.read(move |conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT chat, coalesce(reply_to, '') FROM channel_inbound
                     WHERE id = ?1 AND chat IS NOT NULL",
                )?
                .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?)
        })
        .await
    }
}

/// The group chat of a queued row, inside a transaction.
pub(super) fn inbound_chat(tx: &Transaction<'_>, id: i64) -> Result<Option<String>, StoreError> {
    Ok(tx
        .prepare_cached("SELECT chat FROM channel_inbound WHERE id = ?1")?
        .query_row([id], |r| r.get::<_, Option<String>>(0))
        .optional()?
        .flatten())
}

/// The sender's conversation with `agent_id` for group `chat`, created on
/// first use (the sender and the agent are its members).
pub(super) fn group_conversation(
    tx: &Transaction<'_>,
    sender: &SenderRow,
    agent_id: i64,
    chat: &str,
    now: i64,
) -> Result<i64, StoreError> {
    let existing: Option<i64> = tx
        .prepare_cached(
            "SELECT conversation_id FROM channel_group_conversations
             WHERE sender_id = ?1 AND agent_id = ?2 AND chat = ?3",
        )?
        .query_row(params![sender.id, agent_id, chat], |r| r.get(0))
        .optional()?;
    if let Some(id) = existing {
        return Ok(id);
    }
    let title = format!("{} group {} · {}", sender.channel, chat, sender.external_id);
    let id = super::channels::new_sender_conversation(tx, &title, sender, agent_id, now)?;
    tx.execute(
        "INSERT INTO channel_group_conversations (sender_id, agent_id, chat, conversation_id)
         VALUES (?1, ?2, ?3, ?4)",
        params![sender.id, agent_id, chat, id],
    )?;
    Ok(id)
}
