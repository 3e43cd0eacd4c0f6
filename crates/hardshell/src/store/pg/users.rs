//! The users aggregate on PostgreSQL: the same contract as the SQLCipher
//! code (`store::users::UserStore`), checked by the conformance suite.
//!
//! SQLite serialises every write through one connection; PostgreSQL runs
//! transactions side by side, so every change that could leave the
//! installation without an active owner first takes one transaction-scoped
//! advisory lock. Without it, two owners demoting each other at once would
//! each see the other still in place, and both would commit.

use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::{PgStore, is_unique_violation, pg_error};
use crate::auth::Role;
use crate::store::StoreError;
use crate::store::users::{UserRow, UserStore, last_owner, rfc3339_now};

/// `pg_advisory_xact_lock` key for "who is an active owner" ("ownerset").
pub(super) const OWNERS_LOCK: i64 = 0x6f77_6e65_7273_6574;

const USER_COLS: &str = "id, uuid, username, role, disabled, created_at";

fn user_from_row(r: &Row) -> Result<UserRow, StoreError> {
    let role: String = r.try_get(3)?;
    Ok(UserRow {
        id: r.try_get(0)?,
        uuid: r.try_get(1)?,
        username: r.try_get(2)?,
        role: role.parse().map_err(StoreError::BadData)?,
        disabled: r.try_get(4)?,
        created_at: r.try_get(5)?,
    })
}

async fn get_user(c: &impl GenericClient, id: i64) -> Result<UserRow, StoreError> {
    let row = c
        .query_opt(
            &format!("SELECT {USER_COLS} FROM users WHERE id = $1"),
            &[&id],
        )
        .await?
        .ok_or(StoreError::NotFound)?;
    user_from_row(&row)
}

async fn active_owners(c: &impl GenericClient) -> Result<i64, StoreError> {
    Ok(c.query_one(
        "SELECT count(*) FROM users WHERE role = 'owner' AND NOT disabled",
        &[],
    )
    .await?
    .get(0))
}

impl UserStore for PgStore {
    async fn owner_exists(&self) -> Result<bool, StoreError> {
        Ok(active_owners(&self.client().await?).await? > 0)
    }

    async fn user_create(
        &self,
        username: String,
        role: Role,
        password_hash: Option<String>,
    ) -> Result<UserRow, StoreError> {
        let client = self.client().await?;
        let res = client
            .query_one(
                &format!(
                    "INSERT INTO users (uuid, username, role, password_hash, disabled, created_at)
                     VALUES ($1, $2, $3, $4, false, $5) RETURNING {USER_COLS}"
                ),
                &[
                    &crate::auth::tokens::uuid_v4(),
                    &username,
                    &role.as_str(),
                    &password_hash,
                    &rfc3339_now(),
                ],
            )
            .await;
        match res {
            Ok(row) => user_from_row(&row),
            Err(e) if is_unique_violation(&e) => {
                Err(StoreError::Conflict("that username is taken".into()))
            }
            Err(e) => Err(pg_error(e)),
        }
    }

    async fn user_by_id(&self, id: i64) -> Result<UserRow, StoreError> {
        get_user(&self.client().await?, id).await
    }

    async fn user_login_lookup(
        &self,
        username: String,
    ) -> Result<Option<(UserRow, Option<String>)>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                &format!(
                    "SELECT {USER_COLS}, password_hash FROM users
                     WHERE lower(username) = lower($1)"
                ),
                &[&username],
            )
            .await?;
        match row {
            None => Ok(None),
            Some(r) => Ok(Some((user_from_row(&r)?, r.try_get(6)?))),
        }
    }

    async fn users_list(&self) -> Result<Vec<UserRow>, StoreError> {
        let client = self.client().await?;
        client
            .query(&format!("SELECT {USER_COLS} FROM users ORDER BY id"), &[])
            .await?
            .iter()
            .map(user_from_row)
            .collect()
    }

    async fn user_set_role(&self, id: i64, role: Role) -> Result<(UserRow, UserRow), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        lock_owners(&tx).await?;
        let before = get_user(&tx, id).await?;
        tx.execute(
            "UPDATE users SET role = $2 WHERE id = $1",
            &[&id, &role.as_str()],
        )
        .await?;
        if active_owners(&tx).await? == 0 {
            return Err(last_owner());
        }
        let after = get_user(&tx, id).await?;
        tx.commit().await?;
        Ok((before, after))
    }

    async fn user_set_disabled(&self, id: i64, disabled: bool) -> Result<UserRow, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        lock_owners(&tx).await?;
        get_user(&tx, id).await?;
        tx.execute(
            "UPDATE users SET disabled = $2 WHERE id = $1",
            &[&id, &disabled],
        )
        .await?;
        if active_owners(&tx).await? == 0 {
            return Err(last_owner());
        }
        if disabled {
            tx.execute(
                "UPDATE auth_sessions SET revoked_at = $2
                 WHERE user_id = $1 AND revoked_at IS NULL",
                &[&id, &crate::auth::now_secs()],
            )
            .await?;
        }
        let after = get_user(&tx, id).await?;
        tx.commit().await?;
        Ok(after)
    }

    async fn user_delete(&self, id: i64) -> Result<UserRow, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        lock_owners(&tx).await?;
        let before = get_user(&tx, id).await?;
        tx.execute("DELETE FROM users WHERE id = $1", &[&id])
            .await?;
        if active_owners(&tx).await? == 0 {
            return Err(last_owner());
        }
        tx.commit().await?;
        Ok(before)
    }
}

/// Serialises owner-changing transactions (see the module comment). The
/// lock ends with the transaction, commit or rollback.
pub(super) async fn lock_owners(tx: &deadpool_postgres::Transaction<'_>) -> Result<(), StoreError> {
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&OWNERS_LOCK])
        .await?;
    Ok(())
}
