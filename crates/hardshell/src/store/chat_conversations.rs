//! SQL for creating, changing and deleting conversations and their
//! members, and for listing the caller's conversations.
//!
//! Each change runs in one transaction that re-reads what it depends on
//! (kind, membership, the named user or agent); a refusal rolls it back
//! whole. Who may ask for a change is decided by the handler before.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::chat::{
    CONVERSATION_COLS, ConversationRow, Fail, Outcome, Reject, conversation_by_id,
    conversation_from_row, in_tx, member_ref,
};
use super::{Store, StoreError};

/// What to create.
#[derive(Clone, Debug)]
pub struct NewConversation {
    /// `group` or `direct`.
    pub kind: &'static str,
    /// Already validated; for a direct conversation `None` means the
    /// agent's name.
    pub title: Option<String>,
    pub created_by: i64,
    /// Other members by name (groups): a username, or an enabled agent's
    /// handle (the two share one namespace). With exactly one agent named,
    /// it becomes the group's default agent.
    pub usernames: Vec<String>,
    /// The agent (direct conversations).
    pub agent_id: Option<i64>,
}

/// Who to add or remove.
#[derive(Clone, Debug)]
pub enum MemberTarget {
    Username(String),
    UserId(i64),
    AgentId(i64),
}

/// Changes to a conversation; `default_agent_id: Some(None)` clears it.
#[derive(Clone, Debug, Default)]
pub struct ConversationPatch {
    pub title: Option<String>,
    pub default_agent_id: Option<Option<i64>>,
}

fn user_id_by_name(conn: &Connection, name: &str) -> Result<Option<i64>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT id FROM users WHERE username = ?1")?;
    Ok(stmt.query_row([name], |r| r.get(0)).optional()?)
}

fn user_exists(conn: &Connection, id: i64) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM users WHERE id = ?1")?
        .exists([id])?)
}

/// An enabled agent's id by handle.
fn agent_id_by_handle(conn: &Connection, handle: &str) -> Result<Option<i64>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT id FROM agents WHERE handle = ?1 AND disabled = 0")?
        .query_row([handle], |r| r.get(0))
        .optional()?)
}

/// An enabled agent's name.
fn agent_name(conn: &Connection, id: i64) -> Result<Option<String>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT name FROM agents WHERE id = ?1 AND disabled = 0")?
        .query_row([id], |r| r.get(0))
        .optional()?)
}

fn insert_member(
    tx: &Transaction<'_>,
    conversation_id: i64,
    user_id: Option<i64>,
    agent_id: Option<i64>,
    now: i64,
) -> Result<(), Fail> {
    let res = tx.execute(
        "INSERT INTO conversation_members (conversation_id, user_id, agent_id, added_at) \
         VALUES (?1, ?2, ?3, ?4)",
        params![conversation_id, user_id, agent_id, now],
    );
    match res {
        Ok(_) => Ok(()),
        Err(rusqlite::Error::SqliteFailure(e, _))
            if e.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            Err(Reject::AlreadyMember.into())
        }
        Err(e) => Err(e.into()),
    }
}

/// Resolves a target to (user_id, agent_id); unknown ones are refused.
fn resolve_target(
    conn: &Connection,
    target: &MemberTarget,
) -> Result<(Option<i64>, Option<i64>), Fail> {
    match target {
        MemberTarget::Username(name) => match user_id_by_name(conn, name)? {
            Some(id) => Ok((Some(id), None)),
            None => Err(Reject::UnknownUsers(vec![name.clone()]).into()),
        },
        MemberTarget::UserId(id) if user_exists(conn, *id)? => Ok((Some(*id), None)),
        MemberTarget::UserId(id) => Err(Reject::UnknownUsers(vec![id.to_string()]).into()),
        MemberTarget::AgentId(id) if agent_name(conn, *id)?.is_some() => Ok((None, Some(*id))),
        MemberTarget::AgentId(_) => Err(Reject::UnknownAgent.into()),
    }
}

fn conversation_kind(conn: &Connection, id: i64) -> Result<String, StoreError> {
    conn.prepare_cached("SELECT kind FROM conversations WHERE id = ?1")?
        .query_row([id], |r| r.get(0))
        .optional()?
        .ok_or(StoreError::NotFound)
}

impl Store {
    /// The caller's conversations, newest activity first, with members.
    /// Two queries regardless of how many conversations there are.
    pub async fn conversations_for_user(
        &self,
        user_id: i64,
    ) -> Result<Vec<ConversationRow>, StoreError> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {CONVERSATION_COLS} FROM conversations c \
                 JOIN conversation_members me ON me.conversation_id = c.id AND me.user_id = ?1 \
                 ORDER BY c.last_activity_at DESC, c.id DESC"
            ))?;
            let mut convs: Vec<ConversationRow> = stmt
                .query_map([user_id], conversation_from_row)?
                .collect::<Result<_, _>>()?;
            let index: HashMap<i64, usize> =
                convs.iter().enumerate().map(|(i, c)| (c.id, i)).collect();
            let mut stmt = conn.prepare_cached(
                "SELECT cm.user_id, u.username, cm.agent_id, a.handle, cm.conversation_id \
                 FROM conversation_members cm \
                 LEFT JOIN users u ON u.id = cm.user_id LEFT JOIN agents a ON a.id = cm.agent_id \
                 WHERE cm.conversation_id IN \
                   (SELECT conversation_id FROM conversation_members WHERE user_id = ?1) \
                 ORDER BY cm.conversation_id, cm.agent_id IS NOT NULL, cm.added_at, cm.rowid",
            )?;
            let mut rows = stmt.query([user_id])?;
            while let Some(r) = rows.next()? {
                let cid: i64 = r.get(4)?;
                if let Some(&i) = index.get(&cid) {
                    convs[i].members.push(member_ref(r)?);
                }
            }
            Ok(convs)
        })
        .await
    }

    /// Creates a conversation with its creator and initial members.
    pub async fn conversation_create(
        &self,
        new: NewConversation,
    ) -> Result<Outcome<ConversationRow>, StoreError> {
        let now = crate::auth::now_secs();
        self.write(move |conn| {
            in_tx(conn, |tx| {
                let mut user_ids = vec![new.created_by];
                let mut agent_ids: Vec<i64> = Vec::new();
                let mut unknown = Vec::new();
                for name in &new.usernames {
                    match user_id_by_name(tx, name)? {
                        Some(id) if !user_ids.contains(&id) => user_ids.push(id),
                        Some(_) => {}
                        None => match agent_id_by_handle(tx, name)? {
                            Some(id) if !agent_ids.contains(&id) => agent_ids.push(id),
                            Some(_) => {}
                            None => unknown.push(name.clone()),
                        },
                    }
                }
                if !unknown.is_empty() {
                    return Err(Reject::UnknownUsers(unknown).into());
                }
                let agent = match new.agent_id {
                    Some(id) => Some((id, agent_name(tx, id)?.ok_or(Reject::UnknownAgent)?)),
                    None => None,
                };
                let default_agent = match (&agent, agent_ids.as_slice()) {
                    (Some((id, _)), _) => Some(*id),
                    (None, [only]) => Some(*only),
                    _ => None,
                };
                let title = match (&new.title, &agent) {
                    (Some(t), _) => t.clone(),
                    (None, Some((_, name))) => name.clone(),
                    (None, None) => return Err(Reject::UnknownAgent.into()),
                };
                tx.execute(
                    "INSERT INTO conversations (kind, title, created_by, default_agent_id, \
                     created_at, last_activity_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
                    params![new.kind, title, new.created_by, default_agent, now],
                )?;
                let id = tx.last_insert_rowid();
                for uid in user_ids {
                    insert_member(tx, id, Some(uid), None, now)?;
                }
                for aid in agent_ids {
                    insert_member(tx, id, None, Some(aid), now)?;
                }
                if let Some((aid, _)) = agent {
                    insert_member(tx, id, None, Some(aid), now)?;
                }
                Ok(conversation_by_id(tx, id)?)
            })
        })
        .await
    }

    /// Applies a patch; a default agent must be a member of the conversation.
    pub async fn conversation_update(
        &self,
        id: i64,
        patch: ConversationPatch,
    ) -> Result<Outcome<ConversationRow>, StoreError> {
        self.write(move |conn| {
            in_tx(conn, |tx| {
                conversation_kind(tx, id)?;
                if let Some(title) = &patch.title {
                    tx.execute(
                        "UPDATE conversations SET title = ?2 WHERE id = ?1",
                        params![id, title],
                    )?;
                }
                if let Some(agent) = patch.default_agent_id {
                    if let Some(aid) = agent {
                        let member = tx
                            .prepare_cached(
                                "SELECT 1 FROM conversation_members cm JOIN agents a \
                                 ON a.id = cm.agent_id AND a.disabled = 0 \
                                 WHERE cm.conversation_id = ?1 AND cm.agent_id = ?2",
                            )?
                            .exists(params![id, aid])?;
                        if !member {
                            return Err(Reject::UnknownAgent.into());
                        }
                    }
                    tx.execute(
                        "UPDATE conversations SET default_agent_id = ?2 WHERE id = ?1",
                        params![id, agent],
                    )?;
                }
                Ok(conversation_by_id(tx, id)?)
            })
        })
        .await
    }

    /// Deletes a conversation with its messages (and so their search
    /// entries and attachment links); returns it as it was.
    pub async fn conversation_delete(&self, id: i64) -> Result<ConversationRow, StoreError> {
        self.write(move |conn| {
            let tx = conn.transaction()?;
            let before = conversation_by_id(&tx, id)?;
            // Explicit, so the FTS delete trigger runs for every message.
            tx.execute("DELETE FROM messages WHERE conversation_id = ?1", [id])?;
            tx.execute("DELETE FROM conversations WHERE id = ?1", [id])?;
            tx.commit()?;
            Ok(before)
        })
        .await
    }

    /// Adds a member to a group; returns the conversation and the added
    /// user's id (None for an agent).
    pub async fn member_add(
        &self,
        conversation_id: i64,
        target: MemberTarget,
    ) -> Result<Outcome<(ConversationRow, Option<i64>)>, StoreError> {
        let now = crate::auth::now_secs();
        self.write(move |conn| {
            in_tx(conn, |tx| {
                if conversation_kind(tx, conversation_id)? != "group" {
                    return Err(Reject::Direct.into());
                }
                let (user_id, agent_id) = resolve_target(tx, &target)?;
                insert_member(tx, conversation_id, user_id, agent_id, now)?;
                Ok((conversation_by_id(tx, conversation_id)?, user_id))
            })
        })
        .await
    }

    /// Removes a member from a group; returns the conversation and the
    /// removed user's id (None for an agent).
    pub async fn member_remove(
        &self,
        conversation_id: i64,
        target: MemberTarget,
    ) -> Result<Outcome<(ConversationRow, Option<i64>)>, StoreError> {
        self.write(move |conn| {
            in_tx(conn, |tx| {
                if conversation_kind(tx, conversation_id)? != "group" {
                    return Err(Reject::Direct.into());
                }
                let (user_id, agent_id) = resolve_target(tx, &target)?;
                let n = tx.execute(
                    "DELETE FROM conversation_members WHERE conversation_id = ?1 \
                     AND (user_id = ?2 OR agent_id = ?3)",
                    params![conversation_id, user_id, agent_id],
                )?;
                if n == 0 {
                    return Err(Reject::NotMember.into());
                }
                Ok((conversation_by_id(tx, conversation_id)?, user_id))
            })
        })
        .await
    }
}
