//! Redaction through sealing: whatever a caller puts in a draft, no vault
//! secret and no credential-named field survives into the sealed entry.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use audit::{Actor, ChainHead, Draft, Outcome, REDACTED, Redactor, Verifier, seal_entry};
use proptest::prelude::*;
use serde_json::{Value, json};

const SECRET: &str = "ghp_Zx81mQv0VaultSecretValue";

fn seal(redactor: &Redactor, draft: Draft) -> audit::Entry {
    seal_entry(&common::key(), &ChainHead::genesis(), draft, redactor)
}

fn vault() -> Redactor {
    Redactor::new([SECRET.as_bytes(), b"another-vault-secret-2"])
}

#[test]
fn vault_secret_as_value_nested_and_substring_never_reaches_the_entry() {
    let cases = vec![
        json!({"value": SECRET}),
        json!({"a": {"b": {"c": [1, {"d": SECRET}]}}}),
        json!({"cmd": format!("curl -H 'X: {SECRET}' https://example.org")}),
        json!({"list": [[SECRET], format!("{SECRET}{SECRET}")]}),
        json!({SECRET: "as a key"}),
        json!({"nested": {format!("prefix-{SECRET}"): 1}}),
    ];
    for details in cases {
        let draft = Draft::new(Actor::agent("a1"), "tool.call", Outcome::Success)
            .target(format!("url:https://x/?t={SECRET}"))
            .details(details.clone());
        let e = seal(&vault(), draft);
        let line = serde_json::to_string(&e).unwrap();
        assert!(!line.contains(SECRET), "leaked from {details}: {line}");
        assert!(!e.canonical_body().contains(SECRET));
        assert!(line.contains(REDACTED));
        // Redaction happens before hashing, so the entry still verifies.
        let k = common::key();
        let mut v = Verifier::new(
            &k,
            Some(audit::AnchorFile::sign(&k, &ChainHead::of(&e))),
            None,
        );
        v.push(&e);
        assert!(v.finish().intact);
    }
}

#[test]
fn credential_fields_are_redacted_at_every_depth_when_sealed() {
    let draft = Draft::new(Actor::user("7"), "settings.change", Outcome::Success).details(json!({
        "username": "alice",
        "key_id": "k_123",
        "public_id": "p_9",
        "password": "pw",
        "request": {"headers": [{"name": "x", "Authorization": "Bearer abc"}, {"Cookie": "hs_session=1"}]},
        "providers": [{"provider": "openai", "api_key": "sk-1", "nested": [{"client_secret": {"x": 1}}]}],
    }));
    let e = seal(&Redactor::without_secrets(), draft);
    assert_eq!(
        e.details,
        json!({
            "username": "alice",
            "key_id": "k_123",
            "public_id": "p_9",
            "password": REDACTED,
            "request": {"headers": [{"name": "x", "Authorization": REDACTED}, {"Cookie": REDACTED}]},
            "providers": [{"provider": "openai", "api_key": REDACTED, "nested": [{"client_secret": REDACTED}]}],
        })
    );
}

#[test]
fn checkpoint_details_survive_redaction() {
    let c = common::chain(&common::key(), 2);
    let e = seal(&vault(), audit::checkpoint_draft(&c[1]));
    assert_eq!(e.details["pruned_through_seq"], json!(2));
    assert_eq!(e.details["pruned_through_hash"], json!(c[1].hash));
}

/// Arbitrary JSON with the secret planted somewhere (value, key or substring).
fn planted() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        "[a-z ]{0,12}".prop_map(Value::String),
        Just(Value::String(SECRET.to_owned())),
        "[a-z]{0,4}".prop_map(|p| Value::String(format!("{p}{SECRET}{p}"))),
    ];
    leaf.prop_recursive(4, 40, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![
                        "[a-z_]{1,8}",
                        Just(SECRET.to_owned()),
                        Just(format!("k{SECRET}"))
                    ],
                    inner
                ),
                0..5
            )
            .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn no_planted_secret_survives_sealing(details in planted(), wrap in any::<bool>()) {
        let details = if wrap { json!({"outer": [details]}) } else { json!({"d": details}) };
        let e = seal(&vault(), Draft::new(Actor::system(), "x.y", Outcome::Failure).details(details));
        let line = serde_json::to_string(&e).unwrap();
        prop_assert!(!line.contains(SECRET), "{}", line);
    }

    #[test]
    fn names_with_credential_words_are_redacted_whatever_the_case_or_separator(
        word in prop::sample::select(vec!["password", "secret", "token", "api_key", "private_key", "authorization", "bearer", "credential"]),
        prefix in prop::sample::select(vec!["", "new_", "x-", "old.", "user_"]),
        upper in any::<bool>(),
    ) {
        let name = format!("{prefix}{word}");
        let name = if upper { name.to_uppercase() } else { name };
        prop_assert!(audit::is_credential_name(&name), "{}", name);
        let kebab = name.replace('_', "-");
        prop_assert!(audit::is_credential_name(&kebab), "{}", kebab);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// A two-letter alphabet forces overlapping and adjacent occurrences.
    #[test]
    fn substring_redaction_removes_every_occurrence(
        text in "[ab]{0,40}",
        secrets in prop::collection::vec("[ab]{8,11}", 1..4),
    ) {
        let r = Redactor::new(&secrets);
        let mut out = text.clone();
        r.redact_string(&mut out);
        for s in &secrets {
            prop_assert!(!out.contains(s.as_str()), "{} still in {}", s, out);
        }
        if !secrets.iter().any(|s| text.contains(s.as_str())) {
            prop_assert_eq!(out, text);
        }
    }

    #[test]
    fn name_classifier_handles_any_unicode(name in "\\PC{0,24}") {
        // Must not panic on any input, and must be deterministic.
        prop_assert_eq!(audit::is_credential_name(&name), audit::is_credential_name(&name));
    }

    #[test]
    fn substring_redaction_keeps_utf8_boundaries(
        pre in "\\PC{0,6}", post in "\\PC{0,6}", secret in "\\PC{8,12}",
    ) {
        let r = Redactor::new([secret.as_str()]);
        let mut s = format!("{pre}{secret}{post}");
        r.redact_string(&mut s);
        prop_assert!(!s.contains(secret.as_str()));
        prop_assert!(s.contains(REDACTED));
    }
}
