//! Shared set-up for the sandbox attack tests: the real sandbox (bubblewrap
//! must be installed: a missing one fails the tests, it never skips them),
//! workspaces the sandbox user owns, and the compiled C attack probe.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use sandbox::{Limits, RunOutput, RunSpec, Sandbox, SandboxConfig};

pub const HELPER: &str = env!("CARGO_BIN_EXE_sandbox-helper");

/// The probed sandbox; panics with the probe's reason when unavailable.
pub fn sandbox() -> &'static Sandbox {
    static SANDBOX: OnceLock<Sandbox> = OnceLock::new();
    SANDBOX.get_or_init(|| match Sandbox::probe(SandboxConfig::new(HELPER)) {
        Ok(s) => s,
        Err(reason) => panic!("the sandbox must be available for these tests: {reason}"),
    })
}

/// Hands `path` (recursively, without following symlinks) to the identity
/// the sandbox runs as, when the tests run as root.
pub fn give_to_sandbox(path: &Path) {
    let Some(user) = sandbox().availability().runs_as else {
        return;
    };
    std::os::unix::fs::lchown(path, Some(user.uid), Some(user.gid)).unwrap();
    let meta = std::fs::symlink_metadata(path).unwrap();
    if meta.is_dir() {
        for entry in std::fs::read_dir(path).unwrap() {
            give_to_sandbox(&entry.unwrap().path());
        }
    }
}

/// A fresh workspace, owned by the sandbox's identity.
pub fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    give_to_sandbox(dir.path());
    dir
}

/// Runs `command` with `limits` in `ws`, read-only unless `writable`.
pub fn run_in(ws: &Path, command: &str, writable: bool, limits: Limits) -> RunOutput {
    let mut spec = RunSpec::new(ws, command).limits(limits);
    if writable {
        spec = spec.writable_workspace();
    }
    sandbox()
        .run(&spec)
        .unwrap_or_else(|e| panic!("run {command:?} failed: {e}"))
}

/// Runs `command` in a fresh read-only workspace.
pub fn run(command: &str) -> RunOutput {
    let ws = workspace();
    run_in(ws.path(), command, false, Limits::default())
}

/// The C attack probe, compiled once with `cc`.
fn probe_binary() -> &'static Path {
    static PROBE: OnceLock<PathBuf> = OnceLock::new();
    PROBE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap().keep();
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/common/probe.c");
        let binary = dir.join("probe");
        let status = Command::new("cc")
            .arg("-O1")
            .arg("-o")
            .arg(&binary)
            .arg(&source)
            .status()
            .unwrap_or_else(|e| panic!("these tests need a C compiler (`cc`): {e}"));
        assert!(status.success(), "compiling {source:?} failed");
        binary
    })
}

/// A workspace holding the probe at `/work/probe`.
pub fn workspace_with_probe() -> tempfile::TempDir {
    let ws = tempfile::tempdir().unwrap();
    let target = ws.path().join("probe");
    std::fs::copy(probe_binary(), &target).unwrap();
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o755)).unwrap();
    give_to_sandbox(ws.path());
    ws
}

/// A token no other test (or stray process) uses.
pub fn unique_token() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}{:04}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Host pids whose command line contains `needle`, this process excluded.
pub fn host_pids_with(needle: &str) -> Vec<u32> {
    let me = std::process::id();
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains(needle) && !cmdline.contains("sandbox-helper run") {
            pids.push(pid);
        }
    }
    pids
}

/// Polls `done` for up to `attempts` × 100 ms. Not a timing assertion: the
/// bound only keeps a broken build from hanging the suite.
pub fn eventually(attempts: u32, mut done: impl FnMut() -> bool) -> bool {
    for _ in 0..attempts {
        if done() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    done()
}
