//! The pacing of a streamed reply: model text is coalesced into
//! `agent.delta` events at a bounded rate, each carrying the new raw text
//! and a rendered, sanitised snapshot of the whole reply so far.
//!
//! Snapshots come only from `chat::markdown::render_partial`, the renderer
//! and sanitiser of stored messages, so a client never needs to render or
//! trust raw model text. This module never sees HTTP types or the store,
//! and it only ever sees text that already passed the leak guard.

use std::time::{Duration, Instant};

/// Shortest pause between two snapshots of a short reply.
const BASE_INTERVAL: Duration = Duration::from_millis(100);
/// Longest pause between two snapshots, however long the reply.
const MAX_INTERVAL: Duration = Duration::from_secs(2);

/// One `agent.delta` payload.
#[derive(Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// The raw text added since the previous snapshot.
    pub text: String,
    /// The whole reply so far, rendered and sanitised.
    pub html: String,
}

/// The pause after a snapshot of a `len`-byte reply. Each snapshot
/// re-renders and re-sends the whole reply, so the pause grows with it:
/// rendering and bandwidth per second stay bounded.
pub fn min_interval(len: usize) -> Duration {
    let extra = Duration::from_millis((len / 1024) as u64 * 10);
    (BASE_INTERVAL + extra).min(MAX_INTERVAL)
}

/// Coalesces pieces of one reply into paced snapshots.
#[derive(Debug, Default)]
pub struct LiveText {
    pending: String,
    last: Option<Instant>,
}

impl LiveText {
    /// Adds `piece` (already appended to `full`, the reply so far); returns
    /// a snapshot when one is due at `now`.
    pub fn push(&mut self, piece: &str, full: &str, now: Instant) -> Option<Snapshot> {
        self.pending.push_str(piece);
        let due = self
            .last
            .is_none_or(|t| now.saturating_duration_since(t) >= min_interval(full.len()));
        if due { self.take(full, now) } else { None }
    }

    /// The snapshot of whatever is still pending (end of a round or turn).
    pub fn flush(&mut self, full: &str, now: Instant) -> Option<Snapshot> {
        self.take(full, now)
    }

    fn take(&mut self, full: &str, now: Instant) -> Option<Snapshot> {
        if self.pending.is_empty() {
            return None;
        }
        self.last = Some(now);
        Some(Snapshot {
            text: std::mem::take(&mut self.pending),
            html: crate::chat::markdown::render_partial(full),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_within_the_interval_are_coalesced_and_flushed_at_the_end() {
        let t0 = Instant::now();
        let mut live = LiveText::default();
        let mut full = String::new();
        let mut push = |live: &mut LiveText, piece: &str, at: Duration| {
            full.push_str(piece);
            live.push(piece, &full, t0 + at)
        };
        let first = push(&mut live, "**bo", Duration::ZERO).unwrap();
        assert_eq!(first.text, "**bo");
        assert_eq!(push(&mut live, "ld** and", Duration::from_millis(10)), None);
        assert_eq!(push(&mut live, " more", Duration::from_millis(50)), None);
        let second = push(&mut live, "!", Duration::from_millis(150)).unwrap();
        assert_eq!(second.text, "ld** and more!");
        assert!(
            second.html.contains("<strong>bold</strong>"),
            "{}",
            second.html
        );
        assert_eq!(push(&mut live, " tail", Duration::from_millis(160)), None);
        let last = live
            .flush("**bold** and more! tail", t0 + Duration::from_millis(170))
            .unwrap();
        assert_eq!(last.text, " tail");
        assert_eq!(live.flush("x", t0 + Duration::from_secs(9)), None);
    }

    #[test]
    fn a_long_reply_is_snapshotted_less_often() {
        assert_eq!(min_interval(0), BASE_INTERVAL);
        assert!(min_interval(64 * 1024) > min_interval(1024));
        assert_eq!(min_interval(10 * 1024 * 1024), MAX_INTERVAL);
        let t0 = Instant::now();
        let mut live = LiveText::default();
        let long = "word ".repeat(20_000);
        assert!(live.push(&long, &long, t0).is_some());
        // 100 ms is due for a short reply but not for a 100 KB one.
        assert_eq!(live.push("x", &long, t0 + BASE_INTERVAL), None);
    }

    #[test]
    fn a_snapshot_of_half_an_html_tag_is_inert() {
        let t0 = Instant::now();
        let mut live = LiveText::default();
        let s = live
            .push(
                "<img src=x onerror=alert(1)",
                "<img src=x onerror=alert(1)",
                t0,
            )
            .unwrap();
        assert!(!s.html.contains("<img"), "{}", s.html);
        assert!(s.html.contains("&lt;img"), "{}", s.html);
    }
}
