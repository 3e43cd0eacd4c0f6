//! SQL for the `users` table. The identity layer builds on these.
//!
//! Role and status changes refuse to leave the installation without an
//! active owner; disabling or deleting a user ends their sessions in the
//! same transaction.

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;
use utoipa::ToSchema;

use super::{Store, StoreError};
use crate::auth::Role;

/// A user as the API shows it: never the password hash.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct UserRow {
    pub id: i64,
    pub uuid: String,
    pub username: String,
    pub role: Role,
    pub disabled: bool,
    pub created_at: String,
}

pub(crate) const USER_COLS: &str = "u.id, u.uuid, u.username, u.role, u.disabled, u.created_at";

/// Reads `USER_COLS` starting at column `at`.
pub(crate) fn user_from_row(r: &Row<'_>, at: usize) -> rusqlite::Result<UserRow> {
    let role: String = r.get(at + 3)?;
    Ok(UserRow {
        id: r.get(at)?,
        uuid: r.get(at + 1)?,
        username: r.get(at + 2)?,
        role: role.parse().map_err(|e: String| {
            rusqlite::Error::FromSqlConversionFailure(at + 3, rusqlite::types::Type::Text, e.into())
        })?,
        disabled: r.get(at + 4)?,
        created_at: r.get(at + 5)?,
    })
}

pub(crate) fn rfc3339_now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

pub(super) fn active_owners(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn.query_row(
        "SELECT count(*) FROM users WHERE role = 'owner' AND disabled = 0",
        [],
        |r| r.get(0),
    )?)
}

pub(super) fn get_user(conn: &Connection, id: i64) -> Result<UserRow, StoreError> {
    conn.query_row(
        &format!("SELECT {USER_COLS} FROM users u WHERE u.id = ?1"),
        [id],
        |r| user_from_row(r, 0),
    )
    .optional()?
    .ok_or(StoreError::NotFound)
}

/// Inserts a user; a taken username (any case) is a conflict.
pub(crate) fn insert_user(
    conn: &Connection,
    username: &str,
    role: Role,
    password_hash: Option<&str>,
) -> Result<UserRow, StoreError> {
    let res = conn.execute(
        "INSERT INTO users (uuid, username, role, password_hash, disabled, created_at)
         VALUES (?1, ?2, ?3, ?4, 0, ?5)",
        params![
            crate::auth::tokens::uuid_v4(),
            username,
            role.as_str(),
            password_hash,
            rfc3339_now()
        ],
    );
    match res {
        Ok(_) => get_user(conn, conn.last_insert_rowid()),
        Err(rusqlite::Error::SqliteFailure(e, _))
            if e.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            Err(StoreError::Conflict("that username is taken".into()))
        }
        Err(e) => Err(e.into()),
    }
}

/// The change would leave no active owner.
pub(crate) fn last_owner() -> StoreError {
    StoreError::Conflict("the last active owner cannot be demoted, disabled or deleted".into())
}

fn revoke_user_sessions(conn: &Connection, user_id: i64) -> Result<usize, StoreError> {
    Ok(conn.execute(
        "UPDATE auth_sessions SET revoked_at = ?2 WHERE user_id = ?1 AND revoked_at IS NULL",
        params![user_id, crate::auth::now_secs()],
    )?)
}

/// The users aggregate as every backend provides it: SQLCipher (`Store`)
/// and PostgreSQL (`pg::PgStore`). The conformance suite
/// (`tests/store_conformance.rs`) runs the same cases against both; domain
/// code keeps calling `Store`'s methods of the same names.
pub trait UserStore: Send + Sync {
    /// True once an active owner exists.
    fn owner_exists(&self) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Creates a user; a taken username (ASCII case-insensitive) is a
    /// `Conflict`.
    fn user_create(
        &self,
        username: String,
        role: Role,
        password_hash: Option<String>,
    ) -> impl Future<Output = Result<UserRow, StoreError>> + Send;
    fn user_by_id(&self, id: i64) -> impl Future<Output = Result<UserRow, StoreError>> + Send;
    /// The user and their password hash, by username (any ASCII case).
    fn user_login_lookup(
        &self,
        username: String,
    ) -> impl Future<Output = Result<Option<(UserRow, Option<String>)>, StoreError>> + Send;
    /// Every user, oldest first.
    fn users_list(&self) -> impl Future<Output = Result<Vec<UserRow>, StoreError>> + Send;
    /// Sets a role; returns (before, after). Leaving no active owner is a
    /// `Conflict`, also when two such changes race.
    fn user_set_role(
        &self,
        id: i64,
        role: Role,
    ) -> impl Future<Output = Result<(UserRow, UserRow), StoreError>> + Send;
    /// Disabling ends the user's sessions in the same transaction.
    fn user_set_disabled(
        &self,
        id: i64,
        disabled: bool,
    ) -> impl Future<Output = Result<UserRow, StoreError>> + Send;
    /// Deletes a user and everything that cascades from them.
    fn user_delete(&self, id: i64) -> impl Future<Output = Result<UserRow, StoreError>> + Send;
}

impl UserStore for Store {
    fn owner_exists(&self) -> impl Future<Output = Result<bool, StoreError>> + Send {
        Store::owner_exists(self)
    }
    fn user_create(
        &self,
        username: String,
        role: Role,
        password_hash: Option<String>,
    ) -> impl Future<Output = Result<UserRow, StoreError>> + Send {
        Store::user_create(self, username, role, password_hash)
    }
    fn user_by_id(&self, id: i64) -> impl Future<Output = Result<UserRow, StoreError>> + Send {
        Store::user_by_id(self, id)
    }
    fn user_login_lookup(
        &self,
        username: String,
    ) -> impl Future<Output = Result<Option<(UserRow, Option<String>)>, StoreError>> + Send {
        Store::user_login_lookup(self, username)
    }
    fn users_list(&self) -> impl Future<Output = Result<Vec<UserRow>, StoreError>> + Send {
        Store::users_list(self)
    }
    fn user_set_role(
        &self,
        id: i64,
        role: Role,
    ) -> impl Future<Output = Result<(UserRow, UserRow), StoreError>> + Send {
        Store::user_set_role(self, id, role)
    }
    fn user_set_disabled(
        &self,
        id: i64,
        disabled: bool,
    ) -> impl Future<Output = Result<UserRow, StoreError>> + Send {
        Store::user_set_disabled(self, id, disabled)
    }
    fn user_delete(&self, id: i64) -> impl Future<Output = Result<UserRow, StoreError>> + Send {
        Store::user_delete(self, id)
    }
}

impl Store {
    /// True once an owner account exists; a non-loopback bind needs one.
    pub async fn owner_exists(&self) -> Result<bool, StoreError> {
        self.read(|conn| Ok(active_owners(conn)? > 0)).await
    }

    pub async fn user_create(
        &self,
        username: String,
        role: Role,
        password_hash: Option<String>,
    ) -> Result<UserRow, StoreError> {
        self.write(move |conn| insert_user(conn, &username, role, password_hash.as_deref()))
            .await
    }

    pub async fn user_by_id(&self, id: i64) -> Result<UserRow, StoreError> {
        self.read(move |conn| get_user(conn, id)).await
    }

    /// The user and their password hash, by username (any case).
    pub async fn user_login_lookup(
        &self,
        username: String,
    ) -> Result<Option<(UserRow, Option<String>)>, StoreError> {
        self.read(move |conn| {
            Ok(conn
                .query_row(
                    &format!(
                        "SELECT {USER_COLS}, u.password_hash FROM users u WHERE u.username = ?1"
                    ),
                    [username],
                    |r| Ok((user_from_row(r, 0)?, r.get(6)?)),
                )
                .optional()?)
        })
        .await
    }

    pub async fn users_list(&self) -> Result<Vec<UserRow>, StoreError> {
        self.read(|conn| {
            let mut stmt =
                conn.prepare(&format!("SELECT {USER_COLS} FROM users u ORDER BY u.id"))?;
            let rows = stmt
                .query_map([], |r| user_from_row(r, 0))?
                .collect::<Result<_, _>>()?;
            Ok(rows)
        })
        .await
    }

    /// Sets a role; returns (before, after). Demoting the last owner fails.
    pub async fn user_set_role(
        &self,
        id: i64,
        role: Role,
    ) -> Result<(UserRow, UserRow), StoreError> {
        self.write_revoking(move |conn| {
            let tx = conn.transaction()?;
            let before = get_user(&tx, id)?;
            tx.execute(
                "UPDATE users SET role = ?2 WHERE id = ?1",
                params![id, role.as_str()],
            )?;
            if active_owners(&tx)? == 0 {
                return Err(last_owner());
            }
            let after = get_user(&tx, id)?;
            tx.commit()?;
            Ok((before, after))
        })
        .await
    }

    /// Disables or re-enables a user. Disabling ends every session at once.
    pub async fn user_set_disabled(&self, id: i64, disabled: bool) -> Result<UserRow, StoreError> {
        self.write_revoking(move |conn| {
            let tx = conn.transaction()?;
            get_user(&tx, id)?;
            tx.execute(
                "UPDATE users SET disabled = ?2 WHERE id = ?1",
                params![id, disabled],
            )?;
            if active_owners(&tx)? == 0 {
                return Err(last_owner());
            }
            if disabled {
                revoke_user_sessions(&tx, id)?;
            }
            let after = get_user(&tx, id)?;
            tx.commit()?;
            Ok(after)
        })
        .await
    }

    /// Deletes a user with their sessions, identity key and agent keys.
    pub async fn user_delete(&self, id: i64) -> Result<UserRow, StoreError> {
        self.write_revoking(move |conn| {
            let tx = conn.transaction()?;
            let before = get_user(&tx, id)?;
            tx.execute("DELETE FROM users WHERE id = ?1", [id])?;
            if active_owners(&tx)? == 0 {
                return Err(last_owner());
            }
            tx.commit()?;
            Ok(before)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use crate::auth::Role;
    use crate::store::{DbKey, Store, StoreError};

    #[tokio::test]
    async fn last_owner_is_protected_and_names_are_unique() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(&tmp.path().join("t.db"), DbKey::generate()).unwrap();
        let owner = store
            .user_create("Root".into(), Role::Owner, None)
            .await
            .unwrap();
        assert!(matches!(
            store.user_create("root".into(), Role::Guest, None).await,
            Err(StoreError::Conflict(_))
        ));
        for res in [
            store.user_set_role(owner.id, Role::Admin).await.map(|_| ()),
            store.user_set_disabled(owner.id, true).await.map(|_| ()),
            store.user_delete(owner.id).await.map(|_| ()),
        ] {
            assert!(matches!(res, Err(StoreError::Conflict(_))));
        }
        assert_eq!(store.user_by_id(owner.id).await.unwrap().role, Role::Owner);
        let (found, hash) = store
            .user_login_lookup("ROOT".into())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found.id, owner.id);
        assert!(hash.is_none());
    }
}
