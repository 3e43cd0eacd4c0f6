//! Redaction applied to every draft before it is sealed.
//!
//! Owns: deciding which `details` field names are credentials, and scrubbing
//! vault secret values from every string of an entry. It must never log,
//! print or return the secrets it holds.
//!
//! Name rule (word segments, not substrings): a name is split into words at
//! `-`, `_`, `.`, spaces, camelCase and letter/digit boundaries, then
//! lower-cased. It is a credential name when some word is a credential word
//! (`password`, `secret`, `token`, `key`, `auth`, `cookie`, `session`, ...,
//! or a glued form like `apikey`, `accesstoken`) — unless the LAST word is a
//! descriptor (`id`, `name`, `type`, `count`, `at`, ...) that makes the field
//! metadata about a credential (`key_id`, `token_type`, `password_changed_at`).
//! Exceptions, chosen on purpose:
//! - `session`/`cookie` + `id` stays redacted: a session id is a bearer value.
//! - `public_key` is kept: public keys are not secrets.
//! - plural `tokens`/`keys` are not credential words: they are LLM token
//!   counts (`max_tokens`) and lists of setting names (`changed_keys`).
//!
//! Value rule: any string equal to a vault secret becomes `[REDACTED]`; any
//! occurrence of a secret of at least [`MIN_SUBSTRING_SECRET_LEN`] bytes
//! inside a longer string is replaced by `[REDACTED]`. Shorter secrets are
//! matched whole only, so a 3-character secret cannot shred every string.

use serde_json::{Map, Value};
use std::borrow::Cow;
use zeroize::Zeroizing;

/// What a redacted value or substring becomes.
pub const REDACTED: &str = "[REDACTED]";

/// Secrets at least this long are also removed where they appear inside
/// longer strings.
pub const MIN_SUBSTRING_SECRET_LEN: usize = 8;

/// Words that mark a field as holding a credential.
const CREDENTIAL_WORDS: &[&str] = &[
    "password",
    "passwords",
    "passwd",
    "passphrase",
    "passcode",
    "pwd",
    "pass",
    "secret",
    "secrets",
    "token",
    "credential",
    "credentials",
    "creds",
    "auth",
    "authorization",
    "bearer",
    "key",
    "apikey",
    "privatekey",
    "privkey",
    "secretkey",
    "accesskey",
    "sessionkey",
    "cookie",
    "cookies",
    "session",
    "sessionid",
    "jwt",
    "otp",
    "totp",
    "pin",
];

/// Glued words ending in one of these are credential words too
/// (`accesstoken`, `clientsecret`, `newpassword`).
const CREDENTIAL_SUFFIXES: &[&str] = &["token", "secret", "password", "passwd", "passphrase"];

/// A last word that makes the field metadata about a credential.
const DESCRIPTOR_WORDS: &[&str] = &[
    "id",
    "ids",
    "uuid",
    "name",
    "names",
    "label",
    "type",
    "kind",
    "count",
    "len",
    "length",
    "size",
    "version",
    "at",
    "expires",
    "expiry",
    "ttl",
    "age",
    "scope",
    "scopes",
    "method",
    "scheme",
    "status",
    "usage",
    "limit",
    "fingerprint",
    "algorithm",
    "alg",
];

/// Credential words whose `id` is itself the bearer value.
const BEARER_HANDLE_WORDS: &[&str] = &["session", "cookie", "cookies"];

/// Splits a field name into lower-case words. Borrows the common case (a
/// segment that is already lower-case ASCII) so classification rarely allocates.
fn words(name: &str) -> Vec<Cow<'_, str>> {
    let mut out = Vec::new();
    let mut seg_start: Option<usize> = None;
    let mut prev: Option<char> = None;
    let mut iter = name.char_indices().peekable();
    while let Some((i, c)) = iter.next() {
        if !c.is_alphanumeric() {
            if let Some(st) = seg_start.take() {
                out.push(lower(&name[st..i]));
            }
            prev = None;
            continue;
        }
        if let (Some(p), Some(st)) = (prev, seg_start) {
            let next = iter.peek().map(|&(_, n)| n);
            let boundary = (p.is_lowercase() && c.is_uppercase())
                || (p.is_alphabetic() != c.is_alphabetic())
                // "APIKey": the K starts a word because a lower-case letter follows.
                || (p.is_uppercase() && c.is_uppercase() && next.is_some_and(char::is_lowercase));
            if boundary {
                out.push(lower(&name[st..i]));
                seg_start = Some(i);
            }
        } else {
            seg_start = Some(i);
        }
        prev = Some(c);
    }
    if let Some(st) = seg_start {
        out.push(lower(&name[st..]));
    }
    out
}

fn lower(segment: &str) -> Cow<'_, str> {
    if segment
        .bytes()
        .all(|b| !b.is_ascii_uppercase() && b.is_ascii())
    {
        Cow::Borrowed(segment)
    } else {
        Cow::Owned(segment.to_lowercase())
    }
}

fn is_credential_word(word: &str) -> bool {
    CREDENTIAL_WORDS.contains(&word)
        || CREDENTIAL_SUFFIXES
            .iter()
            .any(|s| word.len() > s.len() && word.ends_with(s))
}

/// Whether a `details` field with this name holds a credential (see the
/// module comment for the rule and its exceptions).
pub fn is_credential_name(name: &str) -> bool {
    let words = words(name);
    let credential_at: Vec<usize> = words
        .iter()
        .enumerate()
        .filter(|(i, w)| {
            is_credential_word(w) && !(*w == "key" && *i > 0 && words[i - 1] == "public")
        })
        .map(|(i, _)| i)
        .collect();
    let Some(&last_credential) = credential_at.last() else {
        return false;
    };
    let Some(last) = words.last() else {
        return false;
    };
    let described = last_credential + 1 < words.len() && DESCRIPTOR_WORDS.contains(&last.as_ref());
    if !described {
        return true;
    }
    // `session_id`, `cookie_id`: the id is the bearer value itself.
    let is_id = matches!(last.as_ref(), "id" | "ids" | "uuid");
    is_id
        && credential_at
            .iter()
            .any(|&i| BEARER_HANDLE_WORDS.contains(&words[i].as_ref()))
}

/// Scrubs credentials from drafts. Built from the vault's secret values.
#[derive(Default)]
pub struct Redactor {
    /// Longest first, so a secret containing another is replaced whole.
    secrets: Vec<Zeroizing<String>>,
    /// Indexes into `secrets` of those matched as substrings.
    substring_secrets: Vec<usize>,
    /// Bit set of the first two bytes of every substring secret: a cheap
    /// filter so a string is compared with secrets only where one could start.
    first_pairs: Zeroizing<Vec<u64>>,
    /// Whether any secret could be the text of a JSON number.
    numeric_secret: bool,
}

/// Bit index of a two-byte prefix.
fn pair_bit(a: u8, b: u8) -> (usize, u64) {
    let pair = (usize::from(a) << 8) | usize::from(b);
    (pair / 64, 1u64 << (pair % 64))
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Redactor({} secrets)", self.secrets.len())
    }
}

impl Redactor {
    /// A redactor that only applies the field-name rule.
    pub fn without_secrets() -> Self {
        Self::default()
    }

    /// A redactor for these secret values. Empty values and values that are
    /// not UTF-8 (which cannot appear verbatim in JSON text) are skipped.
    pub fn new<I, S>(secrets: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<[u8]>,
    {
        let mut list: Vec<Zeroizing<String>> = secrets
            .into_iter()
            .filter_map(|s| std::str::from_utf8(s.as_ref()).ok().map(str::to_owned))
            .filter(|s| !s.is_empty())
            .map(Zeroizing::new)
            .collect();
        list.sort_by(|a, b| {
            b.len()
                .cmp(&a.len())
                .then_with(|| a.as_str().cmp(b.as_str()))
        });
        list.dedup_by(|a, b| a.as_str() == b.as_str());
        let numeric_secret = list.iter().any(|s| s.parse::<f64>().is_ok());
        let mut first_pairs = Zeroizing::new(vec![0u64; 65_536 / 64]);
        let mut substring_secrets = Vec::new();
        for (i, secret) in list.iter().enumerate() {
            // A secret inside the marker itself could never be removed.
            if secret.len() < MIN_SUBSTRING_SECRET_LEN || REDACTED.contains(secret.as_str()) {
                continue;
            }
            let b = secret.as_bytes();
            let (word, bit) = pair_bit(b[0], b[1]);
            first_pairs[word] |= bit;
            substring_secrets.push(i);
        }
        Self {
            secrets: list,
            substring_secrets,
            first_pairs,
            numeric_secret,
        }
    }

    /// Number of secret values held.
    pub fn secret_count(&self) -> usize {
        self.secrets.len()
    }

    /// Replaces secret values in `s` (whole string or substring, see module rule).
    pub fn redact_string(&self, s: &mut String) {
        if self.secrets.is_empty() || s.is_empty() {
            return;
        }
        if self
            .secrets
            .iter()
            .any(|secret| secret.as_str() == s.as_str())
        {
            *s = REDACTED.to_owned();
            return;
        }
        let ranges = self.substring_ranges(s.as_bytes());
        if ranges.is_empty() {
            return;
        }
        let mut out = String::with_capacity(s.len());
        let mut pos = 0;
        let mut i = 0;
        while i < ranges.len() {
            let (start, mut end) = ranges[i];
            while i + 1 < ranges.len() && ranges[i + 1].0 <= end {
                end = end.max(ranges[i + 1].1);
                i += 1;
            }
            out.push_str(&s[pos..start]);
            out.push_str(REDACTED);
            pos = end;
            i += 1;
        }
        out.push_str(&s[pos..]);
        // Pathological overlap with the marker text: drop the whole string.
        if self
            .secrets
            .iter()
            .any(|secret| secret.len() >= MIN_SUBSTRING_SECRET_LEN && out.contains(secret.as_str()))
        {
            out = REDACTED.to_owned();
        }
        *s = out;
    }

    /// Byte ranges of every secret occurrence, in order of start. Secrets
    /// are valid UTF-8, so each range starts and ends on a char boundary.
    fn substring_ranges(&self, text: &[u8]) -> Vec<(usize, usize)> {
        let mut ranges = Vec::new();
        if self.substring_secrets.is_empty() || text.len() < MIN_SUBSTRING_SECRET_LEN {
            return ranges;
        }
        for start in 0..=text.len() - MIN_SUBSTRING_SECRET_LEN {
            let (word, bit) = pair_bit(text[start], text[start + 1]);
            if self.first_pairs[word] & bit == 0 {
                continue;
            }
            for &i in &self.substring_secrets {
                let secret = self.secrets[i].as_bytes();
                if text[start..].starts_with(secret) {
                    ranges.push((start, start + secret.len()));
                }
            }
        }
        ranges
    }

    /// Scrubs secret values anywhere in `value` (object keys included),
    /// without the field-name rule.
    pub fn redact_value(&self, value: &mut Value) {
        self.walk(value, false);
    }

    /// Applies both rules to a details object, at every depth.
    pub fn redact_details(&self, details: &mut Map<String, Value>) {
        self.redact_map(details, true);
    }

    fn walk(&self, value: &mut Value, by_name: bool) {
        match value {
            Value::String(s) => self.redact_string(s),
            Value::Number(n) => {
                if self.numeric_secret {
                    let text = n.to_string();
                    if self.secrets.iter().any(|s| s.as_str() == text) {
                        *value = Value::String(REDACTED.to_owned());
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.walk(v, by_name)),
            Value::Object(map) => self.redact_map(map, by_name),
            Value::Null | Value::Bool(_) => {}
        }
    }

    fn redact_map(&self, map: &mut Map<String, Value>, by_name: bool) {
        let mut rename: Vec<(String, String)> = Vec::new();
        for (name, v) in map.iter_mut() {
            if by_name && is_credential_name(name) {
                *v = Value::String(REDACTED.to_owned());
            } else {
                self.walk(v, by_name);
            }
            let mut new_name = name.clone();
            self.redact_string(&mut new_name);
            if new_name != *name {
                rename.push((name.clone(), new_name));
            }
        }
        for (old, new) in rename {
            if let Some(v) = map.remove(&old) {
                map.insert(new, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn splits_names_into_words() {
        assert_eq!(words("apiKey"), ["api", "key"]);
        assert_eq!(words("APIKey"), ["api", "key"]);
        assert_eq!(words("X-Api-Key"), ["x", "api", "key"]);
        assert_eq!(words("key_ID"), ["key", "id"]);
        assert_eq!(words("oauth2_token"), ["oauth", "2", "token"]);
        assert_eq!(words("hs_session"), ["hs", "session"]);
        assert_eq!(words("user.name"), ["user", "name"]);
        assert_eq!(words("__"), Vec::<String>::new());
    }

    #[test]
    fn credential_names_are_redacted() {
        for name in [
            "password",
            "Password",
            "PASSWORD",
            "new_password",
            "newPassword",
            "newpassword",
            "passwd",
            "db_pass",
            "passphrase",
            "pwd",
            "secret",
            "client_secret",
            "clientSecret",
            "secrets",
            "token",
            "access_token",
            "accessToken",
            "refresh-token",
            "setup_token",
            "X-CSRF-Token",
            "credential",
            "credentials",
            "creds",
            "auth",
            "Authorization",
            "proxy-authorization",
            "auth_header",
            "bearer",
            "key",
            "api_key",
            "apiKey",
            "API_KEY",
            "apikey",
            "x-api-key",
            "private_key",
            "privateKey",
            "PRIVATE-KEY",
            "privatekey",
            "secret_key",
            "aws_secret_access_key",
            "cookie",
            "Set-Cookie",
            "session",
            "hs_session",
            "session_id",
            "sessionId",
            "sessionid",
            "cookie_id",
            "session_token",
            "password_hash",
            "key_material",
            "signing_key",
            "jwt",
            "otp",
            "pin",
            "token2",
            "auth_method_secret",
            "\u{212a}EY",
            "PASSWÖRD_token",
        ] {
            assert!(is_credential_name(name), "{name} should be redacted");
        }
    }

    #[test]
    fn non_credential_names_are_kept() {
        for name in [
            "username",
            "user_name",
            "userName",
            "key_id",
            "keyId",
            "KEY_ID",
            "public_id",
            "public_key",
            "publicKey",
            "keyword",
            "keywords",
            "monkey",
            "turkey",
            "author",
            "authors",
            "authority",
            "token_count",
            "tokenCount",
            "max_tokens",
            "input_tokens",
            "changed_keys",
            "token_type",
            "token_id",
            "key_name",
            "key_prefix_count",
            "password_changed_at",
            "session_count",
            "session_expires",
            "auth_method",
            "cookie_name",
            "secret_name",
            "api_key_id",
            "compass",
            "passport",
            "bypass",
            "passenger",
            "pinned",
            "spinner",
            "tokenizer",
            "ip",
            "action",
            "",
            "seq",
            "pruned_through_hash",
            "pruned_through_seq",
        ] {
            assert!(!is_credential_name(name), "{name} should be kept");
        }
    }

    #[test]
    fn redacts_by_name_at_every_depth_including_arrays_of_objects() {
        let r = Redactor::without_secrets();
        let mut d = json!({
            "user": "alice",
            "password": "hunter2",
            "nested": {"deeper": {"api_key": {"even": "objects"}, "key_id": "k1"}},
            "list": [{"token": 1}, {"name": "x", "items": [{"Authorization": "Bearer x"}]}],
            "matrix": [[{"secret": [1, 2]}]],
        });
        r.redact_details(d.as_object_mut().unwrap());
        assert_eq!(
            d,
            json!({
                "user": "alice",
                "password": REDACTED,
                "nested": {"deeper": {"api_key": REDACTED, "key_id": "k1"}},
                "list": [{"token": REDACTED}, {"name": "x", "items": [{"Authorization": REDACTED}]}],
                "matrix": [[{"secret": REDACTED}]],
            })
        );
    }

    #[test]
    fn secret_values_are_redacted_whole_and_inside_strings() {
        let r = Redactor::new(["sk-live-0123456789", "short"]);
        let mut v = json!({
            "a": "sk-live-0123456789",
            "b": ["x", {"c": "header: Bearer sk-live-0123456789; again sk-live-0123456789!"}],
            "d": "short",
            "e": "shortly",
            "sk-live-0123456789": 1,
        });
        r.redact_value(&mut v);
        assert_eq!(
            v,
            json!({
                "a": REDACTED,
                "b": ["x", {"c": "header: Bearer [REDACTED]; again [REDACTED]!"}],
                "d": REDACTED,
                "e": "shortly",
                "[REDACTED]": 1,
            })
        );
    }

    #[test]
    fn overlapping_secrets_leave_no_trace() {
        let r = Redactor::new(["abcdefgh12", "fgh12345xyz"]);
        let mut s = "..abcdefgh12345xyz..".to_owned();
        r.redact_string(&mut s);
        assert_eq!(s, "..[REDACTED]..");
        // A secret contained in another is replaced as part of the longer one.
        let r = Redactor::new(["password123", "password123-extended"]);
        let mut s = "x password123-extended y password123".to_owned();
        r.redact_string(&mut s);
        assert_eq!(s, "x [REDACTED] y [REDACTED]");
    }

    #[test]
    fn numeric_secret_matches_whole_numbers() {
        let r = Redactor::new(["31415926535"]);
        let mut v = json!({"n": 31415926535u64, "m": 7});
        r.redact_value(&mut v);
        assert_eq!(v, json!({"n": REDACTED, "m": 7}));
    }

    #[test]
    fn debug_shows_no_secret() {
        let r = Redactor::new(["topsecretvalue"]);
        let shown = format!("{r:?}");
        assert!(!shown.contains("topsecretvalue"));
        assert_eq!(r.secret_count(), 1);
    }

    #[test]
    fn empty_and_non_utf8_secrets_are_skipped() {
        let r = Redactor::new([b"".to_vec(), vec![0xff, 0xfe], b"realsecret".to_vec()]);
        assert_eq!(r.secret_count(), 1);
        let mut s = String::new();
        r.redact_string(&mut s);
        assert_eq!(s, "");
    }
}
