//! Live notices for the owner about things outside any conversation: the
//! pending pairing requests of the channels (docs/architecture.md, "Channels and pairing", issue 19).
//!
//! Listens to the store's pairing changes and publishes, with the owner as
//! the audience (only owners may read or decide requests, so nobody else,
//! and no agent key, ever receives these): `pairing.requested` when a
//! request was opened (the pending count and that request), and
//! `pairing.pending` when the count changed otherwise (the count only): a
//! request decided here or by the CLI, or one that expired. It never
//! decides anything and never carries a code (the store has none in
//! clear).

use std::time::Duration;

use serde::Serialize;
use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;

use super::hub::{Event, Hub};
use crate::auth::Role;
use crate::store::Store;
use crate::store::channels::{PairingChange, RequestRow};

/// The events' `data`.
#[derive(Serialize)]
struct Pending<'a> {
    /// Requests now pending (the badge).
    pending: usize,
    /// The request just opened (`pairing.requested` only).
    request: Option<&'a RequestRow>,
}

/// While any request is pending, how often the count is read again: a
/// request decided by the CLI (another process) or expiring changes it
/// without a change message here.
const RECHECK: Duration = Duration::from_secs(5);

/// What woke the notice task.
enum Wake {
    Change(PairingChange),
    /// Changes were missed: the count is still worth sending.
    Lagged,
    /// The recount timer: publish only if the count moved.
    Timer,
}

/// When to read the count again: never while nothing is pending (only
/// this server opens requests, and it says so), else at the next expiry
/// or after `RECHECK`, whichever comes first.
fn next_check(rows: &[RequestRow]) -> Option<Instant> {
    let soonest = rows.iter().map(|r| r.expires_at).min()?;
    // `expires_at` is in whole seconds; a request stops counting just after.
    let left = u64::try_from(soonest - crate::auth::now_secs() + 1).unwrap_or(0);
    Some(Instant::now() + Duration::from_secs(left).min(RECHECK))
}

/// Runs for the life of the store (the task holds it).
pub fn start(store: Store, hub: Hub) {
    let mut changes = store.pairing_changes();
    tokio::spawn(async move {
        let (mut last, mut check) = match store.pairing_requests_pending().await {
            Ok(rows) => (rows.len(), next_check(&rows)),
            Err(_) => (0, Some(Instant::now() + RECHECK)),
        };
        loop {
            let received = match check {
                Some(at) => tokio::select! {
                    r = changes.recv() => Some(r),
                    () = tokio::time::sleep_until(at) => None,
                },
                None => Some(changes.recv().await),
            };
            let wake = match received {
                Some(Ok(c)) => Wake::Change(c),
                Some(Err(RecvError::Lagged(_))) => Wake::Lagged,
                Some(Err(RecvError::Closed)) => return,
                None => Wake::Timer,
            };
            match store.pairing_requests_pending().await {
                Ok(rows) => {
                    let change = match wake {
                        Wake::Change(c) => Some(Some(c)),
                        Wake::Lagged => Some(None),
                        Wake::Timer => (rows.len() != last).then_some(None),
                    };
                    if let Some(change) = change {
                        publish(&hub, change, &rows);
                    }
                    last = rows.len();
                    check = next_check(&rows);
                }
                Err(e) => {
                    tracing::error!(%e, "could not read pending pairing requests");
                    check = Some(Instant::now() + RECHECK);
                }
            }
        }
    });
}

fn publish(hub: &Hub, change: Option<PairingChange>, rows: &[RequestRow]) {
    let opened = match change {
        Some(PairingChange::Opened(id)) => rows.iter().find(|r| r.id == id),
        _ => None,
    };
    let kind = if opened.is_some() {
        "pairing.requested"
    } else {
        "pairing.pending"
    };
    let data = Pending {
        pending: rows.len(),
        request: opened,
    };
    match Event::for_role(kind, Role::Owner, &data) {
        Ok(ev) => hub.publish(ev),
        Err(e) => tracing::error!(%e, "could not serialise a pairing notice"),
    }
}
