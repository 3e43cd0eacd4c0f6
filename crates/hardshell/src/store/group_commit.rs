//! Group commit for message writes: inserts that arrive while the writer
//! is busy run together in one transaction, each inside its own savepoint,
//! and are answered after that transaction commits.
//!
//! Why: a commit re-encrypts and appends every page it touched (SQLCipher
//! AES plus HMAC per page) and flushes a new FTS5 segment. One post per
//! transaction spent most of the writer's time there, and the single
//! writer capped posting. In a batch, pages shared by the posts (the
//! messages leaf, the conversation row, the FTS index) are written once.
//!
//! Each job still sees all-or-nothing: its savepoint is rolled back when
//! it fails or refuses, and never affects another job. A job is answered
//! only after the commit (and after cached pages are forgotten), so a
//! caller never sees a success that was not stored. This module must never
//! hold a job's answer back past its batch, nor run anything but message
//! rows here (the credential and facts caches are not told).

use std::sync::{Arc, Mutex};

use rusqlite::Connection;
use tokio::sync::oneshot;

use super::chat::{Fail, Outcome};
use super::{Inner, StoreError};

/// Jobs per transaction at most; later ones wait for the next batch.
const MAX_BATCH: usize = 64;

/// A queued write: runs inside a savepoint, then learns whether its batch
/// committed.
trait Job: Send {
    /// Err: the savepoint itself failed, so the batch must not commit.
    fn run(&mut self, conn: &Connection) -> rusqlite::Result<()>;
    fn answer(self: Box<Self>, committed: bool);
}

struct Pending<T, F> {
    f: Option<F>,
    result: Option<Result<Outcome<T>, StoreError>>,
    reply: oneshot::Sender<Result<Outcome<T>, StoreError>>,
}

impl<T, F> Job for Pending<T, F>
where
    T: Send,
    F: FnOnce(&Connection) -> Result<T, Fail> + Send,
{
    fn run(&mut self, conn: &Connection) -> rusqlite::Result<()> {
        if let Some(f) = self.f.take() {
            self.result = Some(in_savepoint(conn, f)?);
        }
        Ok(())
    }

    fn answer(self: Box<Self>, committed: bool) {
        let out = match self.result {
            Some(r) if committed => r,
            // The batch did not commit: nothing of this job was stored.
            _ => Err(StoreError::TaskFailed),
        };
        let _ = self.reply.send(out);
    }
}

/// Runs `f` between `SAVEPOINT` and `RELEASE`; a refusal or fault rolls
/// back only what `f` did. The outer error is the savepoint's own.
fn in_savepoint<T>(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> Result<T, Fail>,
) -> rusqlite::Result<Result<Outcome<T>, StoreError>> {
    conn.execute_batch("SAVEPOINT job")?;
    let out = f(conn);
    if out.is_err() {
        conn.execute_batch("ROLLBACK TO job")?;
    }
    conn.execute_batch("RELEASE job")?;
    Ok(match out {
        Ok(v) => Ok(Ok(v)),
        Err(Fail::Reject(r)) => Ok(Err(r)),
        Err(Fail::Store(e)) => Err(e),
    })
}

#[derive(Default)]
struct Queue {
    jobs: Vec<Box<dyn Job>>,
    /// A drainer is running; new jobs only need to be queued.
    draining: bool,
}

/// The queue of message writes; one per open `Store`.
#[derive(Default)]
pub(crate) struct GroupCommit {
    queue: Mutex<Queue>,
}

/// Ends a drainer that panicked: `draining` is reset and the jobs still
/// queued are dropped, so their callers get an error, not a hang.
struct PanicGuard<'a>(&'a GroupCommit);

impl Drop for PanicGuard<'_> {
    fn drop(&mut self) {
        if std::thread::panicking()
            && let Ok(mut q) = self.0.queue.lock()
        {
            q.draining = false;
            q.jobs.clear();
        }
    }
}

impl GroupCommit {
    /// Queues a job; true if the caller must start a drainer.
    fn push(&self, job: Box<dyn Job>) -> Result<bool, StoreError> {
        let mut q = self.queue.lock().map_err(|_| StoreError::TaskFailed)?;
        q.jobs.push(job);
        Ok(!std::mem::replace(&mut q.draining, true))
    }

    /// The next batch, or `None` (and no longer draining) when empty.
    fn take_batch(&self) -> Option<Vec<Box<dyn Job>>> {
        let mut q = self.queue.lock().ok()?;
        if q.jobs.is_empty() {
            q.draining = false;
            return None;
        }
        let n = q.jobs.len().min(MAX_BATCH);
        Some(q.jobs.drain(..n).collect())
    }
}

/// Runs batches until the queue is empty. Blocking: runs on the blocking pool.
fn drain(inner: &Inner) {
    let _guard = PanicGuard(&inner.group_commit);
    while let Some(mut batch) = inner.group_commit.take_batch() {
        let committed = match inner.writer.lock() {
            Ok(conn) => run_batch(&conn, &mut batch),
            Err(_) => false,
        };
        // Answered only after the commit and after cached pages are gone.
        inner.chat_cache.bump_messages();
        for job in batch {
            job.answer(committed);
        }
    }
}

/// One transaction around every job's savepoint; true if it committed.
fn run_batch(conn: &Connection, batch: &mut [Box<dyn Job>]) -> bool {
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        tracing::error!(%e, "could not begin a message batch");
        return false;
    }
    for job in batch.iter_mut() {
        if let Err(e) = job.run(conn) {
            tracing::error!(%e, "a savepoint failed; the message batch is rolled back");
            let _ = conn.execute_batch("ROLLBACK");
            return false;
        }
    }
    match conn.execute_batch("COMMIT") {
        Ok(()) => true,
        Err(e) => {
            tracing::error!(%e, jobs = batch.len(), "a message batch did not commit");
            let _ = conn.execute_batch("ROLLBACK");
            false
        }
    }
}

/// Queues `f` for the next batch and waits for its answer.
pub(super) async fn write_grouped<T, F>(inner: &Arc<Inner>, f: F) -> Result<Outcome<T>, StoreError>
where
    T: Send + 'static,
    F: FnOnce(&Connection) -> Result<T, Fail> + Send + 'static,
{
    let (reply, answer) = oneshot::channel();
    let job = Box::new(Pending {
        f: Some(f),
        result: None,
        reply,
    });
    if inner.group_commit.push(job)? {
        let inner = Arc::clone(inner);
        tokio::task::spawn_blocking(move || drain(&inner));
    }
    answer.await.map_err(|_| StoreError::TaskFailed)?
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use rusqlite::Connection;

    use crate::store::chat::{Fail, Reject};
    use crate::store::{DbKey, Store, StoreError};

    async fn store_with_table() -> (tempfile::TempDir, Store) {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(&tmp.path().join("t.db"), DbKey::generate()).unwrap();
        store
            .write(|c| Ok(c.execute_batch("CREATE TABLE t (x INTEGER NOT NULL)")?))
            .await
            .unwrap();
        (tmp, store)
    }

    async fn values(store: &Store) -> Vec<i64> {
        store
            .read(|c| {
                let mut stmt = c.prepare("SELECT x FROM t ORDER BY x")?;
                let v = stmt
                    .query_map([], |r| r.get(0))?
                    .collect::<Result<_, _>>()?;
                Ok(v)
            })
            .await
            .unwrap()
    }

    fn insert(c: &Connection, x: i64) -> Result<(), Fail> {
        c.execute("INSERT INTO t (x) VALUES (?1)", [x])?;
        Ok(())
    }

    type Answer = Result<crate::store::chat::Outcome<()>, StoreError>;
    type Spawn = Box<dyn FnOnce(Store) -> tokio::task::JoinHandle<Answer>>;

    /// Starts `jobs` in order while the writer is held: the first is taken
    /// alone by the drainer (which then waits for the writer), the rest
    /// queue behind it and so share the next batch.
    async fn first_alone_then_one_batch(store: &Store, jobs: Vec<Spawn>) -> Vec<Answer> {
        let writer = store.inner.writer.lock().unwrap();
        let mut handles = Vec::new();
        for (i, spawn) in jobs.into_iter().enumerate() {
            handles.push(spawn(store.clone()));
            loop {
                let q = store.inner.group_commit.queue.lock().unwrap();
                if q.draining && q.jobs.len() == i {
                    break;
                }
                drop(q);
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        drop(writer);
        let mut out = Vec::new();
        for h in handles {
            out.push(h.await.unwrap());
        }
        out
    }

    fn job(f: impl FnOnce(&Connection) -> Result<(), Fail> + Send + 'static) -> Spawn {
        Box::new(move |s: Store| tokio::spawn(async move { s.write_message(f).await }))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writes_all_commit() {
        let (_tmp, store) = store_with_table().await;
        let jobs = (0..40)
            .map(|i| {
                let s = store.clone();
                tokio::spawn(async move { s.write_message(move |c| insert(c, i)).await })
            })
            .collect::<Vec<_>>();
        for j in jobs {
            assert!(matches!(j.await.unwrap(), Ok(Ok(()))));
        }
        assert_eq!(values(&store).await, (0..40).collect::<Vec<_>>());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_or_refused_job_leaves_no_trace_and_spares_its_batch() {
        let (_tmp, store) = store_with_table().await;
        let out = first_alone_then_one_batch(
            &store,
            vec![
                job(|c| insert(c, 1)),
                job(|c| {
                    insert(c, 2)?;
                    Err(Fail::Store(StoreError::NotFound))
                }),
                job(|c| insert(c, 3)),
                job(|c| {
                    insert(c, 4)?;
                    Err(Fail::Reject(Reject::BadReplyTo))
                }),
                job(|c| insert(c, 5)),
            ],
        )
        .await;
        assert!(matches!(out[0], Ok(Ok(()))));
        assert!(matches!(out[1], Err(StoreError::NotFound)));
        assert!(matches!(out[2], Ok(Ok(()))));
        assert!(matches!(out[3], Ok(Err(Reject::BadReplyTo))));
        assert!(matches!(out[4], Ok(Ok(()))));
        assert_eq!(values(&store).await, [1, 3, 5]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_job_hears_success_when_its_batch_does_not_commit() {
        let (_tmp, store) = store_with_table().await;
        let out = first_alone_then_one_batch(
            &store,
            vec![
                job(|c| insert(c, 1)),
                job(|c| insert(c, 2)),
                // Ending the shared transaction breaks every savepoint
                // after it: the batch must be rolled back whole.
                job(|c| {
                    c.execute_batch("ROLLBACK")?;
                    Ok(())
                }),
                job(|c| insert(c, 4)),
            ],
        )
        .await;
        assert!(matches!(out[0], Ok(Ok(()))));
        for (i, answer) in out.iter().enumerate().skip(1) {
            assert!(matches!(answer, Err(StoreError::TaskFailed)), "job {i}");
        }
        assert_eq!(values(&store).await, [1]);
        // The writer still works afterwards.
        assert!(matches!(
            store.write_message(|c| insert(c, 5)).await,
            Ok(Ok(()))
        ));
        assert_eq!(values(&store).await, [1, 5]);
    }
}
