//! The application's audit trail: one writer task that seals events into
//! the hash chain, plus verification, export, pruning and acceptance.
//!
//! Every append in this process goes through the writer task (so appends
//! are batched and ordered); across processes, the store's `audit.lock`
//! keeps the CLI and the server from forking the chain. Before each batch,
//! under that lock, the chain's end is checked against every anchor (see
//! `anchors`): a writer never appends past a break, and only `accept`
//! (the audited way forward after an intended restore) re-anchors one.
//! Emitting an event is one line:
//! `state.audit.record(Draft::new(actor, "x.y", outcome)...)`. It never
//! writes an entry unredacted: redaction happens inside sealing.

pub mod anchors;
mod verify;

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use audit::{Actor, AuditKey, ChainHead, Draft, Entry, Finding, Outcome, Redactor};
use serde_json::json;
use tokio::sync::{mpsc, oneshot};

use crate::store::audit::AppendGuard;
use crate::store::{Store, StoreError};

pub use anchors::{AnchorPlaceError, AnchorPlaces, Anchors, OutsideAnchorStatus};
pub use audit::VerifyReport;

/// Drafts taken from the queue per transaction.
const MAX_BATCH: usize = 512;
const QUEUE: usize = 4096;
/// Longest `audit accept --reason`, in characters.
const MAX_REASON: usize = 500;

#[derive(Debug, thiserror::Error)]
pub enum AuditLogError {
    #[error("the audit writer has stopped")]
    WriterGone,
    #[error("audit storage failed: {0}")]
    Store(#[from] StoreError),
    #[error("{}", refusal_message(.0))]
    Refused(Finding),
    #[error("the reason must be 1 to {MAX_REASON} characters without control characters")]
    BadReason,
}

/// What a refused writer says: what it found, and the ways forward.
pub fn refusal_message(f: &Finding) -> String {
    format!(
        "refusing to write to the audit log: {} at seq {}: {}. Nothing was written. \
         If this state is intended (you restored the data directory), accept it with \
         `hardshell audit accept --reason \"...\"`, which records the acceptance in the \
         log; otherwise restore the data directory from a copy taken before the break, \
         and see `hardshell audit verify`.",
        f.brk.kind.as_str(),
        f.brk.seq,
        f.detail
    )
}

/// Why a batch was not written, as every waiting caller receives it.
#[derive(Clone)]
enum Failure {
    Refused(Finding),
    Store(String),
}

impl From<Failure> for AuditLogError {
    fn from(f: Failure) -> Self {
        match f {
            Failure::Refused(finding) => Self::Refused(finding),
            Failure::Store(m) => Self::Store(StoreError::Conflict(m)),
        }
    }
}

struct Job {
    drafts: Vec<Draft>,
    done: oneshot::Sender<Result<ChainHead, Failure>>,
}

/// Shared key and redactor; the redactor is replaced when vault values change.
struct Sealer {
    key: AuditKey,
    redactor: RwLock<Arc<Redactor>>,
}

/// Everything an append needs besides the drafts.
#[derive(Clone)]
struct Target {
    store: Store,
    lock_path: PathBuf,
    anchors: Arc<Anchors>,
}

impl Target {
    fn guard(&self) -> Arc<dyn AppendGuard> {
        Arc::clone(&self.anchors) as Arc<dyn AppendGuard>
    }
}

/// A cheap, cloneable handle to the writer task.
#[derive(Clone)]
pub struct AuditLog {
    tx: mpsc::Sender<Job>,
    sealer: Arc<Sealer>,
    target: Target,
}

impl AuditLog {
    /// Starts the writer task. `lock_path` is the data directory's
    /// `audit.lock`; `secrets` are the vault values to redact.
    pub fn start<I, S>(
        store: Store,
        lock_path: PathBuf,
        places: AnchorPlaces,
        key: AuditKey,
        secrets: I,
    ) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str> + AsRef<[u8]>,
    {
        let anchors = Arc::new(Anchors::new(places, key.clone()));
        let sealer = Arc::new(Sealer {
            key,
            redactor: RwLock::new(Arc::new(Redactor::new(secrets))),
        });
        let target = Target {
            store,
            lock_path,
            anchors,
        };
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(writer(rx, Arc::clone(&sealer), target.clone()));
        Self { tx, sealer, target }
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
        Ok(wait.await.map_err(|_| AuditLogError::WriterGone)??)
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

    /// The check every append runs, on its own: `serve` calls it before
    /// anything else, so a broken chain stops the start with the reason.
    /// Reads only.
    pub async fn check(&self) -> Result<(), AuditLogError> {
        let anchors = Arc::clone(&self.target.anchors);
        let found = self
            .target
            .store
            .audit_read(move |chain| anchors.find_break(&anchors.read_all(), chain))
            .await?;
        match found {
            Some(f) => Err(AuditLogError::Refused(f)),
            None => Ok(()),
        }
    }

    /// Checks the whole chain and every anchor. Reads only: it never
    /// appends or re-signs anything.
    pub async fn verify(&self) -> Result<VerifyReport, AuditLogError> {
        Ok(verify::verify(
            &self.target.store,
            &self.sealer.key,
            self.target.anchors.read_all(),
        )
        .await?)
    }

    /// `audit accept`: the one audited way past a break. Appends an
    /// `audit.accept` entry naming every anchor as it was, what the check
    /// found, and the head being accepted, and only then re-anchors on the
    /// new head. `backup restore` calls this too.
    pub async fn accept(&self, actor: Actor, reason: &str) -> Result<ChainHead, AuditLogError> {
        let sent = reason.chars().count();
        let reason = reason.trim();
        if reason.is_empty() || sent > MAX_REASON || reason.chars().any(char::is_control) {
            return Err(AuditLogError::BadReason);
        }
        let reason = reason.to_owned();
        let anchors = Arc::clone(&self.target.anchors);
        let describe = move |chain: &crate::store::audit::ChainRead<'_>| {
            let known = anchors.read_all();
            let finding = anchors.find_break(&known, chain)?;
            let head = chain.head()?.flatten().map(|e| ChainHead::of(&e));
            Ok(acceptance_draft(
                actor,
                &reason,
                &known,
                finding.as_ref(),
                head,
            ))
        };
        Ok(self
            .target
            .store
            .audit_accept(
                describe,
                seal_fn(&self.sealer),
                self.target.lock_path.clone(),
                self.target.guard(),
            )
            .await?)
    }

    /// Whether the outside anchor is present and names the chain's head:
    /// for `doctor`. Reads only.
    pub async fn outside_anchor_status(&self) -> Result<OutsideAnchorStatus, AuditLogError> {
        let anchors = Arc::clone(&self.target.anchors);
        Ok(self
            .target
            .store
            .audit_read(move |chain| anchors.outside_status(chain))
            .await?)
    }

    /// Deletes entries older than `before` (RFC 3339), leaving a signed
    /// checkpoint so verification still passes.
    pub async fn prune(&self, before: String) -> Result<u64, AuditLogError> {
        self.target
            .store
            .audit_prune(
                before,
                seal_fn(&self.sealer),
                self.target.lock_path.clone(),
                self.target.guard(),
            )
            .await?
            .map_err(AuditLogError::Refused)
    }
}

/// The `audit.accept` entry: the reason, every anchor as found, the break
/// (if any) and the head accepted. Only seqs, hashes and paths: no content.
fn acceptance_draft(
    actor: Actor,
    reason: &str,
    known: &[audit::KnownAnchor],
    finding: Option<&Finding>,
    head: Option<ChainHead>,
) -> Draft {
    let anchors: Vec<_> = known
        .iter()
        .map(|a| {
            let state = match &a.state {
                audit::AnchorState::Absent => json!({"state": "absent"}),
                audit::AnchorState::Unreadable(why) => json!({"state": "unreadable", "why": why}),
                audit::AnchorState::Signed { head, genuine } => json!({
                    "state": if *genuine { "genuine" } else { "forged" },
                    "seq": head.seq,
                    "hash": head.hash,
                }),
            };
            json!({"anchor": a.source.as_str(), "location": a.location, "found": state})
        })
        .collect();
    let head = head.unwrap_or_else(ChainHead::genesis);
    let mut draft = Draft::new(actor, "audit.accept", Outcome::Success)
        .detail("reason", reason)
        .detail("previous_anchors", anchors)
        .detail("accepted_head", json!({"seq": head.seq, "hash": head.hash}));
    if let Some(f) = finding {
        draft = draft
            .detail("break", f.brk.kind.as_str())
            .detail("first_bad_seq", f.brk.seq)
            .detail("found", f.detail.as_str());
    }
    draft
}

fn seal_fn(sealer: &Arc<Sealer>) -> impl Fn(&ChainHead, Draft) -> Entry + Send + 'static {
    let redactor = sealer
        .redactor
        .read()
        .map(|r| Arc::clone(&r))
        .unwrap_or_else(|_| Arc::new(Redactor::without_secrets()));
    let for_seal = Arc::clone(sealer);
    move |head: &ChainHead, draft: Draft| audit::seal_entry(&for_seal.key, head, draft, &redactor)
}

async fn writer(mut rx: mpsc::Receiver<Job>, sealer: Arc<Sealer>, target: Target) {
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
        let started = std::time::Instant::now();
        let appended = target
            .store
            .audit_append(
                drafts,
                seal_fn(&sealer),
                target.lock_path.clone(),
                target.guard(),
            )
            .await;
        crate::metrics::audit_append(started.elapsed());
        let result = match appended {
            Ok(Ok(head)) => Ok(head),
            Ok(Err(finding)) => {
                tracing::error!(
                    brk = finding.brk.kind.as_str(),
                    seq = finding.brk.seq,
                    found = %finding.detail,
                    "audit append refused: the chain disagrees with its anchors"
                );
                Err(Failure::Refused(finding))
            }
            Err(e) => {
                tracing::error!(error = %e, "audit append failed");
                Err(Failure::Store(e.to_string()))
            }
        };
        for reply in replies {
            let _ = reply.send(result.clone());
        }
    }
}
