//! The README's commands work as written.
//!
//! Every `hardshell …` line in a `sh` block must parse with the real
//! argument definitions (so a renamed verb or flag fails here), and the
//! blocks a newcomer runs first (getting a token, connecting providers,
//! `db shell`) run for real against a server on loopback.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use clap::Parser;
use common::identity::{self, password_of};

fn readme() -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
    std::fs::read_to_string(path).unwrap()
}

/// The `sh` code blocks, each as its logical lines (continuations joined).
fn sh_blocks(text: &str) -> Vec<Vec<String>> {
    let mut blocks = Vec::new();
    let mut current: Option<Vec<String>> = None;
    let mut pending = String::new();
    for line in text.lines() {
        let t = line.trim_start();
        match &mut current {
            None if t.starts_with("```sh") => current = Some(Vec::new()),
            None => {}
            Some(block) if t.starts_with("```") => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            Some(block) => {
                if let Some(head) = line.strip_suffix('\\') {
                    pending.push_str(head);
                    continue;
                }
                pending.push_str(line);
                block.push(std::mem::take(&mut pending));
            }
        }
    }
    blocks
}

/// The argv of every `hardshell` invocation on a line: comments dropped,
/// pipelines split, redirections and `[optional]` brackets removed.
fn invocations(line: &str) -> Vec<Vec<String>> {
    let code = match line.find(" #") {
        Some(i) => &line[..i],
        None if line.trim_start().starts_with('#') => "",
        None => line,
    };
    let mut out = Vec::new();
    for segment in code.split('|') {
        let Some(words) = shlex::split(&segment.replace(['[', ']'], "")) else {
            continue;
        };
        if words.first().map(String::as_str) != Some("hardshell") {
            continue;
        }
        let mut argv = Vec::new();
        let mut skip = false;
        for w in words {
            if skip {
                skip = false;
                continue;
            }
            if w == "<" || w == ">" {
                skip = true;
                continue;
            }
            argv.push(w);
        }
        out.push(argv);
    }
    out
}

#[test]
fn every_hardshell_command_in_the_readme_parses() {
    let text = readme();
    let mut checked = 0;
    for block in sh_blocks(&text) {
        for line in &block {
            for argv in invocations(line) {
                if let Err(e) = hardshell::cli::Cli::try_parse_from(&argv) {
                    panic!("README line `{line}` does not parse: {e}");
                }
                checked += 1;
            }
        }
    }
    // Guards the extraction itself: the README shows dozens of commands.
    assert!(checked >= 25, "only {checked} commands found");
}

/// Runs shell lines with `bash -euo pipefail` in `dir`; returns stdout.
fn bash(dir: &std::path::Path, script: &str, env: &[(&str, &str)]) -> String {
    let out = std::process::Command::new("bash")
        .args(["-euo", "pipefail", "-c", script])
        .current_dir(dir)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "script failed:\n{script}\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_api_walkthrough_runs_as_written() {
    let (env, server) = identity::installation(&[("alice", "owner")]);
    let text = readme();
    let blocks = sh_blocks(&text);
    let token_block = blocks
        .iter()
        .find(|b| b.iter().any(|l| l.starts_with("TOKEN=")))
        .expect("README shows how to get $TOKEN");
    let provider_block = blocks
        .iter()
        .find(|b| b.iter().any(|l| l.contains("/api/v1/providers/")))
        .expect("README shows the provider calls");
    let dir = env.tmp.path();
    std::fs::write(
        dir.join("password.txt"),
        format!("{}\n", password_of("alice")),
    )
    .unwrap();
    let mut script = String::new();
    for line in token_block {
        if line.starts_with("HS=") {
            script.push_str(&format!("HS={}\n", server.base));
        } else {
            script.push_str(line);
            script.push('\n');
        }
    }
    script.push_str("test -n \"$TOKEN\" && test \"$TOKEN\" != null\n");
    let mut calls = 0;
    for line in provider_block.iter().filter(|l| l.starts_with("curl ")) {
        // As written, plus: fail on an HTTP error, print only the status.
        script.push_str(line);
        script.push_str(" --fail-with-body -sS -o /dev/null -w '%{http_code}\\n'\n");
        calls += 1;
    }
    assert!(calls >= 4, "{calls} provider calls");
    let statuses = bash(dir, &script, &[]);
    assert_eq!(
        statuses.lines().filter(|s| *s == "200").count(),
        calls,
        "{statuses}"
    );
    drop(server);
}

#[test]
fn the_db_shell_examples_run_as_written() {
    let env = common::Env::new();
    env.init_with_passphrase();
    identity::add_user(&env, "alice", "owner");
    let text = readme();
    let block = sh_blocks(&text)
        .into_iter()
        .find(|b| b.iter().any(|l| l.starts_with("hardshell db shell ")))
        .expect("README shows db shell");
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_hardshell"));
    let pf = identity::pf(&env);
    let mut ran = 0;
    // The examples that carry their SQL (the bare one opens a prompt).
    for line in block
        .iter()
        .filter(|l| l.starts_with("hardshell db shell ") && l.contains('"'))
    {
        for argv in invocations(line) {
            let out = env.run(
                &[
                    &argv[1..].iter().map(String::as_str).collect::<Vec<_>>()[..],
                    &["--passphrase-file", &pf],
                ]
                .concat(),
                None,
            );
            assert!(
                out.status.success(),
                "{line}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(!stdout.trim().is_empty(), "{line} printed nothing");
            ran += 1;
        }
    }
    assert!(ran >= 2 && bin.exists());
    // The users query shows the user the README says it shows.
    let out = env.ok(
        &[
            "db",
            "shell",
            "SELECT username FROM users",
            "--passphrase-file",
            &pf,
        ],
        None,
    );
    assert!(out.lines().any(|l| l == "alice"), "{out}");
    // And it is read-only: a write through it is refused and changes nothing.
    let out = env.run(
        &["db", "shell", "DELETE FROM users", "--passphrase-file", &pf],
        None,
    );
    assert!(!out.status.success());
    let out = env.ok(
        &[
            "db",
            "shell",
            "SELECT count(*) AS n FROM users",
            "--passphrase-file",
            &pf,
        ],
        None,
    );
    assert_eq!(out.lines().nth(1), Some("1"));
}

/// Every other `curl` in the README, run as written against a live server
/// (with `$HS`, `$TOKEN`, `$KEY` and `$SECRET` set, the README's host
/// replaced by the test server's, and `ID` by a real user id). Each must
/// be well formed: a 2xx, or a 404 where the line names an example id that
/// does not exist here. A wrong method, path, header or body (400, 401,
/// 405, 415, 422) fails.
#[tokio::test(flavor = "multi_thread")]
async fn every_curl_in_the_readme_is_well_formed() {
    use common::hooks::{SECRET, hooked};
    let h = hooked().await;
    let (_, key) = identity::agent_key(
        &h.w.server,
        &h.w.owner,
        serde_json::json!({"name": "readme", "permissions": ["bookmarks:read", "bookmarks:write", "bookmarks:edit"]}),
    )
    .await;
    let (s, me) = common::chat::call(
        &h.w.server,
        &h.w.owner,
        reqwest::Method::GET,
        "/api/v1/auth/me",
        None,
    )
    .await;
    assert_eq!(s, reqwest::StatusCode::OK, "{me}");
    let my_id = me["id"]
        .as_i64()
        .or_else(|| me["user"]["id"].as_i64())
        .unwrap_or_else(|| panic!("no id in {me}"));
    let dir = h.w.env.tmp.path().to_path_buf();
    std::fs::write(
        dir.join("bookmarks.html"),
        "<!DOCTYPE NETSCAPE-Bookmark-file-1>\n<DL><p>\n<DT><A HREF=\"https://example.org/\">Example</A>\n</DL><p>\n",
    )
    .unwrap();
    let text = readme();
    let mut ran = 0;
    for block in sh_blocks(&text) {
        // The token and provider blocks run in their own test above.
        if !block.iter().any(|l| l.trim_start().starts_with("curl "))
            || block.iter().any(|l| l.starts_with("TOKEN="))
            || block.iter().any(|l| l.contains("/api/v1/providers/"))
        {
            continue;
        }
        let mut script = String::new();
        let mut lines = Vec::new();
        for line in &block {
            let code = match line.find(" # ") {
                Some(i) => &line[..i],
                None => line.as_str(),
            };
            let code = code
                .replace("http://127.0.0.1:18780", &h.w.server.base)
                .replace("/users/ID/", &format!("/users/{my_id}/"));
            let t = code.trim_start();
            if t.starts_with("curl ") {
                script.push_str(&code);
                script.push_str(" -sS -o /dev/null -w '%{http_code}\\n'\n");
                lines.push(code.clone());
            } else if t.starts_with("H=")
                || t.starts_with("BODY=")
                || t.starts_with("TS=")
                || t.starts_with("SIG=")
            {
                script.push_str(&code);
                script.push('\n');
            }
        }
        let env = [
            ("HS", h.w.server.base.as_str()),
            ("TOKEN", h.w.owner.as_str()),
            ("KEY", key.as_str()),
            ("SECRET", SECRET),
        ];
        let out = bash(&dir, &script, &env);
        let statuses: Vec<&str> = out.lines().collect();
        assert_eq!(statuses.len(), lines.len(), "{out}");
        for (status, line) in statuses.iter().zip(&lines) {
            let names_example_id = line
                .split(['/', '?', '"', '\''])
                .any(|seg| !seg.is_empty() && seg.chars().all(|c| c.is_ascii_digit()));
            let ok = status.starts_with('2') || (*status == "404" && names_example_id);
            assert!(ok, "{status} from the README's\n  {line}");
            ran += 1;
        }
    }
    assert!(ran >= 15, "only {ran} curl lines ran");
}

/// The repository stands alone: no source, test, script or document cites
/// the design document that lives outside it by section number, or names
/// the directory beside the checkout where it lives. `.ci/run` is the one
/// exception: it checks that such a directory is absent.
#[test]
fn nothing_in_the_repository_reaches_outside_it() {
    fn scan(path: &std::path::Path, found: &mut Vec<String>, seen: &mut usize) {
        if path.is_dir() {
            let skip = path.file_name().is_some_and(|n| {
                ["target", "node_modules", ".git"].contains(&&*n.to_string_lossy())
            });
            for entry in std::fs::read_dir(path).into_iter().flatten().flatten() {
                if !skip {
                    scan(&entry.path(), found, seen);
                }
            }
            return;
        }
        let wanted = ["rs", "md", "py", "js", "toml", "sh", "html", "css"];
        let Some(ext) = path.extension() else { return };
        if !wanted.contains(&&*ext.to_string_lossy()) {
            return;
        }
        let Ok(text) = std::fs::read_to_string(path) else {
            return;
        };
        *seen += 1;
        // Built from parts, so this file does not match itself.
        let design = ["DESIGN", " §"].concat();
        let shared = ["../", "shared"].concat();
        for (n, line) in text.lines().enumerate() {
            if line.contains(&design) || line.contains(&shared) {
                found.push(format!("{}:{}: {line}", path.display(), n + 1));
            }
        }
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let (mut found, mut seen) = (Vec::new(), 0);
    for part in [
        "crates",
        "docs",
        "bench",
        "e2e",
        "fuzz",
        "README.md",
        "CONTRIBUTING.md",
        "Cargo.toml",
    ] {
        scan(&root.join(part), &mut found, &mut seen);
    }
    assert!(seen > 200, "only {seen} files were read");
    assert!(found.is_empty(), "{}", found.join("\n"));
}
