//! The knowledge aggregate (`store::knowledge::KnowledgeStore`): documents,
//! parent and child chunks, caps, search. A child of `memory.rs`, whose
//! fixture and `seeded!` macro it shares.

use std::sync::Arc;

use hardshell::store::knowledge::{
    Document, KnowledgeCaps, KnowledgeInsert, NewDocument, NewParent,
};

use super::{Both, Fixture, seed_pg, seed_sqlite, words};

seeded!(knowledge_documents_chunks_and_caps);
seeded!(knowledge_search_parity);
seeded!(racing_ingests_respect_the_caps);

/// A child chunk's text and embedding.
type Child<'a> = (&'a str, Option<Vec<f32>>);

fn doc(agent_id: i64, sha: &str, parents: &[(&str, &[Child<'_>])]) -> NewDocument {
    NewDocument {
        agent_id,
        name: format!("{sha}.txt"),
        mime: "text/plain".into(),
        size: 42,
        sha256: sha.into(),
        flagged: sha.starts_with('f'),
        created_by: None,
        created_at: 9,
        parents: parents
            .iter()
            .map(|(text, kids)| NewParent {
                text: (*text).into(),
                children: kids.iter().map(|(t, v)| ((*t).into(), v.clone())).collect(),
            })
            .collect(),
    }
}

const CAPS: KnowledgeCaps = KnowledgeCaps {
    docs: 10,
    child_chunks: 100,
};

async fn ingest<S: Both>(s: &S, new: NewDocument) -> Document {
    match s.knowledge_insert(new, CAPS).await.unwrap() {
        KnowledgeInsert::Inserted(d) => d,
        other => panic!("not inserted: {other:?}"),
    }
}

async fn knowledge_documents_chunks_and_caps<S: Both>(s: Arc<S>, f: Fixture) {
    let a = f.agent;
    let d1 = ingest(
        &*s,
        doc(
            a,
            "aa",
            &[
                (
                    "Parent one about zebras",
                    &[
                        ("zebra stripes", Some(vec![1.0, 0.0])),
                        ("zebra food", None),
                    ],
                ),
                (
                    "Parent two about lions",
                    &[("lion manes", Some(vec![0.0, 1.0]))],
                ),
            ],
        ),
    )
    .await;
    assert_eq!(
        (d1.name.as_str(), d1.mime.as_str()),
        ("aa.txt", "text/plain")
    );
    assert_eq!(
        (d1.size, d1.chunks, d1.flagged, d1.created_at),
        (42, 2, false, 9)
    );
    let d2 = ingest(
        &*s,
        doc(a, "fb", &[("Flagged parent", &[("giraffe necks", None)])]),
    )
    .await;
    assert!(d2.flagged);
    let d_other = ingest(
        &*s,
        doc(f.other_agent, "aa", &[("Other parent", &[("zebra", None)])]),
    )
    .await;

    assert_eq!(s.knowledge_list(a).await.unwrap(), [d2.clone(), d1.clone()]);
    assert_eq!(
        s.knowledge_list(f.other_agent).await.unwrap(),
        std::slice::from_ref(&d_other)
    );
    assert_eq!(
        s.knowledge_by_hash(a, "aa".into()).await.unwrap(),
        Some(d1.clone())
    );
    assert_eq!(s.knowledge_by_hash(a, "zz".into()).await.unwrap(), None);
    match s.knowledge_insert(doc(a, "aa", &[]), CAPS).await.unwrap() {
        KnowledgeInsert::Duplicate(d) => assert_eq!(d, d1),
        other => panic!("{other:?}"),
    }

    // Search matches children and returns their parents; a parent's own
    // words never match; other agents' chunks never appear.
    let zebra = s.knowledge_search_fts(a, words("zebra"), 10).await.unwrap();
    assert_eq!(zebra.len(), 2, "one entry per matching child");
    assert_eq!(zebra[0], zebra[1]);
    assert!(
        s.knowledge_search_fts(a, words("parent"), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        s.knowledge_search_fts(a, words("zebra"), 1)
            .await
            .unwrap()
            .len(),
        1
    );
    let lion = s
        .knowledge_search_fts(a, words("lions manes"), 10)
        .await
        .unwrap();
    assert_eq!(lion.len(), 1);

    // Parents: in the order asked, with their document; child ids, other
    // agents' and unknown ids are skipped.
    let giraffe = s
        .knowledge_search_fts(a, words("giraffe"), 10)
        .await
        .unwrap();
    let other_zebra = s
        .knowledge_search_fts(f.other_agent, words("zebra"), 10)
        .await
        .unwrap();
    let asked = vec![
        lion[0],
        999_999,
        other_zebra[0],
        zebra[0],
        giraffe[0],
        lion[0] + 1,
    ];
    let parents = s.knowledge_parents(a, asked).await.unwrap();
    let got: Vec<_> = parents
        .iter()
        .map(|p| (p.text.as_str(), p.doc_id, p.doc_name.as_str(), p.flagged))
        .collect();
    assert_eq!(
        got,
        [
            ("Parent two about lions", d1.id, "aa.txt", false),
            ("Parent one about zebras", d1.id, "aa.txt", false),
            ("Flagged parent", d2.id, "fb.txt", true),
        ]
    );

    // Vectors: the caller's score, best first, at most `limit`, only
    // embedded children of this agent; a score of None skips the row.
    let top = s
        .knowledge_vector_top(a, |v| Some(v[1] - v[0]), 5)
        .await
        .unwrap();
    assert_eq!(top, [lion[0], zebra[0]]);
    let top1 = s.knowledge_vector_top(a, |v| Some(v[0]), 1).await.unwrap();
    assert_eq!(top1, [zebra[0]]);
    assert!(
        s.knowledge_vector_top(a, |_| None, 5)
            .await
            .unwrap()
            .is_empty()
    );

    // Caps: documents and child chunks, this agent's only.
    let tight = KnowledgeCaps {
        docs: 3,
        child_chunks: 5,
    };
    assert!(matches!(
        s.knowledge_insert(doc(a, "cc", &[("p", &[("a", None), ("b", None)])]), tight)
            .await
            .unwrap(),
        KnowledgeInsert::Full
    ));
    assert!(matches!(
        s.knowledge_insert(doc(a, "cc", &[("p", &[("a", None)])]), tight)
            .await
            .unwrap(),
        KnowledgeInsert::Inserted(_)
    ));
    assert!(matches!(
        s.knowledge_insert(doc(a, "dd", &[]), tight).await.unwrap(),
        KnowledgeInsert::Full
    ));
    assert!(
        s.knowledge_insert(doc(999_999, "ee", &[]), CAPS)
            .await
            .is_err()
    );

    // Deleting removes the document, its chunks, their search entries and
    // vectors; another agent's id is not found.
    assert_eq!(
        s.knowledge_delete(f.other_agent, d1.id).await.unwrap(),
        None
    );
    assert_eq!(
        s.knowledge_delete(a, d1.id).await.unwrap(),
        Some(d1.clone())
    );
    assert_eq!(s.knowledge_delete(a, d1.id).await.unwrap(), None);
    assert!(
        s.knowledge_search_fts(a, words("zebra lion"), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        s.knowledge_parents(a, vec![zebra[0], lion[0]])
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        s.knowledge_vector_top(a, |v| Some(v[0]), 5)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(s.knowledge_by_hash(a, "aa".into()).await.unwrap(), None);
    assert_eq!(
        s.knowledge_search_fts(f.other_agent, words("zebra"), 10)
            .await
            .unwrap()
            .len(),
        1
    );
    // The same bytes may come back.
    ingest(&*s, doc(a, "aa", &[("back", &[("zebra", None)])])).await;
}

/// Knowledge search on both backends: the same parents in the same order.
/// (Order follows BM25 on SQLCipher and `ts_rank` on PostgreSQL: both put
/// rows matching more of the words first, then shorter rows; they differ
/// on term rarity and on a phrase's words repeated alone, which this data
/// avoids.)
async fn knowledge_search_parity<S: Both>(s: Arc<S>, f: Fixture) {
    let a = f.agent;
    let children: &[&str] = &[
        "Install with apt-get install hardshell on Debian",
        "The café settings live in /etc/hardshell/config.toml",
        "Résumé upload: PDF and plain text only",
        "Restart the service after editing config.toml",
        "Backups run nightly; restore with hardshell restore",
        "Users on Debian should enable the backports repository",
    ];
    let mut parents = Vec::new();
    for (i, text) in children.iter().enumerate() {
        let d = ingest(
            &*s,
            doc(
                a,
                &format!("s{i}"),
                &[(&format!("parent {i}"), &[(text, None)])],
            ),
        )
        .await;
        parents.push(d.id);
    }
    let search = |q: &str| s.knowledge_search_fts(a, words(q), 20);
    let docs_of = |ids: Vec<i64>| {
        let s = Arc::clone(&s);
        async move {
            s.knowledge_parents(a, ids)
                .await
                .unwrap()
                .into_iter()
                .map(|p| p.text)
                .collect::<Vec<_>>()
        }
    };
    let cases: &[(&str, &[&str])] = &[
        ("config.toml", &["parent 3", "parent 1"]),
        ("resume", &["parent 2"]),
        ("RÉSUMÉ", &["parent 2"]),
        ("apt-get", &["parent 0"]),
        ("/etc/hardshell", &["parent 1"]),
        ("debian backports", &["parent 5", "parent 0"]),
        ("nothingmatches", &[]),
        // `AND` is a word like any other (in "PDF and plain text").
        ("restore* AND x:(\"y\"", &["parent 4", "parent 2"]),
    ];
    for (q, want) in cases {
        let ids = search(q).await.unwrap();
        assert_eq!(docs_of(ids).await, *want, "query {q:?}");
    }
}

/// Concurrent ingests race for the last document places; exactly the
/// free places are taken. Racing ingests of the same bytes store them once.
async fn racing_ingests_respect_the_caps<S: Both>(s: Arc<S>, f: Fixture) {
    for round in 0..4usize {
        let caps = KnowledgeCaps {
            docs: 3 * (round + 1),
            child_chunks: 1000,
        };
        let handles: Vec<_> = (0..6)
            .map(|i| {
                let s = Arc::clone(&s);
                let new = doc(f.agent, &format!("r{round}-{i}"), &[("p", &[("c", None)])]);
                tokio::spawn(async move { s.knowledge_insert(new, caps).await })
            })
            .collect();
        let mut inserted = 0;
        for h in handles {
            match h.await.unwrap().unwrap() {
                KnowledgeInsert::Inserted(_) => inserted += 1,
                KnowledgeInsert::Full => {}
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(inserted, 3, "round {round}");
        assert_eq!(
            s.knowledge_list(f.agent).await.unwrap().len(),
            3 * (round + 1)
        );
    }
    for round in 0..4 {
        let handles: Vec<_> = (0..6)
            .map(|_| {
                let s = Arc::clone(&s);
                let new = doc(
                    f.other_agent,
                    &format!("same{round}"),
                    &[("p", &[("c", None)])],
                );
                tokio::spawn(async move { s.knowledge_insert(new, CAPS).await })
            })
            .collect();
        let mut ids = Vec::new();
        for h in handles {
            match h.await.unwrap() {
                Ok(KnowledgeInsert::Inserted(d)) => ids.push((true, d.id)),
                Ok(KnowledgeInsert::Duplicate(d)) => ids.push((false, d.id)),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(
            ids.iter().filter(|(new, _)| *new).count(),
            1,
            "round {round}"
        );
        assert!(
            ids.windows(2).all(|w| w[0].1 == w[1].1),
            "round {round}: {ids:?}"
        );
    }
}
