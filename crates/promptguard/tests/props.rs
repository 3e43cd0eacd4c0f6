//! Property tests: the scanner never panics and reports char-boundary spans;
//! the redactor never lets a registered secret through.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use proptest::prelude::*;

fn tricky_text() -> impl Strategy<Value = String> {
    // Mix ASCII, confusables, invisibles, bidi, tags, fullwidth and CJK.
    let atoms = prop::sample::select(vec![
        "ignore",
        " ",
        "all",
        "previous",
        "instructions",
        "<|im_start|>",
        "system",
        ":",
        "\n",
        "\u{200B}",
        "\u{202E}",
        "\u{0456}",
        "\u{FF49}",
        "\u{E0041}",
        "\u{1D422}",
        "忽略",
        "é",
        "e\u{301}",
        "%20",
        "%",
        "aWdub3Jl",
        "0x",
        "\\x6",
        "DAN",
        "<<<",
        ">>>",
        "1",
        "@",
        "|",
        "\u{FEFF}",
        "ﬃ",
        "🏴\u{E0067}\u{E007F}",
    ]);
    prop::collection::vec(atoms, 0..40).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn scan_spans_are_char_boundaries(text in any::<String>()) {
        let v = promptguard::scan(&text);
        for f in &v.findings {
            prop_assert!(f.start <= f.end && f.end <= text.len());
            prop_assert!(text.is_char_boundary(f.start) && text.is_char_boundary(f.end));
        }
        prop_assert_eq!(v.flagged, v.score >= promptguard::FLAG_THRESHOLD);
    }

    #[test]
    fn scan_handles_tricky_mixtures(text in tricky_text()) {
        let v = promptguard::scan(&text);
        for f in &v.findings {
            prop_assert!(text.is_char_boundary(f.start) && text.is_char_boundary(f.end));
            prop_assert!(f.end <= text.len());
        }
        let stripped = promptguard::strip_template_tokens(&text);
        prop_assert_eq!(promptguard::strip_template_tokens(&stripped), stripped.clone());
        prop_assert!(!stripped.contains("<|im_start|>"));
    }

    #[test]
    fn redact_removes_secret_in_every_form(
        secret in "[A-Za-z0-9_.~-]{8,40}",
        before in "[ -~]{0,40}",
        after in "[ -~]{0,40}",
        form in 0usize..5,
    ) {
        let encoded = match form {
            0 => secret.clone(),
            1 => STANDARD.encode(&secret),
            2 => URL_SAFE_NO_PAD.encode(&secret),
            3 => secret.bytes().map(|b| format!("{b:02x}")).collect(),
            _ => secret.bytes().map(|b| format!("%{b:02X}")).collect(),
        };
        let text = format!("{before}{encoded}{after}");
        let r = promptguard::Redactor::new([secret.as_str()]);
        let (out, hits) = r.redact(&text);
        prop_assert!(!hits.is_empty());
        prop_assert!(!out.contains(&secret), "plain secret survived: {out}");
        let b64 = STANDARD.encode(&secret);
        prop_assert!(!out.contains(b64.trim_end_matches('=')), "base64 survived: {out}");
        let hex: String = secret.bytes().map(|b| format!("{b:02x}")).collect();
        prop_assert!(!out.contains(&hex), "hex survived: {out}");
        for h in &hits {
            prop_assert!(text.is_char_boundary(h.start) && text.is_char_boundary(h.end));
        }
    }

    #[test]
    fn wrap_keeps_exactly_one_block(text in tricky_text(), nonce in "[A-Za-z0-9]{8,16}") {
        let out = promptguard::wrap_untrusted("web", &text, &nonce);
        prop_assert_eq!(out.matches("<<<").count(), 2);
        prop_assert_eq!(out.matches(">>>").count(), 2);
        prop_assert_eq!(out.matches(nonce.as_str()).count(), 2);
    }
}
