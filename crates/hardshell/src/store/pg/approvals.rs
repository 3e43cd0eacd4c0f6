//! The approvals aggregate on PostgreSQL (`store::approvals::ApprovalStore`):
//! pending → approved | denied | expired → dispatched, with the parked turn
//! beside the request.
//!
//! As on SQLCipher, every transition is one conditional UPDATE, so two
//! deciders, two dispatchers or a decider racing the expiry sweep cannot
//! both win (PostgreSQL re-checks the WHERE clause on the row version it
//! locks). Filing a request reads before it writes (merge into an
//! identical pending one, or insert), so it runs under a transaction-scoped
//! advisory lock per (agent, conversation, fingerprint). It never judges
//! who may decide; that is `trust::approvals`'.

use tokio_postgres::Row;

use super::{PgStore, col};
use crate::store::StoreError;
use crate::store::approvals::{ApprovalRow, ApprovalStore, NewApproval, Requested};

const COLS: &str = "id, agent_id, conversation_id, tool, domain, fingerprint, target, arguments, \
    taint_source, reason, status, merged, created_at, expires_at, decided_at, decided_by, dispatched_at";

fn row(r: &Row) -> Result<ApprovalRow, StoreError> {
    Ok(ApprovalRow {
        id: col(r, 0)?,
        agent_id: col(r, 1)?,
        conversation_id: col(r, 2)?,
        tool: col(r, 3)?,
        domain: col(r, 4)?,
        fingerprint: col(r, 5)?,
        target: col(r, 6)?,
        arguments: col(r, 7)?,
        taint_source: col(r, 8)?,
        reason: col(r, 9)?,
        status: col(r, 10)?,
        merged: col(r, 11)?,
        created_at: col(r, 12)?,
        expires_at: col(r, 13)?,
        decided_at: col(r, 14)?,
        decided_by: col(r, 15)?,
        dispatched_at: col(r, 16)?,
    })
}

fn rows(rs: &[Row]) -> Result<Vec<ApprovalRow>, StoreError> {
    rs.iter().map(row).collect()
}

impl ApprovalStore for PgStore {
    async fn approval_request(&self, new: NewApproval) -> Result<Requested, StoreError> {
        let now = crate::auth::now_secs();
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        super::lock_named(
            &tx,
            &format!(
                "approval:{}:{}:{}",
                new.agent_id, new.conversation_id, new.fingerprint
            ),
        )
        .await?;
        let existing = tx
            .query_opt(
                "SELECT id FROM approvals WHERE agent_id = $1 AND conversation_id = $2
                 AND fingerprint = $3 AND status = 'pending' AND expires_at > $4",
                &[&new.agent_id, &new.conversation_id, &new.fingerprint, &now],
            )
            .await?;
        let out = match existing {
            Some(e) => {
                let id: i64 = col(&e, 0)?;
                let r = tx
                    .query_one(
                        &format!(
                            "UPDATE approvals SET merged = merged + 1 WHERE id = $1 RETURNING {COLS}"
                        ),
                        &[&id],
                    )
                    .await?;
                Requested::Merged(row(&r)?)
            }
            None => {
                let r = tx
                    .query_one(
                        &format!(
                            "INSERT INTO approvals (agent_id, conversation_id, tool, domain,
                               fingerprint, target, arguments, taint_source, reason, status,
                               created_at, expires_at, parked)
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending', $10, $11, $12)
                             RETURNING {COLS}"
                        ),
                        &[
                            &new.agent_id,
                            &new.conversation_id,
                            &new.tool,
                            &new.domain,
                            &new.fingerprint,
                            &new.target,
                            &new.arguments,
                            &new.taint_source,
                            &new.reason,
                            &now,
                            &new.expires_at,
                            &new.parked,
                        ],
                    )
                    .await?;
                Requested::New(row(&r)?)
            }
        };
        tx.commit().await?;
        Ok(out)
    }

    async fn approval_get(&self, id: i64) -> Result<Option<ApprovalRow>, StoreError> {
        let r = self
            .client()
            .await?
            .query_opt(
                &format!("SELECT {COLS} FROM approvals WHERE id = $1"),
                &[&id],
            )
            .await?;
        r.as_ref().map(row).transpose()
    }

    async fn approval_list(
        &self,
        status: Option<String>,
        limit: usize,
    ) -> Result<Vec<ApprovalRow>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rs = self
            .client()
            .await?
            .query(
                &format!(
                    "SELECT {COLS} FROM approvals WHERE $1::text IS NULL OR status = $1
                     ORDER BY id DESC LIMIT $2"
                ),
                &[&status, &limit],
            )
            .await?;
        rows(&rs)
    }

    async fn approval_decide(
        &self,
        id: i64,
        approve: bool,
        by: i64,
    ) -> Result<ApprovalRow, StoreError> {
        let now = crate::auth::now_secs();
        let status = if approve { "approved" } else { "denied" };
        let c = self.client().await?;
        let decided = c
            .query_opt(
                &format!(
                    "UPDATE approvals SET status = $2, decided_at = $3, decided_by = $4
                     WHERE id = $1 AND status = 'pending' AND expires_at > $3 RETURNING {COLS}"
                ),
                &[&id, &status, &now, &by],
            )
            .await?;
        if let Some(r) = decided {
            return row(&r);
        }
        let current = c
            .query_opt("SELECT status FROM approvals WHERE id = $1", &[&id])
            .await?
            .ok_or(StoreError::NotFound)?;
        let status: String = col(&current, 0)?;
        Err(StoreError::Conflict(format!(
            "approval {id} is {}, not pending",
            if status == "pending" {
                "expired"
            } else {
                status.as_str()
            }
        )))
    }

    async fn approvals_pending_count(&self) -> Result<i64, StoreError> {
        let r = self
            .client()
            .await?
            .query_one(
                "SELECT count(*) FROM approvals WHERE status = 'pending'",
                &[],
            )
            .await?;
        col(&r, 0)
    }

    async fn approvals_expire(&self, now: i64) -> Result<Vec<ApprovalRow>, StoreError> {
        let rs = self
            .client()
            .await?
            .query(
                &format!(
                    "UPDATE approvals SET status = 'expired', decided_at = $1
                     WHERE status = 'pending' AND expires_at <= $1 RETURNING {COLS}"
                ),
                &[&now],
            )
            .await?;
        let mut out = rows(&rs)?;
        // RETURNING has no order; callers report oldest first, as SQLite's
        // rowid walk gives.
        out.sort_by_key(|r| r.id);
        Ok(out)
    }

    async fn approval_dispatch(&self, id: i64, fingerprint: &str) -> Result<bool, StoreError> {
        let n = self
            .client()
            .await?
            .execute(
                "UPDATE approvals SET status = 'dispatched', dispatched_at = $3
                 WHERE id = $1 AND status = 'approved' AND fingerprint = $2",
                &[&id, &fingerprint, &crate::auth::now_secs()],
            )
            .await?;
        Ok(n == 1)
    }

    async fn approvals_resumable(&self) -> Result<Vec<i64>, StoreError> {
        let rs = self
            .client()
            .await?
            .query(
                "SELECT id FROM approvals WHERE parked IS NOT NULL AND NOT claimed
                 AND status <> 'pending' ORDER BY id",
                &[],
            )
            .await?;
        rs.iter().map(|r| col(r, 0)).collect()
    }

    async fn approval_claim(&self, id: i64) -> Result<Option<String>, StoreError> {
        let r = self
            .client()
            .await?
            .query_opt(
                "UPDATE approvals SET claimed = true WHERE id = $1 AND NOT claimed
                 AND parked IS NOT NULL AND status <> 'pending' RETURNING parked",
                &[&id],
            )
            .await?;
        r.map(|r| col(&r, 0)).transpose()
    }

    async fn approval_resumed(&self, id: i64) -> Result<(), StoreError> {
        self.client()
            .await?
            .execute("UPDATE approvals SET parked = NULL WHERE id = $1", &[&id])
            .await?;
        Ok(())
    }

    async fn approvals_release_claims(&self) -> Result<usize, StoreError> {
        let n = self
            .client()
            .await?
            .execute(
                "UPDATE approvals SET claimed = false WHERE claimed AND parked IS NOT NULL",
                &[],
            )
            .await?;
        usize::try_from(n).map_err(|e| StoreError::BadData(e.to_string()))
    }
}
