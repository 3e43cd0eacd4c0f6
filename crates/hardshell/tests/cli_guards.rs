//! `hardshell net check` and `hardshell scan` through the real binary:
//! verdicts, JSON shapes and exit codes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Env;
use serde_json::Value;

fn net(env: &Env, args: &[&str]) -> (i32, Value) {
    let mut full = vec!["net", "check", "--json"];
    full.extend_from_slice(args);
    let out = env.run(&full, None);
    let code = out.status.code().unwrap();
    let v = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (code, v)
}

#[test]
fn net_check_blocks_private_targets_and_allows_public_ones() {
    let env = Env::new();
    let (code, v) = net(&env, &["http://169.254.169.254/latest/meta-data/"]);
    assert_eq!(code, 3, "{v}");
    assert_eq!(v["allowed"], false);
    assert_eq!(v["reason"], "blocked_address");
    assert_eq!(v["addresses"], serde_json::json!(["169.254.169.254"]));
    for url in [
        "http://127.1/",
        "http://0x7f.1/",
        "http://2130706433/",
        "http://[::ffff:127.0.0.1]/",
        "http://[64:ff9b::7f00:1]/",
        "http://100.64.0.1/",
        "http://localhost./",
        "http://foo.localhost/",
    ] {
        let (code, v) = net(&env, &[url]);
        assert_eq!(code, 3, "{url}: {v}");
        assert_eq!(v["allowed"], false, "{url}");
    }
    let (code, v) = net(&env, &["gopher://example.com/"]);
    assert_eq!(code, 3);
    assert_eq!(v["reason"], "blocked_scheme");
    // A public answer is allowed; the same name answered privately is not.
    let (code, v) = net(
        &env,
        &[
            "--resolve",
            "site.test:93.184.215.14",
            "https://site.test/x",
        ],
    );
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["allowed"], true);
    assert_eq!(v["url"], "https://site.test/x");
    let (code, _) = net(
        &env,
        &["--resolve", "site.test:10.0.0.7", "https://site.test/x"],
    );
    assert_eq!(code, 3);
    let (code, _) = net(&env, &["http://8.8.8.8/"]);
    assert_eq!(code, 0);
}

#[test]
fn net_check_usage_errors_exit_2() {
    let env = Env::new();
    let out = env.run(
        &["net", "check", "--resolve", "no-ip-here", "http://x.test/"],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    let out = env.run(&["net", "check"], None);
    assert_eq!(out.status.code(), Some(2));
}
