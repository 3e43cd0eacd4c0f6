//! The encrypted database (SQLCipher through rusqlite) and every SQL
//! statement the application runs.
//!
//! Only this module writes SQL. Domain code calls the typed methods in the
//! submodules; the raw connection never leaves `store`. A single writer
//! connection serialises writes inside the process; SQLite's own locking
//! (WAL, busy timeout) serialises them across processes (CLI and server).

pub mod agents;
pub mod approvals;
pub mod audit;
pub mod auth;
mod auth_cache;
pub mod bookmark_folders;
pub mod bookmark_pages;
mod bookmark_store;
pub mod bookmarks;
mod bookmarks_schema;
pub mod channel_groups;
pub mod channels;
pub mod channels_deferred;
pub mod channels_media;
mod channels_schema;
pub mod chat;
pub mod chat_cache;
pub mod chat_conversations;
pub mod chat_messages;
pub mod console;
pub mod credentials;
pub mod doctor;
pub mod encrypt;
mod group_commit;
pub mod key;
pub mod knowledge;
pub mod memories;
mod memory_schema;
mod migrations;
pub mod pg;
pub mod snapshot;
pub mod tool_rules;
mod tools_schema;
pub mod trust;
pub mod uploads;
pub mod user_data;
pub mod users;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

pub use key::DbKey;

/// SQLite files start with this; SQLCipher files are random bytes.
pub const PLAINTEXT_MAGIC: &[u8; 16] = b"SQLite format 3\0";
/// Read connections kept open; enough to keep both cores of a small
/// machine busy while some readers wait on I/O.
const READER_POOL: usize = 8;
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the database key is wrong, or the database file is damaged")]
    WrongKeyOrCorrupt,
    #[error("the database key in the vault is malformed")]
    BadKeyFormat,
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("database migration failed: {0}")]
    Migration(#[from] rusqlite_migration::Error),
    #[error("database file {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("a background database task failed")]
    TaskFailed,
    #[error("not found")]
    NotFound,
    #[error("conflict: {0}")]
    Conflict(String),
    /// A PostgreSQL error the server reported (a lost connection becomes
    /// `Unavailable` instead: see the `From` impl).
    #[error("PostgreSQL: {0}")]
    Postgres(tokio_postgres::Error),
    /// The database server cannot be reached now (down, restarting, pool
    /// exhausted past its wait); the API answers 503 and the caller may
    /// retry.
    #[error("the database server is unavailable: {0}")]
    Unavailable(String),
    #[error("unexpected data in the database: {0}")]
    BadData(String),
    #[error("PostgreSQL settings: {0}")]
    PgConfig(String),
    #[error("PostgreSQL migration failed: {0}")]
    PgMigration(String),
    #[error(
        "the database schema is at version {found}, newer than this build knows ({known}); \
         run the newer hardshell"
    )]
    SchemaTooNew { found: i64, known: i64 },
}

/// What every method of an aggregate interface returns: a `Send` future
/// of a store result (the interfaces are traits over both backends).
pub trait Fut<T>: std::future::Future<Output = Result<T, StoreError>> + Send {}
impl<T, F: std::future::Future<Output = Result<T, StoreError>> + Send> Fut<T> for F {}

/// `?` on a PostgreSQL call classifies the error: a lost or refused
/// connection is `Unavailable` (503), anything else `Postgres`.
impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        pg::pg_error(e)
    }
}

impl StoreError {
    fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.display().to_string(),
            source,
        }
    }
}

struct Inner {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: ReaderPool,
    key: DbKey,
    auth_cache: auth_cache::AuthCache,
    chat_cache: chat_cache::ChatCache,
    group_commit: group_commit::GroupCommit,
    /// Pairing requests opened and decided; the owner's live notice
    /// listens.
    pairing_changes: tokio::sync::broadcast::Sender<channels::PairingChange>,
}

/// A read connection on loan; it goes back to the pool even if the
/// closure using it panics, so the pool never shrinks.
struct Pooled<'a> {
    pool: &'a ReaderPool,
    conn: Option<Connection>,
}

impl Drop for Pooled<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.pool.give_back(conn);
        }
    }
}

/// A bounded pool of read connections. A reader waits for an idle
/// connection rather than opening a throwaway one: opening a SQLCipher
/// connection (key, probe, schema load) costs far more than a query, so
/// under load a churning pool was the read path's main cost.
struct ReaderPool {
    /// Idle connections, and how many exist in all.
    state: Mutex<(Vec<Connection>, usize)>,
    returned: Condvar,
}

impl ReaderPool {
    fn new() -> Self {
        Self {
            state: Mutex::new((Vec::new(), 0)),
            returned: Condvar::new(),
        }
    }

    /// An idle connection, a new one while under the cap, or the next one
    /// returned.
    fn take(&self, path: &Path, key: &DbKey) -> Result<Connection, StoreError> {
        let mut state = self.state.lock().map_err(|_| StoreError::TaskFailed)?;
        loop {
            if let Some(conn) = state.0.pop() {
                return Ok(conn);
            }
            if state.1 < READER_POOL {
                state.1 += 1;
                drop(state);
                return open_connection(path, key).inspect_err(|_| self.forget());
            }
            state = self
                .returned
                .wait(state)
                .map_err(|_| StoreError::TaskFailed)?;
        }
    }

    fn give_back(&self, conn: Connection) {
        if let Ok(mut state) = self.state.lock() {
            state.0.push(conn);
            self.returned.notify_one();
        }
    }

    /// A connection that failed to open frees its slot.
    fn forget(&self) {
        if let Ok(mut state) = self.state.lock() {
            state.1 = state.1.saturating_sub(1);
            self.returned.notify_one();
        }
    }
}

/// A handle to the open database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.inner.path)
            .finish()
    }
}

impl Store {
    /// Opens (creating if missing) the database at `path` with `key`,
    /// migrating a plaintext SQLite file to SQLCipher first (keeping a
    /// backup), then bringing the schema up to date.
    pub fn open(path: &Path, key: DbKey) -> Result<Self, StoreError> {
        if !path.exists() {
            // Created 0600 before SQLite sees it; SQLite gives -wal/-shm the
            // same mode as the main file.
            crate::config::datadir::create_private_file(path)
                .map_err(|e| StoreError::io(path, e))?;
        } else if encrypt::is_plaintext(path)? {
            let backup = encrypt::migrate_plaintext(path, &key)?;
            tracing::warn!(
                backup = %backup.display(),
                "migrated a plaintext database to an encrypted one; the plaintext backup is kept until you delete it"
            );
        }
        let mut writer = open_connection(path, &key)?;
        migrations::migrations().to_latest(&mut writer)?;
        let auth_cache = auth_cache::AuthCache::new(&writer)?;
        Ok(Self {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                writer: Mutex::new(writer),
                readers: ReaderPool::new(),
                key,
                auth_cache,
                chat_cache: chat_cache::ChatCache::default(),
                group_commit: group_commit::GroupCommit::default(),
                pairing_changes: tokio::sync::broadcast::Sender::new(64),
            }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `f` on the writer connection on the blocking pool. Afterwards
    /// (after its commit) every cached credential is forgotten, so a write
    /// that revokes anything takes effect on the next request.
    async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.write_inner(true, f).await
    }

    /// Like `write`, for a write that may revoke a credential (a session,
    /// a token, a key, a user's role or account): once it is done, every
    /// live connection is told to re-check its own credential.
    async fn write_revoking<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let out = self.write_inner(true, f).await;
        self.inner.auth_cache.note_revocation();
        out
    }

    /// Like `write`, for writes that change only message rows (never
    /// users, sessions, tokens, keys, conversations, members or agents):
    /// these keep the credential cache and the conversation facts, and
    /// forget only cached history pages. When in doubt, use `write`.
    async fn write_no_auth<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.write_inner(false, f).await
    }

    /// One message write (insert) in a group commit: it runs in its own
    /// savepoint inside a transaction shared with the writes queued
    /// meanwhile, and returns once that transaction has committed. Like
    /// `write_no_auth`, only for message rows.
    async fn write_message<T, F>(&self, f: F) -> Result<chat::Outcome<T>, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, chat::Fail> + Send + 'static,
    {
        group_commit::write_grouped(&self.inner, f).await
    }

    async fn write_inner<T, F>(&self, forget_credentials: bool, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            let mut conn = inner.writer.lock().map_err(|_| StoreError::TaskFailed)?;
            let out = f(&mut conn);
            // Even after an error: a partial effect is possible. The
            // credential generation also covers every cached chat fact.
            if forget_credentials {
                inner.auth_cache.bump();
            } else {
                inner.chat_cache.bump_messages();
            }
            out
        })
        .await
        .map_err(|_| StoreError::TaskFailed)?
    }

    /// Runs `f` on a pooled read connection on the blocking pool.
    async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            let conn = Pooled {
                pool: &inner.readers,
                conn: Some(inner.readers.take(&inner.path, &inner.key)?),
            };
            match &conn.conn {
                Some(c) => f(c),
                None => Err(StoreError::TaskFailed),
            }
        })
        .await
        .map_err(|_| StoreError::TaskFailed)?
    }

    /// Checkpoints the WAL into the main file so a clean stop leaves one file.
    pub async fn close(self) -> Result<(), StoreError> {
        self.write(|conn| {
            conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?;
            Ok(())
        })
        .await
    }

    /// Row counts per table, for `db rekey` and tests that must show no row
    /// was lost.
    pub async fn table_counts(&self) -> Result<Vec<(String, i64)>, StoreError> {
        self.read(table_counts).await
    }
}

pub(crate) fn table_counts(conn: &Connection) -> Result<Vec<(String, i64)>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
    )?;
    let names: Vec<String> = stmt
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        // Names come from sqlite_master, quoted as identifiers.
        let n: i64 = conn.query_row(
            &format!("SELECT count(*) FROM \"{}\"", name.replace('"', "\"\"")),
            [],
            |r| r.get(0),
        )?;
        out.push((name, n));
    }
    Ok(out)
}

/// Opens one connection: key first, then a probe that fails on a wrong key,
/// then the connection settings.
pub(crate) fn open_connection(path: &Path, key: &DbKey) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    // SQLCipher otherwise prints its own errors (a wrong key) to stderr,
    // around our log redaction; we report them ourselves.
    conn.execute_batch("PRAGMA cipher_log_level = NONE;")?;
    key.apply(&conn)?;
    probe(&conn)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // Room for every hot statement of every route, so cached statements
    // are not evicted by each other under mixed load.
    conn.set_prepared_statement_cache_capacity(64);
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::warn!(%mode, "database is not in WAL mode");
    }
    conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;")?;
    Ok(conn)
}

/// The first read after `PRAGMA key` is what reveals a wrong key.
fn probe(conn: &Connection) -> Result<(), StoreError> {
    match conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
        r.get::<_, i64>(0)
    }) {
        Ok(_) => Ok(()),
        Err(rusqlite::Error::SqliteFailure(e, _))
            if e.code == rusqlite::ErrorCode::NotADatabase =>
        {
            Err(StoreError::WrongKeyOrCorrupt)
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn database_file_is_encrypted_and_private() {
        use std::os::unix::fs::MetadataExt;
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("hardshell.db");
        let store = Store::open(&path, DbKey::generate()).unwrap();
        assert!(!store.owner_exists().await.unwrap());
        store.close().await.unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert!(bytes.len() > 16);
        assert_ne!(&bytes[..16], PLAINTEXT_MAGIC);
        assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o777, 0o600);
    }

    #[test]
    fn wrong_key_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("hardshell.db");
        let key = DbKey::generate();
        let again = DbKey::parse(key.expose_hex()).unwrap();
        drop(Store::open(&path, key).unwrap());
        assert!(matches!(
            Store::open(&path, DbKey::generate()),
            Err(StoreError::WrongKeyOrCorrupt)
        ));
        Store::open(&path, again).unwrap();
    }
}
