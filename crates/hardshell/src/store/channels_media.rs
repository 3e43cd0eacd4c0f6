//! SQL for what channels carry besides text: approval prompts sent to a
//! decider's private chat, and the uploads that came with a queued message.
//!
//! Owns only storage: a prompt's nonce is never stored, only its hash, and
//! whether a button press may decide anything is `channels::telegram_approvals`'
//! call. Uploads are attached to the posted message inside the same
//! transaction that posts it (`channel_inbound_post`); a file still to
//! fetch is `channels_deferred`'.

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::channels::{SENDER_COLS, SenderRow, sender_of};
use super::{Store, StoreError};

/// An approval prompt as stored: who it went to and its nonce's hash.
#[derive(Clone, Debug)]
pub struct PromptRow {
    pub id: i64,
    pub approval_id: i64,
    /// The paired sender the prompt was sent to (revoked or not).
    pub sender: SenderRow,
    pub nonce_hash: Vec<u8>,
    pub used_at: Option<i64>,
}

/// Links a queued message's uploads to the message it became.
pub(super) fn attach_inbound_uploads(
    tx: &Transaction<'_>,
    inbound_id: i64,
    message_id: i64,
) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT OR IGNORE INTO message_attachments (message_id, upload_id)
         SELECT ?2, upload_id FROM channel_inbound_uploads WHERE inbound_id = ?1",
    )?
    .execute(params![inbound_id, message_id])?;
    Ok(())
}

fn prefixed_sender_cols() -> String {
    SENDER_COLS
        .split(", ")
        .map(|c| format!("s.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn prompt_get(
    conn: &Connection,
    approval_id: i64,
    channel: &str,
    external_id: &str,
) -> Result<Option<PromptRow>, StoreError> {
    // The sender's nine columns first, so `sender_of` maps them.
    let sql = format!(
        "SELECT {}, p.id, p.approval_id, p.nonce_hash, p.used_at FROM channel_approval_prompts p
         JOIN channel_senders s ON s.id = p.sender_id
         WHERE p.approval_id = ?1 AND s.channel = ?2 AND s.external_id = ?3",
        prefixed_sender_cols()
    );
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(params![approval_id, channel, external_id], |r| {
            Ok(PromptRow {
                sender: sender_of(r)?,
                id: r.get(9)?,
                approval_id: r.get(10)?,
                nonce_hash: r.get(11)?,
                used_at: r.get(12)?,
            })
        })
        .optional()?)
}

impl Store {
    /// Paired, not revoked senders on `channel` whose user may decide
    /// approvals: enabled owners, and enabled admins when `admins` is set.
    pub async fn channel_deciders(
        &self,
        channel: &str,
        admins: bool,
    ) -> Result<Vec<SenderRow>, StoreError> {
        let channel = channel.to_string();
        self.read(move |conn| {
            let sql = format!(
                "SELECT {} FROM channel_senders s JOIN users u ON u.id = s.user_id
                 WHERE s.channel = ?1 AND s.revoked_at IS NULL AND u.disabled = 0
                   AND (u.role = 'owner' OR (u.role = 'admin' AND ?2))
                 ORDER BY s.id",
                prefixed_sender_cols()
            );
            let rows = conn
                .prepare_cached(&sql)?
                .query_map(params![channel, admins], sender_of)?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .await
    }

    /// Records a prompt for `approval_id` sent to `sender_id`; its id, or
    /// `None` when one was recorded before (a prompt is sent once per
    /// decider).
    pub async fn channel_prompt_create(
        &self,
        approval_id: i64,
        sender_id: i64,
        nonce_hash: Vec<u8>,
    ) -> Result<Option<i64>, StoreError> {
        self.write(move |conn| {
            let n = conn
                .prepare_cached(
                    "INSERT INTO channel_approval_prompts (approval_id, sender_id, nonce_hash, created_at)
                     VALUES (?1, ?2, ?3, ?4) ON CONFLICT (approval_id, sender_id) DO NOTHING",
                )?
                .execute(params![approval_id, sender_id, nonce_hash, crate::auth::now_secs()])?;
            Ok((n > 0).then(|| conn.last_insert_rowid()))
        })
        .await
    }

    /// The prompt for `approval_id` sent to (channel, external id), if any.
    pub async fn channel_prompt(
        &self,
        approval_id: i64,
        channel: &str,
        external_id: &str,
    ) -> Result<Option<PromptRow>, StoreError> {
        let (channel, external_id) = (channel.to_string(), external_id.to_string());
        self.read(move |conn| prompt_get(conn, approval_id, &channel, &external_id))
            .await
    }

    /// Spends a prompt: true for the one caller that marks it used.
    pub async fn channel_prompt_use(&self, id: i64) -> Result<bool, StoreError> {
        self.write(move |conn| {
            let n = conn
                .prepare_cached(
                    "UPDATE channel_approval_prompts SET used_at = ?2 WHERE id = ?1 AND used_at IS NULL",
                )?
                .execute(params![id, crate::auth::now_secs()])?;
            Ok(n > 0)
        })
        .await
    }
}
