//! SQL for one person's data (docs/architecture.md, "Operations: backups and doctor"): reading everything that is
//! theirs for an export, and erasing it with their account.
//!
//! Reads and erases rows only. It never touches the audit log (the chain
//! must keep verifying; entries about the user stay), never deletes another
//! person's message, and never removes a file: it returns the content
//! addresses no row names any more and the caller removes those.

use rusqlite::{Connection, params};
use serde_json::Value;

use super::users::UserRow;
use super::{Store, StoreError};

/// Everything stored about one user, as plain JSON rows.
#[derive(Debug, Clone)]
pub struct UserData {
    pub user: UserRow,
    /// Messages they wrote, with their conversation's title.
    pub messages: Vec<Value>,
    /// Uploads they made (`file_name` is the content address to read).
    pub uploads: Vec<Value>,
    /// Memories about them, and those they wrote as an owner.
    pub memories: Vec<Value>,
    pub bookmarks: Vec<Value>,
    pub bookmark_folders: Vec<Value>,
    /// Sessions, live and past; never a token or its hash.
    pub sessions: Vec<Value>,
    /// Audit entries they made or that name them as the target.
    pub audit: Vec<audit::Entry>,
}

/// What an erasure removed.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Erased {
    /// Their messages in conversations other people still use, now tombstones.
    pub tombstoned_messages: u64,
    /// Conversations nobody else belonged to, deleted with their messages.
    pub deleted_conversations: u64,
    pub deleted_memories: u64,
    pub deleted_uploads: u64,
    pub deleted_bookmarks: u64,
    /// Content addresses under `uploads/` that no upload row names any more.
    #[serde(skip)]
    pub orphan_files: Vec<String>,
    /// The tombstones as they now read, for live clients.
    #[serde(skip)]
    pub tombstones: Vec<super::chat::MessageRow>,
}

/// The text and HTML a message keeps after its author's erasure.
pub const TOMBSTONE_HTML: &str = "<p><em>message removed</em></p>";

fn json_rows(conn: &Connection, sql: &str, id: i64) -> Result<Vec<Value>, StoreError> {
    let mut stmt = conn.prepare(sql)?;
    let rows = stmt.query_map([id], |r| r.get::<_, String>(0))?;
    let mut out = Vec::new();
    for r in rows {
        out.push(serde_json::from_str(&r?).unwrap_or(Value::Null));
    }
    Ok(out)
}

const MESSAGES: &str = "SELECT json_object('id', m.id, 'conversation_id', m.conversation_id,
        'conversation', c.title, 'text', m.text, 'reply_to', m.reply_to,
        'created_at', m.created_at, 'edited_at', m.edited_at,
        'attachments', (SELECT json_group_array(u.public_id) FROM message_attachments a
                        JOIN uploads u ON u.id = a.upload_id WHERE a.message_id = m.id))
    FROM messages m JOIN conversations c ON c.id = m.conversation_id
    WHERE m.author_user_id = ?1 ORDER BY m.id";

const UPLOADS: &str = "SELECT json_object('public_id', public_id, 'name', name, 'mime', mime,
        'size', size, 'created_at', created_at, 'file_name', file_name)
    FROM uploads WHERE uploader_user = ?1 ORDER BY id";

const MEMORIES: &str = "SELECT json_object('id', m.id, 'agent', a.handle, 'scope', m.scope,
        'conversation_id', m.conversation_id, 'text', m.text, 'source', m.source,
        'created_at', m.created_at)
    FROM agent_memories m JOIN agents a ON a.id = m.agent_id
    WHERE m.user_id = ?1 OR m.created_by = ?1 ORDER BY m.id";

const BOOKMARKS: &str = "SELECT json_object('id', id, 'url', url, 'title', title,
        'description', description, 'tags', tags, 'folder_id', folder_id,
        'starred', starred, 'archived', archived, 'color', color,
        'created_at', created_at, 'updated_at', updated_at)
    FROM bookmarks WHERE user_id = ?1 ORDER BY id";

const FOLDERS: &str = "SELECT json_object('id', id, 'name', name, 'parent_id', parent_id)
    FROM bookmark_folders WHERE user_id = ?1 ORDER BY id";

const SESSIONS: &str = "SELECT json_object('id', public_id, 'kind', kind,
        'created_at', created_at, 'last_seen_at', last_seen_at, 'expires_at', expires_at,
        'revoked_at', revoked_at, 'ip', ip)
    FROM auth_sessions WHERE user_id = ?1 ORDER BY id";

/// Conversations the user belongs to where no other person does.
const SOLE_CONVERSATIONS: &str = "SELECT cm.conversation_id FROM conversation_members cm
    WHERE cm.user_id = ?1 AND NOT EXISTS (
        SELECT 1 FROM conversation_members o
        WHERE o.conversation_id = cm.conversation_id
          AND o.user_id IS NOT NULL AND o.user_id <> ?1)";

impl Store {
    /// Everything stored about user `id`, read in one transaction.
    pub async fn user_data(&self, id: i64) -> Result<UserData, StoreError> {
        self.read(move |conn| {
            let tx = conn.unchecked_transaction()?;
            let user = super::users::get_user(&tx, id)?;
            let audit = super::audit::entries_about_user(&tx, id)?;
            let data = UserData {
                user,
                messages: json_rows(&tx, MESSAGES, id)?,
                uploads: json_rows(&tx, UPLOADS, id)?,
                memories: json_rows(&tx, MEMORIES, id)?,
                bookmarks: json_rows(&tx, BOOKMARKS, id)?,
                bookmark_folders: json_rows(&tx, FOLDERS, id)?,
                sessions: json_rows(&tx, SESSIONS, id)?,
                audit,
            };
            tx.finish()?;
            Ok(data)
        })
        .await
    }

    /// Deletes user `id` and erases their content, in one transaction:
    /// conversations only they belonged to go; their messages elsewhere
    /// become tombstones without attachments; memories about them or by
    /// them and uploads no remaining message uses are deleted; bookmarks,
    /// sessions and keys go with the account. The last owner is refused.
    pub async fn user_erase(&self, id: i64) -> Result<(UserRow, Erased), StoreError> {
        self.write_revoking(move |conn| {
            let tx = conn.transaction()?;
            let before = super::users::get_user(&tx, id)?;
            let mut erased = Erased::default();
            let sole: Vec<i64> = tx
                .prepare(SOLE_CONVERSATIONS)?
                .query_map([id], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            for conv in &sole {
                erased.deleted_conversations +=
                    tx.execute("DELETE FROM conversations WHERE id = ?1", [conv])? as u64;
            }
            tx.execute(
                "DELETE FROM message_attachments WHERE message_id IN
                    (SELECT id FROM messages WHERE author_user_id = ?1)",
                [id],
            )?;
            let authored: Vec<i64> = tx
                .prepare("SELECT id FROM messages WHERE author_user_id = ?1")?
                .query_map([id], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            erased.tombstoned_messages = tx.execute(
                "UPDATE messages SET text = '', html = ?2, mentions = '[]',
                    meta = '{\"erased\":true}', edited_at = ?3
                 WHERE author_user_id = ?1",
                params![id, TOMBSTONE_HTML, crate::auth::now_secs()],
            )? as u64;
            for message in authored {
                erased
                    .tombstones
                    .push(super::chat::message_by_id(&tx, message)?);
            }
            erased.deleted_memories = tx.execute(
                "DELETE FROM agent_memories WHERE user_id = ?1 OR created_by = ?1",
                [id],
            )? as u64;
            const UNUSED: &str = "uploader_user = ?1 AND NOT EXISTS
                (SELECT 1 FROM message_attachments a WHERE a.upload_id = uploads.id)";
            let files: Vec<String> = tx
                .prepare(&format!(
                    "SELECT DISTINCT file_name FROM uploads WHERE {UNUSED}"
                ))?
                .query_map([id], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            erased.deleted_uploads =
                tx.execute(&format!("DELETE FROM uploads WHERE {UNUSED}"), [id])? as u64;
            for file in files {
                let still_named: bool = tx
                    .prepare_cached("SELECT 1 FROM uploads WHERE file_name = ?1")?
                    .exists([&file])?;
                if !still_named {
                    erased.orphan_files.push(file);
                }
            }
            erased.deleted_bookmarks =
                tx.execute("DELETE FROM bookmarks WHERE user_id = ?1", [id])? as u64;
            tx.execute("DELETE FROM users WHERE id = ?1", [id])?;
            if super::users::active_owners(&tx)? == 0 {
                return Err(super::users::last_owner());
            }
            tx.commit()?;
            Ok((before, erased))
        })
        .await
    }
}
