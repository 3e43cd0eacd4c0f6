//! SQL for sessions, bearer and refresh tokens, setup tokens, identity keys
//! and agent keys.
//!
//! Every credential arrives here already hashed (`HMAC-SHA256(pepper, …)`);
//! this module never sees or stores a token in a reversible form. Lookups go
//! by the hash, and validity (expiry, revocation, disabled users) is decided
//! in the same query so a revoked credential fails on the next request.

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;
use utoipa::ToSchema;

use super::auth_cache::CachedSession;
use super::users::{USER_COLS, UserRow, insert_user, user_from_row};
use super::{Store, StoreError};
use crate::auth::Role;

/// A 32-byte stored credential hash.
pub type TokenHash = [u8; 32];

/// What a login creates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionKind {
    /// A browser session: one cookie token plus a CSRF token.
    Web,
    /// A bearer/refresh family, or an agent key's bearer grant.
    Token,
}

impl SessionKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            SessionKind::Web => "web",
            SessionKind::Token => "token",
        }
    }
}

/// Which principal a session belongs to.
#[derive(Clone, Copy, Debug)]
pub enum SessionOwner {
    User(i64),
    AgentKey(i64),
}

/// A token to store with a new session or a rotation.
pub struct NewToken {
    pub hash: TokenHash,
    /// `cookie`, `access` or `refresh`.
    pub kind: &'static str,
    pub expires_at: i64,
}

pub struct NewSession {
    pub owner: SessionOwner,
    pub kind: SessionKind,
    pub csrf_hash: Option<TokenHash>,
    pub expires_at: i64,
    pub ip: Option<String>,
}

/// A live session found by one of its tokens.
#[derive(Clone, Debug)]
pub struct SessionAuth {
    pub session_id: i64,
    pub public_id: String,
    pub kind: SessionKind,
    pub csrf_hash: Option<Vec<u8>>,
    pub last_seen_at: i64,
    pub user: Option<UserRow>,
    pub agent_key: Option<AgentKeyRow>,
}

/// A session as its owner sees it in `GET /auth/sessions`.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct SessionInfo {
    pub id: String,
    /// `web` or `token`.
    pub kind: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
    pub ip: Option<String>,
    /// True for the session this request came in on.
    pub current: bool,
}

/// An agent key's metadata; the key itself is never stored.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct AgentKeyRow {
    #[serde(skip)]
    pub row_id: i64,
    pub id: String,
    pub name: String,
    pub permissions: Vec<String>,
    pub created_by: Option<i64>,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub rate_limit_per_minute: Option<u32>,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
    /// The creator's role now, read with the key on every authentication
    /// (a key never does more than its creator can do now); `None` where
    /// the key was not read for authentication.
    #[serde(skip)]
    pub creator_role: Option<crate::auth::Role>,
}

pub struct NewAgentKey {
    pub name: String,
    pub hash: TokenHash,
    pub permissions: Vec<String>,
    pub created_by: i64,
    pub expires_at: Option<i64>,
    pub rate_limit_per_minute: Option<u32>,
}

/// Result of presenting a refresh token.
pub enum RefreshOutcome {
    /// Spent and replaced; the session continues.
    Rotated {
        session_public_id: String,
        user: UserRow,
    },
    /// Already spent: the whole family is now revoked.
    Reused {
        session_public_id: String,
        user_id: i64,
    },
    /// Unknown, expired, revoked, or the user is disabled.
    Invalid,
}

/// Result of the first-run setup.
pub enum SetupOutcome {
    Created(UserRow),
    /// An owner exists: setup is over for good.
    Gone,
    /// Unknown, used or expired setup token.
    BadToken,
}

const KEY_COLS: &str = "k.id, k.public_id, k.name, k.permissions, k.created_by, k.created_at, \
     k.expires_at, k.rate_limit_per_minute, k.last_used_at, k.revoked_at";

fn key_from_row(r: &Row<'_>, at: usize) -> rusqlite::Result<AgentKeyRow> {
    let perms: String = r.get(at + 3)?;
    Ok(AgentKeyRow {
        row_id: r.get(at)?,
        id: r.get(at + 1)?,
        name: r.get(at + 2)?,
        permissions: serde_json::from_str(&perms).unwrap_or_default(),
        created_by: r.get(at + 4)?,
        created_at: r.get(at + 5)?,
        expires_at: r.get(at + 6)?,
        rate_limit_per_minute: r.get(at + 7)?,
        last_used_at: r.get(at + 8)?,
        revoked_at: r.get(at + 9)?,
        creator_role: None,
    })
}

/// `KEY_COLS` joined with the creator, for authentication: a key whose
/// creator is disabled (or gone) is not found at all.
const KEY_AUTH_FROM: &str =
    "FROM agent_keys k JOIN users u ON u.id = k.created_by AND u.disabled = 0";

/// A key read with `KEY_COLS, u.role` (`KEY_AUTH_FROM`).
fn key_with_creator_from_row(r: &Row<'_>, at: usize) -> rusqlite::Result<AgentKeyRow> {
    let mut key = key_from_row(r, at)?;
    let role: String = r.get(at + 10)?;
    key.creator_role = Some(role.parse().map_err(|e: String| {
        rusqlite::Error::FromSqlConversionFailure(at + 10, rusqlite::types::Type::Text, e.into())
    })?);
    Ok(key)
}

fn insert_tokens(
    conn: &Connection,
    session_id: i64,
    tokens: &[NewToken],
) -> Result<(), StoreError> {
    for t in tokens {
        conn.execute(
            "INSERT INTO auth_tokens (token_hash, session_id, kind, expires_at) VALUES (?1, ?2, ?3, ?4)",
            params![&t.hash[..], session_id, t.kind, t.expires_at],
        )?;
    }
    Ok(())
}

fn revoke_session(conn: &Connection, session_id: i64, now: i64) -> Result<bool, StoreError> {
    Ok(conn.execute(
        "UPDATE auth_sessions SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
        params![session_id, now],
    )? > 0)
}

impl Store {
    /// Replaces every setup token with this one (a new start invalidates
    /// the old URL).
    pub async fn setup_token_replace(
        &self,
        hash: TokenHash,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        self.write(move |conn| {
            let tx = conn.transaction()?;
            tx.execute("DELETE FROM setup_tokens", [])?;
            tx.execute(
                "INSERT INTO setup_tokens (token_hash, expires_at) VALUES (?1, ?2)",
                params![&hash[..], expires_at],
            )?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    /// Spends the setup token and creates the owner, in one transaction.
    pub async fn setup_create_owner(
        &self,
        hash: TokenHash,
        now: i64,
        username: String,
        password_hash: String,
    ) -> Result<SetupOutcome, StoreError> {
        self.write(move |conn| {
            let tx = conn.transaction()?;
            let owners: i64 =
                tx.query_row("SELECT count(*) FROM users WHERE role = 'owner'", [], |r| {
                    r.get(0)
                })?;
            if owners > 0 {
                tx.execute("DELETE FROM setup_tokens", [])?;
                tx.commit()?;
                return Ok(SetupOutcome::Gone);
            }
            let spent = tx.execute(
                "DELETE FROM setup_tokens WHERE token_hash = ?1 AND expires_at > ?2",
                params![&hash[..], now],
            )?;
            if spent == 0 {
                return Ok(SetupOutcome::BadToken);
            }
            let user = insert_user(&tx, &username, Role::Owner, Some(&password_hash))?;
            tx.execute("DELETE FROM setup_tokens", [])?;
            tx.commit()?;
            Ok(SetupOutcome::Created(user))
        })
        .await
    }

    /// Creates a session with its first tokens; returns (row id, public id).
    pub async fn session_create(
        &self,
        s: NewSession,
        tokens: Vec<NewToken>,
    ) -> Result<(i64, String), StoreError> {
        self.write(move |conn| {
            let tx = conn.transaction()?;
            let now = crate::auth::now_secs();
            let public_id = crate::auth::tokens::public_id();
            let (user_id, key_id) = match s.owner {
                SessionOwner::User(u) => (Some(u), None),
                SessionOwner::AgentKey(k) => (None, Some(k)),
            };
            tx.execute(
                "INSERT INTO auth_sessions (public_id, user_id, agent_key_id, kind, csrf_hash,
                     created_at, last_seen_at, expires_at, ip)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7, ?8)",
                params![
                    public_id,
                    user_id,
                    key_id,
                    s.kind.as_str(),
                    s.csrf_hash.as_ref().map(|h| &h[..]),
                    now,
                    s.expires_at,
                    s.ip
                ],
            )?;
            let id = tx.last_insert_rowid();
            insert_tokens(&tx, id, &tokens)?;
            tx.commit()?;
            Ok((id, public_id))
        })
        .await
    }

    /// Finds the live session behind a cookie or access token. Expired,
    /// revoked, idle-out, disabled-user and revoked-key sessions are `None`.
    /// Answers from the credential cache when it may (`auth_cache`).
    pub async fn session_by_token(
        &self,
        hash: TokenHash,
        kind: &'static str,
        now: i64,
        idle_secs: i64,
    ) -> Result<Option<SessionAuth>, StoreError> {
        if let Some(hit) = self.cached_session(&hash, kind, now, idle_secs) {
            return Ok(Some(hit));
        }
        let stamp = self.auth_stamp();
        let found = self.session_lookup(hash, kind, now, idle_secs).await?;
        if let Some(s) = &found {
            self.cache_session(stamp, hash, s.clone());
        }
        Ok(found.map(|s| s.auth))
    }

    pub(super) async fn session_lookup(
        &self,
        hash: TokenHash,
        kind: &'static str,
        now: i64,
        idle_secs: i64,
    ) -> Result<Option<CachedSession>, StoreError> {
        self.read(move |conn| {
            let sql = "SELECT s.id, s.public_id, s.kind, s.csrf_hash, s.last_seen_at, s.user_id, s.agent_key_id,
                   min(t.expires_at, s.expires_at)
                 FROM auth_tokens t JOIN auth_sessions s ON s.id = t.session_id
                 WHERE t.token_hash = ?1 AND t.kind = ?2 AND t.expires_at > ?3 AND t.spent_at IS NULL
                   AND s.revoked_at IS NULL AND s.expires_at > ?3
                   AND (s.kind <> 'web' OR s.last_seen_at + ?4 > ?3)";
            // Every authenticated request runs these: cached statements
            // skip re-parsing the SQL.
            let found = conn
                .prepare_cached(sql)?
                .query_row(params![&hash[..], kind, now, idle_secs], |r| {
                    let kind: String = r.get(2)?;
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        if kind == "web" { SessionKind::Web } else { SessionKind::Token },
                        r.get::<_, Option<Vec<u8>>>(3)?,
                        r.get::<_, i64>(4)?,
                        r.get::<_, Option<i64>>(5)?,
                        r.get::<_, Option<i64>>(6)?,
                        r.get::<_, i64>(7)?,
                    ))
                })
                .optional()?;
            let Some((session_id, public_id, s_kind, csrf_hash, last_seen_at, user_id, key_id, until)) =
                found
            else {
                return Ok(None);
            };
            let user = match user_id {
                Some(u) => match conn
                    .prepare_cached(&format!(
                        "SELECT {USER_COLS} FROM users u WHERE u.id = ?1 AND u.disabled = 0"
                    ))?
                    .query_row([u], |r| user_from_row(r, 0))
                    .optional()?
                {
                    Some(u) => Some(u),
                    None => return Ok(None),
                },
                None => None,
            };
            let agent_key = match key_id {
                Some(k) => match conn
                    .query_row(
                        &format!(
                            "SELECT {KEY_COLS}, u.role {KEY_AUTH_FROM} WHERE k.id = ?1 AND k.revoked_at IS NULL
                               AND (k.expires_at IS NULL OR k.expires_at > ?2)"
                        ),
                        params![k, now],
                        |r| key_with_creator_from_row(r, 0),
                    )
                    .optional()?
                {
                    Some(k) => Some(k),
                    None => return Ok(None),
                },
                None => None,
            };
            let valid_until = agent_key
                .as_ref()
                .and_then(|k| k.expires_at)
                .map_or(until, |e| e.min(until));
            Ok(Some(CachedSession {
                auth: SessionAuth {
                    session_id,
                    public_id,
                    kind: s_kind,
                    csrf_hash,
                    last_seen_at,
                    user,
                    agent_key,
                },
                token_kind: kind,
                valid_until,
            }))
        })
        .await
    }

    /// Records activity on a web session (for the idle limit).
    pub async fn session_touch(&self, session_id: i64, now: i64) -> Result<(), StoreError> {
        self.write(move |conn| {
            conn.execute(
                "UPDATE auth_sessions SET last_seen_at = ?2 WHERE id = ?1",
                params![session_id, now],
            )?;
            Ok(())
        })
        .await
    }

    /// Spends a refresh token and stores its successors, or — when it was
    /// already spent — revokes the whole family.
    pub async fn refresh_rotate(
        &self,
        hash: TokenHash,
        now: i64,
        next: Vec<NewToken>,
    ) -> Result<RefreshOutcome, StoreError> {
        self.write_revoking(move |conn| {
            let tx = conn.transaction()?;
            let found = tx
                .query_row(
                    "SELECT s.id, s.public_id, s.user_id, t.spent_at, t.expires_at, s.revoked_at, s.expires_at
                     FROM auth_tokens t JOIN auth_sessions s ON s.id = t.session_id
                     WHERE t.token_hash = ?1 AND t.kind = 'refresh' AND s.user_id IS NOT NULL",
                    params![&hash[..]],
                    |r| {
                        Ok((
                            r.get::<_, i64>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, i64>(2)?,
                            r.get::<_, Option<i64>>(3)?,
                            r.get::<_, i64>(4)?,
                            r.get::<_, Option<i64>>(5)?,
                            r.get::<_, i64>(6)?,
                        ))
                    },
                )
                .optional()?;
            let Some((sid, public_id, user_id, spent, t_exp, revoked, s_exp)) = found else {
                return Ok(RefreshOutcome::Invalid);
            };
            if spent.is_some() {
                // Replaying into an already-dead family is still reuse.
                revoke_session(&tx, sid, now)?;
                tx.commit()?;
                return Ok(RefreshOutcome::Reused {
                    session_public_id: public_id,
                    user_id,
                });
            }
            if revoked.is_some() || t_exp <= now || s_exp <= now {
                return Ok(RefreshOutcome::Invalid);
            }
            let user = tx
                .query_row(
                    &format!("SELECT {USER_COLS} FROM users u WHERE u.id = ?1 AND u.disabled = 0"),
                    [user_id],
                    |r| user_from_row(r, 0),
                )
                .optional()?;
            let Some(user) = user else {
                return Ok(RefreshOutcome::Invalid);
            };
            tx.execute(
                "UPDATE auth_tokens SET spent_at = ?2 WHERE token_hash = ?1",
                params![&hash[..], now],
            )?;
            // The access tokens issued before this refresh end with it: a
            // refreshed-away `api-` token must not live out its hour.
            tx.execute(
                "UPDATE auth_tokens SET spent_at = ?2
                 WHERE session_id = ?1 AND kind = 'access' AND spent_at IS NULL",
                params![sid, now],
            )?;
            insert_tokens(&tx, sid, &next)?;
            tx.execute(
                "UPDATE auth_sessions SET last_seen_at = ?2 WHERE id = ?1",
                params![sid, now],
            )?;
            tx.commit()?;
            Ok(RefreshOutcome::Rotated { session_public_id: public_id, user })
        })
        .await
    }

    /// Revokes one session by row id. True if it was live.
    pub async fn session_revoke(&self, session_id: i64) -> Result<bool, StoreError> {
        self.write_revoking(move |conn| revoke_session(conn, session_id, crate::auth::now_secs()))
            .await
    }

    /// Revokes a user's own session by its public id. True if it was live.
    pub async fn session_revoke_public(
        &self,
        user_id: i64,
        public_id: String,
    ) -> Result<bool, StoreError> {
        self.write_revoking(move |conn| {
            Ok(conn.execute(
                "UPDATE auth_sessions SET revoked_at = ?3
                 WHERE user_id = ?1 AND public_id = ?2 AND revoked_at IS NULL",
                params![user_id, public_id, crate::auth::now_secs()],
            )? > 0)
        })
        .await
    }

    /// Revokes every live session of a user; returns how many.
    pub async fn sessions_revoke_all(&self, user_id: i64) -> Result<usize, StoreError> {
        self.write_revoking(move |conn| {
            Ok(conn.execute(
                "UPDATE auth_sessions SET revoked_at = ?2 WHERE user_id = ?1 AND revoked_at IS NULL",
                params![user_id, crate::auth::now_secs()],
            )?)
        })
        .await
    }

    /// A user's live sessions, newest first.
    pub async fn sessions_list(
        &self,
        user_id: i64,
        current: Option<i64>,
        now: i64,
    ) -> Result<Vec<SessionInfo>, StoreError> {
        self.read(move |conn| {
            let mut stmt = conn.prepare(
                "SELECT id, public_id, kind, created_at, last_seen_at, expires_at, ip FROM auth_sessions
                 WHERE user_id = ?1 AND revoked_at IS NULL AND expires_at > ?2 ORDER BY id DESC",
            )?;
            let rows = stmt
                .query_map(params![user_id, now], |r| {
                    Ok(SessionInfo {
                        current: Some(r.get::<_, i64>(0)?) == current,
                        id: r.get(1)?,
                        kind: r.get(2)?,
                        created_at: r.get(3)?,
                        last_seen_at: r.get(4)?,
                        expires_at: r.get(5)?,
                        ip: r.get(6)?,
                    })
                })?
                .collect::<Result<_, _>>()?;
            Ok(rows)
        })
        .await
    }

    /// Stores a user's new identity key, replacing (revoking) the old one.
    /// Returns true when an older key was replaced.
    pub async fn identity_key_replace(
        &self,
        user_id: i64,
        hash: TokenHash,
    ) -> Result<bool, StoreError> {
        self.write(move |conn| {
            let tx = conn.transaction()?;
            let old = tx.execute("DELETE FROM identity_keys WHERE user_id = ?1", [user_id])?;
            tx.execute(
                "INSERT INTO identity_keys (user_id, key_hash, created_at) VALUES (?1, ?2, ?3)",
                params![user_id, &hash[..], crate::auth::now_secs()],
            )?;
            tx.commit()?;
            Ok(old > 0)
        })
        .await
    }

    /// The enabled user an identity key belongs to.
    pub async fn identity_key_user(&self, hash: TokenHash) -> Result<Option<UserRow>, StoreError> {
        self.read(move |conn| {
            Ok(conn
                .query_row(
                    &format!(
                        "SELECT {USER_COLS} FROM identity_keys i JOIN users u ON u.id = i.user_id
                         WHERE i.key_hash = ?1 AND u.disabled = 0"
                    ),
                    params![&hash[..]],
                    |r| user_from_row(r, 0),
                )
                .optional()?)
        })
        .await
    }

    pub async fn agent_key_create(&self, k: NewAgentKey) -> Result<AgentKeyRow, StoreError> {
        self.write(move |conn| {
            let perms = serde_json::to_string(&k.permissions)
                .map_err(|e| StoreError::Conflict(e.to_string()))?;
            conn.execute(
                "INSERT INTO agent_keys (public_id, name, key_hash, permissions, created_by, created_at,
                     expires_at, rate_limit_per_minute)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    crate::auth::tokens::public_id(),
                    k.name,
                    &k.hash[..],
                    perms,
                    k.created_by,
                    crate::auth::now_secs(),
                    k.expires_at,
                    k.rate_limit_per_minute
                ],
            )?;
            let id = conn.last_insert_rowid();
            Ok(conn.query_row(
                &format!("SELECT {KEY_COLS} FROM agent_keys k WHERE k.id = ?1"),
                [id],
                |r| key_from_row(r, 0),
            )?)
        })
        .await
    }

    pub async fn agent_keys_list(&self) -> Result<Vec<AgentKeyRow>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare(&format!(
                "SELECT {KEY_COLS} FROM agent_keys k ORDER BY k.id"
            ))?;
            let rows = stmt
                .query_map([], |r| key_from_row(r, 0))?
                .collect::<Result<_, _>>()?;
            Ok(rows)
        })
        .await
    }

    /// An unrevoked agent key by its hash (the caller checks expiry so an
    /// expired key can be told apart in the audit trail).
    pub async fn agent_key_by_hash(
        &self,
        hash: TokenHash,
    ) -> Result<Option<AgentKeyRow>, StoreError> {
        if let Some(hit) = self.cached_agent_key(&hash) {
            return Ok(Some(hit));
        }
        let stamp = self.auth_stamp();
        let found = self.agent_key_lookup(hash).await?;
        if let Some(k) = &found {
            self.cache_agent_key(stamp, hash, k.clone());
        }
        Ok(found)
    }

    async fn agent_key_lookup(&self, hash: TokenHash) -> Result<Option<AgentKeyRow>, StoreError> {
        self.read(move |conn| {
            Ok(conn
                .query_row(
                    &format!(
                        "SELECT {KEY_COLS}, u.role {KEY_AUTH_FROM} WHERE k.key_hash = ?1 AND k.revoked_at IS NULL"
                    ),
                    params![&hash[..]],
                    |r| key_with_creator_from_row(r, 0),
                )
                .optional()?)
        })
        .await
    }

    /// The public id of a revoked key with this hash, if there is one (for
    /// telling a revoked key from an unknown one). Never cached.
    pub async fn agent_key_revoked(&self, hash: TokenHash) -> Result<Option<String>, StoreError> {
        self.read(move |conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT public_id FROM agent_keys WHERE key_hash = ?1 AND revoked_at IS NOT NULL",
                )?
                .query_row(params![&hash[..]], |r| r.get(0))
                .optional()?)
        })
        .await
    }

    pub async fn agent_key_touch(&self, row_id: i64, now: i64) -> Result<(), StoreError> {
        self.write(move |conn| {
            conn.execute(
                "UPDATE agent_keys SET last_used_at = ?2 WHERE id = ?1",
                params![row_id, now],
            )?;
            Ok(())
        })
        .await
    }

    /// Revokes a key (and with it every bearer it was exchanged for).
    pub async fn agent_key_revoke(&self, public_id: String) -> Result<AgentKeyRow, StoreError> {
        self.write_revoking(move |conn| {
            let now = crate::auth::now_secs();
            conn.execute(
                "UPDATE agent_keys SET revoked_at = ?2 WHERE public_id = ?1 AND revoked_at IS NULL",
                params![public_id, now],
            )?;
            conn.query_row(
                &format!("SELECT {KEY_COLS} FROM agent_keys k WHERE k.public_id = ?1"),
                [public_id],
                |r| key_from_row(r, 0),
            )
            .optional()?
            .ok_or(StoreError::NotFound)
        })
        .await
    }

    pub async fn agent_key_delete(&self, public_id: String) -> Result<AgentKeyRow, StoreError> {
        self.write_revoking(move |conn| {
            let row = conn
                .query_row(
                    &format!("SELECT {KEY_COLS} FROM agent_keys k WHERE k.public_id = ?1"),
                    [&public_id],
                    |r| key_from_row(r, 0),
                )
                .optional()?
                .ok_or(StoreError::NotFound)?;
            conn.execute("DELETE FROM agent_keys WHERE id = ?1", [row.row_id])?;
            Ok(row)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::tokens::{SESSION_ABSOLUTE_SECS, SESSION_IDLE_SECS};
    use crate::store::DbKey;

    #[tokio::test]
    async fn web_sessions_expire_when_idle_and_at_the_absolute_limit() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(&tmp.path().join("t.db"), DbKey::generate()).unwrap();
        let user = store
            .user_create("u".into(), Role::Member, None)
            .await
            .unwrap();
        let now = crate::auth::now_secs();
        let hash = [9u8; 32];
        store
            .session_create(
                NewSession {
                    owner: SessionOwner::User(user.id),
                    kind: SessionKind::Web,
                    csrf_hash: Some([1u8; 32]),
                    expires_at: now + SESSION_ABSOLUTE_SECS,
                    ip: None,
                },
                vec![NewToken {
                    hash,
                    kind: "cookie",
                    expires_at: now + SESSION_ABSOLUTE_SECS,
                }],
            )
            .await
            .unwrap();
        let at = |t: i64| store.session_by_token(hash, "cookie", t, SESSION_IDLE_SECS);
        assert!(at(now + 60).await.unwrap().is_some());
        // Idle for more than two hours: gone.
        assert!(at(now + SESSION_IDLE_SECS + 5).await.unwrap().is_none());
        // Activity keeps it alive, but never past 24 hours.
        let found = at(now).await.unwrap().unwrap();
        store
            .session_touch(found.session_id, now + SESSION_ABSOLUTE_SECS - 60)
            .await
            .unwrap();
        assert!(
            at(now + SESSION_ABSOLUTE_SECS - 30)
                .await
                .unwrap()
                .is_some()
        );
        assert!(at(now + SESSION_ABSOLUTE_SECS + 1).await.unwrap().is_none());
        // A cookie hash is not an access token.
        assert!(
            store
                .session_by_token(hash, "access", now, SESSION_IDLE_SECS)
                .await
                .unwrap()
                .is_none()
        );
    }
}
