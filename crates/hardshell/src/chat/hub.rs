//! Live event fan-out: writers (REST handlers, later the agent runtime)
//! publish, every WebSocket connection receives.
//!
//! The hub only delivers. It never decides who may see an event: each
//! connection keeps the set of conversations its principal belongs to,
//! built from the store, and drops events for any other. Membership
//! changes travel through the hub too, so that set stays current.
//! A few events belong to no conversation (a new pairing request): they
//! carry an `audience`, a least role, and reach only human users with it;
//! agent keys never get them.
//! Events are serialised once at publish time into a shared, immutable
//! buffer that the WebSocket layer sends as is, so fan-out to many
//! connections costs a reference count each, never a copy.

use std::sync::Arc;

use axum::extract::ws::Utf8Bytes;
use serde::Serialize;
use tokio::sync::broadcast;

use crate::auth::Role;

/// How many events a slow connection may fall behind before it is told to
/// resume (it reconnects with `?since=`).
pub const BACKLOG: usize = 1024;

/// A change to who belongs to a conversation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Membership {
    /// This user joined `conversation_id`: their connections start receiving it.
    Joined { user_id: i64 },
    /// This user left or was removed: their connections stop receiving it.
    Left { user_id: i64 },
    /// The conversation is gone for everyone.
    Deleted,
}

/// One event, ready to send.
#[derive(Clone, Debug)]
pub struct Event {
    pub conversation_id: i64,
    /// Set on membership events; connections update their set first.
    pub membership: Option<Membership>,
    /// Set on events outside any conversation (`conversation_id` 0):
    /// only human users with at least this role receive them.
    pub audience: Option<Role>,
    /// `{"type":…,"conversation_id":…,"data":…}`, serialised once. Kept
    /// as the frame payload type itself (a refcounted UTF-8 buffer that
    /// derefs to `str`) so a connection's send clones, not copies.
    pub json: Utf8Bytes,
}

#[derive(Serialize)]
struct Envelope<'a, T: Serialize> {
    #[serde(rename = "type")]
    kind: &'a str,
    conversation_id: i64,
    data: &'a T,
}

impl Event {
    /// Builds an event of type `kind` (`message.created`, `typing`, …).
    pub fn new<T: Serialize>(
        kind: &str,
        conversation_id: i64,
        data: &T,
    ) -> Result<Event, serde_json::Error> {
        let json = serde_json::to_string(&Envelope {
            kind,
            conversation_id,
            data,
        })?;
        Ok(Event {
            conversation_id,
            membership: None,
            audience: None,
            json: json.into(),
        })
    }

    /// An event for every human user with at least `role`, outside any
    /// conversation (`conversation_id` 0 in the envelope).
    pub fn for_role<T: Serialize>(
        kind: &str,
        role: Role,
        data: &T,
    ) -> Result<Event, serde_json::Error> {
        let mut ev = Event::new(kind, 0, data)?;
        ev.audience = Some(role);
        Ok(ev)
    }

    pub fn with_membership(mut self, change: Membership) -> Event {
        self.membership = Some(change);
        self
    }
}

/// The broadcast point; cheap to clone.
#[derive(Clone, Debug)]
pub struct Hub {
    tx: broadcast::Sender<Arc<Event>>,
}

impl Default for Hub {
    fn default() -> Self {
        Self::new()
    }
}

impl Hub {
    pub fn new() -> Hub {
        let (tx, _) = broadcast::channel(BACKLOG);
        Hub { tx }
    }

    /// Sends to every current subscriber. Having none is not an error.
    pub fn publish(&self, event: Event) {
        let _ = self.tx.send(Arc::new(event));
    }

    /// A new receiver that sees events published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.tx.subscribe()
    }

    /// Live connections, for metrics and tests.
    pub fn subscribers(&self) -> usize {
        self.tx.receiver_count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn events_are_serialised_once_and_delivered_to_every_subscriber() {
        let hub = Hub::new();
        let mut a = hub.subscribe();
        let mut b = hub.subscribe();
        let ev = Event::new("typing", 7, &serde_json::json!({"user": "ann"}))
            .unwrap()
            .with_membership(Membership::Joined { user_id: 3 });
        hub.publish(ev);
        let got_a = a.recv().await.unwrap();
        let got_b = b.recv().await.unwrap();
        assert!(Arc::ptr_eq(&got_a, &got_b));
        // The payload a connection sends shares the event's buffer.
        let frame = got_a.json.clone();
        assert_eq!(frame.as_ptr(), got_b.json.as_ptr());
        let v: serde_json::Value = serde_json::from_str(&got_a.json).unwrap();
        assert_eq!(v["type"], "typing");
        assert_eq!(v["conversation_id"], 7);
        assert_eq!(v["data"]["user"], "ann");
        assert_eq!(got_a.membership, Some(Membership::Joined { user_id: 3 }));
    }
}
