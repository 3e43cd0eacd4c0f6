//! Pairing codes and the decisions around them: invites an owner or admin
//! mints, requests a stranger's first message opens, and the owner's
//! approve, deny and revoke. Every decision is audited.
//!
//! Codes are 8 characters from an alphabet without look-alikes, drawn
//! from the OS CSPRNG, and stored only as `HMAC-SHA256(pepper, code)`.
//! Wrong codes are counted per sender (`/start`) and per approver; after
//! `MAX_FAILURES` the key is locked out for `LOCKOUT`, and the real code
//! still works for everyone else. This module never calls an agent and
//! never writes SQL.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::Rng;

use crate::app::Pepper;
use crate::audit_log::AuditLog;
use crate::store::Store;
use crate::store::channels::{InviteRow, Opened, RequestRow, SenderRow};

/// No 0/O, 1/I/L: 31 symbols, so 8 of them carry about 39.6 bits.
const ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
pub const CODE_LEN: usize = 8;
/// An invite lives this long.
pub const INVITE_TTL_SECS: i64 = 15 * 60;
/// A pairing request lives this long.
pub const REQUEST_TTL_SECS: i64 = 60 * 60;
/// At most this many requests pending per channel.
pub const PENDING_CAP: i64 = 3;
/// Wrong codes before a lockout, and its length.
pub const MAX_FAILURES: u32 = 5;
pub const LOCKOUT: Duration = Duration::from_secs(15 * 60);
/// Keys the guess counter tracks at most (oldest forgotten first).
const MAX_TRACKED: usize = 10_000;

/// A fresh code (shown once, never stored in clear).
pub fn new_code() -> String {
    let mut rng = rand::rng();
    (0..CODE_LEN)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect()
}

/// Longest code as typed, spaces and dashes included.
pub const MAX_TYPED_CODE_CHARS: usize = 64;

/// A code as typed: case, spaces and dashes do not matter. `None` when it
/// cannot be a code at all (also when over [`MAX_TYPED_CODE_CHARS`]).
pub fn normalise(typed: &str) -> Option<String> {
    if typed.chars().count() > MAX_TYPED_CODE_CHARS {
        return None;
    }
    let code: String = typed
        .chars()
        .filter(|c| !matches!(c, ' ' | '-'))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (code.len() == CODE_LEN && code.bytes().all(|b| ALPHABET.contains(&b))).then_some(code)
}

/// The stored form of a code.
pub fn code_hash(pepper: &Pepper, code: &str) -> [u8; 32] {
    crate::auth::tokens::hash(pepper, &format!("pairing:{code}"))
}

/// For people: `ABCD-EFGH`.
pub fn show(code: &str) -> String {
    let (a, b) = code.split_at(code.len() / 2);
    format!("{a}-{b}")
}

#[derive(Clone, Copy, Debug)]
struct Count {
    failures: u32,
    first: Instant,
    locked_until: Option<Instant>,
}

/// Wrong-code counter (in memory: a restart forgets counts, never codes).
#[derive(Debug, Default)]
pub struct Guesses {
    map: Mutex<HashMap<String, Count>>,
}

impl Guesses {
    /// Whether `key` may try a code now.
    pub fn allowed(&self, key: &str) -> bool {
        let now = Instant::now();
        let Ok(map) = self.map.lock() else {
            return false;
        };
        map.get(key)
            .and_then(|c| c.locked_until)
            .is_none_or(|t| t <= now)
    }

    /// Counts a wrong code; true when this one locked the key out.
    pub fn fail(&self, key: &str) -> bool {
        let now = Instant::now();
        let Ok(mut map) = self.map.lock() else {
            return true;
        };
        if map.len() >= MAX_TRACKED && !map.contains_key(key) {
            let oldest = map
                .iter()
                .min_by_key(|(_, c)| c.first)
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                map.remove(&k);
            }
        }
        let c = map.entry(key.to_string()).or_insert(Count {
            failures: 0,
            first: now,
            locked_until: None,
        });
        if c.locked_until.is_some_and(|t| t <= now) || now.duration_since(c.first) > LOCKOUT {
            *c = Count {
                failures: 0,
                first: now,
                locked_until: None,
            };
        }
        c.failures += 1;
        if c.failures >= MAX_FAILURES && c.locked_until.is_none() {
            c.locked_until = Some(now + LOCKOUT);
            return true;
        }
        false
    }

    pub fn succeed(&self, key: &str) {
        if let Ok(mut map) = self.map.lock() {
            map.remove(key);
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PairingError {
    #[error("too many wrong codes; try again later")]
    Locked,
    #[error("no pending request has that code")]
    NoSuchCode,
    #[error("unknown channel `{0}`")]
    UnknownChannel(String),
    #[error("no such user")]
    NoSuchUser,
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("the audit log refused the event")]
    Audit,
}

/// What an owner-side pairing action needs.
pub struct Ctx<'a> {
    pub store: &'a Store,
    pub audit: &'a AuditLog,
    pub pepper: &'a Pepper,
    pub guesses: &'a Guesses,
}

async fn record(audit: &AuditLog, draft: audit::Draft) -> Result<(), PairingError> {
    audit.record(draft).await.map_err(|e| {
        tracing::error!(%e, "could not audit a pairing event");
        PairingError::Audit
    })
}

/// Mints an invite for `channel`; returns the code (shown once) and its row.
pub async fn invite(
    ctx: &Ctx<'_>,
    channel: &str,
    by: i64,
    actor: audit::Actor,
) -> Result<(String, InviteRow), PairingError> {
    let code = new_code();
    let row = ctx
        .store
        .pairing_invite_create(channel, code_hash(ctx.pepper, &code), by, INVITE_TTL_SECS)
        .await?;
    record(
        ctx.audit,
        audit::Draft::new(actor, "pairing.invite", audit::Outcome::Success)
            .target(format!("channel:{channel}"))
            .detail("invite_id", row.id)
            .detail("expires_at", row.expires_at),
    )
    .await?;
    Ok((code, row))
}

/// Approves or denies the pending request with `typed` code. Wrong codes
/// count against `by`; an approval links the sender to `link_user`.
pub async fn decide(
    ctx: &Ctx<'_>,
    typed: &str,
    approve: bool,
    by: i64,
    link_user: i64,
    actor: audit::Actor,
) -> Result<(RequestRow, Option<SenderRow>), PairingError> {
    let key = format!("approver:{by}");
    if !ctx.guesses.allowed(&key) {
        return Err(PairingError::Locked);
    }
    let decided = match normalise(typed) {
        Some(code) => {
            ctx.store
                .pairing_request_decide(code_hash(ctx.pepper, &code), approve, by, link_user)
                .await?
        }
        None => None,
    };
    let action = if approve {
        "pairing.approve"
    } else {
        "pairing.deny"
    };
    let Some((row, sender)) = decided else {
        let locked = ctx.guesses.fail(&key);
        record(
            ctx.audit,
            audit::Draft::new(actor, action, audit::Outcome::Denied)
                .target("pairing:unknown-code")
                .detail("locked_out", locked),
        )
        .await?;
        return Err(PairingError::NoSuchCode);
    };
    ctx.guesses.succeed(&key);
    let mut draft = audit::Draft::new(actor, action, audit::Outcome::Success)
        .target(format!("channel:{}", row.channel))
        .detail("request_id", row.id)
        .detail("external_id", row.external_id.clone());
    if let Some(s) = &sender {
        draft = draft.detail("sender_id", s.id).detail("user_id", s.user_id);
    }
    record(ctx.audit, draft).await?;
    Ok((row, sender))
}

/// Cuts a paired sender off at once: their queued messages are dropped
/// and their next message reaches nothing.
pub async fn revoke(
    ctx: &Ctx<'_>,
    sender_id: i64,
    actor: audit::Actor,
) -> Result<SenderRow, PairingError> {
    let Some(row) = ctx.store.channel_sender_revoke(sender_id).await? else {
        return Err(PairingError::Store(crate::store::StoreError::NotFound));
    };
    record(
        ctx.audit,
        audit::Draft::new(actor, "pairing.revoke", audit::Outcome::Success)
            .target(format!("channel:{}", row.channel))
            .detail("sender_id", row.id)
            .detail("external_id", row.external_id.clone()),
    )
    .await?;
    Ok(row)
}

/// A stranger's first message: opens a request and returns its code, or
/// `None` when nothing may be opened (they have one, or the list is full).
pub async fn request(
    store: &Store,
    audit_log: &AuditLog,
    pepper: &Pepper,
    channel: &str,
    external_id: &str,
    display: &str,
) -> Result<Option<String>, PairingError> {
    let code = new_code();
    let opened = store
        .pairing_request_open(
            channel,
            external_id,
            display,
            code_hash(pepper, &code),
            REQUEST_TTL_SECS,
            PENDING_CAP,
        )
        .await?;
    let Opened::Created(id) = opened else {
        return Ok(None);
    };
    record(
        audit_log,
        audit::Draft::new(
            audit::Actor::system(),
            "pairing.request",
            audit::Outcome::Success,
        )
        .target(format!("channel:{channel}"))
        .detail("request_id", id)
        .detail("external_id", external_id.to_string()),
    )
    .await?;
    Ok(Some(code))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_long_random_and_unambiguous() {
        let a = new_code();
        let b = new_code();
        assert_eq!(a.len(), CODE_LEN);
        assert_ne!(a, b);
        assert!(a.bytes().all(|c| ALPHABET.contains(&c)));
        for ambiguous in ['0', 'O', '1', 'I', 'L'] {
            assert!(!ALPHABET.contains(&(ambiguous as u8)));
        }
    }

    #[test]
    fn typed_codes_normalise() {
        assert_eq!(normalise("abcd-efgh").as_deref(), Some("ABCDEFGH"));
        assert_eq!(normalise(" ABCD EFGH ").as_deref(), Some("ABCDEFGH"));
        assert_eq!(normalise("ABCDEFG"), None);
        assert_eq!(normalise("ABCDEFG0"), None, "0 is not in the alphabet");
        assert_eq!(normalise("ABCDEFGHJ"), None);
        let padded = format!("ABCD{}EFGH", " ".repeat(MAX_TYPED_CODE_CHARS));
        assert_eq!(normalise(&padded), None, "over the typed-length limit");
    }

    #[test]
    fn guessing_locks_out_the_guesser_only() {
        let g = Guesses::default();
        for i in 1..MAX_FAILURES {
            assert!(!g.fail("sender:a"), "failure {i} must not lock yet");
            assert!(g.allowed("sender:a"));
        }
        assert!(g.fail("sender:a"));
        assert!(!g.allowed("sender:a"));
        assert!(g.allowed("sender:b"), "another sender is not locked out");
    }
}
