//! An in-memory cache of credential lookups (token hash → live session,
//! agent-key hash → key), so an authenticated request usually needs no
//! database round trip.
//!
//! Correctness rests on one generation counter, never on callers:
//! - every in-process write (`Store::write`) bumps it after its closure,
//!   i.e. after the commit, unless the write is declared credential-free
//!   (`Store::write_no_auth`, used only for message rows);
//! - a commit by another process (the CLI) changes the writer
//!   connection's `PRAGMA data_version`, which is checked before a cached
//!   answer is used, and bumps it too. The check takes SQLite's file locks
//!   (several `fcntl` calls), so one check stands for `OBSERVE_EVERY`
//!   (1 ms): a foreign commit is honoured at most that long after it. In
//!   -process writes are never delayed: they bump before they return;
//! - an entry is used only if it carries the current generation, and it is
//!   stamped with the generation read *before* its database lookup, so a
//!   lookup racing a revocation can never outlive it.
//!
//! Time-based validity (token, session and key expiry, web-session idle
//! limit) is re-checked on every hit from the cached values. This module
//! must never cache a refusal, and never hand out an entry when the
//! generation has gone unchecked for longer than `OBSERVE_EVERY` and
//! cannot be checked now (the writer is busy): the caller then reads the
//! database as before.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rusqlite::Connection;

use super::auth::{AgentKeyRow, SessionAuth, SessionKind, TokenHash};
use super::{Store, StoreError};

/// Entries kept at most; the map is emptied when it fills (cheap, and a
/// refill costs one lookup per live credential).
const MAX_ENTRIES: usize = 4096;
/// How long one `data_version` check vouches for the generation.
const OBSERVE_EVERY: Duration = Duration::from_millis(1);

/// A live session as found by one of its tokens.
#[derive(Clone, Debug)]
pub(crate) struct CachedSession {
    pub auth: SessionAuth,
    /// `cookie` or `access`: a hash is only good for the kind it was found as.
    pub token_kind: &'static str,
    /// The earliest of the token's, the session's and the agent key's expiry.
    pub valid_until: i64,
}

impl CachedSession {
    /// The cached answer to `session_by_token(kind, now, idle_secs)`, or
    /// `None` when the database must decide.
    fn answer(&self, kind: &str, now: i64, idle_secs: i64) -> Option<SessionAuth> {
        let idle_ok =
            self.auth.kind != SessionKind::Web || self.auth.last_seen_at + idle_secs > now;
        (self.token_kind == kind && now < self.valid_until && idle_ok).then(|| self.auth.clone())
    }
}

#[derive(Clone, Debug)]
enum Cached {
    Session(Arc<CachedSession>),
    AgentKey(Arc<AgentKeyRow>),
}

#[derive(Default)]
struct Entries {
    generation: u64,
    map: HashMap<TokenHash, Cached>,
}

/// The cache and its generation; one per open `Store`.
pub(crate) struct AuthCache {
    generation: AtomicU64,
    /// The writer connection's `data_version` when last checked; only
    /// read or written while holding the writer lock.
    data_version: AtomicI64,
    /// When `data_version` was last checked, in nanoseconds since `epoch`
    /// (0: never).
    observed_at: AtomicU64,
    epoch: Instant,
    entries: Mutex<Entries>,
    /// Counts writes that may have revoked a credential (and commits by
    /// another process, which may have). Live connections watch it and
    /// re-check their own credential at once, instead of at the next ping.
    revocations: tokio::sync::watch::Sender<u64>,
}

impl AuthCache {
    pub(crate) fn new(writer: &Connection) -> Result<Self, StoreError> {
        Ok(Self {
            generation: AtomicU64::new(1),
            data_version: AtomicI64::new(data_version(writer)?),
            observed_at: AtomicU64::new(0),
            epoch: Instant::now(),
            entries: Mutex::new(Entries::default()),
            revocations: tokio::sync::watch::Sender::new(0),
        })
    }

    /// Forgets everything cached so far. Called after each write.
    pub(crate) fn bump(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// Tells every watcher that a credential may have been revoked.
    pub(crate) fn note_revocation(&self) {
        self.revocations.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// The generation to stamp a lookup with; read before the lookup.
    fn stamp(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Compares the writer's `data_version` with the last one seen (the
    /// caller holds the writer lock) and bumps on a foreign commit.
    fn observe(&self, writer: &Connection) -> Result<(), StoreError> {
        let checked_at = self.nanos();
        let now = data_version(writer)?;
        if self.data_version.swap(now, Ordering::SeqCst) != now {
            self.bump();
            // Another process committed: it may have revoked something.
            self.note_revocation();
        }
        self.observed_at.store(checked_at.max(1), Ordering::SeqCst);
        Ok(())
    }

    /// True while the last `data_version` check still vouches.
    fn recently_observed(&self) -> bool {
        let at = self.observed_at.load(Ordering::SeqCst);
        at != 0 && self.nanos().saturating_sub(at) < OBSERVE_EVERY.as_nanos() as u64
    }

    fn nanos(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// The entry for `hash`; cloning it only counts a reference (the
    /// caller copies out what it answers with, once).
    fn get(&self, generation: u64, hash: &TokenHash) -> Option<Cached> {
        let entries = self.entries.lock().ok()?;
        if entries.generation != generation {
            return None;
        }
        entries.map.get(hash).cloned()
    }

    fn put(&self, stamp: u64, hash: TokenHash, value: Cached) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        if stamp != entries.generation {
            if stamp < entries.generation {
                // Looked up before a newer generation began: may be stale.
                return;
            }
            entries.map.clear();
            entries.generation = stamp;
        }
        if entries.map.len() >= MAX_ENTRIES {
            entries.map.clear();
        }
        entries.map.insert(hash, value);
    }
}

fn data_version(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn
        .prepare_cached("PRAGMA data_version")?
        .query_row([], |r| r.get(0))?)
}

impl Store {
    /// A receiver that changes after every write that may have revoked a
    /// credential, and after commits by other processes.
    pub fn revocation_notices(&self) -> tokio::sync::watch::Receiver<u64> {
        self.inner.auth_cache.revocations.subscribe()
    }

    /// Checks for commits by other processes (the CLI) now, so their
    /// revocations reach live connections even while no request comes in.
    ///
    /// When the writer is free (an idle server, every 500 ms) the check
    /// runs here: one `PRAGMA data_version`, as a request's cache check
    /// does. Only a busy writer sends it to the blocking pool to wait for
    /// the lock. Each blocking task resets an idle pool thread's keep-alive,
    /// so a check every 500 ms there kept threads that a load had started
    /// alive for good.
    pub async fn observe_foreign_commits(&self) -> Result<(), StoreError> {
        if let Ok(writer) = self.inner.writer.try_lock() {
            return self.inner.auth_cache.observe(&writer);
        }
        let inner = std::sync::Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            let writer = inner.writer.lock().map_err(|_| StoreError::TaskFailed)?;
            inner.auth_cache.observe(&writer)
        })
        .await
        .map_err(|_| StoreError::TaskFailed)?
    }

    /// Checks for foreign commits every `every` for as long as the store
    /// is open (the server calls this once), so a `hardshell users
    /// disable` from the shell closes that user's sockets within about
    /// that long even when no request arrives.
    pub fn watch_foreign_commits(&self, every: Duration) {
        let weak = std::sync::Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(inner) = weak.upgrade() else { return };
                let store = Store { inner };
                if let Err(e) = store.observe_foreign_commits().await {
                    tracing::warn!(error = %e, "checking for commits by other processes failed");
                }
            }
        });
    }

    /// The current generation after checking for commits by other
    /// processes (at most `OBSERVE_EVERY` ago), or `None` when that check
    /// would have to wait for the writer (then nothing cached may be used).
    pub(super) fn auth_generation(&self) -> Option<u64> {
        if self.inner.auth_cache.recently_observed() {
            return Some(self.inner.auth_cache.stamp());
        }
        let writer = self.inner.writer.try_lock().ok()?;
        self.inner.auth_cache.observe(&writer).ok()?;
        drop(writer);
        Some(self.inner.auth_cache.stamp())
    }

    /// The cached session for `hash`, if it may be used right now.
    pub(crate) fn cached_session(
        &self,
        hash: &TokenHash,
        kind: &str,
        now: i64,
        idle_secs: i64,
    ) -> Option<SessionAuth> {
        let generation = self.auth_generation()?;
        match self.inner.auth_cache.get(generation, hash)? {
            Cached::Session(s) => s.answer(kind, now, idle_secs),
            Cached::AgentKey(_) => None,
        }
    }

    /// The cached unrevoked agent key for `hash`, if it may be used now.
    pub(crate) fn cached_agent_key(&self, hash: &TokenHash) -> Option<AgentKeyRow> {
        let generation = self.auth_generation()?;
        match self.inner.auth_cache.get(generation, hash)? {
            Cached::AgentKey(k) => Some(AgentKeyRow::clone(&k)),
            Cached::Session(_) => None,
        }
    }

    /// The stamp for a database lookup that may be cached afterwards.
    pub(crate) fn auth_stamp(&self) -> u64 {
        self.inner.auth_cache.stamp()
    }

    pub(crate) fn cache_session(&self, stamp: u64, hash: TokenHash, s: CachedSession) {
        self.inner
            .auth_cache
            .put(stamp, hash, Cached::Session(Arc::new(s)));
    }

    pub(crate) fn cache_agent_key(&self, stamp: u64, hash: TokenHash, k: AgentKeyRow) {
        self.inner
            .auth_cache
            .put(stamp, hash, Cached::AgentKey(Arc::new(k)));
    }
}

#[cfg(test)]
mod tests {
    use super::OBSERVE_EVERY;
    use crate::auth::Role;
    use crate::auth::tokens::{SESSION_ABSOLUTE_SECS, SESSION_IDLE_SECS};
    use crate::store::auth::{NewSession, NewToken, SessionKind, SessionOwner};
    use crate::store::{DbKey, Store, open_connection};

    const IDLE: i64 = SESSION_IDLE_SECS;

    #[tokio::test]
    async fn cached_sessions_obey_time_kind_writes_and_other_connections() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("t.db");
        let key = DbKey::generate();
        let again = DbKey::parse(key.expose_hex()).unwrap();
        let store = Store::open(&path, key).unwrap();
        let user = store
            .user_create("u".into(), Role::Member, None)
            .await
            .unwrap();
        let now = crate::auth::now_secs();
        let hash = [7u8; 32];
        let token_expiry = now + 600;
        let (sid, _) = store
            .session_create(
                NewSession {
                    owner: SessionOwner::User(user.id),
                    kind: SessionKind::Web,
                    csrf_hash: Some([1u8; 32]),
                    expires_at: now + SESSION_ABSOLUTE_SECS,
                    ip: None,
                },
                vec![NewToken {
                    hash,
                    kind: "cookie",
                    expires_at: token_expiry,
                }],
            )
            .await
            .unwrap();
        let lookup = |t: i64| store.session_by_token(hash, "cookie", t, IDLE);
        assert!(store.cached_session(&hash, "cookie", now, IDLE).is_none());
        assert!(lookup(now).await.unwrap().is_some());
        // Warm now, with no write since.
        let hit = store.cached_session(&hash, "cookie", now, IDLE).unwrap();
        assert_eq!(hit.session_id, sid);
        // Time-based limits come from the cached values.
        assert!(store.cached_session(&hash, "access", now, IDLE).is_none());
        assert!(
            store
                .cached_session(&hash, "cookie", token_expiry, IDLE)
                .is_none()
        );
        let idle_out = now + IDLE;
        assert!(
            store
                .cached_session(&hash, "cookie", idle_out, IDLE)
                .is_none()
        );
        assert!(lookup(token_expiry).await.unwrap().is_none());
        assert!(lookup(idle_out).await.unwrap().is_none());
        assert!(lookup(now).await.unwrap().is_some());

        // A busy writer: once the last check is older than OBSERVE_EVERY
        // it cannot be renewed, so no hit.
        let busy = store.inner.writer.lock().unwrap();
        std::thread::sleep(OBSERVE_EVERY * 2);
        assert!(store.cached_session(&hash, "cookie", now, IDLE).is_none());
        drop(busy);
        assert!(store.cached_session(&hash, "cookie", now, IDLE).is_some());

        // Any in-process write forgets the cache.
        store.session_touch(sid, now).await.unwrap();
        assert!(store.cached_session(&hash, "cookie", now, IDLE).is_none());
        assert!(lookup(now).await.unwrap().is_some());
        assert!(store.cached_session(&hash, "cookie", now, IDLE).is_some());

        // A commit on another connection (another process) is seen once
        // the last check is OBSERVE_EVERY old.
        let other = open_connection(&path, &again).unwrap();
        other
            .execute(
                "UPDATE auth_sessions SET revoked_at = ?2 WHERE id = ?1",
                rusqlite::params![sid, now],
            )
            .unwrap();
        std::thread::sleep(OBSERVE_EVERY * 2);
        assert!(store.cached_session(&hash, "cookie", now, IDLE).is_none());
        assert!(lookup(now).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_lookup_stamped_before_a_write_is_never_cached_after_it() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(&tmp.path().join("t.db"), DbKey::generate()).unwrap();
        let user = store
            .user_create("u".into(), Role::Member, None)
            .await
            .unwrap();
        let now = crate::auth::now_secs();
        let hash = [8u8; 32];
        store
            .session_create(
                NewSession {
                    owner: SessionOwner::User(user.id),
                    kind: SessionKind::Token,
                    csrf_hash: None,
                    expires_at: now + 600,
                    ip: None,
                },
                vec![NewToken {
                    hash,
                    kind: "access",
                    expires_at: now + 600,
                }],
            )
            .await
            .unwrap();
        // Simulate a lookup that read the database before a revocation
        // committed and tries to cache its (stale) answer afterwards.
        let stamp = store.auth_stamp();
        let stale = store
            .session_lookup(hash, "access", now, IDLE)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(store.sessions_revoke_all(user.id).await.unwrap(), 1);
        store.cache_session(stamp, hash, stale);
        assert!(store.cached_session(&hash, "access", now, IDLE).is_none());
        assert!(
            store
                .session_by_token(hash, "access", now, IDLE)
                .await
                .unwrap()
                .is_none()
        );
    }
}
