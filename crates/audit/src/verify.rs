//! Streaming verification of the chain, its anchor and its retention
//! checkpoint.
//!
//! Owns: classifying the first break in constant memory. Entries arrive in
//! PHYSICAL insertion order (the app reads `ORDER BY rowid`). It must never
//! buffer the chain or trust any entry whose HMAC it has not checked.
//!
//! Classification (first break in stream order; `expected` = previous seq + 1):
//! - HMAC fails (or the row was unreadable) → `Modified` at `expected`.
//! - seq == expected but `prev_hash` does not link → `Modified` at seq.
//! - seq > expected → `Missing` at `expected`; if an intact entry with that
//!   seq shows up later in the stream, it was moved: `Reordered` at that seq
//!   (so swapping rows k and k+1 reports `Reordered` at k).
//! - seq < expected → `Reordered` at seq.
//! - The first entry must be seq 1 linking to genesis, or seq N+1 vouched for
//!   by a valid checkpoint (`pruned_through_seq` N, `pruned_through_hash` equal
//!   to its `prev_hash`); otherwise `Missing` at 1.
//! - The checkpoint handed in up front must appear in the stream with the
//!   same hash: otherwise `Modified` (different entry) or `Missing` (absent;
//!   `Truncated` when the anchor shows the end of the chain was cut off).
//! - Anchor: absent with a non-empty chain, bad MAC, or naming a hash the
//!   chain does not have at that seq → `AnchorMismatch`; naming a seq past the
//!   end of the chain → `Truncated` at the first missing seq. An anchor behind
//!   the head is accepted when the entry at its seq has its hash (appends race
//!   the anchor write).

use crate::anchor::AnchorFile;
use crate::entry::{ActorKind, ChainHead, Entry, GENESIS_HASH};
use crate::key::AuditKey;
use crate::seal::{CHECKPOINT_ACTION, entry_hash_valid_with};

/// Kind of the first break found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BreakKind {
    /// An entry's HMAC fails or it does not link to its predecessor.
    Modified,
    /// A gap in seq.
    Missing,
    /// An entry is out of physical order.
    Reordered,
    /// The anchor names a head past the end of the chain.
    Truncated,
    /// The anchor is missing, forged, or disagrees with the chain.
    AnchorMismatch,
}

impl BreakKind {
    /// Lower-case name for CLI output.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Modified => "modified",
            Self::Missing => "missing",
            Self::Reordered => "reordered",
            Self::Truncated => "truncated",
            Self::AnchorMismatch => "anchor_mismatch",
        }
    }
}

/// Where and how the chain first broke.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Break {
    /// The first bad seq.
    pub seq: u64,
    /// What is wrong there.
    pub kind: BreakKind,
}

/// Outcome of a verification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyReport {
    /// True when there is no break at all.
    pub intact: bool,
    /// Entries pushed.
    pub count: u64,
    /// The first break, if any.
    pub first_break: Option<Break>,
}

/// A checkpoint entry, as far as the verifier needs it.
struct Checkpoint {
    seq: u64,
    hash: String,
    /// `(pruned_through_seq, pruned_through_hash)` when the entry is a valid,
    /// HMAC-verified checkpoint that may vouch for a pruned start.
    vouches: Option<(u64, String)>,
    seen: bool,
}

/// Checks a chain pushed one entry at a time, in physical order.
pub struct Verifier<'k> {
    key: &'k AuditKey,
    anchor: Option<AnchorFile>,
    anchor_mac_ok: bool,
    /// Hash comparison at the anchor's seq, once that entry has passed.
    anchor_hash_ok: Option<bool>,
    checkpoint: Option<Checkpoint>,
    last: Option<ChainHead>,
    first_seq: Option<u64>,
    count: u64,
    first_break: Option<Break>,
    buf: String,
}

impl<'k> Verifier<'k> {
    /// Starts a verification. `anchor` is the parsed anchor file (pass `None`
    /// when it is absent or unreadable); `checkpoint` is the latest
    /// `audit.checkpoint` entry in the table, if any.
    pub fn new(key: &'k AuditKey, anchor: Option<AnchorFile>, checkpoint: Option<Entry>) -> Self {
        let anchor_mac_ok = anchor.as_ref().is_some_and(|a| a.verify(key));
        let mut buf = String::with_capacity(512);
        let checkpoint = checkpoint.map(|cp| {
            let vouches = if entry_hash_valid_with(key, &cp, &mut buf) {
                checkpoint_claim(&cp)
            } else {
                None
            };
            Checkpoint {
                seq: cp.seq,
                hash: cp.hash,
                vouches,
                seen: false,
            }
        });
        Self {
            key,
            anchor,
            anchor_mac_ok,
            anchor_hash_ok: None,
            checkpoint,
            last: None,
            first_seq: None,
            count: 0,
            first_break: None,
            buf,
        }
    }

    /// Seq the next entry should have.
    fn expected(&self) -> u64 {
        match &self.last {
            Some(h) => h.seq.saturating_add(1),
            None => self.vouched_start().map_or(1, |(n, _)| n.saturating_add(1)),
        }
    }

    fn vouched_start(&self) -> Option<(u64, &str)> {
        self.checkpoint
            .as_ref()
            .and_then(|c| c.vouches.as_ref())
            .map(|(n, h)| (*n, h.as_str()))
    }

    fn fail(&mut self, seq: u64, kind: BreakKind) {
        self.first_break = Some(Break { seq, kind });
    }

    /// Feeds the next entry in physical order.
    pub fn push(&mut self, entry: &Entry) {
        self.count += 1;
        if let Some(b) = self.first_break {
            // A "missing" entry that turns up later, intact, was moved.
            if b.kind == BreakKind::Missing
                && entry.seq == b.seq
                && entry_hash_valid_with(self.key, entry, &mut self.buf)
            {
                self.fail(b.seq, BreakKind::Reordered);
            }
            return;
        }
        let expected = self.expected();
        if !entry_hash_valid_with(self.key, entry, &mut self.buf) {
            return self.fail(expected, BreakKind::Modified);
        }
        match &self.last {
            None => {
                if entry.seq == 1 {
                    if entry.prev_hash != GENESIS_HASH {
                        return self.fail(1, BreakKind::Modified);
                    }
                } else {
                    match self.vouched_start() {
                        Some((n, h))
                            if n.saturating_add(1) == entry.seq && entry.prev_hash == h => {}
                        // Entries deleted after the checkpoint's prune point.
                        Some((n, _)) if entry.seq > n.saturating_add(1) => {
                            return self.fail(n.saturating_add(1), BreakKind::Missing);
                        }
                        // No valid checkpoint vouches for this start.
                        _ => return self.fail(1, BreakKind::Missing),
                    }
                }
                self.first_seq = Some(entry.seq);
            }
            Some(prev) => {
                if entry.seq > expected {
                    return self.fail(expected, BreakKind::Missing);
                }
                if entry.seq < expected {
                    return self.fail(entry.seq, BreakKind::Reordered);
                }
                if entry.prev_hash != prev.hash {
                    return self.fail(entry.seq, BreakKind::Modified);
                }
            }
        }
        self.accept(entry);
    }

    /// Feeds a row the application could not turn into an [`Entry`] (unknown
    /// actor kind or outcome, details that are not JSON): it counts as modified.
    pub fn push_unreadable(&mut self) {
        self.count += 1;
        if self.first_break.is_none() {
            let expected = self.expected();
            self.fail(expected, BreakKind::Modified);
        }
    }

    fn accept(&mut self, entry: &Entry) {
        if let Some(a) = self.anchor.as_ref().filter(|a| a.seq == entry.seq) {
            self.anchor_hash_ok = Some(a.hash == entry.hash);
        }
        let mut checkpoint_differs = false;
        if let Some(cp) = self.checkpoint.as_mut().filter(|cp| cp.seq == entry.seq) {
            cp.seen = cp.hash == entry.hash;
            checkpoint_differs = !cp.seen;
        }
        if checkpoint_differs {
            return self.fail(entry.seq, BreakKind::Modified);
        }
        self.last = Some(ChainHead::of(entry));
    }

    /// Ends the stream and reports.
    pub fn finish(self) -> VerifyReport {
        let first_break = self.first_break.or_else(|| self.final_checks());
        VerifyReport {
            intact: first_break.is_none(),
            count: self.count,
            first_break,
        }
    }

    fn final_checks(&self) -> Option<Break> {
        let head_seq = self.last.as_ref().map_or(0, |h| h.seq);
        if let Some(cp) = self.checkpoint.as_ref().filter(|cp| !cp.seen) {
            // Cut off the end together with later entries: a truncation.
            let anchored_past_end =
                self.anchor_mac_ok && self.anchor.as_ref().is_some_and(|a| a.seq > head_seq);
            return Some(if head_seq < cp.seq && anchored_past_end {
                Break {
                    seq: head_seq.saturating_add(1),
                    kind: BreakKind::Truncated,
                }
            } else {
                Break {
                    seq: cp.seq,
                    kind: BreakKind::Missing,
                }
            });
        }
        let mismatch = |seq| {
            Some(Break {
                seq,
                kind: BreakKind::AnchorMismatch,
            })
        };
        let Some(anchor) = &self.anchor else {
            return if self.last.is_some() {
                mismatch(head_seq)
            } else {
                None
            };
        };
        if !self.anchor_mac_ok {
            return mismatch(anchor.seq);
        }
        if anchor.seq > head_seq {
            return Some(Break {
                seq: head_seq.saturating_add(1),
                kind: BreakKind::Truncated,
            });
        }
        if anchor.seq == 0 {
            return if anchor.hash == GENESIS_HASH {
                None
            } else {
                mismatch(0)
            };
        }
        if self.first_seq.is_some_and(|first| anchor.seq < first) {
            // Only the pruned head the checkpoint records can be checked.
            return match self.vouched_start() {
                Some((n, h)) if n == anchor.seq && h == anchor.hash => None,
                _ => mismatch(anchor.seq),
            };
        }
        match self.anchor_hash_ok {
            Some(true) => None,
            _ => mismatch(anchor.seq),
        }
    }
}

/// The prune a valid checkpoint entry vouches for.
fn checkpoint_claim(cp: &Entry) -> Option<(u64, String)> {
    if cp.action != CHECKPOINT_ACTION || cp.actor.kind != ActorKind::System {
        return None;
    }
    let seq = cp.details.get("pruned_through_seq")?.as_u64()?;
    let hash = cp.details.get("pruned_through_hash")?.as_str()?;
    // The checkpoint is appended after the prune, so it comes later.
    if seq >= cp.seq || hash.len() != 64 {
        return None;
    }
    Some((seq, hash.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::{Actor, Draft, Outcome};
    use crate::redact::Redactor;
    use crate::seal::{checkpoint_draft, seal_entry};
    use serde_json::json;

    fn sealed(head: &ChainHead, draft: Draft) -> Entry {
        seal_entry(
            &AuditKey::from_bytes([1; 32]),
            head,
            draft,
            &Redactor::without_secrets(),
        )
    }

    #[test]
    fn only_a_system_checkpoint_after_its_prune_point_vouches() {
        let head = ChainHead {
            seq: 9,
            hash: "cd".repeat(32),
        };
        let any = sealed(&head, Draft::new(Actor::system(), "x", Outcome::Success));
        let pruned = Entry {
            seq: 5,
            hash: "ef".repeat(32),
            ..any
        };
        let cp = sealed(&head, checkpoint_draft(&pruned));
        assert_eq!(checkpoint_claim(&cp), Some((5, "ef".repeat(32))));
        let mut wrong_actor = cp.clone();
        wrong_actor.actor = Actor::user("1");
        assert_eq!(checkpoint_claim(&wrong_actor), None);
        let mut wrong_action = cp.clone();
        wrong_action.action = "audit.other".into();
        assert_eq!(checkpoint_claim(&wrong_action), None);
        let mut ahead = cp.clone();
        ahead.details = json!({"pruned_through_seq": 10, "pruned_through_hash": "ef".repeat(32)});
        assert_eq!(checkpoint_claim(&ahead), None);
        let mut short_hash = cp.clone();
        short_hash.details = json!({"pruned_through_seq": 5, "pruned_through_hash": "ef"});
        assert_eq!(checkpoint_claim(&short_hash), None);
        let mut no_details = cp;
        no_details.details = json!({});
        assert_eq!(checkpoint_claim(&no_details), None);
    }

    #[test]
    fn break_kinds_have_stable_names() {
        let names: Vec<_> = [
            BreakKind::Modified,
            BreakKind::Missing,
            BreakKind::Reordered,
            BreakKind::Truncated,
            BreakKind::AnchorMismatch,
        ]
        .iter()
        .map(|k| k.as_str())
        .collect();
        assert_eq!(
            names,
            [
                "modified",
                "missing",
                "reordered",
                "truncated",
                "anchor_mismatch"
            ]
        );
    }
}
