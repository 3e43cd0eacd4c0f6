//! Structured logs (tracing) to stderr, with vault values scrubbed.
//!
//! Every formatted log line passes through a redactor that knows the
//! unlocked vault's values, so a secret that slips into a log field (an
//! error message quoting a header, say) is written as `[REDACTED]`. It must
//! never be bypassed: the subscriber's only writer is `RedactingWriter`.

use std::io::Write;
use std::sync::{Arc, RwLock};

use aho_corasick::AhoCorasick;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Shorter values are too likely to match ordinary text; vault values the
/// product generates are far longer.
const MIN_SECRET_LEN: usize = 6;

/// The set of values to scrub; swapped in once the vault is unlocked.
#[derive(Clone, Default)]
pub struct LogRedactor {
    matcher: Arc<RwLock<Option<AhoCorasick>>>,
}

impl LogRedactor {
    /// Replaces the scrub list (e.g. after `vault set`).
    pub fn set_secrets<I, S>(&self, values: I)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let patterns: Vec<String> = values
            .into_iter()
            .map(|s| s.as_ref().to_string())
            .filter(|s| s.len() >= MIN_SECRET_LEN)
            .collect();
        let matcher = if patterns.is_empty() {
            None
        } else {
            AhoCorasick::builder()
                .match_kind(aho_corasick::MatchKind::LeftmostLongest)
                .build(&patterns)
                .ok()
        };
        if let Ok(mut slot) = self.matcher.write() {
            *slot = matcher;
        }
    }

    pub fn redact(&self, bytes: &[u8]) -> Vec<u8> {
        let guard = match self.matcher.read() {
            Ok(g) => g,
            // A poisoned lock means a panic mid-update: fail closed.
            Err(_) => return b"[log line withheld]\n".to_vec(),
        };
        match guard.as_ref() {
            Some(ac) => {
                let mut out = Vec::with_capacity(bytes.len());
                ac.replace_all_with_bytes(bytes, &mut out, |_, _, dst| {
                    dst.extend_from_slice(b"[REDACTED]");
                    true
                });
                out
            }
            None => bytes.to_vec(),
        }
    }
}

pub struct RedactingWriter {
    redactor: LogRedactor,
    buf: Vec<u8>,
}

impl Write for RedactingWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let clean = self.redactor.redact(&self.buf);
        self.buf.clear();
        std::io::stderr().lock().write_all(&clean)
    }
}

impl Drop for RedactingWriter {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

impl<'a> MakeWriter<'a> for LogRedactor {
    type Writer = RedactingWriter;
    fn make_writer(&'a self) -> Self::Writer {
        RedactingWriter {
            redactor: self.clone(),
            buf: Vec::with_capacity(256),
        }
    }
}

/// Installs the global subscriber. `HARDSHELL_LOG` (or `RUST_LOG`) sets the
/// filter; the default is `info`. `HARDSHELL_LOG_FORMAT=json` gives JSON lines.
pub fn init() -> LogRedactor {
    let redactor = LogRedactor::default();
    let filter = EnvFilter::try_from_env("HARDSHELL_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(redactor.clone())
        .with_target(false)
        .with_ansi(false);
    let json = std::env::var("HARDSHELL_LOG_FORMAT").is_ok_and(|v| v == "json");
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
    redactor
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrubs_installed_values_and_keeps_the_rest() {
        let r = LogRedactor::default();
        assert_eq!(r.redact(b"token sk-abcdef123"), b"token sk-abcdef123");
        r.set_secrets(["sk-abcdef123", "short"]);
        let out = String::from_utf8(r.redact(b"token=sk-abcdef123 user=short")).unwrap();
        assert_eq!(out, "token=[REDACTED] user=short");
    }
}
