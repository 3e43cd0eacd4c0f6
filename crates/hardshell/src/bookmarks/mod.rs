//! Bookmarks shared by people and agents: validation and
//! normalisation, listing and search, bulk writes with per-item outcomes,
//! folders, and import and export formats.
//!
//! Domain code only: no HTTP types and no SQL (that is `store::bookmarks`
//! and `store::bookmark_folders`). Everything is per user: callers pass the
//! user whose bookmarks these are (for an agent key, its creator) and who
//! is acting, and nothing here widens that. Text from a bookmark is data,
//! never markup: this module never produces HTML except the escaped
//! Netscape export.

pub mod export;
pub mod import;
mod netscape;
pub mod normalise;
pub mod page;

use serde::{Deserialize, Deserializer};
use utoipa::ToSchema;

use crate::store::bookmark_folders::{Folder, FolderDeleted, FolderPatch, FolderWrite};
use crate::store::bookmarks::{self as sb, FolderRef, Insert, ItemError, NewBookmark, Update};
pub use crate::store::bookmarks::{Bookmark, Creator, Stats, TagCount};
use crate::store::{Store, StoreError};
use normalise::FieldError;

/// Most items in one bulk request.
pub const MAX_BULK: usize = 1000;
/// Most bookmarks in one imported file.
pub const MAX_IMPORT: usize = 20_000;
pub const DEFAULT_PAGE: usize = 50;
pub const MAX_PAGE: usize = 200;

#[derive(Debug, thiserror::Error)]
pub enum BookmarkError {
    #[error("{0}")]
    Field(#[from] FieldError),
    #[error("that URL is already bookmarked (bookmark {0})")]
    Duplicate(i64),
    #[error("no such folder")]
    NoFolder,
    #[error("a folder cannot be moved inside itself")]
    Cycle,
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Query(String),
    #[error(transparent)]
    Import(#[from] import::ImportError),
    #[error(transparent)]
    Export(#[from] export::ExportError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Lets `Option<Option<T>>` tell a missing field (`None`) from `null`
/// (`Some(None)`).
fn present<'de, T: Deserialize<'de>, D: Deserializer<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

fn tag_list() -> utoipa::openapi::schema::Array {
    crate::web::openapi::string_list(normalise::MAX_TAGS, 0, normalise::MAX_TAG_CHARS, false)
}

fn tag_list_or_null() -> utoipa::openapi::schema::Array {
    crate::web::openapi::string_list(normalise::MAX_TAGS, 0, normalise::MAX_TAG_CHARS, true)
}

/// A new bookmark as a caller sends it.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Draft {
    /// http(s) only; at most 4096 bytes.
    #[schema(min_length = 1, max_length = 4096)]
    pub url: String,
    #[schema(max_length = 500)]
    pub title: Option<String>,
    #[schema(max_length = 10000)]
    pub description: Option<String>,
    /// At most 20 tags of at most 64 characters each (longer is refused).
    #[serde(default)]
    #[schema(schema_with = tag_list)]
    pub tags: Vec<String>,
    #[schema(minimum = 1, maximum = 9223372036854775807_i64)]
    pub folder_id: Option<i64>,
    #[serde(default)]
    pub starred: bool,
    #[serde(default)]
    pub archived: bool,
    /// `#rrggbb`.
    #[schema(max_length = 7, pattern = "^#[0-9A-Fa-f]{6}$")]
    pub color: Option<String>,
}

/// A change to a bookmark; missing fields stay, `null` clears
/// `folder_id` and `color`.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Changes {
    #[schema(min_length = 1, max_length = 4096)]
    pub url: Option<String>,
    #[schema(max_length = 500)]
    pub title: Option<String>,
    #[schema(max_length = 10000)]
    pub description: Option<String>,
    /// At most 20 tags of at most 64 characters each (longer is refused).
    #[schema(schema_with = tag_list_or_null)]
    pub tags: Option<Vec<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 9223372036854775807_i64)]
    pub folder_id: Option<Option<i64>>,
    pub starred: Option<bool>,
    pub archived: Option<bool>,
    /// `#rrggbb`.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 7, pattern = "^#[0-9A-Fa-f]{6}$")]
    pub color: Option<Option<String>>,
}

/// A new folder, or a change to one (same rules as `Changes`).
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FolderDraft {
    /// One line of 1 to 200 characters.
    #[schema(min_length = 1, max_length = 200)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 9223372036854775807_i64)]
    pub parent_id: Option<Option<i64>>,
    /// `#rrggbb`.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 7, pattern = "^#[0-9A-Fa-f]{6}$")]
    pub color: Option<Option<String>>,
}

/// What a list asks for.
#[derive(Clone, Debug, Default)]
pub struct ListQuery {
    pub starred: Option<bool>,
    pub archived: Option<bool>,
    /// `Some(None)`: top level only.
    pub folder: Option<Option<i64>>,
    pub tag: Option<String>,
    pub q: Option<String>,
    pub cursor: Option<i64>,
    pub limit: Option<usize>,
}

/// One page, and the cursor for the next (absent on the last page).
#[derive(Clone, Debug, serde::Serialize, ToSchema)]
pub struct Page {
    pub bookmarks: Vec<Bookmark>,
    pub next_cursor: Option<i64>,
}

/// The outcome of a bulk write: `imported + failed` is the input length.
#[derive(Clone, Debug, Default, serde::Serialize, ToSchema)]
pub struct BulkOutcome {
    pub imported: usize,
    pub failed: usize,
    pub errors: Vec<ItemError>,
    /// Ids of the bookmarks made, in input order.
    pub ids: Vec<i64>,
}

fn opt_color(c: Option<&str>) -> Result<Option<String>, FieldError> {
    c.map(normalise::color).transpose()
}

/// Checks and normalises a draft into what the store inserts.
pub fn validate(d: &Draft, folder: FolderRef, now: i64) -> Result<NewBookmark, FieldError> {
    let u = normalise::url(&d.url)?;
    Ok(NewBookmark {
        title: normalise::title(d.title.as_deref(), &u.url)?,
        description: normalise::description(d.description.as_deref())?,
        tags: normalise::tags(&d.tags)?,
        folder,
        starred: d.starred,
        archived: d.archived,
        color: opt_color(d.color.as_deref())?,
        created_at: now,
        updated_at: now,
        url: u.url,
        norm_url: u.norm,
    })
}

fn folder_ref(id: Option<i64>) -> FolderRef {
    id.map_or(FolderRef::Root, FolderRef::Id)
}

pub async fn create(
    store: &Store,
    user: i64,
    by: Creator,
    d: &Draft,
) -> Result<Bookmark, BookmarkError> {
    let new = validate(d, folder_ref(d.folder_id), crate::auth::now_secs())?;
    match store.bookmark_insert(user, by, new).await? {
        Insert::Inserted(b) => Ok(*b),
        Insert::Duplicate(id) => Err(BookmarkError::Duplicate(id)),
        Insert::NoFolder => Err(BookmarkError::NoFolder),
    }
}

pub async fn get(store: &Store, user: i64, id: i64) -> Result<Bookmark, BookmarkError> {
    store
        .bookmark_get(user, id)
        .await?
        .ok_or(BookmarkError::NotFound)
}

pub async fn update(
    store: &Store,
    user: i64,
    id: i64,
    c: &Changes,
) -> Result<Bookmark, BookmarkError> {
    let url = c.url.as_deref().map(normalise::url).transpose()?;
    let title = match (&c.title, &url) {
        (Some(t), Some(u)) => Some(normalise::title(Some(t), &u.url)?),
        (Some(t), None) => {
            let current = get(store, user, id).await?;
            Some(normalise::title(Some(t), &current.url)?)
        }
        (None, _) => None,
    };
    let patch = sb::Patch {
        url: url.map(|u| (u.url, u.norm)),
        title,
        description: c
            .description
            .as_deref()
            .map(|d| normalise::description(Some(d)))
            .transpose()?,
        tags: c.tags.as_deref().map(normalise::tags).transpose()?,
        folder_id: c.folder_id,
        starred: c.starred,
        archived: c.archived,
        color: c
            .color
            .as_ref()
            .map(|o| opt_color(o.as_deref()))
            .transpose()?,
        now: crate::auth::now_secs(),
    };
    match store.bookmark_update(user, id, patch).await? {
        Update::Updated(b) => Ok(*b),
        Update::NotFound => Err(BookmarkError::NotFound),
        Update::Duplicate(other) => Err(BookmarkError::Duplicate(other)),
        Update::NoFolder => Err(BookmarkError::NoFolder),
    }
}

/// Sets `starred` or `archived`.
pub async fn set_flag(
    store: &Store,
    user: i64,
    id: i64,
    starred: Option<bool>,
    archived: Option<bool>,
) -> Result<Bookmark, BookmarkError> {
    let c = Changes {
        starred,
        archived,
        ..Changes::default()
    };
    update(store, user, id, &c).await
}

pub async fn delete(store: &Store, user: i64, id: i64) -> Result<Bookmark, BookmarkError> {
    store
        .bookmark_delete(user, id)
        .await?
        .ok_or(BookmarkError::NotFound)
}

/// One page of bookmarks, newest first; `q` searches title, description,
/// URL and tags (every word must match).
pub async fn list(store: &Store, user: i64, q: ListQuery) -> Result<Page, BookmarkError> {
    let limit = q.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(BookmarkError::Query(format!(
            "limit must be 1..={MAX_PAGE}"
        )));
    }
    // Counted as sent (before trimming), like every limit.
    let search = match q.q.as_deref().filter(|s| !s.trim().is_empty()) {
        Some(text) => Some(
            crate::chat::search::SearchWords::parse(text)
                .map_err(|e| BookmarkError::Query(e.to_string()))?,
        ),
        None => None,
    };
    let tag = match q.tag.as_deref() {
        Some(t) => Some(
            normalise::tag(t)
                .map_err(|e| BookmarkError::Query(format!("tag: {e}")))?
                .ok_or_else(|| BookmarkError::Query("tag: empty".into()))?,
        ),
        None => None,
    };
    let mut bookmarks = store
        .bookmarks_list(
            user,
            sb::Filter {
                starred: q.starred,
                archived: q.archived,
                folder: q.folder,
                tag,
                search,
                before: q.cursor,
                limit: limit + 1,
            },
        )
        .await?;
    let next_cursor = if bookmarks.len() > limit {
        bookmarks.truncate(limit);
        bookmarks.last().map(|b| b.id)
    } else {
        None
    };
    Ok(Page {
        bookmarks,
        next_cursor,
    })
}

/// Writes many bookmarks; every item succeeds or fails on its own, and
/// duplicates within the batch and against the store are failures. Items
/// are raw JSON so that one malformed item fails alone.
pub async fn bulk(
    store: &Store,
    user: i64,
    by: Creator,
    items: Vec<serde_json::Value>,
    session_key: Option<i64>,
) -> Result<BulkOutcome, BookmarkError> {
    let now = crate::auth::now_secs();
    let prepared = items
        .into_iter()
        .enumerate()
        .map(|(index, v)| {
            let url = v
                .get("url")
                .and_then(|u| u.as_str())
                .unwrap_or_default()
                .to_string();
            let fail = |reason: String| ItemError {
                index,
                url: url.clone(),
                reason,
            };
            let d: Draft = serde_json::from_value(v).map_err(|e| fail(e.to_string()))?;
            validate(&d, folder_ref(d.folder_id), now).map_err(|e| fail(e.to_string()))
        })
        .collect();
    write_many(store, user, by, Vec::new(), prepared, session_key).await
}

/// The store call shared by bulk and import.
pub(crate) async fn write_many(
    store: &Store,
    user: i64,
    by: Creator,
    folders: Vec<Vec<(String, Option<String>)>>,
    items: Vec<Result<NewBookmark, ItemError>>,
    session_key: Option<i64>,
) -> Result<BulkOutcome, BookmarkError> {
    let results = store
        .bookmarks_insert_many(user, by, folders, items, session_key)
        .await?;
    let mut out = BulkOutcome::default();
    for r in results {
        match r {
            Ok(id) => {
                out.imported += 1;
                out.ids.push(id);
            }
            Err(e) => {
                out.failed += 1;
                out.errors.push(e);
            }
        }
    }
    Ok(out)
}

pub async fn tags(store: &Store, user: i64) -> Result<Vec<TagCount>, BookmarkError> {
    Ok(store.bookmark_tags(user).await?)
}

pub async fn stats(store: &Store, user: i64) -> Result<Stats, BookmarkError> {
    Ok(store.bookmark_stats(user).await?)
}

pub async fn folders(store: &Store, user: i64) -> Result<Vec<Folder>, BookmarkError> {
    Ok(store.folders_list(user).await?)
}

fn folder_result(w: FolderWrite) -> Result<Folder, BookmarkError> {
    match w {
        FolderWrite::Done(f) => Ok(f),
        FolderWrite::NotFound => Err(BookmarkError::NotFound),
        FolderWrite::NoParent => Err(BookmarkError::NoFolder),
        FolderWrite::Cycle => Err(BookmarkError::Cycle),
    }
}

pub async fn folder_create(
    store: &Store,
    user: i64,
    d: &FolderDraft,
) -> Result<Folder, BookmarkError> {
    let name = normalise::folder_name(d.name.as_deref().unwrap_or_default())?;
    let color = opt_color(d.color.clone().flatten().as_deref())?;
    folder_result(
        store
            .folder_create(user, name, d.parent_id.flatten(), color)
            .await?,
    )
}

pub async fn folder_update(
    store: &Store,
    user: i64,
    id: i64,
    d: &FolderDraft,
) -> Result<Folder, BookmarkError> {
    let patch = FolderPatch {
        name: d.name.as_deref().map(normalise::folder_name).transpose()?,
        parent_id: d.parent_id,
        color: d
            .color
            .as_ref()
            .map(|o| opt_color(o.as_deref()))
            .transpose()?,
        now: crate::auth::now_secs(),
    };
    folder_result(store.folder_update(user, id, patch).await?)
}

/// Deletes a folder; its bookmarks and subfolders move to its parent.
pub async fn folder_delete(
    store: &Store,
    user: i64,
    id: i64,
) -> Result<FolderDeleted, BookmarkError> {
    store
        .folder_delete(user, id)
        .await?
        .ok_or(BookmarkError::NotFound)
}

/// Which export format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    Json,
    Netscape,
    Csv,
}

impl ExportFormat {
    pub fn parse(s: &str) -> Option<ExportFormat> {
        match s {
            "json" => Some(ExportFormat::Json),
            "netscape" | "html" => Some(ExportFormat::Netscape),
            "csv" => Some(ExportFormat::Csv),
            _ => None,
        }
    }

    /// The media type and file name of a download.
    pub fn media(self) -> (&'static str, &'static str) {
        match self {
            ExportFormat::Json => ("application/json", "bookmarks.json"),
            ExportFormat::Netscape => ("text/html; charset=utf-8", "bookmarks.html"),
            ExportFormat::Csv => ("text/csv; charset=utf-8", "bookmarks.csv"),
        }
    }
}

/// Every bookmark and folder of the user in one format.
pub async fn export(
    store: &Store,
    user: i64,
    format: ExportFormat,
) -> Result<Vec<u8>, BookmarkError> {
    let folders = store.folders_list(user).await?;
    let bookmarks = store.bookmarks_all(user).await?;
    Ok(match format {
        ExportFormat::Json => export::json(&folders, &bookmarks, crate::auth::now_secs())?,
        ExportFormat::Netscape => export::netscape(&folders, &bookmarks),
        ExportFormat::Csv => export::csv(&folders, &bookmarks)?,
    })
}

/// Imports a file: a malformed file is an error; otherwise every bookmark
/// succeeds or fails on its own, like `bulk`.
pub async fn import_file(
    store: &Store,
    user: i64,
    by: Creator,
    format: import::Format,
    text: &str,
    session_key: Option<i64>,
) -> Result<BulkOutcome, BookmarkError> {
    let parsed = import::parse(format, text)?;
    let now = crate::auth::now_secs();
    let items = import::validate_all(&parsed.items, now);
    let folders = import::valid_folders(&parsed.folders);
    write_many(store, user, by, folders, items, session_key).await
}
