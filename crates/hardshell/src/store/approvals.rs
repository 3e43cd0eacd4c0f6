//! SQL for approvals: pending → approved | denied | expired → dispatched,
//! with the parked turn's state beside the request.
//!
//! Every transition is one conditional UPDATE, so two deciders, two
//! dispatchers or a decider racing the expiry sweep cannot both win. It
//! never judges who may decide or what a fingerprint covers; that is
//! `trust::approvals`'.

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;
use utoipa::ToSchema;

use super::{Fut, Store, StoreError};

/// An approval request as the API, the CLI and the card show it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ApprovalRow {
    pub id: i64,
    pub agent_id: i64,
    pub conversation_id: i64,
    pub tool: String,
    pub domain: String,
    /// SHA-256 (hex) of the canonical call.
    pub fingerprint: String,
    /// The resolved target: `METHOD url`, a workspace path, an agent.
    pub target: String,
    /// The normalised arguments (leak guard applied).
    pub arguments: String,
    /// The untrusted source that tainted the turn, if any.
    pub taint_source: Option<String>,
    /// Why approval is needed.
    pub reason: String,
    /// `pending`, `approved`, `denied`, `expired` or `dispatched`.
    pub status: String,
    /// Identical requests merged into this one.
    pub merged: i64,
    pub created_at: i64,
    pub expires_at: i64,
    pub decided_at: Option<i64>,
    pub decided_by: Option<i64>,
    pub dispatched_at: Option<i64>,
}

/// What `approval_request` writes.
pub struct NewApproval {
    pub agent_id: i64,
    pub conversation_id: i64,
    pub tool: String,
    pub domain: String,
    pub fingerprint: String,
    pub target: String,
    pub arguments: String,
    pub taint_source: Option<String>,
    pub reason: String,
    pub expires_at: i64,
    /// The parked turn (JSON).
    pub parked: String,
}

const COLS: &str = "id, agent_id, conversation_id, tool, domain, fingerprint, target, arguments, \
    taint_source, reason, status, merged, created_at, expires_at, decided_at, decided_by, dispatched_at";

fn row(r: &Row<'_>) -> rusqlite::Result<ApprovalRow> {
    Ok(ApprovalRow {
        id: r.get(0)?,
        agent_id: r.get(1)?,
        conversation_id: r.get(2)?,
        tool: r.get(3)?,
        domain: r.get(4)?,
        fingerprint: r.get(5)?,
        target: r.get(6)?,
        arguments: r.get(7)?,
        taint_source: r.get(8)?,
        reason: r.get(9)?,
        status: r.get(10)?,
        merged: r.get(11)?,
        created_at: r.get(12)?,
        expires_at: r.get(13)?,
        decided_at: r.get(14)?,
        decided_by: r.get(15)?,
        dispatched_at: r.get(16)?,
    })
}

fn get_conn(conn: &Connection, id: i64) -> Result<Option<ApprovalRow>, StoreError> {
    let sql = format!("SELECT {COLS} FROM approvals WHERE id = ?1");
    Ok(conn.prepare_cached(&sql)?.query_row([id], row).optional()?)
}

/// How a request ended up.
pub enum Requested {
    New(ApprovalRow),
    /// An identical request was already pending; it now counts one more.
    Merged(ApprovalRow),
}

/// The approvals aggregate as every backend provides it (SQLCipher: the
/// inherent methods below; PostgreSQL: `pg/approvals.rs`). Every
/// transition happens at most once, however many callers race for it.
pub trait ApprovalStore: Send + Sync {
    /// Files a request, or merges it into an identical pending, unexpired
    /// one (same agent, conversation and fingerprint); two identical
    /// requests racing make one request, merged once.
    fn approval_request(&self, new: NewApproval) -> impl Fut<Requested>;
    fn approval_get(&self, id: i64) -> impl Fut<Option<ApprovalRow>>;
    /// Newest first; `status` filters when given.
    fn approval_list(&self, status: Option<String>, limit: usize) -> impl Fut<Vec<ApprovalRow>>;
    /// pending → approved | denied while unexpired; otherwise `Conflict`
    /// (`NotFound` for an unknown id). Two deciders: one wins.
    fn approval_decide(&self, id: i64, approve: bool, by: i64) -> impl Fut<ApprovalRow>;
    fn approvals_pending_count(&self) -> impl Fut<i64>;
    /// Marks every overdue pending request expired and returns them.
    fn approvals_expire(&self, now: i64) -> impl Fut<Vec<ApprovalRow>>;
    /// approved → dispatched when the fingerprint matches; true once.
    fn approval_dispatch(&self, id: i64, fingerprint: &str) -> impl Fut<bool>;
    /// Decided requests whose parked turn was not resumed, oldest first.
    fn approvals_resumable(&self) -> impl Fut<Vec<i64>>;
    /// Takes a decided request's parked turn, once.
    fn approval_claim(&self, id: i64) -> impl Fut<Option<String>>;
    /// Drops the parked turn once it has resumed.
    fn approval_resumed(&self, id: i64) -> impl Fut<()>;
    /// Releases every claim whose turn has not resumed (start-up).
    fn approvals_release_claims(&self) -> impl Fut<usize>;
}

impl ApprovalStore for Store {
    fn approval_request(&self, new: NewApproval) -> impl Fut<Requested> {
        Store::approval_request(self, new)
    }
    fn approval_get(&self, id: i64) -> impl Fut<Option<ApprovalRow>> {
        Store::approval_get(self, id)
    }
    fn approval_list(&self, status: Option<String>, limit: usize) -> impl Fut<Vec<ApprovalRow>> {
        Store::approval_list(self, status, limit)
    }
    fn approval_decide(&self, id: i64, approve: bool, by: i64) -> impl Fut<ApprovalRow> {
        Store::approval_decide(self, id, approve, by)
    }
    fn approvals_pending_count(&self) -> impl Fut<i64> {
        Store::approvals_pending_count(self)
    }
    fn approvals_expire(&self, now: i64) -> impl Fut<Vec<ApprovalRow>> {
        Store::approvals_expire(self, now)
    }
    fn approval_dispatch(&self, id: i64, fingerprint: &str) -> impl Fut<bool> {
        Store::approval_dispatch(self, id, fingerprint)
    }
    fn approvals_resumable(&self) -> impl Fut<Vec<i64>> {
        Store::approvals_resumable(self)
    }
    fn approval_claim(&self, id: i64) -> impl Fut<Option<String>> {
        Store::approval_claim(self, id)
    }
    fn approval_resumed(&self, id: i64) -> impl Fut<()> {
        Store::approval_resumed(self, id)
    }
    fn approvals_release_claims(&self) -> impl Fut<usize> {
        Store::approvals_release_claims(self)
    }
}

impl Store {
    /// Files a request, or merges it into an identical pending one (same
    /// agent, conversation and fingerprint) so a looping model does not
    /// flood the owner. A merged request's parked state is dropped.
    pub async fn approval_request(&self, new: NewApproval) -> Result<Requested, StoreError> {
        let now = crate::auth::now_secs();
        self.write(move |conn| {
            let tx = conn.transaction()?;
            let existing: Option<i64> = tx
                .prepare_cached(
                    "SELECT id FROM approvals WHERE agent_id = ?1 AND conversation_id = ?2
                     AND fingerprint = ?3 AND status = 'pending' AND expires_at > ?4",
                )?
                .query_row(
                    params![new.agent_id, new.conversation_id, new.fingerprint, now],
                    |r| r.get(0),
                )
                .optional()?;
            let out = if let Some(id) = existing {
                tx.prepare_cached("UPDATE approvals SET merged = merged + 1 WHERE id = ?1")?
                    .execute([id])?;
                Requested::Merged(get_conn(&tx, id)?.ok_or(StoreError::NotFound)?)
            } else {
                tx.prepare_cached(
                    "INSERT INTO approvals (agent_id, conversation_id, tool, domain, fingerprint, target,
                       arguments, taint_source, reason, status, created_at, expires_at, parked)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'pending', ?10, ?11, ?12)",
                )?
                .execute(params![
                    new.agent_id,
                    new.conversation_id,
                    new.tool,
                    new.domain,
                    new.fingerprint,
                    new.target,
                    new.arguments,
                    new.taint_source,
                    new.reason,
                    now,
                    new.expires_at,
                    new.parked
                ])?;
                let id = tx.last_insert_rowid();
                Requested::New(get_conn(&tx, id)?.ok_or(StoreError::NotFound)?)
            };
            tx.commit()?;
            Ok(out)
        })
        .await
    }

    pub async fn approval_get(&self, id: i64) -> Result<Option<ApprovalRow>, StoreError> {
        self.read(move |conn| get_conn(conn, id)).await
    }

    /// Newest first; `status` filters when given.
    pub async fn approval_list(
        &self,
        status: Option<String>,
        limit: usize,
    ) -> Result<Vec<ApprovalRow>, StoreError> {
        self.read(move |conn| {
            let sql = format!(
                "SELECT {COLS} FROM approvals WHERE ?1 IS NULL OR status = ?1 ORDER BY id DESC LIMIT ?2"
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt
                .query_map(params![status, limit as i64], row)?
                .collect::<Result<_, _>>()?;
            Ok(rows)
        })
        .await
    }

    /// pending → approved | denied, only while pending and unexpired.
    /// `Conflict` when it was already decided or has expired.
    pub async fn approval_decide(
        &self,
        id: i64,
        approve: bool,
        by: i64,
    ) -> Result<ApprovalRow, StoreError> {
        let now = crate::auth::now_secs();
        let status = if approve { "approved" } else { "denied" };
        self.write(move |conn| {
            let n = conn
                .prepare_cached(
                    "UPDATE approvals SET status = ?2, decided_at = ?3, decided_by = ?4
                     WHERE id = ?1 AND status = 'pending' AND expires_at > ?3",
                )?
                .execute(params![id, status, now, by])?;
            let current = get_conn(conn, id)?.ok_or(StoreError::NotFound)?;
            if n == 0 {
                return Err(StoreError::Conflict(format!(
                    "approval {id} is {}, not pending",
                    if current.status == "pending" {
                        "expired"
                    } else {
                        current.status.as_str()
                    }
                )));
            }
            Ok(current)
        })
        .await
    }

    /// How many requests wait for a decision (for `/metrics`).
    pub async fn approvals_pending_count(&self) -> Result<i64, StoreError> {
        self.read(|conn| {
            Ok(conn
                .prepare_cached("SELECT count(*) FROM approvals WHERE status = 'pending'")?
                .query_row([], |r| r.get(0))?)
        })
        .await
    }

    /// Marks every overdue pending request expired; returns them. Called
    /// every second, so it writes only when something is overdue: every
    /// write forgets the credential and chat caches.
    pub async fn approvals_expire(&self, now: i64) -> Result<Vec<ApprovalRow>, StoreError> {
        let overdue = self
            .read(move |conn| {
                Ok(conn
                    .prepare_cached(
                        "SELECT 1 FROM approvals WHERE status = 'pending' AND expires_at <= ?1 LIMIT 1",
                    )?
                    .exists([now])?)
            })
            .await?;
        if !overdue {
            return Ok(Vec::new());
        }
        self.write(move |conn| {
            let tx = conn.transaction()?;
            let sql = format!(
                "UPDATE approvals SET status = 'expired', decided_at = ?1
                 WHERE status = 'pending' AND expires_at <= ?1 RETURNING {COLS}"
            );
            let rows = tx
                .prepare_cached(&sql)?
                .query_map([now], row)?
                .collect::<Result<Vec<_>, _>>()?;
            tx.commit()?;
            Ok(rows)
        })
        .await
    }

    /// approved → dispatched, only if the fingerprint still matches. True
    /// once per approval: a second dispatch finds it no longer approved.
    pub async fn approval_dispatch(&self, id: i64, fingerprint: &str) -> Result<bool, StoreError> {
        let now = crate::auth::now_secs();
        let fp = fingerprint.to_string();
        self.write(move |conn| {
            let n = conn
                .prepare_cached(
                    "UPDATE approvals SET status = 'dispatched', dispatched_at = ?3
                     WHERE id = ?1 AND status = 'approved' AND fingerprint = ?2",
                )?
                .execute(params![id, fp, now])?;
            Ok(n == 1)
        })
        .await
    }

    /// Decided requests whose parked turn has not been resumed yet.
    pub async fn approvals_resumable(&self) -> Result<Vec<i64>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT id FROM approvals WHERE parked IS NOT NULL AND claimed = 0
                 AND status <> 'pending' ORDER BY id",
            )?;
            let ids = stmt
                .query_map([], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            Ok(ids)
        })
        .await
    }

    /// Takes the parked turn of a decided request for resuming; `None` if
    /// another resume has it or it was already resumed.
    pub async fn approval_claim(&self, id: i64) -> Result<Option<String>, StoreError> {
        self.write(move |conn| {
            Ok(conn
                .prepare_cached(
                    "UPDATE approvals SET claimed = 1 WHERE id = ?1 AND claimed = 0
                     AND parked IS NOT NULL AND status <> 'pending' RETURNING parked",
                )?
                .query_row([id], |r| r.get::<_, String>(0))
                .optional()?)
        })
        .await
    }

    /// The resumed turn finished: its parked state is no longer needed.
    pub async fn approval_resumed(&self, id: i64) -> Result<(), StoreError> {
        self.write(move |conn| {
            conn.prepare_cached("UPDATE approvals SET parked = NULL WHERE id = ?1")?
                .execute([id])?;
            Ok(())
        })
        .await
    }

    /// At start-up: a claim left by a process that stopped mid-resume is
    /// released, so that turn resumes again (dispatch stays once-only).
    pub async fn approvals_release_claims(&self) -> Result<usize, StoreError> {
        self.write(|conn| {
            Ok(conn
                .prepare_cached(
                    "UPDATE approvals SET claimed = 0 WHERE claimed = 1 AND parked IS NOT NULL",
                )?
                .execute([])?)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::DbKey;

    fn new_approval(fingerprint: &str) -> NewApproval {
        NewApproval {
            agent_id: 1,
            conversation_id: 1,
            tool: "memory_save".into(),
            domain: "files".into(),
            fingerprint: fingerprint.into(),
            target: "memory:conversation:1".into(),
            arguments: "{}".into(),
            taint_source: None,
            reason: "trust level 2 for files".into(),
            expires_at: crate::auth::now_secs() + 600,
            parked: "{}".into(),
        }
    }

    #[tokio::test]
    async fn an_approval_dispatches_once_and_only_with_its_fingerprint() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(&tmp.path().join("db"), DbKey::generate()).unwrap();
        // The approval's agent and conversation are not what is tested here.
        store
            .write(|c| {
                c.execute_batch("PRAGMA foreign_keys = OFF;")?;
                Ok(())
            })
            .await
            .unwrap();
        let Requested::New(row) = store.approval_request(new_approval("aa")).await.unwrap() else {
            panic!("first request must be new");
        };
        let Requested::Merged(same) = store.approval_request(new_approval("aa")).await.unwrap()
        else {
            panic!("an identical pending request must merge");
        };
        assert_eq!((same.id, same.merged), (row.id, 1));
        // Not approved yet: nothing dispatches.
        assert!(!store.approval_dispatch(row.id, "aa").await.unwrap());
        store.approval_decide(row.id, true, 1).await.unwrap();
        assert!(matches!(
            store.approval_decide(row.id, false, 1).await,
            Err(StoreError::Conflict(_))
        ));
        assert!(
            !store.approval_dispatch(row.id, "bb").await.unwrap(),
            "other call"
        );
        assert!(store.approval_dispatch(row.id, "aa").await.unwrap());
        assert!(
            !store.approval_dispatch(row.id, "aa").await.unwrap(),
            "second dispatch"
        );
        let row = store.approval_get(row.id).await.unwrap().unwrap();
        assert_eq!(row.status, "dispatched");
        // The parked turn is claimed once.
        assert_eq!(
            store.approval_claim(row.id).await.unwrap().as_deref(),
            Some("{}")
        );
        assert_eq!(store.approval_claim(row.id).await.unwrap(), None);
    }
}
