//! Tamper evidence that survives rollback (issue 16), through the real
//! binary: each case builds a real installation, then tampers offline as an
//! attacker with write access to the data directory and the database key
//! (but not to the outside anchor beside the machine key) would, and checks
//! that every writer refuses, that `audit verify` keeps naming the break
//! with its own kind and first bad seq, and that `audit accept` is the one
//! audited way forward.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};

use common::identity::{add_user, agent_key, db, password_of, pf, tokens};
use common::{Env, Server, client};
use reqwest::Method;
use serde_json::{Value, json};

/// `audit verify --json`: (exit code, report).
fn verify_json(env: &Env) -> (i32, Value) {
    let out = env.run(
        &["audit", "verify", "--json", "--passphrase-file", &pf(env)],
        None,
    );
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("not json: {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code().unwrap(), v)
}

/// Asserts that verify reports `kind` at `seq`, twice: verifying never heals.
fn expect_break(env: &Env, kind: &str, seq: i64) {
    for round in 0..2 {
        let (code, v) = verify_json(env);
        assert_eq!(code, 1, "round {round}: {v}");
        assert_eq!(v["intact"], false, "{v}");
        assert_eq!(v["break"], kind, "round {round}: {v}");
        assert_eq!(v["first_bad_seq"], seq, "round {round}: {v}");
        assert!(v["found"].as_str().is_some_and(|f| !f.is_empty()), "{v}");
    }
}

/// (row count, highest seq) of the audit log.
fn chain(env: &Env) -> (i64, i64) {
    db(env)
        .query_row(
            "SELECT count(*), coalesce(max(seq), 0) FROM audit_log",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
}

/// The outside anchor: the one `audit-<dir id>.anchor` beside the machine key.
fn outside_anchor(env: &Env) -> PathBuf {
    let dir = env.machine_key.parent().unwrap();
    let found: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            name.starts_with("audit-") && name.ends_with(".anchor")
        })
        .collect();
    assert_eq!(found.len(), 1, "{found:?}");
    found[0].clone()
}

/// A copy of the database file and the inside anchor, taken while no
/// process has the database open (a clean stop leaves one file).
struct Snapshot {
    dir: PathBuf,
}

fn snapshot(env: &Env, name: &str) -> Snapshot {
    let dir = env.tmp.path().join(name);
    std::fs::create_dir_all(&dir).unwrap();
    for f in ["hardshell.db", "hardshell.db-wal", "audit.anchor"] {
        if env.data.join(f).exists() {
            std::fs::copy(env.data.join(f), dir.join(f)).unwrap();
        }
    }
    Snapshot { dir }
}

/// Puts the snapshot's database back; with `anchor_too`, its inside anchor.
fn roll_back(env: &Env, s: &Snapshot, anchor_too: bool) {
    for f in ["hardshell.db-wal", "hardshell.db-shm"] {
        let _ = std::fs::remove_file(env.data.join(f));
    }
    for f in ["hardshell.db", "hardshell.db-wal"] {
        if s.dir.join(f).exists() {
            std::fs::copy(s.dir.join(f), env.data.join(f)).unwrap();
        }
    }
    if anchor_too {
        std::fs::copy(s.dir.join("audit.anchor"), env.data.join("audit.anchor")).unwrap();
    }
}

/// `serve` must exit instead of listening; returns its stderr.
fn serve_refuses(env: &Env) -> String {
    let p = pf(env);
    match Server::start(env, &["--passphrase-file", &p]) {
        Ok(server) => {
            drop(server);
            panic!("the server started past a break");
        }
        Err(out) => {
            assert!(out.contains("refusing to write to the audit log"), "{out}");
            assert!(out.contains("hardshell audit accept --reason"), "{out}");
            out
        }
    }
}

fn users_add_refuses(env: &Env, name: &str) -> String {
    let p = pf(env);
    let out = env.run(
        &[
            "users",
            "add",
            name,
            "--role",
            "member",
            "--password-stdin",
            "--passphrase-file",
            &p,
        ],
        Some(&format!("{}\n", password_of(name))),
    );
    assert!(!out.status.success(), "users add wrote past a break");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(err.contains("refusing to write to the audit log"), "{err}");
    let exists: bool = db(env)
        .query_row(
            "SELECT EXISTS(SELECT 1 FROM users WHERE username = ?1)",
            [name],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        !exists,
        "the user was created although the audit log refused"
    );
    err
}

/// An installation with an owner and a few audited changes, stopped.
fn installation() -> Env {
    let env = Env::new();
    env.init_with_passphrase();
    add_user(&env, "olivia", "owner");
    add_user(&env, "adam", "admin");
    env
}

fn start(env: &Env) -> Server {
    let p = pf(env);
    env.start(&["--passphrase-file", &p])
}

fn stop(server: Server) {
    let (clean, err) = server.stop();
    assert!(clean, "{err}");
}

#[test]
fn the_outside_anchor_lives_beside_the_machine_key_and_holds_only_the_head() {
    let env = installation();
    let path = outside_anchor(&env);
    assert!(!path.starts_with(&env.data));
    assert_eq!(common::mode(&path), 0o600);
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let mut keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(keys, ["dir_id", "hash", "mac", "seq", "time", "version"]);
    let (_, head) = chain(&env);
    assert_eq!(v["seq"], head);
    // The name is the stable data-directory id the record carries.
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    assert_eq!(
        name,
        format!("audit-{}.anchor", v["dir_id"].as_str().unwrap())
    );
    // Verification only reads: no entry, no anchor write.
    let before = (chain(&env), std::fs::read(&path).unwrap());
    let inside = std::fs::read(env.data.join("audit.anchor")).unwrap();
    let (code, v) = verify_json(&env);
    assert_eq!(code, 0, "{v}");
    assert_eq!(before, (chain(&env), std::fs::read(&path).unwrap()));
    assert_eq!(
        inside,
        std::fs::read(env.data.join("audit.anchor")).unwrap()
    );
}

#[test]
fn database_rolled_back_keeping_the_newer_inside_anchor_is_truncated_and_refused() {
    let env = installation();
    let old = snapshot(&env, "old");
    let (_, old_head) = chain(&env);
    add_user(&env, "bob", "member");
    stop(start(&env));
    roll_back(&env, &old, false);
    expect_break(&env, "truncated", old_head + 1);
    serve_refuses(&env);
    users_add_refuses(&env, "mallory");
    // Nothing was appended by any of the refused writers.
    assert_eq!(chain(&env), (old_head, old_head));
    expect_break(&env, "truncated", old_head + 1);
}

#[test]
fn database_rolled_back_with_its_inside_anchor_is_anchor_rolled_back_and_refused() {
    let env = installation();
    let old = snapshot(&env, "old");
    let (_, old_head) = chain(&env);
    add_user(&env, "bob", "member");
    stop(start(&env));
    roll_back(&env, &old, true);
    expect_break(&env, "anchor_rolled_back", old_head + 1);
    let err = serve_refuses(&env);
    assert!(err.contains("anchor_rolled_back"), "{err}");
    users_add_refuses(&env, "mallory");
    expect_break(&env, "anchor_rolled_back", old_head + 1);
}

#[tokio::test]
async fn truncated_tail_refuses_a_login_users_add_and_a_start() {
    let env = installation();
    let server = start(&env);
    // The attacker cuts the last two entries under the running server.
    let (_, head) = chain(&env);
    db(&env)
        .execute("DELETE FROM audit_log WHERE seq > ?1", [head - 2])
        .unwrap();
    let resp = client()
        .post(server.url("/api/v1/auth/login"))
        .json(&json!({"username": "olivia", "password": password_of("olivia")}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 500, "a login was written past the break");
    assert!(resp.headers().get("set-cookie").is_none());
    let (clean, _) = server.stop();
    assert!(!clean, "server.stop must not be appended past the break");
    expect_break(&env, "truncated", head - 1);
    users_add_refuses(&env, "mallory");
    serve_refuses(&env);
    assert_eq!(chain(&env), (head - 2, head - 2));
    expect_break(&env, "truncated", head - 1);
}

#[test]
fn every_row_and_the_inside_anchor_deleted_is_chain_emptied() {
    let env = installation();
    db(&env).execute("DELETE FROM audit_log", []).unwrap();
    std::fs::remove_file(env.data.join("audit.anchor")).unwrap();
    expect_break(&env, "chain_emptied", 1);
    let err = serve_refuses(&env);
    assert!(err.contains("chain_emptied"), "{err}");
    users_add_refuses(&env, "mallory");
    // Even without the outside anchor, users with no log is a break.
    std::fs::remove_file(outside_anchor(&env)).unwrap();
    expect_break(&env, "chain_emptied", 1);
    serve_refuses(&env);
    assert_eq!(chain(&env), (0, 0));
}

#[test]
fn an_older_genuine_inside_anchor_after_cutting_the_chain_back_is_anchor_rolled_back() {
    let env = installation();
    let old_anchor = std::fs::read(env.data.join("audit.anchor")).unwrap();
    let (_, old_head) = chain(&env);
    add_user(&env, "bob", "member");
    add_user(&env, "carol", "member");
    db(&env)
        .execute("DELETE FROM audit_log WHERE seq > ?1", [old_head])
        .unwrap();
    std::fs::write(env.data.join("audit.anchor"), old_anchor).unwrap();
    expect_break(&env, "anchor_rolled_back", old_head + 1);
    serve_refuses(&env);
    users_add_refuses(&env, "mallory");
}

#[tokio::test]
async fn a_revoked_key_stays_dead_after_a_rollback_because_the_server_does_not_start() {
    let env = installation();
    let server = start(&env);
    let (admin, _) = tokens(&server, "adam").await;
    let (id, key) = agent_key(
        &server,
        &admin,
        json!({"name": "ci", "permissions": ["bookmarks:read"]}),
    )
    .await;
    let me = |server: &Server, key: &str| {
        client()
            .request(Method::GET, server.url("/api/v1/auth/me"))
            .bearer_auth(key)
            .send()
    };
    assert_eq!(me(&server, &key).await.unwrap().status(), 200);
    stop(server);
    let before_revoke = snapshot(&env, "before-revoke");
    let server = start(&env);
    let r = client()
        .post(server.url(&format!("/api/v1/keys/{id}/revoke")))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Revoked: refused (403 `key_revoked`).
    assert_eq!(me(&server, &key).await.unwrap().status(), 403);
    stop(server);
    // The attacker puts back the database (and its inside anchor) from
    // before the revocation: in it, the key is live again.
    roll_back(&env, &before_revoke, true);
    let revoked: Option<i64> = db(&env)
        .query_row(
            "SELECT revoked_at FROM agent_keys WHERE public_id = ?1",
            [&id],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(revoked, None, "the rolled-back database has the key live");
    // The server refuses to start, so the key is never accepted again.
    let err = serve_refuses(&env);
    assert!(err.contains("anchor_rolled_back"), "{err}");
    expect_break(&env, "anchor_rolled_back", chain(&env).1 + 1);
}

#[tokio::test]
async fn audit_accept_after_an_intended_restore_is_recorded_and_lets_the_server_start() {
    let env = installation();
    let backup = snapshot(&env, "backup");
    let (_, backup_head) = chain(&env);
    add_user(&env, "bob", "member");
    let outside_before = std::fs::read_to_string(outside_anchor(&env)).unwrap();
    roll_back(&env, &backup, true);
    expect_break(&env, "anchor_rolled_back", backup_head + 1);
    let p = pf(&env);
    // A reason is required, and a bad one changes nothing.
    for bad in ["", "   ", "line\nbreak", &"x".repeat(501)] {
        let out = env.run(
            &["audit", "accept", "--reason", bad, "--passphrase-file", &p],
            None,
        );
        assert!(!out.status.success(), "{bad:?} accepted");
    }
    assert_eq!(chain(&env), (backup_head, backup_head));
    let out = env.ok(
        &[
            "audit",
            "accept",
            "--reason",
            "restored Sunday's backup after the disk failure",
            "--passphrase-file",
            &p,
        ],
        None,
    );
    assert!(out.contains("accepted"), "{out}");
    let (code, v) = verify_json(&env);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["entries"], backup_head + 1);
    // The acceptance names the old anchors, what was found, and the head.
    let details: String = db(&env)
        .query_row(
            "SELECT details FROM audit_log WHERE action = 'audit.accept'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let d: Value = serde_json::from_str(&details).unwrap();
    assert_eq!(
        d["reason"],
        "restored Sunday's backup after the disk failure"
    );
    assert_eq!(d["break"], "anchor_rolled_back");
    assert_eq!(d["accepted_head"]["seq"], backup_head);
    let old_outside: Value = serde_json::from_str(&outside_before).unwrap();
    let named = d["previous_anchors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["anchor"] == "outside anchor")
        .unwrap();
    assert_eq!(named["found"]["seq"], old_outside["seq"]);
    assert_eq!(named["found"]["hash"], old_outside["hash"]);
    // Re-anchored on the acceptance: both anchors name the new head.
    let now: Value =
        serde_json::from_str(&std::fs::read_to_string(outside_anchor(&env)).unwrap()).unwrap();
    assert_eq!(now["seq"], backup_head + 1);
    let server = start(&env);
    let resp = client().get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    stop(server);
    let (code, v) = verify_json(&env);
    assert_eq!(code, 0, "{v}");
}

#[test]
fn a_configured_outside_dir_and_witness_receive_the_signed_head_only() {
    let env = Env::new();
    env.init_with_passphrase();
    let elsewhere = env.tmp.path().join("other-disk/anchors");
    let witness = env.tmp.path().join("witness/heads.log");
    let config = env.data.join("config.toml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!(
        "\n[audit]\noutside_anchor_dir = {:?}\nwitness_file = {:?}\n",
        elsewhere.display().to_string(),
        witness.display().to_string()
    ));
    std::fs::write(&config, text).unwrap();
    add_user(&env, "olivia", "owner");
    add_user(&env, "bob", "member");
    let anchors: Vec<_> = std::fs::read_dir(&elsewhere).unwrap().collect();
    assert_eq!(anchors.len(), 1);
    let lines = std::fs::read_to_string(&witness).unwrap();
    assert_eq!(lines.lines().count(), 2, "one line per batch");
    assert!(!lines.contains("olivia") && !lines.contains("user.create"));
    for line in lines.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        assert_eq!(v.as_object().unwrap().len(), 6, "{v}");
    }
    // The witness alone catches a rollback of the database, the inside
    // anchor and the configured outside anchor together.
    let (_, head) = chain(&env);
    let outside_path = anchors[0].as_ref().unwrap().path();
    let old_outside = std::fs::read(&outside_path).unwrap();
    let old = snapshot(&env, "old");
    add_user(&env, "carol", "member");
    roll_back(&env, &old, true);
    std::fs::write(&outside_path, old_outside).unwrap();
    expect_break(&env, "anchor_rolled_back", head + 1);
    serve_refuses(&env);
}

#[test]
fn an_outside_anchor_dir_inside_the_data_directory_is_refused() {
    let env = Env::new();
    env.init_with_passphrase();
    let config = env.data.join("config.toml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    let inside: &Path = &env.data.join("anchors");
    text.push_str(&format!(
        "\n[audit]\noutside_anchor_dir = {:?}\n",
        inside.display().to_string()
    ));
    std::fs::write(&config, text).unwrap();
    let p = pf(&env);
    let out = env.run(&["users", "list", "--passphrase-file", &p], None);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("outside the data directory"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_can_tell_whether_the_outside_anchor_is_present_and_current() {
    let env = installation();
    let dd = hardshell::config::DataDir::at(&env.data)
        .with_anchor_home(env.machine_key.parent().unwrap());
    let mut v = vault::Vault::open(
        &dd.vault_path(),
        &secrecy::SecretString::from(common::PASSPHRASE),
    )
    .unwrap();
    let opened = hardshell::app::open(&dd, &mut v).unwrap();
    let path = outside_anchor(&env);
    let status = opened.audit.outside_anchor_status().await.unwrap();
    assert_eq!(status.path, path);
    assert!(
        status.present && status.genuine && status.current,
        "{status:?}"
    );
    assert_eq!(status.seq, Some(chain(&env).1 as u64));
    let older = std::fs::read(&path).unwrap();
    add_user(&env, "bob", "member");
    let status = opened.audit.outside_anchor_status().await.unwrap();
    assert!(status.current, "the CLI's append moved it: {status:?}");
    // An older genuine copy is present but not current.
    std::fs::write(&path, older).unwrap();
    let status = opened.audit.outside_anchor_status().await.unwrap();
    assert!(
        status.present && status.genuine && !status.current,
        "{status:?}"
    );
    assert!(status.seq.unwrap() < status.head_seq);
    std::fs::remove_file(&path).unwrap();
    let status = opened.audit.outside_anchor_status().await.unwrap();
    assert!(!status.present && !status.current, "{status:?}");
}

#[test]
fn a_verification_that_cannot_run_exits_2() {
    // No data directory at all: nothing to open, so no verdict either way.
    let env = Env::new();
    let out = env.run(
        &["audit", "verify", "--json", "--passphrase-file", &pf(&env)],
        None,
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("could not run"));
}
