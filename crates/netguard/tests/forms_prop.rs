//! Property tests: every address in a blocked range, written in every textual
//! form the WHATWG `url` parser accepts, is blocked; public addresses in the
//! same forms are allowed and normalise to the same address.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{Ipv4Addr, Ipv6Addr};

use netguard::{Policy, StaticResolver, check, classify};
use proptest::prelude::*;

/// The blocked IPv4 ranges as the spec lists them, kept apart from the
/// classifier's own table so that a slip in either shows up here.
const V4_BLOCKED: &[(u32, u32)] = &[
    (0x0000_0000, 8),  // 0/8
    (0x0a00_0000, 8),  // 10/8
    (0x6440_0000, 10), // 100.64/10
    (0x7f00_0000, 8),  // 127/8
    (0xa9fe_0000, 16), // 169.254/16
    (0xac10_0000, 12), // 172.16/12
    (0xc000_0000, 24), // 192.0.0/24
    (0xc000_0200, 24), // 192.0.2/24
    (0xc058_6300, 24), // 192.88.99/24
    (0xc0a8_0000, 16), // 192.168/16
    (0xc612_0000, 15), // 198.18/15
    (0xc633_6400, 24), // 198.51.100/24
    (0xcb00_7100, 24), // 203.0.113/24
    (0xe000_0000, 4),  // 224/4
    (0xf000_0000, 4),  // 240/4 and broadcast
];

const V6_BLOCKED: &[(u128, u32)] = &[
    (0xfc00 << 112, 7),
    (0xfe80 << 112, 10),
    (0xfec0 << 112, 10),
    (0xff00 << 112, 8),
    (0x2001_0db8 << 96, 32),
    (0x0100 << 112, 64),
    (0x3fff << 112, 20),
    (1, 128),
    (0, 128),
];

fn in_v4_blocked(ip: u32) -> bool {
    V4_BLOCKED
        .iter()
        .any(|&(net, p)| ip >> (32 - p) == net >> (32 - p))
}

fn run_ready<F: std::future::Future>(fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

/// One IPv4 number part in decimal, hex (either case) or octal.
fn part(value: u32, radix: u8) -> String {
    match radix % 4 {
        0 => value.to_string(),
        1 => format!("0x{value:x}"),
        2 => format!("0X{value:X}"),
        _ => format!("0{value:o}"),
    }
}

/// Every IPv4 host spelling the WHATWG parser accepts, with radixes picked by
/// `radix` (one per part) and some parts percent-encoded.
fn v4_forms(ip: u32, radix: [u8; 4]) -> Vec<String> {
    let [a, b, c, d] = ip.to_be_bytes().map(u32::from);
    let mut forms = vec![
        Ipv4Addr::from(ip).to_string(),
        format!("{}.", Ipv4Addr::from(ip)),
        format!(
            "{}.{}.{}.{}",
            part(a, radix[0]),
            part(b, radix[1]),
            part(c, radix[2]),
            part(d, radix[3])
        ),
        format!(
            "{}.{}.{}",
            part(a, radix[0]),
            part(b, radix[1]),
            part((c << 8) | d, radix[2])
        ),
        format!(
            "{}.{}",
            part(a, radix[0]),
            part((b << 16) | (c << 8) | d, radix[1])
        ),
        part(ip, radix[0]),
        format!("{}.", part(ip, radix[3])),
        ip.to_string(),
    ];
    // Percent-encode the first character of the plain dotted form.
    let dotted = Ipv4Addr::from(ip).to_string();
    forms.push(format!("%{:02X}{}", dotted.as_bytes()[0], &dotted[1..]));
    // Fullwidth digits are mapped to ASCII by IDNA before the IPv4 parser.
    forms.push(
        dotted
            .chars()
            .map(|ch| {
                if ch.is_ascii_digit() {
                    char::from_u32(ch as u32 - 0x30 + 0xff10).unwrap()
                } else {
                    ch
                }
            })
            .collect(),
    );
    forms
}

/// IPv6 forms that embed the IPv4 address.
fn embedded_forms(ip: u32) -> Vec<String> {
    let v4 = Ipv4Addr::from(ip);
    let (hi, lo) = (ip >> 16, ip & 0xffff);
    let (nhi, nlo) = (!ip >> 16, !ip & 0xffff);
    vec![
        format!("[::ffff:{v4}]"),
        format!("[::ffff:{hi:x}:{lo:x}]"),
        format!("[0:0:0:0:0:FFFF:{hi:X}:{lo:X}]"),
        format!("[::ffff:0:{v4}]"),
        format!("[::{v4}]"),
        format!("[::{hi:x}:{lo:x}]"),
        format!("[64:ff9b::{v4}]"),
        format!("[64:ff9b::{hi:x}:{lo:x}]"),
        format!("[64:ff9b:1::{hi:x}:{lo:x}]"),
        format!("[2002:{hi:x}:{lo:x}::]"),
        format!("[2002:{hi:04x}:{lo:04x}:0:0:0:0:1]"),
        format!("[2001:0:{hi:x}:{lo:x}::]"), // Teredo server
        format!("[2001:0:808:808:0:0:{nhi:x}:{nlo:x}]"), // Teredo client
    ]
}

fn v6_forms(ip: Ipv6Addr) -> Vec<String> {
    let segs = ip.segments();
    let full: Vec<String> = segs.iter().map(|s| format!("{s:04x}")).collect();
    let bare: Vec<String> = segs.iter().map(|s| format!("{s:X}")).collect();
    vec![
        format!("[{ip}]"),
        format!("[{}]", full.join(":")),
        format!("[{}]", bare.join(":")),
        format!("[{}]", ip.to_string().to_uppercase()),
    ]
}

fn assert_blocked(host: &str, resolver: &StaticResolver) -> Result<(), TestCaseError> {
    let url = format!("http://{host}:8080/x");
    let report = run_ready(check(&url, &Policy::default(), resolver));
    prop_assert!(!report.allowed, "{} was allowed", url);
    prop_assert_eq!(
        report.reason.as_str(),
        "blocked_address",
        "{} gave {:?}",
        url,
        report.detail
    );
    Ok(())
}

fn blocked_v4() -> impl Strategy<Value = u32> {
    (0..V4_BLOCKED.len(), any::<u32>()).prop_map(|(i, r)| {
        let (net, p) = V4_BLOCKED[i];
        net | (r & (u32::MAX >> p))
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn every_form_of_a_blocked_ipv4_is_blocked(ip in blocked_v4(), radix in any::<[u8; 4]>()) {
        let resolver = StaticResolver::new();
        prop_assert!(classify(Ipv4Addr::from(ip).into()).is_some());
        for host in v4_forms(ip, radix).iter().chain(embedded_forms(ip).iter()) {
            assert_blocked(host, &resolver)?;
        }
    }

    #[test]
    fn every_form_of_a_blocked_ipv6_is_blocked(i in 0..V6_BLOCKED.len(), r in any::<u128>()) {
        let (net, p) = V6_BLOCKED[i];
        let ip = Ipv6Addr::from(net | (r & u128::MAX.checked_shr(p).unwrap_or(0)));
        let resolver = StaticResolver::new();
        for host in v6_forms(ip) {
            assert_blocked(&host, &resolver)?;
        }
        // And a name resolving to it.
        assert_blocked("name.example", &StaticResolver::new().with("name.example", ip.into()))?;
    }

    #[test]
    fn public_ipv4_in_every_form_is_allowed_as_the_same_address(ip in any::<u32>(), radix in any::<[u8; 4]>()) {
        prop_assume!(!in_v4_blocked(ip));
        // Outside the spec list, only the few extra IANA blocks may refuse.
        let verdict = classify(Ipv4Addr::from(ip).into());
        prop_assume!(verdict.is_none());
        let resolver = StaticResolver::new();
        for host in v4_forms(ip, radix) {
            let url = format!("http://{host}/");
            let report = run_ready(check(&url, &Policy::default(), &resolver));
            prop_assert!(report.allowed, "{} refused: {:?}", url, report.detail);
            prop_assert_eq!(report.addresses.clone(), vec![Ipv4Addr::from(ip).to_string()], "{}", url);
        }
    }

    #[test]
    fn classifier_agrees_with_the_spec_list(ip in prop_oneof![blocked_v4(), any::<u32>()]) {
        let v4 = classify(Ipv4Addr::from(ip).into());
        let embed = |prefix: u128, shift: u32| classify(Ipv6Addr::from(prefix | (u128::from(ip) << shift)).into());
        // NAT64 and 6to4 carry the IPv4 verdict through unchanged.
        prop_assert_eq!(embed(0x64_ff9b << 96, 0).is_some(), v4.is_some());
        prop_assert_eq!(embed(0x2002 << 112, 80).is_some(), v4.is_some());
        if in_v4_blocked(ip) {
            prop_assert!(v4.is_some(), "{} not blocked", Ipv4Addr::from(ip));
            // IPv4-mapped and -compatible forms are refused in any case.
            prop_assert!(embed(0xffff << 32, 0).is_some());
            prop_assert!(embed(0, 0).is_some());
        }
    }

    #[test]
    fn arbitrary_input_never_panics_and_allowed_means_public(s in "\\PC{0,40}", host in "[a-z0-9.:\\[\\]%x-]{0,30}") {
        let resolver = StaticResolver::new().with("public.example", "8.8.8.8".parse().unwrap());
        for url in [s.clone(), format!("http://{host}/"), format!("https://{s}")] {
            let report = run_ready(check(&url, &Policy::default(), &resolver));
            if report.allowed {
                for a in &report.addresses {
                    prop_assert!(classify(a.parse().unwrap()).is_none(), "{} allowed {}", url, a);
                }
                prop_assert!(report.url.starts_with("http://") || report.url.starts_with("https://"));
            }
        }
    }
}
