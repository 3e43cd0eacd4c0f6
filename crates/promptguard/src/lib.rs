//! promptguard: prompt-injection scanner and secret-leak redactor for
//! untrusted content (docs/architecture.md, "The path of an agent turn").
//!
//! Owns: normalising and scanning text for injection evidence, redacting
//! secret values and well-known key formats, stripping chat-template tokens
//! and wrapping untrusted content in nonce-carrying boundary markers.
//! Must never block by itself: `scan` returns evidence and a score; the caller
//! decides (the agent runtime taints the turn).

mod boundary;
mod context;
mod decode;
mod engine;
mod normalize;
mod redact;
mod rules;
mod scan;
mod stream;

pub use boundary::{strip_template_tokens, wrap_untrusted};
pub use redact::{FULL_VARIANTS_MIN_LEN, Hit, MIN_SECRET_LEN, REDACTED, Redactor, redact};
pub use scan::{FLAG_THRESHOLD, Finding, Verdict, scan, warm_up};
pub use stream::StreamRedactor;
