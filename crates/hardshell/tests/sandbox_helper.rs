//! The `hardshell` binary is the sandbox's inner helper: re-executed as
//! `hardshell __sandbox-exec …` it applies the in-process layers and runs
//! the command, so the sandbox probe passes with it and a command runs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use sandbox::{Outcome, RunSpec, Sandbox, SandboxConfig};

const HARDSHELL: &str = env!("CARGO_BIN_EXE_hardshell");

#[test]
fn hardshell_binary_serves_as_the_sandbox_helper() {
    let sandbox = Sandbox::probe(SandboxConfig::new(HARDSHELL))
        .unwrap_or_else(|reason| panic!("the sandbox must be available: {reason}"));
    let ws = tempfile::tempdir().unwrap();
    if let Some(user) = sandbox.availability().runs_as {
        std::os::unix::fs::chown(ws.path(), Some(user.uid), Some(user.gid)).unwrap();
    }
    let out = sandbox
        .run(&RunSpec::new(
            ws.path(),
            "grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status; id -u",
        ))
        .unwrap();
    assert_eq!(
        out.outcome,
        Outcome::Exited { code: 0 },
        "{}",
        out.stderr.text()
    );
    assert_eq!(out.stdout.text(), "NoNewPrivs:\t1\nSeccomp:\t2\n1000\n");
}

#[test]
fn helper_refuses_bad_arguments_without_running_anything() {
    let out = Command::new(HARDSHELL)
        .args(["__sandbox-exec", "v1", "6", "rw"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad helper arguments"));
}
