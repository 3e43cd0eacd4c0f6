//! SQL for bookmark folders (`bookmark_folders`).
//!
//! Folders nest and belong to one user. Deleting a folder moves its
//! bookmarks and subfolders to its parent in the same transaction, so no
//! reference ever dangles (the composite foreign keys would refuse it
//! anyway). A move that would put a folder inside itself or one of its
//! descendants is refused, so the tree never gets a cycle.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;
use utoipa::ToSchema;

use super::{Store, StoreError};

/// A folder as the API shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct Folder {
    pub id: i64,
    pub name: String,
    pub parent_id: Option<i64>,
    pub color: Option<String>,
    /// Bookmarks directly in this folder.
    pub bookmarks: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A validated change; `None` leaves a field alone.
#[derive(Clone, Debug, Default)]
pub struct FolderPatch {
    pub name: Option<String>,
    pub parent_id: Option<Option<i64>>,
    pub color: Option<Option<String>>,
    pub now: i64,
}

/// How a folder write ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FolderWrite {
    Done(Folder),
    NotFound,
    /// The parent is not one of the user's folders.
    NoParent,
    /// The folder would end up inside itself.
    Cycle,
}

/// What deleting a folder moved to its parent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct FolderDeleted {
    pub id: i64,
    /// Where the contents went (`null`: the top level).
    pub parent_id: Option<i64>,
    pub moved_bookmarks: i64,
    pub moved_folders: i64,
}

/// Folders found or made while resolving import paths, by (parent, name).
#[derive(Default)]
pub(super) struct FolderCache(HashMap<(Option<i64>, String), i64>);

const COLS: &str = "f.id, f.name, f.parent_id, f.color, \
     (SELECT count(*) FROM bookmarks b WHERE b.folder_id = f.id), f.created_at, f.updated_at";

fn from_row(r: &Row<'_>) -> rusqlite::Result<Folder> {
    Ok(Folder {
        id: r.get(0)?,
        name: r.get(1)?,
        parent_id: r.get(2)?,
        color: r.get(3)?,
        bookmarks: r.get(4)?,
        created_at: r.get(5)?,
        updated_at: r.get(6)?,
    })
}

fn by_id(conn: &Connection, user: i64, id: i64) -> Result<Option<Folder>, StoreError> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {COLS} FROM bookmark_folders f WHERE f.user_id = ?1 AND f.id = ?2"
        ))?
        .query_row(params![user, id], from_row)
        .optional()?)
}

/// Whether `id` is one of `user`'s folders.
pub(super) fn folder_owned(conn: &Connection, user: i64, id: i64) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM bookmark_folders WHERE user_id = ?1 AND id = ?2")?
        .exists(params![user, id])?)
}

fn insert(
    conn: &Connection,
    user: i64,
    parent: Option<i64>,
    name: &str,
    color: Option<&str>,
    now: i64,
) -> Result<i64, StoreError> {
    conn.prepare_cached(
        "INSERT INTO bookmark_folders (user_id, parent_id, name, color, created_at, updated_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
    )?
    .execute(params![user, parent, name, color, now])?;
    Ok(conn.last_insert_rowid())
}

/// The folder at `path` (names from the top level down), made where
/// missing; `None` for an empty path (the top level).
pub(super) fn resolve_path(
    conn: &Connection,
    user: i64,
    path: &[(String, Option<String>)],
    now: i64,
    cache: &mut FolderCache,
) -> Result<Option<i64>, StoreError> {
    let mut parent = None;
    for (name, color) in path {
        let key = (parent, name.clone());
        if let Some(id) = cache.0.get(&key) {
            parent = Some(*id);
            continue;
        }
        let found: Option<i64> = conn
            .prepare_cached(
                "SELECT id FROM bookmark_folders WHERE user_id = ?1 AND parent_id IS ?2 \
                 AND name = ?3 ORDER BY id LIMIT 1",
            )?
            .query_row(params![user, parent, name], |r| r.get(0))
            .optional()?;
        let id = match found {
            Some(id) => id,
            None => insert(conn, user, parent, name, color.as_deref(), now)?,
        };
        cache.0.insert(key, id);
        parent = Some(id);
    }
    Ok(parent)
}

/// Whether `candidate` is `folder` or lies below it.
fn is_within(conn: &Connection, folder: i64, candidate: i64) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached(
            "WITH RECURSIVE up(id) AS (SELECT ?2 UNION \
             SELECT f.parent_id FROM bookmark_folders f JOIN up ON f.id = up.id \
             WHERE f.parent_id IS NOT NULL) SELECT 1 FROM up WHERE id = ?1",
        )?
        .exists(params![folder, candidate])?)
}

/// The folders aggregate as every backend provides it (SQLCipher `Store`,
/// PostgreSQL `pg::PgStore`), bound to one user like bookmarks.
pub trait FolderStore: Send + Sync {
    /// Every folder of the user, by name (then id).
    fn folders_list(
        &self,
        user: i64,
    ) -> impl Future<Output = Result<Vec<Folder>, StoreError>> + Send;
    /// `NoParent` when `parent` is not one of the user's folders.
    fn folder_create(
        &self,
        user: i64,
        name: String,
        parent: Option<i64>,
        color: Option<String>,
    ) -> impl Future<Output = Result<FolderWrite, StoreError>> + Send;
    /// `NotFound`, `NoParent`, or `Cycle` when the folder would end up
    /// inside itself, also when two moves race (the tree never gets a cycle).
    fn folder_update(
        &self,
        user: i64,
        id: i64,
        p: FolderPatch,
    ) -> impl Future<Output = Result<FolderWrite, StoreError>> + Send;
    /// Moves the folder's bookmarks and subfolders to its parent, then
    /// deletes it, in one transaction; `None` when it is not the user's.
    fn folder_delete(
        &self,
        user: i64,
        id: i64,
    ) -> impl Future<Output = Result<Option<FolderDeleted>, StoreError>> + Send;
}

impl FolderStore for Store {
    async fn folders_list(&self, user: i64) -> Result<Vec<Folder>, StoreError> {
        Store::folders_list(self, user).await
    }
    async fn folder_create(
        &self,
        user: i64,
        name: String,
        parent: Option<i64>,
        color: Option<String>,
    ) -> Result<FolderWrite, StoreError> {
        Store::folder_create(self, user, name, parent, color).await
    }
    async fn folder_update(
        &self,
        user: i64,
        id: i64,
        p: FolderPatch,
    ) -> Result<FolderWrite, StoreError> {
        Store::folder_update(self, user, id, p).await
    }
    async fn folder_delete(&self, user: i64, id: i64) -> Result<Option<FolderDeleted>, StoreError> {
        Store::folder_delete(self, user, id).await
    }
}

impl Store {
    /// Every folder of the user, by name within each parent.
    pub async fn folders_list(&self, user: i64) -> Result<Vec<Folder>, StoreError> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {COLS} FROM bookmark_folders f WHERE f.user_id = ?1 ORDER BY f.name, f.id"
            ))?;
            let rows = stmt
                .query_map([user], from_row)?
                .collect::<Result<_, _>>()?;
            Ok(rows)
        })
        .await
    }

    pub async fn folder_create(
        &self,
        user: i64,
        name: String,
        parent: Option<i64>,
        color: Option<String>,
    ) -> Result<FolderWrite, StoreError> {
        self.write(move |conn| {
            let tx = conn.transaction()?;
            if let Some(p) = parent
                && !folder_owned(&tx, user, p)?
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
            )?;
            let row = by_id(&tx, user, id)?.ok_or(StoreError::NotFound)?;
            tx.commit()?;
            Ok(FolderWrite::Done(row))
        })
        .await
    }

    pub async fn folder_update(
        &self,
        user: i64,
        id: i64,
        p: FolderPatch,
    ) -> Result<FolderWrite, StoreError> {
        self.write(move |conn| {
            let tx = conn.transaction()?;
            if by_id(&tx, user, id)?.is_none() {
                return Ok(FolderWrite::NotFound);
            }
            if let Some(Some(parent)) = p.parent_id {
                if !folder_owned(&tx, user, parent)? {
                    return Ok(FolderWrite::NoParent);
                }
                if is_within(&tx, id, parent)? {
                    return Ok(FolderWrite::Cycle);
                }
            }
            tx.execute(
                "UPDATE bookmark_folders SET name = IFNULL(?3, name), \
                 parent_id = CASE WHEN ?4 THEN ?5 ELSE parent_id END, \
                 color = CASE WHEN ?6 THEN ?7 ELSE color END, updated_at = ?8 \
                 WHERE user_id = ?1 AND id = ?2",
                params![
                    user,
                    id,
                    p.name,
                    p.parent_id.is_some(),
                    p.parent_id.flatten(),
                    p.color.is_some(),
                    p.color.clone().flatten(),
                    p.now
                ],
            )?;
            let row = by_id(&tx, user, id)?.ok_or(StoreError::NotFound)?;
            tx.commit()?;
            Ok(FolderWrite::Done(row))
        })
        .await
    }

    /// Deletes a folder after moving its bookmarks and subfolders to its
    /// parent, in one transaction. `None` when it is not the user's.
    pub async fn folder_delete(
        &self,
        user: i64,
        id: i64,
    ) -> Result<Option<FolderDeleted>, StoreError> {
        self.write(move |conn| {
            let tx = conn.transaction()?;
            let Some(folder) = by_id(&tx, user, id)? else {
                return Ok(None);
            };
            let now = crate::auth::now_secs();
            let moved_bookmarks = tx.execute(
                "UPDATE bookmarks SET folder_id = ?3, updated_at = max(updated_at, ?4) \
                 WHERE user_id = ?1 AND folder_id = ?2",
                params![user, id, folder.parent_id, now],
            )?;
            let moved_folders = tx.execute(
                "UPDATE bookmark_folders SET parent_id = ?3, updated_at = max(updated_at, ?4) \
                 WHERE user_id = ?1 AND parent_id = ?2",
                params![user, id, folder.parent_id, now],
            )?;
            tx.execute(
                "DELETE FROM bookmark_folders WHERE user_id = ?1 AND id = ?2",
                params![user, id],
            )?;
            tx.commit()?;
            Ok(Some(FolderDeleted {
                id,
                parent_id: folder.parent_id,
                moved_bookmarks: i64::try_from(moved_bookmarks).unwrap_or(i64::MAX),
                moved_folders: i64::try_from(moved_folders).unwrap_or(i64::MAX),
            }))
        })
        .await
    }
}
