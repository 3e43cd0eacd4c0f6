//! Leak guard: replaces secret values (and their encoded forms) and
//! well-known key formats with `[REDACTED]`.
//!
//! Owns: the secret-variant automaton and the key-format patterns. Must never
//! leave any registered secret (of at least `FULL_VARIANTS_MIN_LEN` bytes),
//! in plain, base64, hex, percent or JSON-escaped form, in its output; and
//! must never log or return secret values (hits carry only kind and span).
//!
//! Short-secret policy: values under `MIN_SECRET_LEN` (4) bytes are skipped
//! (they would redact ordinary words and cannot be protected by matching);
//! values of 4 to 7 bytes are redacted only in plain form and only where they
//! stand as a whole token, because their encodings are too short to match
//! without false hits. `Redactor::skipped` counts what was skipped so the
//! caller can refuse such secrets at registration.

use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use regex::Regex;
use serde::Serialize;

/// The replacement for every redacted span.
pub const REDACTED: &str = "[REDACTED]";
/// Secrets shorter than this are not redacted at all.
pub const MIN_SECRET_LEN: usize = 4;
/// Secrets at least this long are redacted in every encoded form.
pub const FULL_VARIANTS_MIN_LEN: usize = 8;

/// One redacted span of the input text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hit {
    /// `secret`, `secret_base64`, `secret_hex`, `secret_url`, `secret_json`,
    /// or a key format such as `openai_key`, `github_token`, `jwt`.
    pub kind: String,
    /// Byte offsets into the input text.
    pub start: usize,
    pub end: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum VariantKind {
    Plain,
    PlainWholeToken,
    Base64,
    Hex,
    Url,
    Json,
}

impl VariantKind {
    fn as_str(self) -> &'static str {
        match self {
            VariantKind::Plain | VariantKind::PlainWholeToken => "secret",
            VariantKind::Base64 => "secret_base64",
            VariantKind::Hex => "secret_hex",
            VariantKind::Url => "secret_url",
            VariantKind::Json => "secret_json",
        }
    }
}

/// Redacts a fixed set of secrets; build once, reuse for every message.
pub struct Redactor {
    automaton: Option<AhoCorasick>,
    kinds: Vec<VariantKind>,
    skipped: usize,
}

impl std::fmt::Debug for Redactor {
    // Never print the patterns: they are the secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redactor")
            .field("variants", &self.kinds.len())
            .field("skipped", &self.skipped)
            .finish()
    }
}

/// Base64 fragments of `secret` that appear whatever its alignment inside a
/// larger encoded blob (e.g. `user:secret` in a Basic auth header).
fn base64_fragments(secret: &[u8], engine: &impl base64::Engine) -> Vec<String> {
    let mut out = Vec::new();
    for shift in 0..3usize {
        let mut buf = vec![0u8; shift];
        buf.extend_from_slice(secret);
        let enc = engine.encode(&buf);
        let first = (shift * 8).div_ceil(6);
        let last = (buf.len() * 8) / 6;
        if let Some(frag) = enc.get(first..last)
            && frag.len() >= FULL_VARIANTS_MIN_LEN
        {
            out.push(frag.to_string());
        }
    }
    out
}

fn percent_encode(secret: &[u8], all: bool, upper: bool) -> String {
    let mut s = String::with_capacity(secret.len() * 3);
    for &b in secret {
        let unreserved = b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~');
        if unreserved && !all {
            s.push(char::from(b));
        } else if upper {
            s.push_str(&format!("%{b:02X}"));
        } else {
            s.push_str(&format!("%{b:02x}"));
        }
    }
    s
}

fn hex_encode(secret: &[u8], upper: bool) -> String {
    secret
        .iter()
        .map(|b| {
            if upper {
                format!("{b:02X}")
            } else {
                format!("{b:02x}")
            }
        })
        .collect()
}

fn json_escape(secret: &str) -> String {
    let mut s = String::with_capacity(secret.len() + 8);
    for c in secret.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '/' => s.push_str("\\/"),
            '\n' => s.push_str("\\n"),
            '\r' => s.push_str("\\r"),
            '\t' => s.push_str("\\t"),
            c => s.push(c),
        }
    }
    s
}

fn variants(secret: &str) -> Vec<(String, VariantKind)> {
    let bytes = secret.as_bytes();
    let mut v = vec![(secret.to_string(), VariantKind::Plain)];
    for enc in [
        STANDARD.encode(bytes),
        STANDARD_NO_PAD.encode(bytes),
        URL_SAFE.encode(bytes),
        URL_SAFE_NO_PAD.encode(bytes),
    ] {
        v.push((enc, VariantKind::Base64));
    }
    for frag in base64_fragments(bytes, &STANDARD_NO_PAD)
        .into_iter()
        .chain(base64_fragments(bytes, &URL_SAFE_NO_PAD))
    {
        v.push((frag, VariantKind::Base64));
    }
    v.push((hex_encode(bytes, false), VariantKind::Hex));
    v.push((hex_encode(bytes, true), VariantKind::Hex));
    for (all, upper) in [(false, true), (false, false), (true, true), (true, false)] {
        v.push((percent_encode(bytes, all, upper), VariantKind::Url));
    }
    let form = percent_encode(bytes, false, true).replace("%20", "+");
    v.push((form, VariantKind::Url));
    v.push((json_escape(secret), VariantKind::Json));
    v.sort();
    v.dedup_by(|a, b| a.0 == b.0);
    v
}

impl Redactor {
    /// Precomputes every variant of every secret into one automaton.
    pub fn new(secrets: impl IntoIterator<Item = impl AsRef<str>>) -> Self {
        let mut pats: Vec<(String, VariantKind)> = Vec::new();
        let mut skipped = 0;
        for s in secrets {
            let s = s.as_ref();
            if s.len() < MIN_SECRET_LEN {
                skipped += usize::from(!s.is_empty());
                continue;
            }
            if s.len() < FULL_VARIANTS_MIN_LEN {
                pats.push((s.to_string(), VariantKind::PlainWholeToken));
            } else {
                pats.extend(variants(s));
            }
        }
        // Longest first, so a plain secret inside its own JSON form resolves
        // to the longer span.
        pats.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.0.cmp(&b.0)));
        pats.dedup_by(|a, b| a.0 == b.0);
        let automaton = if pats.is_empty() {
            None
        } else {
            AhoCorasickBuilder::new()
                .match_kind(MatchKind::LeftmostLongest)
                .build(pats.iter().map(|p| p.0.as_bytes()))
                .ok()
        };
        Self {
            automaton,
            kinds: pats.into_iter().map(|p| p.1).collect(),
            skipped,
        }
    }

    /// How many non-empty secrets were too short to redact.
    pub fn skipped(&self) -> usize {
        self.skipped
    }

    /// Replaces every secret variant and known key format with `[REDACTED]`.
    pub fn redact(&self, text: &str) -> (String, Vec<Hit>) {
        let mut spans: Vec<(usize, usize, &'static str)> = Vec::new();
        if let Some(ac) = &self.automaton {
            let bytes = text.as_bytes();
            for m in ac.find_iter(text) {
                let Some(kind) = self.kinds.get(m.pattern().as_usize()) else {
                    continue;
                };
                if *kind == VariantKind::PlainWholeToken {
                    let before = m.start().checked_sub(1).and_then(|i| bytes.get(i));
                    let after = bytes.get(m.end());
                    let wordy =
                        |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_');
                    if wordy(before) || wordy(after) {
                        continue;
                    }
                }
                spans.push((m.start(), m.end(), kind.as_str()));
            }
        }
        key_format_spans(text, &mut spans);
        apply(text, spans)
    }
}

/// Well-known credential formats, most specific first.
static KEY_FORMATS: LazyLock<Vec<(&'static str, Regex)>> = LazyLock::new(|| {
    [
        (
            "private_key_pem",
            r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----(?:[\s\S]*?-----END [A-Z0-9 ]*PRIVATE KEY-----|[\s\S]*)",
        ),
        ("anthropic_key", r"\bsk-ant-[A-Za-z0-9_-]{20,}"),
        ("openai_key", r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}"),
        ("github_token", r"\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})"),
        ("aws_access_key", r"\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b"),
        (
            "aws_secret_key",
            r#"(?i)aws_?secret_?access_?key["']?\s*[:=]\s*["']?[A-Za-z0-9/+=]{40}"#,
        ),
        ("slack_token", r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),
        ("slack_webhook", r"https://hooks\.slack\.com/services/[A-Za-z0-9/_-]{20,}"),
        ("jwt", r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{10,}"),
    ]
    .into_iter()
    .filter_map(|(kind, src)| Regex::new(src).ok().map(|re| (kind, re)))
    .collect()
});

/// Number of key-format patterns that compiled (a test pins this).
#[cfg(test)]
pub(crate) fn key_format_count() -> usize {
    KEY_FORMATS.len()
}

fn key_format_spans(text: &str, spans: &mut Vec<(usize, usize, &'static str)>) {
    for (kind, re) in KEY_FORMATS.iter() {
        for m in re.find_iter(text) {
            spans.push((m.start(), m.end(), kind));
        }
    }
}

/// Merges overlapping spans and writes the redacted text.
fn apply(text: &str, mut spans: Vec<(usize, usize, &'static str)>) -> (String, Vec<Hit>) {
    if spans.is_empty() {
        return (text.to_string(), Vec::new());
    }
    spans.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
    let mut merged: Vec<Hit> = Vec::new();
    for (s, e, kind) in spans {
        match merged.last_mut() {
            Some(last) if s < last.end => last.end = last.end.max(e),
            _ => merged.push(Hit {
                kind: kind.to_string(),
                start: s,
                end: e,
            }),
        }
    }
    let mut out = String::with_capacity(text.len());
    let mut pos = 0;
    for h in &merged {
        out.push_str(text.get(pos..h.start).unwrap_or(""));
        out.push_str(REDACTED);
        pos = h.end;
    }
    out.push_str(text.get(pos..).unwrap_or(""));
    (out, merged)
}

/// One-off redaction; build a `Redactor` instead when scanning many texts.
pub fn redact(
    text: &str,
    secrets: impl IntoIterator<Item = impl AsRef<str>>,
) -> (String, Vec<Hit>) {
    Redactor::new(secrets).redact(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "hunter2-correct-horse";

    #[test]
    fn all_key_formats_compile() {
        assert_eq!(key_format_count(), 9);
    }

    #[test]
    fn plain_and_encoded_forms_are_redacted() {
        let r = Redactor::new([SECRET]);
        for form in [
            SECRET.to_string(),
            STANDARD.encode(SECRET),
            URL_SAFE_NO_PAD.encode(SECRET),
            hex_encode(SECRET.as_bytes(), false),
            hex_encode(SECRET.as_bytes(), true),
            percent_encode(SECRET.as_bytes(), true, true),
        ] {
            let (out, hits) = r.redact(&format!("leak: {form} done"));
            assert_eq!(out, "leak: [REDACTED] done", "{form}");
            assert_eq!(hits.len(), 1);
        }
    }

    #[test]
    fn secret_inside_basic_auth_blob_is_redacted() {
        let blob = STANDARD.encode(format!("alice:{SECRET}"));
        let (out, hits) = Redactor::new([SECRET]).redact(&format!("Authorization: Basic {blob}"));
        assert!(!hits.is_empty());
        assert!(!out.contains(&blob));
    }

    #[test]
    fn short_secret_policy() {
        let r = Redactor::new(["abc", "pa55", ""]);
        assert_eq!(r.skipped(), 1);
        assert_eq!(r.redact("code pa55 here").0, "code [REDACTED] here");
        // Inside a longer word it is left alone.
        assert_eq!(r.redact("xpa55y").0, "xpa55y");
        assert_eq!(r.redact("abc").0, "abc");
    }

    #[test]
    fn key_formats_are_redacted() {
        let cases = [
            (
                "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
                "anthropic_key",
            ),
            ("sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123", "openai_key"),
            ("ghp_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789", "github_token"),
            ("AKIAIOSFODNN7EXAMPLE", "aws_access_key"),
            (
                "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                "aws_secret_key",
            ),
            ("xoxb-123456789012-abcdefghijkl", "slack_token"),
            (
                "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NSJ9.c2lnbmF0dXJlLXZhbHVl",
                "jwt",
            ),
            (
                "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----",
                "private_key_pem",
            ),
            (
                "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk",
                "private_key_pem",
            ),
        ];
        let r = Redactor::new(Vec::<String>::new());
        for (key, kind) in cases {
            let (out, hits) = r.redact(&format!("x {key}"));
            assert_eq!(out, "x [REDACTED]", "{kind}");
            assert_eq!(hits.first().map(|h| h.kind.as_str()), Some(kind));
        }
    }

    #[test]
    fn ordinary_text_is_untouched() {
        let r = Redactor::new([SECRET]);
        let text = "The sky-blue risk assessment is due; see ghp_short and sk-12.";
        assert_eq!(r.redact(text), (text.to_string(), Vec::new()));
    }

    #[test]
    fn debug_never_prints_secrets() {
        let r = Redactor::new([SECRET]);
        assert!(!format!("{r:?}").contains("hunter2"));
    }

    #[test]
    fn free_function_matches_redactor() {
        assert_eq!(
            redact(&format!("a {SECRET} b"), [SECRET]).0,
            "a [REDACTED] b"
        );
    }
}
