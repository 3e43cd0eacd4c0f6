//! Unit and property tests of the redactor (see the parent module).

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

/// One sample of every key format, with its hit kind.
const KEY_SAMPLES: &[(&str, &str)] = &[
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
        "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXX",
        "slack_webhook",
    ),
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

#[test]
fn key_formats_are_redacted() {
    let r = Redactor::new(Vec::<String>::new());
    for (key, kind) in KEY_SAMPLES {
        let (out, hits) = r.redact(&format!("x {key}"));
        assert_eq!(out, "x [REDACTED]", "{kind}");
        assert_eq!(hits.first().map(|h| h.kind.as_str()), Some(*kind));
    }
}

#[test]
fn secret_starting_inside_a_skipped_short_match_is_redacted() {
    // "y %4" is glued to "q" and skipped; the percent form of the long
    // secret starts inside it.
    let r = Redactor::new(["y %4", "AAAAAAAA"]);
    let text = format!("qy {} end", "%41".repeat(8));
    assert_eq!(r.redact(&text).0, "qy [REDACTED] end");
    let r = Redactor::new(["zzab", "abcdefghij"]);
    assert_eq!(r.redact("qzzabcdefghij").0, "qzz[REDACTED]");
}

#[test]
fn overlapping_secrets_leave_no_tail() {
    let r = Redactor::new(["abcdefgh1234", "1234wxyz5678"]);
    let (out, hits) = r.redact("x abcdefgh1234wxyz5678 y");
    assert_eq!(out, "x [REDACTED] y");
    assert_eq!((hits.len(), hits[0].start, hits[0].end), (1, 2, 22));
}

#[test]
fn key_glued_to_a_redaction_is_redacted() {
    let r = Redactor::new([SECRET]);
    let key = "sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123";
    let (out, hits) = r.redact(&format!("a {SECRET}{key} b"));
    assert_eq!(out, "a [REDACTED][REDACTED] b");
    let kinds: Vec<&str> = hits.iter().map(|h| h.kind.as_str()).collect();
    assert_eq!(kinds, ["secret", "openai_key"]);
    // An AWS key id needs a boundary after it, which the marker gives.
    let text = format!("a AKIAIOSFODNN7EXAMPLE{SECRET} b");
    assert_eq!(r.redact(&text).0, "a [REDACTED][REDACTED] b");
    // Glued to an ordinary word a key is still no key.
    let text = format!("a x{key} b");
    assert_eq!(r.redact(&text).0, text);
}

#[test]
fn stream_holds_a_key_that_a_later_redaction_completes() {
    // The key assignment glued after the AWS key id becomes a marker,
    // which gives the id the boundary its pattern needs at the end. A
    // stream must not let the id out before it knows.
    let r = std::sync::Arc::new(Redactor::new(Vec::<String>::new()));
    let text = "id AKIAIOSFODNN7EXAMPLEaws_secret_access_key = \
                wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY end";
    let whole = r.redact(text).0;
    assert_eq!(whole, "id [REDACTED][REDACTED] end");
    let mut s = crate::StreamRedactor::new(r);
    let mut out: String = text
        .chars()
        .map(|c| s.push(c.encode_utf8(&mut [0; 4])))
        .collect();
    out.push_str(&s.finish());
    assert_eq!(out, whole);
}

#[test]
fn glued_key_start_covers_only_keys_with_a_late_look_around() {
    // Only the AWS key id ends in a look-around.
    assert_eq!(LATE_LOOK.as_ref().map(Vec::len), Some(1));
    assert_eq!(glued_key_start("x AKIA09Z", 9), 2);
    assert_eq!(glued_key_start("x AKIA09Z", 5), 2);
    // Not a possible key id: nothing to hold.
    assert_eq!(glued_key_start("x 1234567890 ", 12), 12);
    assert_eq!(glued_key_start("x — AKIA, ", 12), 12);
    assert_eq!(glued_key_start("x sk-ab ", 8), 8);
    // A key id right at the cut keeps the word before it.
    assert_eq!(glued_key_start("Zq9#kAKIA", 5), 4);
}

#[test]
fn short_secret_next_to_a_redaction_is_redacted() {
    let r = Redactor::new(["pa55", SECRET]);
    let text = format!("x pa55{SECRET} y");
    assert_eq!(r.redact(&text).0, "x [REDACTED][REDACTED] y");
    // Still glued to a word on its other side: left alone.
    let text = format!("x zpa55{SECRET} y");
    assert_eq!(r.redact(&text).0, "x zpa55[REDACTED] y");
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

// ---- property test ----------------------------------------------------

use proptest::prelude::*;

const WORDS: &[&str] = &[
    "the", "x", "sk", "ghp_", "AKIA", "eyJ", "aws", "é", "1234", "-----",
];
const GLUE: &[&str] = &["", "", "-", "_", "x", " ", "\n", "é", "=", "/", ".", "%"];

/// Whether `needle` occurs in `hay` with no word byte on either side.
fn whole_token_in(hay: &str, needle: &str) -> bool {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    (0..h.len().saturating_sub(n.len()) + 1).any(|i| {
        h[i..].starts_with(n)
            && i.checked_sub(1).is_none_or(|j| !is_word_byte(h[j]))
            && h.get(i + n.len()).is_none_or(|b| !is_word_byte(*b))
    })
}

/// Long and short secrets, and texts in which they overlap: the first
/// two long ones, and a short one glued to "q" running into the first.
fn secrets() -> impl Strategy<Value = (Vec<String>, Vec<String>, [String; 2])> {
    // No brackets and no capitals: a secret must not be part of the
    // marker `[REDACTED]` itself.
    let long = prop::collection::vec("[ab1 ./_é%-]{8,12}", 1..3);
    let short = prop::collection::vec("[ab1 %_-]{4,7}", 0..3);
    (long, short, 1usize..7, "[ab1]{0,6}").prop_map(|(mut long, mut short, k, tail)| {
        let first = long[0].clone();
        let (_, rest) = first.split_at(first.char_indices().nth(k).map_or(0, |c| c.0));
        long.push(format!("{rest}{tail}wxyz5678"));
        let start: String = first.chars().take(3).collect();
        short.push(format!("y{start}"));
        (
            long,
            short,
            [format!("{first}{tail}wxyz5678"), format!("qy{first}")],
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// The output holds no variant of a long secret, no whole-token short
    /// secret and no key-format match, whatever is glued to what, and
    /// redacting it again finds nothing.
    #[test]
    fn output_never_holds_a_secret_or_a_key(
        (long, short, overlaps) in secrets(),
        tokens in prop::collection::vec((0u8..6, any::<usize>(), any::<usize>()), 0..24),
    ) {
        let mut all = long.clone();
        all.extend(short.iter().cloned());
        let r = Redactor::new(&all);
        let mut text = String::new();
        for &(kind, a, b) in &tokens {
            let token = match kind {
                0 => {
                    let v = variants(&long[a % long.len()]);
                    v[b % v.len()].0.clone()
                }
                1 => short[a % short.len()].clone(),
                2 => KEY_SAMPLES[a % KEY_SAMPLES.len()].0.to_string(),
                3 => overlaps[a % 2].clone(),
                _ => WORDS[a % WORDS.len()].to_string(),
            };
            text.push_str(&token);
            text.push_str(GLUE[b % GLUE.len()]);
        }
        let (out, hits) = r.redact(&text);
        for s in &long {
            for (v, _) in variants(s) {
                prop_assert!(!out.contains(&v), "variant {v:?} of {s:?} in {out:?}");
            }
        }
        for s in &short {
            prop_assert!(!whole_token_in(&out, s), "{s:?} in {out:?}");
        }
        for (kind, re) in KEY_FORMATS.iter() {
            prop_assert!(!re.is_match(&out), "{kind} in {out:?}");
        }
        for h in &hits {
            prop_assert!(text.is_char_boundary(h.start) && text.is_char_boundary(h.end));
        }
        prop_assert!(hits.windows(2).all(|w| w[0].end <= w[1].start));
        prop_assert!(r.redact(&out).1.is_empty(), "{out:?}");
    }
}

/// The matcher finds exactly what a naive search over every variant finds:
/// every occurrence, overlapping ones included.
fn naive(secrets: &[String], text: &str) -> Vec<(usize, usize)> {
    let mut pats: Vec<String> = Vec::new();
    for s in secrets {
        if s.len() < MIN_SECRET_LEN {
            continue;
        }
        if s.len() < FULL_VARIANTS_MIN_LEN {
            pats.push(s.clone());
        } else {
            pats.extend(variants(s).into_iter().map(|v| v.0));
        }
    }
    pats.sort();
    pats.dedup();
    let h = text.as_bytes();
    let mut out = Vec::new();
    for p in &pats {
        for i in 0..h.len() {
            if h[i..].starts_with(p.as_bytes()) {
                out.push((i, i + p.len()));
            }
        }
    }
    out.sort();
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn matcher_finds_what_a_naive_search_finds(
        (long, short, overlaps) in secrets(),
        tokens in prop::collection::vec((0u8..4, any::<usize>(), any::<usize>()), 0..16),
    ) {
        let mut all = long.clone();
        all.extend(short.iter().cloned());
        let r = Redactor::new(&all);
        let mut text = String::new();
        for &(kind, a, b) in &tokens {
            match kind {
                0 => {
                    let v = variants(&long[a % long.len()]);
                    text.push_str(&v[b % v.len()].0);
                }
                1 => text.push_str(&short[a % short.len()]),
                2 => text.push_str(&overlaps[a % 2]),
                _ => text.push_str(WORDS[a % WORDS.len()]),
            }
            text.push_str(GLUE[b % GLUE.len()]);
        }
        let mut found: Vec<(usize, usize)> =
            r.occurrences(&text).into_iter().map(|(s, e, _)| (s, e)).collect();
        found.sort();
        prop_assert_eq!(found, naive(&all, &text));
        // A prefix of a variant is one, a prefix plus a byte no variant
        // continues with is not.
        for s in &long {
            for (v, _) in variants(s) {
                for cut in 0..=v.len() {
                    prop_assert!(r.may_start_variant(&v.as_bytes()[..cut]));
                }
            }
        }
        prop_assert!(!r.may_start_variant(b"\xff"));
    }
}

/// A redactor rebuilt without a secret no longer redacts it; the other
/// secrets still are.
#[test]
fn a_rebuilt_redactor_forgets_a_removed_secret() {
    let kept = "kept-secret-value-0001";
    let text = format!("{SECRET} {kept} {}", STANDARD.encode(SECRET));
    let before = Redactor::new([SECRET, kept]);
    assert_eq!(before.redact(&text).0, "[REDACTED] [REDACTED] [REDACTED]");
    let after = Redactor::new([kept]);
    assert_eq!(
        after.redact(&text).0,
        format!("{SECRET} [REDACTED] {}", STANDARD.encode(SECRET))
    );
    assert!(!after.may_start_variant(SECRET.as_bytes()));
    assert_eq!(format!("{after:?}").matches("hunter").count(), 0);
    // No secrets: nothing is held back or matched.
    let none = Redactor::new([] as [&str; 0]);
    assert!(!none.may_start_variant(b""));
    assert_eq!(none.longest_variant(), 0);
}
