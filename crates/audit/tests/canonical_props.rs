//! Property tests of canonical JSON: stable under key order and whitespace,
//! idempotent through a serde_json parse.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use audit::to_canonical_string;
use proptest::prelude::*;
use serde_json::{Number, Value};

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| Value::Number(n.into())),
        any::<u64>().prop_map(|n| Value::Number(n.into())),
        any::<f64>().prop_filter_map("finite", |f| Number::from_f64(f).map(Value::Number)),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(any::<String>(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Writes `v` as JSON text with object keys in an order given by `seed`
/// and some insignificant whitespace.
fn shuffled_text(v: &Value, seed: &mut u64, out: &mut String) {
    let mut next = || {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        *seed >> 33
    };
    match v {
        Value::Array(items) => {
            out.push_str("[ ");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(" ,\n");
                }
                shuffled_text(item, seed, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            let n = entries.len();
            for i in (1..n).rev() {
                let j = (next() as usize) % (i + 1);
                entries.swap(i, j);
            }
            out.push_str("{\t");
            for (i, (k, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::to_string(k).unwrap());
                out.push_str(" : ");
                shuffled_text(item, seed, out);
            }
            out.push_str(" }");
        }
        leaf => out.push_str(&serde_json::to_string(leaf).unwrap()),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn canonical_form_ignores_key_order_and_whitespace(v in arb_json(), seed in any::<u64>()) {
        let mut s = seed;
        let mut text = String::new();
        shuffled_text(&v, &mut s, &mut text);
        let reparsed: Value = serde_json::from_str(&text).unwrap();
        prop_assert_eq!(to_canonical_string(&reparsed), to_canonical_string(&v));
    }

    #[test]
    fn utf16_order_agrees_with_encoded_units(a in any::<String>(), b in any::<String>(), shared in any::<String>()) {
        for (x, y) in [(a.clone(), b.clone()), (format!("{shared}{a}"), format!("{shared}{b}"))] {
            prop_assert_eq!(
                audit::canonical::utf16_cmp(&x, &y),
                x.encode_utf16().cmp(y.encode_utf16())
            );
        }
    }

    #[test]
    fn canonical_form_round_trips_through_serde_json(v in arb_json()) {
        let c1 = to_canonical_string(&v);
        let parsed: Value = serde_json::from_str(&c1).unwrap();
        prop_assert_eq!(to_canonical_string(&parsed), c1.clone());
        // Same JSON data model: numbers compare as numbers.
        prop_assert!(same_data(&parsed, &v), "{} vs {}", parsed, v);
    }
}

fn same_data(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            x == y || (x.as_f64() == y.as_f64() && (x.is_f64() || y.is_f64()))
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same_data(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, p)| y.get(k).is_some_and(|q| same_data(p, q)))
        }
        _ => a == b,
    }
}

#[test]
fn whitespace_only_appears_inside_strings() {
    let v: Value =
        serde_json::from_str("{ \"a b\" : [ 1 , 2.50 , \"c\\td\" ] ,\n \"e\":{ } }").unwrap();
    assert_eq!(
        to_canonical_string(&v),
        "{\"a b\":[1,2.5,\"c\\td\"],\"e\":{}}"
    );
}
