//! Registry tests, and the structural check that only the gate can reach
//! an executor.

use super::*;
use crate::store::agents::Budgets;

fn agent(tools: &[&str], memory: bool) -> AgentRow {
    AgentRow {
        id: 1,
        uuid: String::new(),
        handle: "a".into(),
        name: "A".into(),
        description: String::new(),
        model: "openai/x".into(),
        tools: tools.iter().map(|t| t.to_string()).collect(),
        memory,
        knowledge: true,
        context_tokens: 8192,
        budgets: Budgets {
            tokens_per_turn: 1,
            tokens_per_conversation_day: 1,
            daily_spend_micros: None,
        },
        disabled: false,
        created_by: None,
        created_at: 0,
        updated_at: 0,
    }
}

const OFFER: Offer = Offer {
    max_depth: 3,
    shell: true,
};

fn all_levels(level: u8) -> Vec<(Domain, u8)> {
    Domain::ALL.iter().map(|d| (*d, level)).collect()
}

#[test]
fn only_allowed_tools_are_offered() {
    let a = agent(&["memory_save", "call_agent"], true);
    let names: Vec<String> = specs(&a, 0, OFFER, &all_levels(2))
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, ["memory_save", "call_agent"]);
    let off = agent(&["memory_save", "memory_search"], false);
    assert!(
        specs(&off, 0, OFFER, &all_levels(2)).is_empty(),
        "memory off hides memory tools"
    );
}

#[test]
fn level_zero_domains_are_not_offered_but_read_only_tools_are() {
    let a = agent(&["memory_save", "memory_search", "call_agent"], true);
    let names: Vec<String> = specs(&a, 0, OFFER, &all_levels(0))
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, ["memory_search"]);
}

#[test]
fn call_agent_disappears_at_the_depth_limit() {
    let a = agent(&["call_agent"], true);
    assert_eq!(specs(&a, 2, OFFER, &all_levels(2)).len(), 1);
    assert!(specs(&a, 3, OFFER, &all_levels(2)).is_empty());
}

#[test]
fn every_tool_has_a_strict_schema_and_unknown_fields_are_refused() {
    let a = agent(
        &[
            "memory_save",
            "memory_search",
            "knowledge_search",
            "call_agent",
        ],
        true,
    );
    let scope = ToolScope {
        agent: &a,
        conversation_id: 1,
        user_id: Some(1),
        memory_user: Some(1),
        depth: 0,
        embedder: None,
        bindings: Vec::new(),
        max_file_bytes: 1024,
        workspace: None,
        level: 2,
    };
    for def in REGISTRY {
        assert_eq!(
            def.spec().parameters["additionalProperties"],
            false,
            "{}",
            def.name
        );
        let call = ToolCall {
            id: "c".into(),
            name: def.name.into(),
            arguments: r#"{"query":"x","text":"x","handle":"b","message":"m","extra":1}"#.into(),
        };
        let err = prepare(&call, &scope).err().unwrap_or_default();
        assert!(err.contains("unknown field"), "{}: {err}", def.name);
    }
}

/// Every `.rs` file under `src/`, with its path relative to `src/`.
fn sources() -> Vec<(String, String)> {
    fn walk(dir: &std::path::Path, root: &std::path::Path, out: &mut Vec<(String, String)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, root, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                out.push((rel, std::fs::read_to_string(&path).unwrap()));
            }
        }
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = Vec::new();
    walk(&root, &root, &mut out);
    out
}

#[test]
fn only_the_gate_can_reach_an_executor() {
    let files = sources();
    assert!(files.len() > 20, "source walk found too little");
    for (path, text) in &files {
        let code: String = text
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        // The dispatcher is called by the gate alone.
        if path != "trust/gate.rs"
            && path != "agents/tools/mod.rs"
            && path != "agents/tools/tests.rs"
        {
            assert!(
                !code.contains("execute_with_permit"),
                "{path} calls the tool executor"
            );
        }
        // A Permit is made in the gate alone.
        if path != "trust/gate.rs" && path != "agents/tools/tests.rs" {
            assert!(!code.contains("Permit {"), "{path} makes a Permit");
        }
        // Tool families expose their executors to the registry only.
        if path.starts_with("agents/tools/")
            && path != "agents/tools/mod.rs"
            && path != "agents/tools/tests.rs"
        {
            for line in code.lines() {
                let l = line.trim_start();
                assert!(
                    !(l.starts_with("pub(crate) async fn") || l.starts_with("pub async fn")),
                    "{path}: executor visible outside the tools module: {l}"
                );
            }
        }
    }
    // The gate's key cannot be built outside it: its only field is private.
    let gate = &files.iter().find(|(p, _)| p == "trust/gate.rs").unwrap().1;
    assert!(gate.contains("pub struct Permit {\n    _sealed: (),\n}"));
    // The tools module is private to `agents` and crate-visible only.
    let agents_mod = &files.iter().find(|(p, _)| p == "agents/mod.rs").unwrap().1;
    assert!(agents_mod.contains("pub(crate) mod tools;"));
}

#[test]
fn the_agent_model_knows_exactly_the_registered_tools() {
    let registered: Vec<&str> = REGISTRY.iter().map(|t| t.name).collect();
    assert_eq!(registered, crate::agents::model::KNOWN_TOOLS);
}
