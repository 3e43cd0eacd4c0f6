//! Fuzzes canonical JSON: any JSON input canonicalises without panicking,
//! the result parses back, and canonicalising it again changes nothing.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(once) = audit::canonicalize_json(data) else {
        return;
    };
    let twice = match audit::canonicalize_json(once.as_bytes()) {
        Ok(t) => t,
        Err(e) => panic!("canonical output does not parse: {e}: {once}"),
    };
    assert_eq!(once, twice, "canonicalisation is not idempotent");
});
