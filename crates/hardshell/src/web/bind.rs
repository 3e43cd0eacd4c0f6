//! The rule for where the server may listen: loopback freely; anywhere else
//! only with TLS (here or at a trusted proxy) and an owner account.

use std::net::SocketAddr;

use crate::config::Config;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BindRefusal {
    #[error(
        "refusing to listen on {addr}: a non-loopback address needs TLS. Either set [server] tls = {{ cert = \"…\", key = \"…\" }} in config.toml, or put Hardshell behind a reverse proxy that terminates TLS and set [server] behind_proxy = true with trusted_proxies = [\"<proxy ip>\"]; or bind to 127.0.0.1"
    )]
    NoTls { addr: SocketAddr },
    #[error(
        "refusing to listen on {addr}: no owner account exists yet. Create one first (start on 127.0.0.1 and open the setup URL, or run `hardshell users add <name> --role owner --password-stdin`)"
    )]
    NoOwner { addr: SocketAddr },
    #[error(
        "refusing to start: [server] behind_proxy = true needs at least one entry in trusted_proxies"
    )]
    ProxyWithoutTrustedProxies,
}

pub fn check_bind(
    addr: SocketAddr,
    config: &Config,
    owner_exists: bool,
) -> Result<(), BindRefusal> {
    let s = &config.server;
    if s.behind_proxy && s.trusted_proxies.is_empty() {
        return Err(BindRefusal::ProxyWithoutTrustedProxies);
    }
    if crate::config::canonical_ip(addr.ip()).is_loopback() {
        return Ok(());
    }
    let tls_ready = s.tls.is_some() || (s.behind_proxy && !s.trusted_proxies.is_empty());
    if !tls_ready {
        return Err(BindRefusal::NoTls { addr });
    }
    if !owner_exists {
        return Err(BindRefusal::NoOwner { addr });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TlsConfig;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn loopback_is_always_fine() {
        let c = Config::default();
        check_bind(addr("127.0.0.1:1"), &c, false).unwrap();
        check_bind(addr("[::1]:1"), &c, false).unwrap();
    }

    #[test]
    fn public_bind_needs_tls_and_owner() {
        let mut c = Config::default();
        let a = addr("0.0.0.0:18780");
        assert_eq!(check_bind(a, &c, true), Err(BindRefusal::NoTls { addr: a }));
        assert!(check_bind(addr("[::]:1"), &c, true).is_err());
        assert!(check_bind(addr("[::ffff:10.0.0.1]:1"), &c, true).is_err());
        c.server.tls = Some(TlsConfig {
            cert: "c".into(),
            key: "k".into(),
        });
        assert_eq!(
            check_bind(a, &c, false),
            Err(BindRefusal::NoOwner { addr: a })
        );
        check_bind(a, &c, true).unwrap();
    }

    #[test]
    fn proxy_mode_needs_trusted_proxies() {
        let mut c = Config::default();
        c.server.behind_proxy = true;
        assert_eq!(
            check_bind(addr("127.0.0.1:1"), &c, true),
            Err(BindRefusal::ProxyWithoutTrustedProxies)
        );
        c.server.trusted_proxies = vec!["10.0.0.2".into()];
        check_bind(addr("10.0.0.1:1"), &c, true).unwrap();
        let msg = check_bind(addr("10.0.0.1:1"), &c, false)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("users add"));
    }
}
