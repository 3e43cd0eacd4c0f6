//! SQL for the `uploads` table and the read-access rule for an upload.
//!
//! Access is decided here, in one query, from who uploaded it and from
//! conversation membership through `message_attachments`; never from
//! anything the client claims. `file_name` is the content address under
//! `uploads/`; `name` is a display string only.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::{Store, StoreError};

/// One stored upload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadRow {
    pub row_id: i64,
    pub public_id: String,
    /// Content address (hex) of the encrypted file under `uploads/`.
    pub file_name: String,
    pub size: i64,
    pub mime: String,
    /// Sanitised display name.
    pub name: String,
    pub uploader_user: Option<i64>,
    pub uploader_key: Option<i64>,
    pub created_at: i64,
}

/// What the upload handler inserts.
pub struct NewUpload {
    pub public_id: String,
    pub file_name: String,
    pub size: i64,
    pub mime: String,
    pub name: String,
    pub uploader_user: Option<i64>,
    pub uploader_key: Option<i64>,
    pub created_at: i64,
}

/// Who asks to read an upload.
#[derive(Clone, Copy, Debug)]
pub struct Reader {
    /// The calling user, if a human is calling.
    pub user: Option<i64>,
    /// The calling agent key's row id, if a key is calling.
    pub key: Option<i64>,
    /// `Principal::membership_user()`: whose conversations bound the caller.
    pub membership_user: Option<i64>,
}

const COLS: &str =
    "id, public_id, file_name, size, mime, name, uploader_user, uploader_key, created_at";

fn from_row(r: &Row<'_>) -> rusqlite::Result<UploadRow> {
    Ok(UploadRow {
        row_id: r.get(0)?,
        public_id: r.get(1)?,
        file_name: r.get(2)?,
        size: r.get(3)?,
        mime: r.get(4)?,
        name: r.get(5)?,
        uploader_user: r.get(6)?,
        uploader_key: r.get(7)?,
        created_at: r.get(8)?,
    })
}

/// True if `reader` uploaded `upload`, or its membership user is in a
/// conversation holding a message that attaches it.
pub(crate) fn readable_conn(
    conn: &Connection,
    upload: &UploadRow,
    reader: Reader,
) -> Result<bool, StoreError> {
    let own_user = reader.user.is_some() && reader.user == upload.uploader_user;
    let own_key = reader.key.is_some() && reader.key == upload.uploader_key;
    if own_user || own_key {
        return Ok(true);
    }
    let Some(member) = reader.membership_user else {
        return Ok(false);
    };
    let mut stmt = conn.prepare_cached(
        "SELECT 1 FROM message_attachments ma \
         JOIN messages m ON m.id = ma.message_id \
         JOIN conversation_members cm ON cm.conversation_id = m.conversation_id \
         WHERE ma.upload_id = ?1 AND cm.user_id = ?2 LIMIT 1",
    )?;
    Ok(stmt.exists(params![upload.row_id, member])?)
}

/// The upload with this public id, if any.
pub(crate) fn by_public_id_conn(
    conn: &Connection,
    public_id: &str,
) -> Result<Option<UploadRow>, StoreError> {
    let mut stmt =
        conn.prepare_cached(&format!("SELECT {COLS} FROM uploads WHERE public_id = ?1"))?;
    Ok(stmt.query_row([public_id], from_row).optional()?)
}

impl Store {
    /// Records an upload whose encrypted file is already in place.
    pub async fn upload_insert(&self, new: NewUpload) -> Result<UploadRow, StoreError> {
        self.write(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "INSERT INTO uploads (public_id, file_name, size, mime, name, uploader_user, \
                 uploader_key, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
                 RETURNING {COLS}"
            ))?;
            Ok(stmt.query_row(
                params![
                    new.public_id,
                    new.file_name,
                    new.size,
                    new.mime,
                    new.name,
                    new.uploader_user,
                    new.uploader_key,
                    new.created_at
                ],
                from_row,
            )?)
        })
        .await
    }

    /// The upload `public_id` if `reader` may read it. An upload that
    /// exists but is not readable is `None`, exactly like a missing one.
    pub async fn upload_for_reader(
        &self,
        public_id: String,
        reader: Reader,
    ) -> Result<Option<UploadRow>, StoreError> {
        self.read(move |conn| {
            let Some(up) = by_public_id_conn(conn, &public_id)? else {
                return Ok(None);
            };
            Ok(readable_conn(conn, &up, reader)?.then_some(up))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::DbKey;

    fn new_upload(public_id: &str, user: Option<i64>, key: Option<i64>) -> NewUpload {
        NewUpload {
            public_id: public_id.into(),
            file_name: "ab".repeat(32),
            size: 3,
            mime: "text/plain".into(),
            name: "a.txt".into(),
            uploader_user: user,
            uploader_key: key,
            created_at: 1,
        }
    }

    #[tokio::test]
    async fn only_the_uploader_or_a_member_of_an_attaching_conversation_reads() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(&tmp.path().join("db"), DbKey::generate()).unwrap();
        let (ann, bob, cat) = store
            .write(|conn| {
                let mut ids = Vec::new();
                for n in ["ann", "bob", "cat"] {
                    ids.push(
                        crate::store::users::insert_user(conn, n, crate::auth::Role::Member, None)?
                            .id,
                    );
                }
                Ok((ids[0], ids[1], ids[2]))
            })
            .await
            .unwrap();
        let up = store
            .upload_insert(new_upload("p".repeat(22).as_str(), Some(ann), None))
            .await
            .unwrap();
        let reader = |u: i64| Reader {
            user: Some(u),
            key: None,
            membership_user: Some(u),
        };
        let pid = up.public_id.clone();
        assert!(
            store
                .upload_for_reader(pid.clone(), reader(ann))
                .await
                .unwrap()
                .is_some()
        );
        assert!(
            store
                .upload_for_reader(pid.clone(), reader(bob))
                .await
                .unwrap()
                .is_none()
        );
        // A key whose membership user is ann, but which did not upload it,
        // sees it only through a conversation.
        let key_reader = Reader {
            user: None,
            key: Some(99),
            membership_user: Some(ann),
        };
        assert!(
            store
                .upload_for_reader(pid.clone(), key_reader)
                .await
                .unwrap()
                .is_none()
        );
        let row = up.row_id;
        store
            .write(move |conn| {
                conn.execute(
                    "INSERT INTO conversations (id, kind, title, created_by, created_at, last_activity_at) \
                     VALUES (1, 'group', 't', ?1, 1, 1)",
                    [ann],
                )?;
                for u in [ann, bob] {
                    conn.execute(
                        "INSERT INTO conversation_members (conversation_id, user_id, added_at) VALUES (1, ?1, 1)",
                        [u],
                    )?;
                }
                conn.execute(
                    "INSERT INTO messages (id, conversation_id, author_user_id, author_kind, text, html, created_at) \
                     VALUES (1, 1, ?1, 'user', 'x', 'x', 1)",
                    [ann],
                )?;
                conn.execute(
                    "INSERT INTO message_attachments (message_id, upload_id) VALUES (1, ?1)",
                    [row],
                )?;
                Ok(())
            })
            .await
            .unwrap();
        assert!(
            store
                .upload_for_reader(pid.clone(), reader(bob))
                .await
                .unwrap()
                .is_some()
        );
        assert!(
            store
                .upload_for_reader(pid.clone(), key_reader)
                .await
                .unwrap()
                .is_some()
        );
        assert!(
            store
                .upload_for_reader(pid.clone(), reader(cat))
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            store
                .upload_for_reader("nope".into(), reader(ann))
                .await
                .unwrap()
                .is_none()
        );
    }
}
