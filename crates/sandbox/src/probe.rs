//! The availability probe and the [`Sandbox`] handle it returns.
//!
//! Owns the checks that must pass before anything runs: bubblewrap found on
//! an absolute search path and new enough, the helper binary present,
//! Landlock enforceable, and a trial run of the whole stack. When a check
//! fails it says precisely why, for `doctor`; there is no fallback, and no
//! way to run a command without a `Sandbox` that passed the probe.

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::bwrap::{HostEntry, WorkspaceMount, host_layout};
use crate::landlock_layer;
use crate::limits::Limits;
use crate::run::{Outcome, RunError};

/// The unprivileged identity bubblewrap runs as when the caller is root.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SandboxUser {
    pub uid: u32,
    pub gid: u32,
}

impl SandboxUser {
    /// `nobody:nogroup`.
    pub const NOBODY: SandboxUser = SandboxUser {
        uid: 65534,
        gid: 65534,
    };
}

/// How to find bubblewrap and the helper.
#[derive(Clone, Debug)]
pub struct SandboxConfig {
    helper: PathBuf,
    search_path: Option<OsString>,
    root_runs_as: SandboxUser,
}

impl SandboxConfig {
    /// `helper` is a binary that calls [`crate::run_helper_if_requested`]
    /// first thing in `main`.
    pub fn new(helper: impl Into<PathBuf>) -> Self {
        Self {
            helper: helper.into(),
            search_path: None,
            root_runs_as: SandboxUser::NOBODY,
        }
    }

    /// The running binary as the helper (the `hardshell` binary); opened
    /// through `/proc/self/exe`, so an upgrade on disk cannot swap it.
    pub fn current_exe() -> std::io::Result<Self> {
        Ok(Self::new("/proc/self/exe"))
    }

    /// Looks for `bwrap` in these directories instead of `$PATH`.
    #[must_use]
    pub fn search_path(mut self, path: impl Into<OsString>) -> Self {
        self.search_path = Some(path.into());
        self
    }

    /// The identity used when the caller is root (default `nobody`). Root
    /// itself is never used: RLIMIT_NPROC does not bind uid 0, so a fork
    /// bomb would not be contained.
    #[must_use]
    pub fn root_runs_as(mut self, user: SandboxUser) -> Self {
        self.root_runs_as = user;
        self
    }
}

/// What the probe found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Availability {
    pub bwrap: PathBuf,
    pub bwrap_version: String,
    /// The Landlock ABI every run enforces (capped at the features used).
    pub landlock_abi: u8,
    /// Whether bwrap's `--disable-userns` is used (seccomp denies new user
    /// namespaces either way).
    pub disable_userns: bool,
    /// The identity runs use when the caller is root.
    pub runs_as: Option<SandboxUser>,
}

impl fmt::Display for Availability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "bubblewrap {} ({}), Landlock ABI {}, --disable-userns {}",
            self.bwrap_version,
            self.bwrap.display(),
            self.landlock_abi,
            if self.disable_userns {
                "on"
            } else {
                "not supported"
            },
        )?;
        if let Some(user) = self.runs_as {
            write!(f, ", runs as uid {} (caller is root)", user.uid)?;
        }
        Ok(())
    }
}

/// Why the sandbox cannot be used. Nothing runs when this is returned.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Unavailable {
    #[error("bubblewrap (bwrap) not found in {searched:?}; install the bubblewrap package")]
    BwrapNotFound { searched: String },
    #[error("bubblewrap at {path} cannot run: {detail}")]
    BwrapNotRunnable { path: PathBuf, detail: String },
    #[error("bubblewrap {version} lacks {option}; version 0.8 or later is needed")]
    BwrapTooOld { version: String, option: String },
    #[error("sandbox helper {path} is not usable: {detail}")]
    HelperMissing { path: PathBuf, detail: String },
    #[error("Landlock is not available: {detail}")]
    LandlockUnavailable { detail: String },
    #[error("user namespaces are not usable: {detail}")]
    UserNamespacesBlocked { detail: String },
    #[error("a trial sandboxed run failed: {detail}")]
    TrialRunFailed { detail: String },
}

/// A sandbox that passed the probe. Only this can run commands.
#[derive(Debug)]
pub struct Sandbox {
    pub(crate) bwrap: PathBuf,
    /// The helper binary, open (so a replaced or unreachable path cannot matter).
    pub(crate) helper: std::os::fd::OwnedFd,
    pub(crate) layout: Vec<HostEntry>,
    pub(crate) availability: Availability,
}

fn find_bwrap(search_path: &OsString) -> Option<PathBuf> {
    std::env::split_paths(search_path)
        // Relative entries would resolve against the working directory.
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join("bwrap"))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn bwrap_output(bwrap: &Path, arg: &str) -> Result<String, Unavailable> {
    let output = Command::new(bwrap)
        .arg(arg)
        .env_clear()
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Unavailable::BwrapNotRunnable {
            path: bwrap.to_owned(),
            detail: e.to_string(),
        })?;
    if !output.status.success() {
        return Err(Unavailable::BwrapNotRunnable {
            path: bwrap.to_owned(),
            detail: format!("`bwrap {arg}` exited with {}", output.status),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Kernel switches that block unprivileged user namespaces, when set.
fn userns_switches() -> String {
    let checks = [
        ("/proc/sys/kernel/unprivileged_userns_clone", "0"),
        ("/proc/sys/user/max_user_namespaces", "0"),
        (
            "/proc/sys/kernel/apparmor_restrict_unprivileged_userns",
            "1",
        ),
    ];
    let set: Vec<String> = checks
        .iter()
        .filter(|(path, blocked)| std::fs::read_to_string(path).is_ok_and(|v| v.trim() == *blocked))
        .map(|(path, value)| format!("{path} is {value}"))
        .collect();
    if set.is_empty() {
        String::new()
    } else {
        format!(" ({})", set.join("; "))
    }
}

impl Sandbox {
    /// Checks every layer, including a trial run, and returns a handle that
    /// can run commands, or the precise reason it cannot.
    pub fn probe(config: SandboxConfig) -> Result<Self, Unavailable> {
        let searched = config
            .search_path
            .clone()
            .or_else(|| std::env::var_os("PATH"))
            .unwrap_or_default();
        let bwrap = find_bwrap(&searched).ok_or_else(|| Unavailable::BwrapNotFound {
            searched: searched.to_string_lossy().into_owned(),
        })?;
        let version = bwrap_output(&bwrap, "--version")?;
        let version = version.trim().trim_start_matches("bubblewrap ").to_owned();
        let help = bwrap_output(&bwrap, "--help")?;
        for option in [
            "--ro-bind-data",
            "--size",
            "--perms",
            "--die-with-parent",
            "--cap-drop",
        ] {
            if !help.contains(option) {
                return Err(Unavailable::BwrapTooOld {
                    version,
                    option: option.to_owned(),
                });
            }
        }
        let disable_userns = help.contains("--disable-userns");

        if !is_executable(&config.helper) {
            return Err(Unavailable::HelperMissing {
                path: config.helper.clone(),
                detail: "not an executable file".into(),
            });
        }
        let helper = std::fs::File::open(&config.helper)
            .map_err(|e| Unavailable::HelperMissing {
                path: config.helper.clone(),
                detail: e.to_string(),
            })?
            .into();
        let landlock_abi = landlock_layer::detect_abi()
            .map_err(|detail| Unavailable::LandlockUnavailable { detail })?;
        let runs_as = rustix::process::geteuid()
            .is_root()
            .then_some(config.root_runs_as);

        let sandbox = Sandbox {
            availability: Availability {
                bwrap: bwrap.clone(),
                bwrap_version: version,
                landlock_abi,
                disable_userns,
                runs_as,
            },
            bwrap,
            helper,
            layout: host_layout(),
        };
        sandbox.trial_run()?;
        Ok(sandbox)
    }

    /// What the probe found, for `doctor` and the start-up log.
    pub fn availability(&self) -> &Availability {
        &self.availability
    }

    fn trial_run(&self) -> Result<(), Unavailable> {
        let result = self.run_mounted(WorkspaceMount::Empty, "exit 0", &[], &Limits::default());
        match result {
            Ok(out) if out.outcome == Outcome::Exited { code: 0 } => Ok(()),
            Ok(out) => Err(Unavailable::TrialRunFailed {
                detail: format!("{:?}; stderr: {}", out.outcome, out.stderr.text().trim()),
            }),
            Err(RunError::SandboxSetup { stderr }) => {
                let lower = stderr.to_lowercase();
                if lower.contains("namespace") || lower.contains("uid map") {
                    Err(Unavailable::UserNamespacesBlocked {
                        detail: format!("{}{}", stderr.trim(), userns_switches()),
                    })
                } else {
                    Err(Unavailable::TrialRunFailed {
                        detail: format!("{}{}", stderr.trim(), userns_switches()),
                    })
                }
            }
            Err(e) => Err(Unavailable::TrialRunFailed {
                detail: e.to_string(),
            }),
        }
    }
}
