//! SQL for channels and pairing: paired senders, invites, pairing
//! requests, the durable inbound queue, each sender's conversation per
//! agent, and the webhook replay memory.
//!
//! Owns only storage: it never sees a code in clear (only its HMAC), never
//! decides who may pair (that is `channels::pairing`) and never calls an
//! agent. Every multi-row change is one transaction, so a crash leaves
//! either the old state or the new one. After a commit that opens or
//! decides a pairing request it announces the request's id (nothing else)
//! to whoever listens (`pairing_changes`: the owner's live notice).

use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use super::chat::{MessageRow, message_by_id, touch_conversation};
use super::{Store, StoreError};

/// A paired (or revoked) sender.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct SenderRow {
    pub id: i64,
    pub channel: String,
    pub external_id: String,
    /// The Hardshell user the sender acts for.
    pub user_id: i64,
    /// What the platform called them when they paired; never used to
    /// identify them.
    pub display: String,
    /// `invite` or `request`.
    pub via: String,
    pub paired_by: Option<i64>,
    pub paired_at: i64,
    pub revoked_at: Option<i64>,
}

pub(super) const SENDER_COLS: &str =
    "id, channel, external_id, user_id, display, via, paired_by, paired_at, revoked_at";

pub(super) fn sender_of(r: &Row<'_>) -> rusqlite::Result<SenderRow> {
    Ok(SenderRow {
        id: r.get(0)?,
        channel: r.get(1)?,
        external_id: r.get(2)?,
        user_id: r.get(3)?,
        display: r.get(4)?,
        via: r.get(5)?,
        paired_by: r.get(6)?,
        paired_at: r.get(7)?,
        revoked_at: r.get(8)?,
    })
}

/// A pairing request as the owner sees it (never its code).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct RequestRow {
    pub id: i64,
    pub channel: String,
    pub external_id: String,
    pub display: String,
    /// `pending`, `approved`, `denied` or `expired`.
    pub status: String,
    pub created_at: i64,
    pub expires_at: i64,
}

const REQUEST_COLS: &str = "id, channel, external_id, display, status, created_at, expires_at";

fn request_of(r: &Row<'_>) -> rusqlite::Result<RequestRow> {
    Ok(RequestRow {
        id: r.get(0)?,
        channel: r.get(1)?,
        external_id: r.get(2)?,
        display: r.get(3)?,
        status: r.get(4)?,
        created_at: r.get(5)?,
        expires_at: r.get(6)?,
    })
}

/// An invite as its minter sees it (never its code).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct InviteRow {
    pub id: i64,
    pub channel: String,
    pub created_by: i64,
    pub created_at: i64,
    pub expires_at: i64,
}

/// What opening a pairing request did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Opened {
    Created(i64),
    /// This sender already has one pending: nothing new.
    AlreadyPending,
    /// The channel's pending list is at its cap: nothing stored.
    Full,
}

/// A change to the pending pairing requests, for live notices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PairingChange {
    /// This request was opened.
    Opened(i64),
    /// This request was approved or denied.
    Decided(i64),
}

/// One queued inbound message.
#[derive(Clone, Debug)]
pub struct InboundRow {
    pub id: i64,
    pub channel: String,
    pub message_key: String,
    pub sender_id: i64,
    pub text: String,
    /// `queued`, `reply`, `done` or `dropped`.
    pub state: String,
    pub message_id: Option<i64>,
    pub reply: Option<String>,
}

const INBOUND_COLS: &str = "id, channel, message_key, sender_id, text, state, message_id, reply";

fn inbound_of(r: &Row<'_>) -> rusqlite::Result<InboundRow> {
    Ok(InboundRow {
        id: r.get(0)?,
        channel: r.get(1)?,
        message_key: r.get(2)?,
        sender_id: r.get(3)?,
        text: r.get(4)?,
        state: r.get(5)?,
        message_id: r.get(6)?,
        reply: r.get(7)?,
    })
}

/// A queued message posted into its sender's conversation.
#[derive(Clone, Debug)]
pub struct Posted {
    pub sender: SenderRow,
    pub message: MessageRow,
}

fn sender_by_key(
    conn: &Connection,
    channel: &str,
    external_id: &str,
) -> Result<Option<SenderRow>, StoreError> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {SENDER_COLS} FROM channel_senders WHERE channel = ?1 AND external_id = ?2"
        ))?
        .query_row(params![channel, external_id], sender_of)
        .optional()?)
}

fn sender_by_id(conn: &Connection, id: i64) -> Result<Option<SenderRow>, StoreError> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {SENDER_COLS} FROM channel_senders WHERE id = ?1"
        ))?
        .query_row([id], sender_of)
        .optional()?)
}

/// Pairs (or re-pairs) a sender to `user_id`; returns the sender.
#[allow(clippy::too_many_arguments)]
fn pair(
    tx: &Transaction<'_>,
    channel: &str,
    external_id: &str,
    display: &str,
    user_id: i64,
    via: &str,
    by: Option<i64>,
    now: i64,
) -> Result<SenderRow, StoreError> {
    tx.prepare_cached(
        "INSERT INTO channel_senders (channel, external_id, user_id, display, via, paired_by, paired_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (channel, external_id) DO UPDATE SET user_id = excluded.user_id,
           display = excluded.display, via = excluded.via, paired_by = excluded.paired_by,
           paired_at = excluded.paired_at, revoked_at = NULL",
    )?
    .execute(params![channel, external_id, user_id, display, via, by, now])?;
    sender_by_key(tx, channel, external_id)?.ok_or(StoreError::NotFound)
}

fn expire_requests(conn: &Connection, now: i64) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE pairing_requests SET status = 'expired'
         WHERE status = 'pending' AND expires_at <= ?1",
    )?
    .execute([now])?;
    Ok(())
}

impl Store {
    /// The sender with this platform id on `channel`, paired or revoked.
    pub async fn channel_sender(
        &self,
        channel: &str,
        external_id: &str,
    ) -> Result<Option<SenderRow>, StoreError> {
        let (c, e) = (channel.to_string(), external_id.to_string());
        self.read(move |conn| sender_by_key(conn, &c, &e)).await
    }

    /// Every sender, newest first (revoked ones included).
    pub async fn channel_senders(&self) -> Result<Vec<SenderRow>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {SENDER_COLS} FROM channel_senders ORDER BY id DESC"
            ))?;
            let rows = stmt.query_map([], sender_of)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    /// Cuts a sender off and drops their unanswered messages; `None` when
    /// there is no such sender or it was already revoked.
    pub async fn channel_sender_revoke(&self, id: i64) -> Result<Option<SenderRow>, StoreError> {
        self.write(move |conn| {
            let tx = conn.transaction()?;
            let changed = tx
                .prepare_cached(
                    "UPDATE channel_senders SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                )?
                .execute(params![id, crate::auth::now_secs()])?;
            if changed == 0 {
                return Ok(None);
            }
            tx.prepare_cached(
                "UPDATE channel_inbound SET state = 'dropped' WHERE sender_id = ?1 AND state = 'queued'",
            )?
            .execute([id])?;
            let row = sender_by_id(&tx, id)?;
            tx.commit()?;
            Ok(row)
        })
        .await
    }

    /// Stores a new invite's code hash.
    pub async fn pairing_invite_create(
        &self,
        channel: &str,
        code_hash: [u8; 32],
        by: i64,
        ttl_secs: i64,
    ) -> Result<InviteRow, StoreError> {
        let channel = channel.to_string();
        self.write(move |conn| {
            let now = crate::auth::now_secs();
            conn.prepare_cached(
                "INSERT INTO pairing_invites (channel, code_hash, created_by, created_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![channel, &code_hash[..], by, now, now + ttl_secs])?;
            Ok(InviteRow {
                id: conn.last_insert_rowid(),
                channel,
                created_by: by,
                created_at: now,
                expires_at: now + ttl_secs,
            })
        })
        .await
    }

    /// Spends an unused, unexpired invite for `channel` and pairs the
    /// sender to its minter. `None` when no such invite exists.
    pub async fn pairing_invite_redeem(
        &self,
        channel: &str,
        code_hash: [u8; 32],
        external_id: &str,
        display: &str,
    ) -> Result<Option<SenderRow>, StoreError> {
        let (channel, ext, display) = (
            channel.to_string(),
            external_id.to_string(),
            display.to_string(),
        );
        self.write(move |conn| {
            let now = crate::auth::now_secs();
            let tx = conn.transaction()?;
            // One conditional UPDATE: two senders racing for one code
            // cannot both win.
            let invite: Option<(i64, i64)> = tx
                .prepare_cached(
                    "UPDATE pairing_invites SET used_at = ?3
                     WHERE code_hash = ?1 AND channel = ?2 AND used_at IS NULL AND expires_at > ?3
                     RETURNING id, created_by",
                )?
                .query_row(params![&code_hash[..], channel, now], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()?;
            let Some((invite_id, minter)) = invite else {
                return Ok(None);
            };
            let sender = pair(
                &tx,
                &channel,
                &ext,
                &display,
                minter,
                "invite",
                Some(minter),
                now,
            )?;
            tx.prepare_cached("UPDATE pairing_invites SET sender_id = ?2 WHERE id = ?1")?
                .execute(params![invite_id, sender.id])?;
            tx.commit()?;
            Ok(Some(sender))
        })
        .await
    }

    /// Opens a pairing request for an unknown sender, unless they have one
    /// pending or the channel already has `cap` pending. Expired requests
    /// are retired first, so the oldest make room first.
    pub async fn pairing_request_open(
        &self,
        channel: &str,
        external_id: &str,
        display: &str,
        code_hash: [u8; 32],
        ttl_secs: i64,
        cap: i64,
    ) -> Result<Opened, StoreError> {
        let (channel, ext, display) = (
            channel.to_string(),
            external_id.to_string(),
            display.to_string(),
        );
        let opened = self.write(move |conn| {
            let now = crate::auth::now_secs();
            let tx = conn.transaction()?;
            expire_requests(&tx, now)?;
            let mine = tx
                .prepare_cached(
                    "SELECT 1 FROM pairing_requests
                     WHERE channel = ?1 AND external_id = ?2 AND status = 'pending'",
                )?
                .exists(params![channel, ext])?;
            if mine {
                tx.commit()?;
                return Ok(Opened::AlreadyPending);
            }
            let pending: i64 = tx
                .prepare_cached(
                    "SELECT count(*) FROM pairing_requests WHERE channel = ?1 AND status = 'pending'",
                )?
                .query_row([&channel], |r| r.get(0))?;
            if pending >= cap {
                tx.commit()?;
                return Ok(Opened::Full);
            }
            tx.prepare_cached(
                "INSERT INTO pairing_requests (channel, external_id, display, code_hash, status,
                   created_at, expires_at) VALUES (?1, ?2, ?3, ?4, 'pending', ?5, ?6)",
            )?
            .execute(params![channel, ext, display, &code_hash[..], now, now + ttl_secs])?;
            let id = tx.last_insert_rowid();
            tx.commit()?;
            Ok(Opened::Created(id))
        })
        .await;
        if let Ok(Opened::Created(id)) = &opened {
            // Nobody listening is fine.
            let _ = self.inner.pairing_changes.send(PairingChange::Opened(*id));
        }
        opened
    }

    /// Hears of each pairing request opened or decided (after its commit).
    pub fn pairing_changes(&self) -> tokio::sync::broadcast::Receiver<PairingChange> {
        self.inner.pairing_changes.subscribe()
    }

    /// Pending, unexpired requests, oldest first.
    pub async fn pairing_requests_pending(&self) -> Result<Vec<RequestRow>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {REQUEST_COLS} FROM pairing_requests
                 WHERE status = 'pending' AND expires_at > ?1 ORDER BY id"
            ))?;
            let rows = stmt.query_map([crate::auth::now_secs()], request_of)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    /// Decides the pending, unexpired request with this code hash (one
    /// conditional UPDATE); an approval pairs its sender to `link_user`.
    /// `None` when no pending request has that code.
    pub async fn pairing_request_decide(
        &self,
        code_hash: [u8; 32],
        approve: bool,
        by: i64,
        link_user: i64,
    ) -> Result<Option<(RequestRow, Option<SenderRow>)>, StoreError> {
        let decided = self
            .write(move |conn| {
                let now = crate::auth::now_secs();
                let tx = conn.transaction()?;
                let status = if approve { "approved" } else { "denied" };
                let row = tx
                    .prepare_cached(&format!(
                        "UPDATE pairing_requests SET status = ?2, decided_by = ?3, decided_at = ?4
                     WHERE code_hash = ?1 AND status = 'pending' AND expires_at > ?4
                     RETURNING {REQUEST_COLS}"
                    ))?
                    .query_row(params![&code_hash[..], status, by, now], request_of)
                    .optional()?;
                let Some(row) = row else {
                    return Ok(None);
                };
                let sender = if approve {
                    Some(pair(
                        &tx,
                        &row.channel,
                        &row.external_id,
                        &row.display,
                        link_user,
                        "request",
                        Some(by),
                        now,
                    )?)
                } else {
                    None
                };
                tx.commit()?;
                Ok(Some((row, sender)))
            })
            .await;
        if let Ok(Some((row, _))) = &decided {
            let _ = self
                .inner
                .pairing_changes
                .send(PairingChange::Decided(row.id));
        }
        decided
    }

    /// Queues a paired sender's message; `None` when this channel message
    /// id was stored before (a redelivery).
    pub async fn channel_inbound_enqueue(
        &self,
        channel: &str,
        message_key: &str,
        sender_id: i64,
        text: &str,
    ) -> Result<Option<i64>, StoreError> {
        let (c, k, t) = (
            channel.to_string(),
            message_key.to_string(),
            text.to_string(),
        );
        self.write(move |conn| {
            let n = conn
                .prepare_cached(
                    "INSERT INTO channel_inbound (channel, message_key, sender_id, text, received_at, state)
                     VALUES (?1, ?2, ?3, ?4, ?5, 'queued') ON CONFLICT (channel, message_key) DO NOTHING",
                )?
                .execute(params![c, k, sender_id, t, crate::auth::now_secs()])?;
            Ok((n > 0).then(|| conn.last_insert_rowid()))
        })
        .await
    }

    /// Messages not finished yet (after a restart: the work left over).
    pub async fn channel_inbound_open(&self) -> Result<Vec<InboundRow>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {INBOUND_COLS} FROM channel_inbound WHERE state IN ('queued','reply') ORDER BY id"
            ))?;
            let rows = stmt.query_map([], inbound_of)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    pub async fn channel_inbound_get(&self, id: i64) -> Result<Option<InboundRow>, StoreError> {
        self.read(move |conn| {
            Ok(conn
                .prepare_cached(&format!(
                    "SELECT {INBOUND_COLS} FROM channel_inbound WHERE id = ?1"
                ))?
                .query_row([id], inbound_of)
                .optional()?)
        })
        .await
    }

    /// Posts a queued message into its sender's conversation with `agent_id`
    /// (created on first use), as the sender's user with the channel in
    /// `meta`, and links it to the queue row, in one transaction. A row
    /// already posted returns its message. `None` when the sender is
    /// revoked (the row is dropped) or the row is not queued.
    pub async fn channel_inbound_post(
        &self,
        inbound_id: i64,
        agent_id: i64,
    ) -> Result<Option<Posted>, StoreError> {
        self.write(move |conn| {
            let now = crate::auth::now_secs();
            let tx = conn.transaction()?;
            let Some(row) = tx
                .prepare_cached(&format!(
                    "SELECT {INBOUND_COLS} FROM channel_inbound WHERE id = ?1 AND state = 'queued'"
                ))?
                .query_row([inbound_id], inbound_of)
                .optional()?
            else {
                return Ok(None);
            };
            let sender = match sender_by_id(&tx, row.sender_id)? {
                Some(s) if s.revoked_at.is_none() => s,
                _ => {
                    tx.prepare_cached(
                        "UPDATE channel_inbound SET state = 'dropped' WHERE id = ?1",
                    )?
                    .execute([inbound_id])?;
                    tx.commit()?;
                    return Ok(None);
                }
            };
            if let Some(mid) = row.message_id {
                let message = message_by_id(&tx, mid)?;
                tx.commit()?;
                return Ok(Some(Posted { sender, message }));
            }
            let conversation = match super::channel_groups::inbound_chat(&tx, inbound_id)? {
                Some(chat) => {
                    super::channel_groups::group_conversation(&tx, &sender, agent_id, &chat, now)?
                }
                None => sender_conversation(&tx, &sender, agent_id, now)?,
            };
            let html = crate::chat::markdown::render(&row.text, &[]);
            let meta = json!({"channel": sender.channel, "sender": sender.external_id});
            tx.execute(
                "INSERT INTO messages (conversation_id, author_user_id, author_kind, text, html,
                   mentions, created_at, meta) VALUES (?1, ?2, 'user', ?3, ?4, '[]', ?5, ?6)",
                params![
                    conversation,
                    sender.user_id,
                    row.text,
                    html,
                    now,
                    meta.to_string()
                ],
            )?;
            let mid = tx.last_insert_rowid();
            touch_conversation(&tx, conversation, now)?;
            tx.prepare_cached("UPDATE channel_inbound SET message_id = ?2 WHERE id = ?1")?
                .execute(params![inbound_id, mid])?;
            super::channels_media::attach_inbound_uploads(&tx, inbound_id, mid)?;
            let message = message_by_id(&tx, mid)?;
            tx.commit()?;
            Ok(Some(Posted { sender, message }))
        })
        .await
    }

    /// Stores the answer before it is sent, so a restart resends it rather
    /// than running the turn again.
    pub async fn channel_inbound_reply(&self, id: i64, reply: &str) -> Result<(), StoreError> {
        let reply = reply.to_string();
        self.write(move |conn| {
            conn.prepare_cached(
                "UPDATE channel_inbound SET state = 'reply', reply = ?2 WHERE id = ?1 AND state = 'queued'",
            )?
            .execute(params![id, reply])?;
            Ok(())
        })
        .await
    }

    /// Marks a row finished: `done` (answered) or `dropped`.
    pub async fn channel_inbound_finish(&self, id: i64, done: bool) -> Result<(), StoreError> {
        self.write(move |conn| {
            conn.prepare_cached("UPDATE channel_inbound SET state = ?2 WHERE id = ?1")?
                .execute(params![id, if done { "done" } else { "dropped" }])?;
            Ok(())
        })
        .await
    }

    /// Remembers a webhook signature for the replay window; false when it
    /// was seen already. Signatures older than `window_secs` are forgotten.
    pub async fn channel_seen(
        &self,
        channel: &str,
        signature: [u8; 32],
        window_secs: i64,
    ) -> Result<bool, StoreError> {
        let channel = channel.to_string();
        self.write(move |conn| {
            let now = crate::auth::now_secs();
            conn.prepare_cached("DELETE FROM channel_seen WHERE seen_at < ?1")?
                .execute([now - window_secs])?;
            let n = conn
                .prepare_cached(
                    "INSERT INTO channel_seen (channel, signature, seen_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT (channel, signature) DO NOTHING",
                )?
                .execute(params![channel, &signature[..], now])?;
            Ok(n > 0)
        })
        .await
    }
}

/// A new direct conversation whose members are the sender's user and the
/// agent (private and group channel conversations alike).
pub(super) fn new_sender_conversation(
    tx: &Transaction<'_>,
    title: &str,
    sender: &SenderRow,
    agent_id: i64,
    now: i64,
) -> Result<i64, StoreError> {
    tx.execute(
        "INSERT INTO conversations (kind, title, created_by, default_agent_id, created_at,
           last_activity_at) VALUES ('direct', ?1, ?2, ?3, ?4, ?4)",
        params![title, sender.user_id, agent_id, now],
    )?;
    let id = tx.last_insert_rowid();
    for (user, agent) in [(Some(sender.user_id), None), (None, Some(agent_id))] {
        tx.execute(
            "INSERT INTO conversation_members (conversation_id, user_id, agent_id, added_at)
             VALUES (?1, ?2, ?3, ?4)",
            params![id, user, agent, now],
        )?;
    }
    Ok(id)
}

/// The sender's direct conversation with the agent, created on first use
/// with the sender's user and the agent as members.
fn sender_conversation(
    tx: &Transaction<'_>,
    sender: &SenderRow,
    agent_id: i64,
    now: i64,
) -> Result<i64, StoreError> {
    let existing: Option<i64> = tx
        .prepare_cached(
            "SELECT conversation_id FROM channel_conversations WHERE sender_id = ?1 AND agent_id = ?2",
        )?
        .query_row(params![sender.id, agent_id], |r| r.get(0))
        .optional()?;
    if let Some(id) = existing {
        return Ok(id);
    }
    let title = format!("{} · {}", sender.channel, sender.external_id);
    let id = new_sender_conversation(tx, &title, sender, agent_id, now)?;
    tx.execute(
        "INSERT INTO channel_conversations (sender_id, agent_id, conversation_id) VALUES (?1, ?2, ?3)",
        params![sender.id, agent_id, id],
    )?;
    Ok(id)
}

impl Store {
    /// The id of the enabled agent with this handle.
    pub async fn channel_agent_id(&self, handle: &str) -> Result<Option<i64>, StoreError> {
        let handle = handle.to_string();
        self.read(move |conn| {
            Ok(conn
                .prepare_cached("SELECT id FROM agents WHERE handle = ?1 AND disabled = 0")?
                .query_row([handle], |r| r.get(0))
                .optional()?)
        })
        .await
    }
}

impl Store {
    /// A sender by row id (for delivering a stored answer).
    pub async fn channel_inbound_sender(&self, id: i64) -> Result<Option<SenderRow>, StoreError> {
        self.read(move |conn| sender_by_id(conn, id)).await
    }
}

impl Store {
    /// The paired (not revoked) sender whose conversation this is.
    pub async fn channel_sender_of(
        &self,
        conversation_id: i64,
    ) -> Result<Option<SenderRow>, StoreError> {
        self.read(move |conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT s.id, s.channel, s.external_id, s.user_id, s.display, s.via,
                       s.paired_by, s.paired_at, s.revoked_at
                     FROM channel_conversations c JOIN channel_senders s ON s.id = c.sender_id
                     WHERE c.conversation_id = ?1 AND s.revoked_at IS NULL",
                )?
                .query_row([conversation_id], sender_of)
                .optional()?)
        })
        .await
    }
}

impl Store {
    /// Whether this conversation is a channel sender's (revoked or not;
    /// private or in a group): such a conversation is its own whole
    /// memory scope.
    pub async fn is_channel_conversation(&self, conversation_id: i64) -> Result<bool, StoreError> {
        self.read(move |conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM channel_conversations WHERE conversation_id = ?1)
                         OR EXISTS (SELECT 1 FROM channel_group_conversations
                                    WHERE conversation_id = ?1)",
                )?
                .query_row([conversation_id], |r| r.get(0))?)
        })
        .await
    }
}

impl Store {
    /// Tokens a sender's conversations used on `day` (UTC, `YYYY-MM-DD`).
    pub async fn channel_sender_tokens(
        &self,
        sender_id: i64,
        day: String,
    ) -> Result<i64, StoreError> {
        self.read(move |conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT coalesce(sum(u.input_tokens + u.output_tokens), 0)
                     FROM (SELECT conversation_id FROM channel_conversations WHERE sender_id = ?1
                           UNION ALL
                           SELECT conversation_id FROM channel_group_conversations
                           WHERE sender_id = ?1) c
                     JOIN agent_usage u ON u.conversation_id = c.conversation_id
                     WHERE u.day = ?2",
                )?
                .query_row(params![sender_id, day], |r| r.get(0))?)
        })
        .await
    }
}
