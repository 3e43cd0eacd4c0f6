//! sandbox: run one shell command for one workspace, isolated.
//!
//! Outside, bubblewrap unshares every namespace (no network), binds a
//! read-only system, a generated `/etc`, a private `/tmp` and the workspace
//! at `/work`, clears the environment and drops every capability. Inside, the
//! calling binary re-executed as a helper ([`HELPER_ARG`]) sets
//! `no_new_privs`, rlimits, Landlock and a seccomp filter, then `execve`s
//! `/bin/sh -c COMMAND`.
//!
//! It knows nothing of agents. It never runs anything on the host: a
//! [`Sandbox`] exists only after [`Sandbox::probe`] proved every layer works,
//! and any layer that fails to apply aborts the run.

mod bwrap;
mod capture;
mod fds;
mod helper;
mod landlock_layer;
mod limits;
mod probe;
mod run;
mod seccomp;
mod spec;

pub use capture::Captured;
pub use helper::helper_main;
pub use limits::{
    DEFAULT_CPU_SECONDS, DEFAULT_FILE_SIZE_BYTES, DEFAULT_MEMORY_BYTES, DEFAULT_OPEN_FILES,
    DEFAULT_OUTPUT_BYTES, DEFAULT_PROCESSES, DEFAULT_TMP_BYTES, DEFAULT_WALL_CLOCK, Limits,
};
pub use probe::{Availability, Sandbox, SandboxConfig, SandboxUser, Unavailable};
pub use run::{Outcome, ResourceUsage, RunError, RunOutput};
pub use spec::{MAX_STDIN_BYTES, RunSpec, WorkspaceAccess};

/// First argument that turns the calling binary into the inner helper.
pub const HELPER_ARG: &str = "__sandbox-exec";

/// The only environment a sandboxed command sees.
pub const SANDBOX_ENV: [(&str, &str); 4] = [
    ("PATH", "/usr/local/bin:/usr/bin:/bin"),
    ("HOME", "/work"),
    ("LANG", "C.UTF-8"),
    ("TERM", "dumb"),
];

/// If this process was started as the inner helper (`argv[1] ==
/// HELPER_ARG`), become it: this never returns. Otherwise return at once.
/// Call it first thing in `main`, before any thread or runtime starts.
pub fn run_helper_if_requested() {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|a| a == HELPER_ARG) {
        helper_main(&args[2..])
    }
}
