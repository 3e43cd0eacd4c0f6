//! The URL table: every case goes through `check()` offline with a
//! `StaticResolver`, and both the verdict and the reason are asserted.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::IpAddr;

use netguard::{Policy, StaticResolver, check};

const ALLOWED: &str = "allowed";
const ADDR: &str = "blocked_address";
const HOST: &str = "blocked_host";
const SCHEME: &str = "blocked_scheme";
const DNS: &str = "dns_failure";
const INVALID: &str = "invalid_url";

fn resolver() -> StaticResolver {
    let entries: &[(&str, &str)] = &[
        ("example.com", "93.184.215.14"),
        ("www.example.com", "93.184.215.14"),
        ("public6.example", "2606:4700::1111"),
        ("dual.example", "93.184.215.14"),
        ("dual.example", "2606:4700::1111"),
        ("bücher.example", "93.184.215.14"),
        ("xn--bcher-kva.example", "93.184.215.14"),
        // *.nip.io / sslip.io style: the name encodes a private address.
        ("127.0.0.1.nip.io", "127.0.0.1"),
        ("10.0.0.1.nip.io", "10.0.0.1"),
        ("192-168-1-1.sslip.io", "192.168.1.1"),
        ("169.254.169.254.nip.io", "169.254.169.254"),
        ("customer.nip.io", "100.64.1.1"),
        ("ula.nip.io", "fd00:ec2::254"),
        ("mapped.nip.io", "::ffff:127.0.0.1"),
        ("nat64.nip.io", "64:ff9b::a9fe:a9fe"),
        ("sixtofour.nip.io", "2002:c0a8:101::"),
        ("teredo.nip.io", "2001:0:4136:e378:8000:63bf:80ff:fffe"),
        // A mixed answer: one private address poisons the whole name.
        ("mixed.example", "93.184.215.14"),
        ("mixed.example", "127.0.0.1"),
        ("mixed6.example", "2606:4700::1111"),
        ("mixed6.example", "::1"),
        ("metadata.google.internal", "169.254.169.254"),
        ("internal.corp", "10.10.10.10"),
        ("zero.example", "0.0.0.0"),
        ("bench.example", "198.18.0.1"),
        ("mcast.example", "224.0.0.1"),
        ("doc.example", "192.0.2.1"),
        ("linklocal6.example", "fe80::1"),
        ("sitelocal6.example", "fec0::1"),
        ("bcast.example", "255.255.255.255"),
        // Names that would resolve to loopback if asked: refused by name first.
        ("localhost", "127.0.0.1"),
        ("app.localhost", "127.0.0.1"),
    ];
    let mut r = StaticResolver::new();
    for (host, ip) in entries {
        r.insert(host, ip.parse::<IpAddr>().unwrap());
    }
    r
}

#[rustfmt::skip]
const CASES: &[(&str, &str)] = &[
    // --- public: allowed -------------------------------------------------
    ("http://8.8.8.8/", ALLOWED),
    ("https://1.1.1.1/dns-query", ALLOWED),
    ("http://[2606:4700::1111]/", ALLOWED),
    ("https://[2001:4860:4860::8888]:443/", ALLOWED),
    ("https://example.com/", ALLOWED),
    ("https://EXAMPLE.com/", ALLOWED),
    ("https://example.com./", ALLOWED),
    ("http://www.example.com:8080/a?b=c#d", ALLOWED),
    ("https://public6.example/", ALLOWED),
    ("https://dual.example/", ALLOWED),
    ("https://bücher.example/", ALLOWED),
    ("http://134744072/", ALLOWED),             // 8.8.8.8 as one decimal
    ("http://0x08080808/", ALLOWED),            // 8.8.8.8 in hex
    ("http://010.010.010.010/", ALLOWED),       // 8.8.8.8 in octal
    ("http://8.8.2056/", ALLOWED),              // 8.8.8.8 short form
    ("http://[64:ff9b::808:808]/", ALLOWED),    // NAT64 of a public address
    ("http://[2002:808:808::1]/", ALLOWED),     // 6to4 of a public address
    ("http://[2001:0:808:808::f7f7:f7f7]/", ALLOWED), // Teredo, public both ends
    ("http://100.63.255.255/", ALLOWED),        // just below CGNAT
    ("http://100.128.0.0/", ALLOWED),           // just above CGNAT
    ("http://172.15.255.255/", ALLOWED),
    ("http://172.32.0.1/", ALLOWED),
    ("http://198.17.255.255/", ALLOWED),
    ("http://198.20.0.1/", ALLOWED),
    ("http://11.0.0.1/", ALLOWED),
    ("http://126.255.255.255/", ALLOWED),
    ("http://128.0.0.1/", ALLOWED),
    ("http://169.253.255.255/", ALLOWED),
    ("http://223.255.255.255/", ALLOWED),
    ("http://192.0.3.1/", ALLOWED),
    ("http://192.167.255.255/", ALLOWED),
    ("http://1.1.1.1:65535/", ALLOWED),
    ("https://example.com/%2e%2e/secret", ALLOWED),
    ("  https://example.com/  ", ALLOWED),
    ("http://[2a00:1450:4001::200e]/", ALLOWED),

    // --- loopback in every spelling ---------------------------------------
    ("http://127.0.0.1/", ADDR),
    ("http://127.0.0.1:8080/admin", ADDR),
    ("http://127.1/", ADDR),
    ("http://127.0.1/", ADDR),
    ("http://2130706433/", ADDR),
    ("http://0x7f000001/", ADDR),
    ("http://0x7f.1/", ADDR),
    ("http://0x7F.0x0.0x0.0x1/", ADDR),
    ("http://0177.0.0.1/", ADDR),
    ("http://0177.1/", ADDR),
    ("http://017700000001/", ADDR),
    ("http://127.0.0.1./", ADDR),
    ("http://127.255.255.254/", ADDR),
    ("http://%31%32%37.0.0.1/", ADDR),
    ("http://１２７.０.０.１/", ADDR),          // fullwidth digits, IDNA-mapped
    ("http://[::1]/", ADDR),
    ("http://[0:0:0:0:0:0:0:1]/", ADDR),
    ("http://[::127.0.0.1]/", ADDR),
    ("http://[::7f00:1]/", ADDR),
    ("http://[::ffff:127.0.0.1]/", ADDR),
    ("http://[::ffff:7f00:1]/", ADDR),
    ("http://[0:0:0:0:0:ffff:127.0.0.1]/", ADDR),
    ("http://[::ffff:0:127.0.0.1]/", ADDR),     // IPv4-translated (SIIT)
    ("http://[64:ff9b::7f00:1]/", ADDR),
    ("http://[64:ff9b::127.0.0.1]/", ADDR),
    ("http://[64:ff9b:1::7f00:1]/", ADDR),
    ("http://[2002:7f00:1::]/", ADDR),
    ("http://[2002:7f00:0001:0:0:0:0:1]/", ADDR),
    ("http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/", ADDR), // Teredo client 127.0.0.1
    ("http://[2001:0:7f00:1::]/", ADDR),        // Teredo server 127.0.0.1
    ("http://[::]/", ADDR),
    ("http://0.0.0.0/", ADDR),
    ("http://0/", ADDR),
    ("http://0.0.0.0:22/", ADDR),

    // --- localhost by name ------------------------------------------------
    ("http://localhost/", HOST),
    ("http://localhost./", HOST),
    ("http://LOCALHOST/", HOST),
    ("http://LocalHost.:80/", HOST),
    ("http://foo.localhost/", HOST),
    ("http://a.b.foo.localhost./", HOST),
    ("http://app.localhost/", HOST),
    ("http://ｌｏｃａｌｈｏｓｔ/", HOST),        // fullwidth, IDNA-mapped
    ("http://localhost:6379/", HOST),
    ("https://localhost/", HOST),

    // --- userinfo tricks: refused outright ---------------------------------
    ("http://evil@127.0.0.1/", INVALID),
    ("http://user:pass@example.com/", INVALID),
    ("http://example.com@127.0.0.1/", INVALID),
    ("http://127.0.0.1@example.com/", INVALID),
    ("http://:@example.com/", ALLOWED),         // empty userinfo is dropped by the parser
    ("http://example.com:80@localhost/", INVALID),

    // --- RFC 1918 / CGNAT / link-local / metadata ---------------------------
    ("http://10.0.0.1/", ADDR),
    ("http://10.255.255.255/", ADDR),
    ("http://012.0.0.1/", ADDR),                // octal 10.0.0.1
    ("http://167772161/", ADDR),                // 10.0.0.1 decimal
    ("http://172.16.0.1/", ADDR),
    ("http://172.31.255.255/", ADDR),
    ("http://192.168.0.1/", ADDR),
    ("http://192.168.1.1:8443/", ADDR),
    ("http://0xc0a80101/", ADDR),
    ("http://192.168.257/", ADDR),              // 192.168.1.1 short form
    ("http://100.64.0.1/", ADDR),
    ("http://100.100.100.200/", ADDR),          // Alibaba metadata, CGNAT
    ("http://100.127.255.255/", ADDR),
    ("http://169.254.169.254/latest/meta-data/", ADDR),
    ("http://169.254.170.2/v2/credentials", ADDR),
    ("http://2852039166/", ADDR),               // 169.254.169.254 decimal
    ("http://0xa9fea9fe/", ADDR),
    ("http://0251.0376.0251.0376/", ADDR),
    ("http://[fd00:ec2::254]/latest/meta-data/", ADDR),
    ("http://[::ffff:169.254.169.254]/", ADDR),
    ("http://[64:ff9b::a9fe:a9fe]/", ADDR),
    ("http://[::ffff:a9fe:a9fe]/", ADDR),

    // --- other special IPv4 blocks --------------------------------------------
    ("http://198.18.0.1/", ADDR),
    ("http://198.19.255.255/", ADDR),
    ("http://192.0.2.1/", ADDR),
    ("http://198.51.100.7/", ADDR),
    ("http://203.0.113.7/", ADDR),
    ("http://192.0.0.8/", ADDR),
    ("http://192.88.99.1/", ADDR),
    ("http://224.0.0.1/", ADDR),
    ("http://239.255.255.250/", ADDR),
    ("http://240.0.0.1/", ADDR),
    ("http://255.255.255.255/", ADDR),
    ("http://4294967295/", ADDR),

    // --- special IPv6 blocks ----------------------------------------------------
    ("http://[fc00::1]/", ADDR),
    ("http://[fdff:ffff::1]/", ADDR),
    ("http://[fe80::1]/", ADDR),
    ("http://[FE80::1]/", ADDR),
    ("http://[febf::1]/", ADDR),
    ("http://[fec0::1]/", ADDR),
    ("http://[ff02::1]/", ADDR),
    ("http://[2001:db8::1]/", ADDR),
    ("http://[3fff::1]/", ADDR),
    ("http://[100::1]/", ADDR),
    ("http://[2002:a00:1::]/", ADDR),           // 6to4 of 10.0.0.1
    ("http://[2002:c0a8:101::1]/", ADDR),       // 6to4 of 192.168.1.1
    ("http://[::ffff:10.0.0.1]/", ADDR),
    ("http://[::ffff:8.8.8.8]/", ADDR),         // mapped: refused even when public
    ("http://[::8.8.8.8]/", ADDR),              // compatible: refused even when public
    ("http://[4000::1]/", ADDR),                // outside global unicast
    ("http://[5f00::1]/", ADDR),

    // --- names that resolve to special addresses -----------------------------------
    ("http://127.0.0.1.nip.io/", ADDR),
    ("http://10.0.0.1.nip.io/", ADDR),
    ("http://192-168-1-1.sslip.io/", ADDR),
    ("http://169.254.169.254.nip.io/", ADDR),
    ("http://customer.nip.io/", ADDR),
    ("http://ula.nip.io/", ADDR),
    ("http://mapped.nip.io/", ADDR),
    ("http://nat64.nip.io/", ADDR),
    ("http://sixtofour.nip.io/", ADDR),
    ("http://teredo.nip.io/", ADDR),
    ("http://127.0.0.1.nip.io./", ADDR),
    ("http://mixed.example/", ADDR),
    ("http://mixed6.example/", ADDR),
    // Refused by name before any lookup (a metadata service name).
    ("http://metadata.google.internal/", HOST),
    ("http://internal.corp/", ADDR),
    ("http://zero.example/", ADDR),
    ("http://bench.example/", ADDR),
    ("http://mcast.example/", ADDR),
    ("http://doc.example/", ADDR),
    ("http://linklocal6.example/", ADDR),
    ("http://sitelocal6.example/", ADDR),
    ("http://bcast.example/", ADDR),

    // --- names that do not resolve ------------------------------------------------
    ("http://does-not-exist.example/", DNS),
    ("https://nope.invalid/", DNS),

    // --- schemes --------------------------------------------------------------------
    ("file:///etc/passwd", SCHEME),
    ("file://localhost/etc/passwd", SCHEME),
    ("gopher://127.0.0.1:6379/_INFO", SCHEME),
    ("ftp://example.com/", SCHEME),
    ("dict://127.0.0.1:11211/stat", SCHEME),
    ("ldap://127.0.0.1/", SCHEME),
    ("ws://example.com/", SCHEME),
    ("data:text/plain,hi", SCHEME),
    ("javascript:alert(1)", SCHEME),
    ("jar:http://example.com/a.jar!/", SCHEME),
    ("HTTP://8.8.8.8/", ALLOWED),

    // --- malformed ------------------------------------------------------------------
    ("", INVALID),
    ("not a url", INVALID),
    ("http://", INVALID),
    ("http://[::1/", INVALID),
    ("http://1.2.3.4.5/", INVALID),
    ("http://256.0.0.1/", INVALID),
    ("http://0x100000000/", INVALID),
    ("http://[fe80::1%25eth0]/", INVALID),
    ("http://a..b/", INVALID),
    ("http://example.com../", INVALID),
    ("//example.com/", INVALID),
];

fn run_ready<F: std::future::Future>(fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

#[test]
fn url_table() {
    assert!(CASES.len() >= 150, "only {} cases", CASES.len());
    let policy = Policy::default();
    let resolver = resolver();
    let mut failures = Vec::new();
    for (url, want) in CASES {
        let report = run_ready(check(url, &policy, &resolver));
        if report.reason != *want || report.allowed != (*want == ALLOWED) {
            failures.push(format!(
                "{url:?}: want {want}, got {} ({:?})",
                report.reason, report.detail
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        CASES.len(),
        failures.join("\n")
    );
}

#[test]
fn report_serialises_to_the_cli_shape() {
    let report = run_ready(check("http://0x7f.1/", &Policy::default(), &resolver()));
    let json: serde_json::Value = serde_json::to_value(&report).unwrap();
    assert_eq!(json["url"], "http://127.0.0.1/");
    assert_eq!(json["allowed"], false);
    assert_eq!(json["reason"], "blocked_address");
    assert_eq!(json["addresses"], serde_json::json!(["127.0.0.1"]));
    assert_eq!(json["detail"], "127.0.0.1 is in 127.0.0.0/8 (loopback)");

    let ok = run_ready(check(
        "https://dual.example/",
        &Policy::default(),
        &resolver(),
    ));
    let json: serde_json::Value = serde_json::to_value(&ok).unwrap();
    assert_eq!(json["allowed"], true);
    assert_eq!(json["reason"], "allowed");
    assert_eq!(
        json["addresses"],
        serde_json::json!(["93.184.215.14", "2606:4700::1111"])
    );
}

#[test]
fn mixed_answer_lists_every_address() {
    let report = run_ready(check(
        "http://mixed.example/",
        &Policy::default(),
        &resolver(),
    ));
    assert!(!report.allowed);
    assert_eq!(report.addresses, vec!["93.184.215.14", "127.0.0.1"]);
    assert_eq!(
        report.detail.as_deref(),
        Some("127.0.0.1 is in 127.0.0.0/8 (loopback)")
    );
}

#[test]
fn allow_list_hit_never_skips_the_address_check() {
    let policy = Policy::builder().allow("*.nip.io").unwrap().build();
    let report = run_ready(check("http://127.0.0.1.nip.io/", &policy, &resolver()));
    assert_eq!(report.reason, ADDR);
    // Substring tricks do not match the allow list either.
    let policy = Policy::builder().allow("example.com").unwrap().build();
    for url in [
        "http://example.com.127.0.0.1.nip.io/",
        "http://evilexample.com/",
        "http://www.example.com/",
    ] {
        let report = run_ready(check(url, &policy, &resolver()));
        assert_eq!(report.reason, HOST, "{url}");
    }
    assert!(run_ready(check("http://example.com/", &policy, &resolver())).allowed);
}

#[test]
fn block_list_refuses_before_dns() {
    let policy = Policy::builder()
        .block("*.example.com")
        .unwrap()
        .block("example.com")
        .unwrap()
        .build();
    for url in [
        "http://example.com/",
        "http://www.example.com/",
        "http://WWW.Example.COM./",
        "http://x.y.example.com/",
    ] {
        let report = run_ready(check(url, &policy, &resolver()));
        assert_eq!(report.reason, HOST, "{url}");
        assert!(report.addresses.is_empty(), "{url} was resolved");
    }
}

#[test]
fn allow_private_grant_is_exact_and_explicit() {
    let policy = Policy::builder()
        .allow_private("internal.corp")
        .unwrap()
        .build();
    assert!(run_ready(check("http://internal.corp/", &policy, &resolver())).allowed);
    assert_eq!(
        run_ready(check("http://10.0.0.1.nip.io/", &policy, &resolver())).reason,
        ADDR
    );
    assert_eq!(
        run_ready(check("http://a.internal.corp/", &policy, &resolver())).reason,
        DNS
    );
    let localhost = Policy::builder()
        .allow_private("localhost")
        .unwrap()
        .build();
    assert!(run_ready(check("http://localhost./", &localhost, &resolver())).allowed);
    assert_eq!(
        run_ready(check("http://app.localhost/", &localhost, &resolver())).reason,
        HOST
    );
}

#[test]
fn resolve_override_replaces_dns_for_that_host_only() {
    let mut r = StaticResolver::new();
    r.add_override("rebind.example:10.1.2.3").unwrap();
    r.add_override("ok.example:[2606:4700::1111]").unwrap();
    let report = run_ready(check("http://rebind.example/", &Policy::default(), &r));
    assert_eq!(report.reason, ADDR);
    assert_eq!(report.addresses, vec!["10.1.2.3"]);
    assert!(run_ready(check("http://ok.example/", &Policy::default(), &r)).allowed);
    assert_eq!(
        run_ready(check("http://other.example/", &Policy::default(), &r)).reason,
        DNS
    );
}
