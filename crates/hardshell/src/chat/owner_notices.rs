//! Live notices for the owner about things outside any conversation: the
//! pending pairing requests of the channels (docs/architecture.md, "Channels and pairing", issue 19).
//!
//! Listens to the store's pairing changes and publishes, with the owner as
//! the audience (only owners may read or decide requests, so nobody else,
//! and no agent key, ever receives these): `pairing.requested` when a
//! request was opened (the pending count and that request), and
//! `pairing.pending` when one was decided (the count only). It never
//! decides anything and never carries a code (the store has none in
//! clear).

use serde::Serialize;
use tokio::sync::broadcast::error::RecvError;

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

/// Runs for the life of the store (the task holds it).
pub fn start(store: Store, hub: Hub) {
    let mut changes = store.pairing_changes();
    tokio::spawn(async move {
        loop {
            let change = match changes.recv().await {
                Ok(c) => Some(c),
                // Fell behind: the count is still worth sending.
                Err(RecvError::Lagged(_)) => None,
                Err(RecvError::Closed) => return,
            };
            match store.pairing_requests_pending().await {
                Ok(rows) => publish(&hub, change, &rows),
                Err(e) => tracing::error!(%e, "could not read pending pairing requests"),
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
