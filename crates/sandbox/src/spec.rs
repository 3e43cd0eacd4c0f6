//! What one run asks for: a workspace, a command, optional stdin and limits.
//!
//! The workspace is read-only unless the caller calls
//! [`RunSpec::writable_workspace`]; there is no other way to make it
//! writable. Nothing here can widen what the sandbox exposes.

use std::path::{Path, PathBuf};

use crate::limits::Limits;

/// Largest stdin a run accepts.
pub const MAX_STDIN_BYTES: usize = 1024 * 1024;

/// Whether `/work` is writable inside the sandbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WorkspaceAccess {
    /// Bound read-only (the default).
    ReadOnly,
    /// Bound read-write; only by an explicit call.
    Writable,
}

/// One command for one workspace.
#[derive(Clone, Debug)]
pub struct RunSpec {
    pub(crate) workspace: PathBuf,
    pub(crate) access: WorkspaceAccess,
    pub(crate) command: String,
    pub(crate) stdin: Vec<u8>,
    pub(crate) limits: Limits,
}

impl RunSpec {
    /// `command` runs as `/bin/sh -c command` with the workspace at `/work`,
    /// read-only, under the default limits.
    pub fn new(workspace: impl Into<PathBuf>, command: impl Into<String>) -> Self {
        Self {
            workspace: workspace.into(),
            access: WorkspaceAccess::ReadOnly,
            command: command.into(),
            stdin: Vec::new(),
            limits: Limits::default(),
        }
    }

    /// Makes `/work` writable for this run.
    #[must_use]
    pub fn writable_workspace(mut self) -> Self {
        self.access = WorkspaceAccess::Writable;
        self
    }

    /// Bytes fed to the command's stdin (at most [`MAX_STDIN_BYTES`]; the
    /// run refuses more). Without it, stdin is `/dev/null`.
    #[must_use]
    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.stdin = bytes.into();
        self
    }

    /// Limits for this run; build them from [`Limits::default`], which can
    /// only be lowered.
    #[must_use]
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The workspace directory on the host.
    pub fn workspace(&self) -> &Path {
        &self.workspace
    }
    /// Whether `/work` is writable.
    pub fn access(&self) -> WorkspaceAccess {
        self.access
    }
    /// The command text given to `/bin/sh -c`.
    pub fn command(&self) -> &str {
        &self.command
    }
    /// The limits of this run.
    pub fn run_limits(&self) -> &Limits {
        &self.limits
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspace_is_read_only_unless_asked() {
        let spec = RunSpec::new("/w", "ls");
        assert_eq!(spec.access(), WorkspaceAccess::ReadOnly);
        assert_eq!(
            spec.writable_workspace().access(),
            WorkspaceAccess::Writable
        );
    }
}
