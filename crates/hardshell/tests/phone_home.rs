//! No phone home (issue 22): a whole session — setup, sign-in, a chat with
//! the fake provider on loopback, a `web_fetch` tool call — with the server
//! under `strace -f -e trace=connect`. Every network connection it (or any
//! process it starts) attempts must go to the configured provider or the
//! tool's target; nothing else, no DNS, no update check, no telemetry.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use common::agents::{create_agent, direct, set_provider};
use common::chat::{call, post};
use common::fake_llm::{FakeLlm, Reply};
use common::identity::{login, password_of, tokens};
use common::sites::{Page, Site};
use common::{Env, Server, client};
use reqwest::{Method, StatusCode};
use serde_json::json;

/// (family, address, port) of every `connect` in an strace log, with the
/// raw line; `AF_UNIX` sockets are local and carry no address or port.
fn connects(trace: &str) -> Vec<(String, String, u16, String)> {
    let mut out = Vec::new();
    for line in trace.lines().filter(|l| l.contains("connect(")) {
        let family = line
            .split("sa_family=")
            .nth(1)
            .and_then(|r| r.split([',', '}']).next())
            .unwrap_or("?")
            .to_string();
        let port = line
            .split("htons(")
            .nth(1)
            .and_then(|r| r.split(')').next())
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        let addr = ["inet_addr(\"", "inet_pton(AF_INET6, \""]
            .iter()
            .find_map(|k| line.split(k).nth(1))
            .and_then(|r| r.split('"').next())
            .unwrap_or("")
            .to_string();
        out.push((family, addr, port, line.to_string()));
    }
    out
}

#[test]
fn the_parser_reads_strace_connect_lines() {
    let log = r#"123 connect(9, {sa_family=AF_INET, sin_port=htons(4711), sin_addr=inet_addr("127.0.0.1")}, 16) = -1 EINPROGRESS (Operation now in progress)
124 connect(3, {sa_family=AF_UNIX, sun_path="/var/run/nscd/socket"}, 110) = -1 ENOENT (No such file or directory)
125 connect(7, {sa_family=AF_INET6, sin6_port=htons(443), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "2001:db8::1", &sin6_addr), sin6_scope_id=0}, 28) = 0"#;
    let c = connects(log);
    assert_eq!(c.len(), 3);
    assert_eq!(
        (c[0].0.as_str(), c[0].1.as_str(), c[0].2),
        ("AF_INET", "127.0.0.1", 4711)
    );
    assert_eq!(c[1].0, "AF_UNIX");
    assert_eq!(
        (c[2].0.as_str(), c[2].1.as_str(), c[2].2),
        ("AF_INET6", "2001:db8::1", 443)
    );
}

/// The pid of the server under strace (strace's only child).
fn tracee(strace_pid: u32) -> u32 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let children =
            std::fs::read_to_string(format!("/proc/{strace_pid}/task/{strace_pid}/children"))
                .unwrap_or_default();
        if let Some(pid) = children.split_whitespace().next() {
            return pid.parse().unwrap();
        }
        assert!(Instant::now() < deadline, "strace started no server");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Kills the traced server if the test ends early: killing strace alone
/// would leave it running (this strace has no `--kill-on-exit`).
struct KillOnDrop(u32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let comm = std::fs::read_to_string(format!("/proc/{}/comm", self.0)).unwrap_or_default();
        if comm.trim() == "hardshell" {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &self.0.to_string()])
                .status();
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_whole_session_connects_only_to_the_provider_and_the_tool_target() {
    let mut env = Env::new();
    env.init_with_passphrase();
    let config = env.data.join("config.toml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(
        "\n[tools]\nresolve = [\"pages.test:127.0.0.1\"]\nallow_private = [\"pages.test\"]\n",
    );
    std::fs::write(&config, text).unwrap();

    // The outside world this session may reach, both on loopback.
    let llm = FakeLlm::start().await;
    let site = Site::start().await;
    site.page(
        "/notes",
        Page::Body("text/plain", "tea at four".to_string()),
    );
    let llm_port: u16 = llm
        .openai_base()
        .rsplit(':')
        .next()
        .unwrap()
        .trim_end_matches("/v1")
        .parse()
        .unwrap();

    // `serve` runs under strace, following every process it starts.
    let trace = env.tmp.path().join("connect.trace");
    let wrapper = env.tmp.path().join("traced-hardshell");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nexec strace -f -qq -e trace=connect -o '{}' -- '{}' \"$@\"\n",
            trace.display(),
            env.bin.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    env.bin = wrapper;
    let p = common::identity::pf(&env);
    let mut server = Server::start(&env, &["--passphrase-file", &p]).unwrap();
    let pid = tracee(server.child.id());
    let _reaper = KillOnDrop(pid);

    // Setup through the printed link, then sign in both ways.
    let token = server.setup_token().expect("the setup URL is printed");
    let resp = client()
        .post(server.url("/api/v1/setup"))
        .json(&json!({"setup_token": token, "username": "olga", "password": password_of("olga")}))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "setup: {}", resp.status());
    let cookie = login(&server, "olga").await;
    assert!(!cookie.cookie.is_empty());
    let owner = tokens(&server, "olga").await.0;

    // Chat with an agent whose model calls web_fetch on the tool target.
    set_provider(
        &server,
        &owner,
        "openai",
        json!({"kind": "openai", "base_url": llm.openai_base(), "api_key": "sk-test-0123456789abcdefghij"}),
    )
    .await;
    let agent = create_agent(&server, &owner, "scout", "openai/m1", json!({})).await;
    let (s, v) = call(
        &server,
        &owner,
        Method::PUT,
        &format!("/api/v1/agents/{agent}/trust/web"),
        Some(json!({"level": 4, "reason": "test"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let conv = direct(&server, &owner, agent).await;
    llm.push(Reply::tool_call(
        "web_fetch",
        &json!({"url": format!("{}/notes", site.url("pages.test"))}).to_string(),
    ));
    llm.push(Reply::text(["It says tea at four."]));
    post(&server, &owner, conv, "what do my notes say?").await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while llm.chat_requests().len() < 2 || site.seen().is_empty() {
        assert!(
            Instant::now() < deadline,
            "the turn and its tool call did not happen"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        llm.chat_requests()[1]
            .messages()
            .iter()
            .any(|m| m.to_string().contains("tea at four")),
        "the tool result reached the model"
    );

    // Stop the server itself (strace exits with it and has flushed).
    std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while server.child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "the server did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }

    let log = std::fs::read_to_string(&trace).unwrap();
    let all = connects(&log);
    let allowed: BTreeSet<(String, u16)> = [
        ("127.0.0.1".to_string(), llm_port),
        ("127.0.0.1".to_string(), site.port()),
    ]
    .into();
    let network: Vec<_> = all.iter().filter(|c| c.0 != "AF_UNIX").collect();
    let strangers: Vec<&String> = network
        .iter()
        .filter(|c| !allowed.contains(&(c.1.clone(), c.2)))
        .map(|c| &c.3)
        .collect();
    assert!(
        strangers.is_empty(),
        "connections to anything but the provider and the tool target:\n{strangers:#?}"
    );
    // The trace did see the session's own connections (so it can fail).
    for (addr, port) in &allowed {
        assert!(
            network.iter().any(|c| &c.1 == addr && c.2 == *port),
            "no connect to {addr}:{port} was recorded:\n{log}"
        );
    }
}
