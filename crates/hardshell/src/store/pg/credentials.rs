//! The credentials aggregate on PostgreSQL (`store::credentials::
//! CredentialStore`): setup tokens, sessions and their tokens, identity
//! keys, agent keys.
//!
//! As on SQLCipher, every credential arrives hashed and validity (expiry,
//! revocation, disabled users and key creators) is decided in the lookup
//! itself. What SQLite got from its single writer, this file gets from row
//! locks: a refresh token is read `FOR UPDATE`, so two presentations of it
//! cannot both rotate (the second sees it spent and revokes the family);
//! setup takes the owners lock; an identity key replacement locks its
//! user's row. No credential cache sits in front of these lookups yet.

use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::users::lock_owners;
use super::{PgStore, col, pg_error};
use crate::auth::Role;
use crate::store::StoreError;
use crate::store::auth::{
    AgentKeyRow, NewAgentKey, NewSession, NewToken, RefreshOutcome, SessionAuth, SessionInfo,
    SessionKind, SessionOwner, SetupOutcome, TokenHash,
};
use crate::store::credentials::CredentialStore;
use crate::store::users::UserRow;

const USER_COLS: &str = "u.id, u.uuid, u.username, u.role, u.disabled, u.created_at";
const KEY_COLS: &str = "k.id, k.public_id, k.name, k.permissions, k.created_by, k.created_at, \
     k.expires_at, k.rate_limit_per_minute, k.last_used_at, k.revoked_at";
/// For authentication: a key whose creator is disabled or gone is not
/// found at all.
const KEY_AUTH_FROM: &str =
    "FROM agent_keys k JOIN users u ON u.id = k.created_by AND NOT u.disabled";

fn user_at(r: &Row, at: usize) -> Result<UserRow, StoreError> {
    let role: String = col(r, at + 3)?;
    Ok(UserRow {
        id: col(r, at)?,
        uuid: col(r, at + 1)?,
        username: col(r, at + 2)?,
        role: role.parse().map_err(StoreError::BadData)?,
        disabled: col(r, at + 4)?,
        created_at: col(r, at + 5)?,
    })
}

fn key_at(r: &Row, at: usize) -> Result<AgentKeyRow, StoreError> {
    let perms: String = col(r, at + 3)?;
    let rate: Option<i64> = col(r, at + 7)?;
    Ok(AgentKeyRow {
        row_id: col(r, at)?,
        id: col(r, at + 1)?,
        name: col(r, at + 2)?,
        permissions: serde_json::from_str(&perms).unwrap_or_default(),
        created_by: col(r, at + 4)?,
        created_at: col(r, at + 5)?,
        expires_at: col(r, at + 6)?,
        rate_limit_per_minute: rate
            .map(|n| u32::try_from(n).map_err(|e| StoreError::BadData(e.to_string())))
            .transpose()?,
        last_used_at: col(r, at + 8)?,
        revoked_at: col(r, at + 9)?,
        creator_role: None,
    })
}

/// `KEY_COLS, u.role` read through `KEY_AUTH_FROM`.
fn key_with_creator_at(r: &Row, at: usize) -> Result<AgentKeyRow, StoreError> {
    let mut key = key_at(r, at)?;
    let role: String = col(r, at + 10)?;
    key.creator_role = Some(role.parse::<Role>().map_err(StoreError::BadData)?);
    Ok(key)
}

async fn insert_tokens(
    c: &impl GenericClient,
    session_id: i64,
    tokens: &[NewToken],
) -> Result<(), StoreError> {
    for t in tokens {
        c.execute(
            "INSERT INTO auth_tokens (token_hash, session_id, kind, expires_at)
             VALUES ($1, $2, $3, $4)",
            &[&&t.hash[..], &session_id, &t.kind, &t.expires_at],
        )
        .await?;
    }
    Ok(())
}

async fn key_by_public_id(
    c: &impl GenericClient,
    public_id: &str,
) -> Result<AgentKeyRow, StoreError> {
    let row = c
        .query_opt(
            &format!("SELECT {KEY_COLS} FROM agent_keys k WHERE k.public_id = $1"),
            &[&public_id],
        )
        .await?
        .ok_or(StoreError::NotFound)?;
    key_at(&row, 0)
}

impl CredentialStore for PgStore {
    async fn setup_token_replace(
        &self,
        hash: TokenHash,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        tx.execute("DELETE FROM setup_tokens", &[]).await?;
        tx.execute(
            "INSERT INTO setup_tokens (token_hash, expires_at) VALUES ($1, $2)",
            &[&&hash[..], &expires_at],
        )
        .await?;
        tx.commit().await.map_err(pg_error)
    }

    async fn setup_create_owner(
        &self,
        hash: TokenHash,
        now: i64,
        username: String,
        password_hash: String,
    ) -> Result<SetupOutcome, StoreError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        lock_owners(&tx).await?;
        let owners: i64 = tx
            .query_one("SELECT count(*) FROM users WHERE role = 'owner'", &[])
            .await?
            .get(0);
        if owners > 0 {
            tx.execute("DELETE FROM setup_tokens", &[]).await?;
            tx.commit().await?;
            return Ok(SetupOutcome::Gone);
        }
        let spent = tx
            .execute(
                "DELETE FROM setup_tokens WHERE token_hash = $1 AND expires_at > $2",
                &[&&hash[..], &now],
            )
            .await?;
        if spent == 0 {
            return Ok(SetupOutcome::BadToken);
        }
        let row = tx
            .query_one(
                "INSERT INTO users (uuid, username, role, password_hash, disabled, created_at)
                 VALUES ($1, $2, 'owner', $3, false, $4)
                 RETURNING id, uuid, username, role, disabled, created_at",
                &[
                    &crate::auth::tokens::uuid_v4(),
                    &username,
                    &password_hash,
                    &crate::store::users::rfc3339_now(),
                ],
            )
            .await
            .map_err(|e| {
                if super::is_unique_violation(&e) {
                    StoreError::Conflict("that username is taken".into())
                } else {
                    pg_error(e)
                }
            })?;
        let user = user_at(&row, 0)?;
        tx.execute("DELETE FROM setup_tokens", &[]).await?;
        tx.commit().await?;
        Ok(SetupOutcome::Created(user))
    }

    async fn session_create(
        &self,
        s: NewSession,
        tokens: Vec<NewToken>,
    ) -> Result<(i64, String), StoreError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        let now = crate::auth::now_secs();
        let public_id = crate::auth::tokens::public_id();
        let (user_id, key_id) = match s.owner {
            SessionOwner::User(u) => (Some(u), None),
            SessionOwner::AgentKey(k) => (None, Some(k)),
        };
        let csrf = s.csrf_hash.as_ref().map(|h| &h[..]);
        let id: i64 = tx
            .query_one(
                "INSERT INTO auth_sessions (public_id, user_id, agent_key_id, kind, csrf_hash,
                     created_at, last_seen_at, expires_at, ip)
                 VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8) RETURNING id",
                &[
                    &public_id,
                    &user_id,
                    &key_id,
                    &s.kind.as_str(),
                    &csrf,
                    &now,
                    &s.expires_at,
                    &s.ip,
                ],
            )
            .await?
            .get(0);
        insert_tokens(&tx, id, &tokens).await?;
        tx.commit().await?;
        Ok((id, public_id))
    }

    async fn session_by_token(
        &self,
        hash: TokenHash,
        kind: &'static str,
        now: i64,
        idle_secs: i64,
    ) -> Result<Option<SessionAuth>, StoreError> {
        let c = self.client().await?;
        let found = c
            .query_opt(
                "SELECT s.id, s.public_id, s.kind, s.csrf_hash, s.last_seen_at, s.user_id,
                        s.agent_key_id
                 FROM auth_tokens t JOIN auth_sessions s ON s.id = t.session_id
                 WHERE t.token_hash = $1 AND t.kind = $2 AND t.expires_at > $3
                   AND t.spent_at IS NULL AND s.revoked_at IS NULL AND s.expires_at > $3
                   AND (s.kind <> 'web' OR s.last_seen_at + $4 > $3)",
                &[&&hash[..], &kind, &now, &idle_secs],
            )
            .await?;
        let Some(r) = found else {
            return Ok(None);
        };
        let s_kind: String = col(&r, 2)?;
        let user_id: Option<i64> = col(&r, 5)?;
        let key_id: Option<i64> = col(&r, 6)?;
        let user = match user_id {
            Some(u) => {
                let row = c
                    .query_opt(
                        &format!(
                            "SELECT {USER_COLS} FROM users u WHERE u.id = $1 AND NOT u.disabled"
                        ),
                        &[&u],
                    )
                    .await?;
                match row {
                    Some(row) => Some(user_at(&row, 0)?),
                    None => return Ok(None),
                }
            }
            None => None,
        };
        let agent_key = match key_id {
            Some(k) => {
                let row = c
                    .query_opt(
                        &format!(
                            "SELECT {KEY_COLS}, u.role {KEY_AUTH_FROM}
                             WHERE k.id = $1 AND k.revoked_at IS NULL
                               AND (k.expires_at IS NULL OR k.expires_at > $2)"
                        ),
                        &[&k, &now],
                    )
                    .await?;
                match row {
                    Some(row) => Some(key_with_creator_at(&row, 0)?),
                    None => return Ok(None),
                }
            }
            None => None,
        };
        Ok(Some(SessionAuth {
            session_id: col(&r, 0)?,
            public_id: col(&r, 1)?,
            kind: if s_kind == "web" {
                SessionKind::Web
            } else {
                SessionKind::Token
            },
            csrf_hash: col(&r, 3)?,
            last_seen_at: col(&r, 4)?,
            user,
            agent_key,
        }))
    }

    async fn session_touch(&self, session_id: i64, now: i64) -> Result<(), StoreError> {
        self.client()
            .await?
            .execute(
                "UPDATE auth_sessions SET last_seen_at = $2 WHERE id = $1",
                &[&session_id, &now],
            )
            .await?;
        Ok(())
    }

    async fn refresh_rotate(
        &self,
        hash: TokenHash,
        now: i64,
        next: Vec<NewToken>,
    ) -> Result<RefreshOutcome, StoreError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        // The token's row lock makes a second presentation wait for this
        // one, then read the token as spent: reuse, never a second rotation.
        let found = tx
            .query_opt(
                "SELECT s.id, s.public_id, s.user_id, t.spent_at, t.expires_at, s.revoked_at,
                        s.expires_at
                 FROM auth_tokens t JOIN auth_sessions s ON s.id = t.session_id
                 WHERE t.token_hash = $1 AND t.kind = 'refresh' AND s.user_id IS NOT NULL
                 FOR UPDATE OF t, s",
                &[&&hash[..]],
            )
            .await?;
        let Some(r) = found else {
            return Ok(RefreshOutcome::Invalid);
        };
        let sid: i64 = col(&r, 0)?;
        let public_id: String = col(&r, 1)?;
        let user_id: i64 = col(&r, 2)?;
        let spent: Option<i64> = col(&r, 3)?;
        let t_exp: i64 = col(&r, 4)?;
        let revoked: Option<i64> = col(&r, 5)?;
        let s_exp: i64 = col(&r, 6)?;
        if spent.is_some() {
            // Replaying into an already-dead family is still reuse.
            tx.execute(
                "UPDATE auth_sessions SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
                &[&sid, &now],
            )
            .await?;
            tx.commit().await?;
            return Ok(RefreshOutcome::Reused {
                session_public_id: public_id,
                user_id,
            });
        }
        if revoked.is_some() || t_exp <= now || s_exp <= now {
            return Ok(RefreshOutcome::Invalid);
        }
        let user = tx
            .query_opt(
                &format!("SELECT {USER_COLS} FROM users u WHERE u.id = $1 AND NOT u.disabled"),
                &[&user_id],
            )
            .await?;
        let Some(user) = user else {
            return Ok(RefreshOutcome::Invalid);
        };
        let user = user_at(&user, 0)?;
        tx.execute(
            "UPDATE auth_tokens SET spent_at = $2 WHERE token_hash = $1",
            &[&&hash[..], &now],
        )
        .await?;
        // Access tokens issued before this refresh end with it.
        tx.execute(
            "UPDATE auth_tokens SET spent_at = $2
             WHERE session_id = $1 AND kind = 'access' AND spent_at IS NULL",
            &[&sid, &now],
        )
        .await?;
        insert_tokens(&tx, sid, &next).await?;
        tx.execute(
            "UPDATE auth_sessions SET last_seen_at = $2 WHERE id = $1",
            &[&sid, &now],
        )
        .await?;
        tx.commit().await?;
        Ok(RefreshOutcome::Rotated {
            session_public_id: public_id,
            user,
        })
    }

    async fn session_revoke(&self, session_id: i64) -> Result<bool, StoreError> {
        let n = self
            .client()
            .await?
            .execute(
                "UPDATE auth_sessions SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
                &[&session_id, &crate::auth::now_secs()],
            )
            .await?;
        Ok(n > 0)
    }

    async fn session_revoke_public(
        &self,
        user_id: i64,
        public_id: String,
    ) -> Result<bool, StoreError> {
        let n = self
            .client()
            .await?
            .execute(
                "UPDATE auth_sessions SET revoked_at = $3
                 WHERE user_id = $1 AND public_id = $2 AND revoked_at IS NULL",
                &[&user_id, &public_id, &crate::auth::now_secs()],
            )
            .await?;
        Ok(n > 0)
    }

    async fn sessions_revoke_all(&self, user_id: i64) -> Result<usize, StoreError> {
        let n = self
            .client()
            .await?
            .execute(
                "UPDATE auth_sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL",
                &[&user_id, &crate::auth::now_secs()],
            )
            .await?;
        usize::try_from(n).map_err(|e| StoreError::BadData(e.to_string()))
    }

    async fn sessions_list(
        &self,
        user_id: i64,
        current: Option<i64>,
        now: i64,
    ) -> Result<Vec<SessionInfo>, StoreError> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT id, public_id, kind, created_at, last_seen_at, expires_at, ip
                 FROM auth_sessions
                 WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 ORDER BY id DESC",
                &[&user_id, &now],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(SessionInfo {
                    current: Some(col::<i64>(r, 0)?) == current,
                    id: col(r, 1)?,
                    kind: col(r, 2)?,
                    created_at: col(r, 3)?,
                    last_seen_at: col(r, 4)?,
                    expires_at: col(r, 5)?,
                    ip: col(r, 6)?,
                })
            })
            .collect()
    }

    async fn identity_key_replace(
        &self,
        user_id: i64,
        hash: TokenHash,
    ) -> Result<bool, StoreError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        // One replacement per user at a time (two would both find no old
        // key, and the second insert would fail on the unique user_id).
        let exists = tx
            .query_opt("SELECT 1 FROM users WHERE id = $1 FOR UPDATE", &[&user_id])
            .await?;
        if exists.is_none() {
            return Err(StoreError::NotFound);
        }
        let old = tx
            .execute("DELETE FROM identity_keys WHERE user_id = $1", &[&user_id])
            .await?;
        tx.execute(
            "INSERT INTO identity_keys (user_id, key_hash, created_at) VALUES ($1, $2, $3)",
            &[&user_id, &&hash[..], &crate::auth::now_secs()],
        )
        .await?;
        tx.commit().await?;
        Ok(old > 0)
    }

    async fn identity_key_user(&self, hash: TokenHash) -> Result<Option<UserRow>, StoreError> {
        let row = self
            .client()
            .await?
            .query_opt(
                &format!(
                    "SELECT {USER_COLS} FROM identity_keys i JOIN users u ON u.id = i.user_id
                     WHERE i.key_hash = $1 AND NOT u.disabled"
                ),
                &[&&hash[..]],
            )
            .await?;
        row.map(|r| user_at(&r, 0)).transpose()
    }

    async fn agent_key_create(&self, k: NewAgentKey) -> Result<AgentKeyRow, StoreError> {
        let perms = serde_json::to_string(&k.permissions)
            .map_err(|e| StoreError::Conflict(e.to_string()))?;
        let rate = k.rate_limit_per_minute.map(i64::from);
        let row = self
            .client()
            .await?
            .query_one(
                &format!(
                    "INSERT INTO agent_keys AS k (public_id, name, key_hash, permissions, created_by,
                         created_at, expires_at, rate_limit_per_minute)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {KEY_COLS}"
                ),
                &[
                    &crate::auth::tokens::public_id(),
                    &k.name,
                    &&k.hash[..],
                    &perms,
                    &k.created_by,
                    &crate::auth::now_secs(),
                    &k.expires_at,
                    &rate,
                ],
            )
            .await?;
        key_at(&row, 0)
    }

    async fn agent_keys_list(&self) -> Result<Vec<AgentKeyRow>, StoreError> {
        let rows = self
            .client()
            .await?
            .query(
                &format!("SELECT {KEY_COLS} FROM agent_keys k ORDER BY k.id"),
                &[],
            )
            .await?;
        rows.iter().map(|r| key_at(r, 0)).collect()
    }

    async fn agent_key_by_hash(&self, hash: TokenHash) -> Result<Option<AgentKeyRow>, StoreError> {
        let row = self
            .client()
            .await?
            .query_opt(
                &format!(
                    "SELECT {KEY_COLS}, u.role {KEY_AUTH_FROM}
                     WHERE k.key_hash = $1 AND k.revoked_at IS NULL"
                ),
                &[&&hash[..]],
            )
            .await?;
        row.map(|r| key_with_creator_at(&r, 0)).transpose()
    }

    async fn agent_key_revoked(&self, hash: TokenHash) -> Result<Option<String>, StoreError> {
        let row = self
            .client()
            .await?
            .query_opt(
                "SELECT public_id FROM agent_keys WHERE key_hash = $1 AND revoked_at IS NOT NULL",
                &[&&hash[..]],
            )
            .await?;
        row.map(|r| col(&r, 0)).transpose()
    }

    async fn agent_key_touch(&self, row_id: i64, now: i64) -> Result<(), StoreError> {
        self.client()
            .await?
            .execute(
                "UPDATE agent_keys SET last_used_at = $2 WHERE id = $1",
                &[&row_id, &now],
            )
            .await?;
        Ok(())
    }

    async fn agent_key_revoke(&self, public_id: String) -> Result<AgentKeyRow, StoreError> {
        let c = self.client().await?;
        c.execute(
            "UPDATE agent_keys SET revoked_at = $2 WHERE public_id = $1 AND revoked_at IS NULL",
            &[&public_id, &crate::auth::now_secs()],
        )
        .await?;
        key_by_public_id(&c, &public_id).await
    }

    async fn agent_key_delete(&self, public_id: String) -> Result<AgentKeyRow, StoreError> {
        let c = self.client().await?;
        let row = c
            .query_opt(
                &format!("DELETE FROM agent_keys k WHERE k.public_id = $1 RETURNING {KEY_COLS}"),
                &[&public_id],
            )
            .await?
            .ok_or(StoreError::NotFound)?;
        key_at(&row, 0)
    }
}
