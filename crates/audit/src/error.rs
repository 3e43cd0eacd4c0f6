//! Errors of the audit crate. Messages never include key material.

use std::path::PathBuf;

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// An audit key must be exactly 32 bytes (64 hex digits).
    #[error("audit key must be 32 bytes")]
    InvalidKey,
    /// A stored actor kind is not one of the known kinds.
    #[error("unknown actor kind {0:?}")]
    UnknownActorKind(String),
    /// A stored outcome is not `success`, `failure` or `denied`.
    #[error("unknown outcome {0:?}")]
    UnknownOutcome(String),
    /// The anchor file could not be read or written.
    #[error("anchor file {path}: {source}")]
    AnchorIo {
        /// The anchor file.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The anchor file exists but is not a well-formed anchor.
    #[error("anchor file {path} is malformed: {reason}")]
    AnchorFormat {
        /// The anchor file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

/// Result alias for this crate.
pub type Result<T, E = AuditError> = std::result::Result<T, E>;
