//! Fuzz target: split arbitrary UTF-8 as HTML, Markdown and plain text, and
//! scan the splits, without panics; a marker placed in an HTML comment never
//! reaches the visible text, and plain splits never grow the input.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let html = promptguard::split_html(text);
    let verdict = promptguard::scan_split(&html);
    assert_eq!(verdict.hidden.len(), html.hidden.len());
    let _ = promptguard::split_markdown(text);
    let plain = promptguard::split_plain(text);
    assert!(plain.visible.len() <= text.len());
    // Whatever surrounds it, a closed comment's content stays hidden, unless
    // the input opened a context (script, raw text, an unclosed tag or
    // comment) that swallows the comment whole.
    if !text.contains('<') && !text.contains('&') {
        let wrapped = format!("<p>{text}</p><!-- zqxmarker -->");
        let s = promptguard::split_html(&wrapped);
        assert!(!s.visible.contains("zqxmarker"));
        assert!(s.hidden.iter().any(|h| h.text.contains("zqxmarker")));
    }
});
