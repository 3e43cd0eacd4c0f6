//! The chat row types (`MessageRow`, `ConversationRow`, `Ref`) and the
//! read side of conversations and messages, shared with the WebSocket
//! layer (`messages_since`). Writes live in `chat_conversations` and
//! `chat_messages`.
//!
//! Membership is always decided here from `conversation_members`, in the
//! same closure as the read it guards; callers pass the membership user id
//! (`Principal::membership_user`), never anything the client claims.

use std::collections::HashMap;
use std::sync::LazyLock;

use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Store, StoreError};

/// Someone who can be a member, an author or a mention.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Ref {
    /// A human; `id` is 0 when the user has been deleted.
    User { id: i64, name: String },
    /// An agent; `name` is its handle.
    Agent { id: i64, name: String },
    /// An agent key, by its public id and name.
    Key { id: String, name: String },
}

/// An upload as attached to a message (the contract's Upload object).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct AttachmentRow {
    /// The upload's public id.
    pub id: String,
    pub name: String,
    pub mime: String,
    pub size: i64,
    /// True for images the browser may show inline.
    pub inline: bool,
    pub url: String,
}

impl AttachmentRow {
    pub fn new(public_id: String, name: String, mime: String, size: i64) -> Self {
        let inline = is_inline_mime(&mime);
        let url = format!("/api/v1/uploads/{public_id}");
        Self {
            id: public_id,
            name,
            mime,
            size,
            inline,
            url,
        }
    }
}

/// Image types served inline; everything else is a download.
pub fn is_inline_mime(mime: &str) -> bool {
    matches!(
        mime,
        "image/png" | "image/jpeg" | "image/gif" | "image/webp"
    )
}

/// A message as the API and live events show it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct MessageRow {
    pub id: i64,
    pub conversation_id: i64,
    pub author: Ref,
    /// The raw Markdown as written.
    pub text: String,
    /// Sanitised HTML rendered from `text`.
    pub html: String,
    pub mentions: Vec<Ref>,
    pub reply_to: Option<i64>,
    pub attachments: Vec<AttachmentRow>,
    pub created_at: i64,
    pub edited_at: Option<i64>,
    /// Agent replies: turn id, tool calls, injection flag, error, usage.
    /// `{}` for people's messages.
    #[schema(value_type = Object)]
    pub meta: serde_json::Value,
}

/// A conversation as the API and live events show it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ConversationRow {
    pub id: i64,
    /// `group` or `direct`.
    pub kind: String,
    pub title: String,
    pub created_by: Option<i64>,
    pub default_agent_id: Option<i64>,
    pub created_at: i64,
    pub last_activity_at: i64,
    pub members: Vec<Ref>,
    pub last_message_id: Option<i64>,
}

/// Message columns in the order `message_from_row` reads them.
pub(crate) const MESSAGE_COLS: &str = "m.id, m.conversation_id, m.author_kind, \
     m.author_user_id, u.username, m.author_agent_id, a.handle, k.public_id, k.name, \
     m.text, m.html, m.mentions, m.reply_to, m.created_at, m.edited_at, m.meta";
/// How many columns `MESSAGE_COLS` has: extra columns a query appends
/// start at this index.
pub(crate) const MESSAGE_COL_COUNT: usize = 16;
/// The author joins `MESSAGE_COLS` needs, after `FROM messages m`.
pub(crate) const AUTHOR_JOINS: &str = "LEFT JOIN users u ON u.id = m.author_user_id \
     LEFT JOIN agents a ON a.id = m.author_agent_id \
     LEFT JOIN agent_keys k ON k.id = m.author_key_id";

fn message_select() -> String {
    format!("SELECT {MESSAGE_COLS} FROM messages m {AUTHOR_JOINS}")
}

/// Hot-path statements, built once so the statement cache is hit without
/// formatting SQL per request.
static MESSAGE_BY_ID: LazyLock<String> =
    LazyLock::new(|| format!("{} WHERE m.id = ?1", message_select()));
static MESSAGE_PAGE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "{} WHERE m.conversation_id = ?1 AND m.id < ?2 ORDER BY m.id DESC LIMIT ?3",
        message_select()
    )
});
static MESSAGES_SINCE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "{} WHERE m.id > ?2 AND m.conversation_id IN \
         (SELECT conversation_id FROM conversation_members WHERE user_id = ?1) \
         ORDER BY m.id LIMIT ?3",
        message_select()
    )
});

pub(crate) fn message_from_row(r: &Row<'_>) -> rusqlite::Result<MessageRow> {
    // Borrowed, not allocated: this runs for every row of every page.
    let author = match r.get_ref(2)?.as_str()? {
        "agent" => Ref::Agent {
            id: r.get::<_, Option<i64>>(5)?.unwrap_or(0),
            name: r.get::<_, Option<String>>(6)?.unwrap_or_default(),
        },
        "key" => Ref::Key {
            id: r.get::<_, Option<String>>(7)?.unwrap_or_default(),
            name: r.get::<_, Option<String>>(8)?.unwrap_or_default(),
        },
        _ => Ref::User {
            id: r.get::<_, Option<i64>>(3)?.unwrap_or(0),
            name: r
                .get::<_, Option<String>>(4)?
                .unwrap_or_else(|| "deleted user".into()),
        },
    };
    let mentions = r.get_ref(11)?.as_str()?;
    // Written only by us; a damaged value shows no mentions rather than
    // failing the page. Most messages mention no one: skip the parser.
    let mentions = if mentions == "[]" {
        Vec::new()
    } else {
        serde_json::from_str(mentions).unwrap_or_default()
    };
    Ok(MessageRow {
        id: r.get(0)?,
        conversation_id: r.get(1)?,
        author,
        text: r.get(9)?,
        html: r.get(10)?,
        mentions,
        reply_to: r.get(12)?,
        attachments: Vec::new(),
        created_at: r.get(13)?,
        edited_at: r.get(14)?,
        meta: match r.get_ref(15)?.as_str()? {
            "{}" => serde_json::Value::Object(serde_json::Map::new()),
            other => serde_json::from_str(other).unwrap_or_default(),
        },
    })
}

/// Fills `attachments` for `msgs` with one range query over their ids.
/// Rows for messages outside `msgs` (other conversations in the range) are
/// dropped, so the result never leaks them.
pub(crate) fn fill_attachments(
    conn: &Connection,
    msgs: &mut [MessageRow],
) -> Result<(), StoreError> {
    let (Some(lo), Some(hi)) = (
        msgs.iter().map(|m| m.id).min(),
        msgs.iter().map(|m| m.id).max(),
    ) else {
        return Ok(());
    };
    let index: HashMap<i64, usize> = msgs.iter().enumerate().map(|(i, m)| (m.id, i)).collect();
    let mut stmt = conn.prepare_cached(
        "SELECT ma.message_id, up.public_id, up.name, up.mime, up.size \
         FROM message_attachments ma JOIN uploads up ON up.id = ma.upload_id \
         WHERE ma.message_id BETWEEN ?1 AND ?2 ORDER BY ma.message_id, up.id",
    )?;
    let mut rows = stmt.query(params![lo, hi])?;
    while let Some(r) = rows.next()? {
        let mid: i64 = r.get(0)?;
        if let Some(&i) = index.get(&mid) {
            msgs[i].attachments.push(AttachmentRow::new(
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
            ));
        }
    }
    Ok(())
}

pub(crate) fn is_member_conn(
    conn: &Connection,
    conversation_id: i64,
    user_id: i64,
) -> Result<bool, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT 1 FROM conversation_members WHERE user_id = ?1 AND conversation_id = ?2",
    )?;
    Ok(stmt.exists(params![user_id, conversation_id])?)
}

/// One message with its attachments.
pub(crate) fn message_by_id(conn: &Connection, id: i64) -> Result<MessageRow, StoreError> {
    let mut stmt = conn.prepare_cached(&MESSAGE_BY_ID)?;
    let msg = stmt
        .query_row([id], message_from_row)
        .optional()?
        .ok_or(StoreError::NotFound)?;
    let mut one = [msg];
    fill_attachments(conn, &mut one)?;
    let [msg] = one;
    Ok(msg)
}

/// The newest `limit` messages of a conversation with id < `before`,
/// returned oldest first.
pub(crate) fn message_page(
    conn: &Connection,
    conversation_id: i64,
    before: i64,
    limit: usize,
) -> Result<Vec<MessageRow>, StoreError> {
    let mut stmt = conn.prepare_cached(&MESSAGE_PAGE)?;
    let mut msgs: Vec<MessageRow> = stmt
        .query_map(
            params![conversation_id, before, limit as i64],
            message_from_row,
        )?
        .collect::<Result<_, _>>()?;
    msgs.reverse();
    fill_attachments(conn, &mut msgs)?;
    Ok(msgs)
}

pub(crate) const CONVERSATION_COLS: &str = "c.id, c.kind, c.title, c.created_by, c.default_agent_id, \
     c.created_at, c.last_activity_at, \
     (SELECT max(id) FROM messages WHERE conversation_id = c.id)";

pub(crate) fn conversation_from_row(r: &Row<'_>) -> rusqlite::Result<ConversationRow> {
    Ok(ConversationRow {
        id: r.get(0)?,
        kind: r.get(1)?,
        title: r.get(2)?,
        created_by: r.get(3)?,
        default_agent_id: r.get(4)?,
        created_at: r.get(5)?,
        last_activity_at: r.get(6)?,
        members: Vec::new(),
        last_message_id: r.get(7)?,
    })
}

/// Members of one conversation: users by name, then agents by handle.
pub(crate) fn members_of(conn: &Connection, conversation_id: i64) -> Result<Vec<Ref>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT cm.user_id, u.username, cm.agent_id, a.handle FROM conversation_members cm \
         LEFT JOIN users u ON u.id = cm.user_id LEFT JOIN agents a ON a.id = cm.agent_id \
         WHERE cm.conversation_id = ?1 ORDER BY cm.agent_id IS NOT NULL, cm.added_at, cm.rowid",
    )?;
    let rows = stmt
        .query_map([conversation_id], member_ref)?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

pub(crate) fn member_ref(r: &Row<'_>) -> rusqlite::Result<Ref> {
    Ok(match r.get::<_, Option<i64>>(0)? {
        Some(id) => Ref::User {
            id,
            name: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
        },
        None => Ref::Agent {
            id: r.get::<_, Option<i64>>(2)?.unwrap_or(0),
            name: r.get::<_, Option<String>>(3)?.unwrap_or_default(),
        },
    })
}

pub(crate) fn conversation_by_id(
    conn: &Connection,
    conversation_id: i64,
) -> Result<ConversationRow, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {CONVERSATION_COLS} FROM conversations c WHERE c.id = ?1"
    ))?;
    let mut conv = stmt
        .query_row([conversation_id], conversation_from_row)
        .optional()?
        .ok_or(StoreError::NotFound)?;
    conv.members = members_of(conn, conversation_id)?;
    Ok(conv)
}

/// Bumps `last_activity_at` (never backwards).
pub(crate) fn touch_conversation(
    tx: &Transaction<'_>,
    conversation_id: i64,
    now: i64,
) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE conversations SET last_activity_at = max(last_activity_at, ?2) WHERE id = ?1",
        params![conversation_id, now],
    )?;
    Ok(())
}

impl Store {
    /// Every conversation `user_id` belongs to.
    pub async fn conversation_ids_for_user(&self, user_id: i64) -> Result<Vec<i64>, StoreError> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT conversation_id FROM conversation_members WHERE user_id = ?1 \
                 ORDER BY conversation_id",
            )?;
            let ids = stmt
                .query_map([user_id], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            Ok(ids)
        })
        .await
    }

    pub async fn is_member(&self, conversation_id: i64, user_id: i64) -> Result<bool, StoreError> {
        self.read(move |conn| is_member_conn(conn, conversation_id, user_id))
            .await
    }

    /// Messages with id > `since` in the conversations `user_id` belongs
    /// to, oldest first, at most `limit`.
    pub async fn messages_since(
        &self,
        user_id: i64,
        since: i64,
        limit: usize,
    ) -> Result<Vec<MessageRow>, StoreError> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&MESSAGES_SINCE)?;
            let mut msgs: Vec<MessageRow> = stmt
                .query_map(params![user_id, since, limit as i64], message_from_row)?
                .collect::<Result<_, _>>()?;
            fill_attachments(conn, &mut msgs)?;
            Ok(msgs)
        })
        .await
    }
}

impl Store {
    /// The conversation, if `user_id` is a member (else `NotFound`).
    pub async fn conversation_for_member(
        &self,
        conversation_id: i64,
        user_id: i64,
    ) -> Result<ConversationRow, StoreError> {
        self.read(move |conn| {
            if !is_member_conn(conn, conversation_id, user_id)? {
                return Err(StoreError::NotFound);
            }
            conversation_by_id(conn, conversation_id)
        })
        .await
    }

    /// One message of a conversation `user_id` belongs to (else `NotFound`).
    pub async fn message_for_member(
        &self,
        message_id: i64,
        user_id: i64,
    ) -> Result<MessageRow, StoreError> {
        self.read(move |conn| {
            let msg = message_by_id(conn, message_id)?;
            if !is_member_conn(conn, msg.conversation_id, user_id)? {
                return Err(StoreError::NotFound);
            }
            Ok(msg)
        })
        .await
    }
}

/// A request the store refused for a reason the caller can fix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reject {
    /// These usernames do not exist.
    UnknownUsers(Vec<String>),
    UnknownAgent,
    AlreadyMember,
    NotMember,
    /// Direct conversations have fixed members.
    Direct,
    /// This upload id may not be attached by this caller.
    BadAttachment(String),
    /// `reply_to` is not a message of this conversation.
    BadReplyTo,
}

/// A store result whose inner `Err` is a refusal, not a fault.
pub type Outcome<T> = Result<T, Reject>;

pub(crate) enum Fail {
    Store(StoreError),
    Reject(Reject),
}

impl From<StoreError> for Fail {
    fn from(e: StoreError) -> Self {
        Fail::Store(e)
    }
}

impl From<rusqlite::Error> for Fail {
    fn from(e: rusqlite::Error) -> Self {
        Fail::Store(e.into())
    }
}

impl From<Reject> for Fail {
    fn from(r: Reject) -> Self {
        Fail::Reject(r)
    }
}

/// Runs `f` in a transaction; a refusal rolls everything back.
pub(crate) fn in_tx<T>(
    conn: &mut Connection,
    f: impl FnOnce(&Transaction<'_>) -> Result<T, Fail>,
) -> Result<Outcome<T>, StoreError> {
    let tx = conn.transaction()?;
    match f(&tx) {
        Ok(v) => {
            tx.commit()?;
            Ok(Ok(v))
        }
        Err(Fail::Reject(r)) => Ok(Err(r)),
        Err(Fail::Store(e)) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn message_col_count_matches_the_column_list() {
        assert_eq!(
            super::MESSAGE_COLS.split(',').count(),
            super::MESSAGE_COL_COUNT
        );
    }

    use crate::auth::Role;
    use crate::store::chat_conversations::NewConversation;
    use crate::store::chat_messages::{Author, NewMessage};
    use crate::store::{DbKey, Store};

    async fn conv(store: &Store, by: i64, names: &[&str]) -> i64 {
        store
            .conversation_create(NewConversation {
                kind: "group",
                title: Some("t".into()),
                created_by: by,
                usernames: names.iter().map(|n| n.to_string()).collect(),
                agent_id: None,
            })
            .await
            .unwrap()
            .unwrap()
            .id
    }

    async fn say(store: &Store, by: i64, conversation_id: i64, text: &str) -> i64 {
        store
            .message_insert(NewMessage {
                conversation_id,
                author: Author::User(by),
                text: text.into(),
                html: format!("<p>{text}</p>"),
                mentions: Vec::new(),
                reply_to: None,
                attachments: Vec::new(),
            })
            .await
            .unwrap()
            .unwrap()
            .id
    }

    #[tokio::test]
    async fn since_and_membership_reads_stay_inside_the_users_conversations() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(&tmp.path().join("t.db"), DbKey::generate()).unwrap();
        let ann = store
            .user_create("ann".into(), Role::Member, None)
            .await
            .unwrap()
            .id;
        let bob = store
            .user_create("bob".into(), Role::Member, None)
            .await
            .unwrap()
            .id;
        let shared = conv(&store, ann, &["bob"]).await;
        let private = conv(&store, ann, &[]).await;
        let m1 = say(&store, ann, shared, "one").await;
        let _hidden = say(&store, ann, private, "secret").await;
        let m3 = say(&store, bob, shared, "three").await;

        assert_eq!(
            store.conversation_ids_for_user(bob).await.unwrap(),
            [shared]
        );
        assert!(store.is_member(shared, bob).await.unwrap());
        assert!(!store.is_member(private, bob).await.unwrap());
        let ids = |v: Vec<super::MessageRow>| v.into_iter().map(|m| m.id).collect::<Vec<_>>();
        assert_eq!(
            ids(store.messages_since(bob, 0, 500).await.unwrap()),
            [m1, m3]
        );
        assert_eq!(ids(store.messages_since(bob, m1, 500).await.unwrap()), [m3]);
        assert_eq!(ids(store.messages_since(bob, 0, 1).await.unwrap()), [m1]);
        assert_eq!(store.messages_since(ann, 0, 500).await.unwrap().len(), 3);
        let render = |rows: &[super::MessageRow]| {
            serde_json::to_vec(rows).map_err(|_| crate::store::StoreError::TaskFailed)
        };
        assert!(matches!(
            store
                .message_page_rendered(private, bob, None, 50, render)
                .await,
            Err(crate::store::StoreError::NotFound)
        ));
        assert!(store.conversation_for_member(private, bob).await.is_err());
        let body = store
            .message_page_rendered(shared, bob, None, 50, render)
            .await
            .unwrap();
        let page: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(page[1]["text"], "three");
        assert_eq!(
            page[1]["author"],
            serde_json::json!({"kind": "user", "id": bob, "name": "bob"})
        );
    }
}
