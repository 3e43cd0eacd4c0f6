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
//! - Anchors (inside, outside, witness): classified after the stream by
//!   `check::classify`, the same code the writers' gate runs: forged →
//!   `AnchorMismatch`, no entries while the database holds users →
//!   `ChainEmptied`, past the end → `Truncated` (inside) or
//!   `AnchorRolledBack` (another anchor), the outside anchor ahead of the
//!   inside one → `AnchorRolledBack`, absent → `AnchorMissing`. An anchor
//!   behind the head is accepted when the entry at its seq has its hash
//!   (appends race the anchor write).

use crate::anchor::AnchorFile;
use crate::check::{ChainFacts, HashAt, KnownAnchor, classify};
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
    /// The inside anchor names a head past the end of the chain.
    Truncated,
    /// An anchor is unreadable, forged, or names a hash the chain lacks.
    AnchorMismatch,
    /// The outside anchor (or witness) is ahead of the inside anchor: the
    /// data directory was rolled back, or an older inside anchor put back.
    AnchorRolledBack,
    /// The log has no entries, yet the database holds users or an anchor
    /// names a later seq.
    ChainEmptied,
    /// The inside or outside anchor is absent while the chain has entries.
    AnchorMissing,
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
            Self::AnchorRolledBack => "anchor_rolled_back",
            Self::ChainEmptied => "chain_emptied",
            Self::AnchorMissing => "anchor_missing",
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
    /// What was found at an anchor break, for people.
    pub detail: Option<String>,
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
    anchors: Vec<KnownAnchor>,
    /// `(seq, hash)` of the streamed entries at the anchors' seqs.
    hashes_at_anchors: Vec<(u64, String)>,
    holds_state: bool,
    checkpoint: Option<Checkpoint>,
    last: Option<ChainHead>,
    first_seq: Option<u64>,
    count: u64,
    first_break: Option<Break>,
    buf: String,
}

impl<'k> Verifier<'k> {
    /// Starts a verification against the inside anchor only. `anchor` is
    /// the parsed anchor file (`None` when it is absent); `checkpoint` is the
    /// latest `audit.checkpoint` entry in the table, if any.
    pub fn new(key: &'k AuditKey, anchor: Option<AnchorFile>, checkpoint: Option<Entry>) -> Self {
        let inside = KnownAnchor::inside(Ok(anchor), key, "audit.anchor");
        Self::with_anchors(key, vec![inside], checkpoint)
    }

    /// Starts a verification against every anchor the caller read.
    pub fn with_anchors(
        key: &'k AuditKey,
        anchors: Vec<KnownAnchor>,
        checkpoint: Option<Entry>,
    ) -> Self {
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
            anchors,
            hashes_at_anchors: Vec::new(),
            holds_state: false,
            checkpoint,
            last: None,
            first_seq: None,
            count: 0,
            first_break: None,
            buf,
        }
    }

    /// Declares whether the database holds users: an empty log is then a
    /// break (`ChainEmptied`), not a fresh installation.
    pub fn holds_state(mut self, holds_state: bool) -> Self {
        self.holds_state = holds_state;
        self
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
        if self
            .anchors
            .iter()
            .any(|a| a.genuine_head().is_some_and(|h| h.seq == entry.seq))
        {
            self.hashes_at_anchors.push((entry.seq, entry.hash.clone()));
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
        let (first_break, detail) = match self.first_break {
            Some(b) => (Some(b), None),
            None => match self.final_checks() {
                Some((b, d)) => (Some(b), d),
                None => (None, None),
            },
        };
        VerifyReport {
            intact: first_break.is_none(),
            count: self.count,
            first_break,
            detail,
        }
    }

    fn final_checks(&self) -> Option<(Break, Option<String>)> {
        let head_seq = self.last.as_ref().map_or(0, |h| h.seq);
        if let Some(cp) = self.checkpoint.as_ref().filter(|cp| !cp.seen) {
            // Cut off the end together with later entries: a truncation.
            let anchored_past_end = self
                .anchors
                .iter()
                .any(|a| a.genuine_head().is_some_and(|h| h.seq > head_seq));
            let brk = if head_seq < cp.seq && anchored_past_end {
                Break {
                    seq: head_seq.saturating_add(1),
                    kind: BreakKind::Truncated,
                }
            } else {
                Break {
                    seq: cp.seq,
                    kind: BreakKind::Missing,
                }
            };
            return Some((brk, None));
        }
        let facts = ChainFacts {
            head: self.last.clone().unwrap_or_else(ChainHead::genesis),
            empty: self.last.is_none(),
            holds_state: self.holds_state,
            pruned_through: self.vouched_start().map(|(n, h)| (n, h.to_owned())),
        };
        let found = classify::<std::convert::Infallible>(&self.anchors, &facts, |seq, hash| {
            Ok(
                match self.hashes_at_anchors.iter().find(|(s, _)| *s == seq) {
                    Some((_, h)) if h == hash => HashAt::Matches,
                    Some(_) => HashAt::Differs,
                    None => HashAt::Absent,
                },
            )
        });
        match found {
            Ok(Some(f)) => Some((f.brk, Some(f.detail))),
            Ok(None) => None,
            Err(never) => match never {},
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
            BreakKind::AnchorRolledBack,
            BreakKind::ChainEmptied,
            BreakKind::AnchorMissing,
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
                "anchor_mismatch",
                "anchor_rolled_back",
                "chain_emptied",
                "anchor_missing"
            ]
        );
    }
}
