//! Backups against the real binary (issue 22): an online backup while
//! messages are posted, restored into a fresh data directory that then
//! starts with the same users, messages, agents and secrets and an audit
//! chain that verifies and records the restore; damaged, truncated and
//! wrongly-keyed archives refused with nothing replaced; no plaintext in
//! the archive; a `kill -9` during `backup create` leaves nothing that
//! looks valid; restore refused under a running server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::agents::{create_agent, offline_provider};
use common::chat::{group, message_ids, post};
use common::identity::{add_user, pf, start, tokens};
use common::{Env, walk};
use serde_json::Value;

const BACKUP_PASSPHRASE: &str = "an archive passphrase, long enough";
const SECRET_VALUE: &str = "sk-canary-3f9d2b7e41c8a6d0";

fn backup_pass(env: &Env) -> String {
    let p = env.tmp.path().join("backup-passphrase");
    std::fs::write(&p, format!("{BACKUP_PASSPHRASE}\n")).unwrap();
    p.to_str().unwrap().to_string()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Every file below `dir` (lock files aside: any command creates those)
/// with a digest of its bytes, for "nothing changed" checks.
fn snapshot(dir: &Path) -> Vec<(PathBuf, u64)> {
    let mut out: Vec<_> = walk(dir)
        .into_iter()
        .filter(|p| p.is_file() && !p.to_string_lossy().ends_with(".lock"))
        .map(|p| {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            std::fs::read(&p).unwrap().hash(&mut h);
            (p, h.finish())
        })
        .collect();
    out.sort();
    out
}

fn siblings(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[tokio::test(flavor = "multi_thread")]
async fn backup_while_posting_then_restore_into_a_fresh_directory() {
    let env = Env::new();
    env.init_with_passphrase();
    add_user(&env, "olga", "owner");
    add_user(&env, "bob", "member");
    let p = pf(&env);
    env.ok(
        &["vault", "set", "CANARY_TOKEN", "--passphrase-file", &p],
        Some(SECRET_VALUE),
    );
    let server = start(&env);
    let olga = tokens(&server, "olga").await.0;
    offline_provider(&server, &olga).await;
    let agent = create_agent(&server, &olga, "helper", "openai/m1", serde_json::json!({})).await;
    let conv = group(&server, &olga, "Plans", &["bob"]).await["id"]
        .as_i64()
        .unwrap();
    let first = post(&server, &olga, conv, "zebra-canary before the backup").await["id"]
        .as_i64()
        .unwrap();
    let mut posted_ids = vec![first];

    // Post while the backup runs.
    let out = env.tmp.path().join("data-backups/while-posting.backup.age");
    let bp = backup_pass(&env);
    let create = {
        let mut c = env.cmd();
        c.args([
            "backup",
            "create",
            "--out",
            out.to_str().unwrap(),
            "--backup-passphrase-file",
            &bp,
            "--passphrase-file",
            &p,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        std::thread::spawn(move || c.output().unwrap())
    };
    // At most 90, so every message fits on one page of the history.
    while !create.is_finished() && posted_ids.len() < 90 {
        let n = posted_ids.len();
        let m = post(&server, &olga, conv, &format!("zebra-canary message {n}")).await;
        posted_ids.push(m["id"].as_i64().unwrap());
    }
    let created = create.join().unwrap();
    assert!(created.status.success(), "create: {}", stderr(&created));
    let said = String::from_utf8_lossy(&created.stdout);
    assert!(said.contains("audit chain intact"), "{said}");
    let live_ids = message_ids(&server, &olga, conv).await;
    assert_eq!(live_ids, posted_ids);
    assert!(live_ids.len() >= 2, "posting went on during the backup");

    // Nothing readable in the archive.
    let bytes = std::fs::read(&out).unwrap();
    assert!(bytes.starts_with(b"age-encryption.org/v1"));
    for needle in [
        "zebra-canary",
        SECRET_VALUE,
        "olga",
        "helper",
        "SQLite format",
    ] {
        assert!(
            !contains(&bytes, needle),
            "{needle} in clear in the archive"
        );
    }
    let listed = env.ok(&["backup", "list"], None);
    assert!(listed.contains("while-posting.backup.age"), "{listed}");
    assert!(!listed.contains("INCOMPLETE"), "{listed}");
    let verified = env.ok(
        &[
            "backup",
            "verify",
            out.to_str().unwrap(),
            "--backup-passphrase-file",
            &bp,
            "--passphrase-file",
            &p,
            "--json",
        ],
        None,
    );
    let v: Value = serde_json::from_str(&verified).unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["integrity"], "ok");
    assert!(v["audit_entries"].as_u64().unwrap() > 5, "{v}");
    let (stopped, _) = server.stop();
    assert!(stopped);

    // The original records the backup in its own audit log.
    let tail = env.ok(
        &[
            "audit",
            "tail",
            "-n",
            "50",
            "--json",
            "--passphrase-file",
            &p,
        ],
        None,
    );
    assert!(tail.contains("\"backup.created\""), "{tail}");

    // Restore into a fresh directory on another "machine".
    let fresh = Env::new();
    let fp = pf(&fresh);
    let restored = fresh.run(
        &[
            "backup",
            "restore",
            out.to_str().unwrap(),
            "--backup-passphrase-file",
            &bp,
            "--passphrase-file",
            &fp,
        ],
        None,
    );
    assert!(restored.status.success(), "restore: {}", stderr(&restored));
    let users = fresh.ok(&["users", "list", "--json", "--passphrase-file", &fp], None);
    assert!(users.contains("olga") && users.contains("bob"), "{users}");
    let names = fresh.ok(&["vault", "list", "--passphrase-file", &fp], None);
    assert!(names.contains("CANARY_TOKEN"), "{names}");
    let value = fresh.ok(
        &[
            "vault",
            "get",
            "CANARY_TOKEN",
            "--reveal",
            "--passphrase-file",
            &fp,
        ],
        None,
    );
    assert_eq!(value.trim(), SECRET_VALUE);
    let audit = fresh.ok(&["audit", "verify", "--passphrase-file", &fp], None);
    assert!(audit.contains("intact"), "{audit}");
    let tail = fresh.ok(
        &[
            "audit",
            "tail",
            "-n",
            "5",
            "--json",
            "--passphrase-file",
            &fp,
        ],
        None,
    );
    let accept: Value = tail
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|e| e["action"] == "audit.accept")
        .unwrap_or_else(|| panic!("no audit.accept in {tail}"));
    assert_eq!(
        accept["details"]["reason"],
        "restored from backup while-posting.backup.age"
    );

    let server = start(&fresh);
    let olga = tokens(&server, "olga").await.0;
    let ids = message_ids(&server, &olga, conv).await;
    // A consistent moment: a prefix of what was posted, the first included.
    assert!(ids.contains(&first), "{ids:?}");
    assert_eq!(
        ids[..],
        live_ids[..ids.len()],
        "not a prefix of {live_ids:?}"
    );
    let (s, agents) = common::chat::get(&server, &olga, "/api/v1/agents").await;
    assert!(s.is_success(), "{agents}");
    assert!(agents.to_string().contains("helper"), "{agents}");
    let (s, one) = common::chat::get(&server, &olga, &format!("/api/v1/agents/{agent}")).await;
    assert!(s.is_success(), "{one}");
    let (stopped, _) = server.stop();
    assert!(stopped);
}

fn restore_args<'a>(archive: &'a str, bp: &'a str, p: &'a str) -> Vec<&'a str> {
    vec![
        "backup",
        "restore",
        archive,
        "--backup-passphrase-file",
        bp,
        "--passphrase-file",
        p,
    ]
}

#[test]
fn damaged_or_wrongly_keyed_archives_are_refused_and_nothing_is_replaced() {
    let env = Env::new();
    env.init_with_passphrase();
    add_user(&env, "olga", "owner");
    let p = pf(&env);
    let bp = backup_pass(&env);
    let good = env.tmp.path().join("good.backup.age");
    env.ok(
        &[
            "backup",
            "create",
            "--out",
            good.to_str().unwrap(),
            "--backup-passphrase-file",
            &bp,
            "--passphrase-file",
            &p,
        ],
        None,
    );
    let bytes = std::fs::read(&good).unwrap();

    // The target: another installation with its own content.
    let target = Env::new();
    target.init_with_passphrase();
    add_user(&target, "tess", "owner");
    let before = snapshot(&target.data);
    let around = siblings(&target.data);
    let tp = pf(&target);

    let wrong = env.tmp.path().join("wrong-passphrase");
    std::fs::write(&wrong, "not the archive passphrase at all\n").unwrap();
    let truncated = env.tmp.path().join("truncated.backup.age");
    std::fs::write(&truncated, &bytes[..bytes.len() - 700]).unwrap();
    let flipped = env.tmp.path().join("flipped.backup.age");
    let mut f = bytes.clone();
    let mid = f.len() / 2;
    f[mid] ^= 0x01;
    std::fs::write(&flipped, &f).unwrap();
    let header = env.tmp.path().join("header.backup.age");
    let mut h = bytes.clone();
    h[30] ^= 0x01;
    std::fs::write(&header, &h).unwrap();

    let cases: [(&Path, &str, &str); 4] = [
        (&good, wrong.to_str().unwrap(), "wrong backup passphrase"),
        (&truncated, &bp, "damaged"),
        (&flipped, &bp, "damaged"),
        (&header, &bp, "archive"),
    ];
    for (archive, key, says) in cases {
        let a = archive.to_str().unwrap();
        let out = target.run(&restore_args(a, key, &tp), None);
        assert!(!out.status.success(), "{a} was restored");
        let err = stderr(&out);
        assert!(err.contains(says), "{a}: {err}");
        assert!(err.contains("error"), "{a}: {err}");
        let v = target.run(
            &[
                "backup",
                "verify",
                a,
                "--backup-passphrase-file",
                key,
                "--passphrase-file",
                &tp,
            ],
            None,
        );
        assert!(!v.status.success(), "{a} verified");
        assert_eq!(snapshot(&target.data), before, "{a} changed the target");
        assert_eq!(
            siblings(&target.data),
            around,
            "{a} left something beside it"
        );
    }
    assert!(
        target
            .ok(&["users", "list", "--passphrase-file", &tp], None)
            .contains("tess")
    );

    // The good archive restores; the old directory is moved aside intact.
    let out = target.run(&restore_args(good.to_str().unwrap(), &bp, &tp), None);
    assert!(out.status.success(), "{}", stderr(&out));
    let aside = siblings(&target.data)
        .into_iter()
        .find(|n| n.starts_with("data.replaced-"))
        .expect("the replaced directory is kept");
    let aside = target.data.with_file_name(aside);
    assert!(aside.join("vault.hsv").is_file());
    let users = target.ok(&["users", "list", "--passphrase-file", &tp], None);
    assert!(users.contains("olga") && !users.contains("tess"), "{users}");
}

#[test]
fn restore_is_refused_while_a_server_runs() {
    let env = Env::new();
    env.init_with_passphrase();
    let p = pf(&env);
    let bp = backup_pass(&env);
    let archive = env.tmp.path().join("a.backup.age");
    let a = archive.to_str().unwrap().to_string();
    env.ok(
        &[
            "backup",
            "create",
            "--out",
            &a,
            "--backup-passphrase-file",
            &bp,
            "--passphrase-file",
            &p,
        ],
        None,
    );
    let server = start(&env);
    let before = std::fs::read(env.data.join("vault.hsv")).unwrap();
    let out = env.run(&restore_args(&a, &bp, &p), None);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("another Hardshell process"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read(env.data.join("vault.hsv")).unwrap(), before);
    assert!(!siblings(&env.data).iter().any(|n| n.contains("replaced")));
    drop(server);
}

#[test]
fn recipient_archives_need_the_identity() {
    let env = Env::new();
    env.init_with_passphrase();
    let p = pf(&env);
    let id = age::pq::Identity::generate();
    let id_file = env.tmp.path().join("backup.key");
    {
        use secrecy::ExposeSecret;
        std::fs::write(&id_file, format!("{}\n", id.to_string().expose_secret())).unwrap();
    }
    let recipient = id.to_public().to_string();
    let archive = env.tmp.path().join("r.backup.age");
    let a = archive.to_str().unwrap().to_string();
    env.ok(
        &[
            "backup",
            "create",
            "--out",
            &a,
            "--recipient",
            &recipient,
            "--passphrase-file",
            &p,
        ],
        None,
    );
    let ok = env.run(
        &[
            "backup",
            "verify",
            &a,
            "--identity",
            id_file.to_str().unwrap(),
            "--passphrase-file",
            &p,
        ],
        None,
    );
    assert!(ok.status.success(), "{}", stderr(&ok));
    let bp = backup_pass(&env);
    let no = env.run(
        &[
            "backup",
            "verify",
            &a,
            "--backup-passphrase-file",
            &bp,
            "--passphrase-file",
            &p,
        ],
        None,
    );
    assert!(!no.status.success());
    assert!(stderr(&no).contains("--identity"), "{}", stderr(&no));
    let other = age::pq::Identity::generate();
    let other_file = env.tmp.path().join("other.key");
    {
        use secrecy::ExposeSecret;
        std::fs::write(
            &other_file,
            format!("{}\n", other.to_string().expose_secret()),
        )
        .unwrap();
    }
    let no = env.run(
        &[
            "backup",
            "verify",
            &a,
            "--identity",
            other_file.to_str().unwrap(),
            "--passphrase-file",
            &p,
        ],
        None,
    );
    assert!(!no.status.success());
    assert!(
        stderr(&no).contains("wrong backup passphrase or identity"),
        "{}",
        stderr(&no)
    );
    // No key at all, and no terminal: refused with the ways to give one.
    let none = env.run(&["backup", "create", "--passphrase-file", &p], None);
    assert!(!none.status.success());
    assert!(
        stderr(&none).contains("--backup-passphrase-file"),
        "{}",
        stderr(&none)
    );
}

#[test]
fn kill_9_during_create_leaves_nothing_that_looks_valid() {
    let env = Env::new();
    env.init_with_passphrase();
    let p = pf(&env);
    let bp = backup_pass(&env);
    // A large workspace file keeps `create` busy long enough to be killed
    // while it writes.
    let ws = env.data.join("agents/9");
    std::fs::create_dir_all(&ws).unwrap();
    for d in [env.data.join("agents"), ws.clone()] {
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    let mut big = vec![0u8; 16 << 20];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for chunk in big.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
    }
    std::fs::write(ws.join("big.bin"), &big).unwrap();
    std::fs::set_permissions(ws.join("big.bin"), std::fs::Permissions::from_mode(0o600)).unwrap();
    drop(big);
    let dir = env.tmp.path().join("data-backups");
    let out = dir.join("killed.backup.age");
    let mut child = env
        .cmd()
        .args([
            "backup",
            "create",
            "--out",
            out.to_str().unwrap(),
            "--backup-passphrase-file",
            &bp,
            "--passphrase-file",
            &p,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the archive is being written, then kill -9.
    let partial = loop {
        let found = std::fs::read_dir(&dir).ok().and_then(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .find(|p| p.to_string_lossy().ends_with(".partial"))
                .filter(|p| std::fs::metadata(p).map(|m| m.len() > 0).unwrap_or(false))
        });
        if let Some(p) = found {
            break p;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "create ended before it was killed"
        );
        std::thread::sleep(Duration::from_millis(2));
    };
    Command::new("kill")
        .args(["-KILL", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success(), "create finished before the kill");
    assert!(!out.exists(), "a half-written archive has the final name");
    let listed = env.ok(&["backup", "list", "--json"], None);
    let listed: Value = serde_json::from_str(&listed).unwrap();
    let entries = listed.as_array().unwrap();
    assert!(!entries.is_empty(), "the leftover is listed");
    assert!(entries.iter().all(|e| e["incomplete"] == true), "{listed}");
    if partial.exists() {
        let v = env.run(
            &[
                "backup",
                "verify",
                partial.to_str().unwrap(),
                "--backup-passphrase-file",
                &bp,
                "--passphrase-file",
                &p,
            ],
            None,
        );
        assert!(!v.status.success(), "a partial archive verified");
    }
}
