//! SQL for trust levels (per agent and domain), their history, and the
//! streak of failed or denied calls that demotes a level.
//!
//! Owns the atomicity of a level change: the new level and its history row
//! are written in one transaction, so no change is ever unexplained. It
//! never decides what a level means; that is `trust`'s.

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use utoipa::ToSchema;

use super::{Fut, Store, StoreError};

/// One stored change of a level.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct TrustChange {
    pub id: i64,
    pub agent_id: i64,
    pub domain: String,
    pub old_level: u8,
    pub new_level: u8,
    pub reason: String,
    /// `user`, `system` (evidence) or `cli`.
    pub actor_kind: String,
    pub actor_id: String,
    pub created_at: i64,
}

/// Who changed a level and why.
pub struct ChangeBy {
    pub reason: String,
    pub actor_kind: String,
    pub actor_id: String,
}

fn level_conn(conn: &Connection, agent: i64, domain: &str) -> Result<Option<u8>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT level FROM trust_levels WHERE agent_id = ?1 AND domain = ?2")?
        .query_row(params![agent, domain], |r| r.get::<_, u8>(0))
        .optional()?)
}

fn set_conn(
    conn: &Connection,
    agent: i64,
    domain: &str,
    old: u8,
    new: u8,
    by: &ChangeBy,
) -> Result<TrustChange, StoreError> {
    let now = crate::auth::now_secs();
    conn.prepare_cached(
        "INSERT INTO trust_levels (agent_id, domain, level, failures) VALUES (?1, ?2, ?3, 0)
         ON CONFLICT (agent_id, domain) DO UPDATE SET level = excluded.level, failures = 0",
    )?
    .execute(params![agent, domain, new])?;
    conn.prepare_cached(
        "INSERT INTO trust_history (agent_id, domain, old_level, new_level, reason, actor_kind, actor_id, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        agent,
        domain,
        old,
        new,
        by.reason,
        by.actor_kind,
        by.actor_id,
        now
    ])?;
    Ok(TrustChange {
        id: conn.last_insert_rowid(),
        agent_id: agent,
        domain: domain.to_string(),
        old_level: old,
        new_level: new,
        reason: by.reason.clone(),
        actor_kind: by.actor_kind.clone(),
        actor_id: by.actor_id.clone(),
        created_at: now,
    })
}

fn change_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<TrustChange> {
    Ok(TrustChange {
        id: r.get(0)?,
        agent_id: r.get(1)?,
        domain: r.get(2)?,
        old_level: r.get(3)?,
        new_level: r.get(4)?,
        reason: r.get(5)?,
        actor_kind: r.get(6)?,
        actor_id: r.get(7)?,
        created_at: r.get(8)?,
    })
}

const CHANGE_COLS: &str =
    "id, agent_id, domain, old_level, new_level, reason, actor_kind, actor_id, created_at";

/// Trust levels as every backend provides them (SQLCipher: below;
/// PostgreSQL: `pg/trust.rs`). A level and its history row are written
/// together, and concurrent changes of one (agent, domain) apply one after
/// the other, so the history always chains: each change's old level is
/// the previous change's new level.
pub trait TrustStore: Send + Sync {
    /// Stored levels of an agent, by domain.
    fn trust_levels(&self, agent: i64) -> impl Fut<Vec<(String, u8)>>;
    fn trust_level(&self, agent: i64, domain: &str) -> impl Fut<Option<u8>>;
    /// Sets a level (from `default` when unset) and records the change.
    fn trust_set(
        &self,
        agent: i64,
        domain: &str,
        default: u8,
        level: u8,
        by: ChangeBy,
    ) -> impl Fut<TrustChange>;
    /// Success clears the streak; the `demote_after`th failure in a row
    /// lowers the level by one (never below 0) and records why.
    fn trust_record_outcome(
        &self,
        agent: i64,
        domain: &str,
        default: u8,
        ok: bool,
        demote_after: u32,
    ) -> impl Fut<Option<TrustChange>>;
    /// Changes newest first (`agent` None: every agent's).
    fn trust_history(&self, agent: Option<i64>, limit: usize) -> impl Fut<Vec<TrustChange>>;
    fn trust_change(&self, id: i64) -> impl Fut<Option<TrustChange>>;
}

impl TrustStore for Store {
    fn trust_levels(&self, agent: i64) -> impl Fut<Vec<(String, u8)>> {
        Store::trust_levels(self, agent)
    }
    fn trust_level(&self, agent: i64, domain: &str) -> impl Fut<Option<u8>> {
        Store::trust_level(self, agent, domain)
    }
    fn trust_set(
        &self,
        agent: i64,
        domain: &str,
        default: u8,
        level: u8,
        by: ChangeBy,
    ) -> impl Fut<TrustChange> {
        Store::trust_set(self, agent, domain, default, level, by)
    }
    fn trust_record_outcome(
        &self,
        agent: i64,
        domain: &str,
        default: u8,
        ok: bool,
        demote_after: u32,
    ) -> impl Fut<Option<TrustChange>> {
        Store::trust_record_outcome(self, agent, domain, default, ok, demote_after)
    }
    fn trust_history(&self, agent: Option<i64>, limit: usize) -> impl Fut<Vec<TrustChange>> {
        Store::trust_history(self, agent, limit)
    }
    fn trust_change(&self, id: i64) -> impl Fut<Option<TrustChange>> {
        Store::trust_change(self, id)
    }
}

impl Store {
    /// Stored levels of an agent (domains absent here use the default).
    pub async fn trust_levels(&self, agent: i64) -> Result<Vec<(String, u8)>, StoreError> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT domain, level FROM trust_levels WHERE agent_id = ?1 ORDER BY domain",
            )?;
            let rows = stmt
                .query_map([agent], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?;
            Ok(rows)
        })
        .await
    }

    /// One stored level, if set.
    pub async fn trust_level(&self, agent: i64, domain: &str) -> Result<Option<u8>, StoreError> {
        let domain = domain.to_string();
        self.read(move |conn| level_conn(conn, agent, &domain))
            .await
    }

    /// Sets a level (from `default` when unset) and records the change.
    pub async fn trust_set(
        &self,
        agent: i64,
        domain: &str,
        default: u8,
        level: u8,
        by: ChangeBy,
    ) -> Result<TrustChange, StoreError> {
        let domain = domain.to_string();
        self.write(move |conn| {
            let tx = conn.transaction()?;
            let old = level_conn(&tx, agent, &domain)?.unwrap_or(default);
            let change = set_conn(&tx, agent, &domain, old, level, &by)?;
            tx.commit()?;
            Ok(change)
        })
        .await
    }

    /// Records a call's outcome: success clears the streak; the
    /// `demote_after`th failure in a row lowers the level by one (never
    /// below 0) and records why. Returns the change, if any.
    pub async fn trust_record_outcome(
        &self,
        agent: i64,
        domain: &str,
        default: u8,
        ok: bool,
        demote_after: u32,
    ) -> Result<Option<TrustChange>, StoreError> {
        let domain = domain.to_string();
        self.write(move |conn| {
            let tx = conn.transaction()?;
            let current = level_conn(&tx, agent, &domain)?;
            if ok {
                if current.is_some() {
                    tx.prepare_cached(
                        "UPDATE trust_levels SET failures = 0 WHERE agent_id = ?1 AND domain = ?2",
                    )?
                    .execute(params![agent, domain])?;
                }
                tx.commit()?;
                return Ok(None);
            }
            let level = current.unwrap_or(default);
            tx.prepare_cached(
                "INSERT INTO trust_levels (agent_id, domain, level, failures) VALUES (?1, ?2, ?3, 1)
                 ON CONFLICT (agent_id, domain) DO UPDATE SET failures = failures + 1",
            )?
            .execute(params![agent, domain, level])?;
            let failures: u32 = tx
                .prepare_cached(
                    "SELECT failures FROM trust_levels WHERE agent_id = ?1 AND domain = ?2",
                )?
                .query_row(params![agent, domain], |r| r.get(0))?;
            let mut change = None;
            if failures >= demote_after && level > 0 {
                let by = ChangeBy {
                    reason: format!("{failures} failed or denied calls in a row"),
                    actor_kind: "system".into(),
                    actor_id: "trust".into(),
                };
                change = Some(set_conn(&tx, agent, &domain, level, level - 1, &by)?);
            }
            tx.commit()?;
            Ok(change)
        })
        .await
    }

    /// An agent's changes, newest first (`agent` None: every agent's).
    pub async fn trust_history(
        &self,
        agent: Option<i64>,
        limit: usize,
    ) -> Result<Vec<TrustChange>, StoreError> {
        self.read(move |conn| {
            let sql = format!(
                "SELECT {CHANGE_COLS} FROM trust_history WHERE ?1 IS NULL OR agent_id = ?1
                 ORDER BY id DESC LIMIT ?2"
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt
                .query_map(params![agent, limit as i64], change_row)?
                .collect::<Result<_, _>>()?;
            Ok(rows)
        })
        .await
    }

    /// One change, for a rollback.
    pub async fn trust_change(&self, id: i64) -> Result<Option<TrustChange>, StoreError> {
        self.read(move |conn| {
            let sql = format!("SELECT {CHANGE_COLS} FROM trust_history WHERE id = ?1");
            Ok(conn
                .prepare_cached(&sql)?
                .query_row([id], change_row)
                .optional()?)
        })
        .await
    }
}
