//! Password policy and Argon2id PHC hashing.
//!
//! Never stores or logs a password; never returns early for an unknown
//! user (callers burn the same time through `verify_dummy`).

use std::sync::LazyLock;

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::RngCore;

/// OWASP's minimum Argon2id setting: 19 MiB, 2 passes, 1 lane.
const M_KIB: u32 = 19 * 1024;
const T_COST: u32 = 2;
const P_COST: u32 = 1;
pub const MIN_LEN: usize = 12;
pub const MAX_LEN: usize = 1024;

/// Common passwords refused outright, also as the stem of a longer one
/// (`changeme12345` is still `changeme`).
const COMMON: &[&str] = &[
    "admin",
    "administrator",
    "password",
    "passw0rd",
    "changeme",
    "letmein",
    "welcome",
    "qwerty",
    "123456",
    "iloveyou",
    "hardshell",
    "secret",
    "default",
    "root",
    "abc123",
];

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PasswordError {
    #[error("a password needs at least {MIN_LEN} characters")]
    TooShort,
    #[error("a password may have at most {MAX_LEN} characters")]
    TooLong,
    #[error("this password is too common or too close to the username")]
    Common,
    #[error("password hashing failed")]
    Hashing,
}

/// Checks the policy: length, and not a common password or the username
/// padded out with digits or repeats.
pub fn validate(password: &str, username: &str) -> Result<(), PasswordError> {
    let len = password.chars().count();
    if len < MIN_LEN {
        return Err(PasswordError::TooShort);
    }
    if len > MAX_LEN {
        return Err(PasswordError::TooLong);
    }
    let lower = password.to_lowercase();
    let stem = lower.trim_end_matches(|c: char| c.is_ascii_digit() || c.is_ascii_punctuation());
    let stem = stem.trim_start_matches(|c: char| c.is_ascii_digit() || c.is_ascii_punctuation());
    let uname = username.to_lowercase();
    let repeats_only = |word: &str| !word.is_empty() && lower.replace(word, "").is_empty();
    let is_common = COMMON
        .iter()
        .any(|c| stem == *c || repeats_only(c) || lower.starts_with(c) && stem.len() <= c.len());
    let distinct = lower
        .chars()
        .collect::<std::collections::HashSet<_>>()
        .len();
    if is_common || (!uname.is_empty() && (stem == uname || repeats_only(&uname))) || distinct < 4 {
        return Err(PasswordError::Common);
    }
    Ok(())
}

fn hasher() -> Result<Argon2<'static>, PasswordError> {
    let params = Params::new(M_KIB, T_COST, P_COST, None).map_err(|_| PasswordError::Hashing)?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// An Argon2id PHC string with a fresh 16-byte salt.
pub fn hash(password: &str) -> Result<String, PasswordError> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let phc = hasher()?
        .hash_password_with_salt(password.as_bytes(), &salt)
        .map_err(|_| PasswordError::Hashing)?;
    Ok(phc.to_string())
}

/// True when `password` matches the stored PHC string. The parameters are
/// read from the string, so old hashes keep working after a change.
pub fn verify(password: &str, phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let Ok(argon) = hasher() else {
        return false;
    };
    argon.verify_password(password.as_bytes(), &parsed).is_ok()
}

static DUMMY: LazyLock<Option<String>> = LazyLock::new(|| {
    let mut bytes = [0u8; 24];
    rand::rng().fill_bytes(&mut bytes);
    hash(&hex::encode(bytes)).ok()
});

/// Spends the time of one verification on a hash nobody knows, so an
/// unknown username takes as long as a wrong password.
pub fn verify_dummy(password: &str) {
    if let Some(phc) = DUMMY.as_deref() {
        let _ = verify(password, phc);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_refuses_short_and_common() {
        assert_eq!(validate("short", "bob"), Err(PasswordError::TooShort));
        for bad in [
            "adminadminadmin",
            "password1234",
            "changeme12345",
            "Password!!!!!!",
            "aaaaaaaaaaaaaaaa",
            "alicealicealice",
            "alice123456789",
        ] {
            assert_eq!(validate(bad, "alice"), Err(PasswordError::Common), "{bad}");
        }
        assert!(validate("violet-harbour-tram-42", "alice").is_ok());
    }

    #[test]
    fn hash_is_argon2id_phc_and_verifies() {
        let phc = hash("violet-harbour-tram-42").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify("violet-harbour-tram-42", &phc));
        assert!(!verify("violet-harbour-tram-43", &phc));
        assert!(!verify("x", "not a phc string"));
        assert_ne!(phc, hash("violet-harbour-tram-42").unwrap(), "salted");
    }
}
