//! Sandbox start-up overhead: `true` inside the full sandbox (bubblewrap,
//! helper, Landlock, seccomp, `/bin/sh -c true`) beside a plain fork and
//! exec of `/bin/true`, in the same run. Prints p50 and p99 of each.
//!
//! cargo bench -p sandbox --bench startup

use std::process::Command;
use std::time::{Duration, Instant};

use sandbox::{RunSpec, Sandbox, SandboxConfig};

const RUNS: usize = 300;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{name:<28} runs {:>4}  p50 {:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms",
        samples.len(),
        ms(percentile(&samples, 0.50)),
        ms(percentile(&samples, 0.99)),
        ms(samples[samples.len() - 1]),
    );
}

fn main() {
    let sandbox = match Sandbox::probe(SandboxConfig::new(env!("CARGO_BIN_EXE_sandbox-helper"))) {
        Ok(s) => s,
        Err(reason) => {
            eprintln!("sandbox unavailable: {reason}");
            std::process::exit(1);
        }
    };
    println!("sandbox: {}", sandbox.availability());
    let workspace = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    if let Some(user) = sandbox.availability().runs_as {
        std::os::unix::fs::chown(workspace.path(), Some(user.uid), Some(user.gid))
            .unwrap_or_else(|e| panic!("chown: {e}"));
    }
    let spec = RunSpec::new(workspace.path(), "true");

    // Warm the page cache for both paths.
    for _ in 0..10 {
        let _ = sandbox.run(&spec);
        let _ = Command::new("/bin/true").status();
    }
    let mut sandboxed = Vec::with_capacity(RUNS);
    let mut plain = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let start = Instant::now();
        let out = sandbox
            .run(&spec)
            .unwrap_or_else(|e| panic!("sandboxed run: {e}"));
        sandboxed.push(start.elapsed());
        assert_eq!(out.outcome, sandbox::Outcome::Exited { code: 0 });

        let start = Instant::now();
        let status = Command::new("/bin/true")
            .status()
            .unwrap_or_else(|e| panic!("{e}"));
        plain.push(start.elapsed());
        assert!(status.success());
    }
    report("sandboxed `true`", sandboxed);
    report("plain fork+exec /bin/true", plain);
}
