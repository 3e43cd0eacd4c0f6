//! SQL for bookmarks (`bookmarks`, `bookmark_tags`, `bookmarks_fts`) and
//! bookmark import sessions.
//!
//! Every statement is bound to one user: a caller can never read or change
//! another user's bookmark, and an id from another user is simply not
//! found. Values arrive here already validated and normalised by
//! `crate::bookmarks`; search text arrives as validated `SearchWords`,
//! rendered here as FTS5 quoted literals, never raw. The duplicate check and
//! the folder check run inside the writing transaction. `BookmarkStore` is
//! the contract both backends keep (`pg::bookmarks` is PostgreSQL's).

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;
use utoipa::ToSchema;

use super::bookmark_folders::{FolderCache, folder_owned, resolve_path};
use super::{Store, StoreError};
use crate::chat::search::SearchWords;

pub use super::bookmark_store::BookmarkStore;

/// Who made a bookmark; what the row's creator columns hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Creator {
    User(i64),
    /// An agent key, by row id.
    Key(i64),
    Agent(i64),
}

impl Creator {
    pub(crate) fn columns(self) -> (&'static str, Option<i64>, Option<i64>, Option<i64>) {
        match self {
            Creator::User(u) => ("user", Some(u), None, None),
            Creator::Key(k) => ("key", None, Some(k), None),
            Creator::Agent(a) => ("agent", None, None, Some(a)),
        }
    }
}

/// Who made a bookmark, as the API shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct CreatedBy {
    /// `user`, `key` or `agent`.
    pub kind: String,
    /// The user id, the agent key's public id, or the agent id; `null` when
    /// it is gone.
    pub id: Option<String>,
}

/// A bookmark as the API shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct Bookmark {
    pub id: i64,
    pub url: String,
    pub title: String,
    pub description: String,
    pub tags: Vec<String>,
    pub folder_id: Option<i64>,
    pub starred: bool,
    pub archived: bool,
    pub color: Option<String>,
    pub created_by: CreatedBy,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A validated bookmark to insert. `folder` is an existing folder id, or a
/// path of folder names (created when missing) for imports.
#[derive(Clone, Debug)]
pub struct NewBookmark {
    pub url: String,
    pub norm_url: String,
    pub title: String,
    pub description: String,
    pub tags: Vec<String>,
    pub folder: FolderRef,
    pub starred: bool,
    pub archived: bool,
    pub color: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Where a new bookmark goes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum FolderRef {
    #[default]
    Root,
    Id(i64),
    /// Names from the top level down, each with an optional colour.
    Path(Vec<(String, Option<String>)>),
}

/// How one insert ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Insert {
    Inserted(Box<Bookmark>),
    /// The user already has this normalised URL: the existing bookmark id.
    Duplicate(i64),
    /// The folder id is not one of the user's folders.
    NoFolder,
}

/// A validated change; `None` leaves a field alone.
#[derive(Clone, Debug, Default)]
pub struct Patch {
    pub url: Option<(String, String)>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub tags: Option<Vec<String>>,
    pub folder_id: Option<Option<i64>>,
    pub starred: Option<bool>,
    pub archived: Option<bool>,
    pub color: Option<Option<String>>,
    pub now: i64,
}

/// How an update ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Update {
    Updated(Box<Bookmark>),
    NotFound,
    Duplicate(i64),
    NoFolder,
}

/// What a list may be narrowed to. `search`: every word must match the
/// title, description, URL or tags.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub starred: Option<bool>,
    pub archived: Option<bool>,
    /// `Some(None)`: only bookmarks at the top level.
    pub folder: Option<Option<i64>>,
    pub tag: Option<String>,
    pub search: Option<SearchWords>,
    /// Only ids below this one (the cursor).
    pub before: Option<i64>,
    pub limit: usize,
}

/// A tag and how many of the user's bookmarks carry it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct TagCount {
    pub tag: String,
    pub count: i64,
}

/// Counts over one user's bookmarks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct Stats {
    pub total: i64,
    pub starred: i64,
    pub archived: i64,
    pub folders: i64,
    pub tags: i64,
    /// Bookmarks made by agent keys and by agents.
    pub by_keys: i64,
    pub by_agents: i64,
}

/// One failed item of a bulk write or import.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
pub struct ItemError {
    pub index: usize,
    pub url: String,
    pub reason: String,
}

/// An import session as its owner sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct ImportSession {
    pub id: String,
    /// The public id of the session's write-only agent key.
    pub key_id: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub closed_at: Option<i64>,
    pub imported: i64,
    pub failed: i64,
    pub errors: Vec<ItemError>,
}

/// Failed items kept per import session; the counts stay exact beyond it.
pub const SESSION_ERRORS_KEPT: usize = 1000;

const COLS: &str = "b.id, b.url, b.title, b.description, b.tags, b.folder_id, b.starred, \
     b.archived, b.color, b.creator_kind, b.created_by_user, k.public_id, b.created_by_agent, \
     b.created_at, b.updated_at";
const FROM: &str = "FROM bookmarks b LEFT JOIN agent_keys k ON k.id = b.created_by_key";

fn from_row(r: &Row<'_>) -> rusqlite::Result<Bookmark> {
    let tags: String = r.get(4)?;
    let kind: String = r.get(9)?;
    let id = match kind.as_str() {
        "user" => r.get::<_, Option<i64>>(10)?.map(|u| u.to_string()),
        "key" => r.get::<_, Option<String>>(11)?,
        _ => r.get::<_, Option<i64>>(12)?.map(|a| a.to_string()),
    };
    Ok(Bookmark {
        id: r.get(0)?,
        url: r.get(1)?,
        title: r.get(2)?,
        description: r.get(3)?,
        tags: tags.split_whitespace().map(str::to_string).collect(),
        folder_id: r.get(5)?,
        starred: r.get(6)?,
        archived: r.get(7)?,
        color: r.get(8)?,
        created_by: CreatedBy { kind, id },
        created_at: r.get(13)?,
        updated_at: r.get(14)?,
    })
}

pub(super) fn by_id(conn: &Connection, user: i64, id: i64) -> Result<Option<Bookmark>, StoreError> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {COLS} {FROM} WHERE b.user_id = ?1 AND b.id = ?2"
        ))?
        .query_row(params![user, id], from_row)
        .optional()?)
}

fn dup_of(conn: &Connection, user: i64, norm: &str) -> Result<Option<i64>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT id FROM bookmarks WHERE user_id = ?1 AND norm_url = ?2")?
        .query_row(params![user, norm], |r| r.get(0))
        .optional()?)
}

fn write_tags(conn: &Connection, user: i64, id: i64, tags: &[String]) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM bookmark_tags WHERE bookmark_id = ?1")?
        .execute([id])?;
    let mut ins = conn.prepare_cached(
        "INSERT OR IGNORE INTO bookmark_tags (bookmark_id, user_id, tag) VALUES (?1, ?2, ?3)",
    )?;
    for t in tags {
        ins.execute(params![id, user, t])?;
    }
    Ok(())
}

/// Inserts one bookmark inside the caller's transaction.
fn insert_one(
    conn: &Connection,
    user: i64,
    creator: Creator,
    b: &NewBookmark,
    folders: &mut FolderCache,
) -> Result<Insert, StoreError> {
    if let Some(existing) = dup_of(conn, user, &b.norm_url)? {
        return Ok(Insert::Duplicate(existing));
    }
    let folder_id = match &b.folder {
        FolderRef::Root => None,
        FolderRef::Id(f) => {
            if !folder_owned(conn, user, *f)? {
                return Ok(Insert::NoFolder);
            }
            Some(*f)
        }
        FolderRef::Path(path) => resolve_path(conn, user, path, b.created_at, folders)?,
    };
    let (kind, by_user, by_key, by_agent) = creator.columns();
    conn.prepare_cached(
        "INSERT INTO bookmarks (user_id, url, norm_url, title, description, tags, folder_id, \
         starred, archived, color, created_by_user, created_by_key, created_by_agent, \
         creator_kind, created_at, updated_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
    )?
    .execute(params![
        user,
        b.url,
        b.norm_url,
        b.title,
        b.description,
        b.tags.join(" "),
        folder_id,
        b.starred,
        b.archived,
        b.color,
        by_user,
        by_key,
        by_agent,
        kind,
        b.created_at,
        b.updated_at
    ])?;
    let id = conn.last_insert_rowid();
    write_tags(conn, user, id, &b.tags)?;
    let row = by_id(conn, user, id)?.ok_or(StoreError::NotFound)?;
    Ok(Insert::Inserted(Box::new(row)))
}

/// Adds one bulk outcome to the import session that owns `key`, if any.
fn tally_session(
    conn: &Connection,
    key: i64,
    imported: i64,
    errors: &[ItemError],
) -> Result<(), StoreError> {
    let found: Option<(i64, String)> = conn
        .query_row(
            "SELECT id, errors FROM bookmark_import_sessions WHERE key_id = ?1 AND closed_at IS NULL",
            [key],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((sid, kept)) = found else {
        return Ok(());
    };
    let mut kept: Vec<ItemError> = serde_json::from_str(&kept).unwrap_or_default();
    let room = SESSION_ERRORS_KEPT.saturating_sub(kept.len());
    kept.extend(errors.iter().take(room).cloned());
    let kept = serde_json::to_string(&kept).map_err(|e| StoreError::Conflict(e.to_string()))?;
    conn.execute(
        "UPDATE bookmark_import_sessions SET imported = imported + ?2, failed = failed + ?3, \
         errors = ?4 WHERE id = ?1",
        params![
            sid,
            imported,
            i64::try_from(errors.len()).unwrap_or(i64::MAX),
            kept
        ],
    )?;
    Ok(())
}

const SESSION_COLS: &str = "s.public_id, k.public_id, s.created_at, s.expires_at, s.closed_at, \
     s.imported, s.failed, s.errors";

fn session_from_row(r: &Row<'_>) -> rusqlite::Result<ImportSession> {
    let errors: String = r.get(7)?;
    Ok(ImportSession {
        id: r.get(0)?,
        key_id: r.get(1)?,
        created_at: r.get(2)?,
        expires_at: r.get(3)?,
        closed_at: r.get(4)?,
        imported: r.get(5)?,
        failed: r.get(6)?,
        errors: serde_json::from_str(&errors).unwrap_or_default(),
    })
}

impl Store {
    /// Inserts one bookmark unless the user already has its URL or the
    /// folder is not theirs.
    pub async fn bookmark_insert(
        &self,
        user: i64,
        creator: Creator,
        b: NewBookmark,
    ) -> Result<Insert, StoreError> {
        self.write(move |conn| {
            let tx = conn.transaction()?;
            let out = insert_one(&tx, user, creator, &b, &mut FolderCache::default())?;
            if matches!(out, Insert::Inserted(_)) {
                tx.commit()?;
            }
            Ok(out)
        })
        .await
    }

    /// Inserts many bookmarks in one transaction, each in its own savepoint
    /// so one failure never touches another item. `Err` items were refused
    /// before they got here and are kept in place; the output has one entry
    /// per input. `folder_paths` are made first (empty folders of an
    /// import), in order. When `session_key` owns an open import session, its
    /// counters take this batch's outcome.
    pub async fn bookmarks_insert_many(
        &self,
        user: i64,
        creator: Creator,
        folder_paths: Vec<Vec<(String, Option<String>)>>,
        items: Vec<Result<NewBookmark, ItemError>>,
        session_key: Option<i64>,
    ) -> Result<Vec<Result<i64, ItemError>>, StoreError> {
        self.write(move |conn| {
            let mut tx = conn.transaction()?;
            let mut folders = FolderCache::default();
            let now = crate::auth::now_secs();
            for path in &folder_paths {
                resolve_path(&tx, user, path, now, &mut folders)?;
            }
            let mut seen = std::collections::HashSet::new();
            let mut out = Vec::with_capacity(items.len());
            for (index, item) in items.into_iter().enumerate() {
                let b = match item {
                    Ok(b) => b,
                    Err(e) => {
                        out.push(Err(e));
                        continue;
                    }
                };
                let fail = |reason: &str| ItemError {
                    index,
                    url: b.url.clone(),
                    reason: reason.to_string(),
                };
                if !seen.insert(b.norm_url.clone()) {
                    out.push(Err(fail(
                        "duplicate: the same URL appears earlier in this batch",
                    )));
                    continue;
                }
                let sp = tx.savepoint()?;
                let res = match insert_one(&sp, user, creator, &b, &mut folders)? {
                    Insert::Inserted(row) => {
                        sp.commit()?;
                        Ok(row.id)
                    }
                    Insert::Duplicate(_) => Err(fail("duplicate: this URL is already bookmarked")),
                    Insert::NoFolder => Err(fail("no such folder")),
                };
                out.push(res);
            }
            if let Some(key) = session_key {
                let errors: Vec<ItemError> = out
                    .iter()
                    .filter_map(|r| r.as_ref().err().cloned())
                    .collect();
                let imported = i64::try_from(out.len() - errors.len()).unwrap_or(i64::MAX);
                tally_session(&tx, key, imported, &errors)?;
            }
            tx.commit()?;
            Ok(out)
        })
        .await
    }

    pub async fn bookmark_get(&self, user: i64, id: i64) -> Result<Option<Bookmark>, StoreError> {
        self.read(move |conn| by_id(conn, user, id)).await
    }

    /// Applies a patch; the duplicate and folder checks run in the same
    /// transaction.
    pub async fn bookmark_update(
        &self,
        user: i64,
        id: i64,
        p: Patch,
    ) -> Result<Update, StoreError> {
        self.write(move |conn| {
            let tx = conn.transaction()?;
            let Some(old) = by_id(&tx, user, id)? else {
                return Ok(Update::NotFound);
            };
            if let Some((_, norm)) = &p.url
                && let Some(other) = dup_of(&tx, user, norm)?
                && other != id
            {
                return Ok(Update::Duplicate(other));
            }
            if let Some(Some(f)) = p.folder_id
                && !folder_owned(&tx, user, f)?
            {
                return Ok(Update::NoFolder);
            }
            let (url, norm) = match p.url {
                Some((u, n)) => (Some(u), Some(n)),
                None => (None, None),
            };
            let tags = p.tags.as_ref().map(|t| t.join(" "));
            tx.execute(
                "UPDATE bookmarks SET url = IFNULL(?3, url), norm_url = IFNULL(?4, norm_url), \
                 title = IFNULL(?5, title), description = IFNULL(?6, description), \
                 tags = IFNULL(?7, tags), folder_id = CASE WHEN ?8 THEN ?9 ELSE folder_id END, \
                 starred = IFNULL(?10, starred), archived = IFNULL(?11, archived), \
                 color = CASE WHEN ?12 THEN ?13 ELSE color END, updated_at = ?14 \
                 WHERE user_id = ?1 AND id = ?2",
                params![
                    user,
                    id,
                    url,
                    norm,
                    p.title,
                    p.description,
                    tags,
                    p.folder_id.is_some(),
                    p.folder_id.flatten(),
                    p.starred,
                    p.archived,
                    p.color.is_some(),
                    p.color.clone().flatten(),
                    p.now.max(old.updated_at)
                ],
            )?;
            if let Some(t) = &p.tags {
                write_tags(&tx, user, id, t)?;
            }
            let row = by_id(&tx, user, id)?.ok_or(StoreError::NotFound)?;
            tx.commit()?;
            Ok(Update::Updated(Box::new(row)))
        })
        .await
    }

    /// Deletes one bookmark; the deleted row, or `None` when it was not the
    /// user's.
    pub async fn bookmark_delete(
        &self,
        user: i64,
        id: i64,
    ) -> Result<Option<Bookmark>, StoreError> {
        self.write(move |conn| {
            let tx = conn.transaction()?;
            let Some(row) = by_id(&tx, user, id)? else {
                return Ok(None);
            };
            tx.execute("DELETE FROM bookmarks WHERE id = ?1", [id])?;
            tx.commit()?;
            Ok(Some(row))
        })
        .await
    }

    /// One page of the user's bookmarks, newest first, narrowed by `f`.
    pub async fn bookmarks_list(&self, user: i64, f: Filter) -> Result<Vec<Bookmark>, StoreError> {
        self.read(move |conn| {
            let sql = format!(
                "SELECT {COLS} {FROM} WHERE b.user_id = ?1 \
                 AND (?2 IS NULL OR b.starred = ?2) AND (?3 IS NULL OR b.archived = ?3) \
                 AND (?4 = 0 OR b.folder_id IS ?5) \
                 AND (?6 IS NULL OR b.id IN (SELECT bookmark_id FROM bookmark_tags \
                      WHERE user_id = ?1 AND tag = ?6)) \
                 AND (?7 IS NULL OR b.id IN (SELECT rowid FROM bookmarks_fts \
                      WHERE bookmarks_fts MATCH ?7)) \
                 AND (?8 IS NULL OR b.id < ?8) \
                 ORDER BY b.id DESC LIMIT ?9"
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt
                .query_map(
                    params![
                        user,
                        f.starred,
                        f.archived,
                        f.folder.is_some(),
                        f.folder.flatten(),
                        f.tag,
                        f.search.as_ref().map(SearchWords::fts5),
                        f.before,
                        i64::try_from(f.limit).unwrap_or(i64::MAX)
                    ],
                    from_row,
                )?
                .collect::<Result<_, _>>()?;
            Ok(rows)
        })
        .await
    }

    /// Every bookmark of the user, oldest first (exports).
    pub async fn bookmarks_all(&self, user: i64) -> Result<Vec<Bookmark>, StoreError> {
        self.read(move |conn| {
            let mut stmt = conn.prepare(&format!(
                "SELECT {COLS} {FROM} WHERE b.user_id = ?1 ORDER BY b.id"
            ))?;
            let rows = stmt
                .query_map([user], from_row)?
                .collect::<Result<_, _>>()?;
            Ok(rows)
        })
        .await
    }

    /// The user's tags with how many bookmarks carry each, most used first.
    pub async fn bookmark_tags(&self, user: i64) -> Result<Vec<TagCount>, StoreError> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT tag, count(*) AS n FROM bookmark_tags WHERE user_id = ?1 \
                 GROUP BY tag ORDER BY n DESC, tag",
            )?;
            let rows = stmt
                .query_map([user], |r| {
                    Ok(TagCount {
                        tag: r.get(0)?,
                        count: r.get(1)?,
                    })
                })?
                .collect::<Result<_, _>>()?;
            Ok(rows)
        })
        .await
    }

    pub async fn bookmark_stats(&self, user: i64) -> Result<Stats, StoreError> {
        self.read(move |conn| {
            let (total, starred, archived, by_keys, by_agents) = conn.query_row(
                "SELECT count(*), IFNULL(sum(starred), 0), IFNULL(sum(archived), 0), \
                 IFNULL(sum(creator_kind = 'key'), 0), IFNULL(sum(creator_kind = 'agent'), 0) \
                 FROM bookmarks WHERE user_id = ?1",
                [user],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )?;
            let folders = conn.query_row(
                "SELECT count(*) FROM bookmark_folders WHERE user_id = ?1",
                [user],
                |r| r.get(0),
            )?;
            let tags = conn.query_row(
                "SELECT count(DISTINCT tag) FROM bookmark_tags WHERE user_id = ?1",
                [user],
                |r| r.get(0),
            )?;
            Ok(Stats {
                total,
                starred,
                archived,
                folders,
                tags,
                by_keys,
                by_agents,
            })
        })
        .await
    }

    /// Records a new import session for the key just created for it.
    pub async fn import_session_create(
        &self,
        user: i64,
        key_public_id: String,
        expires_at: i64,
    ) -> Result<ImportSession, StoreError> {
        self.write(move |conn| {
            let tx = conn.transaction()?;
            let key: i64 = tx.query_row(
                "SELECT id FROM agent_keys WHERE public_id = ?1 AND created_by = ?2",
                params![key_public_id, user],
                |r| r.get(0),
            )?;
            let public_id = crate::auth::tokens::public_id();
            tx.execute(
                "INSERT INTO bookmark_import_sessions (public_id, user_id, key_id, created_at, \
                 expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![public_id, user, key, crate::auth::now_secs(), expires_at],
            )?;
            let s = tx.query_row(
                &format!(
                    "SELECT {SESSION_COLS} FROM bookmark_import_sessions s \
                     JOIN agent_keys k ON k.id = s.key_id WHERE s.public_id = ?1"
                ),
                [&public_id],
                session_from_row,
            )?;
            tx.commit()?;
            Ok(s)
        })
        .await
    }

    /// Closes one of the user's import sessions and revokes its key in the
    /// same transaction; closing twice answers the same summary. `None`
    /// when the session is not the user's.
    pub async fn import_session_close(
        &self,
        user: i64,
        public_id: String,
    ) -> Result<Option<ImportSession>, StoreError> {
        self.write_revoking(move |conn| {
            let tx = conn.transaction()?;
            let now = crate::auth::now_secs();
            let key: Option<i64> = tx
                .query_row(
                    "SELECT key_id FROM bookmark_import_sessions WHERE public_id = ?1 AND user_id = ?2",
                    params![public_id, user],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(key) = key else {
                return Ok(None);
            };
            tx.execute(
                "UPDATE bookmark_import_sessions SET closed_at = ?2 \
                 WHERE public_id = ?1 AND closed_at IS NULL",
                params![public_id, now],
            )?;
            tx.execute(
                "UPDATE agent_keys SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                params![key, now],
            )?;
            let s = tx.query_row(
                &format!(
                    "SELECT {SESSION_COLS} FROM bookmark_import_sessions s \
                     JOIN agent_keys k ON k.id = s.key_id WHERE s.public_id = ?1"
                ),
                [&public_id],
                session_from_row,
            )?;
            tx.commit()?;
            Ok(Some(s))
        })
        .await
    }
}
