//! Placeholder parsing, binding normalisation and the request checks.

use super::*;

fn bound(name: &str, host: &str, slots: &[&str]) -> BindingRow {
    BindingRow {
        name: name.into(),
        binding: normalise_binding(
            name,
            SecretBinding {
                scheme: "https".into(),
                host: host.into(),
                port: 0,
                path_prefix: None,
                slots: slots.iter().map(|s| s.to_string()).collect(),
            },
        )
        .unwrap(),
        updated_at: 0,
    }
}

fn check(
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
    b: &[BindingRow],
) -> Result<bool, String> {
    let url = Url::parse(url).unwrap();
    let headers: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    check_request(
        &Outgoing {
            url: &url,
            headers: &headers,
            body,
        },
        b,
    )
}

#[test]
fn placeholders_are_found_exactly() {
    assert_eq!(placeholders("Bearer {{secret:GH_TOKEN}}"), ["GH_TOKEN"]);
    assert_eq!(placeholders("{{secret:A}}{{secret:b.c-d}}"), ["A", "b.c-d"]);
    assert!(placeholders("{{secret:}} {{secret:a b}} {{secret:x}").is_empty());
    assert!(looks_like_placeholder("{{ secret:X }}"));
    assert!(looks_like_placeholder("%7B%7Bsecret:X%7D%7D"));
    assert!(!mentions_secret("an ordinary secretary"));
}

#[test]
fn a_secret_goes_only_to_its_host_and_slot() {
    let b = [bound("GH", "api.github.com", &["header:authorization"])];
    let auth = [("authorization", "Bearer {{secret:GH}}")];
    assert_eq!(
        check("https://api.github.com/user", &auth, None, &b),
        Ok(true)
    );
    // Another host, the same host over http, another port, a lookalike.
    for url in [
        "https://evil.example/collect",
        "http://api.github.com/user",
        "https://api.github.com:8443/user",
        "https://api.github.com.evil.example/",
    ] {
        assert!(check(url, &auth, None, &b).is_err(), "{url}");
    }
    // An unbound slot on the bound host: another header, the query, the body.
    assert!(
        check(
            "https://api.github.com/",
            &[("x-note", "{{secret:GH}}")],
            None,
            &b
        )
        .is_err()
    );
    assert!(check("https://api.github.com/?q={{secret:GH}}", &[], None, &b).is_err());
    let body = r#"{"title":"t","body":"{{secret:GH}}"}"#;
    assert!(
        check(
            "https://api.github.com/repos/o/r/issues",
            &auth,
            Some(body),
            &b
        )
        .is_err()
    );
    // Unknown secret, and in the path.
    assert!(
        check(
            "https://api.github.com/",
            &[("authorization", "{{secret:NOPE}}")],
            None,
            &b
        )
        .is_err()
    );
    assert!(check("https://api.github.com/{{secret:GH}}", &[], None, &b).is_err());
}

#[test]
fn slots_named_by_the_binding_are_allowed() {
    let b = [bound("K", "api.test", &["query:key", "body:auth.token"])];
    assert_eq!(
        check("https://api.test/x?key={{secret:K}}", &[], None, &b),
        Ok(true)
    );
    let body = r#"{"auth":{"token":"{{secret:K}}"}}"#;
    assert_eq!(check("https://api.test/x", &[], Some(body), &b), Ok(true));
    assert!(check("https://api.test/x?other={{secret:K}}", &[], None, &b).is_err());
    assert!(check("https://api.test/x", &[], Some("token={{secret:K}}"), &b).is_err());
}

#[test]
fn literal_credentials_to_a_bound_host_are_refused() {
    let b = [bound("GH", "api.github.com", &[])];
    assert!(
        check(
            "https://api.github.com/",
            &[("Authorization", "Bearer ghp_stolen")],
            None,
            &b
        )
        .is_err()
    );
    assert!(check("https://api.github.com/", &[("cookie", "s=1")], None, &b).is_err());
    assert!(check("https://api.github.com/", &[("x-api-key", "k")], None, &b).is_err());
    // Elsewhere the agent's own headers are its business.
    assert_eq!(
        check(
            "https://example.com/",
            &[("authorization", "Basic x")],
            None,
            &b
        ),
        Ok(false)
    );
}

#[test]
fn path_prefixes_match_whole_segments() {
    let mut row = bound("P", "api.test", &[]);
    row.binding.path_prefix = Some("/v1".into());
    let h = [("authorization", "{{secret:P}}")];
    assert!(
        check(
            "https://api.test/v1/x",
            &h,
            None,
            std::slice::from_ref(&row)
        )
        .is_ok()
    );
    assert!(check("https://api.test/v1", &h, None, std::slice::from_ref(&row)).is_ok());
    assert!(
        check(
            "https://api.test/v10/x",
            &h,
            None,
            std::slice::from_ref(&row)
        )
        .is_err()
    );
    assert!(
        check(
            "https://api.test/v1/../admin",
            &h,
            None,
            std::slice::from_ref(&row)
        )
        .is_err()
    );
}

#[test]
fn bindings_are_normalised_and_checked() {
    let ok = normalise_binding(
        "A",
        SecretBinding {
            scheme: "HTTPS".into(),
            host: "API.Example.COM.".into(),
            port: 0,
            path_prefix: None,
            slots: vec!["Header:X-Key".into()],
        },
    )
    .unwrap();
    assert_eq!(
        (ok.scheme.as_str(), ok.host.as_str(), ok.port),
        ("https", "api.example.com", 443)
    );
    assert_eq!(ok.slots, ["header:x-key"]);
    let bad = |scheme: &str, slot: &str| {
        normalise_binding(
            "A",
            SecretBinding {
                scheme: scheme.into(),
                host: "h.test".into(),
                port: 0,
                path_prefix: None,
                slots: vec![slot.into()],
            },
        )
        .is_err()
    };
    assert!(bad("ftp", "header:x"));
    assert!(bad("https", "cookie:x"));
    assert!(bad("https", "query:*"));
    assert!(bad(
        "https",
        &format!("query:{}", "q".repeat(MAX_SLOT_CHARS))
    ));
    let over = |host: String, path_prefix: Option<String>, slots: usize| {
        normalise_binding(
            "A",
            SecretBinding {
                scheme: "https".into(),
                host,
                port: 0,
                path_prefix,
                slots: vec!["header:x".into(); slots],
            },
        )
        .is_err()
    };
    assert!(!over(
        "h.test".into(),
        Some("/v1".into()),
        MAX_BINDING_SLOTS
    ));
    assert!(over("h.test".into(), None, MAX_BINDING_SLOTS + 1));
    assert!(over(
        format!("{}.test", "a".repeat(MAX_BINDING_HOST_CHARS)),
        None,
        1
    ));
    let long_path = format!("/{}", "p".repeat(MAX_BINDING_PATH_CHARS));
    assert!(over("h.test".into(), Some(long_path), 1));
    assert!(
        normalise_binding(
            "hardshell.audit_key",
            SecretBinding {
                scheme: "https".into(),
                host: "h".into(),
                port: 0,
                path_prefix: None,
                slots: vec![]
            }
        )
        .is_err()
    );
}
