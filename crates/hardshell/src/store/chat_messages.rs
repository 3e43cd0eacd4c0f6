//! SQL for writing messages (post, edit, delete) and for full-text search.
//!
//! Every write re-checks, inside its transaction, what the handler checked
//! before (membership, `reply_to`, attachment rights), so a concurrent
//! change cannot slip a message past them. Search only ever joins the
//! caller's conversations and takes an FTS5 query built by
//! `chat::search`, never the user's raw text.

use std::sync::LazyLock;

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use utoipa::ToSchema;

use super::chat::{
    AUTHOR_JOINS, Fail, MESSAGE_COL_COUNT, MESSAGE_COLS, MessageRow, Outcome, Ref, Reject,
    fill_attachments, is_member_conn, message_by_id, message_from_row, touch_conversation,
};

/// The posted row read back with its author; prepared once per connection.
static INSERTED: LazyLock<String> = LazyLock::new(|| {
    format!("SELECT {MESSAGE_COLS} FROM messages m {AUTHOR_JOINS} WHERE m.id = ?1")
});
use super::{Store, StoreError};

/// Who writes a message.
#[derive(Clone, Copy, Debug)]
pub enum Author {
    User(i64),
    /// An agent key (row id) acting for its creator (`membership_user`).
    Key {
        key_id: i64,
        creator: i64,
    },
}

impl Author {
    /// The user whose memberships bound this author.
    pub fn membership_user(self) -> i64 {
        match self {
            Author::User(id) => id,
            Author::Key { creator, .. } => creator,
        }
    }
}

/// A message to post; `html` and `mentions` are already rendered.
#[derive(Clone, Debug)]
pub struct NewMessage {
    pub conversation_id: i64,
    pub author: Author,
    pub text: String,
    pub html: String,
    pub mentions: Vec<Ref>,
    pub reply_to: Option<i64>,
    /// Upload public ids, in order, without duplicates.
    pub attachments: Vec<String>,
}

/// One search result.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct SearchHit {
    pub message: MessageRow,
    pub conversation_id: i64,
    /// Plain text around the match; never HTML.
    pub snippet: String,
}

fn mentions_json(m: &[Ref]) -> Result<String, StoreError> {
    serde_json::to_string(m).map_err(|_| StoreError::TaskFailed)
}

/// The upload's row id if `author` may attach it: they uploaded it, or it
/// is already attached in a conversation their membership user is in.
fn attachable(conn: &Connection, public_id: &str, author: Author) -> Result<Option<i64>, Fail> {
    let (by_user, by_key) = match author {
        Author::User(id) => (Some(id), None),
        Author::Key { key_id, .. } => (None, Some(key_id)),
    };
    let mut stmt = conn.prepare_cached(
        "SELECT up.id FROM uploads up WHERE up.public_id = ?1 AND ( \
           up.uploader_user = ?2 OR up.uploader_key = ?3 OR EXISTS ( \
             SELECT 1 FROM message_attachments ma \
             JOIN messages m ON m.id = ma.message_id \
             JOIN conversation_members cm ON cm.conversation_id = m.conversation_id \
             WHERE ma.upload_id = up.id AND cm.user_id = ?4))",
    )?;
    Ok(stmt
        .query_row(
            params![public_id, by_user, by_key, author.membership_user()],
            |r| r.get(0),
        )
        .optional()?)
}

impl Store {
    /// Posts a message: re-checks membership, `reply_to` and every
    /// attachment, then stores it and bumps the conversation's activity.
    pub async fn message_insert(&self, new: NewMessage) -> Result<Outcome<MessageRow>, StoreError> {
        let now = crate::auth::now_secs();
        // Message rows only: cached credentials stay valid. Concurrent
        // posts share one transaction (each in its own savepoint).
        self.write_message(move |conn| {
            let cid = new.conversation_id;
            if !is_member_conn(conn, cid, new.author.membership_user())? {
                return Err(StoreError::NotFound.into());
            }
            if let Some(rid) = new.reply_to {
                let same = conn
                    .prepare_cached(
                        "SELECT 1 FROM messages WHERE id = ?1 AND conversation_id = ?2",
                    )?
                    .exists(params![rid, cid])?;
                if !same {
                    return Err(Reject::BadReplyTo.into());
                }
            }
            let mut upload_ids = Vec::with_capacity(new.attachments.len());
            for pid in &new.attachments {
                match attachable(conn, pid, new.author)? {
                    Some(id) => upload_ids.push(id),
                    None => return Err(Reject::BadAttachment(pid.clone()).into()),
                }
            }
            let (kind, user, key) = match new.author {
                Author::User(id) => ("user", Some(id), None),
                Author::Key { key_id, .. } => ("key", None, Some(key_id)),
            };
            conn.prepare_cached(
                "INSERT INTO messages (conversation_id, author_user_id, author_key_id, \
                 author_kind, text, html, mentions, reply_to, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?
            .execute(params![
                cid,
                user,
                key,
                kind,
                new.text,
                new.html,
                mentions_json(&new.mentions)?,
                new.reply_to,
                now
            ])?;
            let id = conn.last_insert_rowid();
            let attached = !upload_ids.is_empty();
            for uid in upload_ids {
                conn.prepare_cached(
                    "INSERT OR IGNORE INTO message_attachments (message_id, upload_id) \
                     VALUES (?1, ?2)",
                )?
                .execute(params![id, uid])?;
            }
            // As `touch_conversation`, but prepared once: this is the
            // hottest write there is.
            conn.prepare_cached(
                "UPDATE conversations SET last_activity_at = max(last_activity_at, ?2) \
                 WHERE id = ?1",
            )?
            .execute(params![cid, now])?;
            let mut msg = conn
                .prepare_cached(&INSERTED)?
                .query_row([id], message_from_row)?;
            // Without attachments there is nothing more to read back.
            if attached {
                fill_attachments(conn, std::slice::from_mut(&mut msg))?;
            }
            Ok(msg)
        })
        .await
    }

    /// Replaces a message's text, HTML and mentions and stamps `edited_at`.
    pub async fn message_update(
        &self,
        conversation_id: i64,
        message_id: i64,
        text: String,
        html: String,
        mentions: Vec<Ref>,
    ) -> Result<MessageRow, StoreError> {
        let now = crate::auth::now_secs();
        // Message rows only: cached credentials stay valid.
        self.write_no_auth(move |conn| {
            let tx = conn.transaction()?;
            let n = tx.execute(
                "UPDATE messages SET text = ?3, html = ?4, mentions = ?5, edited_at = ?6 \
                 WHERE id = ?1 AND conversation_id = ?2",
                params![
                    message_id,
                    conversation_id,
                    text,
                    html,
                    mentions_json(&mentions)?,
                    now
                ],
            )?;
            if n == 0 {
                return Err(StoreError::NotFound);
            }
            touch_conversation(&tx, conversation_id, now)?;
            let msg = message_by_id(&tx, message_id)?;
            tx.commit()?;
            Ok(msg)
        })
        .await
    }

    /// Deletes a message of this conversation; returns it as it was.
    pub async fn message_delete(
        &self,
        conversation_id: i64,
        message_id: i64,
    ) -> Result<MessageRow, StoreError> {
        // Message rows only: cached credentials stay valid.
        self.write_no_auth(move |conn| {
            let tx = conn.transaction()?;
            let before = message_by_id(&tx, message_id)?;
            if before.conversation_id != conversation_id {
                return Err(StoreError::NotFound);
            }
            tx.execute("DELETE FROM messages WHERE id = ?1", [message_id])?;
            tx.commit()?;
            Ok(before)
        })
        .await
    }

    /// Full-text search over the conversations `user_id` belongs to, best
    /// match first. `fts_query` must come from `chat::search::fts_query`.
    pub async fn search_messages(
        &self,
        user_id: i64,
        fts_query: String,
        limit: usize,
    ) -> Result<Vec<SearchHit>, StoreError> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {MESSAGE_COLS}, snippet(messages_fts, 0, '', '', '…', 16) \
                 FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid {AUTHOR_JOINS} \
                 WHERE messages_fts MATCH ?2 AND m.conversation_id IN \
                   (SELECT conversation_id FROM conversation_members WHERE user_id = ?1) \
                 ORDER BY rank LIMIT ?3"
            ))?;
            let mut snippets = Vec::new();
            let mut msgs = Vec::new();
            let mut rows = stmt.query(params![user_id, fts_query, limit as i64])?;
            while let Some(r) = rows.next()? {
                msgs.push(message_from_row(r)?);
                snippets.push(r.get::<_, String>(MESSAGE_COL_COUNT)?);
            }
            // Hits are in rank order, not id order; attach per message.
            for m in msgs.iter_mut() {
                fill_attachments(conn, std::slice::from_mut(m))?;
            }
            Ok(msgs
                .into_iter()
                .zip(snippets)
                .map(|(message, snippet)| SearchHit {
                    conversation_id: message.conversation_id,
                    message,
                    snippet,
                })
                .collect())
        })
        .await
    }
}
