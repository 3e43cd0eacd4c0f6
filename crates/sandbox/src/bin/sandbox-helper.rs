//! The sandbox crate's own helper binary, for its tests and benchmark.
//!
//! As `sandbox-helper __sandbox-exec ...` it is the inner helper, exactly as
//! the `hardshell` binary is. As `sandbox-helper run [--rw] [--wall-ms N]
//! WORKSPACE COMMAND` it probes (bwrap from `$PATH`) and runs one command,
//! printing its stdout and stderr and exiting with its status; tests use it
//! as a parent process to kill, and to run with bwrap absent from `$PATH`.
//! It never runs anything outside the sandbox.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use sandbox::{Limits, Outcome, RunSpec, Sandbox, SandboxConfig};

fn main() -> ExitCode {
    sandbox::run_helper_if_requested();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(("run", rest)) = args.split_first().map(|(a, r)| (a.as_str(), r)) else {
        eprintln!("usage: sandbox-helper run [--rw] [--wall-ms N] WORKSPACE COMMAND");
        return ExitCode::from(2);
    };
    let mut writable = false;
    let mut limits = Limits::default();
    let mut rest = rest;
    loop {
        match rest {
            [flag, tail @ ..] if flag == "--rw" => {
                writable = true;
                rest = tail;
            }
            [flag, ms, tail @ ..] if flag == "--wall-ms" => {
                let Ok(ms) = ms.parse() else {
                    eprintln!("--wall-ms: not a number");
                    return ExitCode::from(2);
                };
                limits = limits.lower_wall_clock(Duration::from_millis(ms));
                rest = tail;
            }
            _ => break,
        }
    }
    let [workspace, command] = rest else {
        eprintln!("usage: sandbox-helper run [--rw] [--wall-ms N] WORKSPACE COMMAND");
        return ExitCode::from(2);
    };
    let config = match SandboxConfig::current_exe() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("sandbox unavailable: {e}");
            return ExitCode::from(3);
        }
    };
    let sandbox = match Sandbox::probe(config) {
        Ok(s) => s,
        Err(reason) => {
            eprintln!("sandbox unavailable: {reason}");
            return ExitCode::from(3);
        }
    };
    let mut spec = RunSpec::new(workspace, command.as_str()).limits(limits);
    if writable {
        spec = spec.writable_workspace();
    }
    match sandbox.run(&spec) {
        Ok(out) => {
            let _ = std::io::stdout().write_all(&out.stdout.bytes);
            let _ = std::io::stderr().write_all(&out.stderr.bytes);
            match out.outcome {
                Outcome::Exited { code } => ExitCode::from(u8::try_from(code).unwrap_or(255)),
                Outcome::WallClockExceeded => {
                    eprintln!("wall clock exceeded");
                    ExitCode::from(124)
                }
            }
        }
        Err(e) => {
            eprintln!("sandbox run failed: {e}");
            ExitCode::from(4)
        }
    }
}
