//! One sandboxed run: spawn bubblewrap, feed it, watch it, stop it.
//!
//! Owns the outer process: the spawn (empty environment, generated `/etc`
//! and status pipe on fixed fds, an unprivileged uid when the caller is
//! root), concurrent capped reading of stdout and stderr, the wall clock
//! (SIGKILL to bwrap; `--die-with-parent` and the pid namespace take the
//! whole tree down), and the verdict. A run whose helper did not confirm
//! every layer is an error, never a result.

use std::ffi::OsString;
use std::io::{self, Read, Seek, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use command_fds::{CommandFdExt, FdMapping};
use rustix::event::{PollFd, PollFlags, poll};
use rustix::fs::{OFlags, fcntl_getfl, fcntl_setfl};
use rustix::process::{Pid, PidfdFlags, pidfd_open};

use crate::bwrap::{self, BwrapPlan, GROUP_FD, HELPER_FD, HOSTS_FD, PASSWD_FD, WorkspaceMount};
use crate::capture::{CappedBuffer, Captured};
use crate::helper::{HelperArgs, STATUS_ERROR, STATUS_FD, STATUS_READY};
use crate::limits::Limits;
use crate::probe::Sandbox;
use crate::spec::{MAX_STDIN_BYTES, RunSpec, WorkspaceAccess};

/// After the wall clock kills the tree, how long to wait for the pipes to close.
const DRAIN_GRACE: Duration = Duration::from_secs(5);

/// How the command ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The command's exit status; by the shell convention, 128 + N when
    /// signal N ended it (see [`RunOutput::signal`]).
    Exited { code: i32 },
    /// The wall clock ran out and the whole process tree was killed.
    WallClockExceeded,
}

/// CPU and wall time of the run (the whole process tree).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResourceUsage {
    pub wall: Duration,
    pub user_cpu: Duration,
    pub system_cpu: Duration,
}

/// The result of a run that happened inside the sandbox.
#[derive(Clone, Debug)]
pub struct RunOutput {
    pub outcome: Outcome,
    pub stdout: Captured,
    pub stderr: Captured,
    pub usage: ResourceUsage,
}

impl RunOutput {
    /// The signal that ended the command, if its status says so (SIGXCPU
    /// for the CPU limit, SIGXFSZ for the file-size limit, SIGKILL ...).
    pub fn signal(&self) -> Option<i32> {
        match self.outcome {
            Outcome::Exited { code } if (129..=128 + 64).contains(&code) => Some(code - 128),
            _ => None,
        }
    }
}

/// Why a run did not happen (nothing ran on the host in any case).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("invalid run: {0}")]
    InvalidSpec(String),
    #[error("workspace {path}: {detail}")]
    Workspace { path: PathBuf, detail: String },
    #[error("{context}: {source}")]
    Io {
        context: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("the sandbox could not be set up: {stderr}")]
    SandboxSetup { stderr: String },
    #[error("the sandbox helper refused to run the command: {reason}")]
    HelperFailed { reason: String },
}

fn io_error(context: &'static str) -> impl FnOnce(io::Error) -> RunError {
    move |source| RunError::Io { context, source }
}

/// A pipe whose read end carries `data` (small enough for the pipe buffer).
fn data_pipe(data: &str) -> Result<OwnedFd, RunError> {
    let (read, write) =
        rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).map_err(|e| RunError::Io {
            context: "creating a pipe",
            source: e.into(),
        })?;
    std::fs::File::from(write)
        .write_all(data.as_bytes())
        .map_err(io_error("filling a pipe"))?;
    Ok(read)
}

/// Stdin as a sealed-off in-memory file: nothing to write while the command
/// runs, so a command that never reads cannot block or SIGPIPE the caller.
fn stdin_file(bytes: &[u8]) -> Result<Stdio, RunError> {
    if bytes.is_empty() {
        return Ok(Stdio::null());
    }
    let fd = rustix::fs::memfd_create("sandbox-stdin", rustix::fs::MemfdFlags::CLOEXEC).map_err(
        |e| RunError::Io {
            context: "creating stdin",
            source: e.into(),
        },
    )?;
    let mut file = std::fs::File::from(fd);
    file.write_all(bytes).map_err(io_error("writing stdin"))?;
    file.rewind().map_err(io_error("rewinding stdin"))?;
    Ok(Stdio::from(file))
}

fn set_nonblocking(fd: impl AsFd) -> Result<(), RunError> {
    let to_io = |e: rustix::io::Errno| RunError::Io {
        context: "setting a pipe non-blocking",
        source: e.into(),
    };
    let flags = fcntl_getfl(&fd).map_err(to_io)?;
    fcntl_setfl(&fd, flags | OFlags::NONBLOCK).map_err(to_io)
}

/// Reads what is available; returns false at end of file.
fn drain(reader: &mut impl Read, into: &mut CappedBuffer) -> Result<bool, RunError> {
    let mut chunk = [0u8; 64 * 1024];
    loop {
        match reader.read(&mut chunk) {
            Ok(0) => return Ok(false),
            Ok(n) => into.push(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(true),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io_error("reading output")(e)),
        }
    }
}

/// CPU time of an exited, not yet reaped process and its reaped descendants.
fn zombie_cpu(pid: u32) -> (Duration, Duration) {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return (Duration::ZERO, Duration::ZERO);
    };
    // Fields after the command name: state is index 0, utime 11, stime 12,
    // cutime 13, cstime 14.
    let fields: Vec<u64> = stat
        .rsplit_once(')')
        .map(|(_, rest)| {
            rest.split_whitespace()
                .map(|f| f.parse().unwrap_or(0))
                .collect()
        })
        .unwrap_or_default();
    let tick = rustix::param::clock_ticks_per_second().max(1);
    let field = |i: usize| fields.get(i).copied().unwrap_or(0);
    let ticks = |t: u64| Duration::from_nanos(t.saturating_mul(1_000_000_000) / tick);
    (ticks(field(11) + field(13)), ticks(field(12) + field(14)))
}

impl Sandbox {
    /// Runs `spec` inside the sandbox. Blocks the calling thread until the
    /// command and every process it started have ended (at most the wall
    /// clock plus a short grace); call it from a blocking thread. The
    /// calling thread must stay alive meanwhile: bubblewrap dies with it.
    pub fn run(&self, spec: &RunSpec) -> Result<RunOutput, RunError> {
        let workspace = self.checked_workspace(&spec.workspace)?;
        let mount = match spec.access {
            WorkspaceAccess::ReadOnly => WorkspaceMount::ReadOnly(&workspace),
            WorkspaceAccess::Writable => WorkspaceMount::Writable(&workspace),
        };
        self.run_mounted(mount, &spec.command, &spec.stdin, &spec.limits)
    }

    fn checked_workspace(&self, path: &Path) -> Result<PathBuf, RunError> {
        let fail = |detail: String| RunError::Workspace {
            path: path.to_owned(),
            detail,
        };
        if !path.is_absolute() {
            return Err(fail("not an absolute path".into()));
        }
        let meta = std::fs::symlink_metadata(path).map_err(|e| fail(e.to_string()))?;
        if meta.file_type().is_symlink() || !meta.is_dir() {
            return Err(fail("not a directory (symlinks are refused)".into()));
        }
        if let Some(user) = self.availability.runs_as
            && meta.uid() != user.uid
        {
            return Err(fail(format!(
                "the caller is root, so the sandbox runs as uid {}; the workspace must be owned by it (owner is {})",
                user.uid,
                meta.uid()
            )));
        }
        Ok(path.to_owned())
    }

    pub(crate) fn run_mounted(
        &self,
        workspace: WorkspaceMount<'_>,
        command: &str,
        stdin: &[u8],
        limits: &Limits,
    ) -> Result<RunOutput, RunError> {
        if command.contains('\0') {
            return Err(RunError::InvalidSpec(
                "the command contains a NUL byte".into(),
            ));
        }
        if stdin.len() > MAX_STDIN_BYTES {
            return Err(RunError::InvalidSpec(format!(
                "stdin is {} bytes, more than {MAX_STDIN_BYTES}",
                stdin.len()
            )));
        }
        let helper_args = HelperArgs {
            landlock_abi: self.availability.landlock_abi,
            writable: matches!(workspace, WorkspaceMount::Writable(_)),
            memory_bytes: limits.memory_bytes(),
            cpu_seconds: limits.cpu_seconds(),
            processes: limits.processes(),
            file_size_bytes: limits.file_size_bytes(),
            open_files: limits.open_files(),
            command: command.to_owned(),
        };
        let args: Vec<OsString> = BwrapPlan {
            layout: &self.layout,
            disable_userns: self.availability.disable_userns,
            workspace,
            tmp_bytes: limits.tmp_bytes(),
            helper_args: helper_args.to_args(),
        }
        .args();

        let (status_read, status_write) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
            .map_err(|e| RunError::Io {
                context: "creating the status pipe",
                source: e.into(),
            })?;
        let mappings = vec![
            FdMapping {
                parent_fd: status_write,
                child_fd: STATUS_FD,
            },
            FdMapping {
                parent_fd: data_pipe(bwrap::PASSWD)?,
                child_fd: PASSWD_FD,
            },
            FdMapping {
                parent_fd: data_pipe(bwrap::GROUP)?,
                child_fd: GROUP_FD,
            },
            FdMapping {
                parent_fd: data_pipe(bwrap::HOSTS)?,
                child_fd: HOSTS_FD,
            },
            FdMapping {
                parent_fd: self
                    .helper
                    .try_clone()
                    .map_err(io_error("duplicating the helper fd"))?,
                child_fd: HELPER_FD,
            },
        ];
        let mut cmd = Command::new(&self.bwrap);
        cmd.args(&args)
            .env_clear()
            .current_dir("/")
            .stdin(stdin_file(stdin)?)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(user) = self.availability.runs_as {
            cmd.uid(user.uid).gid(user.gid);
        }
        cmd.fd_mappings(mappings)
            .map_err(|e| RunError::InvalidSpec(e.to_string()))?;

        let started = Instant::now();
        let child = cmd.spawn().map_err(io_error("starting bubblewrap"))?;
        // The Command holds the parent's copies of the mapped fds (the status
        // pipe's write end among them): drop it so EOF means the sandbox ended.
        drop(cmd);
        let watched = watch(child, limits, started)?;
        let status_bytes = {
            let mut bytes = Vec::new();
            std::fs::File::from(status_read)
                .read_to_end(&mut bytes)
                .map_err(io_error("reading the helper status"))?;
            bytes
        };
        verdict(watched, &status_bytes)
    }
}

struct Watched {
    timed_out: bool,
    exit: std::process::ExitStatus,
    stdout: Captured,
    stderr: Captured,
    usage: ResourceUsage,
}

/// Reads both streams until the process tree ends, killing it at the wall clock.
fn watch(mut child: Child, limits: &Limits, started: Instant) -> Result<Watched, RunError> {
    let (Some(mut out), Some(mut err)) = (child.stdout.take(), child.stderr.take()) else {
        return Err(RunError::InvalidSpec("stdout or stderr not piped".into()));
    };
    set_nonblocking(&out)?;
    set_nonblocking(&err)?;
    let pid = Pid::from_child(&child);
    let pidfd = pidfd_open(pid, PidfdFlags::empty()).map_err(|e| RunError::Io {
        context: "watching bubblewrap",
        source: e.into(),
    })?;
    let mut out_buf = CappedBuffer::new(limits.output_bytes());
    let mut err_buf = CappedBuffer::new(limits.output_bytes());
    let (mut out_open, mut err_open, mut exited, mut timed_out) = (true, true, false, false);
    let mut cpu = (Duration::ZERO, Duration::ZERO);
    let mut wall = Duration::ZERO;
    let mut deadline = started + limits.wall_clock();
    while out_open || err_open || !exited {
        let now = Instant::now();
        if now >= deadline {
            if !exited && !timed_out {
                // SIGKILL to bwrap; its pid-namespace init dies with it
                // (--die-with-parent) and the kernel kills the rest.
                let _ = child.kill();
                timed_out = true;
                deadline = now + DRAIN_GRACE;
                continue;
            }
            break;
        }
        let timeout =
            rustix::event::Timespec::try_from(deadline - now).unwrap_or(rustix::event::Timespec {
                tv_sec: 1,
                tv_nsec: 0,
            });
        let mut fds = Vec::with_capacity(3);
        let mut slots = [usize::MAX; 3];
        if out_open {
            slots[0] = fds.len();
            fds.push(PollFd::new(&out, PollFlags::IN));
        }
        if err_open {
            slots[1] = fds.len();
            fds.push(PollFd::new(&err, PollFlags::IN));
        }
        if !exited {
            slots[2] = fds.len();
            fds.push(PollFd::new(&pidfd, PollFlags::IN));
        }
        match poll(&mut fds, Some(&timeout)) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(io_error("waiting for the sandbox")(e.into())),
        }
        let ready = |slot: usize| fds.get(slot).is_some_and(|f| !f.revents().is_empty());
        let (out_ready, err_ready, pid_ready) = (ready(slots[0]), ready(slots[1]), ready(slots[2]));
        drop(fds);
        if out_ready {
            out_open = drain(&mut out, &mut out_buf)?;
        }
        if err_ready {
            err_open = drain(&mut err, &mut err_buf)?;
        }
        if pid_ready && !exited {
            exited = true;
            wall = started.elapsed();
            cpu = zombie_cpu(child.id());
            if !timed_out {
                // Everything in the pid namespace is dead now; the pipes
                // close promptly, but never wait longer than the grace.
                deadline = deadline.min(Instant::now() + DRAIN_GRACE);
            }
        }
    }
    if !exited {
        let _ = child.kill();
        wall = started.elapsed();
    }
    let exit = child.wait().map_err(io_error("reaping bubblewrap"))?;
    Ok(Watched {
        timed_out,
        exit,
        stdout: out_buf.finish(),
        stderr: err_buf.finish(),
        usage: ResourceUsage {
            wall,
            user_cpu: cpu.0,
            system_cpu: cpu.1,
        },
    })
}

fn verdict(w: Watched, status: &[u8]) -> Result<RunOutput, RunError> {
    if let Some(at) = status.iter().position(|&b| b == STATUS_ERROR) {
        return Err(RunError::HelperFailed {
            reason: String::from_utf8_lossy(&status[at + 1..]).into_owned(),
        });
    }
    if status.first() != Some(&STATUS_READY) {
        // The helper never reached exec: what stderr holds is bubblewrap's.
        let mut stderr = w.stderr.text().trim().to_owned();
        if w.timed_out {
            stderr.push_str(" (timed out before the command started)");
        }
        if stderr.is_empty() {
            stderr = format!("bubblewrap ended with {}", w.exit);
        }
        return Err(RunError::SandboxSetup { stderr });
    }
    let outcome = if w.timed_out {
        Outcome::WallClockExceeded
    } else {
        match (w.exit.code(), w.exit.signal()) {
            (Some(code), _) => Outcome::Exited { code },
            (None, Some(signal)) => Outcome::Exited { code: 128 + signal },
            (None, None) => Outcome::Exited { code: -1 },
        }
    };
    Ok(RunOutput {
        outcome,
        stdout: w.stdout,
        stderr: w.stderr,
        usage: w.usage,
    })
}
