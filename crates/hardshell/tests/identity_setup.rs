//! First-run setup and the `users` CLI: no default credentials, a printed
//! single-use setup token that a restart replaces, 410 once an owner
//! exists, the password policy, and the last owner protected.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::identity::{add_user, login, password_of, pf, start};
use common::{Env, client};
use serde_json::{Value, json};

async fn setup(server: &common::Server, token: &str, user: &str, pw: &str) -> (u16, Value) {
    let resp = client()
        .post(server.url("/api/v1/setup"))
        .json(&json!({"setup_token": token, "username": user, "password": pw}))
        .send()
        .await
        .unwrap();
    let s = resp.status().as_u16();
    (s, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn setup_token_is_single_use_and_setup_then_answers_410() {
    let env = Env::new();
    env.init_with_passphrase();
    // No default account exists (xiajiao ships a default admin key).
    let p = pf(&env);
    let list = env.ok(&["users", "list", "--json", "--passphrase-file", &p], None);
    assert_eq!(list.trim(), "[]");
    let server = start(&env);
    let token = server.setup_token().expect("the setup URL is printed");
    assert!(token.starts_with("setup-"), "{token}");
    for (u, pw) in [
        ("admin", "admin"),
        ("admin", "changeme"),
        ("root", "password"),
    ] {
        let resp = client()
            .post(server.url("/api/v1/auth/login"))
            .json(&json!({"username": u, "password": pw}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401, "default credentials {u}/{pw}");
    }
    let (s, body) = setup(&server, "setup-wrong", "olivia", &password_of("olivia")).await;
    assert_eq!(s, 401, "{body}");
    assert_eq!(body["error"]["code"], "invalid_setup_token");
    // The policy applies (and a refused attempt does not spend the token).
    for weak in ["short", "changeme12345", "passwordpassword"] {
        let (s, body) = setup(&server, &token, "olivia", weak).await;
        assert_eq!(s, 422, "{weak}: {body}");
    }
    let (s, body) = setup(&server, &token, "olivia", &password_of("olivia")).await;
    assert_eq!(s, 201, "{body}");
    assert_eq!(body["role"], "owner");
    assert!(body.get("password_hash").is_none());
    // Setup is over for good, whatever the token.
    let (s, body) = setup(&server, &token, "mallory", &password_of("mallory")).await;
    assert_eq!(s, 410, "{body}");
    assert_eq!(body["error"]["code"], "gone");
    let session = login(&server, "olivia").await;
    assert_eq!(session.body["user"]["role"], "owner");
    drop(server);
    // A restart with an owner prints no setup URL and setup stays gone.
    let server = start(&env);
    assert!(
        server
            .stdout_first_lines
            .iter()
            .all(|l| !l.contains("setup#token"))
    );
    let (s, _) = setup(&server, &token, "mallory", &password_of("mallory")).await;
    assert_eq!(s, 410);
}

#[tokio::test]
async fn a_new_start_invalidates_the_previous_setup_token() {
    let env = Env::new();
    env.init_with_passphrase();
    let first = start(&env);
    let old = first.setup_token().unwrap();
    // Serve one request first: the SIGTERM handler is installed once the
    // server is running, a moment after the setup line is printed.
    let r = client().get(first.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let (clean, stderr) = first.stop();
    assert!(clean, "{stderr}");
    let second = start(&env);
    let new = second.setup_token().unwrap();
    assert_ne!(old, new);
    let (s, _) = setup(&second, &old, "olivia", &password_of("olivia")).await;
    assert_eq!(s, 401, "the old URL is dead");
    let (s, _) = setup(&second, &new, "olivia", &password_of("olivia")).await;
    assert_eq!(s, 201);
}

#[test]
fn users_cli_manages_accounts_and_protects_the_last_owner() {
    let env = Env::new();
    env.init_with_passphrase();
    let p = pf(&env);
    add_user(&env, "olivia", "owner");
    add_user(&env, "mia", "member");
    // Weak passwords and duplicate names are refused.
    let out = env.run(
        &[
            "users",
            "add",
            "bob",
            "--role",
            "member",
            "--password-stdin",
            "--passphrase-file",
            &p,
        ],
        Some("changeme\n"),
    );
    assert!(!out.status.success());
    let out = env.run(
        &[
            "users",
            "add",
            "MIA",
            "--role",
            "guest",
            "--password-stdin",
            "--passphrase-file",
            &p,
        ],
        Some(&format!("{}\n", password_of("x"))),
    );
    assert!(!out.status.success(), "usernames are unique in any case");
    // The last owner cannot be demoted, disabled or deleted.
    for args in [
        vec!["users", "set-role", "olivia", "admin"],
        vec!["users", "disable", "olivia"],
        vec!["users", "delete", "olivia"],
    ] {
        let mut a = args.clone();
        a.extend(["--passphrase-file", &p]);
        assert!(!env.run(&a, None).status.success(), "{args:?}");
    }
    env.ok(
        &["users", "set-role", "mia", "admin", "--passphrase-file", &p],
        None,
    );
    env.ok(&["users", "disable", "mia", "--passphrase-file", &p], None);
    let list: Vec<Value> =
        serde_json::from_str(&env.ok(&["users", "list", "--json", "--passphrase-file", &p], None))
            .unwrap();
    let mia = list.iter().find(|u| u["username"] == "mia").unwrap();
    assert_eq!(mia["role"], "admin");
    assert_eq!(mia["disabled"], true);
    env.ok(&["users", "delete", "mia", "--passphrase-file", &p], None);
    let list = env.ok(&["users", "list", "--passphrase-file", &p], None);
    assert!(!list.contains("mia") && list.contains("olivia"));
    // Every change is in the audit trail.
    let actions: Vec<String> = common::identity::audit_rows(&env)
        .into_iter()
        .map(|r| r.0)
        .collect();
    for a in [
        "user.create",
        "user.role_change",
        "user.disable",
        "user.delete",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a} missing: {actions:?}");
    }
}
