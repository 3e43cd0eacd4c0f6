//! SQL for channel work done after an update is stored: a Telegram file
//! still to fetch for a queued message, and the Telegram approval prompts
//! whose request was decided (or expired) and whose message still shows
//! its buttons.
//!
//! Owns only storage. Whether a file is accepted is
//! `channels::telegram_media`'s call and what a closed prompt says is
//! `channels::telegram_approvals`'; nothing here talks to Telegram.

use rusqlite::{OptionalExtension, params};

use super::{Store, StoreError};

/// A file a queued message carries, not fetched yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingFile {
    pub file_id: String,
    /// The size the message declared, if any.
    pub declared: Option<u64>,
    /// The sender's file name (display only), for a document.
    pub name: Option<String>,
}

/// A sent prompt whose approval is no longer pending.
#[derive(Clone, Debug)]
pub struct StalePrompt {
    pub id: i64,
    pub approval_id: i64,
    /// The chat it went to (the sender's platform id).
    pub chat: String,
    pub message_id: i64,
    /// The approval's status now.
    pub status: String,
    /// Who decided it, if a user did.
    pub decided_by: Option<String>,
    pub tool: String,
    pub target: String,
}

impl Store {
    /// Queues a paired sender's message together with the file still to
    /// fetch, in one transaction; `None` for a redelivery.
    pub async fn channel_inbound_enqueue_file(
        &self,
        channel: &str,
        message_key: &str,
        sender_id: i64,
        text: &str,
        file: PendingFile,
    ) -> Result<Option<i64>, StoreError> {
        let (c, k, t) = (
            channel.to_string(),
            message_key.to_string(),
            text.to_string(),
        );
        let declared = file.declared.and_then(|n| i64::try_from(n).ok());
        self.write(move |conn| {
            let tx = conn.transaction()?;
            let n = tx
                .prepare_cached(
                    "INSERT INTO channel_inbound (channel, message_key, sender_id, text, received_at, state)
                     VALUES (?1, ?2, ?3, ?4, ?5, 'queued') ON CONFLICT (channel, message_key) DO NOTHING",
                )?
                .execute(params![c, k, sender_id, t, crate::auth::now_secs()])?;
            if n == 0 {
                return Ok(None);
            }
            let id = tx.last_insert_rowid();
            tx.prepare_cached(
                "INSERT INTO channel_inbound_files (inbound_id, file_id, declared, name)
                 VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![id, file.file_id, declared, file.name])?;
            tx.commit()?;
            Ok(Some(id))
        })
        .await
    }

    /// The file queue row `inbound_id` still waits for, if any.
    pub async fn channel_inbound_file(
        &self,
        inbound_id: i64,
    ) -> Result<Option<PendingFile>, StoreError> {
        self.read(move |conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT file_id, declared, name FROM channel_inbound_files WHERE inbound_id = ?1",
                )?
                .query_row([inbound_id], |r| {
                    let declared: Option<i64> = r.get(1)?;
                    Ok(PendingFile {
                        file_id: r.get(0)?,
                        declared: declared.and_then(|n| u64::try_from(n).ok()),
                        name: r.get(2)?,
                    })
                })
                .optional()?)
        })
        .await
    }

    /// The file was fetched and stored as `upload_id`: it is attached when
    /// the message is posted, and no longer pending (one transaction).
    pub async fn channel_inbound_file_stored(
        &self,
        inbound_id: i64,
        upload_id: i64,
    ) -> Result<(), StoreError> {
        self.write(move |conn| {
            let tx = conn.transaction()?;
            tx.prepare_cached("DELETE FROM channel_inbound_files WHERE inbound_id = ?1")?
                .execute([inbound_id])?;
            tx.prepare_cached(
                "INSERT OR IGNORE INTO channel_inbound_uploads (inbound_id, upload_id) VALUES (?1, ?2)",
            )?
            .execute(params![inbound_id, upload_id])?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    /// The file was refused: the row's answer becomes `reply` (why), so it
    /// is sent once and no turn runs (one transaction).
    pub async fn channel_inbound_file_refused(
        &self,
        inbound_id: i64,
        reply: &str,
    ) -> Result<(), StoreError> {
        let reply = reply.to_string();
        self.write(move |conn| {
            let tx = conn.transaction()?;
            tx.prepare_cached("DELETE FROM channel_inbound_files WHERE inbound_id = ?1")?
                .execute([inbound_id])?;
            tx.prepare_cached(
                "UPDATE channel_inbound SET state = 'reply', reply = ?2 WHERE id = ?1 AND state = 'queued'",
            )?
            .execute(params![inbound_id, reply])?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    /// Records the Telegram message a prompt went out as (once: a prompt
    /// sent before this was recorded learns it from a button press).
    pub async fn channel_prompt_sent(&self, id: i64, message_id: i64) -> Result<(), StoreError> {
        self.write(move |conn| {
            conn.prepare_cached(
                "UPDATE channel_approval_prompts SET message_id = ?2
                 WHERE id = ?1 AND message_id IS NULL",
            )?
            .execute(params![id, message_id])?;
            Ok(())
        })
        .await
    }

    /// Sent prompts, not closed yet, whose approval is no longer pending.
    pub async fn channel_prompts_stale(&self) -> Result<Vec<StalePrompt>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT p.id, p.approval_id, s.external_id, p.message_id, a.status, u.username,
                        a.tool, a.target
                 FROM channel_approval_prompts p
                 JOIN channel_senders s ON s.id = p.sender_id
                 JOIN approvals a ON a.id = p.approval_id
                 LEFT JOIN users u ON u.id = a.decided_by
                 WHERE p.closed_at IS NULL AND p.message_id IS NOT NULL AND a.status != 'pending'
                 ORDER BY p.id LIMIT 100",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok(StalePrompt {
                    id: r.get(0)?,
                    approval_id: r.get(1)?,
                    chat: r.get(2)?,
                    message_id: r.get(3)?,
                    status: r.get(4)?,
                    decided_by: r.get(5)?,
                    tool: r.get(6)?,
                    target: r.get(7)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    /// Claims a stale prompt for its edit: true for the one caller that
    /// closes it (`reopen` undoes it when the edit could not be made).
    pub async fn channel_prompt_close(&self, id: i64, reopen: bool) -> Result<bool, StoreError> {
        self.write(move |conn| {
            let n = if reopen {
                conn.prepare_cached(
                    "UPDATE channel_approval_prompts SET closed_at = NULL WHERE id = ?1",
                )?
                .execute([id])?
            } else {
                conn.prepare_cached(
                    "UPDATE channel_approval_prompts SET closed_at = ?2
                     WHERE id = ?1 AND closed_at IS NULL",
                )?
                .execute(params![id, crate::auth::now_secs()])?
            };
            Ok(n > 0)
        })
        .await
    }
}
