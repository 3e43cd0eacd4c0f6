//! How CLI commands treat their output: a closed pipe ends them quietly
//! (`hardshell users list | head -1` once printed a panic and exited 101).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;

use common::Env;

/// Runs a command whose stdout is a pipe nobody reads (the read end is
/// closed before the command starts, so its first write fails with EPIPE
/// whatever the timing).
fn run_into_closed_pipe(env: &Env, args: &[&str]) -> (std::process::ExitStatus, String) {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = env
        .cmd()
        .args(args)
        .stdout(Stdio::from(writer))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
        .wait_with_output()
        .unwrap();
    (
        out.status,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_closed_pipe_ends_commands_quietly() {
    let env = Env::new();
    env.init_with_passphrase();
    let pf = env.passphrase_file.to_str().unwrap().to_string();
    env.ok(
        &[
            "users",
            "add",
            "alice",
            "--role",
            "owner",
            "--password-stdin",
            "--passphrase-file",
            &pf,
        ],
        Some("a long enough password 1\n"),
    );
    for args in [
        vec!["users", "list", "--passphrase-file", &pf],
        vec!["audit", "tail", "--passphrase-file", &pf],
        vec!["audit", "export", "--jsonl", "--passphrase-file", &pf],
        vec!["vault", "list", "--passphrase-file", &pf],
        vec!["--help"],
    ] {
        let (status, stderr) = run_into_closed_pipe(&env, &args);
        assert!(
            !stderr.contains("panicked") && !stderr.contains("Broken pipe"),
            "{args:?}: {stderr}"
        );
        assert!(
            status.success() || status.signal() == Some(libc_sigpipe()),
            "{args:?}: {status:?} {stderr}"
        );
    }
}

/// SIGPIPE is 13 on every Linux architecture.
fn libc_sigpipe() -> i32 {
    13
}
