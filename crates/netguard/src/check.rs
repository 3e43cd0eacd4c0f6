//! The URL-and-policy path: parse (WHATWG), scheme, names, one resolution,
//! classification of every address. It produces the pinned [`Target`] that
//! the client connects to, or the reason for refusal; it never connects.

use std::net::{IpAddr, SocketAddr};

use serde::Serialize;
use url::{Host, Url};

use crate::classify::classify;
use crate::error::NetError;
use crate::policy::{HostVerdict, Policy, host_key};
use crate::resolve::Resolve;

/// A destination that passed every check, with the only addresses that may
/// be dialled for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub url: Url,
    /// Normalised host (lowercase, no trailing dot, IPv6 without brackets).
    pub host: String,
    pub port: u16,
    pub addrs: Vec<SocketAddr>,
}

impl Target {
    pub fn is_https(&self) -> bool {
        self.url.scheme() == "https"
    }

    /// The `Host` header value: brackets for IPv6, port only when not default.
    pub fn host_header(&self) -> String {
        let host = match self.url.host() {
            Some(Host::Ipv6(ip)) => format!("[{ip}]"),
            _ => self.host.clone(),
        };
        match self.url.port() {
            Some(p) => format!("{host}:{p}"),
            None => host,
        }
    }
}

/// What [`inspect`] learned, even when the URL was refused.
pub(crate) struct Inspection {
    pub url: Option<Url>,
    pub addresses: Vec<IpAddr>,
    pub outcome: Result<Target, NetError>,
}

/// The result of `hardshell net check`; serialises to
/// `{"url","allowed","reason","addresses","detail"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CheckReport {
    /// The URL after WHATWG normalisation (the input if it did not parse).
    pub url: String,
    pub allowed: bool,
    /// `allowed` or a [`NetError::reason`] code.
    pub reason: String,
    /// Every address the host resolved to (or the literal address).
    pub addresses: Vec<String>,
    /// Why, in words, e.g. `127.0.0.1 is in 127.0.0.0/8 (loopback)`.
    pub detail: Option<String>,
}

/// Resolves and classifies `url` under `policy` without fetching anything.
pub async fn check(url: &str, policy: &Policy, resolver: &dyn Resolve) -> CheckReport {
    let inspection = inspect(url, policy, resolver).await;
    let shown = inspection
        .url
        .as_ref()
        .map_or_else(|| url.to_owned(), Url::to_string);
    let addresses = inspection.addresses.iter().map(IpAddr::to_string).collect();
    match inspection.outcome {
        Ok(_) => CheckReport {
            url: shown,
            allowed: true,
            reason: "allowed".into(),
            addresses,
            detail: None,
        },
        Err(e) => CheckReport {
            url: shown,
            allowed: false,
            reason: e.reason().into(),
            addresses,
            detail: Some(e.to_string()),
        },
    }
}

/// Parses a URL and checks it; the client's entry point for every hop.
pub(crate) async fn prepare(
    url: &str,
    policy: &Policy,
    resolver: &dyn Resolve,
) -> Result<Target, NetError> {
    inspect(url, policy, resolver).await.outcome
}

pub(crate) async fn inspect(url: &str, policy: &Policy, resolver: &dyn Resolve) -> Inspection {
    match Url::parse(url.trim()) {
        Ok(parsed) => inspect_url(parsed, policy, resolver).await,
        Err(e) => Inspection {
            url: None,
            addresses: Vec::new(),
            outcome: Err(NetError::InvalidUrl(e.to_string())),
        },
    }
}

/// Checks an already parsed URL (redirect targets arrive parsed).
pub(crate) async fn inspect_url(url: Url, policy: &Policy, resolver: &dyn Resolve) -> Inspection {
    let mut addresses = Vec::new();
    let outcome = judge(&url, policy, resolver, &mut addresses).await;
    Inspection {
        url: Some(url),
        addresses,
        outcome,
    }
}

async fn judge(
    url: &Url,
    policy: &Policy,
    resolver: &dyn Resolve,
    addresses: &mut Vec<IpAddr>,
) -> Result<Target, NetError> {
    let scheme = url.scheme();
    if scheme != "http" && scheme != "https" {
        return Err(NetError::BlockedScheme(scheme.to_owned()));
    }
    // Credentials in a URL are how `http://good.com@evil` tricks read; they
    // would also leak to every redirect hop.
    if !url.username().is_empty() || url.password().is_some() {
        return Err(NetError::InvalidUrl(
            "credentials (user:pass@) in a URL are not allowed".into(),
        ));
    }
    let host = url
        .host()
        .ok_or_else(|| NetError::InvalidUrl("no host".into()))?;
    let host = host.to_owned();
    let key =
        host_key(&host).ok_or_else(|| NetError::InvalidUrl("empty label in host name".into()))?;
    let port = url
        .port_or_known_default()
        .ok_or_else(|| NetError::InvalidUrl("no port".into()))?;
    let private_ok = match policy.judge_host(&key) {
        HostVerdict::Refused(why) => return Err(NetError::BlockedHost { host: key, why }),
        HostVerdict::Passed { private_ok } => private_ok,
    };
    match host {
        Host::Ipv4(ip) => addresses.push(IpAddr::V4(ip)),
        Host::Ipv6(ip) => addresses.push(IpAddr::V6(ip)),
        Host::Domain(_) => {
            let resolved =
                resolver
                    .resolve(&key, port)
                    .await
                    .map_err(|e| NetError::DnsFailure {
                        host: key.clone(),
                        detail: e.0,
                    })?;
            for ip in resolved {
                if !addresses.contains(&ip) {
                    addresses.push(ip);
                }
            }
            if addresses.is_empty() {
                return Err(NetError::DnsFailure {
                    host: key,
                    detail: "no addresses".into(),
                });
            }
        }
    }
    // One special address refuses the whole name: a mixed answer is how
    // rebinding flips between a public and a private address.
    if !private_ok {
        for ip in addresses.iter() {
            if let Some(range) = classify(*ip) {
                return Err(NetError::BlockedAddress { ip: *ip, range });
            }
        }
    }
    let addrs = addresses
        .iter()
        .map(|ip| SocketAddr::new(*ip, port))
        .collect();
    Ok(Target {
        url: url.clone(),
        host: key,
        port,
        addrs,
    })
}
