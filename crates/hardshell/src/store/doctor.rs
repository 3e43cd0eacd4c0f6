//! The read-only facts `hardshell doctor` judges: owners' password hashes,
//! trust levels, "allow always" rules, API keys' expiry and use, agents,
//! and the newest backup recorded in the audit log.
//!
//! Reads only; it never changes a row. The judging (what is risky, how
//! severe) is `doctor`'s, not this module's.

use rusqlite::OptionalExtension;

use super::{Store, StoreError};

/// An owner account and its stored hash (PHC string), for the strength check.
#[derive(Debug, Clone)]
pub struct OwnerHash {
    pub username: String,
    pub password_hash: Option<String>,
}

/// A trust level set on an agent's domain.
#[derive(Debug, Clone)]
pub struct LevelFact {
    pub handle: String,
    pub domain: String,
    pub level: u8,
}

/// An "allow always" rule.
#[derive(Debug, Clone)]
pub struct AllowRuleFact {
    pub handle: String,
    pub tool: String,
    pub scope: String,
}

/// An API key that is not revoked. Times are Unix seconds.
#[derive(Debug, Clone)]
pub struct KeyFact {
    pub public_id: String,
    pub name: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
}

/// Everything `doctor` reads from the database, in one read.
#[derive(Debug, Clone, Default)]
pub struct DoctorFacts {
    pub owners: Vec<OwnerHash>,
    pub levels: Vec<LevelFact>,
    pub allow_rules: Vec<AllowRuleFact>,
    pub keys: Vec<KeyFact>,
    /// (id, handle) of every agent.
    pub agents: Vec<(i64, String)>,
    /// `ts` of the newest successful `backup.created` entry.
    pub last_backup: Option<String>,
}

impl Store {
    /// `ts` of the newest successful `backup.created` entry (scheduled
    /// backups and the backup-age API).
    pub async fn last_backup_ts(&self) -> Result<Option<String>, StoreError> {
        self.read(|conn| {
            Ok(conn
                .query_row(
                    "SELECT ts FROM audit_log WHERE action = 'backup.created' \
                     AND outcome = 'success' ORDER BY seq DESC LIMIT 1",
                    [],
                    |r| r.get(0),
                )
                .optional()?)
        })
        .await
    }

    pub async fn doctor_facts(&self) -> Result<DoctorFacts, StoreError> {
        self.read(|conn| {
            let owners = conn
                .prepare(
                    "SELECT username, password_hash FROM users \
                     WHERE role = 'owner' AND disabled = 0 ORDER BY id",
                )?
                .query_map([], |r| {
                    Ok(OwnerHash {
                        username: r.get(0)?,
                        password_hash: r.get(1)?,
                    })
                })?
                .collect::<Result<_, _>>()?;
            let levels = conn
                .prepare(
                    "SELECT a.handle, t.domain, t.level FROM trust_levels t \
                     JOIN agents a ON a.id = t.agent_id ORDER BY a.id, t.domain",
                )?
                .query_map([], |r| {
                    Ok(LevelFact {
                        handle: r.get(0)?,
                        domain: r.get(1)?,
                        level: r.get(2)?,
                    })
                })?
                .collect::<Result<_, _>>()?;
            let allow_rules = conn
                .prepare(
                    "SELECT a.handle, r.tool, r.scope FROM allow_rules r \
                     JOIN agents a ON a.id = r.agent_id ORDER BY r.id",
                )?
                .query_map([], |r| {
                    Ok(AllowRuleFact {
                        handle: r.get(0)?,
                        tool: r.get(1)?,
                        scope: r.get(2)?,
                    })
                })?
                .collect::<Result<_, _>>()?;
            let keys = conn
                .prepare(
                    "SELECT public_id, name, created_at, expires_at, last_used_at \
                     FROM agent_keys WHERE revoked_at IS NULL ORDER BY id",
                )?
                .query_map([], |r| {
                    Ok(KeyFact {
                        public_id: r.get(0)?,
                        name: r.get(1)?,
                        created_at: r.get(2)?,
                        expires_at: r.get(3)?,
                        last_used_at: r.get(4)?,
                    })
                })?
                .collect::<Result<_, _>>()?;
            let agents = conn
                .prepare("SELECT id, handle FROM agents ORDER BY id")?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?;
            let last_backup = conn
                .query_row(
                    "SELECT ts FROM audit_log WHERE action = 'backup.created' \
                     AND outcome = 'success' ORDER BY seq DESC LIMIT 1",
                    [],
                    |r| r.get(0),
                )
                .optional()?;
            Ok(DoctorFacts {
                owners,
                levels,
                allow_rules,
                keys,
                agents,
                last_backup,
            })
        })
        .await
    }
}
