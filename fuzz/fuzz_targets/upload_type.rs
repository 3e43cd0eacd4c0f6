//! Fuzz target: classify arbitrary bytes under an arbitrary name, and
//! sanitise that name, without panics; the display name never holds a
//! separator or control character and the header value stays visible ASCII.
#![no_main]

use uploadtype::{MAX_NAME_BYTES, classify, content_disposition, display_name};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first byte says how much of the rest is the file name.
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let (raw_name, body) = rest.split_at(usize::from(split).min(rest.len()));
    let name = display_name(&String::from_utf8_lossy(raw_name));
    assert!(!name.is_empty() && name.len() <= MAX_NAME_BYTES);
    assert!(!name.contains(['/', '\\']) && !name.chars().any(char::is_control));
    for inline in [true, false] {
        let header = content_disposition(inline, &name);
        assert!(header.bytes().all(|b| b == b' ' || b.is_ascii_graphic()));
    }
    if let Ok(kind) = classify(body, &name) {
        assert!(!kind.mime().is_empty());
    }
});
