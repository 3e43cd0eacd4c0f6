//! Test harness: the real `hardshell` binary, a temporary data directory,
//! a temporary machine secret, and an ephemeral loopback port.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod agents;
pub mod chat;
pub mod fake_llm;
pub mod fake_telegram;
pub mod gate;
pub mod hooks;
pub mod identity;
pub mod sites;
pub mod tg_world;
pub mod ws;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub const PASSPHRASE: &str = "correct horse battery staple";

/// One isolated installation: data dir, machine secret and machine id.
pub struct Env {
    pub tmp: tempfile::TempDir,
    pub data: PathBuf,
    pub machine_key: PathBuf,
    pub machine_id: PathBuf,
    pub passphrase_file: PathBuf,
    /// `HARDSHELL_LOG` for every process this environment starts.
    pub log_level: String,
    /// Run every process as this (uid, gid) instead of the test's own user
    /// (see `hand_to`).
    pub run_as: Option<(u32, u32)>,
    /// `PATH` for every process, when set.
    pub path: Option<String>,
    /// The binary every process runs (a copy the `run_as` user can reach
    /// after `hand_to`: the build directory may sit under a private one).
    pub bin: PathBuf,
}

impl Env {
    pub fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data");
        let machine_key = tmp.path().join("machine/machine.key");
        let machine_id = tmp.path().join("machine-id");
        std::fs::write(&machine_id, "0123456789abcdef0123456789abcdef\n").unwrap();
        let passphrase_file = tmp.path().join("passphrase");
        std::fs::write(&passphrase_file, format!("{PASSPHRASE}\n")).unwrap();
        Self {
            tmp,
            data,
            machine_key,
            machine_id,
            passphrase_file,
            log_level: "info".into(),
            run_as: None,
            path: None,
            bin: PathBuf::from(env!("CARGO_BIN_EXE_hardshell")),
        }
    }

    /// Gives the whole environment (data directory, machine secret,
    /// passphrase) to `uid:gid` and runs every later process as them.
    pub fn hand_to(&mut self, uid: u32, gid: u32) {
        fn walk(p: &Path, uid: u32, gid: u32) {
            std::os::unix::fs::lchown(p, Some(uid), Some(gid)).unwrap();
            if std::fs::symlink_metadata(p).unwrap().is_dir() {
                for e in std::fs::read_dir(p).unwrap() {
                    walk(&e.unwrap().path(), uid, gid);
                }
            }
        }
        let bin = self.tmp.path().join("hardshell-bin");
        std::fs::copy(&self.bin, &bin).unwrap();
        self.bin = bin;
        walk(self.tmp.path(), uid, gid);
        self.run_as = Some((uid, gid));
    }

    /// A command with this environment's paths and nothing inherited that
    /// could change how it unlocks.
    pub fn cmd(&self) -> Command {
        let mut c = Command::new(&self.bin);
        c.env_remove("HARDSHELL_VAULT_PASSPHRASE")
            .env_remove("HARDSHELL_VAULT_PASSPHRASE_FILE")
            .env_remove("HARDSHELL_PIN_FILE")
            .env_remove("HARDSHELL_LOG_FORMAT")
            .env("HARDSHELL_HOME", &self.data)
            .env("HARDSHELL_MACHINE_KEY_FILE", &self.machine_key)
            .env("HARDSHELL_MACHINE_ID_FILE", &self.machine_id)
            .env("HARDSHELL_LOG", &self.log_level)
            .stdin(Stdio::null());
        if let Some((uid, gid)) = self.run_as {
            use std::os::unix::process::CommandExt;
            // std drops the supplementary groups when it changes the uid.
            c.uid(uid).gid(gid);
        }
        if let Some(path) = &self.path {
            c.env("PATH", path);
        }
        c
    }

    /// Runs a CLI command with `stdin` fed in; returns its output.
    pub fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut c = self.cmd();
        c.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
        if stdin.is_some() {
            c.stdin(Stdio::piped());
        }
        let mut child = spawn(&mut c);
        if let Some(input) = stdin {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(input.as_bytes())
                .unwrap();
        }
        child.wait_with_output().unwrap()
    }

    /// `run` that must succeed; returns stdout.
    pub fn ok(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.run(args, stdin);
        assert!(
            out.status.success(),
            "{args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    pub fn init_with_passphrase(&self) {
        let pf = self.passphrase_file.to_str().unwrap().to_string();
        self.ok(&["init", "--passphrase-file", &pf], None);
    }

    pub fn start(&self, extra: &[&str]) -> Server {
        Server::start(self, extra).unwrap_or_else(|e| panic!("server did not start: {e}"))
    }
}

/// A running server; killed on drop.
pub struct Server {
    pub child: Child,
    pub base: String,
    pub stdout_first_lines: Vec<String>,
    stderr: Option<std::thread::JoinHandle<String>>,
    /// Stdout lines after the listening line (e.g. the setup URL).
    stdout_rest: mpsc::Receiver<String>,
}

/// Spawns `c`, waiting out ETXTBSY: `hand_to` copies the binary while
/// other test threads fork, and a child forked in that moment holds the
/// copy's write descriptor until its own exec, so the first exec of the
/// copy can fail with "Text file busy" for a few milliseconds.
fn spawn(c: &mut Command) -> std::process::Child {
    let mut tries = 0;
    loop {
        match c.spawn() {
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy && tries < 100 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            r => return r.unwrap(),
        }
    }
}

impl Server {
    pub fn start(env: &Env, extra: &[&str]) -> Result<Server, String> {
        let mut c = env.cmd();
        c.args(["serve", "--bind", "127.0.0.1:0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = spawn(&mut c);
        let stdout = child.stdout.take().unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let err_thread = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = stderr.read_to_string(&mut s);
            s
        });
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let reader = BufReader::new(stdout);
            for line in reader.lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut lines = Vec::new();
        loop {
            match rx.recv_timeout(Duration::from_secs(60)) {
                Ok(line) => {
                    if let Some(url) = line.strip_prefix("Hardshell listening on ") {
                        let base = url.trim().to_string();
                        lines.push(line);
                        return Ok(Server {
                            child,
                            base,
                            stdout_first_lines: lines,
                            stderr: Some(err_thread),
                            stdout_rest: rx,
                        });
                    }
                    lines.push(line);
                }
                Err(_) => {
                    let _ = child.kill();
                    let status = child.wait().ok();
                    let err = err_thread.join().unwrap_or_default();
                    return Err(format!(
                        "status {status:?}\nstdout: {}\nstderr: {err}",
                        lines.join("\n")
                    ));
                }
            }
        }
    }

    /// The one-time setup token from the `Open …/setup#token=…` line, if
    /// the server printed one within a few seconds.
    pub fn setup_token(&self) -> Option<String> {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
            let line = self.stdout_rest.recv_timeout(left).ok()?;
            if let Some(rest) = line.strip_prefix("Open ") {
                let token = rest.split("#token=").nth(1)?.split_whitespace().next()?;
                return Some(token.to_string());
            }
        }
        None
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// SIGTERM, wait, and return (exit status success, stderr).
    pub fn stop(mut self) -> (bool, String) {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let status = wait_timeout(&mut self.child, Duration::from_secs(30));
        let err = self.stderr.take().unwrap().join().unwrap_or_default();
        (status, err)
    }
}

fn wait_timeout(child: &mut Child, limit: Duration) -> bool {
    let start = std::time::Instant::now();
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s.success();
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A benchmark tunable: the environment variable's value, or `default`.
pub fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// The server's OpenAPI document, as served.
pub async fn openapi(server: &Server) -> serde_json::Value {
    client()
        .get(server.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).unwrap().mode() & 0o777
}

/// Every path below `dir`, the directory included.
pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![dir.to_path_buf()];
    if dir.is_dir() {
        for e in std::fs::read_dir(dir).unwrap() {
            out.extend(walk(&e.unwrap().path()));
        }
    }
    out
}
