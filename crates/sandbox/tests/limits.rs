//! Resource attacks inside the real sandbox, each stopped by its limit, and
//! the guarantees around the process tree: it dies with its parent, it
//! never runs on the host uid 0, and without bubblewrap nothing runs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use sandbox::{Limits, Outcome, SandboxConfig, Unavailable};

#[test]
fn fork_bomb_is_contained_by_the_process_limit() {
    let ws = workspace_with_probe();
    let limits = Limits::default().lower_processes(16);
    let out = run_in(ws.path(), "./probe forks 1000", false, limits);
    let stdout = out.stdout.text();
    let forked: u32 = stdout
        .strip_prefix("forked=")
        .and_then(|s| s.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("unexpected output: {stdout}{}", out.stderr.text()));
    assert!(forked < 16, "{forked} forks succeeded under a limit of 16");
    assert!(stdout.contains("EAGAIN"), "{stdout}");
}

#[test]
fn the_process_limit_counts_the_sandbox_not_other_processes_of_its_uid() {
    // 24 host processes of the uid the sandbox runs as, more than the
    // sandbox's limit of 16: if the limit counted the uid machine-wide,
    // no fork inside could succeed.
    let user = sandbox().availability().runs_as;
    let mut host = Vec::new();
    for _ in 0..24 {
        let mut cmd = Command::new("sleep");
        cmd.arg("60");
        if let Some(user) = user {
            std::os::unix::process::CommandExt::uid(&mut cmd, user.uid);
            std::os::unix::process::CommandExt::gid(&mut cmd, user.gid);
        }
        host.push(cmd.spawn().unwrap());
    }
    let ws = workspace_with_probe();
    let out = run_in(
        ws.path(),
        "./probe forks 8",
        false,
        Limits::default().lower_processes(16),
    );
    for mut child in host {
        child.kill().unwrap();
        child.wait().unwrap();
    }
    assert_eq!(
        out.stdout.text().trim(),
        "forked=8 all",
        "{}",
        out.stderr.text()
    );
}

#[test]
fn classic_fork_bomb_ends_and_leaves_nothing_behind() {
    let ws = workspace();
    let token = unique_token();
    let limits = Limits::default()
        .lower_processes(32)
        .lower_wall_clock(Duration::from_secs(3));
    let out = run_in(
        ws.path(),
        &format!(": {token}; b() {{ b | b & }}; b; sleep 5"),
        false,
        limits,
    );
    assert!(
        matches!(
            out.outcome,
            Outcome::WallClockExceeded | Outcome::Exited { .. }
        ),
        "{:?}",
        out.outcome
    );
    assert!(eventually(100, || host_pids_with(&token).is_empty()));
    // The host (same machine, this uid) can still start processes.
    assert!(Command::new("true").status().unwrap().success());
}

#[test]
fn memory_hog_is_refused_by_the_address_space_limit() {
    let ws = workspace_with_probe();
    let limits = Limits::default().lower_memory_bytes(64 << 20);
    let out = run_in(ws.path(), "./probe alloc 512", false, limits);
    assert_eq!(
        out.stdout.text().trim(),
        "alloc failed",
        "{}",
        out.stderr.text()
    );
    assert_eq!(out.outcome, Outcome::Exited { code: 3 });
    // The same program under the default 256 MiB can take 64 MiB.
    let out = run_in(ws.path(), "./probe alloc 64", false, Limits::default());
    assert_eq!(
        out.stdout.text().trim(),
        "alloc ok",
        "{}",
        out.stderr.text()
    );
}

#[test]
fn endless_loop_is_stopped_by_the_cpu_limit() {
    let ws = workspace();
    let limits = Limits::default()
        .lower_cpu_seconds(1)
        .lower_wall_clock(Duration::from_secs(25));
    let out = run_in(ws.path(), "while :; do :; done", false, limits);
    assert_ne!(out.outcome, Outcome::WallClockExceeded);
    let signal = out.signal();
    assert!(
        signal == Some(libc_sigxcpu()) || signal == Some(9),
        "{:?}",
        out.outcome
    );
    // The usage report sees the CPU the loop burnt (tick-sampled, so a
    // little under the 1 s the kernel enforced).
    assert!(
        out.usage.user_cpu + out.usage.system_cpu >= Duration::from_millis(500),
        "{:?}",
        out.usage
    );
}

fn libc_sigxcpu() -> i32 {
    24
}

#[test]
fn sleep_is_stopped_by_the_wall_clock_and_the_tree_is_killed() {
    let ws = workspace();
    let token = unique_token();
    let limits = Limits::default().lower_wall_clock(Duration::from_millis(1500));
    let out = run_in(
        ws.path(),
        &format!("sleep 100.{token} & sleep 100.{token}"),
        false,
        limits,
    );
    assert_eq!(out.outcome, Outcome::WallClockExceeded);
    assert!(eventually(100, || host_pids_with(&token).is_empty()));
}

#[test]
fn output_flood_is_capped_without_blocking() {
    let ws = workspace();
    let out = run_in(
        ws.path(),
        "head -c 10000000 /dev/zero >&2 & head -c 10000000 /dev/zero; wait",
        false,
        Limits::default(),
    );
    assert_eq!(out.outcome, Outcome::Exited { code: 0 });
    for stream in [&out.stdout, &out.stderr] {
        assert!(stream.truncated);
        assert_eq!(stream.total_bytes, 10_000_000);
        assert!(stream.bytes.len() <= sandbox::DEFAULT_OUTPUT_BYTES + 100);
        assert!(stream.text().contains("[output truncated: 10000000 bytes"));
    }
}

#[test]
fn file_size_limit_stops_a_large_write() {
    let ws = workspace();
    let limits = Limits::default().lower_file_size_bytes(1 << 20);
    let out = run_in(
        ws.path(),
        "head -c 3000000 /dev/zero > /tmp/big",
        false,
        limits,
    );
    // SIGXFSZ (25) ends head.
    assert_eq!(
        out.signal(),
        Some(25),
        "{:?} {}",
        out.outcome,
        out.stderr.text()
    );
}

#[test]
fn killing_the_parent_kills_every_sandboxed_process() {
    let ws = workspace();
    let token = unique_token();
    let mut parent = Command::new(HELPER)
        .args(["run", "--wall-ms", "60000", ws.path().to_str().unwrap()])
        .arg(format!("sleep 300.{token} & sleep 301.{token}; wait"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert!(
        eventually(200, || host_pids_with(&token).len() >= 2),
        "the sandboxed sleeps never started"
    );
    // In the parent namespace the sandboxed processes are never root: a
    // uid-0 process would not be bound by RLIMIT_NPROC.
    for pid in host_pids_with(&token) {
        if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
            let uid_line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
            assert!(
                uid_line.split_whitespace().skip(1).all(|id| id != "0"),
                "pid {pid} runs as root: {uid_line}"
            );
        }
    }
    parent.kill().unwrap();
    parent.wait().unwrap();
    assert!(
        eventually(100, || host_pids_with(&token).is_empty()),
        "sandboxed processes outlived their parent: {:?}",
        host_pids_with(&token)
    );
}

#[test]
fn without_bwrap_nothing_runs_and_the_reason_is_given() {
    let reason = sandbox::Sandbox::probe(SandboxConfig::new(HELPER).search_path("/nonexistent"))
        .unwrap_err();
    assert!(
        matches!(reason, Unavailable::BwrapNotFound { .. }),
        "{reason}"
    );
    assert!(reason.to_string().contains("bubblewrap (bwrap) not found"));

    // The same through a parent process whose PATH lacks bwrap.
    let ws = workspace();
    let out = Command::new(HELPER)
        .args([
            "run",
            "--rw",
            ws.path().to_str().unwrap(),
            "touch /work/ran",
        ])
        .env("PATH", "/nonexistent")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bubblewrap (bwrap) not found"));
    assert!(!ws.path().join("ran").exists());
}

#[test]
fn a_missing_helper_is_refused_by_the_probe() {
    let reason = sandbox::Sandbox::probe(SandboxConfig::new("/nonexistent/helper")).unwrap_err();
    assert!(
        matches!(reason, Unavailable::HelperMissing { .. }),
        "{reason}"
    );
}

#[test]
fn a_layer_that_cannot_be_applied_aborts_before_the_command() {
    // Landlock ABI 99 cannot be enforced: the helper must refuse, never exec.
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    let out = Command::new(HELPER)
        .args([
            "__sandbox-exec",
            "v1",
            "99",
            "ro",
            "1000000",
            "1",
            "8",
            "1000",
            "64",
        ])
        .arg(format!("touch {}", marker.display()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("landlock: unsupported ABI 99"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!marker.exists());
}
