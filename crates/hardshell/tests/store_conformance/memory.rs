//! The memory and knowledge aggregates (`store::memories::MemoryStore`,
//! `store::knowledge::KnowledgeStore`).
//!
//! These contracts need agents, users and conversations, which no shared
//! interface creates yet: `seeded!` makes them through `Store`'s own API on
//! SQLCipher and with plain SQL on PostgreSQL, then runs the contract.
//! The knowledge cases are in `knowledge.rs`, a child of this module.

use std::sync::Arc;

use hardshell::agents::retrieval::AnyWords;
use hardshell::store::chat::Ref;
use hardshell::store::knowledge::KnowledgeStore;
use hardshell::store::memories::{
    Memory, MemoryInsert, MemoryStore, NewMemory, Scope, ScopeFilter, Source,
};

/// Two users, two agents and two conversations, by id.
#[derive(Clone, Copy, Debug)]
struct Fixture {
    ann: i64,
    bob: i64,
    agent: i64,
    other_agent: i64,
    conv: i64,
    other_conv: i64,
}

trait Both: MemoryStore + KnowledgeStore + 'static {}
impl<T: MemoryStore + KnowledgeStore + 'static> Both for T {}

macro_rules! seeded {
    ($contract:ident) => {
        mod $contract {
            use hardshell::store::pg::{PgOptions, PgStore};
            use hardshell::store::{DbKey, Store};
            use std::sync::Arc;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_sqlcipher() {
                let tmp = tempfile::tempdir().unwrap();
                let store =
                    Store::open(&tmp.path().join("hardshell.db"), DbKey::generate()).unwrap();
                let f = super::seed_sqlite(&store).await;
                super::$contract(Arc::new(store), f).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_postgres() {
                let Some(db) = crate::pg_harness::fresh(stringify!($contract)).await else {
                    return;
                };
                let store = PgStore::connect(&PgOptions::new(db.url.clone()))
                    .await
                    .unwrap();
                let f = super::seed_pg(&store, &db).await;
                super::$contract(Arc::new(store), f).await;
            }
        }
    };
}

seeded!(memory_scopes_duplicates_and_deletion);
seeded!(memory_search_parity);
seeded!(racing_memory_saves_respect_the_cap);

#[path = "knowledge.rs"]
mod knowledge;

async fn seed_sqlite(s: &hardshell::store::Store) -> Fixture {
    use hardshell::auth::Role;
    use hardshell::store::agents::{AgentFields, Budgets};
    use hardshell::store::chat_conversations::NewConversation;
    let ann = s
        .user_create("ann".into(), Role::Owner, None)
        .await
        .unwrap();
    let bob = s
        .user_create("bob".into(), Role::Member, None)
        .await
        .unwrap();
    let mut agents = Vec::new();
    for handle in ["helper", "other"] {
        let fields = AgentFields {
            handle: handle.into(),
            name: handle.into(),
            description: String::new(),
            model: String::new(),
            tools: Vec::new(),
            memory: true,
            knowledge: true,
            context_tokens: 8000,
            budgets: Budgets {
                tokens_per_turn: 1000,
                tokens_per_conversation_day: 1000,
                daily_spend_micros: None,
            },
            disabled: false,
        };
        agents.push(
            s.agent_create(fields, None, None)
                .await
                .unwrap()
                .unwrap()
                .id,
        );
    }
    let mut convs = Vec::new();
    for title in ["one", "two"] {
        let new = NewConversation {
            kind: "group",
            title: Some(title.into()),
            created_by: ann.id,
            usernames: Vec::new(),
            agent_id: None,
        };
        convs.push(s.conversation_create(new).await.unwrap().unwrap().id);
    }
    Fixture {
        ann: ann.id,
        bob: bob.id,
        agent: agents[0],
        other_agent: agents[1],
        conv: convs[0],
        other_conv: convs[1],
    }
}

async fn seed_pg(s: &hardshell::store::pg::PgStore, db: &crate::pg_harness::TestDb) -> Fixture {
    use hardshell::auth::Role;
    use hardshell::store::users::UserStore;
    let ann = s
        .user_create("ann".into(), Role::Owner, None)
        .await
        .unwrap();
    let bob = s
        .user_create("bob".into(), Role::Member, None)
        .await
        .unwrap();
    let c = db.client().await;
    let mut agents = Vec::new();
    for handle in ["helper", "other"] {
        let row = c
            .query_one(
                "INSERT INTO agents (uuid, handle, name, created_at) \
                 VALUES ($1, $1, $1, 0) RETURNING id",
                &[&handle],
            )
            .await
            .unwrap();
        agents.push(row.get::<_, i64>(0));
    }
    let mut convs = Vec::new();
    for title in ["one", "two"] {
        let row = c
            .query_one(
                "INSERT INTO conversations (kind, title, created_by, created_at, \
                 last_activity_at) VALUES ('group', $1, $2, 0, 0) RETURNING id",
                &[&title, &ann.id],
            )
            .await
            .unwrap();
        convs.push(row.get::<_, i64>(0));
    }
    Fixture {
        ann: ann.id,
        bob: bob.id,
        agent: agents[0],
        other_agent: agents[1],
        conv: convs[0],
        other_conv: convs[1],
    }
}

fn memory(agent_id: i64, scope: Scope, text: &str, embedding: Option<Vec<f32>>) -> NewMemory {
    NewMemory {
        agent_id,
        scope,
        text: text.into(),
        norm: text.to_lowercase(),
        embedding,
        source: Source::Tool,
        created_by: None,
        created_at: 7,
    }
}

async fn save<S: Both>(s: &S, new: NewMemory) -> Memory {
    match s.memory_insert(new, 100).await.unwrap() {
        MemoryInsert::Inserted(m) => m,
        other => panic!("not inserted: {other:?}"),
    }
}

fn words(q: &str) -> AnyWords {
    AnyWords::parse(q).unwrap()
}

fn texts(v: &[Memory]) -> Vec<&str> {
    v.iter().map(|m| m.text.as_str()).collect()
}

async fn memory_scopes_duplicates_and_deletion<S: Both>(s: Arc<S>, f: Fixture) {
    let (a, ann, bob) = (f.agent, Scope::User(f.ann), Scope::User(f.bob));
    let conv = Scope::Conversation(f.conv);
    let m_ann = save(
        &*s,
        memory(a, ann, "Ann likes green tea", Some(vec![1.0, -0.5])),
    )
    .await;
    let m_bob = save(&*s, memory(a, bob, "Bob likes black tea", None)).await;
    let m_conv = save(
        &*s,
        memory(a, conv, "The group meets on tea Tuesdays", None),
    )
    .await;
    let m_other = save(
        &*s,
        memory(f.other_agent, ann, "Ann likes green tea", Some(vec![2.0])),
    )
    .await;

    assert_eq!(m_ann.scope, "user");
    assert_eq!(
        m_ann.user,
        Some(Ref::User {
            id: f.ann,
            name: "ann".into()
        })
    );
    assert_eq!(m_ann.conversation_id, None);
    assert_eq!((m_ann.source.as_str(), m_ann.created_at), ("tool", 7));
    assert_eq!(m_conv.scope, "conversation");
    assert_eq!(
        (m_conv.user.clone(), m_conv.conversation_id),
        (None, Some(f.conv))
    );

    // Lists: newest first, only the scopes asked for, only this agent's.
    let all = s.memory_list(a, ScopeFilter::All, 10).await.unwrap();
    assert_eq!(
        all.iter().map(|m| m.id).collect::<Vec<_>>(),
        [m_conv.id, m_bob.id, m_ann.id]
    );
    assert_eq!(
        s.memory_list(a, ScopeFilter::All, 2).await.unwrap().len(),
        2
    );
    let only_ann = s
        .memory_list(a, ScopeFilter::Only(&[ann]), 10)
        .await
        .unwrap();
    assert_eq!(only_ann, std::slice::from_ref(&m_ann));
    let ann_and_conv = s
        .memory_list(a, ScopeFilter::Only(&[ann, conv]), 10)
        .await
        .unwrap();
    assert_eq!(texts(&ann_and_conv), [m_conv.text.as_str(), &m_ann.text]);
    assert!(
        s.memory_list(a, ScopeFilter::Only(&[]), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let other_conv = [Scope::Conversation(f.other_conv)];
    assert!(
        s.memory_list(a, ScopeFilter::Only(&other_conv), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        s.memory_list(f.other_agent, ScopeFilter::All, 10)
            .await
            .unwrap(),
        std::slice::from_ref(&m_other)
    );

    // Search sees only the scopes asked for, too.
    let (only_ann, only_bob) = ([ann], [bob]);
    let tea = |filter| s.memory_search_fts(a, filter, words("tea"), 10);
    assert_eq!(
        texts(&tea(ScopeFilter::Only(&only_ann)).await.unwrap()),
        [m_ann.text.as_str()]
    );
    assert_eq!(
        texts(&tea(ScopeFilter::Only(&only_bob)).await.unwrap()),
        [m_bob.text.as_str()]
    );
    assert!(tea(ScopeFilter::Only(&[])).await.unwrap().is_empty());
    assert_eq!(tea(ScopeFilter::All).await.unwrap().len(), 3);

    // Vectors: the same bits back, only where embedded and visible.
    let vecs = s.memory_vectors(a, ScopeFilter::All).await.unwrap();
    assert_eq!(vecs.len(), 1);
    assert_eq!(vecs[0].0.id, m_ann.id);
    assert_eq!(vecs[0].1, [1.0, -0.5]);
    assert!(
        s.memory_vectors(a, ScopeFilter::Only(&[bob]))
            .await
            .unwrap()
            .is_empty()
    );
    let other_vecs = s
        .memory_vectors(f.other_agent, ScopeFilter::All)
        .await
        .unwrap();
    assert_eq!(other_vecs[0].1, [2.0]);

    // Duplicates are per agent and scope, by normalised text.
    let dup = s
        .memory_find_duplicate(a, ann, "ann likes green tea".into())
        .await
        .unwrap();
    assert_eq!(dup.map(|m| m.id), Some(m_ann.id));
    assert!(
        s.memory_find_duplicate(a, bob, "ann likes green tea".into())
            .await
            .unwrap()
            .is_none()
    );
    match s
        .memory_insert(memory(a, ann, "ANN likes GREEN tea", None), 100)
        .await
        .unwrap()
    {
        MemoryInsert::Duplicate(m) => assert_eq!(m, m_ann),
        other => panic!("{other:?}"),
    }
    // The same text in another scope is a new memory.
    save(&*s, memory(a, conv, "Ann likes green tea", None)).await;

    // A scope that does not exist, and the cap (4 memories now).
    for scope in [Scope::User(999_999), Scope::Conversation(999_999)] {
        assert!(matches!(
            s.memory_insert(memory(a, scope, "x", None), 100)
                .await
                .unwrap(),
            MemoryInsert::NoSuchScope
        ));
    }
    assert!(matches!(
        s.memory_insert(memory(a, ann, "one more", None), 4)
            .await
            .unwrap(),
        MemoryInsert::Full
    ));
    // The cap counts this agent's memories only.
    save(&*s, memory(f.other_agent, bob, "fits", None)).await;
    assert!(
        s.memory_insert(memory(999_999, ann, "x", None), 100)
            .await
            .is_err()
    );

    // Deleting: another agent's id is not found; the row leaves list,
    // search and vectors.
    assert_eq!(
        s.memory_delete(f.other_agent, m_ann.id).await.unwrap(),
        None
    );
    assert_eq!(
        s.memory_delete(a, m_ann.id).await.unwrap(),
        Some(m_ann.clone())
    );
    assert_eq!(s.memory_delete(a, m_ann.id).await.unwrap(), None);
    assert!(tea(ScopeFilter::Only(&only_ann)).await.unwrap().is_empty());
    assert!(
        s.memory_vectors(a, ScopeFilter::All)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        s.memory_find_duplicate(a, ann, "ann likes green tea".into())
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        s.memory_list(f.other_agent, ScopeFilter::All, 10)
            .await
            .unwrap()
            .len(),
        2
    );
    // Saving it again is a new memory, not a duplicate.
    let again = save(&*s, memory(a, ann, "Ann likes green tea", None)).await;
    assert_ne!(again.id, m_ann.id);
}

/// The same memories and queries on both backends give the same rows in
/// the same order: any word matches, more words rank first, punctuation
/// splits words, Latin diacritics and case fold, syntax is plain text.
async fn memory_search_parity<S: Both>(s: Arc<S>, f: Fixture) {
    let (a, ann) = (f.agent, Scope::User(f.ann));
    for text in [
        "Docs live at example.com/docs under the handbook",
        "The café on Rue Dupont serves crème brûlée",
        "Cafe opening hours: 8-18, closed on Sunday",
        "Ann's password manager is Bitwarden",
        "Ann prefers the window seat, and the café near the office",
        "Meetings with Søren happen on Thursday",
        "The quick brown fox jumps over the lazy dog",
        "Sunday brunch at the café with Søren",
    ] {
        save(&*s, memory(a, ann, text, None)).await;
    }
    let search = |q: &str| s.memory_search_fts(a, ScopeFilter::All, words(q), 20);
    let cases: &[(&str, &[&str])] = &[
        (
            "handbook",
            &["Docs live at example.com/docs under the handbook"],
        ),
        (
            "EXAMPLE.com",
            &["Docs live at example.com/docs under the handbook"],
        ),
        (
            "com/docs",
            &["Docs live at example.com/docs under the handbook"],
        ),
        ("brulee", &["The café on Rue Dupont serves crème brûlée"]),
        ("Ann's", &["Ann's password manager is Bitwarden"]),
        (
            "søren",
            &[
                "Meetings with Søren happen on Thursday",
                "Sunday brunch at the café with Søren",
            ],
        ),
        ("soren", &[]),
        ("zebra", &[]),
        (
            "\"fox\" OR NEAR(dog* x:y",
            &["The quick brown fox jumps over the lazy dog"],
        ),
        ("8-18", &["Cafe opening hours: 8-18, closed on Sunday"]),
    ];
    for (q, want) in cases {
        assert_eq!(texts(&search(q).await.unwrap()), *want, "query {q:?}");
    }
    // Any word matches; rows matching more of the words come first.
    let got = search("café sunday").await.unwrap();
    assert_eq!(
        texts(&got),
        [
            "Sunday brunch at the café with Søren",
            "Cafe opening hours: 8-18, closed on Sunday",
            "The café on Rue Dupont serves crème brûlée",
            "Ann prefers the window seat, and the café near the office",
        ],
    );
    assert_eq!(search("café sunday").await.unwrap().len(), 4);
    let limited = s
        .memory_search_fts(a, ScopeFilter::All, words("café sunday"), 2)
        .await
        .unwrap();
    assert_eq!(texts(&limited), texts(&got[..2]));
}

/// Many saves race for the last places under the cap: exactly as many
/// win as there are places. On PostgreSQL this needs the per-agent lock:
/// each transaction would otherwise count the same rows and commit.
/// Racing saves of one text store it once.
async fn racing_memory_saves_respect_the_cap<S: Both>(s: Arc<S>, f: Fixture) {
    const CAP: usize = 5;
    let ann = Scope::User(f.ann);
    for round in 0..4 {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let s = Arc::clone(&s);
                let new = memory(f.agent, ann, &format!("round {round} fact {i}"), None);
                tokio::spawn(async move { s.memory_insert(new, CAP * (round + 1)).await })
            })
            .collect();
        let mut inserted = 0;
        for h in handles {
            match h.await.unwrap().unwrap() {
                MemoryInsert::Inserted(_) => inserted += 1,
                MemoryInsert::Full => {}
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(inserted, CAP, "round {round}");
        let all = s.memory_list(f.agent, ScopeFilter::All, 100).await.unwrap();
        assert_eq!(all.len(), CAP * (round + 1), "round {round}");
    }
    for round in 0..4 {
        let handles: Vec<_> = (0..6)
            .map(|_| {
                let s = Arc::clone(&s);
                let new = memory(f.other_agent, ann, &format!("same {round}"), None);
                tokio::spawn(async move { s.memory_insert(new, 100).await })
            })
            .collect();
        let mut ids = Vec::new();
        let mut inserted = 0;
        for h in handles {
            match h.await.unwrap().unwrap() {
                MemoryInsert::Inserted(m) => {
                    inserted += 1;
                    ids.push(m.id);
                }
                MemoryInsert::Duplicate(m) => ids.push(m.id),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(inserted, 1, "round {round}");
        ids.dedup();
        assert_eq!(ids.len(), 1, "round {round}: {ids:?}");
    }
}
