use super::*;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use proptest::prelude::*;

const SECRET: &str = "hunter2-correct-horse";

fn stream(r: &Arc<Redactor>, chunks: &[&str]) -> (Vec<String>, StreamRedactor) {
    let mut s = StreamRedactor::new(Arc::clone(r));
    let mut out: Vec<String> = chunks.iter().map(|c| s.push(c)).collect();
    out.push(s.finish());
    (out, s)
}

fn one_byte_chunks(text: &str) -> Vec<&str> {
    let mut v = Vec::new();
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        let (head, tail) = rest.split_at(c.len_utf8());
        v.push(head);
        rest = tail;
    }
    v
}

#[test]
fn secret_split_in_two_is_redacted() {
    let r = Arc::new(Redactor::new([SECRET]));
    let (out, s) = stream(&r, &["token: hunter2-co", "rrect-horse done"]);
    assert!(out.iter().all(|p| !p.contains("hunter2")));
    assert_eq!(out.concat(), "token: [REDACTED] done");
    let kinds: Vec<&str> = s.hits().iter().map(|h| h.kind.as_str()).collect();
    assert_eq!(kinds, ["secret"]);
    assert_eq!((s.hits()[0].start, s.hits()[0].end), (7, 7 + SECRET.len()));
}

#[test]
fn secret_in_one_byte_chunks_never_shows_a_prefix() {
    let secret = "correct horse battery staple";
    let r = Arc::new(Redactor::new([secret]));
    let text = format!("say {secret} now, and again {secret}.");
    let (out, _) = stream(&r, &one_byte_chunks(&text));
    // Not even the first word of the (space-containing) secret escapes.
    assert!(out.iter().all(|p| !p.contains("correct")));
    assert_eq!(out.concat(), "say [REDACTED] now, and again [REDACTED].");
}

#[test]
fn base64_form_split_is_redacted() {
    let r = Arc::new(Redactor::new([SECRET]));
    let b64 = STANDARD.encode(SECRET);
    let (a, b) = b64.split_at(5);
    let (out, s) = stream(&r, &["x ", a, b, " y"]);
    assert!(out.iter().all(|p| !p.contains(a)));
    assert_eq!(out.concat(), "x [REDACTED] y");
    assert_eq!(s.hits()[0].kind, "secret_base64");
}

#[test]
fn key_format_split_is_redacted() {
    let r = Arc::new(Redactor::new(Vec::<String>::new()));
    let (out, s) = stream(
        &r,
        &["key sk-proj-AbCdEf", "GhIjKlMnOpQrSt", "UvWxYz0123 ok"],
    );
    assert!(out.iter().all(|p| !p.contains("sk-")));
    assert_eq!(out.concat(), "key [REDACTED] ok");
    assert_eq!(s.hits()[0].kind, "openai_key");
}

#[test]
fn prose_without_secrets_passes_through_at_once() {
    let r = Arc::new(Redactor::new(Vec::<String>::new()));
    let mut s = StreamRedactor::new(r);
    assert_eq!(s.push("Hello there, "), "Hello there, ");
    assert_eq!(s.push("wor"), "");
    assert_eq!(s.push("ld! How"), "world! ");
    assert_eq!(s.finish(), "How");
    assert!(s.hits().is_empty());
}

#[test]
fn prose_with_registered_secrets_is_held_back_boundedly() {
    let r = Arc::new(Redactor::new([SECRET]));
    let mut s = StreamRedactor::new(Arc::clone(&r));
    let mut out = String::new();
    for _ in 0..50 {
        out.push_str(&s.push("The agent wrote a long and harmless answer. "));
        // No tail of this prose starts any variant: nothing is held.
        assert!(s.pending.is_empty(), "{}", s.pending.len());
    }
    assert_eq!(out.len(), 50 * 44);
}

/// Ten secrets whose variants run up to ~170 bytes, as a vault with API
/// keys would register.
fn vault() -> Arc<Redactor> {
    Arc::new(Redactor::new((0..10).map(|i| {
        format!("sk-provider-{i:02}-live-credential-value-0123456789abcdefghij")
    })))
}

#[test]
fn prose_sharing_no_prefix_with_a_secret_is_emitted_at_once() {
    let r = vault();
    assert!(r.longest_variant() > 100);
    let mut s = StreamRedactor::new(r);
    assert_eq!(s.push("partial answer "), "partial answer ");
    // Only the unfinished last word waits (a key format could grow).
    assert_eq!(s.push("and more wor"), "and more ");
    assert_eq!(s.push("ds. "), "words. ");
    assert_eq!(s.finish(), "");
    assert!(s.hits().is_empty());
}

#[test]
fn tail_that_starts_a_secret_is_held() {
    let r = Arc::new(Redactor::new([SECRET]));
    let mut s = StreamRedactor::new(Arc::clone(&r));
    assert_eq!(s.push("the token is hunte"), "the token is ");
    assert_eq!(s.push("r2-correct-horse."), "");
    assert_eq!(s.finish(), "[REDACTED].");
    // A secret whose first bytes end in whitespace: the trailing-word
    // rule alone would let "open " out.
    let r = Arc::new(Redactor::new(["open sesame 1234"]));
    let mut s = StreamRedactor::new(Arc::clone(&r));
    assert_eq!(s.push("you say open "), "you say ");
    assert_eq!(s.push("sesame"), "");
    assert_eq!(s.push(" 1234 ok "), "[REDACTED] ok ");
    // Its percent form "open%20..." and "+" form are held the same way.
    assert_eq!(open_variant(&r, "a open+"), 2);
    assert_eq!(open_variant(&r, "a open%2"), 2);
    assert_eq!(open_variant(&r, "a opens"), 7);
}

#[test]
fn base64_form_first_bytes_are_held() {
    let r = Arc::new(Redactor::new([SECRET]));
    let b64 = STANDARD.encode(SECRET);
    let text = format!("x {}", &b64[..5]);
    assert_eq!(open_variant(&r, &text), 2);
    let hex = format!("x {}", &hex(SECRET, false)[..6]);
    assert_eq!(open_variant(&r, &hex), 2);
    // A prefix of no variant holds nothing.
    assert_eq!(open_variant(&r, "x yz"), 4);
    let mut s = StreamRedactor::new(r);
    assert_eq!(s.push(&text), "x ");
    assert_eq!(s.push(&b64[5..]), "");
    assert_eq!(s.finish(), "[REDACTED]");
}

#[test]
fn without_secrets_no_variant_can_start() {
    let r = Redactor::new(Vec::<String>::new());
    assert!(!r.may_start_variant(b"anything"));
    assert_eq!(open_variant(&r, "abc "), 4);
}

#[test]
fn pem_header_is_held_and_prose_after_the_block_streams() {
    let r = Arc::new(Redactor::new(Vec::<String>::new()));
    let mut s = StreamRedactor::new(r);
    let mut out = s.push("key: -----BEGIN RSA PRI");
    out.push_str(&s.push("VATE KEY-----\nMIIEow\n-----END RSA "));
    assert!(!out.contains("BEGIN") && !out.contains("MIIE"), "{out}");
    out.push_str(&s.push("PRIVATE KEY----- and then some prose "));
    assert_eq!(out, "key: [REDACTED] and then some prose ");
    assert_eq!(s.finish(), "");
    assert_eq!(s.hits()[0].kind, "private_key_pem");
}

#[test]
fn unterminated_pem_is_held_until_finish() {
    let r = Arc::new(Redactor::new(Vec::<String>::new()));
    let mut s = StreamRedactor::new(r);
    let mut out = s.push("a -----BEGIN OPENSSH PRIVATE KEY-----\n");
    out.push_str(&s.push("b3BlbnNzaC1rZXk lots of body text "));
    assert_eq!(out, "a ");
    assert_eq!(s.finish(), "[REDACTED]");
}

#[test]
fn aws_secret_assignment_split_at_whitespace_is_redacted() {
    let r = Arc::new(Redactor::new(Vec::<String>::new()));
    let chunks = [
        "conf aws_secret_access_key ",
        "=   ",
        "wJalrXUtnFEMI/K7MDENG/",
        "bPxRfiCYEXAMPLEKEY\nnext line",
    ];
    let (out, s) = stream(&r, &chunks);
    assert!(out.iter().all(|p| !p.contains("aws_secret")), "{out:?}");
    assert_eq!(out.concat(), "conf [REDACTED]\nnext line");
    assert_eq!(s.hits()[0].kind, "aws_secret_key");
}

#[test]
fn key_glued_to_a_word_is_not_redacted_by_a_cut() {
    // `\bsk-` does not match after a word character; a cut between
    // "x" and "sk-" must not make it match.
    let r = Arc::new(Redactor::new([SECRET]));
    let text = format!(
        "{} xsk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123 {}",
        "a ".repeat(20),
        "b ".repeat(40)
    );
    let whole = r.redact(&text).0;
    for size in 1..8 {
        let chunks: Vec<&str> = text
            .as_bytes()
            .chunks(size)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        assert_eq!(stream(&r, &chunks).0.concat(), whole, "chunk size {size}");
    }
}

#[test]
fn cut_never_lands_inside_a_skipped_whole_token_match() {
    // `redact` walks over "y %4" (skipped: glued to "q") and so never
    // sees the percent form of the long secret starting inside it. A
    // cut after "qy" would let the rest of the stream see it.
    let r = Arc::new(Redactor::new(["y %4", "AAAAAAAA"]));
    let text = format!("qy {} end", "%41".repeat(8));
    let whole = r.redact(&text).0;
    assert_eq!(stream(&r, &one_byte_chunks(&text)).0.concat(), whole);
}

#[test]
fn hits_carry_stream_offsets() {
    let r = Arc::new(Redactor::new([SECRET]));
    let text = format!("one {SECRET} two ghp_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789 three {SECRET}");
    let (_, s) = stream(&r, &one_byte_chunks(&text));
    assert_eq!(s.hits(), r.redact(&text).1.as_slice());
    assert_eq!(s.hits().len(), 3);
}

#[test]
fn stream_redactor_can_cross_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<StreamRedactor>();
}

#[test]
fn debug_never_prints_pending_text() {
    let r = Arc::new(Redactor::new([SECRET]));
    let mut s = StreamRedactor::new(r);
    assert_eq!(s.push("hunter2-corr"), "");
    assert!(!format!("{s:?}").contains("hunter2"));
}

#[test]
fn spanning_key_formats_have_working_detectors() {
    // The PEM block and the AWS secret assignment can contain whitespace.
    assert_eq!(SPANNING.len(), 2);
    assert!(SPANNING.iter().all(Option::is_some));
    assert!(!can_match_whitespace(r"\bsk-[A-Za-z0-9_-]{20,}"));
    assert!(can_match_whitespace(r"a\s*b"));
}

// ---- property tests -------------------------------------------------

const WORDS: &[&str] = &[
    "the",
    "agent",
    "replied",
    "naïve",
    "日本語",
    "emoji😀",
    "aws",
    "laws",
    "AWS_secret",
    "sk",
    "sk-12",
    "ghp_short",
    "eyJ",
    "-----",
    "BEGIN",
    "PRIVATE",
    "KEY-----",
    "hooks",
    "key:",
    "a_b",
    "x-y",
    "https://example.com/a?b=c",
    "AKIA",
    "=",
    "\"quoted\"",
    "xpa55y",
    "x",
    "-",
    "é",
    "1234567890",
];
const KEYS: &[&str] = &[
    "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
    "sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123",
    "ghp_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
    "AKIAIOSFODNN7EXAMPLE",
    "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "AWS_SECRET_ACCESS_KEY:\n  \"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\"",
    "xoxb-123456789012-abcdefghijkl",
    "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXX",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NSJ9.c2lnbmF0dXJlLXZhbHVl",
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEow IBAA\n-----END RSA PRIVATE KEY-----",
    "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk",
];
const SHORT_SECRETS: &[&str] = &["pa55", "Zq9#k"];
/// Invariant 3's allowance beyond an open variant and a complete match.
const SLACK: usize = 16;
const SEPS: &[&str] = &[" ", "\n", ", ", " — ", "\u{3000}", "\t", ".  ", " é "];

fn hex(s: &str, upper: bool) -> String {
    s.bytes()
        .map(|b| {
            if upper {
                format!("{b:02X}")
            } else {
                format!("{b:02x}")
            }
        })
        .collect()
}

fn percent_all(s: &str) -> String {
    s.bytes().map(|b| format!("%{b:02X}")).collect()
}

fn json(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('/', "\\/")
}

/// The forms of a secret the tests write into texts and look for.
fn forms(s: &str) -> Vec<String> {
    vec![
        s.to_string(),
        STANDARD.encode(s),
        URL_SAFE_NO_PAD.encode(s),
        hex(s, false),
        hex(s, true),
        percent_all(s),
        json(s),
    ]
}

fn build_text(secrets: &[String], tokens: &[(u8, usize, usize)]) -> String {
    let mut text = String::new();
    for (i, &(kind, a, b)) in tokens.iter().enumerate() {
        let token = match kind {
            0 if !secrets.is_empty() => {
                let f = forms(&secrets[a % secrets.len()]);
                f[b % f.len()].clone()
            }
            1 => KEYS[a % KEYS.len()].to_string(),
            2 => SHORT_SECRETS[a % SHORT_SECRETS.len()].to_string(),
            _ => WORDS[a % WORDS.len()].to_string(),
        };
        text.push_str(&token);
        text.push_str(SEPS[(b + i) % SEPS.len()]);
    }
    text
}

fn chunk<'a>(text: &'a str, sizes: &[usize]) -> Vec<&'a str> {
    let mut v = Vec::new();
    let mut pos = 0;
    let mut i = 0;
    while pos < text.len() {
        let mut end = (pos + sizes[i % sizes.len()]).min(text.len());
        while !text.is_char_boundary(end) {
            end += 1;
        }
        v.push(&text[pos..end]);
        pos = end;
        i += 1;
    }
    v
}

fn token() -> impl Strategy<Value = (u8, usize, usize)> {
    (
        prop_oneof![3 => Just(0u8), 2 => Just(1u8), 1 => Just(2u8), 4 => Just(3u8)],
        any::<usize>(),
        any::<usize>(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(160))]

    #[test]
    fn streaming_equals_whole_redaction_and_never_leaks(
        long in prop::collection::vec("[a-zA-Z0-9 ./\"\\\\äß€_-]{8,20}", 0..3),
        tokens in prop::collection::vec(token(), 0..40),
        sizes in prop::collection::vec(1usize..14, 1..20),
        one_byte in any::<bool>(),
    ) {
        let mut secrets = long.clone();
        secrets.extend(SHORT_SECRETS.iter().map(|s| s.to_string()));
        let r = Arc::new(Redactor::new(&secrets));
        let text = build_text(&long, &tokens);
        let sizes = if one_byte { vec![1] } else { sizes };
        let chunks = chunk(&text, &sizes);
        let no_keys = Redactor::new(Vec::<String>::new());
        let all_forms: Vec<String> = long.iter().flat_map(|s| forms(s)).collect();

        let mut s = StreamRedactor::new(Arc::clone(&r));
        let mut emitted = String::new();
        for c in &chunks {
            let piece = s.push(c);
            emitted.push_str(&piece);
            // Invariant 2: nothing registered or key-shaped gets out.
            for f in &all_forms {
                prop_assert!(!emitted.contains(f.as_str()), "form leaked: {emitted:?}");
            }
            prop_assert!(no_keys.redact(&piece).1.is_empty(), "key in {piece:?}");
            prop_assert!(r.redact(&emitted).1.is_empty(), "hit in {emitted:?}");
            // Invariant 3: prose is held back only as far as a tail
            // that may start a variant, plus slack; a complete match
            // is emitted whole, so it may add its own length.
            let p = &s.pending;
            if p.ends_with(char::is_whitespace)
                && !p.contains("-----")
                && !p.to_lowercase().contains("aws")
            {
                let longest = r.redact(p).1.iter().map(|h| h.end - h.start).max();
                let open = p.len() - open_variant(&r, p);
                let bound = open + SLACK + longest.unwrap_or(0);
                prop_assert!(p.len() <= bound, "held {} > {bound}: {p:?}", p.len());
            }
        }
        emitted.push_str(&s.finish());
        // Invariant 1: same result as redacting the whole text at once.
        let (whole, hits) = r.redact(&text);
        prop_assert_eq!(&emitted, &whole);
        prop_assert_eq!(s.hits(), hits.as_slice());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(160))]

    /// The prefix rule is sound: any beginning of any form of a secret
    /// at the end of the pending text is held, even after whitespace.
    #[test]
    fn every_prefix_of_every_form_is_held(
        secret in "[a-zA-Z0-9 ./\"\\\\äß€_-]{8,20}",
        at in any::<prop::sample::Index>(),
    ) {
        let r = Arc::new(Redactor::new([&secret]));
        for f in forms(&secret) {
            let ends: Vec<usize> = (1..=f.len()).filter(|&i| f.is_char_boundary(i)).collect();
            let part = &f[..ends[at.index(ends.len())]];
            prop_assert!(r.may_start_variant(part.as_bytes()));
            let mut s = StreamRedactor::new(Arc::clone(&r));
            let out = s.push(&format!("w {part}"));
            prop_assert!(out.len() <= 2, "{out:?}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(160))]

    /// Invariant 1 under adversarial input: tokens glued together or
    /// split by punctuation only, short overlapping secrets, so that
    /// look-behind (`\b`, whole-token) and overlaps meet the cuts.
    #[test]
    fn streaming_equals_whole_redaction_when_glued(
        long in prop::collection::vec("[abc -]{8,12}", 0..3),
        short in prop::collection::vec("[abc]{4,6}", 0..2),
        tokens in prop::collection::vec(token(), 0..30),
        glue in prop::collection::vec(prop::sample::select(vec!["", "", "-", " ", "x", "\n"]), 1..8),
        sizes in prop::collection::vec(1usize..10, 1..10),
    ) {
        let mut secrets = long.clone();
        secrets.extend(short.iter().cloned());
        let r = Arc::new(Redactor::new(&secrets));
        let mut text = String::new();
        for (i, &(kind, a, b)) in tokens.iter().enumerate() {
            let t = build_text(&long, &[(kind, a, b)]);
            // Drop the separator build_text appended, glue instead.
            let sep = SEPS[b % SEPS.len()];
            text.push_str(t.strip_suffix(sep).unwrap_or(&t));
            text.push_str(glue[i % glue.len()]);
        }
        let chunks = chunk(&text, &sizes);
        let (out, s) = stream(&r, &chunks);
        let (whole, hits) = r.redact(&text);
        prop_assert_eq!(out.concat(), whole);
        prop_assert_eq!(s.hits(), hits.as_slice());
    }
}
