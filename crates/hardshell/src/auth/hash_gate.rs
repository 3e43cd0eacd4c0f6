//! Bounded password hashing.
//!
//! Argon2id at our parameters takes 64 MiB and a good part of a second of
//! one core, and logins are unauthenticated: without a bound, 100
//! concurrent logins for unknown users took the server from 22 MB to
//! 3.5 GB. Every password hash and verify runs through this gate: at most
//! `permits` at once, at most `queue` callers waiting, none waiting longer
//! than `max_wait`; the rest are told to come back later (`Busy`).
//!
//! The permit moves into the blocking task, so a caller that goes away
//! (a client that disconnects mid-login) cannot free its slot while its
//! hash still runs: the bound holds however requests are cancelled.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::Semaphore;

#[derive(Debug, thiserror::Error)]
pub enum HashGateError {
    #[error("too many password checks are running; try again shortly")]
    Busy,
    #[error("the password check failed")]
    Failed,
}

/// Makes the allocator hand large buffers (a password hash's 19 MiB) back
/// to the OS when they are freed. glibc otherwise raises its mmap
/// threshold after the first such buffer is freed and serves the next ones
/// from per-thread heaps that it keeps: a burst of sign-ins then left the
/// server hundreds of MiB larger for good (measured in
/// `bench/login_flood.py`). Setting the threshold fixes it at 1 MiB and turns
/// the dynamic adjustment off. Call once at start-up, before serving.
#[allow(unsafe_code)]
pub fn return_hash_buffers_to_the_os() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `mallopt` only changes a glibc allocator parameter; it takes
    // plain integers, touches no memory of ours, and is called before the
    // server's request handling starts (it is also safe to call while
    // other threads allocate: glibc serialises it). A failure (return 0)
    // leaves the default behaviour, which is correct, only larger.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

pub struct HashGate {
    permits: Arc<Semaphore>,
    waiting: AtomicUsize,
    queue: usize,
    max_wait: Duration,
}

/// Decrements the waiting count however the wait ends.
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl HashGate {
    pub fn new(permits: usize, queue: usize, max_wait: Duration) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(permits.max(1))),
            waiting: AtomicUsize::new(0),
            queue,
            max_wait,
        }
    }

    /// One hash at a time per two cores (at least one): the rest of the
    /// machine keeps serving, and hashing memory stays near
    /// `permits × 64 MiB` (Argon2id's working memory).
    pub fn for_this_machine() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Self::new((cores / 2).max(1), 32, Duration::from_secs(3))
    }

    /// Runs `work` (a hash or verify) on the blocking pool under the bound.
    pub async fn run<R, F>(&self, work: F) -> Result<R, HashGateError>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let permit = {
            let before = self.waiting.fetch_add(1, Ordering::AcqRel);
            let _waiting = Waiting(&self.waiting);
            if before >= self.queue {
                return Err(HashGateError::Busy);
            }
            tokio::time::timeout(self.max_wait, Arc::clone(&self.permits).acquire_owned())
                .await
                .map_err(|_| HashGateError::Busy)?
                .map_err(|_| HashGateError::Busy)?
        };
        tokio::task::spawn_blocking(move || {
            let out = work();
            drop(permit);
            out
        })
        .await
        .map_err(|_| HashGateError::Failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn never_more_than_the_permits_run_at_once() {
        let gate = Arc::new(HashGate::new(2, 100, Duration::from_secs(30)));
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..12 {
            let (gate, running, peak) = (gate.clone(), running.clone(), peak.clone());
            tasks.push(tokio::spawn(async move {
                gate.run(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(20));
                    running.fetch_sub(1, Ordering::SeqCst);
                })
                .await
            }));
        }
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        assert_eq!(peak.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_cancelled_caller_keeps_its_slot_until_the_work_ends() {
        let gate = Arc::new(HashGate::new(1, 100, Duration::from_millis(50)));
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let g = gate.clone();
        let first = tokio::spawn(async move {
            g.run(move || {
                started_tx.send(()).unwrap();
                release_rx.recv().unwrap();
            })
            .await
        });
        tokio::task::spawn_blocking(move || started_rx.recv().unwrap())
            .await
            .unwrap();
        // The caller goes away while its work still runs.
        first.abort();
        let second = gate.run(|| ()).await;
        assert!(matches!(second, Err(HashGateError::Busy)));
        release_tx.send(()).unwrap();
        // Once the work ends, the slot is free again.
        let mut freed = false;
        for _ in 0..100 {
            if gate.run(|| ()).await.is_ok() {
                freed = true;
                break;
            }
        }
        assert!(freed);
    }

    #[tokio::test]
    async fn a_full_queue_answers_busy_at_once() {
        let gate = Arc::new(HashGate::new(1, 0, Duration::from_secs(30)));
        assert!(matches!(gate.run(|| 1).await, Err(HashGateError::Busy)));
    }
}
