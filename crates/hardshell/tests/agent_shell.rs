//! The `shell` tool on the real server: offered only when the sandbox
//! works, run inside bubblewrap with the workspace at `/work` (read-only
//! below shell trust 3), approvals bound to the scripts a command names,
//! and nothing surviving the server.
//!
//! The server runs as an unprivileged user here (`nobody` when the tests
//! run as root): as root, Hardshell does not offer `shell` at all.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::chat::{call, post};
use common::fake_llm::Reply;
use common::gate::{World, agent_messages, eventually, last_tool_result, world, world_full};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const NOBODY: (u32, u32) = (65534, 65534);

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// A world whose server runs unprivileged (when the tests run as root).
async fn unprivileged(path: Option<&str>) -> World {
    let path = path.map(str::to_string);
    world_full("", "", move |env| {
        if is_root() {
            env.hand_to(NOBODY.0, NOBODY.1);
        }
        env.path = path;
    })
    .await
}

fn dones(msgs: &[Value]) -> usize {
    msgs.iter()
        .filter(|m| m["meta"]["card"].is_null() && m["text"] == "done")
        .count()
}

/// One turn: a shell call at a level that runs it, then "done".
async fn run_shell(w: &World, conv: i64, command: &str) -> String {
    let before = dones(&agent_messages(w, conv).await);
    w.llm.push(Reply::tool_call(
        "shell",
        &json!({"command": command}).to_string(),
    ));
    w.llm.push(Reply::text(["done"]));
    post(&w.server, &w.owner, conv, "go").await;
    eventually("the turn's answer", || async {
        (dones(&agent_messages(w, conv).await) > before).then_some(())
    })
    .await;
    last_tool_result(&w.llm.last_chat().unwrap())
}

fn workspace(w: &World, agent: i64) -> PathBuf {
    w.env
        .data
        .join("agents")
        .join(agent.to_string())
        .join("files")
}

/// Writes a workspace file as the server's user would own it.
fn put(w: &World, agent: i64, name: &str, text: &str) {
    let ws = workspace(w, agent);
    std::fs::create_dir_all(&ws).unwrap();
    let path = ws.join(name);
    std::fs::write(&path, text).unwrap();
    if let Some((uid, gid)) = w.env.run_as {
        for p in [ws.as_path(), path.as_path()] {
            std::os::unix::fs::chown(p, Some(uid), Some(gid)).unwrap();
        }
    }
}

fn offered(w: &World) -> Vec<String> {
    w.llm.chat_requests()[0].body["tools"]
        .as_array()
        .map(|t| {
            t.iter()
                .map(|t| t["function"]["name"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn without_bubblewrap_shell_is_neither_offered_nor_run() {
    let empty = tempfile::tempdir().unwrap();
    let w = unprivileged(Some(empty.path().to_str().unwrap())).await;
    let (agent, conv) = w.agent("nobwrap").await;
    w.set_level(agent, "shell", 4).await;
    let r = run_shell(&w, conv, "id").await;
    assert!(!offered(&w).contains(&"shell".to_string()));
    assert!(r.contains("not available"), "{r}");
}

#[tokio::test(flavor = "multi_thread")]
async fn as_root_shell_is_not_offered() {
    if !is_root() {
        eprintln!("skipped: only meaningful when the tests run as root");
        return;
    }
    let w = world("").await;
    let (agent, conv) = w.agent("rooted").await;
    w.set_level(agent, "shell", 4).await;
    let r = run_shell(&w, conv, "id").await;
    assert!(!offered(&w).contains(&"shell".to_string()));
    assert!(r.contains("not available"), "{r}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_approved_command_runs_in_the_sandbox_read_only_at_level_2() {
    let w = unprivileged(None).await;
    let (agent, conv) = w.agent("sheller").await;
    put(&w, agent, "hello.txt", "hi");
    w.set_level(agent, "shell", 2).await;
    w.llm.push(Reply::tool_call(
        "shell",
        &json!({"command": "ls -la /work && touch /work/made.txt"}).to_string(),
    ));
    w.llm.push(Reply::text(["done"]));
    post(&w.server, &w.owner, conv, "list my files").await;
    let asked = eventually("an approval", || async {
        w.approvals("pending").await.into_iter().next()
    })
    .await;
    assert_eq!(asked["tool"], "shell");
    assert_eq!(
        asked["target"],
        "shell: ls -la /work && touch /work/made.txt"
    );
    let (s, v) = call(
        &w.server,
        &w.owner,
        Method::POST,
        &format!("/api/v1/approvals/{}/approve", asked["id"]),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    eventually("the answer", || async {
        (dones(&agent_messages(&w, conv).await) == 1).then_some(())
    })
    .await;
    let r = last_tool_result(&w.llm.last_chat().unwrap());
    assert!(r.contains("hello.txt"), "{r}");
    // Level 2: /work is read-only, so the touch failed.
    assert!(
        r.contains("Read-only file system") || r.contains("exit code 1"),
        "{r}"
    );
    assert!(!workspace(&w, agent).join("made.txt").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn level_3_writes_and_the_sandbox_hides_the_host() {
    let w = unprivileged(None).await;
    let (agent, conv) = w.agent("builder").await;
    w.set_level(agent, "shell", 3).await;
    let r = run_shell(&w, conv, "echo built > /work/out.txt && cat /work/out.txt").await;
    assert!(r.contains("exit code 0") && r.contains("built"), "{r}");
    assert_eq!(
        std::fs::read_to_string(workspace(&w, agent).join("out.txt")).unwrap(),
        "built\n"
    );
    let data = w.env.data.display().to_string();
    let probe = format!(
        "cat /etc/shadow; ls {data}; env; cat /proc/1/environ; ls /proc | grep -c '^[0-9]'; \
         curl -s -m 3 http://127.0.0.1:{port}/healthz || echo no-network",
        port = w
            .server
            .base
            .rsplit(':')
            .next()
            .unwrap()
            .trim_end_matches('/')
    );
    let r = run_shell(&w, conv, &probe).await;
    assert!(!r.contains("root:"), "shadow visible: {r}");
    assert!(!r.contains("vault"), "data directory visible: {r}");
    assert!(!r.contains("HARDSHELL"), "server environment visible: {r}");
    assert!(r.contains("HOME=/work"), "{r}");
    assert!(r.contains("no-network"), "the server was reachable: {r}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_script_changed_after_approval_does_not_run() {
    let w = unprivileged(None).await;
    let (agent, conv) = w.agent("scripter").await;
    put(&w, agent, "run.sh", "echo harmless\n");
    w.set_level(agent, "shell", 3).await;
    // A tainted turn (knowledge read) makes even level 3 ask.
    w.llm.push(Reply::tool_call(
        "knowledge_search",
        &json!({"query": "x"}).to_string(),
    ));
    w.llm.push(Reply::tool_call(
        "shell",
        &json!({"command": "sh run.sh"}).to_string(),
    ));
    w.llm.push(Reply::text(["done"]));
    post(&w.server, &w.owner, conv, "run it").await;
    let asked = eventually("an approval", || async {
        w.approvals("pending").await.into_iter().next()
    })
    .await;
    // The script is swapped after the owner saw the request.
    put(&w, agent, "run.sh", "touch /work/pwned\n");
    let (s, _) = call(
        &w.server,
        &w.owner,
        Method::POST,
        &format!("/api/v1/approvals/{}/approve", asked["id"]),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    eventually("the answer", || async {
        (dones(&agent_messages(&w, conv).await) == 1).then_some(())
    })
    .await;
    let r = last_tool_result(&w.llm.last_chat().unwrap());
    assert!(r.contains("does not match what the owner approved"), "{r}");
    assert!(!workspace(&w, agent).join("pwned").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn killing_the_server_kills_every_sandboxed_process() {
    let w = unprivileged(None).await;
    let (agent, conv) = w.agent("sleeper").await;
    w.set_level(agent, "shell", 4).await;
    w.llm.push(Reply::tool_call(
        "shell",
        &json!({"command": "sleep 97.5"}).to_string(),
    ));
    post(&w.server, &w.owner, conv, "wait").await;
    let sleeping = || {
        let out = std::process::Command::new("pgrep")
            .args(["-f", "sleep 97.5"])
            .output()
            .unwrap();
        !String::from_utf8_lossy(&out.stdout).trim().is_empty()
    };
    eventually("the sandboxed sleep", || async { sleeping().then_some(()) }).await;
    let pid = w.server.child.id().to_string();
    std::process::Command::new("kill")
        .args(["-KILL", &pid])
        .status()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while sleeping() {
        assert!(
            std::time::Instant::now() < deadline,
            "a sandboxed process outlived the server"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
