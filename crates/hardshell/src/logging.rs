//! Structured logs (tracing) to stderr, with vault values scrubbed.
//!
//! Every formatted log line passes through promptguard's leak redactor,
//! which knows the unlocked vault's values in their plain, base64, hex and
//! percent-encoded forms plus well-known key formats, so a secret that
//! slips into a log field (an error quoting a header, say) is written as
//! `[REDACTED]`. It must never be bypassed: the subscriber's only writer is
//! `RedactingWriter`.

use std::io::Write;
use std::sync::{Arc, RwLock};

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// The set of values to scrub; swapped in once the vault is unlocked.
#[derive(Clone)]
pub struct LogRedactor {
    matcher: Arc<RwLock<Arc<promptguard::Redactor>>>,
}

impl LogRedactor {
    /// Replaces the scrub list (e.g. after `vault set`).
    pub fn set_secrets<I, S>(&self, values: I)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let redactor = Arc::new(promptguard::Redactor::new(values));
        if let Ok(mut slot) = self.matcher.write() {
            *slot = redactor;
        }
    }

    pub fn redact(&self, bytes: &[u8]) -> Vec<u8> {
        let redactor = match self.matcher.read() {
            Ok(g) => Arc::clone(&g),
            // A poisoned lock means a panic mid-update: fail closed.
            Err(_) => return b"[log line withheld]\n".to_vec(),
        };
        let text = String::from_utf8_lossy(bytes);
        redactor.redact(&text).0.into_bytes()
    }
}

impl Default for LogRedactor {
    fn default() -> Self {
        let empty: [&str; 0] = [];
        Self {
            matcher: Arc::new(RwLock::new(Arc::new(promptguard::Redactor::new(empty)))),
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
        r.set_secrets(["sk-abcdef123", "zz"]);
        let out = String::from_utf8(r.redact(b"token=sk-abcdef123 user=zz")).unwrap();
        assert_eq!(out, "token=[REDACTED] user=zz");
        // Encoded forms of a vault value are caught too (base64 of it here).
        let out = String::from_utf8(r.redact(b"auth=c2stYWJjZGVmMTIz")).unwrap();
        assert!(!out.contains("c2stYWJjZGVmMTIz"), "{out}");
    }

    /// A secret taken out of the scrub list is no longer redacted, and the
    /// redactor that knew it is dropped at once (its variant buffers are
    /// `Zeroizing`, so dropping wipes them) unless a line is mid-write.
    #[test]
    fn replacing_the_list_forgets_and_drops_the_old_redactor() {
        let r = LogRedactor::default();
        r.set_secrets(["vault-value-0123456789", "other-value-9876543210"]);
        let old = std::sync::Arc::downgrade(&r.matcher.read().unwrap());
        let line = b"a=vault-value-0123456789 b=other-value-9876543210";
        assert_eq!(r.redact(line), b"a=[REDACTED] b=[REDACTED]");
        r.set_secrets(["other-value-9876543210"]);
        assert!(old.upgrade().is_none(), "the old redactor is still alive");
        assert_eq!(r.redact(line), b"a=vault-value-0123456789 b=[REDACTED]");
        // At shutdown the list is emptied the same way.
        let last = std::sync::Arc::downgrade(&r.matcher.read().unwrap());
        r.set_secrets([] as [&str; 0]);
        assert!(last.upgrade().is_none());
        assert_eq!(r.redact(line), line);
    }
}
