//! Name resolution behind a trait, so that the system resolver, `--resolve`
//! overrides and test stubs are interchangeable. A resolver only answers
//! names; it never judges addresses (that is `classify`'s job) and nothing
//! else in netguard resolves.

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;

use crate::error::OverrideError;
use crate::policy::normalize_domain;

/// A boxed, sendable future, as returned by [`Resolve`] and [`crate::Dial`].
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A lookup that produced no address.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("{0}")]
pub struct ResolveError(pub String);

/// Resolves a normalised host name (lowercase, no trailing dot) to addresses.
pub trait Resolve: Send + Sync {
    fn resolve<'a>(
        &'a self,
        host: &'a str,
        port: u16,
    ) -> BoxFuture<'a, Result<Vec<IpAddr>, ResolveError>>;
}

/// The operating system's resolver (getaddrinfo on tokio's blocking pool),
/// bounded by [`SystemResolver::LOOKUP_TIMEOUT`]. Needs a tokio runtime.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemResolver;

impl SystemResolver {
    /// A lookup slower than this fails as a DNS failure.
    pub const LOOKUP_TIMEOUT: Duration = Duration::from_secs(10);
}

impl Resolve for SystemResolver {
    fn resolve<'a>(
        &'a self,
        host: &'a str,
        port: u16,
    ) -> BoxFuture<'a, Result<Vec<IpAddr>, ResolveError>> {
        Box::pin(async move {
            let addrs =
                tokio::time::timeout(Self::LOOKUP_TIMEOUT, tokio::net::lookup_host((host, port)))
                    .await
                    .map_err(|_| ResolveError("lookup timed out".into()))?
                    .map_err(|e| ResolveError(e.to_string()))?;
            let mut ips: Vec<IpAddr> = Vec::new();
            for a in addrs {
                if !ips.contains(&a.ip()) {
                    ips.push(a.ip());
                }
            }
            Ok(ips)
        })
    }
}

/// A fixed host → addresses map, like curl's `--resolve`: listed hosts never
/// reach DNS; others go to the fallback resolver, or fail without one.
#[derive(Clone, Default)]
pub struct StaticResolver {
    map: HashMap<String, Vec<IpAddr>>,
    fallback: Option<Arc<dyn Resolve>>,
}

impl std::fmt::Debug for StaticResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaticResolver")
            .field("map", &self.map)
            .field("fallback", &self.fallback.is_some())
            .finish()
    }
}

impl StaticResolver {
    /// No entries and no fallback: every unlisted name fails to resolve.
    pub fn new() -> Self {
        Self::default()
    }

    /// Unlisted names go to `fallback` (e.g. [`SystemResolver`]).
    pub fn with_fallback(fallback: Arc<dyn Resolve>) -> Self {
        StaticResolver {
            map: HashMap::new(),
            fallback: Some(fallback),
        }
    }

    /// Adds an address for a host (several calls add several addresses).
    pub fn insert(&mut self, host: &str, ip: IpAddr) {
        let key = normalize_domain(host).unwrap_or_else(|| host.to_ascii_lowercase());
        let entry = self.map.entry(key).or_default();
        if !entry.contains(&ip) {
            entry.push(ip);
        }
    }

    /// Builder form of [`StaticResolver::insert`].
    pub fn with(mut self, host: &str, ip: IpAddr) -> Self {
        self.insert(host, ip);
        self
    }

    /// Adds a `HOST:IP` override (the CLI's `--resolve`); an IPv6 address may
    /// be bare or in brackets: `host:::1`, `host:[::1]`.
    pub fn add_override(&mut self, spec: &str) -> Result<(), OverrideError> {
        let (host, ip) = parse_override(spec)?;
        self.insert(&host, ip);
        Ok(())
    }
}

/// Splits a `HOST:IP` override.
pub fn parse_override(spec: &str) -> Result<(String, IpAddr), OverrideError> {
    let err = || OverrideError {
        spec: spec.to_owned(),
    };
    let (host, ip) = spec.split_once(':').ok_or_else(err)?;
    let ip = ip
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .unwrap_or(ip);
    let ip: IpAddr = ip.parse().map_err(|_| err())?;
    let host = url::Host::parse(host).map_err(|_| err())?;
    let key = crate::policy::host_key(&host).ok_or_else(err)?;
    Ok((key, ip))
}

impl Resolve for StaticResolver {
    fn resolve<'a>(
        &'a self,
        host: &'a str,
        port: u16,
    ) -> BoxFuture<'a, Result<Vec<IpAddr>, ResolveError>> {
        if let Some(ips) = self.map.get(host) {
            let ips = ips.clone();
            return Box::pin(async move { Ok(ips) });
        }
        match &self.fallback {
            Some(inner) => inner.resolve(host, port),
            None => Box::pin(async move { Err(ResolveError(format!("no address for {host}"))) }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_parse_like_curl_resolve() {
        assert_eq!(
            parse_override("Evil.COM.:127.0.0.1").unwrap(),
            ("evil.com".into(), "127.0.0.1".parse().unwrap())
        );
        assert_eq!(
            parse_override("h:::1").unwrap().1,
            "::1".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            parse_override("h:[fd00::1]").unwrap().1,
            "fd00::1".parse::<IpAddr>().unwrap()
        );
        assert!(parse_override("h").is_err());
        assert!(parse_override("h:not-an-ip").is_err());
        assert!(parse_override(":1.2.3.4").is_err());
    }

    #[tokio::test]
    async fn static_entries_shadow_the_fallback() {
        let inner = StaticResolver::new()
            .with("a.example", "8.8.8.8".parse().unwrap())
            .with("b.example", "1.1.1.1".parse().unwrap());
        let outer = StaticResolver::with_fallback(Arc::new(inner))
            .with("A.example.", "10.0.0.1".parse().unwrap());
        assert_eq!(
            outer.resolve("a.example", 80).await.unwrap(),
            vec!["10.0.0.1".parse::<IpAddr>().unwrap()]
        );
        assert_eq!(
            outer.resolve("b.example", 80).await.unwrap(),
            vec!["1.1.1.1".parse::<IpAddr>().unwrap()]
        );
        assert!(outer.resolve("c.example", 80).await.is_err());
    }

    #[tokio::test]
    async fn system_resolver_answers_from_the_hosts_file() {
        // `localhost` comes from /etc/hosts: no query leaves the machine.
        let ips = SystemResolver.resolve("localhost", 80).await.unwrap();
        assert!(!ips.is_empty());
        assert!(ips.iter().all(|ip| ip.is_loopback()), "{ips:?}");
    }
}
