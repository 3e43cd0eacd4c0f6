//! Bookmarks, their tags, saved pages and import sessions on PostgreSQL:
//! the same contracts as the SQLCipher code (`store::bookmarks::
//! BookmarkStore`, `store::bookmark_pages::BookmarkPageStore`), checked by
//! the conformance suite.
//!
//! Every statement is bound to one user. Each write takes the user's
//! advisory lock first (`bookmark_folders::lock_user`), so the duplicate-URL
//! check, the folder check and import-folder creation behave as serially as
//! on SQLite; the `(user_id, norm_url)` unique index stays the last word:
//! an insert that still meets it (`ON CONFLICT DO NOTHING`) is answered as
//! the duplicate it is. Search goes through `pg::search::tsquery`: user
//! words only ever travel as bind parameters, never as SQL.

use deadpool_postgres::GenericClient;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::bookmark_folders::{PathCache, folder_owned, lock_user, resolve_path};
use super::{PgStore, is_unique_violation, pg_error};
use crate::store::StoreError;
use crate::store::bookmark_pages::{BookmarkPageStore, Fill, PageText};
use crate::store::bookmarks::{
    Bookmark, BookmarkStore, CreatedBy, Creator, Filter, FolderRef, ImportSession, Insert,
    ItemError, NewBookmark, Patch, SESSION_ERRORS_KEPT, Stats, TagCount, Update,
};

const COLS: &str = "b.id, b.url, b.title, b.description, b.tags, b.folder_id, b.starred, \
     b.archived, b.color, b.creator_kind, b.created_by_user, k.public_id, b.created_by_agent, \
     b.created_at, b.updated_at";
const FROM: &str = "FROM bookmarks b LEFT JOIN agent_keys k ON k.id = b.created_by_key";

fn from_row(r: &Row) -> Result<Bookmark, StoreError> {
    let tags: String = r.try_get(4)?;
    let kind: String = r.try_get(9)?;
    let id = match kind.as_str() {
        "user" => r.try_get::<_, Option<i64>>(10)?.map(|u| u.to_string()),
        "key" => r.try_get::<_, Option<String>>(11)?,
        _ => r.try_get::<_, Option<i64>>(12)?.map(|a| a.to_string()),
    };
    Ok(Bookmark {
        id: r.try_get(0)?,
        url: r.try_get(1)?,
        title: r.try_get(2)?,
        description: r.try_get(3)?,
        tags: tags.split_whitespace().map(str::to_string).collect(),
        folder_id: r.try_get(5)?,
        starred: r.try_get(6)?,
        archived: r.try_get(7)?,
        color: r.try_get(8)?,
        created_by: CreatedBy { kind, id },
        created_at: r.try_get(13)?,
        updated_at: r.try_get(14)?,
    })
}

async fn by_id(c: &impl GenericClient, user: i64, id: i64) -> Result<Option<Bookmark>, StoreError> {
    c.query_opt(
        &format!("SELECT {COLS} {FROM} WHERE b.user_id = $1 AND b.id = $2"),
        &[&user, &id],
    )
    .await?
    .map(|r| from_row(&r))
    .transpose()
}

async fn dup_of(c: &impl GenericClient, user: i64, norm: &str) -> Result<Option<i64>, StoreError> {
    Ok(c.query_opt(
        "SELECT id FROM bookmarks WHERE user_id = $1 AND norm_url = $2",
        &[&user, &norm],
    )
    .await?
    .map(|r| r.get(0)))
}

async fn write_tags(
    c: &impl GenericClient,
    user: i64,
    id: i64,
    tags: &[String],
) -> Result<(), StoreError> {
    c.execute("DELETE FROM bookmark_tags WHERE bookmark_id = $1", &[&id])
        .await?;
    c.execute(
        "INSERT INTO bookmark_tags (bookmark_id, user_id, tag) \
         SELECT $1, $2, t FROM unnest($3::TEXT[]) AS t ON CONFLICT DO NOTHING",
        &[&id, &user, &tags],
    )
    .await?;
    Ok(())
}

/// Inserts one bookmark inside the caller's transaction, which holds the
/// user's lock. Anything but `Inserted` may have made import folders: the
/// caller rolls back.
async fn insert_one(
    c: &impl GenericClient,
    user: i64,
    creator: Creator,
    b: &NewBookmark,
    folders: &mut PathCache,
) -> Result<Insert, StoreError> {
    if let Some(existing) = dup_of(c, user, &b.norm_url).await? {
        return Ok(Insert::Duplicate(existing));
    }
    let folder_id = match &b.folder {
        FolderRef::Root => None,
        FolderRef::Id(f) => {
            if !folder_owned(c, user, *f).await? {
                return Ok(Insert::NoFolder);
            }
            Some(*f)
        }
        FolderRef::Path(path) => resolve_path(c, user, path, b.created_at, folders).await?,
    };
    let (kind, by_user, by_key, by_agent) = creator.columns();
    let row = c
        .query_opt(
            "INSERT INTO bookmarks (user_id, url, norm_url, title, description, tags, folder_id, \
             starred, archived, color, created_by_user, created_by_key, created_by_agent, \
             creator_kind, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) \
             ON CONFLICT (user_id, norm_url) DO NOTHING RETURNING id",
            &[
                &user,
                &b.url,
                &b.norm_url,
                &b.title,
                &b.description,
                &b.tags.join(" "),
                &folder_id,
                &b.starred,
                &b.archived,
                &b.color,
                &by_user,
                &by_key,
                &by_agent,
                &kind,
                &b.created_at,
                &b.updated_at,
            ],
        )
        .await?;
    let Some(row) = row else {
        // Taken by a transaction that committed after our check.
        let existing = dup_of(c, user, &b.norm_url)
            .await?
            .ok_or_else(|| StoreError::Conflict("this URL is being bookmarked".into()))?;
        return Ok(Insert::Duplicate(existing));
    };
    let id: i64 = row.get(0);
    write_tags(c, user, id, &b.tags).await?;
    let row = by_id(c, user, id).await?.ok_or(StoreError::NotFound)?;
    Ok(Insert::Inserted(Box::new(row)))
}

/// Adds one bulk outcome to the open import session that owns `key`, if
/// any; the session row is locked while its kept errors are rewritten.
async fn tally_session(
    c: &impl GenericClient,
    key: i64,
    imported: i64,
    errors: &[ItemError],
) -> Result<(), StoreError> {
    let found = c
        .query_opt(
            "SELECT id, errors FROM bookmark_import_sessions \
             WHERE key_id = $1 AND closed_at IS NULL FOR UPDATE",
            &[&key],
        )
        .await?;
    let Some(found) = found else {
        return Ok(());
    };
    let sid: i64 = found.get(0);
    let kept: String = found.get(1);
    let mut kept: Vec<ItemError> = serde_json::from_str(&kept).unwrap_or_default();
    let room = SESSION_ERRORS_KEPT.saturating_sub(kept.len());
    kept.extend(errors.iter().take(room).cloned());
    let kept = serde_json::to_string(&kept).map_err(|e| StoreError::Conflict(e.to_string()))?;
    c.execute(
        "UPDATE bookmark_import_sessions SET imported = imported + $2, failed = failed + $3, \
         errors = $4 WHERE id = $1",
        &[
            &sid,
            &imported,
            &i64::try_from(errors.len()).unwrap_or(i64::MAX),
            &kept,
        ],
    )
    .await?;
    Ok(())
}

const SESSION_COLS: &str = "s.public_id, k.public_id, s.created_at, s.expires_at, s.closed_at, \
     s.imported, s.failed, s.errors";

async fn session(c: &impl GenericClient, public_id: &str) -> Result<ImportSession, StoreError> {
    let r = c
        .query_opt(
            &format!(
                "SELECT {SESSION_COLS} FROM bookmark_import_sessions s \
                 JOIN agent_keys k ON k.id = s.key_id WHERE s.public_id = $1"
            ),
            &[&public_id],
        )
        .await?
        .ok_or(StoreError::NotFound)?;
    let errors: String = r.try_get(7)?;
    Ok(ImportSession {
        id: r.try_get(0)?,
        key_id: r.try_get(1)?,
        created_at: r.try_get(2)?,
        expires_at: r.try_get(3)?,
        closed_at: r.try_get(4)?,
        imported: r.try_get(5)?,
        failed: r.try_get(6)?,
        errors: serde_json::from_str(&errors).unwrap_or_default(),
    })
}

impl BookmarkStore for PgStore {
    async fn bookmark_insert(
        &self,
        user: i64,
        creator: Creator,
        b: NewBookmark,
    ) -> Result<Insert, StoreError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        lock_user(&tx, user).await?;
        let out = insert_one(&tx, user, creator, &b, &mut PathCache::default()).await?;
        if matches!(out, Insert::Inserted(_)) {
            tx.commit().await?;
        } else {
            tx.rollback().await?;
        }
        Ok(out)
    }

    async fn bookmarks_insert_many(
        &self,
        user: i64,
        creator: Creator,
        folder_paths: Vec<Vec<(String, Option<String>)>>,
        items: Vec<Result<NewBookmark, ItemError>>,
        session_key: Option<i64>,
    ) -> Result<Vec<Result<i64, ItemError>>, StoreError> {
        let mut c = self.client().await?;
        let mut tx = c.transaction().await?;
        lock_user(&tx, user).await?;
        let mut folders = PathCache::default();
        let now = crate::auth::now_secs();
        for path in &folder_paths {
            resolve_path(&tx, user, path, now, &mut folders).await?;
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
            // Folders made for a refused item go with its savepoint.
            let cached = folders.clone();
            let sp = tx.transaction().await?;
            let outcome = insert_one(&sp, user, creator, &b, &mut folders).await?;
            let res = match outcome {
                Insert::Inserted(row) => {
                    sp.commit().await?;
                    Ok(row.id)
                }
                refused => {
                    sp.rollback().await?;
                    folders = cached;
                    Err(fail(match refused {
                        Insert::NoFolder => "no such folder",
                        _ => "duplicate: this URL is already bookmarked",
                    }))
                }
            };
            out.push(res);
        }
        if let Some(key) = session_key {
            let errors: Vec<ItemError> = out
                .iter()
                .filter_map(|r| r.as_ref().err().cloned())
                .collect();
            let imported = i64::try_from(out.len() - errors.len()).unwrap_or(i64::MAX);
            tally_session(&tx, key, imported, &errors).await?;
        }
        tx.commit().await?;
        Ok(out)
    }

    async fn bookmark_get(&self, user: i64, id: i64) -> Result<Option<Bookmark>, StoreError> {
        by_id(&self.client().await?, user, id).await
    }

    async fn bookmark_update(&self, user: i64, id: i64, p: Patch) -> Result<Update, StoreError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        lock_user(&tx, user).await?;
        let Some(old) = by_id(&tx, user, id).await? else {
            return Ok(Update::NotFound);
        };
        if let Some((_, norm)) = &p.url
            && let Some(other) = dup_of(&tx, user, norm).await?
            && other != id
        {
            return Ok(Update::Duplicate(other));
        }
        if let Some(Some(f)) = p.folder_id
            && !folder_owned(&tx, user, f).await?
        {
            return Ok(Update::NoFolder);
        }
        let (url, norm) = match &p.url {
            Some((u, n)) => (Some(u.clone()), Some(n.clone())),
            None => (None, None),
        };
        let tags = p.tags.as_ref().map(|t| t.join(" "));
        let res = tx
            .execute(
                "UPDATE bookmarks SET url = COALESCE($3, url), \
                 norm_url = COALESCE($4, norm_url), title = COALESCE($5, title), \
                 description = COALESCE($6, description), tags = COALESCE($7, tags), \
                 folder_id = CASE WHEN $8 THEN $9 ELSE folder_id END, \
                 starred = COALESCE($10, starred), archived = COALESCE($11, archived), \
                 color = CASE WHEN $12 THEN $13 ELSE color END, updated_at = $14 \
                 WHERE user_id = $1 AND id = $2",
                &[
                    &user,
                    &id,
                    &url,
                    &norm,
                    &p.title,
                    &p.description,
                    &tags,
                    &p.folder_id.is_some(),
                    &p.folder_id.flatten(),
                    &p.starred,
                    &p.archived,
                    &p.color.is_some(),
                    &p.color.clone().flatten(),
                    &p.now.max(old.updated_at),
                ],
            )
            .await;
        match res {
            Ok(_) => {}
            // The user's lock makes this unreachable; kept as the answer
            // the unique index would force.
            Err(e) if is_unique_violation(&e) => {
                tx.rollback().await?;
                let other = match &p.url {
                    Some((_, n)) => dup_of(&self.client().await?, user, n).await?,
                    None => None,
                };
                return other
                    .map(Update::Duplicate)
                    .ok_or_else(|| StoreError::Conflict("this URL is being bookmarked".into()));
            }
            Err(e) => return Err(pg_error(e)),
        }
        if let Some(t) = &p.tags {
            write_tags(&tx, user, id, t).await?;
        }
        let row = by_id(&tx, user, id).await?.ok_or(StoreError::NotFound)?;
        tx.commit().await?;
        Ok(Update::Updated(Box::new(row)))
    }

    async fn bookmark_delete(&self, user: i64, id: i64) -> Result<Option<Bookmark>, StoreError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        lock_user(&tx, user).await?;
        let Some(row) = by_id(&tx, user, id).await? else {
            return Ok(None);
        };
        tx.execute(
            "DELETE FROM bookmarks WHERE user_id = $1 AND id = $2",
            &[&user, &id],
        )
        .await?;
        tx.commit().await?;
        Ok(Some(row))
    }

    async fn bookmarks_list(&self, user: i64, f: Filter) -> Result<Vec<Bookmark>, StoreError> {
        let mut sql = format!("SELECT {COLS} {FROM} WHERE b.user_id = $1");
        let mut params: Vec<Box<dyn ToSql + Sync + Send>> = vec![Box::new(user)];
        let mut add = |sql: &mut String, cond: &str, v: Box<dyn ToSql + Sync + Send>| {
            params.push(v);
            sql.push_str(&cond.replace("$?", &format!("${}", params.len())));
        };
        if let Some(s) = f.starred {
            add(&mut sql, " AND b.starred = $?", Box::new(s));
        }
        if let Some(a) = f.archived {
            add(&mut sql, " AND b.archived = $?", Box::new(a));
        }
        match f.folder {
            Some(Some(folder)) => add(&mut sql, " AND b.folder_id = $?", Box::new(folder)),
            Some(None) => sql.push_str(" AND b.folder_id IS NULL"),
            None => {}
        }
        if let Some(tag) = f.tag {
            add(
                &mut sql,
                " AND b.id IN (SELECT bookmark_id FROM bookmark_tags \
                 WHERE user_id = $1 AND tag = $?)",
                Box::new(tag),
            );
        }
        if let Some(before) = f.before {
            add(&mut sql, " AND b.id < $?", Box::new(before));
        }
        let limit = i64::try_from(f.limit).unwrap_or(i64::MAX);
        add(&mut sql, "", Box::new(limit));
        let limit_at = params.len();
        if let Some(words) = &f.search {
            let (query, words) = super::search::tsquery(words, params.len() + 1);
            sql.push_str(&format!(" AND b.search @@ {query}"));
            params.extend(
                words
                    .into_iter()
                    .map(|w| Box::new(w) as Box<dyn ToSql + Sync + Send>),
            );
        }
        sql.push_str(&format!(" ORDER BY b.id DESC LIMIT ${limit_at}"));
        let refs: Vec<&(dyn ToSql + Sync)> = params
            .iter()
            .map(|p| p.as_ref() as &(dyn ToSql + Sync))
            .collect();
        self.client()
            .await?
            .query(&sql, &refs)
            .await?
            .iter()
            .map(from_row)
            .collect()
    }

    async fn bookmarks_all(&self, user: i64) -> Result<Vec<Bookmark>, StoreError> {
        self.client()
            .await?
            .query(
                &format!("SELECT {COLS} {FROM} WHERE b.user_id = $1 ORDER BY b.id"),
                &[&user],
            )
            .await?
            .iter()
            .map(from_row)
            .collect()
    }

    async fn bookmark_tags(&self, user: i64) -> Result<Vec<TagCount>, StoreError> {
        Ok(self
            .client()
            .await?
            .query(
                "SELECT tag, count(*) AS n FROM bookmark_tags WHERE user_id = $1 \
                 GROUP BY tag ORDER BY n DESC, tag COLLATE \"C\"",
                &[&user],
            )
            .await?
            .iter()
            .map(|r| TagCount {
                tag: r.get(0),
                count: r.get(1),
            })
            .collect())
    }

    async fn bookmark_stats(&self, user: i64) -> Result<Stats, StoreError> {
        let r = self
            .client()
            .await?
            .query_one(
                "SELECT count(*), count(*) FILTER (WHERE starred), \
                 count(*) FILTER (WHERE archived), \
                 count(*) FILTER (WHERE creator_kind = 'key'), \
                 count(*) FILTER (WHERE creator_kind = 'agent'), \
                 (SELECT count(*) FROM bookmark_folders WHERE user_id = $1), \
                 (SELECT count(DISTINCT tag) FROM bookmark_tags WHERE user_id = $1) \
                 FROM bookmarks WHERE user_id = $1",
                &[&user],
            )
            .await?;
        Ok(Stats {
            total: r.try_get(0)?,
            starred: r.try_get(1)?,
            archived: r.try_get(2)?,
            by_keys: r.try_get(3)?,
            by_agents: r.try_get(4)?,
            folders: r.try_get(5)?,
            tags: r.try_get(6)?,
        })
    }

    async fn import_session_create(
        &self,
        user: i64,
        key_public_id: String,
        expires_at: i64,
    ) -> Result<ImportSession, StoreError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        let key: i64 = tx
            .query_opt(
                "SELECT id FROM agent_keys WHERE public_id = $1 AND created_by = $2",
                &[&key_public_id, &user],
            )
            .await?
            .ok_or(StoreError::NotFound)?
            .get(0);
        let public_id = crate::auth::tokens::public_id();
        tx.execute(
            "INSERT INTO bookmark_import_sessions (public_id, user_id, key_id, created_at, \
             expires_at) VALUES ($1, $2, $3, $4, $5)",
            &[
                &public_id,
                &user,
                &key,
                &crate::auth::now_secs(),
                &expires_at,
            ],
        )
        .await?;
        let s = session(&tx, &public_id).await?;
        tx.commit().await?;
        Ok(s)
    }

    async fn import_session_close(
        &self,
        user: i64,
        public_id: String,
    ) -> Result<Option<ImportSession>, StoreError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        let now = crate::auth::now_secs();
        let key: Option<i64> = tx
            .query_opt(
                "SELECT key_id FROM bookmark_import_sessions \
                 WHERE public_id = $1 AND user_id = $2 FOR UPDATE",
                &[&public_id, &user],
            )
            .await?
            .map(|r| r.get(0));
        let Some(key) = key else {
            return Ok(None);
        };
        tx.execute(
            "UPDATE bookmark_import_sessions SET closed_at = $2 \
             WHERE public_id = $1 AND closed_at IS NULL",
            &[&public_id, &now],
        )
        .await?;
        tx.execute(
            "UPDATE agent_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
            &[&key, &now],
        )
        .await?;
        let s = session(&tx, &public_id).await?;
        tx.commit().await?;
        Ok(Some(s))
    }
}

const PAGE_COLS: &str = "bookmark_id, final_url, status, title, description, text, truncated, \
     hidden, flagged, score, fetched_at";

impl BookmarkPageStore for PgStore {
    async fn bookmark_page_save(
        &self,
        user: i64,
        page: PageText,
        fill: Fill,
    ) -> Result<bool, StoreError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        lock_user(&tx, user).await?;
        let Some(b) = by_id(&tx, user, page.bookmark_id).await? else {
            return Ok(false);
        };
        tx.execute(
            &format!(
                "INSERT INTO bookmark_pages ({PAGE_COLS}, user_id) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
                 ON CONFLICT (bookmark_id) DO UPDATE SET final_url = EXCLUDED.final_url, \
                 status = EXCLUDED.status, title = EXCLUDED.title, \
                 description = EXCLUDED.description, text = EXCLUDED.text, \
                 truncated = EXCLUDED.truncated, hidden = EXCLUDED.hidden, \
                 flagged = EXCLUDED.flagged, score = EXCLUDED.score, \
                 fetched_at = EXCLUDED.fetched_at, user_id = EXCLUDED.user_id"
            ),
            &[
                &page.bookmark_id,
                &page.final_url,
                &i64::from(page.status),
                &page.title,
                &page.description,
                &page.text,
                &page.truncated,
                &page.hidden.join(","),
                &page.flagged,
                &f64::from(page.score),
                &page.fetched_at,
                &user,
            ],
        )
        .await?;
        let title = fill.title.filter(|_| b.title == b.url);
        let description = fill.description.filter(|_| b.description.is_empty());
        if title.is_some() || description.is_some() {
            tx.execute(
                "UPDATE bookmarks SET title = COALESCE($3, title), \
                 description = COALESCE($4, description), \
                 updated_at = GREATEST(updated_at, $5) WHERE user_id = $1 AND id = $2",
                &[
                    &user,
                    &page.bookmark_id,
                    &title,
                    &description,
                    &page.fetched_at,
                ],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn bookmark_page(
        &self,
        user: i64,
        bookmark: i64,
    ) -> Result<Option<PageText>, StoreError> {
        let Some(r) = self
            .client()
            .await?
            .query_opt(
                &format!(
                    "SELECT {PAGE_COLS} FROM bookmark_pages \
                     WHERE user_id = $1 AND bookmark_id = $2"
                ),
                &[&user, &bookmark],
            )
            .await?
        else {
            return Ok(None);
        };
        let hidden: String = r.try_get(7)?;
        let status: i64 = r.try_get(2)?;
        let score: f64 = r.try_get(9)?;
        Ok(Some(PageText {
            bookmark_id: r.try_get(0)?,
            final_url: r.try_get(1)?,
            status: u16::try_from(status)
                .map_err(|_| StoreError::BadData(format!("page status {status}")))?,
            title: r.try_get(3)?,
            description: r.try_get(4)?,
            text: r.try_get(5)?,
            truncated: r.try_get(6)?,
            hidden: hidden
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            flagged: r.try_get(8)?,
            #[allow(clippy::cast_possible_truncation)]
            score: score as f32,
            fetched_at: r.try_get(10)?,
        }))
    }
}
