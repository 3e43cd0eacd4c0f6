//! Helpers shared by the integration tests: building sealed chains.

#![allow(dead_code)]

use audit::{
    Actor, AnchorFile, AuditKey, ChainHead, Draft, Entry, Outcome, Redactor, Verifier,
    VerifyReport, seal_entry,
};
use serde_json::json;
use std::time::{Duration, UNIX_EPOCH};

pub fn key() -> AuditKey {
    AuditKey::from_bytes([0x42; 32])
}

pub fn other_key() -> AuditKey {
    AuditKey::from_bytes([0x24; 32])
}

pub fn draft(i: u64) -> Draft {
    Draft::new(
        Actor::user(format!("u{}", i % 13)),
        "test.event",
        Outcome::Success,
    )
    .at(UNIX_EPOCH + Duration::from_millis(1_795_470_000_000 + i))
    .target(format!("item:{i}"))
    .details(json!({"i": i, "list": [i, "x"], "f": 0.5}))
}

/// Appends `n` entries after `head`.
pub fn extend(key: &AuditKey, chain: &mut Vec<Entry>, n: u64) {
    let r = Redactor::without_secrets();
    let mut head = chain.last().map_or_else(ChainHead::genesis, ChainHead::of);
    for _ in 0..n {
        let e = seal_entry(key, &head, draft(head.seq + 1), &r);
        head = ChainHead::of(&e);
        chain.push(e);
    }
}

pub fn chain(key: &AuditKey, n: u64) -> Vec<Entry> {
    let mut c = Vec::new();
    extend(key, &mut c, n);
    c
}

pub fn anchor_for(key: &AuditKey, chain: &[Entry]) -> AnchorFile {
    AnchorFile::sign(
        key,
        &chain.last().map_or_else(ChainHead::genesis, ChainHead::of),
    )
}

pub fn verify(
    key: &AuditKey,
    entries: &[Entry],
    anchor: Option<AnchorFile>,
    checkpoint: Option<Entry>,
) -> VerifyReport {
    let mut v = Verifier::new(key, anchor, checkpoint);
    for e in entries {
        v.push(e);
    }
    v.finish()
}
