//! The bookmarks aggregate's interface (bookmarks, tags, import sessions),
//! implemented by the SQLCipher store (the inherent methods in
//! `bookmarks.rs`, delegated to below) and by `pg/bookmarks.rs`. It only
//! declares the contract; it holds no SQL.

use std::future::Future;

use super::bookmarks::{
    Bookmark, Creator, Filter, ImportSession, Insert, ItemError, NewBookmark, Patch, Stats,
    TagCount, Update,
};
use super::{Store, StoreError};

/// The bookmarks aggregate (bookmarks, tags, import sessions) as every
/// backend provides it: SQLCipher (`Store`) and PostgreSQL
/// (`pg::PgStore`). Every call is bound to `user`: another user's bookmark,
/// folder or session is simply not there. The conformance suite runs the
/// same cases against both; domain code keeps calling `Store`.
pub trait BookmarkStore: Send + Sync {
    /// Inserts one bookmark. `Duplicate(id)` when the user already has its
    /// normalised URL, also when two such inserts race (exactly one wins);
    /// `NoFolder` when the folder id is not the user's. Nothing is written
    /// unless `Inserted`.
    fn bookmark_insert(
        &self,
        user: i64,
        creator: Creator,
        b: NewBookmark,
    ) -> impl Future<Output = Result<Insert, StoreError>> + Send;
    /// Inserts many in one transaction, one outcome per input in order; an
    /// item fails alone (`duplicate: ...`, `no such folder`). Folder paths
    /// are found or made first. An open import session owned by
    /// `session_key` tallies the outcome.
    fn bookmarks_insert_many(
        &self,
        user: i64,
        creator: Creator,
        folder_paths: Vec<Vec<(String, Option<String>)>>,
        items: Vec<Result<NewBookmark, ItemError>>,
        session_key: Option<i64>,
    ) -> impl Future<Output = Result<Vec<Result<i64, ItemError>>, StoreError>> + Send;
    /// One of the user's bookmarks; `None` for anyone else's.
    fn bookmark_get(
        &self,
        user: i64,
        id: i64,
    ) -> impl Future<Output = Result<Option<Bookmark>, StoreError>> + Send;
    /// Applies a patch; `NotFound`, `Duplicate(other)` or `NoFolder` leave
    /// the row untouched. `updated_at` never goes backwards.
    fn bookmark_update(
        &self,
        user: i64,
        id: i64,
        p: Patch,
    ) -> impl Future<Output = Result<Update, StoreError>> + Send;
    /// Deletes one bookmark (its tags and page go with it); the deleted row.
    fn bookmark_delete(
        &self,
        user: i64,
        id: i64,
    ) -> impl Future<Output = Result<Option<Bookmark>, StoreError>> + Send;
    /// Up to `f.limit` bookmarks, newest (highest id) first, narrowed by `f`.
    fn bookmarks_list(
        &self,
        user: i64,
        f: Filter,
    ) -> impl Future<Output = Result<Vec<Bookmark>, StoreError>> + Send;
    /// Every bookmark of the user, oldest first.
    fn bookmarks_all(
        &self,
        user: i64,
    ) -> impl Future<Output = Result<Vec<Bookmark>, StoreError>> + Send;
    /// Tags with their counts, most used first, then by tag.
    fn bookmark_tags(
        &self,
        user: i64,
    ) -> impl Future<Output = Result<Vec<TagCount>, StoreError>> + Send;
    fn bookmark_stats(&self, user: i64) -> impl Future<Output = Result<Stats, StoreError>> + Send;
    /// Records a session for the user's agent key `key_public_id`; an
    /// unknown key (or another user's) is an error.
    fn import_session_create(
        &self,
        user: i64,
        key_public_id: String,
        expires_at: i64,
    ) -> impl Future<Output = Result<ImportSession, StoreError>> + Send;
    /// Closes a session and revokes its key in one transaction; closing
    /// twice answers the same summary; `None` when it is not the user's.
    fn import_session_close(
        &self,
        user: i64,
        public_id: String,
    ) -> impl Future<Output = Result<Option<ImportSession>, StoreError>> + Send;
}

impl BookmarkStore for Store {
    async fn bookmark_insert(
        &self,
        user: i64,
        creator: Creator,
        b: NewBookmark,
    ) -> Result<Insert, StoreError> {
        Store::bookmark_insert(self, user, creator, b).await
    }
    async fn bookmarks_insert_many(
        &self,
        user: i64,
        creator: Creator,
        folder_paths: Vec<Vec<(String, Option<String>)>>,
        items: Vec<Result<NewBookmark, ItemError>>,
        session_key: Option<i64>,
    ) -> Result<Vec<Result<i64, ItemError>>, StoreError> {
        Store::bookmarks_insert_many(self, user, creator, folder_paths, items, session_key).await
    }
    async fn bookmark_get(&self, user: i64, id: i64) -> Result<Option<Bookmark>, StoreError> {
        Store::bookmark_get(self, user, id).await
    }
    async fn bookmark_update(&self, user: i64, id: i64, p: Patch) -> Result<Update, StoreError> {
        Store::bookmark_update(self, user, id, p).await
    }
    async fn bookmark_delete(&self, user: i64, id: i64) -> Result<Option<Bookmark>, StoreError> {
        Store::bookmark_delete(self, user, id).await
    }
    async fn bookmarks_list(&self, user: i64, f: Filter) -> Result<Vec<Bookmark>, StoreError> {
        Store::bookmarks_list(self, user, f).await
    }
    async fn bookmarks_all(&self, user: i64) -> Result<Vec<Bookmark>, StoreError> {
        Store::bookmarks_all(self, user).await
    }
    async fn bookmark_tags(&self, user: i64) -> Result<Vec<TagCount>, StoreError> {
        Store::bookmark_tags(self, user).await
    }
    async fn bookmark_stats(&self, user: i64) -> Result<Stats, StoreError> {
        Store::bookmark_stats(self, user).await
    }
    async fn import_session_create(
        &self,
        user: i64,
        key_public_id: String,
        expires_at: i64,
    ) -> Result<ImportSession, StoreError> {
        Store::import_session_create(self, user, key_public_id, expires_at).await
    }
    async fn import_session_close(
        &self,
        user: i64,
        public_id: String,
    ) -> Result<Option<ImportSession>, StoreError> {
        Store::import_session_close(self, user, public_id).await
    }
}
