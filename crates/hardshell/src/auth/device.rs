//! Device cookies: a browser that signed in to an account before may keep
//! trying that account while strangers have it locked out.
//!
//! Without them, five wrong guesses from anywhere lock the owner out of
//! their own server (the lockout is per account). Following OWASP's
//! "device cookie" pattern, a successful sign-in leaves a signed cookie
//! bound to the account name. A sign-in that presents a valid one is
//! counted against that device, not against the account, so strangers'
//! guesses cannot lock it out, and guesses through a stolen device cookie
//! still lock that cookie after five. The value carries no secret and no
//! user id: a random nonce and an HMAC keyed with the server pepper.

use rand::Rng;

use super::tokens;

pub const DEVICE_COOKIE: &str = "hs_device";
/// A year: it only ever exempts from the stranger-caused lockout.
pub const DEVICE_COOKIE_MAX_AGE: i64 = 365 * 24 * 3600;

fn mac(pepper: &[u8; 32], account: &str, nonce: &str) -> [u8; 32] {
    tokens::hash(
        pepper,
        &format!("hardshell-device-v1\0{}\0{nonce}", account.to_lowercase()),
    )
}

/// A fresh cookie value for `account`: `<nonce>.<mac>`, both hex.
pub fn mint(pepper: &[u8; 32], account: &str) -> String {
    let nonce: [u8; 16] = rand::rng().random();
    let nonce = hex::encode(nonce);
    format!("{nonce}.{}", hex::encode(mac(pepper, account, &nonce)))
}

/// The device's own throttle key when `value` is a genuine cookie for
/// `account`; `None` for anything else (forged, for another account,
/// malformed).
pub fn verify(pepper: &[u8; 32], account: &str, value: &str) -> Option<String> {
    let (nonce, tag) = value.split_once('.')?;
    if nonce.len() != 32 || !nonce.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let tag = hex::decode(tag).ok()?;
    tokens::hashes_equal(&tag, &mac(pepper, account, nonce))
        .then(|| format!("{}\0device:{nonce}", account.to_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cookie_is_good_only_for_its_account_and_server() {
        let pepper = [7u8; 32];
        let c = mint(&pepper, "Olga");
        assert!(verify(&pepper, "olga", &c).is_some());
        assert!(verify(&pepper, "OLGA", &c).is_some());
        assert!(verify(&pepper, "mallory", &c).is_none());
        assert!(verify(&[8u8; 32], "olga", &c).is_none());
        let (nonce, tag) = c.split_once('.').unwrap();
        let mut forged = tag.to_string();
        forged.replace_range(0..1, if &tag[..1] == "0" { "1" } else { "0" });
        assert!(verify(&pepper, "olga", &format!("{nonce}.{forged}")).is_none());
        for junk in ["", ".", "x.y", "olga", &format!("{nonce}.")] {
            assert!(verify(&pepper, "olga", junk).is_none(), "{junk}");
        }
        // Two devices are counted apart.
        let other = mint(&pepper, "olga");
        assert_ne!(verify(&pepper, "olga", &c), verify(&pepper, "olga", &other));
    }
}
