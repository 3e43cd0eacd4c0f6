//! `shell` (shell domain, default level 0): `/bin/sh -c COMMAND` inside the
//! sandbox, with the agent's workspace at `/work`, writable only at shell
//! trust 3 or more.
//!
//! Owns the call's canonical form: the command, stdin, and the SHA-256 of
//! every workspace file the command names, so a script edited after its
//! approval no longer matches. It never runs anything outside the
//! `sandbox` crate (which has no fallback to the host), and it is not
//! offered at all when the sandbox is unavailable.

use std::io::Read;
use std::sync::Arc;

use cap_std::fs::Dir;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{ToolDef, ToolScope, files};
use crate::agents::runtime::Runtime;
use crate::trust::Domain;

const MAX_COMMAND_BYTES: usize = 8 * 1024;
const MAX_STDIN_BYTES: usize = 64 * 1024;
/// Words of a command looked at for workspace files.
const MAX_NAMED: usize = 64;
/// Bytes of one named file that are hashed (and its size beside them).
const MAX_HASHED_BYTES: u64 = 16 * 1024 * 1024;
/// Characters that make a command more than one program with arguments.
pub(crate) const SHELL_METACHARACTERS: &[char] = &[
    '|', ';', '&', '$', '(', ')', '`', '<', '>', '\n', '\r', '*', '?', '{', '}', '\\',
];

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ShellArgs {
    command: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    stdin: Option<String>,
}

fn schema() -> Value {
    json!({"type":"object","properties":{
        "command":{"type":"string","description":"run by /bin/sh -c in your workspace (/work); no network"},
        "stdin":{"type":"string"}},
        "required":["command"],"additionalProperties":false})
}

pub(super) const SHELL: ToolDef = ToolDef {
    name: "shell",
    domain: Domain::Shell,
    read_only: false,
    taints: true,
    description: "Run a shell command in an isolated sandbox with your workspace at /work (no network; time, memory and output are limited).",
    schema,
};

/// The words of a command, as a shell would split them (best effort: a
/// command `shlex` cannot split is split on whitespace).
fn words(command: &str) -> Vec<String> {
    shlex::split(command)
        .unwrap_or_else(|| command.split_whitespace().map(str::to_string).collect())
}

/// The argv of a command that is one program with arguments and nothing a
/// shell would interpret; `None` otherwise.
pub(crate) fn plain_argv(command: &str) -> Option<Vec<String>> {
    if command.contains(SHELL_METACHARACTERS) || command.contains(['"', '\'']) {
        return None;
    }
    let argv: Vec<String> = command.split_whitespace().map(str::to_string).collect();
    (!argv.is_empty()).then_some(argv)
}

/// Workspace-relative paths a word may name (`x`, `./x`, `/work/x`, and
/// the value of `--opt=x`).
fn candidates(word: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut push = |w: &str| {
        let w = w.strip_prefix("/work/").unwrap_or(w);
        if let Ok(p) = files::normalise(w)
            && !p.is_empty()
        {
            out.push(p);
        }
    };
    push(word);
    if let Some((_, value)) = word.split_once('=') {
        push(value);
    }
    out
}

/// `path=sha256` for every workspace file the command names, sorted.
/// Symlinks that leave the workspace are not followed (cap-std).
fn named_file_hashes(workspace: &std::path::Path, command: &str) -> String {
    let Ok(dir) = Dir::open_ambient_dir(workspace, cap_std::ambient_authority()) else {
        return String::new();
    };
    let mut seen: Vec<(String, String)> = Vec::new();
    for word in words(command).iter().take(MAX_NAMED) {
        for path in candidates(word) {
            if seen.iter().any(|(p, _)| *p == path) {
                continue;
            }
            let Ok(file) = dir.open(&path) else { continue };
            let Ok(meta) = file.metadata() else { continue };
            if !meta.is_file() {
                continue;
            }
            let mut hasher = Sha256::new();
            let mut buf = Vec::new();
            if file.take(MAX_HASHED_BYTES).read_to_end(&mut buf).is_err() {
                continue;
            }
            hasher.update(&buf);
            hasher.update(meta.len().to_le_bytes());
            seen.push((path, hex::encode(hasher.finalize())));
        }
    }
    seen.sort();
    seen.iter()
        .map(|(p, h)| format!("{p}={h}"))
        .collect::<Vec<_>>()
        .join(";")
}

/// The normalised call, its target and the fingerprint's extra: the hashes
/// of the workspace files it names.
pub(super) fn prepare(
    a: ShellArgs,
    scope: &ToolScope<'_>,
) -> Result<(ShellArgs, String, String), String> {
    if a.command.trim().is_empty() {
        return Err("the command is empty".into());
    }
    if a.command.len() > MAX_COMMAND_BYTES || a.command.contains('\0') {
        return Err(format!(
            "a command is at most {MAX_COMMAND_BYTES} bytes, without NUL"
        ));
    }
    if a.stdin.as_ref().is_some_and(|s| s.len() > MAX_STDIN_BYTES) {
        return Err(format!("stdin is at most {MAX_STDIN_BYTES} bytes"));
    }
    let extra = match &scope.workspace {
        Some(ws) => named_file_hashes(ws, &a.command),
        None => String::new(),
    };
    let target = format!("shell: {}", a.command);
    Ok((a, target, format!("files:{extra}")))
}

/// Output as the model sees it: exit status, then both streams (each
/// capped by the sandbox with a visible marker), through the leak guard.
fn describe(rt: &Runtime, out: &sandbox::RunOutput) -> (bool, String) {
    let (ok, status) = match out.outcome {
        sandbox::Outcome::Exited { code } => (
            code == 0,
            match out.signal() {
                Some(sig) => format!("killed by signal {sig} (a limit was reached)"),
                None => format!("exit code {code}"),
            },
        ),
        sandbox::Outcome::WallClockExceeded => {
            (false, "stopped: the wall-clock limit was reached".into())
        }
    };
    let text = format!(
        "{status}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.stdout.text(),
        out.stderr.text()
    );
    (ok, rt.vault.redactor().redact(&text).0)
}

pub(super) async fn run(
    rt: &Arc<Runtime>,
    scope: &ToolScope<'_>,
    a: ShellArgs,
) -> Result<String, String> {
    let sandbox = rt.shell.sandbox().map_err(str::to_string)?;
    let workspace = files::workspace_root(rt, scope.agent.id);
    files::ensure_workspace(&workspace)?;
    let mut spec = sandbox::RunSpec::new(&workspace, a.command);
    if scope.level >= 3 {
        spec = spec.writable_workspace();
    }
    if let Some(stdin) = a.stdin {
        spec = spec.stdin(stdin.into_bytes());
    }
    let _slot = rt
        .shell
        .slots
        .acquire()
        .await
        .map_err(|_| "the sandbox is shutting down".to_string())?;
    let out = tokio::task::spawn_blocking(move || sandbox.run(&spec))
        .await
        .map_err(|_| "the sandbox task failed".to_string())?
        .map_err(|e| {
            rt.vault
                .redactor()
                .redact(&format!("the sandbox refused the run: {e}"))
                .0
        })?;
    match describe(rt, &out) {
        (true, text) => Ok(text),
        (false, text) => Err(text),
    }
}

/// Whether `shell` can be offered, decided once at start, and how many
/// sandboxed runs may go at once (each is a process tree with its own
/// memory limit).
pub(crate) struct ShellState {
    sandbox: Result<Arc<sandbox::Sandbox>, String>,
    pub(super) slots: tokio::sync::Semaphore,
}

/// Sandboxed runs at once, server-wide.
const MAX_RUNS: usize = 2;

impl std::fmt::Debug for ShellState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ShellState")
    }
}

/// Why a root process never offers `shell` (the start-up log and `doctor`).
pub const ROOT_REFUSAL: &str =
    "the server runs as root; run Hardshell as its own user to offer the shell tool";

/// The one sandbox probe, shared by the server's start-up and `doctor`:
/// bubblewrap, user namespaces, Landlock, a trial run. A process running as
/// root gets [`ROOT_REFUSAL`]: the sandbox would run as an unprivileged
/// user who cannot reach the workspace inside the private data directory.
pub fn probe_sandbox() -> Result<Arc<sandbox::Sandbox>, String> {
    if rustix::process::geteuid().is_root() {
        return Err(ROOT_REFUSAL.to_string());
    }
    sandbox::SandboxConfig::current_exe()
        .map_err(|e| format!("cannot locate the running binary: {e}"))
        .and_then(|c| sandbox::Sandbox::probe(c).map_err(|e| e.to_string()))
        .map(Arc::new)
}

impl ShellState {
    /// Probes the sandbox ([`probe_sandbox`]); logged once, here.
    pub fn probe() -> Self {
        let sandbox = probe_sandbox();
        match &sandbox {
            Ok(s) => tracing::info!(sandbox = %s.availability(), "the shell tool is available"),
            Err(why) => tracing::warn!(reason = %why, "the shell tool is not offered"),
        }
        ShellState {
            sandbox,
            slots: tokio::sync::Semaphore::new(MAX_RUNS),
        }
    }

    pub fn available(&self) -> bool {
        self.sandbox.is_ok()
    }

    /// The sandbox, or why there is none.
    pub fn sandbox(&self) -> Result<Arc<sandbox::Sandbox>, &str> {
        match &self.sandbox {
            Ok(s) => Ok(Arc::clone(s)),
            Err(why) => Err(why),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_name_workspace_files_in_every_usual_form() {
        let c: Vec<String> =
            words("sh ./run.sh /work/data/in.txt --conf=cfg.toml ../x /etc/passwd")
                .iter()
                .flat_map(|w| candidates(w))
                .collect();
        assert!(c.contains(&"run.sh".to_string()), "{c:?}");
        assert!(c.contains(&"data/in.txt".to_string()), "{c:?}");
        assert!(c.contains(&"cfg.toml".to_string()), "{c:?}");
        assert!(
            !c.iter().any(|p| p.contains("..") || p.starts_with('/')),
            "{c:?}"
        );
    }

    #[test]
    fn only_plain_commands_have_an_argv() {
        assert_eq!(plain_argv("ls -la docs").unwrap(), ["ls", "-la", "docs"]);
        for bad in [
            "ls; rm -rf /work",
            "cat x | sh",
            "echo $(id)",
            "ls > f",
            "a && b",
            "echo `id`",
            "ls\nrm x",
            "rm *",
        ] {
            assert!(plain_argv(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn a_changed_script_changes_the_fingerprint_extra() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("run.sh"), "echo hi").unwrap();
        let a = named_file_hashes(dir.path(), "sh run.sh");
        std::fs::write(dir.path().join("run.sh"), "rm -rf /work").unwrap();
        let b = named_file_hashes(dir.path(), "sh run.sh");
        assert!(a.starts_with("run.sh="), "{a}");
        assert_ne!(a, b);
        assert_eq!(named_file_hashes(dir.path(), "echo nothing named"), "");
    }
}
