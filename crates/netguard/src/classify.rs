//! The one IP address classifier: every special-purpose block from the IANA
//! IPv4 and IPv6 registries, plus the IPv6 forms that embed an IPv4 address.
//! It only answers "is this address a blocked destination, and why"; it never
//! resolves names or looks at policy grants.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::Serialize;

/// The special-purpose block an address falls in, which makes it a refused
/// destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct BlockedRange {
    /// The block in CIDR notation, e.g. `127.0.0.0/8`.
    pub cidr: &'static str,
    /// What the block is for, e.g. `loopback`.
    pub name: &'static str,
    /// Set when an IPv6 address was refused for the IPv4 address it embeds.
    pub via: Option<Embedding>,
}

/// An IPv4 address carried inside an IPv6 address (NAT64, 6to4, Teredo, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Embedding {
    /// The IPv6 form, e.g. `NAT64 64:ff9b::/96`.
    pub form: &'static str,
    /// The embedded IPv4 address.
    pub ipv4: Ipv4Addr,
}

impl fmt::Display for BlockedRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.cidr, self.name)?;
        if let Some(via) = self.via {
            write!(f, ", embedded as {} via {}", via.ipv4, via.form)?;
        }
        Ok(())
    }
}

struct V4Block {
    net: u32,
    prefix: u32,
    cidr: &'static str,
    name: &'static str,
}

struct V6Block {
    net: u128,
    prefix: u32,
    cidr: &'static str,
    name: &'static str,
}

const fn v4(a: u8, b: u8, c: u8, d: u8) -> u32 {
    u32::from_be_bytes([a, b, c, d])
}

/// IANA IPv4 Special-Purpose Address Registry, all of it (blocking the few
/// globally reachable anycast entries costs nothing), most specific first.
#[rustfmt::skip]
const V4_BLOCKS: &[V4Block] = &[
    V4Block { net: v4(255, 255, 255, 255), prefix: 32, cidr: "255.255.255.255/32", name: "limited broadcast" },
    V4Block { net: v4(0, 0, 0, 0), prefix: 8, cidr: "0.0.0.0/8", name: "this network" },
    V4Block { net: v4(10, 0, 0, 0), prefix: 8, cidr: "10.0.0.0/8", name: "private (RFC 1918)" },
    V4Block { net: v4(100, 64, 0, 0), prefix: 10, cidr: "100.64.0.0/10", name: "shared address space (CGNAT)" },
    V4Block { net: v4(127, 0, 0, 0), prefix: 8, cidr: "127.0.0.0/8", name: "loopback" },
    V4Block { net: v4(169, 254, 0, 0), prefix: 16, cidr: "169.254.0.0/16", name: "link-local (cloud metadata)" },
    V4Block { net: v4(172, 16, 0, 0), prefix: 12, cidr: "172.16.0.0/12", name: "private (RFC 1918)" },
    V4Block { net: v4(192, 0, 0, 0), prefix: 24, cidr: "192.0.0.0/24", name: "IETF protocol assignments" },
    V4Block { net: v4(192, 0, 2, 0), prefix: 24, cidr: "192.0.2.0/24", name: "documentation (TEST-NET-1)" },
    V4Block { net: v4(192, 31, 196, 0), prefix: 24, cidr: "192.31.196.0/24", name: "AS112-v4" },
    V4Block { net: v4(192, 52, 193, 0), prefix: 24, cidr: "192.52.193.0/24", name: "AMT" },
    V4Block { net: v4(192, 88, 99, 0), prefix: 24, cidr: "192.88.99.0/24", name: "deprecated 6to4 relay anycast" },
    V4Block { net: v4(192, 168, 0, 0), prefix: 16, cidr: "192.168.0.0/16", name: "private (RFC 1918)" },
    V4Block { net: v4(192, 175, 48, 0), prefix: 24, cidr: "192.175.48.0/24", name: "direct delegation AS112" },
    V4Block { net: v4(198, 18, 0, 0), prefix: 15, cidr: "198.18.0.0/15", name: "benchmarking" },
    V4Block { net: v4(198, 51, 100, 0), prefix: 24, cidr: "198.51.100.0/24", name: "documentation (TEST-NET-2)" },
    V4Block { net: v4(203, 0, 113, 0), prefix: 24, cidr: "203.0.113.0/24", name: "documentation (TEST-NET-3)" },
    V4Block { net: v4(224, 0, 0, 0), prefix: 4, cidr: "224.0.0.0/4", name: "multicast" },
    V4Block { net: v4(240, 0, 0, 0), prefix: 4, cidr: "240.0.0.0/4", name: "reserved" },
];

const fn v6(segments: [u16; 8]) -> u128 {
    let mut bits = 0u128;
    let mut i = 0;
    while i < 8 {
        bits = (bits << 16) | segments[i] as u128;
        i += 1;
    }
    bits
}

/// IANA IPv6 Special-Purpose Address Registry entries that are not handled
/// as embedded-IPv4 forms, then every block outside global unicast 2000::/3
/// (the IANA IPv6 address space), so no unallocated space slips through.
#[rustfmt::skip]
const V6_BLOCKS: &[V6Block] = &[
    V6Block { net: v6([0x100, 0, 0, 0, 0, 0, 0, 0]), prefix: 64, cidr: "100::/64", name: "discard-only" },
    V6Block { net: v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0]), prefix: 32, cidr: "2001:db8::/32", name: "documentation" },
    V6Block { net: v6([0x2001, 0, 0, 0, 0, 0, 0, 0]), prefix: 23, cidr: "2001::/23", name: "IETF protocol assignments" },
    V6Block { net: v6([0x2620, 0x4f, 0x8000, 0, 0, 0, 0, 0]), prefix: 48, cidr: "2620:4f:8000::/48", name: "direct delegation AS112" },
    V6Block { net: v6([0x3fff, 0, 0, 0, 0, 0, 0, 0]), prefix: 20, cidr: "3fff::/20", name: "documentation" },
    V6Block { net: v6([0x5f00, 0, 0, 0, 0, 0, 0, 0]), prefix: 16, cidr: "5f00::/16", name: "segment routing SIDs" },
    V6Block { net: v6([0xfc00, 0, 0, 0, 0, 0, 0, 0]), prefix: 7, cidr: "fc00::/7", name: "unique local (ULA)" },
    V6Block { net: v6([0xfe80, 0, 0, 0, 0, 0, 0, 0]), prefix: 10, cidr: "fe80::/10", name: "link-local" },
    V6Block { net: v6([0xfec0, 0, 0, 0, 0, 0, 0, 0]), prefix: 10, cidr: "fec0::/10", name: "site-local (deprecated)" },
    V6Block { net: v6([0xff00, 0, 0, 0, 0, 0, 0, 0]), prefix: 8, cidr: "ff00::/8", name: "multicast" },
    V6Block { net: v6([0x2000, 0, 0, 0, 0, 0, 0, 0]), prefix: 3, cidr: "", name: "" },
];

const OUTSIDE_GLOBAL_UNICAST: BlockedRange = BlockedRange {
    cidr: "2000::/3",
    name: "outside global unicast (reserved or unallocated)",
    via: None,
};

fn in_block(bits: u32, net: u32, prefix: u32) -> bool {
    let mask = u32::MAX.checked_shl(32 - prefix).unwrap_or(0);
    bits & mask == net & mask
}

fn in_block6(bits: u128, net: u128, prefix: u32) -> bool {
    let mask = u128::MAX.checked_shl(128 - prefix).unwrap_or(0);
    bits & mask == net & mask
}

/// Classifies an address: `None` means it is an ordinary public destination,
/// `Some` names the special-purpose block that makes it a refused one.
pub fn classify(ip: IpAddr) -> Option<BlockedRange> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

/// Classifies an IPv4 address against the IANA IPv4 special-purpose registry.
pub fn classify_v4(ip: Ipv4Addr) -> Option<BlockedRange> {
    let bits = u32::from(ip);
    V4_BLOCKS
        .iter()
        .find(|b| in_block(bits, b.net, b.prefix))
        .map(|b| BlockedRange {
            cidr: b.cidr,
            name: b.name,
            via: None,
        })
}

/// The embedded IPv4 address decides; a private one is reported through it.
fn embedded(form: &'static str, ipv4: Ipv4Addr) -> Option<BlockedRange> {
    classify_v4(ipv4).map(|r| BlockedRange {
        via: Some(Embedding { form, ipv4 }),
        ..r
    })
}

/// Always refused; the embedded address, when private, is named for clarity.
fn refused_form(
    cidr: &'static str,
    name: &'static str,
    form: &'static str,
    ipv4: Ipv4Addr,
) -> BlockedRange {
    embedded(form, ipv4).unwrap_or(BlockedRange {
        cidr,
        name,
        via: None,
    })
}

/// Classifies an IPv6 address, checking the IPv4 address inside every
/// embedding form so that `[64:ff9b::7f00:1]` is refused like `127.0.0.1`.
pub fn classify_v6(ip: Ipv6Addr) -> Option<BlockedRange> {
    let bits = u128::from(ip);
    let low32 = Ipv4Addr::from(bits as u32);
    if bits == 0 {
        return Some(BlockedRange {
            cidr: "::/128",
            name: "unspecified",
            via: None,
        });
    }
    if bits == 1 {
        return Some(BlockedRange {
            cidr: "::1/128",
            name: "loopback",
            via: None,
        });
    }
    // IPv4-mapped, IPv4-translated (SIIT) and IPv4-compatible: never a real
    // destination, and a dual-stack socket would dial the IPv4 inside.
    if in_block6(bits, v6([0, 0, 0, 0, 0, 0xffff, 0, 0]), 96) {
        return Some(refused_form(
            "::ffff:0:0/96",
            "IPv4-mapped",
            "IPv4-mapped ::ffff:0:0/96",
            low32,
        ));
    }
    if in_block6(bits, v6([0, 0, 0, 0, 0xffff, 0, 0, 0]), 96) {
        return Some(refused_form(
            "::ffff:0:0:0/96",
            "IPv4-translated",
            "IPv4-translated ::ffff:0:0:0/96",
            low32,
        ));
    }
    if in_block6(bits, 0, 96) {
        return Some(refused_form(
            "::/96",
            "IPv4-compatible (deprecated)",
            "IPv4-compatible ::/96",
            low32,
        ));
    }
    // NAT64 well-known prefix: public IPv4 behind it is a legitimate target.
    if in_block6(bits, v6([0x64, 0xff9b, 0, 0, 0, 0, 0, 0]), 96) {
        return embedded("NAT64 64:ff9b::/96", low32);
    }
    if in_block6(bits, v6([0x64, 0xff9b, 1, 0, 0, 0, 0, 0]), 48) {
        return Some(refused_form(
            "64:ff9b:1::/48",
            "NAT64 local-use",
            "NAT64 local-use 64:ff9b:1::/48",
            low32,
        ));
    }
    if in_block6(bits, v6([0x2002, 0, 0, 0, 0, 0, 0, 0]), 16) {
        return embedded("6to4 2002::/16", Ipv4Addr::from((bits >> 80) as u32));
    }
    if in_block6(bits, v6([0x2001, 0, 0, 0, 0, 0, 0, 0]), 32) {
        // Teredo: server IPv4 in bits 32..64, client IPv4 inverted in the low 32.
        let server = Ipv4Addr::from((bits >> 64) as u32);
        let client = Ipv4Addr::from(!(bits as u32));
        return embedded("Teredo 2001::/32 (server)", server)
            .or_else(|| embedded("Teredo 2001::/32 (client)", client));
    }
    for b in V6_BLOCKS {
        if in_block6(bits, b.net, b.prefix) {
            if b.cidr.is_empty() {
                // Global unicast and in no special block: public.
                return None;
            }
            return Some(BlockedRange {
                cidr: b.cidr,
                name: b.name,
                via: None,
            });
        }
    }
    Some(OUTSIDE_GLOBAL_UNICAST)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blocked(s: &str) -> Option<&'static str> {
        classify(s.parse().unwrap()).map(|r| r.cidr)
    }

    #[test]
    fn ipv4_blocks_and_their_edges() {
        assert_eq!(blocked("127.0.0.1"), Some("127.0.0.0/8"));
        assert_eq!(blocked("100.63.255.255"), None);
        assert_eq!(blocked("100.64.0.0"), Some("100.64.0.0/10"));
        assert_eq!(blocked("100.127.255.255"), Some("100.64.0.0/10"));
        assert_eq!(blocked("100.128.0.0"), None);
        assert_eq!(blocked("172.15.255.255"), None);
        assert_eq!(blocked("172.31.255.255"), Some("172.16.0.0/12"));
        assert_eq!(blocked("172.32.0.0"), None);
        assert_eq!(blocked("198.17.255.255"), None);
        assert_eq!(blocked("198.19.255.255"), Some("198.18.0.0/15"));
        assert_eq!(blocked("255.255.255.255"), Some("255.255.255.255/32"));
        assert_eq!(blocked("255.255.255.254"), Some("240.0.0.0/4"));
        assert_eq!(blocked("169.254.169.254"), Some("169.254.0.0/16"));
        assert_eq!(blocked("8.8.8.8"), None);
        assert_eq!(blocked("223.255.255.255"), None);
    }

    #[test]
    fn ipv6_blocks_and_embedded_forms() {
        assert_eq!(blocked("::1"), Some("::1/128"));
        assert_eq!(blocked("::"), Some("::/128"));
        assert_eq!(blocked("::127.0.0.1"), Some("127.0.0.0/8"));
        assert_eq!(blocked("::8.8.8.8"), Some("::/96"));
        assert_eq!(blocked("::ffff:10.0.0.1"), Some("10.0.0.0/8"));
        assert_eq!(blocked("::ffff:8.8.8.8"), Some("::ffff:0:0/96"));
        assert_eq!(blocked("64:ff9b::7f00:1"), Some("127.0.0.0/8"));
        assert_eq!(blocked("64:ff9b::808:808"), None);
        assert_eq!(blocked("64:ff9b:1::808:808"), Some("64:ff9b:1::/48"));
        assert_eq!(blocked("2002:7f00:1::"), Some("127.0.0.0/8"));
        assert_eq!(blocked("2002:808:808::1"), None);
        assert_eq!(
            blocked("2001:0:4136:e378:8000:63bf:80ff:fffe"),
            Some("127.0.0.0/8")
        );
        assert_eq!(blocked("2001:0:a00:1::"), Some("10.0.0.0/8"));
        assert_eq!(blocked("2001:0:808:808::f7f7:f7f7"), None);
        assert_eq!(blocked("2001:db8::1"), Some("2001:db8::/32"));
        assert_eq!(blocked("2001:2::1"), Some("2001::/23"));
        assert_eq!(blocked("fd00:ec2::254"), Some("fc00::/7"));
        assert_eq!(blocked("fe80::1"), Some("fe80::/10"));
        assert_eq!(blocked("fec0::1"), Some("fec0::/10"));
        assert_eq!(blocked("ff02::1"), Some("ff00::/8"));
        assert_eq!(blocked("4000::1"), Some("2000::/3"));
        assert_eq!(blocked("2606:4700::1111"), None);
        assert_eq!(blocked("2001:4860:4860::8888"), None);
    }

    #[test]
    fn display_names_the_embedding() {
        let r = classify("64:ff9b::a9fe:a9fe".parse().unwrap()).unwrap();
        assert_eq!(
            r.to_string(),
            "169.254.0.0/16 (link-local (cloud metadata)), embedded as 169.254.169.254 via NAT64 64:ff9b::/96"
        );
    }
}
