//! audit: the keyed, hash-chained audit log as a pure library.
//!
//! Owns the entry model, canonical JSON, redaction, sealing, the signed
//! anchors (inside, outside, witness), the check of the chain's end against
//! them, and streaming verification (docs/architecture.md, "Audit log and
//! anchors"). It must never open the database or write SQL: the
//! application's single writer stores entries and hands them back here, in
//! physical insertion order, for verification.

pub mod anchor;
pub mod canonical;
pub mod check;
pub mod entry;
pub mod error;
pub mod key;
pub mod outside;
pub mod redact;
pub mod seal;
pub mod verify;

pub use anchor::{AnchorFile, read_anchor, write_anchor};
pub use canonical::{canonicalize_json, to_canonical_string};
pub use check::{AnchorSource, AnchorState, ChainFacts, Finding, HashAt, KnownAnchor, classify};
pub use entry::{Actor, ActorKind, ChainHead, Draft, Entry, GENESIS_HASH, Outcome, format_ts};
pub use error::{AuditError, Result};
pub use key::AuditKey;
pub use outside::{
    DirId, SignedHead, append_witness, read_outside_anchor, read_witness_last, write_outside_anchor,
};
pub use redact::{REDACTED, Redactor, is_credential_name};
pub use seal::{CHECKPOINT_ACTION, checkpoint_draft, entry_hash_valid, seal_entry};
pub use verify::{Break, BreakKind, Verifier, VerifyReport};
