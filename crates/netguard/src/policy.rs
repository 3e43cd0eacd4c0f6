//! The egress policy: host allow/block lists, `allow_private` grants and the
//! fetch limits. It decides on names only; addresses are judged by
//! `classify`, and nothing here resolves or connects.

use std::time::Duration;

use url::Host;

use crate::error::PatternError;

/// An exact host (`api.example.com`) or every subdomain of a suffix
/// (`*.example.com`, which does not match `example.com` itself). Never a
/// substring match.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostPattern {
    Exact(String),
    Suffix(String),
}

impl HostPattern {
    /// Parses `host` or `*.suffix`; names are IDNA-normalised and lowercased,
    /// a trailing dot is dropped, IPv6 literals may carry brackets.
    pub fn parse(pattern: &str) -> Result<Self, PatternError> {
        let err = |why| PatternError {
            pattern: pattern.to_owned(),
            why,
        };
        let trimmed = pattern.trim();
        let (is_suffix, body) = match trimmed.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, trimmed),
        };
        if body.contains('*') {
            return Err(err("'*' is only allowed as a leading '*.'"));
        }
        if body.is_empty() {
            return Err(err("empty host"));
        }
        let host = Host::parse(body).map_err(|_| err("not a valid host"))?;
        let key = host_key(&host).ok_or_else(|| err("empty label in host"))?;
        if is_suffix {
            if !matches!(host, Host::Domain(_)) {
                return Err(err("'*.' needs a domain suffix, not an IP address"));
            }
            Ok(HostPattern::Suffix(key))
        } else {
            Ok(HostPattern::Exact(key))
        }
    }

    /// Whether a normalised host key (see [`host_key`]) matches.
    pub fn matches(&self, host: &str) -> bool {
        match self {
            HostPattern::Exact(h) => h == host,
            HostPattern::Suffix(s) => host
                .strip_suffix(s.as_str())
                .is_some_and(|head| head.len() > 1 && head.ends_with('.')),
        }
    }
}

/// The normalised form of a host used for every comparison and lookup:
/// lowercase, one trailing dot dropped, IPv6 without brackets. `None` when a
/// domain has an empty label (`a..b`, `x..`).
pub fn host_key(host: &Host<String>) -> Option<String> {
    match host {
        Host::Domain(d) => normalize_domain(d),
        Host::Ipv4(ip) => Some(ip.to_string()),
        Host::Ipv6(ip) => Some(ip.to_string()),
    }
}

/// Lowercases a domain and drops one trailing dot; `None` on empty labels.
pub fn normalize_domain(domain: &str) -> Option<String> {
    let lower = domain.to_ascii_lowercase();
    let name = lower.strip_suffix('.').unwrap_or(&lower);
    if name.is_empty() || name.split('.').any(str::is_empty) {
        return None;
    }
    Some(name.to_owned())
}

/// `localhost` and `*.localhost` always mean loopback (RFC 6761), whatever a
/// resolver says.
pub fn is_localhost_name(key: &str) -> bool {
    key == "localhost" || key.ends_with(".localhost")
}

/// Fetch limits. Defaults: 5 MiB bodies, 10 s to connect, 30 s per read,
/// 60 s in all, 5 redirects, 10 fetches at once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    pub connect_timeout: Duration,
    /// Longest wait for response headers or for the next body chunk.
    pub read_timeout: Duration,
    /// The whole fetch, redirects and waiting for a slot included.
    pub total_timeout: Duration,
    pub max_body_bytes: usize,
    pub max_redirects: usize,
    /// Requests in flight at once per [`crate::Client`] (one per caller).
    pub max_concurrent: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(30),
            total_timeout: Duration::from_secs(60),
            max_body_bytes: 5 * 1024 * 1024,
            max_redirects: 5,
            max_concurrent: 10,
        }
    }
}

/// What may be reached. The default allows every public http(s) host and
/// refuses every special-purpose address.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    allow: Vec<HostPattern>,
    block: Vec<HostPattern>,
    allow_private: Vec<HostPattern>,
    limits: Limits,
}

/// Why a host was refused by name, if it was.
pub(crate) enum HostVerdict {
    Refused(String),
    /// Passed; `private_ok` is the owner's explicit `allow_private` grant.
    Passed {
        private_ok: bool,
    },
}

impl Policy {
    /// Starts from the defaults.
    pub fn builder() -> PolicyBuilder {
        PolicyBuilder {
            policy: Policy::default(),
        }
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Judges a normalised host key by name. An allow-list hit never skips
    /// the address check; only an `allow_private` grant does.
    pub(crate) fn judge_host(&self, key: &str) -> HostVerdict {
        if crate::metadata::is_metadata_name(key) {
            return HostVerdict::Refused("a cloud metadata service name".to_owned());
        }
        if self.block.iter().any(|p| p.matches(key)) {
            return HostVerdict::Refused("on the block list".to_owned());
        }
        if !self.allow.is_empty() && !self.allow.iter().any(|p| p.matches(key)) {
            return HostVerdict::Refused("not on the allow list".to_owned());
        }
        let private_ok = self.allow_private.iter().any(|p| p.matches(key));
        if is_localhost_name(key) && !private_ok {
            return HostVerdict::Refused("localhost names always mean loopback".to_owned());
        }
        if crate::metadata::is_private_zone(key) && !private_ok {
            return HostVerdict::Refused("a name in a private-network zone".to_owned());
        }
        HostVerdict::Passed { private_ok }
    }
}

/// Builds a [`Policy`]; pattern methods fail on a malformed pattern.
#[derive(Clone, Debug)]
pub struct PolicyBuilder {
    policy: Policy,
}

impl PolicyBuilder {
    /// Once any allow entry exists, only matching hosts are reachable.
    pub fn allow(mut self, pattern: &str) -> Result<Self, PatternError> {
        self.policy.allow.push(HostPattern::parse(pattern)?);
        Ok(self)
    }

    /// Matching hosts are refused before any DNS lookup.
    pub fn block(mut self, pattern: &str) -> Result<Self, PatternError> {
        self.policy.block.push(HostPattern::parse(pattern)?);
        Ok(self)
    }

    /// The owner's explicit grant: matching hosts may resolve to private or
    /// special addresses (a NAS on the LAN, a local test server).
    pub fn allow_private(mut self, pattern: &str) -> Result<Self, PatternError> {
        self.policy.allow_private.push(HostPattern::parse(pattern)?);
        Ok(self)
    }

    pub fn limits(mut self, limits: Limits) -> Self {
        self.policy.limits = limits;
        self
    }

    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.policy.limits.connect_timeout = d;
        self
    }

    pub fn read_timeout(mut self, d: Duration) -> Self {
        self.policy.limits.read_timeout = d;
        self
    }

    pub fn total_timeout(mut self, d: Duration) -> Self {
        self.policy.limits.total_timeout = d;
        self
    }

    pub fn max_body_bytes(mut self, n: usize) -> Self {
        self.policy.limits.max_body_bytes = n;
        self
    }

    pub fn max_redirects(mut self, n: usize) -> Self {
        self.policy.limits.max_redirects = n;
        self
    }

    /// At least 1.
    pub fn max_concurrent(mut self, n: usize) -> Self {
        self.policy.limits.max_concurrent = n.max(1);
        self
    }

    pub fn build(self) -> Policy {
        self.policy
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_are_exact_or_suffix_never_substring() {
        let exact = HostPattern::parse("Example.COM.").unwrap();
        assert!(exact.matches("example.com"));
        assert!(!exact.matches("evil-example.com"));
        assert!(!exact.matches("example.com.evil.net"));
        assert!(!exact.matches("a.example.com"));
        let suffix = HostPattern::parse("*.example.com").unwrap();
        assert!(suffix.matches("a.example.com"));
        assert!(suffix.matches("a.b.example.com"));
        assert!(!suffix.matches("example.com"));
        assert!(!suffix.matches("evilexample.com"));
        assert!(!suffix.matches(".example.com"));
    }

    #[test]
    fn malformed_patterns_are_refused() {
        assert!(HostPattern::parse("").is_err());
        assert!(HostPattern::parse("*").is_err());
        assert!(HostPattern::parse("a.*.com").is_err());
        assert!(HostPattern::parse("*.127.0.0.1").is_err());
        assert!(HostPattern::parse("a..b").is_err());
        assert_eq!(
            HostPattern::parse("[::1]").unwrap(),
            HostPattern::Exact("::1".into())
        );
    }

    #[test]
    fn localhost_names() {
        assert!(is_localhost_name("localhost"));
        assert!(is_localhost_name("a.b.localhost"));
        assert!(!is_localhost_name("notlocalhost"));
        assert!(!is_localhost_name("localhost.example.com"));
        assert_eq!(normalize_domain("LOCALHOST."), Some("localhost".into()));
        assert_eq!(normalize_domain("localhost.."), None);
    }

    #[test]
    fn allow_list_miss_and_block_list_hit_refuse() {
        let p = Policy::builder()
            .allow("*.good.org")
            .unwrap()
            .block("bad.good.org")
            .unwrap()
            .build();
        assert!(matches!(
            p.judge_host("x.good.org"),
            HostVerdict::Passed { private_ok: false }
        ));
        assert!(matches!(
            p.judge_host("bad.good.org"),
            HostVerdict::Refused(_)
        ));
        assert!(matches!(p.judge_host("other.org"), HostVerdict::Refused(_)));
    }
}
