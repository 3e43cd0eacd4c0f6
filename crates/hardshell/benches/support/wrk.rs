//! Runs Debian's `wrk` against one authenticated URL, for the benches that
//! load the read path. Shared so that every bench drives the same command.

use std::process::Command;

/// What wrk printed.
pub struct Report {
    pub text: String,
}

impl Report {
    /// The value after `prefix` on the first line that starts with it
    /// (`"Requests/sec:"`, `"50%"`, `"99%"`), or empty.
    pub fn field(&self, prefix: &str) -> String {
        self.text
            .lines()
            .map(str::trim)
            .find_map(|l| l.strip_prefix(prefix))
            .map(|v| v.trim().to_string())
            .unwrap_or_default()
    }
}

/// `wrk -t2 -c<conns> -d<secs>s --latency` with a bearer token; `None` when
/// wrk is not installed.
/// Panics if wrk saw a non-2xx answer: a figure of refusals is no figure.
pub fn run(url: &str, token: &str, secs: usize, conns: usize) -> Option<Report> {
    let out = Command::new("wrk")
        .args([
            "-t2",
            &format!("-c{conns}"),
            &format!("-d{secs}s"),
            "--latency",
            "-H",
            &format!("Authorization: Bearer {token}"),
            url,
        ])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(!text.contains("Non-2xx"), "wrk saw error responses: {text}");
    Some(Report { text })
}
