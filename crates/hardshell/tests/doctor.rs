//! `hardshell doctor` against the real binary (issue 22): each check is
//! shown a bad condition and must report it; `--fix` tightens modes; a
//! critical finding stops `serve`, named, until acknowledged in config.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::unix::fs::PermissionsExt;

use common::Env;
use common::identity::{add_user, agent_key, db, pf, start, tokens};
use serde_json::{Value, json};

fn doctor(env: &Env, extra: &[&str]) -> (bool, Value) {
    let p = pf(env);
    let mut args = vec!["doctor", "--json", "--passphrase-file", &p];
    args.extend_from_slice(extra);
    let out = env.run(&args, None);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "doctor output: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.success(), v)
}

/// The findings with `id`, as (severity, finding text).
fn with_id(v: &Value, id: &str) -> Vec<(String, String)> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["id"] == id)
        .map(|f| {
            (
                f["severity"].as_str().unwrap().to_string(),
                f["finding"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn severity(v: &Value, id: &str) -> Option<String> {
    with_id(v, id).into_iter().next().map(|f| f.0)
}

fn append_config(env: &Env, text: &str) {
    let path = env.data.join("config.toml");
    let mut config = std::fs::read_to_string(&path).unwrap();
    config.push_str(text);
    std::fs::write(&path, config).unwrap();
}

/// One installation, with a server started once so the default agent
/// exists; then each bad condition is made and seen.
#[tokio::test(flavor = "multi_thread")]
async fn each_check_sees_its_bad_condition() {
    let env = Env::new();
    env.init_with_passphrase();
    add_user(&env, "olga", "owner");
    let server = start(&env);
    let olga = tokens(&server, "olga").await.0;
    // A key without expiry, and one with.
    let (_, _) = agent_key(
        &server,
        &olga,
        json!({"name": "forever", "permissions": ["messages:read"]}),
    )
    .await;
    let (s, _) = server.stop();
    assert!(s);

    // A clean start: no critical finding, the things that are fine say so.
    let (ok, v) = doctor(&env, &[]);
    assert!(ok, "{v}");
    assert_eq!(v["blocking"], 0, "{v}");
    assert_eq!(severity(&v, "bind.loopback").as_deref(), Some("info"));
    assert_eq!(severity(&v, "audit.chain").as_deref(), Some("info"));
    assert_eq!(
        severity(&v, "permissions.too_open").as_deref(),
        Some("info")
    );
    assert_eq!(severity(&v, "backup.none").as_deref(), Some("warning"));
    assert_eq!(
        severity(&v, "soul.no_safety_rules"),
        None,
        "the seeded SOUL.md has them"
    );
    let keys = with_id(&v, "keys.no_expiry");
    assert_eq!(keys.len(), 1, "{v}");
    assert!(keys[0].1.contains("forever"));
    assert_eq!(severity(&v, "trust.risky_domain"), None);
    assert_eq!(severity(&v, "tools.allow_always"), None);
    assert_eq!(severity(&v, "keys.unused"), None);

    // The database-held conditions, made directly in the database.
    {
        let conn = db(&env);
        let old = time::OffsetDateTime::now_utc().unix_timestamp() - 120 * 86_400;
        conn.execute(
            "UPDATE agent_keys SET created_at = ?1, last_used_at = ?1",
            [old],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO allow_rules (agent_id, tool, scope, created_at) \
             SELECT id, 'memory_save', 'scope:all', 0 FROM agents LIMIT 1",
            [],
        )
        .unwrap();
    }
    let p = pf(&env);
    env.ok(
        &[
            "trust",
            "set",
            "assistant",
            "shell",
            "3",
            "--reason",
            "test",
            "--passphrase-file",
            &p,
        ],
        None,
    );
    // A SOUL.md without its safety rules.
    let agents = env.data.join("agents");
    let soul = std::fs::read_dir(&agents)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path()
        .join("SOUL.md");
    std::fs::write(&soul, "# Assistant\nBe helpful and brief.\n").unwrap();
    // A password on the common list, set behind the policy's back.
    {
        let weak = hardshell::auth::password::hash("password1234").unwrap();
        let conn = db(&env);
        conn.execute(
            "UPDATE users SET password_hash = ?1 WHERE username = 'olga'",
            [weak],
        )
        .unwrap();
    }
    // Config: exposed without TLS, a proxy setting that trusts nobody and
    // a public "proxy".
    append_config(&env, "\n[doctor]\nacknowledge = []\n");
    {
        let path = env.data.join("config.toml");
        let config = std::fs::read_to_string(&path).unwrap().replace(
            "bind = \"127.0.0.1:18780\"",
            "bind = \"0.0.0.0:18780\"\nbehind_proxy = true\ntrusted_proxies = [\"203.0.113.9\"]",
        );
        std::fs::write(&path, config).unwrap();
    }

    let (ok, v) = doctor(&env, &[]);
    assert!(!ok, "critical findings make doctor exit non-zero: {v}");
    assert_eq!(
        severity(&v, "trust.risky_domain").as_deref(),
        Some("critical"),
        "{v}"
    );
    assert!(with_id(&v, "trust.risky_domain")[0].1.contains("shell"));
    assert_eq!(
        severity(&v, "tools.allow_always").as_deref(),
        Some("warning")
    );
    assert_eq!(
        severity(&v, "keys.unused").as_deref(),
        Some("warning"),
        "{v}"
    );
    assert_eq!(
        severity(&v, "soul.no_safety_rules").as_deref(),
        Some("warning")
    );
    assert_eq!(
        severity(&v, "password.owner_common").as_deref(),
        Some("critical"),
        "{v}"
    );
    assert!(
        !v.to_string().contains("password1234"),
        "the password is never printed"
    );
    assert_eq!(
        severity(&v, "proxy.public").as_deref(),
        Some("warning"),
        "{v}"
    );
    // behind_proxy with a proxy listed: TLS comes from the proxy.
    assert_eq!(severity(&v, "bind.no_tls"), None, "{v}");

    // Without the proxy: exposed in plain HTTP.
    {
        let path = env.data.join("config.toml");
        let config = std::fs::read_to_string(&path)
            .unwrap()
            .replace("behind_proxy = true\n", "")
            .replace(
                "trusted_proxies = [\"203.0.113.9\"]",
                "trusted_proxies = []",
            );
        std::fs::write(&path, config).unwrap();
    }
    let (_, v) = doctor(&env, &[]);
    assert_eq!(
        severity(&v, "bind.no_tls").as_deref(),
        Some("critical"),
        "{v}"
    );

    // Permissions: found, then fixed by --fix.
    let config_path = env.data.join("config.toml");
    std::fs::set_permissions(&config_path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (_, v) = doctor(&env, &[]);
    assert_eq!(
        severity(&v, "permissions.too_open").as_deref(),
        Some("critical"),
        "{v}"
    );
    let (_, v) = doctor(&env, &["--fix"]);
    let fixed = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "permissions.too_open")
        .unwrap();
    assert_eq!(fixed["fixed"], true, "{v}");
    assert_eq!(common::mode(&config_path), 0o600);

    // The sandbox: without bubblewrap on PATH it is reported unavailable;
    // as root it is not offered at all (the server's own start-up probe),
    // and doctor must say so rather than call it working.
    let out = env
        .cmd()
        .env("PATH", "/nonexistent")
        .args(["doctor", "--json", "--passphrase-file", &p])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let sandbox = with_id(&v, "sandbox.unavailable");
    assert_eq!(sandbox[0].0, "warning", "{v}");
    if rustix::process::geteuid().is_root() {
        assert!(sandbox[0].1.contains("runs as root"), "{v}");
        let (_, v) = doctor(&env, &[]);
        let sandbox = with_id(&v, "sandbox.unavailable");
        assert_eq!(sandbox[0].0, "warning", "{v}");
        assert!(sandbox[0].1.contains("not offered"), "{v}");
    } else {
        assert!(sandbox[0].1.contains("bwrap"), "{v}");
    }
}

#[test]
fn a_critical_finding_stops_serve_until_acknowledged() {
    let env = Env::new();
    env.init_with_passphrase();
    add_user(&env, "olga", "owner");
    // Seed the default agent, then give it shell trust above 2.
    let server = start(&env);
    drop(server);
    let p = pf(&env);
    env.ok(
        &[
            "trust",
            "set",
            "assistant",
            "shell",
            "4",
            "--reason",
            "test",
            "--passphrase-file",
            &p,
        ],
        None,
    );
    let refused = common::Server::start(&env, &["--passphrase-file", &p]);
    let err = match refused {
        Ok(_) => panic!("serve started with a critical finding"),
        Err(e) => e,
    };
    assert!(err.contains("refusing to start"), "{err}");
    assert!(err.contains("trust.risky_domain"), "{err}");
    assert!(err.contains("acknowledge"), "{err}");
    let rows = common::identity::audit_rows(&env);
    assert!(
        rows.iter().any(|r| r.0 == "server.start_refused"),
        "the refusal is audited"
    );
    append_config(&env, "\n[doctor]\nacknowledge = [\"trust.risky_domain\"]\n");
    let server = start(&env);
    let (stopped, stderr) = server.stop();
    assert!(stopped);
    assert!(
        stderr.contains("trust.risky_domain"),
        "still reported: {stderr}"
    );
}

#[test]
fn vault_unlock_mode_and_audit_breaks_are_reported() {
    // The passphrase in the environment: a warning.
    let env = Env::new();
    env.init_with_passphrase();
    add_user(&env, "olga", "owner");
    let out = env
        .cmd()
        .env("HARDSHELL_VAULT_PASSPHRASE", common::PASSPHRASE)
        .args(["doctor", "--json"])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        severity(&v, "vault.unlock_env").as_deref(),
        Some("warning"),
        "{v}"
    );
    // A passphrase file others can read.
    std::fs::set_permissions(&env.passphrase_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (_, v) = doctor(&env, &[]);
    assert_eq!(
        severity(&v, "vault.passphrase_file_readable").as_deref(),
        Some("warning"),
        "{v}"
    );
    // A removed audit entry: the chain is broken.
    {
        let conn = db(&env);
        let n = conn
            .execute("DELETE FROM audit_log WHERE seq = 1", [])
            .unwrap();
        assert_eq!(n, 1);
    }
    let (ok, v) = doctor(&env, &[]);
    assert!(!ok);
    assert_eq!(
        severity(&v, "audit.chain").as_deref(),
        Some("critical"),
        "{v}"
    );

    // Sealed without a PIN: reported; the outside anchor gone: critical.
    let sealed = Env::new();
    sealed.ok(&["init", "--sealed"], None);
    add_user_sealed(&sealed);
    let out = sealed.cmd().args(["doctor", "--json"]).output().unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        severity(&v, "vault.sealed_without_pin").as_deref(),
        Some("info"),
        "{v}"
    );
    let anchor = std::fs::read_dir(sealed.machine_key.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".anchor"))
        .expect("an outside anchor");
    std::fs::remove_file(&anchor).unwrap();
    let out = sealed.cmd().args(["doctor", "--json"]).output().unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        severity(&v, "audit.outside_anchor").as_deref(),
        Some("critical"),
        "{v}"
    );
}

fn add_user_sealed(env: &Env) {
    env.ok(
        &[
            "users",
            "add",
            "olga",
            "--role",
            "owner",
            "--password-stdin",
        ],
        Some("olga-violet-harbour-42\n"),
    );
}

#[test]
fn a_recent_backup_is_seen() {
    let env = Env::new();
    env.init_with_passphrase();
    let p = pf(&env);
    let bp = env.tmp.path().join("bp");
    std::fs::write(&bp, "an archive passphrase, long enough\n").unwrap();
    let out = env.tmp.path().join("b.backup.age");
    env.ok(
        &[
            "backup",
            "create",
            "--out",
            out.to_str().unwrap(),
            "--backup-passphrase-file",
            bp.to_str().unwrap(),
            "--passphrase-file",
            &p,
        ],
        None,
    );
    let (_, v) = doctor(&env, &[]);
    assert_eq!(
        severity(&v, "backup.recent").as_deref(),
        Some("info"),
        "{v}"
    );
    assert_eq!(severity(&v, "backup.none"), None, "{v}");
}

/// The Security page's API: the same checks from the running server, the
/// sandbox as the server found it, owner only.
#[tokio::test(flavor = "multi_thread")]
async fn the_running_server_reports_its_checks_to_the_owner_only() {
    let env = Env::new();
    env.init_with_passphrase();
    add_user(&env, "olga", "owner");
    add_user(&env, "adam", "admin");
    let server = start(&env);
    let owner = tokens(&server, "olga").await.0;
    let admin = tokens(&server, "adam").await.0;
    let (s, v) = common::chat::get(&server, &owner, "/api/v1/doctor").await;
    assert_eq!(s, 200, "{v}");
    let ids: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    for id in ["backup.none", "sandbox.unavailable", "audit.chain"] {
        assert!(ids.iter().any(|i| i.starts_with(id)), "{id} in {ids:?}");
    }
    let sandbox = with_id(&v, "sandbox.unavailable");
    if rustix::process::geteuid().is_root() {
        assert!(sandbox[0].1.contains("runs as root"), "{v}");
    }
    assert_eq!(v["blocking"], 0, "{v}");
    let (s, _) = common::chat::get(&server, &admin, "/api/v1/doctor").await;
    assert_eq!(s, 403);
    let (_, key) = agent_key(
        &server,
        &owner,
        json!({"name": "k", "permissions": ["messages:read"]}),
    )
    .await;
    let (s, _) = common::chat::get(&server, &key, "/api/v1/doctor").await;
    assert_eq!(s, 403);
}

/// Channels: an open pairing door is reported, and a webhook secret that
/// is missing, short or reused is critical until it is sound.
#[tokio::test(flavor = "multi_thread")]
async fn channel_pairing_and_weak_webhook_secrets_are_reported() {
    let env = Env::new();
    env.init_with_passphrase();
    add_user(&env, "olga", "owner");
    let p = pf(&env);
    let (_, v) = doctor(&env, &[]);
    assert!(with_id(&v, "channels.pairing_requests").is_empty(), "{v}");
    assert!(with_id(&v, "channels.weak_secret").is_empty(), "{v}");

    append_config(
        &env,
        "\n[channels.webhooks.crm]\nsecret = \"crm-secret\"\nagent = \"assistant\"\n",
    );
    let (_, v) = doctor(&env, &[]);
    let open = with_id(&v, "channels.pairing_requests");
    assert_eq!(open.len(), 1, "{v}");
    assert_eq!(open[0].0, "info");
    assert!(open[0].1.contains("webhook crm"), "{v}");
    let weak = with_id(&v, "channels.weak_secret");
    assert_eq!(weak[0].0, "critical", "{v}");
    assert!(weak[0].1.contains("no entry"), "missing: {v}");

    let set = |name: &str, value: &str| {
        env.ok(
            &["vault", "set", name, "--passphrase-file", &p],
            Some(value),
        );
    };
    let rm = |name: &str| env.ok(&["vault", "rm", name, "--passphrase-file", &p], None);
    set("crm-secret", "too-short");
    let (_, v) = doctor(&env, &[]);
    assert!(
        with_id(&v, "channels.weak_secret")[0]
            .1
            .contains("at least 32"),
        "short: {v}"
    );

    let shared = "0123456789abcdef0123456789abcdef-shared";
    rm("crm-secret");
    set("crm-secret", shared);
    set("OTHER_TOKEN", shared);
    let (_, v) = doctor(&env, &[]);
    assert!(
        with_id(&v, "channels.weak_secret")[0].1.contains("equals"),
        "reused: {v}"
    );

    rm("OTHER_TOKEN");
    let (_, v) = doctor(&env, &[]);
    assert!(with_id(&v, "channels.weak_secret").is_empty(), "sound: {v}");
    assert_eq!(with_id(&v, "channels.pairing_requests").len(), 1);
}
