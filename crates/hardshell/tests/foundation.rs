//! The foundation against the real binary: first run, file modes, the
//! encrypted database, the vault CLI, tamper and copy attacks, bind refusal,
//! headers and errors, graceful shutdown, and logs without secrets.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Env, client, mode, walk};

#[tokio::test]
async fn first_run_without_tty_seals_and_serves() {
    let env = Env::new();
    let server = env.start(&[]);
    let out = server.stdout_first_lines.join("\n");
    assert!(out.contains("sealed"), "first run says it sealed: {out}");

    let resp = client().get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body, serde_json::json!({"status": "ok"}));

    // The database is SQLCipher, not plaintext SQLite.
    let db = std::fs::read(env.data.join("hardshell.db")).unwrap();
    assert!(!db.starts_with(b"SQLite format 3"));
    // 0700 directories, 0600 files, everywhere.
    for path in walk(&env.data) {
        let want = if path.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(mode(&path), want, "{}", path.display());
    }
    assert!(env.data.join("seal.hss").exists());
    // The machine secret lives outside the data directory.
    assert!(env.machine_key.exists());
    assert!(!env.machine_key.starts_with(&env.data));
    assert_eq!(mode(&env.machine_key), 0o600);
    let (clean, _) = server.stop();
    assert!(clean, "SIGTERM gives a clean exit");
}

#[tokio::test]
async fn security_headers_and_json_errors_everywhere() {
    let env = Env::new();
    let server = env.start(&[]);
    let c = client();
    for path in [
        "/healthz",
        "/api/v1/openapi.json",
        "/no/such/page",
        "/api/v1/nope",
    ] {
        let resp = c.get(server.url(path)).send().await.unwrap();
        let h = resp.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"));
        assert!(!csp.contains("unsafe-eval"));
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["referrer-policy"], "no-referrer");
        assert!(h.contains_key("permissions-policy"));
        // Plain HTTP on loopback: no HSTS.
        assert!(!h.contains_key("strict-transport-security"));
    }
    let resp = c.get(server.url("/api/v1/nope")).send().await.unwrap();
    assert_eq!(resp.status(), 404);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
    // Wrong method: still the JSON error shape.
    let resp = c.post(server.url("/healthz")).send().await.unwrap();
    assert_eq!(resp.status(), 405);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "method_not_allowed");
}

#[tokio::test]
async fn openapi_lists_the_routes() {
    let env = Env::new();
    let server = env.start(&[]);
    let doc = common::openapi(&server).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert!(doc["paths"]["/healthz"]["get"].is_object());
    assert!(doc["paths"]["/api/v1/openapi.json"]["get"].is_object());
}

#[test]
fn non_loopback_bind_without_tls_is_refused_before_listening() {
    let env = Env::new();
    let out = env.run(&["serve", "--bind", "0.0.0.0:0"], None);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("needs TLS"), "{err}");
    assert!(err.contains("behind_proxy"), "{err}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("listening"));
}

#[test]
fn open_permissions_stop_the_server_and_name_the_file() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    env.init_with_passphrase();
    let config = env.data.join("config.toml");
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();
    let pf = env.passphrase_file.to_str().unwrap();
    let out = env.run(
        &["serve", "--bind", "127.0.0.1:0", "--passphrase-file", pf],
        None,
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("config.toml") && err.contains("chmod 600"),
        "{err}"
    );
}

#[test]
fn vault_cli_round_trip() {
    let env = Env::new();
    env.init_with_passphrase();
    let pf = env.passphrase_file.to_str().unwrap();
    env.ok(
        &["vault", "set", "GITHUB_TOKEN", "--passphrase-file", pf],
        Some("ghp_example_value_1234\n"),
    );
    let list = env.ok(&["vault", "list", "--json", "--passphrase-file", pf], None);
    let names: Vec<String> = serde_json::from_str(&list).unwrap();
    assert!(names.contains(&"GITHUB_TOKEN".to_string()));
    // Without --reveal the value is not printed anywhere.
    let out = env.run(
        &["vault", "get", "GITHUB_TOKEN", "--passphrase-file", pf],
        None,
    );
    assert!(out.status.success());
    assert!(!String::from_utf8_lossy(&out.stdout).contains("ghp_example"));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("ghp_example"));
    let shown = env.ok(
        &[
            "vault",
            "get",
            "GITHUB_TOKEN",
            "--reveal",
            "--passphrase-file",
            pf,
        ],
        None,
    );
    assert_eq!(shown.trim_end(), "ghp_example_value_1234");
    env.ok(
        &["vault", "rm", "GITHUB_TOKEN", "--passphrase-file", pf],
        None,
    );
    let out = env.run(
        &["vault", "get", "GITHUB_TOKEN", "--passphrase-file", pf],
        None,
    );
    assert!(!out.status.success());
    // The server's own keys cannot be removed by hand.
    let out = env.run(
        &["vault", "rm", "hardshell.db_key", "--passphrase-file", pf],
        None,
    );
    assert!(!out.status.success());
    // The vault file never contains the value in the clear.
    let raw = std::fs::read(env.data.join("vault.hsv")).unwrap();
    assert!(!raw.windows(11).any(|w| w == b"ghp_example"));
}

#[test]
fn wrong_passphrase_is_refused_and_changes_nothing() {
    let env = Env::new();
    env.init_with_passphrase();
    let before = std::fs::read(env.data.join("vault.hsv")).unwrap();
    let bad = env.tmp.path().join("bad");
    std::fs::write(&bad, "not the passphrase at all").unwrap();
    let out = env.run(
        &["vault", "list", "--passphrase-file", bad.to_str().unwrap()],
        None,
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr).to_lowercase();
    assert!(err.contains("passphrase"), "{err}");
    assert_eq!(std::fs::read(env.data.join("vault.hsv")).unwrap(), before);
}

#[test]
fn any_changed_vault_byte_is_a_tamper_error() {
    let env = Env::new();
    env.init_with_passphrase();
    let path = env.data.join("vault.hsv");
    let original = std::fs::read(&path).unwrap();
    let pf = env.passphrase_file.to_str().unwrap();
    // First byte, a header byte, the middle, and the last (tag) byte; the
    // vault crate's own tests flip every byte of a small vault.
    for pos in [0, 20, original.len() / 2, original.len() - 1] {
        let mut bytes = original.clone();
        bytes[pos] ^= 0x01;
        std::fs::write(&path, &bytes).unwrap();
        let out = env.run(&["vault", "list", "--passphrase-file", pf], None);
        assert!(
            !out.status.success(),
            "byte {pos} flipped but the vault opened"
        );
        let err = String::from_utf8_lossy(&out.stderr).to_lowercase();
        assert!(
            err.contains("modified") || err.contains("tamper"),
            "byte {pos}: {err}"
        );
        assert!(!err.contains("wrong passphrase"), "byte {pos}: {err}");
    }
    std::fs::write(&path, &original).unwrap();
    env.ok(&["vault", "list", "--passphrase-file", pf], None);
}

#[test]
fn sealed_directory_copied_without_the_machine_secret_does_not_unseal() {
    let env = Env::new();
    env.ok(&["init", "--sealed"], None);
    env.ok(&["vault", "list"], None);

    // Another machine: the data directory copied, a different machine secret.
    let thief = Env::new();
    copy_dir(&env.data, &thief.data);
    let out = thief.run(&["vault", "list"], None);
    assert!(!out.status.success(), "unsealed with no machine secret");
    assert!(
        !thief.machine_key.exists(),
        "unsealing must never create a machine secret"
    );
    std::fs::create_dir_all(thief.machine_key.parent().unwrap()).unwrap();
    std::fs::write(&thief.machine_key, [7u8; 32]).unwrap();
    let out = thief.run(&["vault", "list"], None);
    assert!(
        !out.status.success(),
        "unsealed with a foreign machine secret"
    );

    // Same machine secret but another machine identity.
    std::fs::copy(&env.machine_key, &thief.machine_key).unwrap();
    std::fs::write(&thief.machine_id, "ffffffffffffffffffffffffffffffff\n").unwrap();
    let out = thief.run(&["vault", "list"], None);
    assert!(!out.status.success(), "unsealed on a different machine id");
}

#[test]
fn vault_changes_are_refused_while_the_server_runs() {
    let env = Env::new();
    env.init_with_passphrase();
    let pf = env.passphrase_file.to_str().unwrap();
    let server = env.start(&["--passphrase-file", pf]);
    let out = env.run(
        &["vault", "set", "X_TOKEN", "--passphrase-file", pf],
        Some("value-123456"),
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("stop the server") && err.contains("/api/v1/secrets/NAME"),
        "{err}"
    );
    // Reading is fine.
    env.ok(&["vault", "list", "--passphrase-file", pf], None);
    // A second server on the same directory is refused too.
    assert!(common::Server::start(&env, &["--passphrase-file", pf]).is_err());
    drop(server);
}

#[tokio::test]
async fn logs_never_contain_vault_values() {
    let mut env = Env::new();
    env.init_with_passphrase();
    let pf = env.passphrase_file.to_str().unwrap().to_string();
    let secret = "sk-live-0f3c9a7e5b1d2c4e6a8b";
    env.ok(
        &["vault", "set", "OPENAI_API_KEY", "--passphrase-file", &pf],
        Some(secret),
    );
    // Debug level logs every request path; put the secret into one.
    env.log_level = "debug".into();
    let server = env.start(&["--passphrase-file", &pf]);
    let resp = client()
        .get(server.url(&format!("/api/v1/{secret}")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let (_, stderr) = server.stop();
    assert!(
        stderr.contains("request"),
        "request lines are logged: {stderr}"
    );
    assert!(
        stderr.contains("[REDACTED]"),
        "the secret was scrubbed: {stderr}"
    );
    assert!(
        !stderr.contains(secret),
        "secret leaked into logs: {stderr}"
    );
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), &dest).unwrap();
        }
    }
}

#[tokio::test]
async fn setup_page_is_served_without_inline_script() {
    let env = Env::new();
    let server = env.start(&[]);
    let c = client();
    let resp = c.get(server.url("/setup")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let csp = resp.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"));
    let html = resp.text().await.unwrap();
    assert!(html.contains(r#"src="/assets/setup.js""#));
    // Every script tag loads a file: nothing inline for the CSP to allow.
    for tag in html.split("<script").skip(1) {
        assert!(
            tag.trim_start().starts_with("type=\"module\" src=") || tag.contains(" src="),
            "{tag}"
        );
        assert!(
            tag.split('>').nth(1).unwrap_or("").starts_with("</script"),
            "inline body: {tag}"
        );
    }
    for handler in [
        "onclick=",
        "onload=",
        "onerror=",
        "onsubmit=",
        "javascript:",
    ] {
        assert!(!html.contains(handler), "inline handler {handler}");
    }
    let js = c.get(server.url("/assets/setup.js")).send().await.unwrap();
    assert!(
        js.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    assert!(js.text().await.unwrap().contains("/api/v1/setup"));
    // Nothing else under /assets is reachable, including traversal.
    for path in [
        "/assets/../Cargo.toml",
        "/assets/%2e%2e/Cargo.toml",
        "/assets/nope.js",
    ] {
        let r = c.get(server.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 404, "{path}");
    }
}

#[tokio::test]
async fn db_rekey_keeps_every_row_and_retires_the_old_key() {
    let env = Env::new();
    env.init_with_passphrase();
    let pf = env.passphrase_file.to_str().unwrap().to_string();
    for i in 0..5 {
        env.ok(
            &[
                "vault",
                "set",
                &format!("T{i}_TOKEN"),
                "--passphrase-file",
                &pf,
            ],
            Some("value-123456789"),
        );
    }
    env.ok(
        &[
            "users",
            "add",
            "olivia",
            "--role",
            "owner",
            "--password-stdin",
            "--passphrase-file",
            &pf,
        ],
        Some("olivia-violet-harbour-42\n"),
    );
    let key = |env: &Env| {
        env.ok(
            &[
                "vault",
                "get",
                "hardshell.db_key",
                "--reveal",
                "--passphrase-file",
                &pf,
            ],
            None,
        )
        .trim()
        .to_string()
    };
    let counts = |hex: &str| -> Vec<(String, i64)> {
        let c = rusqlite::Connection::open(env.data.join("hardshell.db")).unwrap();
        c.execute_batch(&format!("PRAGMA key = \"x'{hex}'\";"))
            .unwrap();
        let names: Vec<String> = c
            .prepare("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        names
            .into_iter()
            .map(|n| {
                let count = c
                    .query_row(&format!("SELECT count(*) FROM \"{n}\""), [], |r| r.get(0))
                    .unwrap();
                (n, count)
            })
            .collect()
    };
    let old = key(&env);
    let before = counts(&old);
    assert!(
        before.iter().any(|(n, c)| n == "audit_log" && *c >= 6),
        "{before:?}"
    );
    let out = env.ok(&["db", "rekey", "--passphrase-file", &pf], None);
    assert!(out.contains("rows"), "{out}");
    let new = key(&env);
    assert_ne!(old, new);
    let mut after = counts(&new);
    // The rekey itself is audited: exactly one more audit row.
    for (n, c) in after.iter_mut() {
        if n == "audit_log" {
            *c -= 1;
        }
    }
    assert_eq!(before, after);
    // The old key no longer opens the database.
    let c = rusqlite::Connection::open(env.data.join("hardshell.db")).unwrap();
    c.execute_batch(&format!("PRAGMA key = \"x'{old}'\";"))
        .unwrap();
    assert!(
        c.query_row("SELECT count(*) FROM sqlite_master", [], |r| r
            .get::<_, i64>(0))
            .is_err()
    );
    drop(c);
    // And everything still works: the chain verifies, the server starts.
    env.ok(&["audit", "verify", "--passphrase-file", &pf], None);
    let server = env.start(&["--passphrase-file", &pf]);
    let resp = client().get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn oversized_json_body_is_a_json_413_and_garbage_a_json_4xx() {
    let env = Env::new();
    let server = env.start(&[]);
    let c = client();
    let (status, body) = oversized_post(&server.url("/api/v1/auth/login"), 64 * 1024);
    assert_eq!(status, 413);
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["error"]["code"], "payload_too_large");
    for (ctype, body) in [
        ("application/json", "{not json"),
        ("text/plain", "{}"),
        ("application/json", "[]"),
    ] {
        let resp = c
            .post(server.url("/api/v1/auth/login"))
            .header("content-type", ctype)
            .body(body)
            .send()
            .await
            .unwrap();
        assert!(
            resp.status().is_client_error(),
            "{ctype} {body}: {}",
            resp.status()
        );
        let v: serde_json::Value = resp.json().await.unwrap();
        assert!(v["error"]["code"].is_string() && v["error"]["message"].is_string());
    }
    // The server is still fine afterwards.
    assert_eq!(
        c.get(server.url("/healthz")).send().await.unwrap().status(),
        200
    );
}

/// POSTs a JSON body that declares 200 KiB but sends exactly `limit + 1`
/// bytes, then reads the whole answer.
///
/// The server answers 413 as soon as the body passes the limit. A client
/// that is still writing then races the server's close (a reset can drop
/// the answer: the flaky `IncompleteMessage`). Sending no more than the
/// server has to read before it decides leaves nothing unread, so the
/// connection ends with an orderly close after the full answer.
fn oversized_post(url: &str, limit: usize) -> (u16, String) {
    use std::io::{Read, Write};
    let url = reqwest::Url::parse(url).unwrap();
    let addr = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap());
    let mut sock = std::net::TcpStream::connect(&addr).unwrap();
    sock.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        url.path(),
        200 * 1024
    );
    sock.write_all(head.as_bytes()).unwrap();
    let mut body = b"{\"username\":\"a\",\"password\":\"".to_vec();
    body.resize(limit + 1, b'x');
    sock.write_all(&body).unwrap();
    let mut answer = Vec::new();
    sock.read_to_end(&mut answer).unwrap();
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    let (headers, rest) = text.split_once("\r\n\r\n").unwrap();
    let chunked = headers
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_owned()
    };
    (status, body)
}

fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    loop {
        let (size, tail) = rest.split_once("\r\n").unwrap();
        let size = usize::from_str_radix(size.trim(), 16).unwrap();
        if size == 0 {
            return out;
        }
        out.push_str(&tail[..size]);
        rest = &tail[size + 2..];
    }
}
