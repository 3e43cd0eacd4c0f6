//! Sealing drafts into chained entries, and the hash check of one entry.
//!
//! Owns: the entry hash (`HMAC-SHA256(audit_key, canonical body)`), running
//! redaction inside sealing so no caller can skip it, and the retention
//! checkpoint draft. It must never store entries or decide chain order; the
//! application's single writer passes the current head.

use crate::entry::{Actor, ChainHead, Draft, Entry, Outcome};
use crate::key::AuditKey;
use crate::redact::Redactor;
use serde_json::{Value, json};

/// Action of the entry appended after a retention prune.
pub const CHECKPOINT_ACTION: &str = "audit.checkpoint";

/// Redacts `draft`, appends it after `head` and computes its hash.
pub fn seal_entry(key: &AuditKey, head: &ChainHead, draft: Draft, redactor: &Redactor) -> Entry {
    let Draft {
        ts,
        mut actor,
        mut action,
        mut target,
        outcome,
        mut ip,
        mut details,
    } = draft;
    redactor.redact_details(&mut details);
    redactor.redact_string(&mut actor.id);
    redactor.redact_string(&mut action);
    redactor.redact_string(&mut target);
    if let Some(ip) = ip.as_mut() {
        redactor.redact_string(ip);
    }
    let mut entry = Entry {
        // 2^64 appends cannot happen; saturate rather than wrap to 0.
        seq: head.seq.saturating_add(1),
        ts,
        actor,
        action,
        target,
        outcome,
        ip,
        details: Value::Object(details),
        prev_hash: head.hash.clone(),
        hash: String::new(),
    };
    entry.hash = hex::encode(entry_tag(key, &entry, &mut String::new()));
    entry
}

/// The HMAC of an entry's canonical body; `buf` is scratch space.
pub(crate) fn entry_tag(key: &AuditKey, entry: &Entry, buf: &mut String) -> [u8; 32] {
    entry.write_canonical_body(buf);
    key.tag(&[buf.as_bytes()])
}

/// Whether `entry.hash` is the HMAC of its body under `key` (constant time).
/// The stored hash must be exactly 64 lowercase hex digits.
pub fn entry_hash_valid(key: &AuditKey, entry: &Entry) -> bool {
    entry_hash_valid_with(key, entry, &mut String::new())
}

/// [`entry_hash_valid`] reusing `buf` for the canonical body.
pub(crate) fn entry_hash_valid_with(key: &AuditKey, entry: &Entry, buf: &mut String) -> bool {
    let mut stored = [0u8; 32];
    let well_formed = entry.hash.len() == 64
        && !entry.hash.bytes().any(|b| b.is_ascii_uppercase())
        && hex::decode_to_slice(&entry.hash, &mut stored).is_ok();
    if !well_formed {
        return false;
    }
    entry.write_canonical_body(buf);
    key.verify_tag(&[buf.as_bytes()], &stored)
}

/// The draft the application appends right after deleting entries up to and
/// including `last_pruned`; the verifier accepts the shortened chain because
/// this entry vouches for it.
pub fn checkpoint_draft(last_pruned: &Entry) -> Draft {
    Draft::new(Actor::system(), CHECKPOINT_ACTION, Outcome::Success).details(json!({
        "pruned_through_seq": last_pruned.seq,
        "pruned_through_hash": last_pruned.hash,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::GENESIS_HASH;

    fn key() -> AuditKey {
        AuditKey::from_bytes([9u8; 32])
    }

    #[test]
    fn seal_links_to_head_and_hash_verifies() {
        let k = key();
        let r = Redactor::without_secrets();
        let e1 = seal_entry(
            &k,
            &ChainHead::genesis(),
            Draft::new(Actor::system(), "a.b", Outcome::Success),
            &r,
        );
        assert_eq!(e1.seq, 1);
        assert_eq!(e1.prev_hash, GENESIS_HASH);
        assert_eq!(e1.hash.len(), 64);
        let e2 = seal_entry(
            &k,
            &ChainHead::of(&e1),
            Draft::new(Actor::user("1"), "c.d", Outcome::Denied),
            &r,
        );
        assert_eq!(e2.seq, 2);
        assert_eq!(e2.prev_hash, e1.hash);
        let mut buf = String::new();
        assert!(entry_hash_valid_with(&k, &e1, &mut buf));
        assert!(entry_hash_valid_with(&k, &e2, &mut buf));
        assert!(!entry_hash_valid(&AuditKey::from_bytes([8u8; 32]), &e2));
    }

    #[test]
    fn hash_covers_every_field() {
        let k = key();
        let r = Redactor::without_secrets();
        let draft = Draft::new(Actor::user("1"), "auth.login", Outcome::Success)
            .target("user:1")
            .ip("192.0.2.9")
            .details(json!({"n": 1}));
        let e = seal_entry(&k, &ChainHead::genesis(), draft, &r);
        let mut buf = String::new();
        let edits: Vec<fn(&mut Entry)> = vec![
            |e| e.seq += 1,
            |e| e.ts.push('0'),
            |e| e.actor.kind = crate::entry::ActorKind::System,
            |e| e.actor.id.push('2'),
            |e| e.action.push('x'),
            |e| e.target.clear(),
            |e| e.outcome = Outcome::Failure,
            |e| e.ip = None,
            |e| e.details = json!({"n": 2}),
            |e| e.prev_hash = "1".repeat(64),
            |e| e.hash = e.hash.to_uppercase(),
            |e| e.hash.truncate(32),
        ];
        for (i, edit) in edits.iter().enumerate() {
            let mut tampered = e.clone();
            edit(&mut tampered);
            assert!(
                !entry_hash_valid_with(&k, &tampered, &mut buf),
                "edit {i} went unnoticed"
            );
        }
        assert!(entry_hash_valid_with(&k, &e, &mut buf));
    }

    #[test]
    fn seal_redacts_every_field() {
        let k = key();
        let r = Redactor::new(["s3cr3t-value-xyz"]);
        let draft = Draft::new(
            Actor::user("s3cr3t-value-xyz"),
            "x.s3cr3t-value-xyz",
            Outcome::Success,
        )
        .target("t:s3cr3t-value-xyz")
        .ip("s3cr3t-value-xyz")
        .details(json!({"password": "p", "note": "has s3cr3t-value-xyz"}));
        let e = seal_entry(&k, &ChainHead::genesis(), draft, &r);
        let text = serde_json::to_string(&e).unwrap();
        assert!(!text.contains("s3cr3t-value-xyz"), "{text}");
        assert_eq!(
            e.details,
            json!({"password": "[REDACTED]", "note": "has [REDACTED]"})
        );
        assert_eq!(e.actor.id, "[REDACTED]");
        assert_eq!(e.target, "t:[REDACTED]");
    }

    #[test]
    fn checkpoint_draft_records_the_pruned_head() {
        let k = key();
        let r = Redactor::without_secrets();
        let e = seal_entry(
            &k,
            &ChainHead::genesis(),
            Draft::new(Actor::system(), "a", Outcome::Success),
            &r,
        );
        let cp = seal_entry(&k, &ChainHead::of(&e), checkpoint_draft(&e), &r);
        assert_eq!(cp.action, CHECKPOINT_ACTION);
        assert_eq!(cp.actor, Actor::system());
        assert_eq!(
            cp.details,
            json!({"pruned_through_seq": 1, "pruned_through_hash": e.hash})
        );
    }
}
