//! Bookmark folders on PostgreSQL: the same contract as the SQLCipher code
//! (`store::bookmark_folders::FolderStore`), checked by the conformance
//! suite. Also the per-user lock every bookmark write takes here.
//!
//! SQLite serialises every write through one connection, so its
//! check-then-write steps (is the URL taken? is this move a cycle? does the
//! import folder exist yet?) cannot interleave. PostgreSQL runs
//! transactions side by side: every transaction here that changes one
//! user's bookmarks or folder tree first takes that user's
//! transaction-scoped advisory lock, which makes those steps as serial per
//! user as on SQLite (different users never wait for each other). Without
//! it two moves (A into B, B into A) would each see no cycle and both
//! commit. This module never reads or writes another user's rows.

use std::collections::HashMap;

use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::PgStore;
use crate::store::StoreError;
use crate::store::bookmark_folders::{
    Folder, FolderDeleted, FolderPatch, FolderStore, FolderWrite,
};

/// High bits of the per-user advisory lock key ("bm" + user id below).
const USER_LOCK_BASE: i64 = 0x626d << 48;

/// Takes `user`'s bookmark lock until the end of the transaction `c` runs
/// (see the module comment). Taking it again in the same transaction is
/// harmless.
pub(super) async fn lock_user(c: &impl GenericClient, user: i64) -> Result<(), StoreError> {
    let key = USER_LOCK_BASE | (user & 0xffff_ffff_ffff);
    c.execute("SELECT pg_advisory_xact_lock($1)", &[&key])
        .await?;
    Ok(())
}

/// Folders found or made while resolving import paths, by (parent, name).
pub(super) type PathCache = HashMap<(Option<i64>, String), i64>;

const COLS: &str = "f.id, f.name, f.parent_id, f.color, \
     (SELECT count(*) FROM bookmarks b WHERE b.folder_id = f.id), f.created_at, f.updated_at";

fn from_row(r: &Row) -> Result<Folder, StoreError> {
    Ok(Folder {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        parent_id: r.try_get(2)?,
        color: r.try_get(3)?,
        bookmarks: r.try_get(4)?,
        created_at: r.try_get(5)?,
        updated_at: r.try_get(6)?,
    })
}

async fn by_id(c: &impl GenericClient, user: i64, id: i64) -> Result<Option<Folder>, StoreError> {
    c.query_opt(
        &format!("SELECT {COLS} FROM bookmark_folders f WHERE f.user_id = $1 AND f.id = $2"),
        &[&user, &id],
    )
    .await?
    .map(|r| from_row(&r))
    .transpose()
}

/// Whether `id` is one of `user`'s folders.
pub(super) async fn folder_owned(
    c: &impl GenericClient,
    user: i64,
    id: i64,
) -> Result<bool, StoreError> {
    Ok(c.query_opt(
        "SELECT 1 FROM bookmark_folders WHERE user_id = $1 AND id = $2",
        &[&user, &id],
    )
    .await?
    .is_some())
}

async fn insert(
    c: &impl GenericClient,
    user: i64,
    parent: Option<i64>,
    name: &str,
    color: Option<&str>,
    now: i64,
) -> Result<i64, StoreError> {
    Ok(c.query_one(
        "INSERT INTO bookmark_folders (user_id, parent_id, name, color, created_at, \
             updated_at) VALUES ($1, $2, $3, $4, $5, $5) RETURNING id",
        &[&user, &parent, &name, &color, &now],
    )
    .await?
    .get(0))
}

/// The folder at `path` (names from the top level down), made where
/// missing; `None` for an empty path. The caller holds the user's lock.
pub(super) async fn resolve_path(
    c: &impl GenericClient,
    user: i64,
    path: &[(String, Option<String>)],
    now: i64,
    cache: &mut PathCache,
) -> Result<Option<i64>, StoreError> {
    let mut parent = None;
    for (name, color) in path {
        let key = (parent, name.clone());
        if let Some(id) = cache.get(&key) {
            parent = Some(*id);
            continue;
        }
        let found: Option<i64> = c
            .query_opt(
                "SELECT id FROM bookmark_folders WHERE user_id = $1 \
                 AND parent_id IS NOT DISTINCT FROM $2 AND name = $3 ORDER BY id LIMIT 1",
                &[&user, &parent, name],
            )
            .await?
            .map(|r| r.get(0));
        let id = match found {
            Some(id) => id,
            None => insert(c, user, parent, name, color.as_deref(), now).await?,
        };
        cache.insert(key, id);
        parent = Some(id);
    }
    Ok(parent)
}

/// Whether `candidate` is `folder` or lies below it.
async fn is_within(
    c: &impl GenericClient,
    folder: i64,
    candidate: i64,
) -> Result<bool, StoreError> {
    Ok(c.query_opt(
        "WITH RECURSIVE up(id) AS (SELECT $2::BIGINT UNION \
             SELECT f.parent_id FROM bookmark_folders f JOIN up ON f.id = up.id \
             WHERE f.parent_id IS NOT NULL) SELECT 1 FROM up WHERE id = $1",
        &[&folder, &candidate],
    )
    .await?
    .is_some())
}

impl FolderStore for PgStore {
    async fn folders_list(&self, user: i64) -> Result<Vec<Folder>, StoreError> {
        let c = self.client().await?;
        c.query(
            &format!(
                "SELECT {COLS} FROM bookmark_folders f WHERE f.user_id = $1 \
                 ORDER BY f.name COLLATE \"C\", f.id"
            ),
            &[&user],
        )
        .await?
        .iter()
        .map(from_row)
        .collect()
    }

    async fn folder_create(
        &self,
        user: i64,
        name: String,
        parent: Option<i64>,
        color: Option<String>,
    ) -> Result<FolderWrite, StoreError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        lock_user(&tx, user).await?;
        if let Some(p) = parent
            && !folder_owned(&tx, user, p).await?
        {
            return Ok(FolderWrite::NoParent);
        }
        let id = insert(
            &tx,
            user,
            parent,
            &name,
            color.as_deref(),
            crate::auth::now_secs(),
        )
        .await?;
        let row = by_id(&tx, user, id).await?.ok_or(StoreError::NotFound)?;
        tx.commit().await?;
        Ok(FolderWrite::Done(row))
    }

    async fn folder_update(
        &self,
        user: i64,
        id: i64,
        p: FolderPatch,
    ) -> Result<FolderWrite, StoreError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        lock_user(&tx, user).await?;
        if by_id(&tx, user, id).await?.is_none() {
            return Ok(FolderWrite::NotFound);
        }
        if let Some(Some(parent)) = p.parent_id {
            if !folder_owned(&tx, user, parent).await? {
                return Ok(FolderWrite::NoParent);
            }
            if is_within(&tx, id, parent).await? {
                return Ok(FolderWrite::Cycle);
            }
        }
        tx.execute(
            "UPDATE bookmark_folders SET name = COALESCE($3, name), \
             parent_id = CASE WHEN $4 THEN $5 ELSE parent_id END, \
             color = CASE WHEN $6 THEN $7 ELSE color END, updated_at = $8 \
             WHERE user_id = $1 AND id = $2",
            &[
                &user,
                &id,
                &p.name,
                &p.parent_id.is_some(),
                &p.parent_id.flatten(),
                &p.color.is_some(),
                &p.color.clone().flatten(),
                &p.now,
            ],
        )
        .await?;
        let row = by_id(&tx, user, id).await?.ok_or(StoreError::NotFound)?;
        tx.commit().await?;
        Ok(FolderWrite::Done(row))
    }

    async fn folder_delete(&self, user: i64, id: i64) -> Result<Option<FolderDeleted>, StoreError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        lock_user(&tx, user).await?;
        let Some(folder) = by_id(&tx, user, id).await? else {
            return Ok(None);
        };
        let now = crate::auth::now_secs();
        let moved_bookmarks = tx
            .execute(
                "UPDATE bookmarks SET folder_id = $3, updated_at = GREATEST(updated_at, $4) \
                 WHERE user_id = $1 AND folder_id = $2",
                &[&user, &id, &folder.parent_id, &now],
            )
            .await?;
        let moved_folders = tx
            .execute(
                "UPDATE bookmark_folders SET parent_id = $3, \
                 updated_at = GREATEST(updated_at, $4) WHERE user_id = $1 AND parent_id = $2",
                &[&user, &id, &folder.parent_id, &now],
            )
            .await?;
        tx.execute(
            "DELETE FROM bookmark_folders WHERE user_id = $1 AND id = $2",
            &[&user, &id],
        )
        .await?;
        tx.commit().await?;
        Ok(Some(FolderDeleted {
            id,
            parent_id: folder.parent_id,
            moved_bookmarks: i64::try_from(moved_bookmarks).unwrap_or(i64::MAX),
            moved_folders: i64::try_from(moved_folders).unwrap_or(i64::MAX),
        }))
    }
}
