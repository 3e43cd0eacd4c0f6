//! Identity and access, without HTTP: roles, passwords, token formats and
//! hashing, the permission matrix, and throttling.
//!
//! This module never touches SQL (the store does) and never sees a request
//! (the web extractors do). It must never keep a credential in a reversible
//! form: tokens leave here either once, to the caller, or as an HMAC.

pub mod device;
pub mod hash_gate;
pub mod password;
pub mod permissions;
pub mod throttle;
pub mod tokens;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A human user's role, ordered from least to most powerful.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    ToSchema,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Guest,
    Member,
    Admin,
    Owner,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Owner, Role::Admin, Role::Member, Role::Guest];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Member => "member",
            Role::Guest => "guest",
        }
    }

    /// True when this role has at least the rights of `min`.
    pub fn at_least(self, min: Role) -> bool {
        self >= min
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "owner" => Ok(Role::Owner),
            "admin" => Ok(Role::Admin),
            "member" => Ok(Role::Member),
            "guest" => Ok(Role::Guest),
            other => Err(format!("unknown role {other:?}")),
        }
    }
}

/// Seconds since the Unix epoch; every stored expiry uses it.
pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Usernames: 1–64 characters of letters, digits, `.`, `_`, `-`.
pub fn validate_username(name: &str) -> Result<(), String> {
    let ok_len = (1..=64).contains(&name.chars().count());
    let ok_chars = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok_len && ok_chars {
        Ok(())
    } else {
        Err("a username is 1 to 64 characters: letters, digits, '.', '_' or '-'".into())
    }
}

/// Issues a fresh first-run setup token (replacing any older one) and
/// returns it for printing once; only its HMAC is stored.
pub async fn issue_setup_token(
    store: &crate::store::Store,
    pepper: &[u8; 32],
) -> Result<zeroize::Zeroizing<String>, crate::store::StoreError> {
    let token = tokens::generate(tokens::Kind::Setup);
    store
        .setup_token_replace(
            tokens::hash(pepper, &token),
            now_secs() + tokens::SETUP_TTL_SECS,
        )
        .await?;
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_and_round_trip() {
        assert!(Role::Owner.at_least(Role::Admin));
        assert!(Role::Admin.at_least(Role::Member));
        assert!(!Role::Guest.at_least(Role::Member));
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>().unwrap(), r);
        }
        assert!("root".parse::<Role>().is_err());
    }

    #[test]
    fn usernames_are_checked() {
        assert!(validate_username("alice_01").is_ok());
        assert!(validate_username("").is_err());
        assert!(validate_username("a b").is_err());
        assert!(validate_username(&"x".repeat(65)).is_err());
    }
}
