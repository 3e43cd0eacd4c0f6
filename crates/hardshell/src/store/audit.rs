//! SQL for the `audit_log` table: batched appends under one write
//! transaction, and reads in physical (`id`) order for verification.
//!
//! The chain logic (sealing, verifying) belongs to the `audit` crate; this
//! file only moves entries in and out of rows. An append holds the
//! cross-process `audit.lock` from reading the head to writing the anchors,
//! and asks its [`AppendGuard`] to check the chain against every anchor
//! inside that same lock and transaction, so no writer can fork the chain,
//! leave the anchors behind it, or append past a break another writer (or
//! an attacker) left.

use std::path::{Path, PathBuf};

use audit::{ActorKind, ChainHead, Draft, Entry, Finding, Outcome};
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};

use super::{Store, StoreError};

const COLUMNS: &str =
    "seq, ts, actor_kind, actor_id, action, target, outcome, ip, details, prev_hash, hash";

/// Filters for listing entries.
#[derive(Debug, Default, Clone)]
pub struct AuditQuery {
    pub after_seq: Option<u64>,
    pub limit: u32,
    pub action: Option<String>,
    pub actor_id: Option<String>,
}

/// What every append consults: the check of the chain against the anchors
/// before anything is written, and the anchors' publication after commit.
/// Both run while `audit.lock` is held.
pub trait AppendGuard: Send + Sync + 'static {
    /// `Ok(Err(finding))` refuses the append: the transaction rolls back.
    fn check(&self, chain: &ChainRead<'_>) -> Result<Result<(), Finding>, StoreError>;
    /// Signs `head` into every anchor, after the commit.
    fn publish(&self, head: &ChainHead) -> Result<(), StoreError>;
}

/// Indexed reads of the chain inside an append's transaction (or a read).
pub struct ChainRead<'a>(&'a Connection);

/// One row as read back: `None` when it no longer parses as an entry.
pub type StoredEntry = Option<Entry>;

impl ChainRead<'_> {
    /// The entry with the highest seq; `None` for an empty log.
    pub fn head(&self) -> Result<Option<StoredEntry>, StoreError> {
        Ok(self
            .0
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM audit_log ORDER BY seq DESC LIMIT 1"
            ))?
            .query_row([], row_to_entry)
            .optional()?)
    }

    /// The entry with this seq, if the log has one.
    pub fn entry_at(&self, seq: u64) -> Result<Option<StoredEntry>, StoreError> {
        let Ok(seq) = i64::try_from(seq) else {
            return Ok(None);
        };
        Ok(self
            .0
            .prepare_cached(&format!("SELECT {COLUMNS} FROM audit_log WHERE seq = ?1"))?
            .query_row([seq], row_to_entry)
            .optional()?)
    }

    /// Whether the database holds any user: an empty log is then a break.
    pub fn holds_users(&self) -> Result<bool, StoreError> {
        Ok(self
            .0
            .query_row("SELECT EXISTS(SELECT 1 FROM users)", [], |r| r.get(0))?)
    }

    /// The latest retention checkpoint entry.
    pub fn latest_checkpoint(&self) -> Result<Option<Entry>, StoreError> {
        latest_checkpoint(self.0)
    }
}

fn latest_checkpoint(conn: &Connection) -> Result<Option<Entry>, StoreError> {
    Ok(conn
        .query_row(
            &format!("SELECT {COLUMNS} FROM audit_log WHERE action = ?1 ORDER BY seq DESC LIMIT 1"),
            [audit::CHECKPOINT_ACTION],
            row_to_entry,
        )
        .optional()?
        .flatten())
}

/// Entries whose actor is user `id` or whose target is `user:<id>`, in
/// chain order (for a user's data export).
pub(super) fn entries_about_user(conn: &Connection, id: i64) -> Result<Vec<Entry>, StoreError> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM audit_log
         WHERE (actor_kind = 'user' AND actor_id = ?1) OR target = ?2 ORDER BY seq"
    ))?;
    let rows = stmt.query_map(params![id.to_string(), format!("user:{id}")], row_to_entry)?;
    let mut out = Vec::new();
    for r in rows {
        if let Some(e) = r? {
            out.push(e);
        }
    }
    Ok(out)
}

fn row_to_entry(row: &Row<'_>) -> Result<Option<Entry>, rusqlite::Error> {
    let seq: i64 = row.get(0)?;
    let kind: String = row.get(2)?;
    let outcome: String = row.get(6)?;
    let details: String = row.get(8)?;
    let (Ok(seq), Ok(kind), Ok(outcome), Ok(details)) = (
        u64::try_from(seq),
        kind.parse::<ActorKind>(),
        outcome.parse::<Outcome>(),
        serde_json::from_str::<serde_json::Value>(&details),
    ) else {
        return Ok(None);
    };
    Ok(Some(Entry {
        seq,
        ts: row.get(1)?,
        actor: audit::Actor::new(kind, row.get::<_, String>(3)?),
        action: row.get(4)?,
        target: row.get(5)?,
        outcome,
        ip: row.get(7)?,
        details,
        prev_hash: row.get(9)?,
        hash: row.get(10)?,
    }))
}

fn head(conn: &Connection) -> Result<ChainHead, StoreError> {
    let head = conn
        .query_row(
            "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)),
        )
        .optional()?;
    Ok(match head {
        Some((seq, hash)) => ChainHead {
            seq: u64::try_from(seq).unwrap_or(0),
            hash,
        },
        None => ChainHead::genesis(),
    })
}

fn insert(conn: &Connection, e: &Entry) -> Result<(), StoreError> {
    let seq = i64::try_from(e.seq).map_err(|_| StoreError::Conflict("seq overflow".into()))?;
    conn.prepare_cached(&format!(
        "INSERT INTO audit_log ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
    ))?
    .execute(params![
        seq,
        e.ts,
        e.actor.kind.as_str(),
        e.actor.id,
        e.action,
        e.target,
        e.outcome.as_str(),
        e.ip,
        e.details.to_string(),
        e.prev_hash,
        e.hash,
    ])?;
    Ok(())
}

/// Seals and inserts `drafts` after the current head; returns the new head
/// twice (for the anchors and for the caller).
fn append_drafts<S>(
    tx: &Connection,
    drafts: Vec<Draft>,
    seal: &S,
) -> Result<Option<(ChainHead, ChainHead)>, StoreError>
where
    S: Fn(&ChainHead, Draft) -> Entry,
{
    let mut current = head(tx)?;
    for draft in drafts {
        let entry = seal(&current, draft);
        insert(tx, &entry)?;
        current = ChainHead::of(&entry);
    }
    Ok(Some((current.clone(), current)))
}

/// Holds `audit.lock` (flock) for the life of the value.
struct AppendLock(#[allow(dead_code)] std::fs::File);

fn lock(path: &std::path::Path) -> Result<AppendLock, StoreError> {
    let f =
        crate::config::datadir::create_private_file(path).map_err(|e| StoreError::io(path, e))?;
    f.lock().map_err(|e| StoreError::io(path, e))?;
    Ok(AppendLock(f))
}

/// What an append may do about the guard's check.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Gate {
    /// Refuse when the chain disagrees with an anchor.
    Check,
    /// `audit accept`: write regardless (the caller records what it found).
    Accept,
}

/// Runs `body` in an IMMEDIATE transaction while holding `audit.lock`,
/// after the guard's check passed. When `body` returns a new head, commits
/// and signs that head into the anchors before the lock is released, so the
/// anchors never lag another writer. `None` from `body` means nothing
/// changed: the transaction rolls back.
fn anchored<T>(
    conn: &mut Connection,
    lock_path: &Path,
    guard: &dyn AppendGuard,
    gate: Gate,
    body: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<Option<(ChainHead, T)>, StoreError>,
) -> Result<Result<Option<T>, Finding>, StoreError> {
    let _guard = lock(lock_path)?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if gate == Gate::Check
        && let Err(finding) = guard.check(&ChainRead(&tx))?
    {
        return Ok(Err(finding));
    }
    let Some((new_head, out)) = body(&tx)? else {
        return Ok(Ok(None));
    };
    tx.commit()?;
    guard.publish(&new_head)?;
    Ok(Ok(Some(out)))
}

impl Store {
    /// Seals and appends `drafts` in one transaction, after the guard found
    /// the chain in agreement with every anchor, then signs the new head
    /// into the anchors. `seal` turns (head, draft) into an entry. A refusal
    /// is `Ok(Err(finding))`, with nothing written.
    pub async fn audit_append<S>(
        &self,
        drafts: Vec<Draft>,
        seal: S,
        lock_path: PathBuf,
        guard: std::sync::Arc<dyn AppendGuard>,
    ) -> Result<Result<ChainHead, Finding>, StoreError>
    where
        S: Fn(&ChainHead, Draft) -> Entry + Send + 'static,
    {
        self.write(move |conn| {
            let appended = anchored(conn, &lock_path, guard.as_ref(), Gate::Check, |tx| {
                append_drafts(tx, drafts, &seal)
            })?;
            Ok(appended.map(|head| head.unwrap_or_else(ChainHead::genesis)))
        })
        .await
    }

    /// `audit accept`: under the same lock, lets `describe` read the chain
    /// and the anchors as they are and build the acceptance entry, appends
    /// it without the guard's check, then re-anchors on the new head.
    pub async fn audit_accept<S, D>(
        &self,
        describe: D,
        seal: S,
        lock_path: PathBuf,
        guard: std::sync::Arc<dyn AppendGuard>,
    ) -> Result<ChainHead, StoreError>
    where
        D: FnOnce(&ChainRead<'_>) -> Result<Draft, StoreError> + Send + 'static,
        S: Fn(&ChainHead, Draft) -> Entry + Send + 'static,
    {
        self.write(move |conn| {
            let appended = anchored(conn, &lock_path, guard.as_ref(), Gate::Accept, |tx| {
                let draft = describe(&ChainRead(tx))?;
                append_drafts(tx, vec![draft], &seal)
            })?;
            // The accept gate never refuses and always appends one entry.
            match appended {
                Ok(Some(head)) => Ok(head),
                _ => Err(StoreError::NotFound),
            }
        })
        .await
    }

    /// Indexed reads of the chain outside any append (status, verify).
    pub async fn audit_read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(&ChainRead<'_>) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        self.read(move |conn| f(&ChainRead(conn))).await
    }

    /// Deletes entries older than `before` (RFC 3339) and appends a
    /// checkpoint built from the last pruned entry, in one transaction.
    /// Returns how many entries were removed.
    pub async fn audit_prune<S>(
        &self,
        before: String,
        seal: S,
        lock_path: PathBuf,
        guard: std::sync::Arc<dyn AppendGuard>,
    ) -> Result<Result<u64, Finding>, StoreError>
    where
        S: Fn(&ChainHead, Draft) -> Entry + Send + 'static,
    {
        self.write(move |conn| {
            let removed = anchored(conn, &lock_path, guard.as_ref(), Gate::Check, |tx| {
                let last = tx
                    .query_row(
                        &format!(
                            "SELECT {COLUMNS} FROM audit_log WHERE ts < ?1 ORDER BY seq DESC LIMIT 1"
                        ),
                        [&before],
                        row_to_entry,
                    )
                    .optional()?
                    .flatten();
                let Some(last) = last else {
                    return Ok(None);
                };
                let seq = i64::try_from(last.seq).unwrap_or(i64::MAX);
                let removed = tx.execute("DELETE FROM audit_log WHERE seq <= ?1", [seq])?;
                // The head may have been pruned too; the checkpoint links to it.
                let current = head(tx)?;
                let current = if current.seq < last.seq {
                    ChainHead::of(&last)
                } else {
                    current
                };
                let entry = seal(&current, audit::checkpoint_draft(&last));
                insert(tx, &entry)?;
                Ok(Some((ChainHead::of(&entry), removed as u64)))
            })?;
            Ok(removed.map(|n| n.unwrap_or(0)))
        })
        .await
    }

    /// Streams every entry in physical order into `f` (`None` for a row
    /// that no longer parses), after handing it the latest checkpoint.
    pub async fn audit_scan<F, T>(&self, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(Option<Entry>, &mut dyn Iterator<Item = Option<Entry>>) -> T + Send + 'static,
        T: Send + 'static,
    {
        self.read(move |conn| {
            let checkpoint = latest_checkpoint(conn)?;
            let mut stmt = conn.prepare(&format!("SELECT {COLUMNS} FROM audit_log ORDER BY id"))?;
            let mut failure = None;
            let out = {
                let mut rows = stmt
                    .query_map([], row_to_entry)?
                    .map_while(|r| r.map_err(|e| failure = Some(e)).ok());
                f(checkpoint, &mut rows)
            };
            match failure {
                Some(e) => Err(e.into()),
                None => Ok(out),
            }
        })
        .await
    }

    /// Entries matching `q`, oldest first.
    pub async fn audit_list(&self, q: AuditQuery) -> Result<Vec<Entry>, StoreError> {
        self.read(move |conn| {
            let after = i64::try_from(q.after_seq.unwrap_or(0)).unwrap_or(i64::MAX);
            let mut stmt = conn.prepare(&format!(
                "SELECT {COLUMNS} FROM audit_log
                 WHERE seq > ?1 AND (?2 IS NULL OR action = ?2) AND (?3 IS NULL OR actor_id = ?3)
                 ORDER BY seq LIMIT ?4"
            ))?;
            let rows =
                stmt.query_map(params![after, q.action, q.actor_id, q.limit], row_to_entry)?;
            let mut out = Vec::new();
            for r in rows {
                if let Some(e) = r? {
                    out.push(e);
                }
            }
            Ok(out)
        })
        .await
    }

    /// The newest `n` entries, oldest first.
    pub async fn audit_tail(&self, n: u32) -> Result<Vec<Entry>, StoreError> {
        self.read(move |conn| {
            let mut stmt = conn.prepare(&format!(
                "SELECT * FROM (SELECT {COLUMNS} FROM audit_log ORDER BY seq DESC LIMIT ?1) ORDER BY seq"
            ))?;
            let rows = stmt.query_map([n], row_to_entry)?;
            let mut out = Vec::new();
            for r in rows {
                if let Some(e) = r? {
                    out.push(e);
                }
            }
            Ok(out)
        })
        .await
    }
}
