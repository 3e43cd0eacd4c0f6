//! The recipes in `deploy/` (issue 22): the fail2ban filter's regex runs
//! against the real server's log lines for failed sign-ins, and the systemd
//! unit passes `systemd-analyze verify` and keeps its hardening.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::identity::installation;
use serde_json::json;

fn deploy(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../deploy")
        .join(path)
}

/// The filter's `failregex`, with fail2ban's `<HOST>` as a named group.
fn failregex() -> regex::Regex {
    let text = std::fs::read_to_string(deploy("fail2ban/filter.d/hardshell.conf")).unwrap();
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("failregex = "))
        .expect("a failregex line");
    regex::Regex::new(&line.replace("<HOST>", r"(?P<host>[0-9A-Fa-f:.]+)")).unwrap()
}

#[tokio::test]
async fn the_fail2ban_filter_matches_each_failed_sign_in_and_nothing_else() {
    let re = failregex();
    let (_env, server) = installation(&[("olga", "owner")]);
    let c = common::client();
    let mut failures = 0;
    for (user, password) in [
        ("olga", "wrong-password-1"),
        ("nobody", "wrong-password-2"),
        (
            "olga\nWARN authentication failure from 10.9.9.9 (password)",
            "x-wrong-3",
        ),
    ] {
        let r = c
            .post(server.url("/api/v1/auth/login"))
            .json(&json!({"username": user, "password": password}))
            .send()
            .await
            .unwrap();
        // A username with a line break may be refused before any check.
        assert!(r.status() == 401 || r.status() == 422, "{}", r.status());
        failures += usize::from(r.status() == 401);
    }
    assert!(failures >= 2);
    let ok = c
        .post(server.url("/api/v1/auth/login"))
        .json(&json!({"username": "olga", "password": common::identity::password_of("olga")}))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let (stopped, stderr) = server.stop();
    assert!(stopped);
    let hosts: Vec<String> = stderr
        .lines()
        .filter_map(|l| re.captures(l).map(|c| c["host"].to_string()))
        .collect();
    assert_eq!(hosts, vec!["127.0.0.1"; failures], "{stderr}");
    // fail2ban cuts the date out before matching; the rest still matches.
    let cut: Vec<String> = stderr
        .lines()
        .filter(|l| l.contains("authentication failure"))
        .map(|l| l.split_once(' ').unwrap().1.to_string())
        .collect();
    assert_eq!(cut.len(), failures, "{stderr}");
    assert!(cut.iter().all(|l| re.is_match(l)), "{cut:?}");
    // A username a client typed never reaches the log (no forged lines).
    assert!(!stderr.contains("10.9.9.9"), "{stderr}");
}

fn unit_lines() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(deploy("systemd/hardshell.service")).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with('['))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

fn values(lines: &[(String, String)], key: &str) -> Vec<String> {
    lines
        .iter()
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v.clone())
        .collect()
}

#[test]
fn the_systemd_unit_verifies_and_is_hardened() {
    let lines = unit_lines();
    let one = |k: &str| {
        let v = values(&lines, k);
        assert_eq!(v.len(), 1, "{k}: {v:?}");
        v[0].clone()
    };
    assert_eq!(one("User"), "hardshell");
    assert_eq!(one("ProtectSystem"), "strict");
    assert_eq!(one("ReadWritePaths"), "/var/lib/hardshell");
    assert_eq!(one("NoNewPrivileges"), "yes");
    assert_eq!(one("ProtectHome"), "yes");
    assert_eq!(one("CapabilityBoundingSet"), "");
    assert!(one("LoadCredential").starts_with("vault-passphrase:"));
    assert!(one("ExecStart").ends_with(" serve"));
    let env = values(&lines, "Environment");
    assert!(env.contains(&"HARDSHELL_VAULT_PASSPHRASE_FILE=%d/vault-passphrase".to_string()));
    assert!(
        !env.iter()
            .any(|e| e.starts_with("HARDSHELL_VAULT_PASSPHRASE="))
    );
    // What bubblewrap needs: its namespaces and netlink.
    assert!(values(&lines, "RestrictNamespaces").is_empty());
    assert!(values(&lines, "PrivateUsers").is_empty());
    assert!(one("RestrictAddressFamilies").contains("AF_NETLINK"));
    for call in ["unshare", "pivot_root", "@mount", "landlock_restrict_self"] {
        assert!(one("SystemCallFilter").contains(call), "{call}");
    }

    // systemd's own check, with ExecStart pointed at a binary that exists.
    let tmp = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(deploy("systemd/hardshell.service")).unwrap();
    let unit = tmp.path().join("hardshell.service");
    std::fs::write(
        &unit,
        text.replace("/usr/local/bin/hardshell", env!("CARGO_BIN_EXE_hardshell")),
    )
    .unwrap();
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&unit)
        .output()
        .expect("systemd-analyze (package systemd) is needed for this test");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.trim().is_empty(), "systemd-analyze complained: {err}");
}
