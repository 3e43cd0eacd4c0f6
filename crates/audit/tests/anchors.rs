//! The verifier against every anchor (inside, outside, witness), each
//! rollback case with its own kind and first bad seq, read from real files.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use audit::{
    AnchorSource, AuditKey, Break, BreakKind, ChainHead, DirId, Entry, KnownAnchor, SignedHead,
    Verifier, VerifyReport,
};
use common::*;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// A data directory's anchors in a temp dir, as the application lays them out.
struct Places {
    _dir: tempfile::TempDir,
    inside: PathBuf,
    outside: PathBuf,
    witness: PathBuf,
}

fn places(k: &AuditKey) -> Places {
    let dir = tempfile::tempdir().unwrap();
    let inside = dir.path().join("data/audit.anchor");
    std::fs::create_dir_all(inside.parent().unwrap()).unwrap();
    let outside = dir
        .path()
        .join("config/hardshell")
        .join(DirId::derive(k).anchor_file_name());
    let witness = dir.path().join("witness/heads.log");
    Places {
        _dir: dir,
        inside,
        outside,
        witness,
    }
}

fn head_of(c: &[Entry]) -> ChainHead {
    c.last().map_or_else(ChainHead::genesis, ChainHead::of)
}

/// Signs `c`'s head into every anchor, as the writer does after a batch.
fn publish(k: &AuditKey, p: &Places, c: &[Entry]) {
    let head = head_of(c);
    audit::write_anchor(&p.inside, &audit::AnchorFile::sign(k, &head)).unwrap();
    let signed = SignedHead::sign(k, &DirId::derive(k), &head, SystemTime::now());
    audit::write_outside_anchor(&p.outside, &signed).unwrap();
    audit::append_witness(&p.witness, &signed).unwrap();
}

fn read(k: &AuditKey, p: &Places) -> Vec<KnownAnchor> {
    let id = DirId::derive(k);
    let loc = |p: &Path| p.display().to_string();
    vec![
        KnownAnchor::inside(audit::read_anchor(&p.inside), k, loc(&p.inside)),
        KnownAnchor::signed_head(
            AnchorSource::Outside,
            audit::read_outside_anchor(&p.outside),
            k,
            &id,
            loc(&p.outside),
        ),
        KnownAnchor::signed_head(
            AnchorSource::Witness,
            audit::read_witness_last(&p.witness),
            k,
            &id,
            loc(&p.witness),
        ),
    ]
}

fn run(k: &AuditKey, p: &Places, c: &[Entry], holds_users: bool) -> VerifyReport {
    let mut v = Verifier::with_anchors(k, read(k, p), None).holds_state(holds_users);
    for e in c {
        v.push(e);
    }
    v.finish()
}

fn brk(seq: u64, kind: BreakKind) -> Option<Break> {
    Some(Break { seq, kind })
}

/// 30 entries published in batches of 10; returns the chain and the
/// inside anchor file as it was after the second batch.
fn installation(k: &AuditKey, p: &Places) -> (Vec<Entry>, Vec<u8>) {
    let mut c = Vec::new();
    let mut older = Vec::new();
    for batch in 0..3 {
        extend(k, &mut c, 10);
        publish(k, p, &c);
        if batch == 1 {
            older = std::fs::read(&p.inside).unwrap();
        }
    }
    (c, older)
}

#[test]
fn intact_with_every_anchor() {
    let k = key();
    let p = places(&k);
    let (c, _) = installation(&k, &p);
    let r = run(&k, &p, &c, true);
    assert!(r.intact, "{r:?}");
    assert_eq!(r.count, 30);
    assert_eq!(
        std::fs::read_to_string(&p.witness).unwrap().lines().count(),
        3
    );
}

#[test]
fn database_rolled_back_keeping_the_newer_inside_anchor_is_truncated() {
    let k = key();
    let p = places(&k);
    let (c, _) = installation(&k, &p);
    let r = run(&k, &p, &c[..20], true);
    assert_eq!(r.first_break, brk(21, BreakKind::Truncated));
}

#[test]
fn database_rolled_back_with_its_inside_anchor_is_anchor_rolled_back() {
    let k = key();
    let p = places(&k);
    let (c, older) = installation(&k, &p);
    std::fs::write(&p.inside, older).unwrap();
    let r = run(&k, &p, &c[..20], true);
    assert_eq!(r.first_break, brk(21, BreakKind::AnchorRolledBack));
    assert!(
        r.detail.unwrap().contains("outside anchor"),
        "names the anchor"
    );
}

#[test]
fn an_older_genuine_inside_anchor_over_an_intact_chain_is_anchor_rolled_back() {
    let k = key();
    let p = places(&k);
    let (c, older) = installation(&k, &p);
    std::fs::write(&p.inside, older).unwrap();
    let r = run(&k, &p, &c, true);
    assert_eq!(r.first_break, brk(21, BreakKind::AnchorRolledBack));
}

#[test]
fn emptied_chain_is_chain_emptied_with_or_without_anchors() {
    let k = key();
    let p = places(&k);
    installation(&k, &p);
    std::fs::remove_file(&p.inside).unwrap();
    assert_eq!(
        run(&k, &p, &[], true).first_break,
        brk(1, BreakKind::ChainEmptied)
    );
    // No anchor anywhere, but the database holds users.
    let bare = places(&k);
    assert_eq!(
        run(&k, &bare, &[], true).first_break,
        brk(1, BreakKind::ChainEmptied)
    );
    // A fresh installation: nothing, and no users yet.
    assert!(run(&k, &bare, &[], false).intact);
}

#[test]
fn a_missing_inside_or_outside_anchor_is_anchor_missing() {
    let k = key();
    let p = places(&k);
    let (c, _) = installation(&k, &p);
    let inside = std::fs::read(&p.inside).unwrap();
    std::fs::remove_file(&p.inside).unwrap();
    assert_eq!(
        run(&k, &p, &c, true).first_break,
        brk(30, BreakKind::AnchorMissing)
    );
    std::fs::write(&p.inside, inside).unwrap();
    std::fs::remove_file(&p.outside).unwrap();
    assert_eq!(
        run(&k, &p, &c, true).first_break,
        brk(30, BreakKind::AnchorMissing)
    );
}

#[test]
fn the_witness_alone_catches_a_rollback_of_both_anchors() {
    // Inside and outside anchors both put back to an older genuine state
    // (say the outside directory was restored from the same old backup):
    // the append-only witness still names the later head.
    let k = key();
    let p = places(&k);
    let (c, _) = installation(&k, &p);
    let inside_20 = audit::AnchorFile::sign(&k, &head_of(&c[..20]));
    audit::write_anchor(&p.inside, &inside_20).unwrap();
    let outside_20 = SignedHead::sign(
        &k,
        &DirId::derive(&k),
        &head_of(&c[..20]),
        SystemTime::now(),
    );
    audit::write_outside_anchor(&p.outside, &outside_20).unwrap();
    assert_eq!(
        run(&k, &p, &c[..20], true).first_break,
        brk(21, BreakKind::AnchorRolledBack)
    );
}

#[test]
fn another_installations_outside_anchor_is_anchor_mismatch() {
    let k = key();
    let p = places(&k);
    let (c, _) = installation(&k, &p);
    let theirs = SignedHead::sign(
        &other_key(),
        &DirId::derive(&other_key()),
        &head_of(&c),
        SystemTime::now(),
    );
    audit::write_outside_anchor(&p.outside, &theirs).unwrap();
    assert_eq!(
        run(&k, &p, &c, true).first_break,
        brk(30, BreakKind::AnchorMismatch)
    );
}
