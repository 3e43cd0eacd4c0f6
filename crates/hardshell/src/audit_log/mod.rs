//! The application's audit trail: one writer task that seals events into
//! the hash chain, plus verification, export and pruning.
//!
//! Every append in this process goes through the writer task (so appends
//! are batched and ordered); across processes, the store's `audit.lock`
//! keeps the CLI and the server from forking the chain. Emitting an event
//! is one line: `state.audit.record(Draft::new(actor, "x.y", outcome)...)`.
//! It never writes an entry unredacted: redaction happens inside sealing.

mod verify;

use std::sync::{Arc, RwLock};

use audit::{AnchorFile, AuditKey, ChainHead, Draft, Entry, Redactor};
use tokio::sync::{mpsc, oneshot};

use crate::config::DataDir;
use crate::store::audit::AnchorTarget;
use crate::store::{Store, StoreError};

pub use audit::VerifyReport;

/// Drafts taken from the queue per transaction.
const MAX_BATCH: usize = 512;
const QUEUE: usize = 4096;

#[derive(Debug, thiserror::Error)]
pub enum AuditLogError {
    #[error("the audit writer has stopped")]
    WriterGone,
    #[error("audit storage failed: {0}")]
    Store(#[from] StoreError),
}

struct Job {
    drafts: Vec<Draft>,
    done: oneshot::Sender<Result<ChainHead, String>>,
}

/// Shared key and redactor; the redactor is replaced when vault values change.
struct Sealer {
    key: AuditKey,
    redactor: RwLock<Arc<Redactor>>,
}

/// A cheap, cloneable handle to the writer task.
#[derive(Clone)]
pub struct AuditLog {
    tx: mpsc::Sender<Job>,
    sealer: Arc<Sealer>,
    store: Store,
    target: AnchorTarget,
}

impl AuditLog {
    /// Starts the writer task. `secrets` are the vault values to redact.
    pub fn start<I, S>(store: Store, dd: &DataDir, key: AuditKey, secrets: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str> + AsRef<[u8]>,
    {
        let sealer = Arc::new(Sealer {
            key,
            redactor: RwLock::new(Arc::new(Redactor::new(secrets))),
        });
        let target = AnchorTarget {
            anchor_path: dd.anchor_path(),
            lock_path: dd.audit_lock_path(),
        };
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(writer(
            rx,
            store.clone(),
            Arc::clone(&sealer),
            target.clone(),
        ));
        Self {
            tx,
            sealer,
            store,
            target,
        }
    }

    /// Appends one event and waits until it is durable. Callers on a
    /// security path fail closed when this fails.
    pub async fn record(&self, draft: Draft) -> Result<(), AuditLogError> {
        self.record_many(vec![draft]).await.map(|_| ())
    }

    /// Appends several events in order, in one transaction when possible.
    pub async fn record_many(&self, drafts: Vec<Draft>) -> Result<ChainHead, AuditLogError> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send(Job { drafts, done })
            .await
            .map_err(|_| AuditLogError::WriterGone)?;
        wait.await
            .map_err(|_| AuditLogError::WriterGone)?
            .map_err(|m| AuditLogError::Store(StoreError::Conflict(m)))
    }

    /// Replaces the set of vault values that are redacted from entries.
    pub fn set_secrets<I, S>(&self, secrets: I)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str> + AsRef<[u8]>,
    {
        if let Ok(mut slot) = self.sealer.redactor.write() {
            *slot = Arc::new(Redactor::new(secrets));
        }
    }

    /// Checks the whole chain and the anchor.
    pub async fn verify(&self) -> Result<VerifyReport, AuditLogError> {
        Ok(verify::verify(&self.store, &self.sealer.key, &self.target.anchor_path).await?)
    }

    /// Deletes entries older than `before` (RFC 3339), leaving a signed
    /// checkpoint so verification still passes.
    pub async fn prune(&self, before: String) -> Result<u64, AuditLogError> {
        let (seal, sign) = self.seal_fns();
        Ok(self
            .store
            .audit_prune(before, seal, self.target.clone(), sign)
            .await?)
    }

    fn seal_fns(
        &self,
    ) -> (
        impl Fn(&ChainHead, Draft) -> Entry + Send + 'static,
        impl FnOnce(&ChainHead) -> AnchorFile + Send + 'static,
    ) {
        seal_fns(&self.sealer)
    }
}

fn seal_fns(
    sealer: &Arc<Sealer>,
) -> (
    impl Fn(&ChainHead, Draft) -> Entry + Send + 'static,
    impl FnOnce(&ChainHead) -> AnchorFile + Send + 'static,
) {
    let redactor = sealer
        .redactor
        .read()
        .map(|r| Arc::clone(&r))
        .unwrap_or_else(|_| Arc::new(Redactor::without_secrets()));
    let for_seal = Arc::clone(sealer);
    let for_sign = Arc::clone(sealer);
    (
        move |head: &ChainHead, draft: Draft| {
            audit::seal_entry(&for_seal.key, head, draft, &redactor)
        },
        move |head: &ChainHead| AnchorFile::sign(&for_sign.key, head),
    )
}

async fn writer(
    mut rx: mpsc::Receiver<Job>,
    store: Store,
    sealer: Arc<Sealer>,
    target: AnchorTarget,
) {
    while let Some(first) = rx.recv().await {
        // Batch whatever else is already queued into the same transaction.
        let mut jobs = vec![first];
        let mut count = jobs[0].drafts.len();
        while count < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => {
                    count += job.drafts.len();
                    jobs.push(job);
                }
                Err(_) => break,
            }
        }
        let mut drafts = Vec::with_capacity(count);
        let mut replies = Vec::with_capacity(jobs.len());
        for job in jobs {
            drafts.extend(job.drafts);
            replies.push(job.done);
        }
        let (seal, sign) = seal_fns(&sealer);
        let result = store
            .audit_append(drafts, seal, target.clone(), sign)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "audit append failed");
                e.to_string()
            });
        for reply in replies {
            let _ = reply.send(result.clone());
        }
    }
}
