//! The plaintext inside a vault: a sorted map from secret name to value, in a
//! small length-prefixed binary form, and the rules for names and values.
//!
//! Owns canonical encoding (strictly sorted names, no trailing bytes). Never
//! leaves plaintext in buffers that are not zeroized on drop.

use std::collections::BTreeMap;

use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use crate::container::TAG_LEN;
use crate::error::{TamperedPart, VaultError};

/// Longest secret name.
pub const MAX_NAME_LEN: usize = 128;
/// Largest secret value in bytes.
pub const MAX_VALUE_LEN: usize = 64 * 1024;
/// Most secrets one vault holds.
pub const MAX_SECRETS: usize = 1024;
/// Largest encoded payload.
pub const MAX_PAYLOAD_LEN: usize = 16 * 1024 * 1024;

/// Secret values by name, sorted by name.
pub type SecretMap = BTreeMap<String, SecretString>;

/// Accepts names matching `[A-Za-z0-9._-]{1,128}`. The error never echoes the
/// name, in case a value was pasted where a name belongs.
pub fn validate_name(name: &str) -> Result<(), VaultError> {
    if name.is_empty() {
        return Err(VaultError::InvalidName { reason: "empty" });
    }
    if name.len() > MAX_NAME_LEN {
        return Err(VaultError::InvalidName {
            reason: "longer than 128 characters",
        });
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return Err(VaultError::InvalidName {
            reason: "only A-Z, a-z, 0-9, '.', '_' and '-' are allowed",
        });
    }
    Ok(())
}

pub(crate) fn validate_value(value: &SecretString) -> Result<(), VaultError> {
    let len = value.expose_secret().len();
    if len > MAX_VALUE_LEN {
        return Err(VaultError::ValueTooLarge {
            len,
            max: MAX_VALUE_LEN,
        });
    }
    Ok(())
}

fn encoded_len(map: &SecretMap) -> usize {
    4 + map
        .iter()
        .map(|(name, value)| 1 + name.len() + 4 + value.expose_secret().len())
        .sum::<usize>()
}

/// Encodes the map. The buffer has room for the AES-GCM tag so encryption in
/// place never reallocates (which would leave an unzeroized copy behind).
pub fn encode(map: &SecretMap) -> Result<Zeroizing<Vec<u8>>, VaultError> {
    if map.len() > MAX_SECRETS {
        return Err(VaultError::VaultFull {
            reason: "too many secrets",
        });
    }
    let len = encoded_len(map);
    if len > MAX_PAYLOAD_LEN {
        return Err(VaultError::VaultFull {
            reason: "total size of secrets exceeds 16 MiB",
        });
    }
    let mut out = Zeroizing::new(Vec::with_capacity(len + TAG_LEN));
    let count = u32::try_from(map.len()).map_err(|_| VaultError::VaultFull {
        reason: "too many secrets",
    })?;
    out.extend_from_slice(&count.to_le_bytes());
    for (name, value) in map {
        validate_name(name)?;
        validate_value(value)?;
        let value = value.expose_secret().as_bytes();
        // Both lengths were bounded by the validators above.
        out.push(u8::try_from(name.len()).unwrap_or(u8::MAX));
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&u32::try_from(value.len()).unwrap_or(u32::MAX).to_le_bytes());
        out.extend_from_slice(value);
    }
    Ok(out)
}

/// Decodes a payload. Anything non-canonical is refused: duplicate or unsorted
/// names, invalid names, oversize or non-UTF-8 values, trailing bytes.
pub fn decode(bytes: &[u8]) -> Result<SecretMap, VaultError> {
    let bad = || VaultError::Tampered {
        part: TamperedPart::Payload,
    };
    let mut rest = bytes;
    let mut take = |n: usize| -> Result<&[u8], VaultError> {
        if rest.len() < n {
            return Err(bad());
        }
        let (head, tail) = rest.split_at(n);
        rest = tail;
        Ok(head)
    };
    let count = u32::from_le_bytes(take(4)?.try_into().map_err(|_| bad())?);
    let count = usize::try_from(count).map_err(|_| bad())?;
    if count > MAX_SECRETS {
        return Err(bad());
    }
    let mut map = SecretMap::new();
    let mut previous: Option<&str> = None;
    for _ in 0..count {
        let name_len = usize::from(take(1)?[0]);
        let name = std::str::from_utf8(take(name_len)?).map_err(|_| bad())?;
        validate_name(name).map_err(|_| bad())?;
        if previous.is_some_and(|prev| prev >= name) {
            return Err(bad());
        }
        previous = Some(name);
        let value_len = u32::from_le_bytes(take(4)?.try_into().map_err(|_| bad())?);
        let value_len = usize::try_from(value_len).map_err(|_| bad())?;
        if value_len > MAX_VALUE_LEN {
            return Err(bad());
        }
        let value = std::str::from_utf8(take(value_len)?).map_err(|_| bad())?;
        // `to_owned` allocates exactly, so boxing the string does not copy it again.
        map.insert(name.to_owned(), SecretString::from(value.to_owned()));
    }
    if !rest.is_empty() {
        return Err(bad());
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> SecretMap {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), SecretString::from(*v)))
            .collect()
    }

    #[test]
    fn names_follow_the_pattern() {
        for good in ["A", "GITHUB_TOKEN", "db.key-2", &"x".repeat(128)] {
            assert!(validate_name(good).is_ok(), "{good}");
        }
        for bad in ["", "a b", "a/b", "é", "tok\n", "{{x}}", &"x".repeat(129)] {
            assert!(validate_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn invalid_name_error_does_not_echo_the_name() {
        let err = validate_name("sk-live-SECRETVALUE with space").unwrap_err();
        assert!(!err.to_string().contains("SECRETVALUE"));
    }

    #[test]
    fn round_trip() {
        let original = map(&[("a", ""), ("b", "ünïcødé ✓"), ("c", "x")]);
        let bytes = encode(&original).unwrap();
        let decoded = decode(&bytes).unwrap();
        assert_eq!(decoded.len(), 3);
        for (k, v) in &original {
            assert_eq!(decoded[k].expose_secret(), v.expose_secret());
        }
    }

    #[test]
    fn non_canonical_payloads_are_refused() {
        let good = encode(&map(&[("a", "1"), ("b", "2")])).unwrap();
        let mut trailing = good.to_vec();
        trailing.push(0);
        assert!(decode(&trailing).is_err());
        assert!(decode(&good[..good.len() - 1]).is_err());
        // Swap the two names so they are out of order.
        let mut unsorted = good.to_vec();
        unsorted[5] = b'c';
        assert!(decode(&unsorted).is_err());
        let mut duplicate = good.to_vec();
        duplicate[12] = b'a';
        assert!(decode(&duplicate).is_err());
    }

    #[test]
    fn oversize_values_are_refused() {
        let big = SecretString::from("x".repeat(MAX_VALUE_LEN + 1));
        assert!(matches!(
            validate_value(&big),
            Err(VaultError::ValueTooLarge { .. })
        ));
    }
}
