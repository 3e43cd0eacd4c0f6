//! The bubblewrap command line for one run.
//!
//! Owns what the sandbox can see: a read-only `/usr` and `/bin`, `/sbin`,
//! `/lib*`; a generated `/etc` with only the sandbox user; a fresh `/proc`
//! and minimal `/dev`; a size-capped private `/tmp`; the workspace at
//! `/work`. It must never bind `/run`, a home directory, a data directory or
//! any socket, and never pass the caller's environment.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::SANDBOX_ENV;

/// User and group ids inside the sandbox (mapped to an unprivileged id outside).
pub(crate) const INSIDE_UID: u32 = 1000;
/// fds the generated `/etc` files arrive on.
pub(crate) const PASSWD_FD: i32 = 4;
pub(crate) const GROUP_FD: i32 = 5;
pub(crate) const HOSTS_FD: i32 = 6;
/// The helper binary arrives as an open fd and is executed through
/// `/proc/self/fd`, so its host path need not be reachable (or visible)
/// from inside, nor by the unprivileged uid bwrap runs as under root.
pub(crate) const HELPER_FD: i32 = 7;

pub(crate) const PASSWD: &str = "sandbox:x:1000:1000:sandbox:/work:/bin/sh\n\
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";
pub(crate) const GROUP: &str = "sandbox:x:1000:\nnogroup:x:65534:\n";
pub(crate) const HOSTS: &str = "127.0.0.1 localhost sandbox\n::1 localhost\n";

/// Read-only host files that carry no user data and that common tools need.
const ETC_PASSTHROUGH: [&str; 3] = ["/etc/ld.so.cache", "/etc/alternatives", "/etc/localtime"];

/// How a top-level system path looks on the host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum HostEntry {
    /// A symlink (merged /usr): recreated as the same symlink.
    Symlink { name: String, target: PathBuf },
    /// A real directory: bound read-only.
    Dir { name: String },
}

/// The host's `/bin`, `/sbin` and `/lib*` entries that exist.
pub(crate) fn host_layout() -> Vec<HostEntry> {
    let mut entries = Vec::new();
    for name in ["bin", "sbin", "lib", "lib64", "lib32", "libx32"] {
        let path = Path::new("/").join(name);
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        let name = name.to_owned();
        if meta.file_type().is_symlink() {
            if let Ok(target) = std::fs::read_link(&path) {
                entries.push(HostEntry::Symlink { name, target });
            }
        } else if meta.is_dir() {
            entries.push(HostEntry::Dir { name });
        }
    }
    entries
}

/// What `/work` is.
#[derive(Clone, Copy, Debug)]
pub(crate) enum WorkspaceMount<'a> {
    /// An empty directory (the probe's trial run).
    Empty,
    ReadOnly(&'a Path),
    Writable(&'a Path),
}

pub(crate) struct BwrapPlan<'a> {
    pub layout: &'a [HostEntry],
    pub disable_userns: bool,
    pub workspace: WorkspaceMount<'a>,
    pub tmp_bytes: u64,
    pub helper_args: Vec<OsString>,
}

fn push(args: &mut Vec<OsString>, items: &[&str]) {
    args.extend(items.iter().map(OsString::from));
}

impl BwrapPlan<'_> {
    pub(crate) fn args(&self) -> Vec<OsString> {
        let mut a: Vec<OsString> = Vec::new();
        push(&mut a, &["--unshare-all", "--unshare-user"]);
        if self.disable_userns {
            push(&mut a, &["--disable-userns"]);
        }
        let id = INSIDE_UID.to_string();
        push(
            &mut a,
            &["--uid", &id, "--gid", &id, "--hostname", "sandbox"],
        );
        // --as-pid-1: the command is the namespace's init, so bubblewrap
        // itself reaps it and its CPU time reaches the rusage we read.
        push(
            &mut a,
            &["--die-with-parent", "--new-session", "--as-pid-1"],
        );
        push(&mut a, &["--cap-drop", "ALL"]);
        push(&mut a, &["--clearenv"]);
        for (key, value) in SANDBOX_ENV {
            push(&mut a, &["--setenv", key, value]);
        }
        push(&mut a, &["--ro-bind", "/usr", "/usr"]);
        for entry in self.layout {
            match entry {
                HostEntry::Symlink { name, target } => {
                    a.push("--symlink".into());
                    a.push(target.clone().into_os_string());
                    a.push(format!("/{name}").into());
                }
                HostEntry::Dir { name } => {
                    let path = format!("/{name}");
                    push(&mut a, &["--ro-bind", &path, &path]);
                }
            }
        }
        for (fd, path) in [
            (PASSWD_FD, "/etc/passwd"),
            (GROUP_FD, "/etc/group"),
            (HOSTS_FD, "/etc/hosts"),
        ] {
            push(
                &mut a,
                &["--perms", "0444", "--ro-bind-data", &fd.to_string(), path],
            );
        }
        for path in ETC_PASSTHROUGH {
            push(&mut a, &["--ro-bind-try", path, path]);
        }
        push(&mut a, &["--proc", "/proc", "--dev", "/dev"]);
        push(
            &mut a,
            &["--size", &self.tmp_bytes.to_string(), "--tmpfs", "/tmp"],
        );
        match self.workspace {
            WorkspaceMount::Empty => push(&mut a, &["--dir", "/work"]),
            WorkspaceMount::ReadOnly(path) => {
                a.extend([
                    "--ro-bind".into(),
                    path.as_os_str().to_owned(),
                    "/work".into(),
                ]);
            }
            WorkspaceMount::Writable(path) => {
                a.extend(["--bind".into(), path.as_os_str().to_owned(), "/work".into()]);
            }
        }
        let helper = format!("/proc/self/fd/{HELPER_FD}");
        push(
            &mut a,
            &[
                "--chdir",
                "/work",
                "--remount-ro",
                "/",
                "--",
                &helper,
                crate::HELPER_ARG,
            ],
        );
        a.extend(self.helper_args.iter().cloned());
        a
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(workspace: WorkspaceMount<'_>) -> Vec<String> {
        let layout = vec![
            HostEntry::Symlink {
                name: "bin".into(),
                target: "usr/bin".into(),
            },
            HostEntry::Dir {
                name: "lib64".into(),
            },
        ];
        BwrapPlan {
            layout: &layout,
            disable_userns: true,
            workspace,
            tmp_bytes: 1 << 20,
            helper_args: vec!["v1".into()],
        }
        .args()
        .into_iter()
        .map(|s| s.into_string().unwrap())
        .collect()
    }

    fn has_window(args: &[String], window: &[&str]) -> bool {
        args.windows(window.len()).any(|w| w == window)
    }

    #[test]
    fn every_namespace_is_unshared_and_capabilities_dropped() {
        let args = plan(WorkspaceMount::Empty);
        for flag in [
            "--unshare-all",
            "--unshare-user",
            "--disable-userns",
            "--die-with-parent",
            "--new-session",
            "--clearenv",
        ] {
            assert!(args.iter().any(|a| a == flag), "missing {flag}");
        }
        assert!(has_window(&args, &["--cap-drop", "ALL"]));
        assert!(!args.iter().any(|a| a == "--share-net"));
    }

    #[test]
    fn workspace_is_read_only_unless_writable() {
        let ro = plan(WorkspaceMount::ReadOnly(Path::new("/data/ws")));
        assert!(has_window(&ro, &["--ro-bind", "/data/ws", "/work"]));
        assert!(!has_window(&ro, &["--bind", "/data/ws", "/work"]));
        let rw = plan(WorkspaceMount::Writable(Path::new("/data/ws")));
        assert!(has_window(&rw, &["--bind", "/data/ws", "/work"]));
    }

    #[test]
    fn never_binds_run_home_or_host_etc() {
        let args = plan(WorkspaceMount::ReadOnly(Path::new("/data/ws")));
        for forbidden in ["/run", "/home", "/root", "/etc", "/var"] {
            assert!(
                !has_window(&args, &["--ro-bind", forbidden, forbidden])
                    && !has_window(&args, &["--bind", forbidden, forbidden]),
                "{forbidden} is bound"
            );
        }
        // Only the known harmless /etc files come from the host.
        let host_etc: Vec<_> = args.iter().filter(|a| a.starts_with("/etc/")).collect();
        for path in host_etc {
            assert!(
                ["/etc/passwd", "/etc/group", "/etc/hosts"].contains(&path.as_str())
                    || ETC_PASSTHROUGH.contains(&path.as_str()),
                "unexpected {path}"
            );
        }
        assert!(has_window(&args, &["--symlink", "usr/bin", "/bin"]));
        assert!(has_window(&args, &["--ro-bind", "/lib64", "/lib64"]));
    }

    #[test]
    fn environment_is_exactly_the_sandbox_set() {
        let args = plan(WorkspaceMount::Empty);
        let set: Vec<_> = args
            .windows(2)
            .filter(|w| w[0] == "--setenv")
            .map(|w| w[1].clone())
            .collect();
        assert_eq!(set, ["PATH", "HOME", "LANG", "TERM"]);
        assert!(has_window(&args, &["--setenv", "HOME", "/work"]));
    }
}
