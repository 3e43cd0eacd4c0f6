//! `hardshell import xiajiao DIR` through the real binary. The fixture is a
//! xiajiao directory built here from xiajiao's own layout: `agents.json`,
//! `models.json` (providers with plaintext `apiKey`), `im-settings.json`,
//! `data/xiajiao.db` (its `messages` and `agent_memories` tables) and
//! `data/workspace-<id>/` (SOUL.md and knowledge files). Malformed
//! directories are refused with nothing written, a second import is
//! refused, the keys end up in the vault, and everything shows in the API.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use common::Env;
use common::chat::get;
use common::identity::{add_user, audit_rows, db, pf, start, tokens};

const BAILIAN_KEY: &str = "sk-xj-plaintext-bailian-0001";
const OPENAI_KEY: &str = "sk-xj-plaintext-openai-0002";

const AGENTS: &str = r#"{"agents":[
  {"id":"novelist","name":"Novelist","emoji":"✍️","model":"bailian/qwen-plus","createdAt":0,
   "tools":{"allow":["memory_write","memory_search"]},"autoInjectMemory":true},
  {"id":"editor","name":"Editor","emoji":"📝","model":"","createdAt":0,
   "tools":{"allow":["memory_write"]},"autoInjectMemory":true}]}"#;

fn models() -> String {
    format!(
        r#"{{"providers":{{
  "bailian":{{"baseUrl":"https://dashscope.example/compatible-mode/v1","apiKey":"{BAILIAN_KEY}","api":"openai-completions"}},
  "openai":{{"baseUrl":"https://api.openai.example/v1","apiKey":"{OPENAI_KEY}","api":"openai-completions"}}}},
 "models":[
  {{"id":"bailian/qwen-plus","name":"qwen-plus","provider":"bailian","input":["text"],"contextWindow":131072}},
  {{"id":"openai/gpt-4o","name":"gpt-4o","provider":"openai","input":["text","image"],"contextWindow":128000}}]}}"#
    )
}

/// xiajiao's `messages` table (server/services/database.js) and its
/// `agent_memories` table (migration 004), with a few rows.
fn xiajiao_db(path: &Path) {
    let conn = rusqlite::Connection::open(path).unwrap();
    // xiajiao runs its database in WAL mode.
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.execute_batch(
        "CREATE TABLE messages (id TEXT PRIMARY KEY, type TEXT NOT NULL, channel TEXT NOT NULL, \
           agent TEXT, userId TEXT, userName TEXT, userColor TEXT, text TEXT, ts INTEGER NOT NULL, \
           runId TEXT, replyTo TEXT, blocks TEXT, files TEXT, cards TEXT, mentions TEXT);
         CREATE TABLE agent_memories (id TEXT PRIMARY KEY, agent_id TEXT NOT NULL, \
           type TEXT DEFAULT 'semantic', content TEXT NOT NULL, summary TEXT, tags TEXT DEFAULT '[]', \
           importance TEXT DEFAULT 'medium', source TEXT DEFAULT 'agent', embedding TEXT, \
           access_count INTEGER DEFAULT 0, created_at INTEGER NOT NULL, last_accessed_at INTEGER, \
           consolidated_into TEXT);
         CREATE TABLE _migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, appliedAt INTEGER NOT NULL);
         INSERT INTO messages (id, type, channel, userId, userName, text, ts) VALUES
           ('msg-1', 'user', 'novelist', 'owner', 'Owner', 'Write me a story about the reef', 1700000000000);
         INSERT INTO messages (id, type, channel, agent, text, ts, runId) VALUES
           ('msg-2', 'agent', 'novelist', 'novelist', 'Once upon a tide, a crab kept a lighthouse.', 1700000005000, 'r1');
         INSERT INTO messages (id, type, channel, userId, userName, text, ts) VALUES
           ('msg-3', 'user', 'grp-1', 'owner', 'Owner', 'hello group', 1700000009000);
         INSERT INTO agent_memories (id, agent_id, type, content, created_at) VALUES
           ('m1', 'novelist', 'semantic', 'The owner likes stories about lighthouses', 1700000001000);
         INSERT INTO agent_memories (id, agent_id, type, content, created_at) VALUES
           ('m3', 'novelist', 'episodic', 'the owner  likes stories about LIGHTHOUSES', 1700000002000);
         INSERT INTO agent_memories (id, agent_id, content, created_at, consolidated_into) VALUES
           ('m2', 'novelist', 'old merged memory', 1700000000500, 'm1');",
    )
    .unwrap();
    // Longer than a message may be here: left behind and counted.
    conn.execute(
        "INSERT INTO messages (id, type, channel, userId, text, ts) \
         VALUES ('msg-4', 'user', 'novelist', 'owner', ?1, 1700000010000)",
        ["x".repeat(16_001)],
    )
    .unwrap();
}

/// A complete xiajiao directory under `root`.
fn xiajiao_dir(root: &Path) {
    let data = root.join("data");
    let novelist = data.join("workspace-novelist");
    std::fs::create_dir_all(&novelist).unwrap();
    std::fs::create_dir_all(data.join("workspace-editor")).unwrap();
    std::fs::write(root.join("agents.json"), AGENTS).unwrap();
    std::fs::write(root.join("models.json"), models()).unwrap();
    std::fs::write(
        root.join("im-settings.json"),
        r#"{"defaultModel":"openai/gpt-4o","llmMode":"direct","rag":{"enabled":false}}"#,
    )
    .unwrap();
    std::fs::write(
        novelist.join("SOUL.md"),
        "# Novelist\n\nYou write short sea stories.\n",
    )
    .unwrap();
    std::fs::write(
        novelist.join("tides.md"),
        "# Tide tables\n\nThe spring tide at Reef Point peaks at dawn.\n",
    )
    .unwrap();
    std::fs::write(novelist.join(".rag-index.json"), "{}").unwrap();
    xiajiao_db(&data.join("xiajiao.db"));
}

fn counts(env: &Env) -> (i64, i64, i64, i64) {
    let conn = db(env);
    let n = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
    (
        n("SELECT count(*) FROM agents"),
        n("SELECT count(*) FROM providers"),
        n("SELECT count(*) FROM messages"),
        n("SELECT count(*) FROM conversations"),
    )
}

fn import(env: &Env, dir: &Path) -> std::process::Output {
    let p = pf(env);
    env.run(
        &[
            "import",
            "xiajiao",
            dir.to_str().unwrap(),
            "--passphrase-file",
            &p,
        ],
        None,
    )
}

fn vault_has(env: &Env, name: &str) -> Option<String> {
    let p = pf(env);
    let out = env.run(
        &["vault", "get", name, "--reveal", "--passphrase-file", &p],
        None,
    );
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

#[tokio::test]
async fn a_xiajiao_directory_moves_in_keys_into_the_vault() {
    let env = Env::new();
    env.init_with_passphrase();
    add_user(&env, "olga", "owner");
    let before = counts(&env);

    // Malformed directories: refused, and nothing is written.
    let root = env.tmp.path().join("xj-bad");
    xiajiao_dir(&root);
    std::fs::write(root.join("agents.json"), "{\"agents\": 3}").unwrap();
    let no_db = env.tmp.path().join("xj-nodb");
    xiajiao_dir(&no_db);
    std::fs::remove_file(no_db.join("data").join("xiajiao.db")).unwrap();
    let bad_model = env.tmp.path().join("xj-model");
    xiajiao_dir(&bad_model);
    std::fs::write(
        bad_model.join("agents.json"),
        AGENTS.replace("bailian/qwen-plus", "mystery/model-1"),
    )
    .unwrap();
    let not_dir = env.tmp.path().join("missing");
    for (dir, why) in [
        (&root, "agents.json"),
        (&no_db, "xiajiao.db"),
        (&bad_model, "mystery"),
        (&not_dir, "not a directory"),
    ] {
        let out = import(&env, dir);
        assert!(!out.status.success(), "{dir:?} was imported");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(why), "{dir:?}: {err}");
        assert!(err.contains("nothing was imported"), "{dir:?}: {err}");
        assert_eq!(counts(&env), before, "{dir:?} wrote something");
        assert_eq!(vault_has(&env, "provider.bailian.api_key"), None);
    }

    // A failure midway (the second agent's workspace cannot be made: a
    // file is in its way) undoes the first agent, its conversation,
    // memories and knowledge, the providers and the vault keys.
    let good = env.tmp.path().join("xiajiao");
    xiajiao_dir(&good);
    let next: i64 = db(&env)
        .query_row("SELECT coalesce(max(id), 0) + 2 FROM agents", [], |r| {
            r.get(0)
        })
        .unwrap();
    let agents_dir = env.data.join("agents");
    std::fs::create_dir_all(&agents_dir).unwrap();
    let private = |p: &Path, mode: u32| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    private(&agents_dir, 0o700);
    let blocker = agents_dir.join(next.to_string());
    std::fs::write(&blocker, "in the way").unwrap();
    private(&blocker, 0o600);
    let out = import(&env, &good);
    assert!(!out.status.success(), "imported through a failure");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("nothing was imported"), "{err}");
    assert_eq!(counts(&env), before, "a failure midway left rows");
    let leftovers: i64 = db(&env)
        .query_row(
            "SELECT (SELECT count(*) FROM agent_memories) + (SELECT count(*) FROM knowledge_docs)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(leftovers, 0);
    assert_eq!(vault_has(&env, "provider.bailian.api_key"), None);
    assert!(
        !agents_dir.join((next - 1).to_string()).exists(),
        "the first agent's workspace was left"
    );
    std::fs::remove_file(&blocker).unwrap();

    // The real thing.
    // A link out of the directory is never followed into knowledge.
    let outside = env.tmp.path().join("outside-secret.md");
    std::fs::write(&outside, "# Outside\n\nnot part of xiajiao\n").unwrap();
    std::os::unix::fs::symlink(
        &outside,
        good.join("data")
            .join("workspace-novelist")
            .join("linked.md"),
    )
    .unwrap();
    let out = import(&env, &good);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("imported 2 agents for olga (novelist, editor): 2 messages, 1 memories, 1 knowledge files"),
        "{stdout}"
    );
    assert!(
        stdout.contains("2 messages were not carried across"),
        "{stdout}"
    );
    assert!(stdout.contains("provider.bailian.api_key"), "{stdout}");
    assert!(stdout.contains("wipe the old copy"), "{stdout}");
    assert!(stdout.contains("models.json"), "{stdout}");
    assert!(
        !stdout.contains(BAILIAN_KEY) && !stdout.contains(OPENAI_KEY),
        "a key was printed: {stdout}"
    );
    assert_eq!(
        vault_has(&env, "provider.bailian.api_key").as_deref(),
        Some(BAILIAN_KEY)
    );
    assert_eq!(
        vault_has(&env, "provider.openai.api_key").as_deref(),
        Some(OPENAI_KEY)
    );
    // The keys are nowhere in the database.
    let conn = db(&env);
    let leaked: i64 = conn
        .query_row(
            "SELECT count(*) FROM providers WHERE base_url LIKE '%sk-xj%' OR models LIKE '%sk-xj%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(leaked, 0);
    drop(conn);

    // A second import is refused and changes nothing.
    let after = counts(&env);
    let out = import(&env, &good);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("already exists"), "{err}");
    assert_eq!(counts(&env), after);

    let imports: Vec<_> = audit_rows(&env)
        .into_iter()
        .filter(|r| r.0 == "import.xiajiao")
        .collect();
    // The undone attempt is on record too.
    let outcomes: Vec<&str> = imports.iter().map(|r| r.4.as_str()).collect();
    assert_eq!(outcomes, ["failure", "success"], "{imports:?}");
    assert!(
        imports.iter().all(|r| r.1 == "system" && r.2 == "cli"),
        "{imports:?}"
    );

    // Everything shows in the API of the server started afterwards.
    let server = start(&env);
    let token = tokens(&server, "olga").await.0;
    let (_, agents) = get(&server, &token, "/api/v1/agents").await;
    let find = |handle: &str| {
        agents["agents"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["handle"] == handle)
            .unwrap_or_else(|| panic!("no {handle}: {agents}"))
            .clone()
    };
    let novelist = find("novelist");
    let editor = find("editor");
    assert_eq!(novelist["model"], "bailian/qwen-plus");
    assert_eq!(editor["model"], "openai/gpt-4o", "the default model");
    let nid = novelist["id"].as_i64().unwrap();
    let (_, soul) = get(&server, &token, &format!("/api/v1/agents/{nid}/soul")).await;
    assert!(
        soul["soul"].as_str().unwrap().contains("short sea stories"),
        "{soul}"
    );

    let (_, providers) = get(&server, &token, "/api/v1/providers").await;
    let bailian = providers["providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "bailian")
        .unwrap_or_else(|| panic!("{providers}"))
        .clone();
    assert_eq!(bailian["has_api_key"], true, "{bailian}");
    assert_eq!(bailian["models"][0], "qwen-plus", "{bailian}");

    let (_, convs) = get(&server, &token, "/api/v1/conversations").await;
    let conv = convs["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["title"] == "Novelist")
        .unwrap_or_else(|| panic!("{convs}"))
        .clone();
    let cid = conv["id"].as_i64().unwrap();
    let (_, page) = get(&server, &token, &common::chat::messages_path(cid)).await;
    let texts: Vec<&str> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        texts,
        [
            "Write me a story about the reef",
            "Once upon a tide, a crab kept a lighthouse."
        ],
        "{page}"
    );

    let (_, mems) = get(&server, &token, &format!("/api/v1/agents/{nid}/memories")).await;
    let mem_texts: Vec<&str> = mems["memories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        mem_texts,
        ["The owner likes stories about lighthouses"],
        "{mems}"
    );

    let (_, docs) = get(&server, &token, &format!("/api/v1/agents/{nid}/knowledge")).await;
    let names: Vec<&str> = docs["documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["tides.md"], "{docs}");

    // While the server runs, an import is refused: the vault cannot change
    // under it.
    let other = env.tmp.path().join("xj-other");
    xiajiao_dir(&other);
    std::fs::write(
        other.join("agents.json"),
        AGENTS
            .replace("novelist", "poet")
            .replace("editor", "critic"),
    )
    .unwrap();
    let out = import(&env, &other);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("running server"), "{err}");
}
