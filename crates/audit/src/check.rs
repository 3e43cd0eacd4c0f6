//! Where the chain's end stands against every anchor: the one
//! classification shared by the verifier (after it has streamed the chain)
//! and by every writer's gate (before its first append, from a few indexed
//! lookups).
//!
//! Owns: turning the anchors (inside, outside, witness) and a few chain
//! facts into the first break, with its kind, its seq and a sentence saying
//! what was found. It must never read files or the database: callers hand
//! in what they read, so the verifier and the gate cannot disagree.
//!
//! Order of the checks (the first that fails is reported):
//! 1. an anchor file that is unreadable, or whose MAC (or data-dir id)
//!    fails → `AnchorMismatch`;
//! 2. no entries at all while the database holds state or an anchor names
//!    a later seq → `ChainEmptied` at 1;
//! 3. the inside anchor past the chain's end → `Truncated`; another anchor
//!    past it (the inside one rolled back with the database) →
//!    `AnchorRolledBack`, both at the first missing seq;
//! 4. an anchor whose seq the chain has with another hash → `AnchorMismatch`;
//! 5. the outside anchor or the witness ahead of the inside anchor →
//!    `AnchorRolledBack` at the seq after the inside anchor's;
//! 6. the inside or the outside anchor absent while the chain has entries →
//!    `AnchorMissing` at the head. (A witness that has no line yet is not a
//!    break: it may have been configured after the chain began.)

use crate::anchor::AnchorFile;
use crate::entry::{ChainHead, GENESIS_HASH};
use crate::key::AuditKey;
use crate::outside::{DirId, SignedHead};
use crate::verify::{Break, BreakKind};

/// Which anchor a reading came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnchorSource {
    /// `audit.anchor` in the data directory.
    Inside,
    /// The signed head outside the data directory.
    Outside,
    /// The last line of the witness file.
    Witness,
}

impl AnchorSource {
    /// Lower-case name for messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Inside => "inside anchor",
            Self::Outside => "outside anchor",
            Self::Witness => "witness",
        }
    }
}

/// What was found where an anchor should be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AnchorState {
    /// No file (for the witness: no line yet).
    Absent,
    /// The file exists but could not be read or parsed; says why.
    Unreadable(String),
    /// A well-formed anchor; `genuine` when its MAC and data-dir id check out.
    Signed {
        /// The head it names.
        head: ChainHead,
        /// Whether it was signed with this data directory's audit key.
        genuine: bool,
    },
}

/// One anchor as read by the caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KnownAnchor {
    /// Which anchor.
    pub source: AnchorSource,
    /// Where it was read (a path), for messages.
    pub location: String,
    /// What was there.
    pub state: AnchorState,
}

impl KnownAnchor {
    /// The inside anchor from [`crate::read_anchor`]'s result.
    pub fn inside(
        read: crate::Result<Option<AnchorFile>>,
        key: &AuditKey,
        location: impl Into<String>,
    ) -> Self {
        let state = match read {
            Ok(None) => AnchorState::Absent,
            Err(e) => AnchorState::Unreadable(e.to_string()),
            Ok(Some(a)) => AnchorState::Signed {
                genuine: a.verify(key),
                head: a.head(),
            },
        };
        Self {
            source: AnchorSource::Inside,
            location: location.into(),
            state,
        }
    }

    /// The outside anchor or the witness's last line.
    pub fn signed_head(
        source: AnchorSource,
        read: crate::Result<Option<SignedHead>>,
        key: &AuditKey,
        dir_id: &DirId,
        location: impl Into<String>,
    ) -> Self {
        let state = match read {
            Ok(None) => AnchorState::Absent,
            Err(e) => AnchorState::Unreadable(e.to_string()),
            Ok(Some(h)) => AnchorState::Signed {
                genuine: h.verify(key, dir_id),
                head: h.head(),
            },
        };
        Self {
            source,
            location: location.into(),
            state,
        }
    }

    /// The head, when the anchor is genuine.
    pub fn genuine_head(&self) -> Option<&ChainHead> {
        match &self.state {
            AnchorState::Signed {
                head,
                genuine: true,
            } => Some(head),
            _ => None,
        }
    }

    fn name(&self) -> String {
        format!("the {} ({})", self.source.as_str(), self.location)
    }
}

/// What the caller knows about the chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainFacts {
    /// The last entry's seq and hash (genesis when there are no entries).
    pub head: ChainHead,
    /// True when the log holds no entries at all.
    pub empty: bool,
    /// True when the database holds state the log vouches for (users).
    pub holds_state: bool,
    /// `(seq, hash)` that a valid retention checkpoint vouches for.
    pub pruned_through: Option<(u64, String)>,
}

/// How the chain's entry at an anchor's seq compares with the anchor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HashAt {
    /// The chain has a genuine entry there with the anchor's hash.
    Matches,
    /// The chain has an entry there with another hash (or a forged one).
    Differs,
    /// The chain has no entry at that seq.
    Absent,
}

/// The first break found, with a sentence saying what was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// Kind and first bad seq.
    pub brk: Break,
    /// What was found, for people.
    pub detail: String,
}

fn finding(seq: u64, kind: BreakKind, detail: String) -> Option<Finding> {
    Some(Finding {
        brk: Break { seq, kind },
        detail,
    })
}

/// Classifies the chain's end against `anchors`. `hash_at(seq, hash)` tells
/// how the chain's entry at `seq` compares with an anchor naming `hash`
/// (asked only for seqs at or before the head).
pub fn classify<E>(
    anchors: &[KnownAnchor],
    facts: &ChainFacts,
    mut hash_at: impl FnMut(u64, &str) -> Result<HashAt, E>,
) -> Result<Option<Finding>, E> {
    let head = facts.head.seq;
    for a in anchors {
        match &a.state {
            AnchorState::Unreadable(why) => {
                return Ok(finding(
                    head,
                    BreakKind::AnchorMismatch,
                    format!("{} cannot be read: {why}", a.name()),
                ));
            }
            AnchorState::Signed {
                head: h,
                genuine: false,
            } => {
                return Ok(finding(
                    h.seq,
                    BreakKind::AnchorMismatch,
                    format!(
                        "{} is not signed by this data directory's audit key",
                        a.name()
                    ),
                ));
            }
            _ => {}
        }
    }
    // `rev`: among equals, name the first (the outside anchor before the witness).
    let furthest = anchors
        .iter()
        .rev()
        .filter_map(|a| a.genuine_head().map(|h| (a, h)))
        .max_by_key(|(_, h)| h.seq);
    if facts.empty {
        if let Some((a, h)) = furthest.filter(|(_, h)| h.seq > 0) {
            return Ok(finding(
                1,
                BreakKind::ChainEmptied,
                format!(
                    "the audit log is empty but {} names seq {}",
                    a.name(),
                    h.seq
                ),
            ));
        }
        if facts.holds_state {
            return Ok(finding(
                1,
                BreakKind::ChainEmptied,
                "the audit log is empty but the database holds users".into(),
            ));
        }
        return Ok(None);
    }
    let inside = anchors
        .iter()
        .find(|a| a.source == AnchorSource::Inside)
        .and_then(|a| a.genuine_head().map(|h| (a, h)));
    if let Some((a, h)) = inside.filter(|(_, h)| h.seq > head) {
        return Ok(finding(
            head.saturating_add(1),
            BreakKind::Truncated,
            format!(
                "{} names seq {} but the chain ends at seq {head}",
                a.name(),
                h.seq
            ),
        ));
    }
    if let Some((a, h)) = furthest.filter(|(_, h)| h.seq > head) {
        return Ok(finding(
            head.saturating_add(1),
            BreakKind::AnchorRolledBack,
            format!(
                "{} names seq {} but the chain and the inside anchor end at seq {head}: \
                 the data directory was rolled back",
                a.name(),
                h.seq
            ),
        ));
    }
    for a in anchors {
        let Some(h) = a.genuine_head() else { continue };
        let ok = if h.seq == 0 {
            h.hash == GENESIS_HASH
        } else {
            match hash_at(h.seq, &h.hash)? {
                HashAt::Matches => true,
                HashAt::Differs => false,
                HashAt::Absent => facts
                    .pruned_through
                    .as_ref()
                    .is_some_and(|(n, ph)| *n == h.seq && *ph == h.hash),
            }
        };
        if !ok {
            return Ok(finding(
                h.seq,
                BreakKind::AnchorMismatch,
                format!(
                    "{} names seq {} with a hash the chain does not have there",
                    a.name(),
                    h.seq
                ),
            ));
        }
    }
    if let Some((_, ih)) = inside {
        let ahead = anchors
            .iter()
            .filter(|a| a.source != AnchorSource::Inside)
            .filter_map(|a| a.genuine_head().map(|h| (a, h)))
            .find(|(_, h)| h.seq > ih.seq);
        if let Some((a, h)) = ahead {
            return Ok(finding(
                ih.seq.saturating_add(1),
                BreakKind::AnchorRolledBack,
                format!(
                    "{} names seq {} but the inside anchor only seq {}: \
                     an older inside anchor was put back",
                    a.name(),
                    h.seq,
                    ih.seq
                ),
            ));
        }
    }
    for a in anchors.iter().filter(|a| a.source != AnchorSource::Witness) {
        if a.state == AnchorState::Absent {
            return Ok(finding(
                head,
                BreakKind::AnchorMissing,
                format!(
                    "{} is missing although the chain has {head} entries",
                    a.name()
                ),
            ));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> AuditKey {
        AuditKey::from_bytes([3u8; 32])
    }

    fn head(seq: u64) -> ChainHead {
        ChainHead {
            seq,
            hash: format!("{:064x}", seq + 1000),
        }
    }

    fn inside(seq: Option<u64>) -> KnownAnchor {
        let k = key();
        KnownAnchor::inside(Ok(seq.map(|s| AnchorFile::sign(&k, &head(s)))), &k, "in")
    }

    fn outside(seq: Option<u64>) -> KnownAnchor {
        let k = key();
        let id = DirId::derive(&k);
        KnownAnchor::signed_head(
            AnchorSource::Outside,
            Ok(seq.map(|s| SignedHead::sign(&k, &id, &head(s), std::time::UNIX_EPOCH))),
            &k,
            &id,
            "out",
        )
    }

    fn facts(seq: u64, holds_state: bool) -> ChainFacts {
        ChainFacts {
            head: if seq == 0 {
                ChainHead::genesis()
            } else {
                head(seq)
            },
            empty: seq == 0,
            holds_state,
            pruned_through: None,
        }
    }

    /// Classifies against a chain 1..=seq whose hashes are `head(n).hash`.
    fn run(anchors: &[KnownAnchor], f: &ChainFacts) -> Option<(BreakKind, u64)> {
        classify::<()>(anchors, f, |seq, hash| {
            Ok(if seq > f.head.seq {
                HashAt::Absent
            } else if head(seq).hash == hash {
                HashAt::Matches
            } else {
                HashAt::Differs
            })
        })
        .unwrap()
        .map(|x| (x.brk.kind, x.brk.seq))
    }

    #[test]
    fn each_case_has_its_own_kind_and_seq() {
        use BreakKind::*;
        // Intact, and anchors behind the head that match.
        assert_eq!(
            run(&[inside(Some(9)), outside(Some(9))], &facts(9, true)),
            None
        );
        assert_eq!(
            run(&[inside(Some(9)), outside(Some(7))], &facts(9, true)),
            None
        );
        // A fresh installation: nothing anywhere.
        assert_eq!(run(&[inside(None), outside(None)], &facts(0, false)), None);
        // Emptied: rows gone (with or without the inside anchor).
        assert_eq!(
            run(&[inside(None), outside(Some(9))], &facts(0, true)),
            Some((ChainEmptied, 1))
        );
        assert_eq!(
            run(&[inside(None), outside(None)], &facts(0, true)),
            Some((ChainEmptied, 1))
        );
        // Truncated behind the inside anchor.
        assert_eq!(
            run(&[inside(Some(9)), outside(Some(9))], &facts(6, true)),
            Some((Truncated, 7))
        );
        // Rolled back together with the inside anchor.
        assert_eq!(
            run(&[inside(Some(6)), outside(Some(9))], &facts(6, true)),
            Some((AnchorRolledBack, 7))
        );
        // An older inside anchor put back over an intact chain.
        assert_eq!(
            run(&[inside(Some(6)), outside(Some(9))], &facts(9, true)),
            Some((AnchorRolledBack, 7))
        );
        // Missing anchors.
        assert_eq!(
            run(&[inside(None), outside(Some(9))], &facts(9, true)),
            Some((AnchorMissing, 9))
        );
        assert_eq!(
            run(&[inside(Some(9)), outside(None)], &facts(9, true)),
            Some((AnchorMissing, 9))
        );
        // A hash the chain does not have.
        let mut other = facts(9, true);
        other.head.hash = "ab".repeat(32);
        let wrong = classify::<()>(&[inside(Some(5))], &other, |_, _| Ok(HashAt::Differs)).unwrap();
        assert_eq!(
            wrong.map(|f| (f.brk.kind, f.brk.seq)),
            Some((AnchorMismatch, 5))
        );
    }

    #[test]
    fn forged_or_foreign_anchors_are_mismatches() {
        let k = key();
        let other = AuditKey::from_bytes([4u8; 32]);
        let forged = KnownAnchor::inside(Ok(Some(AnchorFile::sign(&other, &head(9)))), &k, "in");
        assert_eq!(
            run(&[forged, outside(Some(9))], &facts(9, true)),
            Some((BreakKind::AnchorMismatch, 9))
        );
        // A genuine head of another data directory (another key, another id).
        let theirs = SignedHead::sign(
            &other,
            &DirId::derive(&other),
            &head(9),
            std::time::UNIX_EPOCH,
        );
        let foreign = KnownAnchor::signed_head(
            AnchorSource::Outside,
            Ok(Some(theirs)),
            &k,
            &DirId::derive(&k),
            "out",
        );
        assert_eq!(
            run(&[inside(Some(9)), foreign], &facts(9, true)),
            Some((BreakKind::AnchorMismatch, 9))
        );
    }

    #[test]
    fn a_witness_without_lines_is_no_break_but_one_ahead_is() {
        let k = key();
        let id = DirId::derive(&k);
        let witness = |seq: Option<u64>| {
            KnownAnchor::signed_head(
                AnchorSource::Witness,
                Ok(seq.map(|s| SignedHead::sign(&k, &id, &head(s), std::time::UNIX_EPOCH))),
                &k,
                &id,
                "w",
            )
        };
        let both = |w| [inside(Some(9)), outside(Some(9)), w];
        assert_eq!(run(&both(witness(None)), &facts(9, true)), None);
        assert_eq!(run(&both(witness(Some(9))), &facts(9, true)), None);
        assert_eq!(
            run(&both(witness(Some(12))), &facts(9, true)),
            Some((BreakKind::AnchorRolledBack, 10))
        );
    }
}
