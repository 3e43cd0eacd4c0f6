//! SQL for the `audit_log` table: batched appends under one write
//! transaction, and reads in physical (`id`) order for verification.
//!
//! The chain logic (sealing, verifying) belongs to the `audit` crate; this
//! file only moves entries in and out of rows. An append holds the
//! cross-process `audit.lock` from reading the head to writing the anchor,
//! so neither two processes nor two tasks can fork the chain or leave the
//! anchor behind it.

use std::path::PathBuf;

use audit::{ActorKind, AnchorFile, ChainHead, Draft, Entry, Outcome};
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

/// Where an append writes its anchor, and the lock that serialises appends
/// across processes.
#[derive(Debug, Clone)]
pub struct AnchorTarget {
    pub anchor_path: PathBuf,
    pub lock_path: PathBuf,
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

/// Holds `audit.lock` (flock) for the life of the value.
struct AppendLock(#[allow(dead_code)] std::fs::File);

fn lock(path: &std::path::Path) -> Result<AppendLock, StoreError> {
    let f =
        crate::config::datadir::create_private_file(path).map_err(|e| StoreError::io(path, e))?;
    f.lock().map_err(|e| StoreError::io(path, e))?;
    Ok(AppendLock(f))
}

/// Runs `body` in an IMMEDIATE transaction while holding `audit.lock`. When
/// `body` returns a new head, commits and signs that head into the anchor
/// before the lock is released, so the anchor never lags another writer.
/// `None` from `body` means nothing changed: the transaction rolls back.
fn anchored<T>(
    conn: &mut Connection,
    anchor: &AnchorTarget,
    sign: impl FnOnce(&ChainHead) -> AnchorFile,
    body: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<Option<(ChainHead, T)>, StoreError>,
) -> Result<Option<T>, StoreError> {
    let _guard = lock(&anchor.lock_path)?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let Some((new_head, out)) = body(&tx)? else {
        return Ok(None);
    };
    tx.commit()?;
    audit::write_anchor(&anchor.anchor_path, &sign(&new_head))
        .map_err(|e| StoreError::io(&anchor.anchor_path, std::io::Error::other(e)))?;
    Ok(Some(out))
}

impl Store {
    /// Seals and appends `drafts` in one transaction, then signs the new
    /// head into the anchor file. `seal` turns (head, draft) into an entry.
    pub async fn audit_append<S>(
        &self,
        drafts: Vec<Draft>,
        seal: S,
        anchor: AnchorTarget,
        sign: impl FnOnce(&ChainHead) -> AnchorFile + Send + 'static,
    ) -> Result<ChainHead, StoreError>
    where
        S: Fn(&ChainHead, Draft) -> Entry + Send + 'static,
    {
        self.write(move |conn| {
            let appended = anchored(conn, &anchor, sign, |tx| {
                let mut current = head(tx)?;
                for draft in drafts {
                    let entry = seal(&current, draft);
                    insert(tx, &entry)?;
                    current = ChainHead::of(&entry);
                }
                Ok(Some((current.clone(), current)))
            })?;
            appended.ok_or(StoreError::NotFound)
        })
        .await
    }

    /// Deletes entries older than `before` (RFC 3339) and appends a
    /// checkpoint built from the last pruned entry, in one transaction.
    /// Returns how many entries were removed.
    pub async fn audit_prune<S>(
        &self,
        before: String,
        seal: S,
        anchor: AnchorTarget,
        sign: impl FnOnce(&ChainHead) -> AnchorFile + Send + 'static,
    ) -> Result<u64, StoreError>
    where
        S: Fn(&ChainHead, Draft) -> Entry + Send + 'static,
    {
        self.write(move |conn| {
            let removed = anchored(conn, &anchor, sign, |tx| {
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
            Ok(removed.unwrap_or(0))
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
            let checkpoint = conn
                .query_row(
                    &format!(
                        "SELECT {COLUMNS} FROM audit_log WHERE action = ?1 ORDER BY seq DESC LIMIT 1"
                    ),
                    [audit::CHECKPOINT_ACTION],
                    row_to_entry,
                )
                .optional()?
                .flatten();
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
