//! SQL for `bookmark_pages`: the text last fetched from a bookmark's page.
//!
//! Bound to one user like every bookmark statement: a page is saved or
//! read only for a bookmark the user owns. Values arrive already read,
//! split and scanned by `crate::bookmarks::page`; this module never judges
//! them. `BookmarkPageStore` is the contract both backends keep.

use rusqlite::{OptionalExtension, Row, params};
use serde::Serialize;
use utoipa::ToSchema;

use super::bookmarks::by_id;
use super::{Store, StoreError};

/// What a fetch read from a bookmark's page.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct PageText {
    pub bookmark_id: i64,
    /// The URL of the last hop (after redirects).
    pub final_url: String,
    pub status: u16,
    /// The page's `<title>` (or `og:title`), plain text.
    pub title: String,
    /// The page's meta description, plain text.
    pub description: String,
    /// The text a reader sees; hidden passages are withheld.
    pub text: String,
    /// The text was cut at the stored limit.
    pub truncated: bool,
    /// The kinds of hidden carriers withheld (`html_comment`, `display_none`…).
    pub hidden: Vec<String>,
    /// The injection scanner flagged the page (hidden text weighs double).
    pub flagged: bool,
    pub score: f32,
    pub fetched_at: i64,
}

fn from_row(r: &Row<'_>) -> rusqlite::Result<PageText> {
    let hidden: String = r.get(7)?;
    let score: f64 = r.get(9)?;
    Ok(PageText {
        bookmark_id: r.get(0)?,
        final_url: r.get(1)?,
        status: r.get(2)?,
        title: r.get(3)?,
        description: r.get(4)?,
        text: r.get(5)?,
        truncated: r.get(6)?,
        hidden: hidden
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        flagged: r.get(8)?,
        #[allow(clippy::cast_possible_truncation)]
        score: score as f32,
        fetched_at: r.get(10)?,
    })
}

const COLS: &str = "bookmark_id, final_url, status, title, description, text, truncated, \
     hidden, flagged, score, fetched_at";

/// Fields of the bookmark a fetch may fill when they are still empty.
#[derive(Clone, Debug, Default)]
pub struct Fill {
    /// Becomes the title when the title is still the bookmark's URL.
    pub title: Option<String>,
    /// Becomes the description when it is empty.
    pub description: Option<String>,
}

/// Saved page text as every backend provides it (SQLCipher `Store`,
/// PostgreSQL `pg::PgStore`).
pub trait BookmarkPageStore: Send + Sync {
    /// Saves (replaces) the page of one of the user's bookmarks; fills the
    /// title when it is still the URL and the description when empty;
    /// `false` when the bookmark is not the user's.
    fn bookmark_page_save(
        &self,
        user: i64,
        page: PageText,
        fill: Fill,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// The saved page of one of the user's bookmarks, if any.
    fn bookmark_page(
        &self,
        user: i64,
        bookmark: i64,
    ) -> impl Future<Output = Result<Option<PageText>, StoreError>> + Send;
}

impl BookmarkPageStore for Store {
    async fn bookmark_page_save(
        &self,
        user: i64,
        page: PageText,
        fill: Fill,
    ) -> Result<bool, StoreError> {
        Store::bookmark_page_save(self, user, page, fill).await
    }
    async fn bookmark_page(
        &self,
        user: i64,
        bookmark: i64,
    ) -> Result<Option<PageText>, StoreError> {
        Store::bookmark_page(self, user, bookmark).await
    }
}

impl Store {
    /// Saves (replaces) the page of one of the user's bookmarks and fills
    /// its empty title and description; `false` when the bookmark is not
    /// the user's (or is gone).
    pub async fn bookmark_page_save(
        &self,
        user: i64,
        page: PageText,
        fill: Fill,
    ) -> Result<bool, StoreError> {
        self.write(move |conn| {
            let tx = conn.transaction()?;
            let Some(b) = by_id(&tx, user, page.bookmark_id)? else {
                return Ok(false);
            };
            tx.execute(
                &format!(
                    "INSERT OR REPLACE INTO bookmark_pages ({COLS}, user_id) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
                ),
                params![
                    page.bookmark_id,
                    page.final_url,
                    page.status,
                    page.title,
                    page.description,
                    page.text,
                    page.truncated,
                    page.hidden.join(","),
                    page.flagged,
                    f64::from(page.score),
                    page.fetched_at,
                    user
                ],
            )?;
            let title = fill.title.filter(|_| b.title == b.url);
            let description = fill.description.filter(|_| b.description.is_empty());
            if title.is_some() || description.is_some() {
                tx.execute(
                    "UPDATE bookmarks SET title = IFNULL(?3, title), \
                     description = IFNULL(?4, description), updated_at = MAX(updated_at, ?5) \
                     WHERE user_id = ?1 AND id = ?2",
                    params![user, page.bookmark_id, title, description, page.fetched_at],
                )?;
            }
            tx.commit()?;
            Ok(true)
        })
        .await
    }

    /// The saved page of one of the user's bookmarks, if it was fetched.
    pub async fn bookmark_page(
        &self,
        user: i64,
        bookmark: i64,
    ) -> Result<Option<PageText>, StoreError> {
        self.read(move |conn| {
            Ok(conn
                .prepare_cached(&format!(
                    "SELECT {COLS} FROM bookmark_pages WHERE user_id = ?1 AND bookmark_id = ?2"
                ))?
                .query_row(params![user, bookmark], from_row)
                .optional()?)
        })
        .await
    }
}
