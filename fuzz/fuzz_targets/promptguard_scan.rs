//! Fuzz target: scan, redact, strip and wrap arbitrary UTF-8 without panics,
//! with spans on char boundaries and no surviving secret.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let verdict = promptguard::scan(text);
    for f in &verdict.findings {
        assert!(f.start <= f.end && f.end <= text.len());
        assert!(text.is_char_boundary(f.start) && text.is_char_boundary(f.end));
    }
    // Use a slice of the input as the secret so matches actually happen.
    let secret: String = text.chars().take(12).collect();
    let redactor = promptguard::Redactor::new([secret.as_str()]);
    let (out, _hits) = redactor.redact(text);
    // A secret with brackets could re-form across the "[REDACTED]" marker.
    if secret.len() >= promptguard::FULL_VARIANTS_MIN_LEN
        && !secret.contains(['[', ']'])
        && secret != "REDACTED"
    {
        assert!(!out.contains(&secret));
    }
    let stripped = promptguard::strip_template_tokens(text);
    assert_eq!(promptguard::strip_template_tokens(&stripped), stripped);
    let _ = promptguard::wrap_untrusted("fuzz", text, "n0nce");
});
