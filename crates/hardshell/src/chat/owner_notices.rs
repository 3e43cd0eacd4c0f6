//! Live notices for the owner about things outside any conversation: a
//! new pairing request from a channel (DESIGN §10, issue 19).
//!
//! Watches the store's counter of opened requests and publishes
//! `pairing.requested` (the pending count and the newest request) with
//! the owner as its audience: only owners may read or decide requests,
//! so nobody else, and no agent key, ever receives it. It never decides
//! anything and never carries a code (the store never has one in clear).

use serde::Serialize;

use super::hub::{Event, Hub};
use crate::auth::Role;
use crate::store::Store;
use crate::store::channels::RequestRow;

/// The event's `data`.
#[derive(Serialize)]
struct PairingRequested<'a> {
    /// Requests now pending (the badge).
    pending: usize,
    /// The newest pending request.
    request: Option<&'a RequestRow>,
}

/// Publishes one notice per change of the counter (a burst may share one:
/// it carries the current count either way). Ends with the store.
pub fn start(store: Store, hub: Hub) {
    let mut notices = store.pairing_notices();
    tokio::spawn(async move {
        while notices.changed().await.is_ok() {
            match store.pairing_requests_pending().await {
                Ok(rows) => publish(&hub, &rows),
                Err(e) => tracing::error!(%e, "could not read pending pairing requests"),
            }
        }
    });
}

fn publish(hub: &Hub, rows: &[RequestRow]) {
    let data = PairingRequested {
        pending: rows.len(),
        request: rows.iter().max_by_key(|r| r.id),
    };
    match Event::for_role("pairing.requested", Role::Owner, &data) {
        Ok(ev) => hub.publish(ev),
        Err(e) => tracing::error!(%e, "could not serialise a pairing notice"),
    }
}
