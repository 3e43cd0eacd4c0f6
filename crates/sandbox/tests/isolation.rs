//! Attacks on the sandbox's isolation, each run inside the real sandbox and
//! each expected to be refused: hidden host files, writes outside `/work`,
//! network, dangerous syscalls, leaked environment, host processes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::ErrorKind;
use std::net::TcpListener;
use std::path::Path;

use common::*;
use sandbox::{Limits, Outcome};

#[test]
fn host_secrets_are_not_visible() {
    // A fake data directory and vault beside (not inside) the workspace.
    let outside = tempfile::tempdir().unwrap();
    let data = outside.path().join("hardshell-data");
    std::fs::create_dir(&data).unwrap();
    let vault = data.join("vault.hsv");
    std::fs::write(&vault, "VAULT-SECRET-BYTES").unwrap();
    std::fs::set_permissions(
        outside.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
    let ws = workspace();
    let script = format!(
        "for p in /etc/shadow /etc/gshadow {vault} {data} {home} /root /home /run /var /srv; do \
           if [ -e \"$p\" ]; then echo \"VISIBLE $p\"; fi; \
         done; cat {vault} 2>&1; cat /etc/passwd",
        vault = vault.display(),
        data = data.display(),
    );
    let out = run_in(ws.path(), &script, false, Limits::default());
    let stdout = out.stdout.text();
    assert!(!stdout.contains("VISIBLE"), "{stdout}");
    assert!(!stdout.contains("VAULT-SECRET"), "{stdout}");
    // /etc/passwd is the generated one: the sandbox user and nobody only.
    assert!(stdout.contains("sandbox:x:1000:1000"), "{stdout}");
    assert!(!stdout.contains("root:x:0"), "{stdout}");
}

#[test]
fn writes_outside_work_fail_and_read_only_work_stays_untouched() {
    let ws = workspace();
    let script = "for p in /usr/x /etc/x /x /proc/x /dev/shm/x /sandbox-helper /work/x; do \
                    if ( : > \"$p\" ) 2>/dev/null; then echo \"WROTE $p\"; fi; \
                  done; : > /tmp/ok && echo tmp-ok";
    let out = run_in(ws.path(), script, false, Limits::default());
    let stdout = out.stdout.text();
    assert!(!stdout.contains("WROTE"), "{stdout}");
    assert!(stdout.contains("tmp-ok"), "{stdout}");
    assert!(!ws.path().join("x").exists());

    // Writable: /work takes writes, everything else still refuses them.
    let out = run_in(ws.path(), script, true, Limits::default());
    let stdout = out.stdout.text();
    assert!(stdout.contains("WROTE /work/x"), "{stdout}");
    assert_eq!(stdout.matches("WROTE").count(), 1, "{stdout}");
    assert!(ws.path().join("x").exists());
}

#[test]
fn network_is_refused_loopback_and_outside() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let ws = workspace_with_probe();
    let script = format!(
        "./probe connect 127.0.0.1 {port}; ./probe connect 1.1.1.1 80; \
         ./probe socket-inet; ./probe socket-inet6; ./probe socket-netlink; \
         ./probe socket-packet; ./probe socket-unix"
    );
    let out = run_in(ws.path(), &script, false, Limits::default());
    let stdout = out.stdout.text();
    assert_eq!(stdout.matches("connect errno=EPERM").count(), 2, "{stdout}");
    for family in ["inet", "inet6", "netlink", "packet"] {
        assert!(
            stdout.contains(&format!("socket-{family} errno=EPERM")),
            "{stdout}"
        );
    }
    // AF_UNIX stays usable, so programs that need it work.
    assert!(stdout.contains("socket-unix ok"), "{stdout}");
    match listener.accept() {
        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
        other => panic!("the host listener saw a connection: {other:?}"),
    }
}

#[test]
fn dangerous_syscalls_fail_with_eperm() {
    let ws = workspace_with_probe();
    let mut probes = vec![
        "tiocsti",
        "tioclinux",
        "ptrace-traceme",
        "ptrace-attach",
        "io_uring_setup",
        "unshare",
        "clone-newuser",
        "bpf",
        "keyctl",
        "mount",
        "perf_event_open",
        "userfaultfd",
        "process_vm_readv",
    ];
    if cfg!(target_arch = "x86_64") {
        probes.push("x32-getpid");
    }
    let script: Vec<String> = probes.iter().map(|p| format!("./probe {p}")).collect();
    let out = run_in(ws.path(), &script.join("; "), false, Limits::default());
    let stdout = out.stdout.text();
    for probe in probes {
        assert!(
            stdout.contains(&format!("{probe} errno=EPERM")),
            "{probe} was not refused with EPERM:\n{stdout}\n{}",
            out.stderr.text()
        );
    }
}

#[test]
fn no_capabilities_no_new_privs_and_a_non_root_user() {
    let out = run(
        "id -u; id -g; grep -E '^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp):' /proc/self/status",
    );
    let stdout = out.stdout.text();
    let mut lines = stdout.lines();
    assert_eq!(lines.next(), Some("1000"), "{stdout}");
    assert_eq!(lines.next(), Some("1000"), "{stdout}");
    for line in lines {
        let (name, value) = line.split_once(':').unwrap();
        let value = value.trim();
        match name {
            "NoNewPrivs" => assert_eq!(value, "1"),
            "Seccomp" => assert_eq!(value, "2"),
            _ => assert_eq!(value, "0000000000000000", "{name}"),
        }
    }
    assert!(stdout.contains("CapBnd"), "{stdout}");
}

#[test]
fn callers_environment_never_reaches_the_command() {
    let ws = workspace();
    let secret = format!("sk-test-{}", unique_token());
    let out = std::process::Command::new(HELPER)
        .args(["run", ws.path().to_str().unwrap()])
        .arg("env; echo ---; tr '\\0' '\\n' < /proc/self/environ; echo ---; tr '\\0' '\\n' < /proc/1/environ 2>/dev/null; true")
        .env("LD_PRELOAD", "/nonexistent/evil.so")
        .env("GLIBC_TUNABLES", "glibc.malloc.check=3")
        .env("NODE_OPTIONS", "--require /evil.js")
        .env("OPENAI_API_KEY", &secret)
        .env("HARDSHELL_PASSPHRASE", &secret)
        .env("PATH", "/usr/bin:/bin:/evil/bin")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for leaked in [
        "LD_PRELOAD",
        "GLIBC_TUNABLES",
        "NODE_OPTIONS",
        "/evil",
        &secret,
    ] {
        assert!(
            !stdout.contains(leaked),
            "{leaked} reached the sandbox:\n{stdout}"
        );
    }
    assert!(
        stdout.contains("PATH=/usr/local/bin:/usr/bin:/bin"),
        "{stdout}"
    );
    assert!(stdout.contains("HOME=/work"), "{stdout}");
    // ld.so complains once, in the parent; bwrap, the helper and the
    // command never saw LD_PRELOAD.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.matches("cannot be preloaded").count(), 1, "{stderr}");
}

#[test]
fn host_processes_are_not_visible() {
    let me = std::process::id();
    let out = run(&format!(
        "ls /proc | grep -c '^[0-9]'; if [ -e /proc/{me}/cmdline ] && grep -q sandbox /proc/{me}/cmdline; then echo SEEN-HOST; fi"
    ));
    let stdout = out.stdout.text();
    assert!(!stdout.contains("SEEN-HOST"), "{stdout}");
    let count: u32 = stdout.lines().next().unwrap().trim().parse().unwrap();
    // bwrap's init, the shell, ls and grep: a handful, never the host's.
    assert!(count <= 6, "{count} processes visible:\n{stdout}");
}

#[test]
fn a_workspace_symlink_shows_the_sandbox_view() {
    let ws = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink("/etc/passwd", ws.path().join("passwd-link")).unwrap();
    give_to_sandbox(ws.path());
    let out = run_in(ws.path(), "cat /work/passwd-link", false, Limits::default());
    let stdout = out.stdout.text();
    let host = std::fs::read_to_string("/etc/passwd").unwrap();
    assert!(stdout.starts_with("sandbox:x:1000"), "{stdout}");
    assert_ne!(stdout, host);
    assert!(!stdout.contains("root:"), "{stdout}");
}

#[test]
fn stdin_reaches_the_command_and_output_comes_back() {
    let ws = workspace();
    let spec = sandbox::RunSpec::new(ws.path(), "tr a-z A-Z; echo err >&2; exit 7").stdin("hello");
    let out = sandbox().run(&spec).unwrap();
    assert_eq!(out.outcome, Outcome::Exited { code: 7 });
    assert_eq!(out.stdout.text(), "HELLO");
    assert_eq!(out.stderr.text(), "err\n");
    assert!(!out.stdout.truncated);
}

#[test]
fn probe_reports_the_layers_it_found() {
    let a = sandbox().availability();
    assert!(a.landlock_abi >= 1);
    assert!(a.bwrap.is_absolute());
    assert!(Path::new(&a.bwrap).exists());
    assert_eq!(a.runs_as.is_some(), rustix_is_root());
}

fn rustix_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .is_some_and(|l| l.split_whitespace().nth(2) == Some("0"))
}

#[test]
fn bad_workspaces_are_refused_before_anything_runs() {
    let sandbox = sandbox();
    let relative = sandbox::RunSpec::new("relative/dir", "true");
    assert!(matches!(
        sandbox.run(&relative),
        Err(sandbox::RunError::Workspace { .. })
    ));
    let ws = workspace();
    let link = ws.path().join("link");
    std::os::unix::fs::symlink("/etc", &link).unwrap();
    assert!(matches!(
        sandbox.run(&sandbox::RunSpec::new(&link, "true")),
        Err(sandbox::RunError::Workspace { .. })
    ));
    // Under root the sandbox runs as an unprivileged uid, and a workspace
    // that uid does not own is refused rather than run as root.
    if sandbox.availability().runs_as.is_some() {
        let root_owned = tempfile::tempdir().unwrap();
        let err = sandbox
            .run(&sandbox::RunSpec::new(root_owned.path(), "true"))
            .unwrap_err();
        assert!(err.to_string().contains("must be owned by it"), "{err}");
    }
    let too_much_stdin =
        sandbox::RunSpec::new(ws.path(), "true").stdin(vec![0u8; sandbox::MAX_STDIN_BYTES + 1]);
    assert!(matches!(
        sandbox.run(&too_much_stdin),
        Err(sandbox::RunError::InvalidSpec(_))
    ));
}
