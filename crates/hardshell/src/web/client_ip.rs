//! Which address a request really came from.
//!
//! `X-Forwarded-For` and `X-Real-IP` are believed only when the TCP peer is
//! a configured trusted proxy; otherwise anyone could pick their own
//! throttling key. A request that came through a proxy is never "local".

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;

use crate::config::{ProxyNet, canonical_ip};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr {
    pub ip: IpAddr,
    /// True when the peer was a trusted proxy that forwarded the request.
    pub proxied: bool,
}

impl ClientAddr {
    /// Loopback and not relayed by a proxy.
    pub fn is_local(&self) -> bool {
        !self.proxied && self.ip.is_loopback()
    }
}

pub fn client_addr(peer: SocketAddr, headers: &HeaderMap, trusted: &[ProxyNet]) -> ClientAddr {
    let peer_ip = canonical_ip(peer.ip());
    let is_trusted = |ip: IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(peer_ip) {
        return ClientAddr {
            ip: peer_ip,
            proxied: false,
        };
    }
    // Walk X-Forwarded-For from the right: the nearest hop that is not one
    // of our proxies is the client. Entries left of it are client-supplied.
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse::<IpAddr>().ok())
        .map(canonical_ip)
        .collect();
    if let Some(ip) = forwarded.iter().rev().find(|ip| !is_trusted(**ip)) {
        return ClientAddr {
            ip: *ip,
            proxied: true,
        };
    }
    if let Some(ip) = headers
        .get("x-real-ip")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<IpAddr>().ok())
    {
        return ClientAddr {
            ip: canonical_ip(ip),
            proxied: true,
        };
    }
    ClientAddr {
        ip: forwarded.first().copied().unwrap_or(peer_ip),
        proxied: !forwarded.is_empty(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    fn peer(ip: &str) -> SocketAddr {
        SocketAddr::new(ip.parse().unwrap(), 4000)
    }

    #[test]
    fn untrusted_peer_cannot_spoof() {
        let trusted = [ProxyNet::parse("10.0.0.1").unwrap()];
        let h = headers(&[("x-forwarded-for", "1.2.3.4"), ("x-real-ip", "5.6.7.8")]);
        let c = client_addr(peer("203.0.113.9"), &h, &trusted);
        assert_eq!(c.ip, "203.0.113.9".parse::<IpAddr>().unwrap());
        assert!(!c.proxied);
        // Loopback peers get no exemption either.
        let c = client_addr(peer("127.0.0.1"), &h, &trusted);
        assert_eq!(c.ip, "127.0.0.1".parse::<IpAddr>().unwrap());
        assert!(c.is_local());
    }

    #[test]
    fn trusted_proxy_yields_rightmost_untrusted_hop() {
        let trusted = [
            ProxyNet::parse("127.0.0.1").unwrap(),
            ProxyNet::parse("10.0.0.0/16").unwrap(),
        ];
        // The client claims 9.9.9.9; the proxy appended the real address.
        let h = headers(&[("x-forwarded-for", "9.9.9.9, 198.51.100.7, 10.0.0.5")]);
        let c = client_addr(peer("127.0.0.1"), &h, &trusted);
        assert_eq!(c.ip, "198.51.100.7".parse::<IpAddr>().unwrap());
        assert!(c.proxied);
        assert!(!c.is_local());
    }

    #[test]
    fn proxied_loopback_is_not_local() {
        let trusted = [ProxyNet::parse("127.0.0.1").unwrap()];
        let h = headers(&[("x-real-ip", "127.0.0.1")]);
        let c = client_addr(peer("127.0.0.1"), &h, &trusted);
        assert!(c.proxied);
        assert!(!c.is_local());
    }

    #[test]
    fn garbage_headers_fall_back_to_peer() {
        let trusted = [ProxyNet::parse("127.0.0.1").unwrap()];
        let h = headers(&[("x-forwarded-for", "not-an-ip, also bad")]);
        let c = client_addr(peer("127.0.0.1"), &h, &trusted);
        assert_eq!(c.ip, "127.0.0.1".parse::<IpAddr>().unwrap());
        assert!(!c.proxied);
    }
}
