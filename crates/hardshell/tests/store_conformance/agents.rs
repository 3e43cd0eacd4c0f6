//! The agents aggregate (`store::agents::AgentStore`): agents, providers,
//! usage. Users come from `UserStore`; the conversations usage rows point
//! at are the chat aggregate's, written by the shared `Fixture` until chat
//! has its own interface.

use std::sync::Arc;

use hardshell::auth::Role;
use hardshell::store::StoreError;
use hardshell::store::agents::{AgentFields, AgentReject, AgentStore, Budgets, ProviderRow};
use hardshell::store::users::UserStore;

use crate::Fixture;

both!(agents_and_providers);
both!(lists_sort_by_the_case_folded_name);
both!(racing_creates_of_one_handle);
both!(agent_create_racing_provider_delete);
both!(racing_provider_puts_make_one_provider);
both_fx!(usage_per_conversation_and_day);
both_fx!(concurrent_usage_adds_sum_exactly);

/// Conversations with these ids (the chat aggregate's rows), written
/// around the store.
async fn conversations(fx: &Fixture, ids: &[i64]) {
    for id in ids {
        fx.exec(&format!(
            "INSERT INTO conversations (id, kind, title, created_at, last_activity_at)
             VALUES ({id}, 'group', 'usage', 0, 0)"
        ))
        .await;
    }
}

fn fields(handle: &str, model: &str) -> AgentFields {
    AgentFields {
        handle: handle.into(),
        name: format!("{handle} the agent"),
        description: "helps".into(),
        model: model.into(),
        tools: vec!["web_fetch".into(), "memory".into()],
        memory: true,
        knowledge: false,
        context_tokens: 16_384,
        budgets: Budgets {
            tokens_per_turn: 30_000,
            tokens_per_conversation_day: 300_000,
            daily_spend_micros: Some(2_500_000),
        },
        disabled: false,
    }
}

fn provider(name: &str, base_url: &str) -> ProviderRow {
    ProviderRow {
        name: name.into(),
        kind: "openai".into(),
        base_url: base_url.into(),
        models: vec!["gpt-a".into(), "gpt-b".into()],
        embedding_model: Some("embed-1".into()),
        input_micros_per_mtok: 150_000,
        output_micros_per_mtok: 600_000,
        created_at: 0,
        updated_at: 0,
    }
}

async fn agents_and_providers<S: AgentStore + UserStore + 'static>(s: Arc<S>) {
    let owner = s
        .user_create("Root".into(), Role::Owner, None)
        .await
        .unwrap();

    // Providers: found in any case; a put in another case updates the one
    // provider and keeps its name and creation time.
    assert!(s.provider_get("openai").await.unwrap().is_none());
    let p = s
        .provider_put(provider("OpenAI", "https://a.example/v1"))
        .await
        .unwrap();
    assert_eq!(p.name, "OpenAI");
    assert_eq!(p.models, ["gpt-a", "gpt-b"]);
    assert_eq!(p.embedding_model.as_deref(), Some("embed-1"));
    assert_eq!(
        (p.input_micros_per_mtok, p.output_micros_per_mtok),
        (150_000, 600_000)
    );
    assert!(p.created_at > 0 && p.updated_at >= p.created_at);
    let mut changed = provider("openai", "https://b.example/v1");
    changed.embedding_model = None;
    changed.models = vec![];
    let p2 = s.provider_put(changed).await.unwrap();
    assert_eq!(p2.name, "OpenAI");
    assert_eq!(p2.base_url, "https://b.example/v1");
    assert_eq!(p2.embedding_model, None);
    assert!(p2.models.is_empty());
    assert_eq!(p2.created_at, p.created_at);
    assert_eq!(s.provider_get("OPENAI").await.unwrap(), Some(p2.clone()));
    s.provider_put(provider("zeta", "http://127.0.0.1:1"))
        .await
        .unwrap();
    s.provider_put(provider("Beta", "http://127.0.0.1:2"))
        .await
        .unwrap();
    let names: Vec<String> = s
        .provider_list()
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(names, ["Beta", "OpenAI", "zeta"]);

    // Agents: every field round-trips.
    assert_eq!(s.agent_count().await.unwrap(), 0);
    let a = s
        .agent_create(
            fields("Helper", "openai/gpt-a"),
            Some(owner.id),
            Some("OPENAI".into()),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(a.handle, "Helper");
    assert_eq!(a.name, "Helper the agent");
    assert_eq!(a.description, "helps");
    assert_eq!(a.model, "openai/gpt-a");
    assert_eq!(a.tools, ["web_fetch", "memory"]);
    assert!(a.memory && !a.knowledge && !a.disabled);
    assert_eq!(a.context_tokens, 16_384);
    assert_eq!(a.budgets, fields("x", "y").budgets);
    assert_eq!(a.created_by, Some(owner.id));
    assert_eq!(a.uuid.len(), 36);
    assert!(a.created_at > 0 && a.updated_at >= a.created_at);
    assert_eq!(s.agent_get(a.id).await.unwrap(), Some(a.clone()));

    // A handle is unique among agents and usernames in any ASCII case.
    for taken in ["helper", "HELPER", "root", "rOOt"] {
        assert_eq!(
            s.agent_create(fields(taken, "m"), None, None)
                .await
                .unwrap(),
            Err(AgentReject::HandleTaken),
            "{taken}"
        );
    }
    // An unknown provider is refused and leaves nothing behind.
    assert_eq!(
        s.agent_create(fields("ghost", "nope/m"), None, Some("nope".into()))
            .await
            .unwrap(),
        Err(AgentReject::UnknownProvider)
    );
    assert_eq!(s.agent_count().await.unwrap(), 1);

    let mut b_fields = fields("bot", "m");
    b_fields.budgets.daily_spend_micros = None;
    b_fields.disabled = true;
    let b = s.agent_create(b_fields, None, None).await.unwrap().unwrap();
    assert_eq!(b.created_by, None);
    assert_eq!(b.budgets.daily_spend_micros, None);
    assert!(b.disabled);
    s.agent_create(fields("alpha", "m"), None, None)
        .await
        .unwrap()
        .unwrap();
    let handles: Vec<String> = s
        .agent_list()
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.handle)
        .collect();
    assert_eq!(handles, ["alpha", "bot", "Helper"]);
    assert_eq!(s.agent_count().await.unwrap(), 3);

    // Updates: another agent's handle or a username in any case is taken;
    // an agent may recase its own handle.
    for taken in ["HELPER", "Root"] {
        assert_eq!(
            s.agent_update(b.id, fields(taken, "m"), None)
                .await
                .unwrap(),
            Err(AgentReject::HandleTaken)
        );
    }
    assert_eq!(
        s.agent_update(b.id, fields("bot", "nope/m"), Some("NOPE".into()))
            .await
            .unwrap(),
        Err(AgentReject::UnknownProvider)
    );
    assert_eq!(s.agent_get(b.id).await.unwrap(), Some(b.clone()));
    let mut renamed = fields("BOT", "beta/x");
    renamed.tools = vec![];
    renamed.context_tokens = 4096;
    let b2 = s
        .agent_update(b.id, renamed, Some("beta".into()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((b2.id, b2.uuid.as_str()), (b.id, b.uuid.as_str()));
    assert_eq!(b2.handle, "BOT");
    assert_eq!(b2.model, "beta/x");
    assert!(b2.tools.is_empty());
    assert_eq!(b2.context_tokens, 4096);
    assert!(!b2.disabled);
    assert_eq!(b2.created_at, b.created_at);

    // Not found.
    assert!(s.agent_get(999_999).await.unwrap().is_none());
    assert!(matches!(
        s.agent_update(999_999, fields("free", "m"), None).await,
        Err(StoreError::NotFound)
    ));
    assert!(s.agent_delete(b.id).await.unwrap());
    assert!(!s.agent_delete(b.id).await.unwrap());
    assert!(s.agent_get(b.id).await.unwrap().is_none());
    assert!(matches!(
        s.agent_update(b.id, fields("bot", "m"), None).await,
        Err(StoreError::NotFound)
    ));
    // A deleted agent's handle is free again.
    s.agent_create(fields("Bot", "m"), None, None)
        .await
        .unwrap()
        .unwrap();

    // Deleting a provider in any case; agents that name it stay.
    assert!(s.provider_delete("openAI").await.unwrap());
    assert!(!s.provider_delete("openai").await.unwrap());
    assert!(s.provider_get("OpenAI").await.unwrap().is_none());
    assert_eq!(s.agent_get(a.id).await.unwrap(), Some(a));
    assert_eq!(s.provider_list().await.unwrap().len(), 2);
}

/// Lists sort as SQLite's NOCASE does: ASCII case folded, then byte
/// order, so punctuation and digits sort by their code (a locale's
/// collation would ignore `-` and `_` and put `ab` before `a_b`). The
/// test cluster's databases are C.UTF-8, where that cannot show; on a
/// server whose default collation is a locale's it would.
async fn lists_sort_by_the_case_folded_name<S: AgentStore + 'static>(s: Arc<S>) {
    for name in ["ab", "B", "A_b", "a-z", "a1"] {
        s.agent_create(fields(name, "m"), None, None)
            .await
            .unwrap()
            .unwrap();
        s.provider_put(provider(name, "http://127.0.0.1:1"))
            .await
            .unwrap();
    }
    let expected = ["a-z", "a1", "A_b", "ab", "B"];
    let handles: Vec<String> = s
        .agent_list()
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.handle)
        .collect();
    assert_eq!(handles, expected);
    let names: Vec<String> = s
        .provider_list()
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(names, expected);
}

/// Two creates of one handle (in different cases) at the same moment:
/// one wins, the other is refused as taken, never an error. On
/// PostgreSQL both pass the "is it free" check; the unique index refuses
/// the second insert, and that refusal must come back as `HandleTaken`.
async fn racing_creates_of_one_handle<S: AgentStore + 'static>(s: Arc<S>) {
    for round in 0..25 {
        let (s1, s2) = (Arc::clone(&s), Arc::clone(&s));
        let (lower, upper) = (format!("race{round}"), format!("RACE{round}"));
        let (r1, r2) = tokio::join!(
            tokio::spawn(async move { s1.agent_create(fields(&lower, "m"), None, None).await }),
            tokio::spawn(async move { s2.agent_create(fields(&upper, "m"), None, None).await }),
        );
        let (r1, r2) = (r1.unwrap().unwrap(), r2.unwrap().unwrap());
        assert!(
            r1.is_ok() != r2.is_ok(),
            "round {round}: exactly one create must win: {r1:?} / {r2:?}"
        );
        let lost = if r1.is_ok() { r2 } else { r1 };
        assert_eq!(lost, Err(AgentReject::HandleTaken), "round {round}");
    }
    assert_eq!(s.agent_count().await.unwrap(), 25);

    // Two renames of different agents to one free handle: one wins.
    let x = s
        .agent_create(fields("x", "m"), None, None)
        .await
        .unwrap()
        .unwrap()
        .id;
    let y = s
        .agent_create(fields("y", "m"), None, None)
        .await
        .unwrap()
        .unwrap()
        .id;
    for round in 0..10 {
        let (s1, s2) = (Arc::clone(&s), Arc::clone(&s));
        let target = format!("renamed{round}");
        let t2 = target.to_uppercase();
        let (r1, r2) = tokio::join!(
            tokio::spawn(async move { s1.agent_update(x, fields(&target, "m"), None).await }),
            tokio::spawn(async move { s2.agent_update(y, fields(&t2, "m"), None).await }),
        );
        let (r1, r2) = (r1.unwrap().unwrap(), r2.unwrap().unwrap());
        assert!(
            r1.is_ok() != r2.is_ok(),
            "round {round}: exactly one rename must win: {r1:?} / {r2:?}"
        );
    }
}

/// Puts of one provider name (same and other case) at the same moment:
/// all succeed, one provider remains, holding one of the settings and one
/// stored name. On PostgreSQL the upsert's arbiter must be the
/// `lower(name)` index, and an insert racing another of the very same
/// name (which can hit the exact-name primary key first) must not surface
/// as an error: without the retry in `provider_put` this failed in each
/// of four runs.
async fn racing_provider_puts_make_one_provider<S: AgentStore + 'static>(s: Arc<S>) {
    const ROUNDS: usize = 60;
    for round in 0..ROUNDS {
        let names = [
            format!("p{round}"),
            format!("p{round}"),
            format!("p{round}"),
            format!("P{round}"),
        ];
        let tasks: Vec<_> = names
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let (s, name) = (Arc::clone(&s), name.clone());
                tokio::spawn(async move {
                    s.provider_put(provider(&name, &format!("http://127.0.0.1:{}", i + 1)))
                        .await
                })
            })
            .collect();
        let mut puts = Vec::new();
        for t in tasks {
            puts.push(t.await.unwrap().unwrap());
        }
        assert!(
            puts.iter().all(|p| p.name == puts[0].name),
            "round {round}: one stored name: {puts:?}"
        );
        let stored = s.provider_get(&names[0]).await.unwrap().unwrap();
        assert!(
            puts.contains(&stored),
            "round {round}: {stored:?} is none of the writes"
        );
    }
    assert_eq!(s.provider_list().await.unwrap().len(), ROUNDS);
}

/// An agent created while its provider is being deleted: the create either
/// sees the provider gone (and leaves nothing) or completes first; neither
/// side fails with an error, and the delete always happens.
async fn agent_create_racing_provider_delete<S: AgentStore + 'static>(s: Arc<S>) {
    for round in 0..25 {
        s.provider_put(provider("Local", "http://127.0.0.1:1"))
            .await
            .unwrap();
        let (s1, s2) = (Arc::clone(&s), Arc::clone(&s));
        let handle = format!("agent{round}");
        let h = handle.clone();
        let (created, deleted) = tokio::join!(
            tokio::spawn(async move {
                s1.agent_create(fields(&h, "local/m"), None, Some("local".into()))
                    .await
            }),
            tokio::spawn(async move { s2.provider_delete("LOCAL").await }),
        );
        let (created, deleted) = (created.unwrap().unwrap(), deleted.unwrap().unwrap());
        assert!(deleted, "round {round}: the delete must happen");
        assert!(s.provider_get("local").await.unwrap().is_none());
        let listed = s
            .agent_list()
            .await
            .unwrap()
            .into_iter()
            .any(|a| a.handle == handle);
        match created {
            Ok(a) => assert!(listed && a.handle == handle, "round {round}"),
            Err(AgentReject::UnknownProvider) => assert!(!listed, "round {round}: half-written"),
            Err(e) => panic!("round {round}: {e:?}"),
        }
    }
}

async fn usage_per_conversation_and_day<S: AgentStore + 'static>(s: Arc<S>, fx: Fixture) {
    conversations(&fx, &[1, 2]).await;
    let (c1, c2) = (1, 2);
    let a = s
        .agent_create(fields("a", "m"), None, None)
        .await
        .unwrap()
        .unwrap();
    let b = s
        .agent_create(fields("b", "m"), None, None)
        .await
        .unwrap()
        .unwrap();
    let day = || "2026-12-08".to_string();

    let zero = s.usage_today(a.id, c1, day()).await.unwrap();
    assert_eq!((zero.conversation_tokens, zero.agent_spend_micros), (0, 0));

    s.usage_add(a.id, c1, day(), 100, 20, 1_000).await.unwrap();
    s.usage_add(a.id, c1, day(), 5, 1, 7).await.unwrap();
    s.usage_add(a.id, c2, day(), 1_000, 1_000, 50)
        .await
        .unwrap();
    s.usage_add(a.id, c1, "2026-12-07".into(), 9_999, 9_999, 9_999)
        .await
        .unwrap();
    s.usage_add(b.id, c1, day(), 777, 777, 777).await.unwrap();

    // Tokens count per conversation; spend across the agent's
    // conversations; other days and other agents never mix in.
    let t = s.usage_today(a.id, c1, day()).await.unwrap();
    assert_eq!((t.conversation_tokens, t.agent_spend_micros), (126, 1_057));
    let t = s.usage_today(a.id, c2, day()).await.unwrap();
    assert_eq!(
        (t.conversation_tokens, t.agent_spend_micros),
        (2_000, 1_057)
    );
    let t = s.usage_today(b.id, c2, day()).await.unwrap();
    assert_eq!((t.conversation_tokens, t.agent_spend_micros), (0, 777));
    let t = s.usage_today(a.id, c1, "2026-12-09".into()).await.unwrap();
    assert_eq!((t.conversation_tokens, t.agent_spend_micros), (0, 0));

    // Usage goes with its agent.
    assert!(s.agent_delete(a.id).await.unwrap());
    let t = s.usage_today(a.id, c1, day()).await.unwrap();
    assert_eq!((t.conversation_tokens, t.agent_spend_micros), (0, 0));
    let t = s.usage_today(b.id, c1, day()).await.unwrap();
    assert_eq!(t.conversation_tokens, 1_554);
}

/// Many provider calls finishing at once, starting from no row at all:
/// every one of them is counted.
async fn concurrent_usage_adds_sum_exactly<S: AgentStore + 'static>(s: Arc<S>, fx: Fixture) {
    conversations(&fx, &[1]).await;
    let conv = 1;
    let a = s
        .agent_create(fields("a", "m"), None, None)
        .await
        .unwrap()
        .unwrap();
    const N: i64 = 64;
    let tasks: Vec<_> = (1..=N)
        .map(|i| {
            let s = Arc::clone(&s);
            tokio::spawn(async move {
                s.usage_add(a.id, conv, "2026-12-08".into(), i, 2 * i, 3 * i)
                    .await
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let sum = N * (N + 1) / 2;
    let t = s
        .usage_today(a.id, conv, "2026-12-08".into())
        .await
        .unwrap();
    assert_eq!(t.conversation_tokens, 3 * sum);
    assert_eq!(t.agent_spend_micros, 3 * sum);
}
