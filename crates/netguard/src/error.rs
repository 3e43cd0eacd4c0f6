//! Why a destination or a fetch was refused. Every refusal carries a stable
//! machine-readable reason code; messages never include response bodies.

use std::net::IpAddr;

use thiserror::Error;

use crate::classify::BlockedRange;

/// Everything that can stop a check or a fetch.
#[derive(Debug, Error)]
pub enum NetError {
    /// The URL did not parse, or uses a form netguard refuses (credentials).
    #[error("invalid URL: {0}")]
    InvalidUrl(String),
    /// Only http and https are allowed.
    #[error("scheme {0:?} is not allowed (only http and https)")]
    BlockedScheme(String),
    /// The host name is refused by name: block list, allow list, or a
    /// reserved name such as `localhost`.
    #[error("host {host} is blocked: {why}")]
    BlockedHost { host: String, why: String },
    /// An address the host resolved to (or the literal address) is special.
    #[error("{ip} is in {range}")]
    BlockedAddress { ip: IpAddr, range: BlockedRange },
    /// The name did not resolve to any address.
    #[error("DNS lookup for {host} failed: {detail}")]
    DnsFailure { host: String, detail: String },
    /// More redirects than the policy allows.
    #[error("more than {max} redirects")]
    TooManyRedirects { max: usize },
    /// A streamed request was answered with a redirect, which streaming
    /// callers never follow.
    #[error("the server answered {status} (a redirect); redirects are not followed here")]
    RedirectRefused { status: u16 },
    /// The egress hook refused to finish the request (nothing was sent).
    #[error("refused at egress: {0}")]
    Egress(String),
    /// The response body is larger than the cap.
    #[error("response body exceeds {limit} bytes")]
    BodyTooLarge { limit: usize },
    /// A connect, read or total timeout fired.
    #[error("timed out while {0}")]
    Timeout(&'static str),
    /// No TCP connection to any of the checked addresses.
    #[error("could not connect: {0}")]
    Connect(String),
    /// The TLS handshake failed (or TLS could not be set up).
    #[error("TLS failure: {0}")]
    Tls(String),
    /// The HTTP exchange failed.
    #[error("HTTP failure: {0}")]
    Http(String),
    /// The request itself is malformed (bad method or header).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
}

impl NetError {
    /// A stable snake_case code for logs, JSON and tests.
    pub fn reason(&self) -> &'static str {
        match self {
            NetError::InvalidUrl(_) => "invalid_url",
            NetError::BlockedScheme(_) => "blocked_scheme",
            NetError::BlockedHost { .. } => "blocked_host",
            NetError::BlockedAddress { .. } => "blocked_address",
            NetError::DnsFailure { .. } => "dns_failure",
            NetError::TooManyRedirects { .. } => "too_many_redirects",
            NetError::RedirectRefused { .. } => "redirect_refused",
            NetError::Egress(_) => "egress_refused",
            NetError::BodyTooLarge { .. } => "body_too_large",
            NetError::Timeout(_) => "timeout",
            NetError::Connect(_) => "connect_failed",
            NetError::Tls(_) => "tls_failure",
            NetError::Http(_) => "http_failure",
            NetError::InvalidRequest(_) => "invalid_request",
        }
    }

    /// True when the policy refused the destination (as opposed to a network
    /// or protocol failure on an allowed one).
    pub fn is_policy_refusal(&self) -> bool {
        matches!(
            self,
            NetError::InvalidUrl(_)
                | NetError::BlockedScheme(_)
                | NetError::BlockedHost { .. }
                | NetError::BlockedAddress { .. }
                | NetError::DnsFailure { .. }
                | NetError::TooManyRedirects { .. }
                | NetError::RedirectRefused { .. }
                | NetError::Egress(_)
        )
    }
}

/// A host pattern that does not parse.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("invalid host pattern {pattern:?}: {why}")]
pub struct PatternError {
    pub pattern: String,
    pub why: &'static str,
}

/// A `--resolve HOST:IP` override that does not parse.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("invalid resolve override {spec:?}: expected HOST:IP")]
pub struct OverrideError {
    pub spec: String,
}
