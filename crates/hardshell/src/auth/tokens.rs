//! Credential formats, generation and the stored form.
//!
//! Every credential is random base62 behind a prefix that says what it is.
//! The database only ever sees `HMAC-SHA256(pepper, token)`; a dump of it
//! logs nobody in. Comparisons of hashes run in constant time.

use hmac::{Hmac, KeyInit, Mac};
use rand::Rng;
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// Bearer access token lifetime.
pub const ACCESS_TTL_SECS: i64 = 3600;
/// A refresh-token family lives this long without a fresh login.
pub const REFRESH_FAMILY_TTL_SECS: i64 = 30 * 24 * 3600;
/// Web session: absolute and idle limits.
pub const SESSION_ABSOLUTE_SECS: i64 = 24 * 3600;
pub const SESSION_IDLE_SECS: i64 = 2 * 3600;
/// `last_seen` is written at most this often, to limit writes.
pub const SESSION_TOUCH_SECS: i64 = 60;
/// The first-run setup token.
pub const SETUP_TTL_SECS: i64 = 30 * 60;

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// What a credential is, by its prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `hu-`: a human identity key (login without a password).
    HumanKey,
    /// `lb-`: an agent key for outside automations.
    AgentKey,
    /// `api-`: a short-lived bearer token.
    Access,
    /// `rt-`: a rotating refresh token.
    Refresh,
    /// `hss-`: the web session cookie value.
    Session,
    /// `csrf-`: the per-session CSRF token.
    Csrf,
    /// `setup-`: the one-time first-run token.
    Setup,
}

impl Kind {
    pub fn prefix(self) -> &'static str {
        match self {
            Kind::HumanKey => "hu-",
            Kind::AgentKey => "lb-",
            Kind::Access => "api-",
            Kind::Refresh => "rt-",
            Kind::Session => "hss-",
            Kind::Csrf => "csrf-",
            Kind::Setup => "setup-",
        }
    }

    fn body_len(self) -> usize {
        match self {
            Kind::HumanKey => 64,
            _ => 48,
        }
    }

    /// Recognises a presented credential by prefix and shape.
    pub fn of(token: &str) -> Option<Kind> {
        [
            Kind::HumanKey,
            Kind::AgentKey,
            Kind::Access,
            Kind::Refresh,
            Kind::Session,
            Kind::Csrf,
            Kind::Setup,
        ]
        .into_iter()
        .find(|k| {
            token.strip_prefix(k.prefix()).is_some_and(|body| {
                body.len() == k.body_len() && body.bytes().all(|b| b.is_ascii_alphanumeric())
            })
        })
    }
}

/// A fresh credential of `kind` (~286 bits or more of entropy).
pub fn generate(kind: Kind) -> Zeroizing<String> {
    let mut rng = rand::rng();
    let mut out = Zeroizing::new(String::with_capacity(kind.prefix().len() + kind.body_len()));
    out.push_str(kind.prefix());
    for _ in 0..kind.body_len() {
        let i = rng.random_range(0..BASE62.len());
        out.push(char::from(BASE62[i]));
    }
    out
}

/// A short random public id for rows the API names (sessions, keys).
pub fn public_id() -> String {
    let mut rng = rand::rng();
    (0..16)
        .map(|_| char::from(BASE62[rng.random_range(0..BASE62.len())]))
        .collect()
}

/// A random RFC 4122 version-4 UUID (the `uuid` crate, not hand-set bits).
pub fn uuid_v4() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The stored form of a credential: `HMAC-SHA256(pepper, token)`.
pub fn hash(pepper: &[u8; 32], token: &str) -> [u8; 32] {
    // A 32-byte key is always accepted; the fallback keeps this infallible.
    let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(pepper) else {
        return [0u8; 32];
    };
    mac.update(token.as_bytes());
    mac.finalize().into_bytes().into()
}

/// Constant-time equality of two stored hashes.
pub fn hashes_equal(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_have_their_shape() {
        for kind in [Kind::HumanKey, Kind::AgentKey, Kind::Access, Kind::Refresh] {
            let t = generate(kind);
            assert_eq!(Kind::of(&t), Some(kind), "{}", t.as_str());
            assert_ne!(*generate(kind), *t);
        }
        assert_eq!(generate(Kind::HumanKey).len(), 3 + 64);
        assert_eq!(Kind::of("lb-short"), None);
        assert_eq!(Kind::of(&format!("lb-{}", "!".repeat(48))), None);
    }

    #[test]
    fn hash_is_keyed_and_compared_in_constant_time() {
        let t = generate(Kind::Access);
        let a = hash(&[1; 32], &t);
        let b = hash(&[2; 32], &t);
        assert_ne!(a, b, "the pepper changes the stored form");
        assert!(hashes_equal(&a, &hash(&[1; 32], &t)));
        assert!(!hashes_equal(&a, &b));
        // RFC 4231 test case 2: HMAC zero-pads short keys, so "Jefe" padded
        // to 32 bytes gives the published value.
        let mut key = [0u8; 32];
        key[..4].copy_from_slice(b"Jefe");
        assert_eq!(
            hex::encode(hash(&key, "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn uuid_is_v4() {
        let u = uuid_v4();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert!(matches!(&u[19..20], "8" | "9" | "a" | "b"));
    }
}
