//! Canonical JSON (RFC 8785, JCS) for the values the audit chain hashes.
//!
//! Owns: key order (UTF-16 code units), string escaping and ECMAScript number
//! form. It must never depend on `serde_json`'s own output format, which is
//! not a stable contract.
//!
//! One deliberate extension: integers outside ±2^53 (which JCS leaves out of
//! scope) are written exactly instead of rounded to a double, so two entries
//! that differ only in such an integer never share a hash.

use serde_json::{Map, Number, Value};
use std::fmt::Write as _;

/// The canonical text of `value`.
pub fn to_canonical_string(value: &Value) -> String {
    let mut out = String::with_capacity(128);
    write_canonical(value, &mut out);
    out
}

/// Parses JSON text and returns its canonical text.
pub fn canonicalize_json(text: &[u8]) -> Result<String, serde_json::Error> {
    let value: Value = serde_json::from_slice(text)?;
    Ok(to_canonical_string(&value))
}

/// Appends the canonical text of `value` to `out`.
pub fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => write_number(n, out),
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => write_object(map, out),
    }
}

fn write_object(map: &Map<String, Value>, out: &mut String) {
    out.push('{');
    let mut first = true;
    let mut field = |key: &String, item: &Value, out: &mut String| {
        if !std::mem::take(&mut first) {
            out.push(',');
        }
        write_string(key, out);
        out.push(':');
        write_canonical(item, out);
    };
    // serde_json's map is usually already in code-point order, which is
    // UTF-16 order for almost all keys: sort only when it is not.
    let sorted = map
        .keys()
        .zip(map.keys().skip(1))
        .all(|(a, b)| utf16_cmp(a, b).is_lt());
    if sorted {
        map.iter().for_each(|(k, v)| field(k, v, out));
    } else {
        let mut entries: Vec<(&String, &Value)> = map.iter().collect();
        entries.sort_by(|a, b| utf16_cmp(a.0, b.0));
        entries.into_iter().for_each(|(k, v)| field(k, v, out));
    }
    out.push('}');
}

/// Orders strings by UTF-16 code units, as JCS requires. UTF-8 byte order is
/// code-point order, which differs from UTF-16 order only between a character
/// in U+E000..U+FFFF (lead byte EE/EF) and one above U+FFFF (lead F0..F4).
pub fn utf16_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let (x, y) = (a.as_bytes(), b.as_bytes());
    let Some(i) = x.iter().zip(y).position(|(p, q)| p != q) else {
        return x.len().cmp(&y.len());
    };
    // Equal prefixes end on a char boundary only when both bytes are lead
    // bytes; inside a char the two characters share their lead byte's class.
    let (p, q) = (x[i], y[i]);
    let high_bmp = |b: u8| b == 0xEE || b == 0xEF;
    let supplementary = |b: u8| b >= 0xF0;
    if (high_bmp(p) && supplementary(q)) || (supplementary(p) && high_bmp(q)) {
        q.cmp(&p)
    } else {
        p.cmp(&q)
    }
}

/// JCS string form: only `"`, `\` and C0 controls are escaped; the short
/// forms are used where JSON has them, otherwise lowercase `\u00xx`.
pub fn write_string(s: &str, out: &mut String) {
    out.push('"');
    let bytes = s.as_bytes();
    let mut plain_start = 0;
    while let Some(offset) = bytes[plain_start..]
        .iter()
        .position(|&b| b < 0x20 || b == b'"' || b == b'\\')
    {
        let i = plain_start + offset;
        out.push_str(&s[plain_start..i]);
        match bytes[i] {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            0x08 => out.push_str("\\b"),
            0x09 => out.push_str("\\t"),
            0x0a => out.push_str("\\n"),
            0x0c => out.push_str("\\f"),
            0x0d => out.push_str("\\r"),
            other => {
                let _ = write!(out, "\\u{:04x}", other);
            }
        }
        plain_start = i + 1;
    }
    out.push_str(&s[plain_start..]);
    out.push('"');
}

fn write_number(n: &Number, out: &mut String) {
    // Integers up to 2^53 print the same in ECMAScript form; larger ones
    // keep their exact digits (see module note).
    if let Some(u) = n.as_u64() {
        let _ = write!(out, "{u}");
    } else if let Some(i) = n.as_i64() {
        // as_u64 failed, so i is negative; exact digits either way.
        let _ = write!(out, "{i}");
    } else if let Some(f) = n.as_f64() {
        write_f64(f, out);
    } else {
        // Unreachable without serde_json's arbitrary_precision feature;
        // fall back to its own digits rather than panic.
        out.push_str(&n.to_string());
    }
}

/// ECMAScript `Number::toString` for a finite double (ECMA-262, 7.1.12.1).
pub fn write_f64(f: f64, out: &mut String) {
    if f == 0.0 || !f.is_finite() {
        // -0 prints as 0; non-finite values cannot occur in a serde_json Value.
        out.push('0');
        return;
    }
    if f < 0.0 {
        out.push('-');
    }
    // Rust's `{:e}` gives the shortest digits that round-trip, as
    // "d.ddde<exp>": exactly the (digits, exponent) pair ECMAScript needs.
    let sci = format!("{:e}", f.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let exp: i32 = exp.parse().unwrap_or(0);
    let k = digits.len() as i32;
    // ECMAScript's n: the value is 0.digits × 10^n.
    let n = exp + 1;
    if k <= n && n <= 21 {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n('0', (n - k) as usize));
    } else if 0 < n && n <= 21 {
        out.push_str(&digits[..n as usize]);
        out.push('.');
        out.push_str(&digits[n as usize..]);
    } else if -6 < n && n <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-n) as usize));
        out.push_str(&digits);
    } else {
        out.push_str(&digits[..1]);
        if k > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let e = n - 1;
        let _ = write!(out, "e{}{}", if e < 0 { '-' } else { '+' }, e.abs());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn num(f: f64) -> String {
        let mut s = String::new();
        write_f64(f, &mut s);
        s
    }

    #[test]
    fn numbers_follow_ecmascript_form() {
        let cases: &[(f64, &str)] = &[
            (0.0, "0"),
            (-0.0, "0"),
            (1.0, "1"),
            (-1.5, "-1.5"),
            (0.1, "0.1"),
            (0.1 + 0.2, "0.30000000000000004"),
            (100.0, "100"),
            (1e20, "100000000000000000000"),
            (1e21, "1e+21"),
            (1.5e21, "1.5e+21"),
            (123456789012345680000.0, "123456789012345680000"),
            (0.000001, "0.000001"),
            (0.0000012345, "0.0000012345"),
            (1e-7, "1e-7"),
            (-1.25e-7, "-1.25e-7"),
            (5e-324, "5e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (f64::MIN_POSITIVE, "2.2250738585072014e-308"),
            (333333333.3333333, "333333333.3333333"),
            (9007199254740992.0, "9007199254740992"),
            (1e23, "1e+23"),
            (4.35, "4.35"),
            (0.5, "0.5"),
            (-1e-6, "-0.000001"),
        ];
        for (f, want) in cases {
            assert_eq!(num(*f), *want, "formatting {f:e}");
        }
    }

    #[test]
    fn integers_are_exact_including_outside_double_range() {
        assert_eq!(to_canonical_string(&json!(42)), "42");
        assert_eq!(to_canonical_string(&json!(-42)), "-42");
        assert_eq!(
            to_canonical_string(&json!(u64::MAX)),
            "18446744073709551615"
        );
        assert_eq!(
            to_canonical_string(&json!(i64::MIN)),
            "-9223372036854775808"
        );
        // Two integers that round to the same double stay distinct.
        assert_ne!(
            to_canonical_string(&json!(9007199254740993u64)),
            to_canonical_string(&json!(9007199254740992u64))
        );
        // A double with an integral value prints like the integer.
        assert_eq!(to_canonical_string(&json!(7.0)), "7");
    }

    #[test]
    fn strings_use_jcs_escapes_only() {
        let s = "q\"b\\s/\u{8}\u{9}\u{a}\u{c}\u{d}\u{0}\u{f}\u{1f}\u{7f}é\u{2028}😀";
        assert_eq!(
            to_canonical_string(&json!(s)),
            "\"q\\\"b\\\\s/\\b\\t\\n\\f\\r\\u0000\\u000f\\u001f\u{7f}é\u{2028}😀\""
        );
    }

    #[test]
    fn no_whitespace_and_sorted_keys() {
        let v = json!({"b": [1, {"z": null, "a": true}], "a": "x", "c": {}});
        assert_eq!(
            to_canonical_string(&v),
            r#"{"a":"x","b":[1,{"a":true,"z":null}],"c":{}}"#
        );
    }

    #[test]
    fn keys_sort_by_utf16_code_units_not_utf8_bytes() {
        // U+E000 is one unit 0xE000; U+1F600 is surrogates 0xD83D 0xDE00.
        // UTF-8 would put U+E000 first; UTF-16 puts the emoji first.
        let v = json!({"\u{e000}": 1, "\u{1f600}": 2, "a": 3, "\u{80}": 4});
        assert_eq!(
            to_canonical_string(&v),
            "{\"a\":3,\"\u{80}\":4,\"\u{1f600}\":2,\"\u{e000}\":1}"
        );
    }

    #[test]
    fn utf16_order_matches_sorting_by_encoded_units() {
        let keys = [
            "",
            "a",
            "ab",
            "b",
            "\u{7f}",
            "\u{80}",
            "\u{7ff}",
            "\u{800}",
            "\u{d7ff}",
            "\u{e000}",
            "\u{e000}a",
            "\u{fffd}",
            "\u{ffff}",
            "\u{10000}",
            "\u{1f600}",
            "\u{10ffff}",
            "a\u{e000}",
            "a\u{10000}",
        ];
        for a in keys {
            for b in keys {
                assert_eq!(
                    utf16_cmp(a, b),
                    a.encode_utf16().cmp(b.encode_utf16()),
                    "{a:?} {b:?}"
                );
            }
        }
    }

    #[test]
    fn keys_sort_by_code_unit_not_locale() {
        let v = json!({"b": 1, "B": 2, "a": 3, "10": 4, "9": 5, "": 6});
        assert_eq!(
            to_canonical_string(&v),
            r#"{"":6,"10":4,"9":5,"B":2,"a":3,"b":1}"#
        );
    }

    #[test]
    fn canonicalize_json_parses_then_canonicalises() {
        assert_eq!(
            canonicalize_json(b" { \"b\" : 1.0, \"a\" : [ ] } ").unwrap(),
            r#"{"a":[],"b":1}"#
        );
        assert!(canonicalize_json(b"{").is_err());
    }

    #[test]
    fn parsed_numbers_canonicalise() {
        let v: Value = serde_json::from_str(
            r#"{"n":[1E2, 1.0, -0.0, 0.00000001, 1e-7, 12e20, 0.12e-5, 1e21]}"#,
        )
        .unwrap();
        assert_eq!(
            to_canonical_string(&v),
            r#"{"n":[100,1,0,1e-8,1e-7,1.2e+21,0.0000012,1e+21]}"#
        );
    }
}
