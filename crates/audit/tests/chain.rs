//! Chain verification: every kind of tampering `audit verify` names, classified.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use audit::{Break, BreakKind, ChainHead, Redactor, checkpoint_draft, seal_entry};
use common::*;

/// A tampering step applied to one stored entry.
type Edit = fn(&mut audit::Entry);

fn brk(seq: u64, kind: BreakKind) -> Option<Break> {
    Some(Break { seq, kind })
}

#[test]
fn intact_chain_of_10000_verifies() {
    let k = key();
    let c = chain(&k, 10_000);
    let r = verify(&k, &c, Some(anchor_for(&k, &c)), None);
    assert!(r.intact, "{r:?}");
    assert_eq!(r.count, 10_000);
    assert_eq!(r.first_break, None);
}

#[test]
fn empty_chain_without_anchor_is_intact() {
    let r = verify(&key(), &[], None, None);
    assert!(r.intact);
    assert_eq!(r.count, 0);
}

#[test]
fn editing_any_field_of_entry_k_is_modified_at_k() {
    let k = key();
    let c = chain(&k, 50);
    let anchor = anchor_for(&k, &c);
    let edits: Vec<(&str, Edit)> = vec![
        ("target", |e| e.target.push('!')),
        ("details", |e| e.details["i"] = serde_json::json!(999)),
        ("outcome", |e| e.outcome = audit::Outcome::Denied),
        ("ts", |e| e.ts = "2020-01-01T00:00:00.000Z".into()),
        ("actor", |e| e.actor = audit::Actor::system()),
        ("ip", |e| e.ip = Some("203.0.113.1".into())),
        ("seq", |e| e.seq += 100),
        ("hash", |e| e.hash = "0".repeat(64)),
    ];
    for k_idx in [1u64, 17, 50] {
        for (name, edit) in &edits {
            let mut t = c.clone();
            edit(&mut t[(k_idx - 1) as usize]);
            let r = verify(&k, &t, Some(anchor.clone()), None);
            assert_eq!(
                r.first_break,
                brk(k_idx, BreakKind::Modified),
                "edit {name} at {k_idx}"
            );
            assert!(!r.intact);
        }
    }
}

#[test]
fn a_resealed_fork_that_does_not_link_is_modified() {
    // Even with the key, an entry sealed onto another head does not link.
    let k = key();
    let mut c = chain(&k, 10);
    let fake_head = ChainHead {
        seq: 4,
        hash: "ab".repeat(32),
    };
    c[4] = seal_entry(&k, &fake_head, draft(5), &Redactor::without_secrets());
    let r = verify(&k, &c, Some(anchor_for(&k, &c)), None);
    assert_eq!(r.first_break, brk(5, BreakKind::Modified));
}

#[test]
fn deleting_entry_k_is_missing_at_k() {
    let k = key();
    let c = chain(&k, 30);
    let anchor = anchor_for(&k, &c);
    for k_idx in [1u64, 2, 15, 29] {
        let mut t = c.clone();
        t.remove((k_idx - 1) as usize);
        let r = verify(&k, &t, Some(anchor.clone()), None);
        assert_eq!(
            r.first_break,
            brk(k_idx, BreakKind::Missing),
            "delete {k_idx}"
        );
    }
    // Deleting a run of entries reports the first one.
    let mut t = c.clone();
    t.drain(9..12);
    assert_eq!(
        verify(&k, &t, Some(anchor), None).first_break,
        brk(10, BreakKind::Missing)
    );
}

#[test]
fn swapping_entries_k_and_k_plus_1_is_reordered_at_k() {
    let k = key();
    let c = chain(&k, 30);
    let anchor = anchor_for(&k, &c);
    for k_idx in [1u64, 2, 15, 29] {
        let mut t = c.clone();
        t.swap((k_idx - 1) as usize, k_idx as usize);
        let r = verify(&k, &t, Some(anchor.clone()), None);
        assert_eq!(
            r.first_break,
            brk(k_idx, BreakKind::Reordered),
            "swap {k_idx}"
        );
    }
}

#[test]
fn moved_or_duplicated_entries_are_reordered() {
    let k = key();
    let c = chain(&k, 20);
    let anchor = anchor_for(&k, &c);
    // Entry 5 moved three places later.
    let mut t = c.clone();
    let moved = t.remove(4);
    t.insert(7, moved);
    assert_eq!(
        verify(&k, &t, Some(anchor.clone()), None).first_break,
        brk(5, BreakKind::Reordered)
    );
    // A copy of entry 3 appended at the end.
    let mut t = c.clone();
    t.push(c[2].clone());
    assert_eq!(
        verify(&k, &t, Some(anchor.clone()), None).first_break,
        brk(3, BreakKind::Reordered)
    );
    // Entry 5 deleted and a forged entry 5 appended later: still missing.
    let mut t = c.clone();
    let mut forged = t.remove(4);
    forged.target = "forged".into();
    t.push(forged);
    assert_eq!(
        verify(&k, &t, Some(anchor), None).first_break,
        brk(5, BreakKind::Missing)
    );
}

#[test]
fn deleting_the_last_n_entries_is_truncated_at_the_first_missing_seq() {
    let k = key();
    let c = chain(&k, 40);
    let anchor = anchor_for(&k, &c);
    for n in [1usize, 5, 39] {
        let t = &c[..c.len() - n];
        let r = verify(&k, t, Some(anchor.clone()), None);
        assert_eq!(
            r.first_break,
            brk((40 - n + 1) as u64, BreakKind::Truncated),
            "cut {n}"
        );
    }
    // All of them: the chain was emptied.
    assert_eq!(
        verify(&k, &[], Some(anchor), None).first_break,
        brk(1, BreakKind::ChainEmptied)
    );
}

#[test]
fn rewriting_the_whole_chain_with_another_key_is_modified_at_1() {
    let k = key();
    let forged = chain(&other_key(), 25);
    // Consistent forgery, anchor included, all under the wrong key.
    let r = verify(&k, &forged, Some(anchor_for(&other_key(), &forged)), None);
    assert_eq!(r.first_break, brk(1, BreakKind::Modified));
    // A chain sealed with the wrong key fails under the right one and vice versa.
    let real = chain(&k, 3);
    assert!(!verify(&other_key(), &real, Some(anchor_for(&k, &real)), None).intact);
}

#[test]
fn deleting_the_anchor_is_anchor_missing() {
    let k = key();
    let c = chain(&k, 10);
    assert_eq!(
        verify(&k, &c, None, None).first_break,
        brk(10, BreakKind::AnchorMissing)
    );
}

#[test]
fn an_anchor_signed_with_another_key_is_anchor_mismatch() {
    let k = key();
    let c = chain(&k, 10);
    let forged = anchor_for(&other_key(), &c);
    assert_eq!(
        verify(&k, &c, Some(forged), None).first_break,
        brk(10, BreakKind::AnchorMismatch)
    );
    // Forged anchor that also claims a longer chain: still refused as forged.
    let mut longer = anchor_for(&k, &c);
    longer.seq = 12;
    assert_eq!(
        verify(&k, &c, Some(longer), None).first_break,
        brk(12, BreakKind::AnchorMismatch)
    );
}

#[test]
fn an_anchor_for_a_different_chain_is_anchor_mismatch() {
    // Correct key and MAC, but the hash is not this chain's entry at that seq.
    let k = key();
    let c = chain(&k, 10);
    let mut other = chain(&k, 4);
    other[3] = seal_entry(
        &k,
        &ChainHead::of(&other[2]),
        draft(99),
        &Redactor::without_secrets(),
    );
    let r = verify(&k, &c, Some(anchor_for(&k, &other)), None);
    assert_eq!(r.first_break, brk(4, BreakKind::AnchorMismatch));
}

#[test]
fn an_older_anchor_behind_the_head_is_accepted_only_if_it_matches() {
    let k = key();
    let c = chain(&k, 10);
    // Appends raced the anchor write: anchor at 7 names entry 7's real hash.
    let old = anchor_for(&k, &c[..7]);
    assert!(verify(&k, &c, Some(old), None).intact);
    // An anchor at seq 0 naming the genesis hash is behind any chain.
    let zero = audit::AnchorFile::sign(&k, &ChainHead::genesis());
    assert!(verify(&k, &c, Some(zero), None).intact);
}

#[test]
fn an_unreadable_anchor_file_fails_verification() {
    let k = key();
    let c = chain(&k, 3);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.anchor");
    std::fs::write(&path, "garbage").unwrap();
    let known = audit::KnownAnchor::inside(audit::read_anchor(&path), &k, "audit.anchor");
    let mut v = audit::Verifier::with_anchors(&k, vec![known], None);
    for e in &c {
        v.push(e);
    }
    let r = v.finish();
    assert_eq!(r.first_break, brk(3, BreakKind::AnchorMismatch));
    assert!(r.detail.unwrap().contains("cannot be read"));
    // The written anchor is accepted once it is real.
    audit::write_anchor(&path, &anchor_for(&k, &c)).unwrap();
    let anchor = audit::read_anchor(&path).unwrap();
    assert!(verify(&k, &c, anchor, None).intact);
}

#[test]
fn an_unreadable_row_is_modified_at_its_position() {
    let k = key();
    let c = chain(&k, 6);
    let mut v = audit::Verifier::new(&k, Some(anchor_for(&k, &c)), None);
    for e in &c[..3] {
        v.push(e);
    }
    v.push_unreadable();
    for e in &c[4..] {
        v.push(e);
    }
    let r = v.finish();
    assert_eq!(r.first_break, brk(4, BreakKind::Modified));
    assert_eq!(r.count, 6);
}

/// A chain of `n` entries pruned through `through`, then a checkpoint, then `more`.
fn pruned(n: u64, through: u64, more: u64) -> (Vec<audit::Entry>, audit::Entry) {
    let k = key();
    let mut c = chain(&k, n);
    let last_pruned = c[(through - 1) as usize].clone();
    let cp = seal_entry(
        &k,
        &ChainHead::of(c.last().unwrap()),
        checkpoint_draft(&last_pruned),
        &Redactor::without_secrets(),
    );
    c.push(cp.clone());
    extend(&k, &mut c, more);
    c.drain(..through as usize);
    (c, cp)
}

#[test]
fn a_pruned_chain_with_its_checkpoint_verifies() {
    let k = key();
    let (c, cp) = pruned(100, 40, 5);
    assert_eq!(c[0].seq, 41);
    let r = verify(&k, &c, Some(anchor_for(&k, &c)), Some(cp.clone()));
    assert!(r.intact, "{r:?}");
    assert_eq!(r.count, 66);
    // Anchor still naming the checkpoint (appends raced) is fine too.
    let upto_cp: Vec<_> = c.iter().take_while(|e| e.seq <= cp.seq).cloned().collect();
    assert!(verify(&k, &c, Some(anchor_for(&k, &upto_cp)), Some(cp)).intact);
    // Everything before the checkpoint pruned: the checkpoint is the first entry.
    let (c, cp) = pruned(20, 20, 2);
    assert_eq!(c[0].seq, 21);
    assert!(verify(&k, &c, Some(anchor_for(&k, &c)), Some(cp)).intact);
}

#[test]
fn a_pruned_chain_without_a_valid_checkpoint_is_missing_at_1() {
    let k = key();
    let (c, cp) = pruned(50, 20, 2);
    let anchor = anchor_for(&k, &c);
    assert_eq!(
        verify(&k, &c, Some(anchor.clone()), None).first_break,
        brk(1, BreakKind::Missing)
    );
    // Checkpoint edited to vouch for a different prune point: its HMAC fails.
    let mut edited = cp.clone();
    edited.details["pruned_through_seq"] = serde_json::json!(10);
    assert_eq!(
        verify(&k, &c, Some(anchor.clone()), Some(edited)).first_break,
        brk(1, BreakKind::Missing)
    );
    // A genuine entry that is not a checkpoint cannot vouch.
    let mut fake = seal_entry(
        &k,
        &ChainHead::of(&c[0]),
        draft(0),
        &Redactor::without_secrets(),
    );
    fake.action = "audit.checkpoint".into();
    assert_eq!(
        verify(&k, &c, Some(anchor), Some(fake)).first_break,
        brk(1, BreakKind::Missing)
    );
}

#[test]
fn entries_deleted_beyond_the_checkpoint_are_missing() {
    let k = key();
    let (mut c, cp) = pruned(50, 20, 2);
    c.drain(..3); // entries 21..23 also gone
    let r = verify(&k, &c, Some(anchor_for(&k, &c)), Some(cp));
    assert_eq!(r.first_break, brk(21, BreakKind::Missing));
}

#[test]
fn the_checkpoint_must_appear_in_the_stream_intact() {
    let k = key();
    let (c, cp) = pruned(30, 10, 3);
    let anchor = anchor_for(&k, &c);
    // Checkpoint row deleted from the chain (a gap at its seq).
    let mut t = c.clone();
    let at = t.iter().position(|e| e.seq == cp.seq).unwrap();
    t.remove(at);
    assert_eq!(
        verify(&k, &t, Some(anchor.clone()), Some(cp.clone())).first_break,
        brk(cp.seq, BreakKind::Missing)
    );
    // Checkpoint was the last entry and was cut off: the anchor shows it.
    let (c2, cp2) = pruned(30, 10, 0);
    let without = &c2[..c2.len() - 1];
    assert_eq!(
        verify(&k, without, Some(anchor_for(&k, &c2)), Some(cp2.clone())).first_break,
        brk(cp2.seq, BreakKind::Truncated)
    );
    // Same, with an anchor that is older than the checkpoint: missing.
    assert_eq!(
        verify(
            &k,
            without,
            Some(anchor_for(&k, without)),
            Some(cp2.clone())
        )
        .first_break,
        brk(cp2.seq, BreakKind::Missing)
    );
    // The checkpoint handed in differs from the entry at that seq.
    // Same position and prune claim, different timestamp: a different entry.
    let other_cp = seal_entry(
        &k,
        &ChainHead {
            seq: cp.seq - 1,
            hash: cp.prev_hash.clone(),
        },
        checkpoint_draft(&audit::Entry {
            seq: 10,
            hash: c[0].prev_hash.clone(),
            ..cp.clone()
        })
        .at(std::time::UNIX_EPOCH),
        &Redactor::without_secrets(),
    );
    assert_ne!(other_cp.hash, cp.hash);
    assert_eq!(
        verify(&k, &c, Some(anchor), Some(other_cp)).first_break,
        brk(cp.seq, BreakKind::Modified)
    );
}

#[test]
fn an_anchor_older_than_the_prune_is_mismatch_unless_it_names_the_pruned_head() {
    let k = key();
    let full = chain(&k, 30);
    let (c, cp) = pruned(30, 10, 2);
    // Anchor at 5: that entry was pruned and cannot be checked.
    let stale = anchor_for(&k, &full[..5]);
    assert_eq!(
        verify(&k, &c, Some(stale), Some(cp.clone())).first_break,
        brk(5, BreakKind::AnchorMismatch)
    );
    // Anchor exactly at the pruned head the checkpoint records.
    let at_prune = anchor_for(&k, &full[..10]);
    assert!(verify(&k, &c, Some(at_prune), Some(cp)).intact);
}
