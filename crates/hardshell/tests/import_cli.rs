//! `hardshell import clawchives FILE [--user NAME] [--json]` through the
//! real binary: a ClawChives export (bookmarks and nested folders) becomes
//! a person's bookmarks, each item succeeding or failing on its own, the
//! import audited; bad targets and bad files change nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Env;
use common::chat::call;
use common::identity::{add_user, audit_rows, db, installation, pf, tokens};
use reqwest::Method;
use serde_json::{Value, json};

const EXPORT: &str = r##"{"bookmarks":[
  {"id":"a1","url":"https://claw.example/reef","title":"Reef guide","description":"corals",
   "favicon":"","tags":["Reef","Sea"],"folderId":"kid","starred":true,"archived":false,
   "createdAt":"2024-05-01T10:00:00.000Z","updatedAt":"2024-05-02T10:00:00.000Z"},
  {"id":"a2","url":"https://claw.example/tide","title":"<script>alert(1)</script>","folderId":null},
  {"id":"a3","url":"javascript:alert(1)","title":"bad"}],
 "folders":[{"id":"top","name":"Ocean","parentId":null,"color":"#00FF00"},
            {"id":"kid","name":"Reefs","parentId":"top"}]}"##;

fn count(env: &Env, user: &str) -> i64 {
    db(env)
        .query_row(
            "SELECT count(*) FROM bookmarks b JOIN users u ON u.id = b.user_id WHERE u.username = ?1",
            [user],
            |r| r.get(0),
        )
        .unwrap()
}

#[test]
fn clawchives_exports_move_in_through_the_cli() {
    let env = Env::new();
    env.init_with_passphrase();
    for (name, role) in [("olga", "owner"), ("ann", "member"), ("gus", "guest")] {
        add_user(&env, name, role);
    }
    let p = pf(&env);
    let file = env.tmp.path().join("clawchives.json");
    std::fs::write(&file, EXPORT).unwrap();
    let f = file.to_str().unwrap();

    // Default: the owner's bookmarks.
    let out = env.ok(&["import", "clawchives", f, "--passphrase-file", &p], None);
    assert!(
        out.contains("imported 2 bookmarks for olga; 1 failed"),
        "{out}"
    );
    assert!(out.contains("item 2:"), "the failure is named: {out}");
    assert_eq!(count(&env, "olga"), 2);
    let conn = db(&env);
    let (title, folder, parent_name, starred, tags): (String, String, String, bool, String) = conn
        .query_row(
            "SELECT b.title, f.name, p.name, b.starred, b.tags FROM bookmarks b \
             JOIN bookmark_folders f ON f.id = b.folder_id \
             JOIN bookmark_folders p ON p.id = f.parent_id \
             WHERE b.url = 'https://claw.example/reef'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .unwrap();
    assert_eq!(
        (
            title.as_str(),
            folder.as_str(),
            parent_name.as_str(),
            starred
        ),
        ("Reef guide", "Reefs", "Ocean", true)
    );
    assert_eq!(tags, "reef sea");
    let creator: String = conn
        .query_row(
            "SELECT creator_kind FROM bookmarks WHERE url = 'https://claw.example/tide'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(creator, "user");

    // --user and --json; a second run finds everything already there.
    let out = env.ok(
        &[
            "import",
            "clawchives",
            f,
            "--user",
            "ann",
            "--json",
            "--passphrase-file",
            &p,
        ],
        None,
    );
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (v["imported"].as_u64(), v["failed"].as_u64()),
        (Some(2), Some(1)),
        "{v}"
    );
    let out = env.ok(
        &[
            "import",
            "clawchives",
            f,
            "--user",
            "ann",
            "--json",
            "--passphrase-file",
            &p,
        ],
        None,
    );
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (v["imported"].as_u64(), v["failed"].as_u64()),
        (Some(0), Some(3)),
        "{v}"
    );
    assert!(
        v["errors"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("already bookmarked"),
        "{v}"
    );

    // Refused, and nothing changes: a guest, an unknown user, a malformed
    // file, a missing file.
    let bad = env.tmp.path().join("bad.json");
    std::fs::write(&bad, "{\"bookmarks\": 3}").unwrap();
    let missing = env.tmp.path().join("missing.json");
    for (args, why) in [
        (vec![f, "--user", "gus"], "guest"),
        (vec![f, "--user", "nobody"], "no user"),
        (vec![bad.to_str().unwrap()], "ClawChives"),
        (vec![missing.to_str().unwrap()], "missing.json"),
    ] {
        let mut all = vec!["import", "clawchives"];
        all.extend(args);
        all.extend(["--passphrase-file", p.as_str()]);
        let out = env.run(&all, None);
        assert!(!out.status.success(), "{all:?} succeeded");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(why), "{all:?}: {err}");
    }
    assert_eq!(
        (count(&env, "olga"), count(&env, "ann"), count(&env, "gus")),
        (2, 2, 0)
    );

    let imports: Vec<_> = audit_rows(&env)
        .into_iter()
        .filter(|r| r.0 == "bookmark.import")
        .collect();
    assert_eq!(imports.len(), 3, "{imports:?}");
    assert!(
        imports.iter().all(|r| r.1 == "system" && r.2 == "cli"),
        "{imports:?}"
    );
}

#[tokio::test]
async fn importing_while_the_server_runs_shows_up_in_the_api() {
    let (env, server) = installation(&[("olga", "owner")]);
    let token = tokens(&server, "olga").await.0;
    let (_, before) = call(
        &server,
        &token,
        Method::GET,
        "/api/v1/bookmarks/stats",
        None,
    )
    .await;
    assert_eq!(before["total"], 0);
    let file = env.tmp.path().join("clawchives.json");
    std::fs::write(&file, EXPORT).unwrap();
    let p = pf(&env);
    let out = env.ok(
        &[
            "import",
            "clawchives",
            file.to_str().unwrap(),
            "--passphrase-file",
            &p,
        ],
        None,
    );
    assert!(out.contains("imported 2 bookmarks for olga"), "{out}");
    let (_, page) = call(
        &server,
        &token,
        Method::GET,
        "/api/v1/bookmarks?q=reef",
        None,
    )
    .await;
    assert_eq!(page["bookmarks"][0]["title"], "Reef guide", "{page}");
    let (_, after) = call(
        &server,
        &token,
        Method::GET,
        "/api/v1/bookmarks/stats",
        None,
    )
    .await;
    assert_eq!(
        (after["total"].clone(), after["folders"].clone()),
        (json!(2), json!(2))
    );
}
