//! Scheduled backups run by the real server: written to `[backup] dir`,
//! encrypted to the configured recipient, audited, pruned to `keep`, and
//! the last good backup's age visible to the owner only.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::Env;
use common::chat::get;
use common::identity::{add_user, audit_rows, pf, start, tokens};
use reqwest::StatusCode;

fn archives(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".backup.age") && !n.starts_with('.'))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread")]
async fn the_server_backs_up_on_schedule_and_prunes_to_keep() {
    let env = Env::new();
    env.init_with_passphrase();
    add_user(&env, "olga", "owner");
    add_user(&env, "ann", "member");
    let id = age::pq::Identity::generate();
    let id_file = env.tmp.path().join("backup.key");
    {
        use secrecy::ExposeSecret;
        std::fs::write(&id_file, format!("{}\n", id.to_string().expose_secret())).unwrap();
    }
    let dir = env.tmp.path().join("scheduled");
    let config = env.data.join("config.toml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!(
        "\n[backup]\nevery = \"2s\"\nkeep = 2\ndir = \"{}\"\nrecipient = \"{}\"\n",
        dir.display(),
        id.to_public()
    ));
    std::fs::write(&config, text).unwrap();
    let server = start(&env);
    let owner = tokens(&server, "olga").await.0;
    let ann = tokens(&server, "ann").await.0;

    // Wait for at least three scheduled backups and a prune.
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let rows = audit_rows(&env);
        let made = rows
            .iter()
            .filter(|r| r.0 == "backup.created" && r.2 == "scheduler")
            .count();
        let pruned = rows.iter().any(|r| r.0 == "backup.pruned");
        if made >= 3 && pruned {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "scheduled backups did not happen: {rows:?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let names = archives(&dir);
    assert!(
        names.len() <= 3,
        "keep = 2 (one may be in flight): {names:?}"
    );
    assert!(names.len() >= 2, "{names:?}");

    // The owner sees the age; a member does not.
    let (s, v) = get(&server, &owner, "/api/v1/backups/status").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["scheduled"], true);
    assert_eq!(v["keep"], 2);
    assert_eq!(v["every_secs"], 2);
    assert!(v["last_backup_at"].is_string(), "{v}");
    assert!(v["age_secs"].as_i64().unwrap() < 60, "{v}");
    let (s, _) = get(&server, &ann, "/api/v1/backups/status").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (stopped, log) = server.stop();
    assert!(stopped, "{log}");

    // Only the recipient's identity opens a scheduled archive.
    let newest = dir.join(archives(&dir).last().unwrap());
    let p = pf(&env);
    let out = env.run(
        &[
            "backup",
            "verify",
            newest.to_str().unwrap(),
            "--identity",
            id_file.to_str().unwrap(),
            "--passphrase-file",
            &p,
        ],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_schedule_the_status_says_so_and_scheduling_needs_a_recipient() {
    let env = Env::new();
    env.init_with_passphrase();
    add_user(&env, "olga", "owner");
    let server = start(&env);
    let owner = tokens(&server, "olga").await.0;
    let (s, v) = get(&server, &owner, "/api/v1/backups/status").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["scheduled"], false);
    assert!(v["last_backup_at"].is_null(), "{v}");
    drop(server);

    let config = env.data.join("config.toml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("\n[backup]\nevery = \"24h\"\n");
    std::fs::write(&config, text).unwrap();
    let p = pf(&env);
    let out = env.run(&["serve", "--passphrase-file", &p], None);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("recipient"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
