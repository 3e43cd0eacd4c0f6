//! Trust levels, their history, secret bindings and "allow always" rules on
//! PostgreSQL (`store::trust::TrustStore`, `store::tool_rules::
//! ToolRuleStore`).
//!
//! A level change reads the current level and writes the new one with its
//! history row; SQLite's single writer made that atomic for free. Here each
//! (agent, domain) is serialised by a transaction-scoped advisory lock, so
//! two failures at the demotion threshold, or a demotion racing an owner's
//! change, apply one after the other and the history chains. It never
//! decides what a level means or whether a rule applies.

use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::{PgStore, col};
use crate::store::StoreError;
use crate::store::tool_rules::{AllowRule, BindingRow, SecretBinding, ToolRuleStore};
use crate::store::trust::{ChangeBy, TrustChange, TrustStore};

const CHANGE_COLS: &str =
    "id, agent_id, domain, old_level, new_level, reason, actor_kind, actor_id, created_at";
const BINDING_COLUMNS: &str = "name, scheme, host, port, path_prefix, slots, updated_at";
const RULE_COLUMNS: &str = "id, agent_id, tool, scope, created_by, created_at";

fn level_of(v: i64) -> Result<u8, StoreError> {
    u8::try_from(v).map_err(|e| StoreError::BadData(format!("trust level {v}: {e}")))
}

fn change_row(r: &Row) -> Result<TrustChange, StoreError> {
    Ok(TrustChange {
        id: col(r, 0)?,
        agent_id: col(r, 1)?,
        domain: col(r, 2)?,
        old_level: level_of(col(r, 3)?)?,
        new_level: level_of(col(r, 4)?)?,
        reason: col(r, 5)?,
        actor_kind: col(r, 6)?,
        actor_id: col(r, 7)?,
        created_at: col(r, 8)?,
    })
}

fn binding_row(r: &Row) -> Result<BindingRow, StoreError> {
    let slots: String = col(r, 5)?;
    let port: i64 = col(r, 3)?;
    Ok(BindingRow {
        name: col(r, 0)?,
        binding: SecretBinding {
            scheme: col(r, 1)?,
            host: col(r, 2)?,
            port: u16::try_from(port).map_err(|e| StoreError::BadData(e.to_string()))?,
            path_prefix: col(r, 4)?,
            slots: serde_json::from_str(&slots).unwrap_or_default(),
        },
        updated_at: col(r, 6)?,
    })
}

fn rule_row(r: &Row) -> Result<AllowRule, StoreError> {
    Ok(AllowRule {
        id: col(r, 0)?,
        agent_id: col(r, 1)?,
        tool: col(r, 2)?,
        scope: col(r, 3)?,
        created_by: col(r, 4)?,
        created_at: col(r, 5)?,
    })
}

/// Serialises level changes of one (agent, domain) until the transaction
/// ends.
async fn lock_level(c: &impl GenericClient, agent: i64, domain: &str) -> Result<(), StoreError> {
    super::lock_named(c, &format!("trust:{agent}:{domain}")).await
}

async fn level_now(
    c: &impl GenericClient,
    agent: i64,
    domain: &str,
) -> Result<Option<u8>, StoreError> {
    let r = c
        .query_opt(
            "SELECT level FROM trust_levels WHERE agent_id = $1 AND domain = $2",
            &[&agent, &domain],
        )
        .await?;
    r.map(|r| level_of(col(&r, 0)?)).transpose()
}

/// Writes the new level and its history row (inside the caller's
/// transaction, under `lock_level`).
async fn set_level(
    c: &impl GenericClient,
    agent: i64,
    domain: &str,
    old: u8,
    new: u8,
    by: &ChangeBy,
) -> Result<TrustChange, StoreError> {
    let now = crate::auth::now_secs();
    c.execute(
        "INSERT INTO trust_levels (agent_id, domain, level, failures) VALUES ($1, $2, $3, 0)
         ON CONFLICT (agent_id, domain) DO UPDATE SET level = excluded.level, failures = 0",
        &[&agent, &domain, &i64::from(new)],
    )
    .await?;
    let r = c
        .query_one(
            &format!(
                "INSERT INTO trust_history (agent_id, domain, old_level, new_level, reason,
                     actor_kind, actor_id, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {CHANGE_COLS}"
            ),
            &[
                &agent,
                &domain,
                &i64::from(old),
                &i64::from(new),
                &by.reason,
                &by.actor_kind,
                &by.actor_id,
                &now,
            ],
        )
        .await?;
    change_row(&r)
}

impl TrustStore for PgStore {
    async fn trust_levels(&self, agent: i64) -> Result<Vec<(String, u8)>, StoreError> {
        let rs = self
            .client()
            .await?
            .query(
                "SELECT domain, level FROM trust_levels WHERE agent_id = $1 ORDER BY domain",
                &[&agent],
            )
            .await?;
        rs.iter()
            .map(|r| Ok((col(r, 0)?, level_of(col(r, 1)?)?)))
            .collect()
    }

    async fn trust_level(&self, agent: i64, domain: &str) -> Result<Option<u8>, StoreError> {
        level_now(&self.client().await?, agent, domain).await
    }

    async fn trust_set(
        &self,
        agent: i64,
        domain: &str,
        default: u8,
        level: u8,
        by: ChangeBy,
    ) -> Result<TrustChange, StoreError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        lock_level(&tx, agent, domain).await?;
        let old = level_now(&tx, agent, domain).await?.unwrap_or(default);
        let change = set_level(&tx, agent, domain, old, level, &by).await?;
        tx.commit().await?;
        Ok(change)
    }

    async fn trust_record_outcome(
        &self,
        agent: i64,
        domain: &str,
        default: u8,
        ok: bool,
        demote_after: u32,
    ) -> Result<Option<TrustChange>, StoreError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        lock_level(&tx, agent, domain).await?;
        let current = level_now(&tx, agent, domain).await?;
        if ok {
            if current.is_some() {
                tx.execute(
                    "UPDATE trust_levels SET failures = 0 WHERE agent_id = $1 AND domain = $2",
                    &[&agent, &domain],
                )
                .await?;
            }
            tx.commit().await?;
            return Ok(None);
        }
        let level = current.unwrap_or(default);
        let r = tx
            .query_one(
                "INSERT INTO trust_levels (agent_id, domain, level, failures) VALUES ($1, $2, $3, 1)
                 ON CONFLICT (agent_id, domain) DO UPDATE SET failures = trust_levels.failures + 1
                 RETURNING failures",
                &[&agent, &domain, &i64::from(level)],
            )
            .await?;
        let failures: i64 = col(&r, 0)?;
        let mut change = None;
        if failures >= i64::from(demote_after) && level > 0 {
            let by = ChangeBy {
                reason: format!("{failures} failed or denied calls in a row"),
                actor_kind: "system".into(),
                actor_id: "trust".into(),
            };
            change = Some(set_level(&tx, agent, domain, level, level - 1, &by).await?);
        }
        tx.commit().await?;
        Ok(change)
    }

    async fn trust_history(
        &self,
        agent: Option<i64>,
        limit: usize,
    ) -> Result<Vec<TrustChange>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rs = self
            .client()
            .await?
            .query(
                &format!(
                    "SELECT {CHANGE_COLS} FROM trust_history
                     WHERE $1::bigint IS NULL OR agent_id = $1 ORDER BY id DESC LIMIT $2"
                ),
                &[&agent, &limit],
            )
            .await?;
        rs.iter().map(change_row).collect()
    }

    async fn trust_change(&self, id: i64) -> Result<Option<TrustChange>, StoreError> {
        let r = self
            .client()
            .await?
            .query_opt(
                &format!("SELECT {CHANGE_COLS} FROM trust_history WHERE id = $1"),
                &[&id],
            )
            .await?;
        r.as_ref().map(change_row).transpose()
    }
}

impl ToolRuleStore for PgStore {
    async fn secret_bindings(&self) -> Result<Vec<BindingRow>, StoreError> {
        let rs = self
            .client()
            .await?
            .query(
                &format!("SELECT {BINDING_COLUMNS} FROM secret_bindings ORDER BY name"),
                &[],
            )
            .await?;
        rs.iter().map(binding_row).collect()
    }

    async fn secret_binding(&self, name: &str) -> Result<Option<BindingRow>, StoreError> {
        let r = self
            .client()
            .await?
            .query_opt(
                &format!("SELECT {BINDING_COLUMNS} FROM secret_bindings WHERE name = $1"),
                &[&name],
            )
            .await?;
        r.as_ref().map(binding_row).transpose()
    }

    async fn secret_bind(
        &self,
        name: &str,
        binding: SecretBinding,
    ) -> Result<BindingRow, StoreError> {
        let now = crate::auth::now_secs();
        let slots = serde_json::to_string(&binding.slots).unwrap_or_else(|_| "[]".into());
        self.client()
            .await?
            .execute(
                "INSERT INTO secret_bindings (name, scheme, host, port, path_prefix, slots, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (name) DO UPDATE SET scheme = excluded.scheme, host = excluded.host,
                   port = excluded.port, path_prefix = excluded.path_prefix,
                   slots = excluded.slots, updated_at = excluded.updated_at",
                &[
                    &name,
                    &binding.scheme,
                    &binding.host,
                    &i64::from(binding.port),
                    &binding.path_prefix,
                    &slots,
                    &now,
                ],
            )
            .await?;
        Ok(BindingRow {
            name: name.to_string(),
            binding,
            updated_at: now,
        })
    }

    async fn secret_unbind(&self, name: &str) -> Result<bool, StoreError> {
        let n = self
            .client()
            .await?
            .execute("DELETE FROM secret_bindings WHERE name = $1", &[&name])
            .await?;
        Ok(n > 0)
    }

    async fn allow_rule_add(
        &self,
        agent: i64,
        tool: &str,
        scope: &str,
        by: Option<i64>,
    ) -> Result<AllowRule, StoreError> {
        let c = self.client().await?;
        c.execute(
            "INSERT INTO allow_rules (agent_id, tool, scope, created_by, created_at)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (agent_id, tool, scope) DO NOTHING",
            &[&agent, &tool, &scope, &by, &crate::auth::now_secs()],
        )
        .await?;
        // ON CONFLICT DO NOTHING waits for a racing insert of the same rule
        // to commit, so the row is there to read either way.
        let r = c
            .query_one(
                &format!(
                    "SELECT {RULE_COLUMNS} FROM allow_rules
                     WHERE agent_id = $1 AND tool = $2 AND scope = $3"
                ),
                &[&agent, &tool, &scope],
            )
            .await?;
        rule_row(&r)
    }

    async fn allow_rules(
        &self,
        filter: Option<(i64, String)>,
    ) -> Result<Vec<AllowRule>, StoreError> {
        let c = self.client().await?;
        let rs = match filter {
            None => {
                c.query(
                    &format!("SELECT {RULE_COLUMNS} FROM allow_rules ORDER BY id"),
                    &[],
                )
                .await
            }
            Some((agent, tool)) => {
                c.query(
                    &format!(
                        "SELECT {RULE_COLUMNS} FROM allow_rules
                         WHERE agent_id = $1 AND tool = $2 ORDER BY id"
                    ),
                    &[&agent, &tool],
                )
                .await
            }
        }?;
        rs.iter().map(rule_row).collect()
    }

    async fn allow_rule_remove(&self, id: i64) -> Result<Option<AllowRule>, StoreError> {
        let r = self
            .client()
            .await?
            .query_opt(
                &format!("DELETE FROM allow_rules WHERE id = $1 RETURNING {RULE_COLUMNS}"),
                &[&id],
            )
            .await?;
        r.as_ref().map(rule_row).transpose()
    }
}
