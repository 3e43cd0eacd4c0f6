//! TLS served by Hardshell itself (rustls): HTTPS works with HSTS, and a
//! public bind with TLS still needs an owner account.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Env;

fn configure_tls(env: &Env, extra: &str) {
    let cert =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let cert_path = env.tmp.path().join("cert.pem");
    let key_path = env.tmp.path().join("key.pem");
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
    std::fs::write(
        env.data.join("config.toml"),
        format!(
            "[server]\n{extra}tls = {{ cert = {:?}, key = {:?} }}\n",
            cert_path.to_str().unwrap(),
            key_path.to_str().unwrap()
        ),
    )
    .unwrap();
}

#[tokio::test]
async fn https_with_hsts() {
    let env = Env::new();
    env.init_with_passphrase();
    configure_tls(&env, "");
    let pf = env.passphrase_file.to_str().unwrap().to_string();
    let server = env.start(&["--passphrase-file", &pf]);
    assert!(server.base.starts_with("https://"), "{}", server.base);
    let pem = std::fs::read(env.tmp.path().join("cert.pem")).unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .build()
        .unwrap();
    let resp = client.get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let hsts = resp.headers()["strict-transport-security"]
        .to_str()
        .unwrap();
    assert!(hsts.contains("max-age="));
    // Plain HTTP to the TLS port gets no answer that a browser would accept.
    let plain = server.url("/healthz").replace("https://", "http://");
    let r = common::client().get(plain).send().await;
    assert!(r.is_err() || !r.unwrap().status().is_success());
}

#[test]
fn public_bind_with_tls_still_needs_an_owner() {
    let env = Env::new();
    env.init_with_passphrase();
    configure_tls(&env, "");
    let pf = env.passphrase_file.to_str().unwrap();
    let out = env.run(
        &["serve", "--bind", "0.0.0.0:0", "--passphrase-file", pf],
        None,
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no owner account"), "{err}");
}

#[test]
fn proxy_mode_without_trusted_proxies_is_refused() {
    let env = Env::new();
    env.init_with_passphrase();
    std::fs::write(
        env.data.join("config.toml"),
        "[server]\nbehind_proxy = true\n",
    )
    .unwrap();
    let pf = env.passphrase_file.to_str().unwrap();
    let out = env.run(
        &["serve", "--bind", "127.0.0.1:0", "--passphrase-file", pf],
        None,
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("trusted_proxies"));
}
