//! The inner helper: runs inside bubblewrap, applies the in-process layers,
//! then `execve`s `/bin/sh -c COMMAND`.
//!
//! Owns the helper's argument protocol and the order of the layers:
//! inherited fds closed on exec, `no_new_privs`, rlimits, Landlock, seccomp.
//! It must never exec the command when any layer failed: every failure is
//! reported on the status fd and the helper exits instead.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::unix::process::CommandExt;
use std::process::Command;

use rustix::process::{Resource, Rlimit, setrlimit};

use crate::{SANDBOX_ENV, fds, landlock_layer, seccomp};

/// The status pipe's number inside the sandbox.
pub(crate) const STATUS_FD: i32 = 3;
/// Protocol version, so a helper from another build refuses to guess.
const PROTOCOL: &str = "v1";
/// Exit status of a helper that refused to run the command.
const HELPER_FAILED: i32 = 125;

/// Status byte written just before `execve`.
pub(crate) const STATUS_READY: u8 = b'R';
/// Status byte that starts an error message.
pub(crate) const STATUS_ERROR: u8 = b'E';

/// What the helper needs to know, passed as arguments after [`crate::HELPER_ARG`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct HelperArgs {
    pub landlock_abi: u8,
    pub writable: bool,
    pub memory_bytes: u64,
    pub cpu_seconds: u64,
    pub processes: u64,
    pub file_size_bytes: u64,
    pub open_files: u64,
    pub command: String,
}

impl HelperArgs {
    pub(crate) fn to_args(&self) -> Vec<OsString> {
        [
            PROTOCOL.to_owned(),
            self.landlock_abi.to_string(),
            if self.writable { "rw" } else { "ro" }.to_owned(),
            self.memory_bytes.to_string(),
            self.cpu_seconds.to_string(),
            self.processes.to_string(),
            self.file_size_bytes.to_string(),
            self.open_files.to_string(),
            self.command.clone(),
        ]
        .into_iter()
        .map(OsString::from)
        .collect()
    }

    pub(crate) fn parse(args: &[OsString]) -> Result<Self, String> {
        let text: Vec<&str> = args
            .iter()
            .map(|a| a.to_str().ok_or("argument is not UTF-8"))
            .collect::<Result<_, _>>()?;
        let [
            protocol,
            abi,
            access,
            memory,
            cpu,
            procs,
            fsize,
            nofile,
            command,
        ] = text[..]
        else {
            return Err(format!("expected 9 arguments, got {}", text.len()));
        };
        if protocol != PROTOCOL {
            return Err(format!("protocol {protocol:?}, expected {PROTOCOL}"));
        }
        let number = |name: &str, v: &str| -> Result<u64, String> {
            v.parse()
                .map_err(|_| format!("{name}: not a number: {v:?}"))
        };
        let writable = match access {
            "rw" => true,
            "ro" => false,
            other => return Err(format!("workspace access {other:?}")),
        };
        Ok(Self {
            landlock_abi: abi.parse().map_err(|_| format!("landlock abi {abi:?}"))?,
            writable,
            memory_bytes: number("memory", memory)?,
            cpu_seconds: number("cpu", cpu)?,
            processes: number("processes", procs)?,
            file_size_bytes: number("file size", fsize)?,
            open_files: number("open files", nofile)?,
            command: command.to_owned(),
        })
    }
}

/// Entry point of the helper (arguments after [`crate::HELPER_ARG`]).
/// Never returns: it either becomes the command or exits.
pub fn helper_main(args: &[OsString]) -> ! {
    let Err(error) = apply_layers_and_exec(args);
    let mut message = vec![STATUS_ERROR];
    message.extend_from_slice(error.as_bytes());
    // If even the status fd is gone, stderr is all that is left.
    if fds::write_inherited(STATUS_FD, &message).is_err() {
        eprintln!("sandbox helper: {error}");
    }
    std::process::exit(HELPER_FAILED)
}

fn apply_layers_and_exec(args: &[OsString]) -> Result<std::convert::Infallible, String> {
    let args = HelperArgs::parse(args).map_err(|e| format!("bad helper arguments: {e}"))?;
    fds::close_inherited_on_exec().map_err(|e| format!("marking inherited fds: {e}"))?;
    rustix::thread::set_no_new_privs(true).map_err(|e| format!("no_new_privs: {e}"))?;
    apply_rlimits(&args).map_err(|e| format!("rlimits: {e}"))?;
    landlock_layer::apply(args.landlock_abi, args.writable)
        .map_err(|e| format!("landlock: {e}"))?;
    seccomp::apply().map_err(|e| format!("seccomp: {e}"))?;
    fds::write_inherited(STATUS_FD, &[STATUS_READY]).map_err(|e| format!("status fd: {e}"))?;
    let error = Command::new("/bin/sh")
        .arg("-c")
        .arg(OsStr::new(&args.command))
        .env_clear()
        .envs(SANDBOX_ENV)
        .current_dir("/work")
        .exec();
    Err(format!("exec /bin/sh: {error}"))
}

fn apply_rlimits(args: &HelperArgs) -> io::Result<()> {
    let limits = [
        (Resource::As, args.memory_bytes),
        (Resource::Cpu, args.cpu_seconds),
        (Resource::Nproc, args.processes),
        (Resource::Fsize, args.file_size_bytes),
        (Resource::Nofile, args.open_files),
        (Resource::Core, 0),
    ];
    for (resource, value) in limits {
        setrlimit(
            resource,
            Rlimit {
                current: Some(value),
                maximum: Some(value),
            },
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_round_trip_and_reject_junk() {
        let args = HelperArgs {
            landlock_abi: 6,
            writable: true,
            memory_bytes: 1,
            cpu_seconds: 2,
            processes: 3,
            file_size_bytes: 4,
            open_files: 5,
            command: "echo 'a b' | wc -c".into(),
        };
        assert_eq!(HelperArgs::parse(&args.to_args()), Ok(args.clone()));

        let mut wrong = args.to_args();
        wrong[0] = "v0".into();
        assert!(HelperArgs::parse(&wrong).is_err());
        let mut wrong = args.to_args();
        wrong[2] = "yes".into();
        assert!(HelperArgs::parse(&wrong).is_err());
        assert!(HelperArgs::parse(&args.to_args()[..8]).is_err());
    }
}
