//! The audit log end to end: events from real commands, verification of the
//! stored chain, every kind of tampering done directly to the encrypted
//! database, concurrent appends from two processes, redaction, and pruning.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Env;
use secrecy::SecretString;
use serde_json::Value;

fn pf(env: &Env) -> String {
    env.passphrase_file.to_str().unwrap().to_string()
}

/// An installation with a few audited vault changes.
fn populated() -> Env {
    let env = Env::new();
    env.init_with_passphrase();
    let p = pf(&env);
    for (name, value) in [
        ("A_TOKEN", "value-aaaaaaaa"),
        ("B_TOKEN", "value-bbbbbbbb"),
        ("C_TOKEN", "value-cccccccc"),
    ] {
        env.ok(
            &["vault", "set", name, "--passphrase-file", &p],
            Some(value),
        );
    }
    env.ok(&["vault", "rm", "A_TOKEN", "--passphrase-file", &p], None);
    env
}

fn verify_json(env: &Env) -> (bool, Value) {
    let out = env.run(
        &["audit", "verify", "--json", "--passphrase-file", &pf(env)],
        None,
    );
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("not json: {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.success(), v)
}

fn db(env: &Env) -> rusqlite::Connection {
    let key = env.ok(
        &[
            "vault",
            "get",
            "hardshell.db_key",
            "--reveal",
            "--passphrase-file",
            &pf(env),
        ],
        None,
    );
    let conn = rusqlite::Connection::open(env.data.join("hardshell.db")).unwrap();
    conn.execute_batch(&format!("PRAGMA key = \"x'{}'\";", key.trim()))
        .unwrap();
    conn
}

#[test]
fn real_events_verify_and_export() {
    let env = populated();
    let (ok, v) = verify_json(&env);
    assert!(ok, "{v}");
    assert_eq!(v["intact"], true);
    assert_eq!(v["entries"], 4);
    // Verification only reads: a second one sees the same four entries.
    let (ok, v) = verify_json(&env);
    assert!(ok && v["entries"] == 4, "{v}");
    let tail = env.ok(
        &[
            "audit",
            "tail",
            "-n",
            "10",
            "--json",
            "--passphrase-file",
            &pf(&env),
        ],
        None,
    );
    let entries: Vec<Value> = tail
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let actions: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["vault.set", "vault.set", "vault.set", "vault.rm"]);
    assert_eq!(entries[0]["target"], "A_TOKEN");
    assert!(!tail.contains("value-aaaaaaaa"), "a value reached the log");
    let export = env.ok(
        &["audit", "export", "--jsonl", "--passphrase-file", &pf(&env)],
        None,
    );
    assert_eq!(export.lines().count(), 4);
    for (i, line) in export.lines().enumerate() {
        let e: Value = serde_json::from_str(line).unwrap();
        assert_eq!(e["seq"], i as u64 + 1);
        assert_eq!(e["hash"].as_str().unwrap().len(), 64);
    }
}

fn expect_break(env: &Env, kind: &str, seq: u64) {
    let (ok, v) = verify_json(env);
    assert!(!ok, "verify passed after tampering ({kind}): {v}");
    assert_eq!(v["break"], kind, "{v}");
    assert_eq!(v["first_bad_seq"], seq, "{v}");
}

#[test]
fn edited_field_is_modified_at_that_seq() {
    let env = populated();
    db(&env)
        .execute("UPDATE audit_log SET target = 'Z_TOKEN' WHERE seq = 2", [])
        .unwrap();
    expect_break(&env, "modified", 2);
}

#[test]
fn deleted_entry_is_missing_at_that_seq() {
    let env = populated();
    db(&env)
        .execute("DELETE FROM audit_log WHERE seq = 2", [])
        .unwrap();
    expect_break(&env, "missing", 2);
}

#[test]
fn swapped_entries_are_reordered() {
    let env = populated();
    let c = db(&env);
    // Exchange the physical positions of entries 2 and 3.
    c.execute_batch(
        "CREATE TEMP TABLE t AS SELECT * FROM audit_log WHERE seq IN (2, 3);
         DELETE FROM audit_log WHERE seq IN (2, 3);
         INSERT INTO audit_log SELECT (SELECT id FROM t WHERE seq = 2), seq, ts, actor_kind, actor_id, action, target, outcome, ip, details, prev_hash, hash FROM t WHERE seq = 3;
         INSERT INTO audit_log SELECT (SELECT id FROM t WHERE seq = 3), seq, ts, actor_kind, actor_id, action, target, outcome, ip, details, prev_hash, hash FROM t WHERE seq = 2;",
    )
    .unwrap();
    let order: Vec<i64> = c
        .prepare("SELECT seq FROM audit_log ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(order, [1, 3, 2, 4]);
    expect_break(&env, "reordered", 2);
}

#[test]
fn cut_off_tail_is_truncated() {
    let env = populated();
    db(&env)
        .execute("DELETE FROM audit_log WHERE seq >= 3", [])
        .unwrap();
    expect_break(&env, "truncated", 3);
}

#[test]
fn deleted_anchor_is_anchor_missing_and_foreign_one_anchor_mismatch() {
    let env = populated();
    let anchor = env.data.join("audit.anchor");
    let original = std::fs::read(&anchor).unwrap();
    std::fs::remove_file(&anchor).unwrap();
    let (ok, v) = verify_json(&env);
    assert!(!ok);
    assert_eq!(v["break"], "anchor_missing", "{v}");
    assert_eq!(v["first_bad_seq"], 4, "{v}");
    // An anchor from another installation (other key) is no better.
    let other = populated();
    std::fs::copy(other.data.join("audit.anchor"), &anchor).unwrap();
    let (ok, v) = verify_json(&env);
    assert!(!ok);
    assert_eq!(v["break"], "anchor_mismatch", "{v}");
    // Verification appended nothing, so the genuine anchor put back is
    // current again and the chain verifies.
    std::fs::write(&anchor, original).unwrap();
    let (ok, v) = verify_json(&env);
    assert!(ok, "{v}");
}

#[test]
fn whole_chain_rewritten_with_another_key_is_modified_at_one() {
    let env = populated();
    let other = populated();
    // Replace every row with the other installation's (validly chained under
    // its own key), and bring its anchor too: nothing verifies under our key.
    let theirs: Vec<Vec<rusqlite::types::Value>> = {
        let c = db(&other);
        let mut stmt = c.prepare("SELECT * FROM audit_log ORDER BY id").unwrap();
        let n = stmt.column_count();
        stmt.query_map([], |r| (0..n).map(|i| r.get(i)).collect())
            .unwrap()
            .map(|r| r.unwrap())
            .collect()
    };
    let c = db(&env);
    c.execute("DELETE FROM audit_log", []).unwrap();
    for row in theirs {
        c.execute(
            "INSERT INTO audit_log VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            rusqlite::params_from_iter(row),
        )
        .unwrap();
    }
    drop(c);
    std::fs::copy(
        other.data.join("audit.anchor"),
        env.data.join("audit.anchor"),
    )
    .unwrap();
    expect_break(&env, "modified", 1);
}

fn open_in_process(env: &Env) -> (vault::Vault, hardshell::app::Opened) {
    // The outside anchor goes beside this test's machine key, as in the CLI.
    let dd = hardshell::config::DataDir::at(&env.data)
        .with_anchor_home(env.machine_key.parent().unwrap());
    let mut v =
        vault::Vault::open(&dd.vault_path(), &SecretString::from(common::PASSPHRASE)).unwrap();
    let opened = hardshell::app::open(&dd, &mut v).unwrap();
    (v, opened)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_cli_and_library_append_at_once_without_forking() {
    let env = Env::new();
    env.init_with_passphrase();
    let p = pf(&env);
    let server = env.start(&["--passphrase-file", &p]);
    let (_v, opened) = open_in_process(&env);
    // Three CLI processes append (users add) while this process appends
    // 1,000 entries through its own writer and the server holds its own.
    let clis: Vec<_> = (0..3)
        .map(|i| {
            let mut c = env.cmd();
            let name = format!("cli{i}");
            c.args(["users", "add", &name, "--role", "member", "--no-password"])
                .args(["--passphrase-file", &p])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped());
            c.spawn().unwrap()
        })
        .collect();
    let mut tasks = Vec::new();
    for t in 0..4 {
        let audit = opened.audit.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..250 {
                audit
                    .record(
                        audit::Draft::new(
                            audit::Actor::system(),
                            "test.concurrent",
                            audit::Outcome::Success,
                        )
                        .target(format!("{t}:{i}")),
                    )
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    for c in clis {
        // Its error, if any: this failed once in CI under load with the
        // cause thrown away.
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "users add failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let (clean, _) = server.stop();
    assert!(clean);
    let report = opened.audit.verify().await.unwrap();
    assert!(report.intact, "{report:?}");
    // the seeded assistant + server.start + 1000 + 3 CLI user.create + server.stop
    assert_eq!(report.count, 1 + 1 + 1000 + 3 + 1);
    let (ok, v) = verify_json(&env);
    assert!(ok, "{v}");
}

#[tokio::test]
async fn secrets_and_credential_fields_never_reach_the_database() {
    let env = Env::new();
    env.init_with_passphrase();
    let secret = "sk-ant-api03-very-secret-value";
    env.ok(
        &[
            "vault",
            "set",
            "ANTHROPIC_API_KEY",
            "--passphrase-file",
            &pf(&env),
        ],
        Some(secret),
    );
    let (_v, opened) = open_in_process(&env);
    opened
        .audit
        .record(
            audit::Draft::new(
                audit::Actor::user("7"),
                "test.redaction",
                audit::Outcome::Success,
            )
            .target(format!("calling with {secret}"))
            .details(serde_json::json!({
                "note": format!("header was Bearer {secret}"),
                "password": "hunter2hunter2",
                "nested": [{"api_key": "abc123abc123"}, {"username": "alice", "key_id": "k-42"}],
            })),
        )
        .await
        .unwrap();
    drop(opened);
    let c = db(&env);
    let rows: Vec<String> = c
        .prepare("SELECT target || ' ' || details FROM audit_log")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    let all = rows.join("\n");
    assert!(!all.contains(secret), "vault value stored: {all}");
    assert!(!all.contains("hunter2hunter2"));
    assert!(!all.contains("abc123abc123"));
    assert!(
        all.contains("alice") && all.contains("k-42"),
        "non-secrets kept: {all}"
    );
    assert!(all.contains("[REDACTED]"));
}

#[test]
fn prune_leaves_a_checkpoint_that_verifies() {
    let env = populated();
    let p = pf(&env);
    env.ok(
        &[
            "audit",
            "prune",
            "--before",
            "2999-01-01",
            "--passphrase-file",
            &p,
        ],
        None,
    );
    let (ok, v) = verify_json(&env);
    assert!(ok, "{v}");
    let export = env.ok(
        &["audit", "export", "--jsonl", "--passphrase-file", &p],
        None,
    );
    let first: Value = serde_json::from_str(export.lines().next().unwrap()).unwrap();
    assert_eq!(first["action"], "audit.checkpoint");
    assert_eq!(first["seq"], 5);
    // Deleting the checkpoint itself is caught.
    db(&env)
        .execute(
            "DELETE FROM audit_log WHERE action = 'audit.checkpoint'",
            [],
        )
        .unwrap();
    let (ok, _) = verify_json(&env);
    assert!(!ok);
}
