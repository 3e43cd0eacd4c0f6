//! DNS-rebinding defence: a request must name this server in its `Host`.
//!
//! A page on a rebinding domain (`evil.example` re-resolved to 127.0.0.1)
//! reaches the server with `Host: evil.example`; answering it would let
//! that page read our public routes as its own origin. So the `Host` must
//! be an IP literal (rebinding needs a name), `localhost`, or a configured
//! name (`public_origin`, `allowed_origins`); anything else gets 421.
//! It must never consult `X-Forwarded-Host` or anything else a client sets
//! besides `Host` itself.

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::Request;
use axum::http::{StatusCode, header, uri::Authority};
use axum::response::{IntoResponse, Response};

use super::ApiError;

/// The host names (lowercase, no trailing dot) this server answers to,
/// besides IP literals.
#[derive(Clone)]
pub struct AllowedHosts(Arc<HashSet<String>>);

impl AllowedHosts {
    /// `localhost`, plus the host of every origin the server accepts.
    pub fn from_origins(origins: &[String]) -> Self {
        let mut names: HashSet<String> = HashSet::from(["localhost".to_string()]);
        for o in origins {
            if let Some(host) = url::Url::parse(o)
                .ok()
                .and_then(|u| u.host_str().map(normalise))
            {
                names.insert(host);
            }
        }
        Self(Arc::new(names))
    }

    /// Whether a `Host` header value names this server.
    pub fn admits(&self, host_header: &str) -> bool {
        // A Host never carries user info; `user@localhost` is a trick.
        if host_header.contains('@') {
            return false;
        }
        let Ok(authority) = host_header.parse::<Authority>() else {
            return false;
        };
        let host = authority.host();
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        if bare.parse::<IpAddr>().is_ok() {
            return true;
        }
        self.0.contains(&normalise(host))
    }
}

fn normalise(host: &str) -> String {
    host.trim_end_matches('.').to_ascii_lowercase()
}

/// `None` when the request names this server, else the 421 to send.
pub fn refusal(allowed: &AllowedHosts, req: &Request) -> Option<Response> {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().authority().map(Authority::as_str));
    match host {
        Some(h) if allowed.admits(h) => None,
        _ => Some(
            ApiError::new(
                StatusCode::MISDIRECTED_REQUEST,
                "unknown_host",
                "this server does not answer to that host name",
            )
            .into_response(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admits_ip_literals_localhost_and_configured_names_only() {
        let a = AllowedHosts::from_origins(&[
            "http://127.0.0.1:18780".into(),
            "https://Hardshell.Example.com".into(),
        ]);
        for ok in [
            "127.0.0.1:18780",
            "127.0.0.1",
            "[::1]:18780",
            "10.0.0.5:443",
            "localhost:18780",
            "LOCALHOST",
            "hardshell.example.com",
            "hardshell.example.com.:443",
        ] {
            assert!(a.admits(ok), "{ok}");
        }
        for bad in [
            "evil.example",
            "evil.example:18780",
            "localhost.evil.example",
            "hardshell.example.com.evil.example",
            "127.0.0.1.nip.io",
            "",
            "a b",
            "user@localhost",
        ] {
            assert!(!a.admits(bad), "{bad}");
        }
    }
}
