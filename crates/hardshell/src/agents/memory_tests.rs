//! Unit tests for `agents::memory` against a real (temporary) store.

use std::sync::atomic::Ordering;

use proptest::prelude::*;

use super::*;
use crate::agents::retrieval::testing::synonyms;
use crate::store::memories::seeded_store;

const ANN: Scope = Scope::User(1);
const BOB: Scope = Scope::User(2);
const CONV: Scope = Scope::Conversation(1);

async fn put(store: &Store, scope: Scope, text: &str) -> Saved {
    save(store, 1, scope, text, Source::Owner, Some(1), None)
        .await
        .unwrap()
}

#[test]
fn normalisation_folds_case_width_and_whitespace() {
    assert_eq!(normalise("  Likes\tGREEN\n\n tea "), "likes green tea");
    // NFKC: full-width letters and the "ﬁ" ligature fold to ASCII.
    assert_eq!(normalise("ＴＥＡ ﬁne"), "tea fine");
    assert_ne!(normalise("likes tea"), normalise("likes teas"));
}

proptest! {
    #[test]
    fn normalisation_is_idempotent_and_ignores_spacing_and_case(t in "\\PC{0,80}") {
        let n = normalise(&t);
        prop_assert_eq!(normalise(&n), n.clone());
        let spaced = format!("  {}  ", t.to_uppercase().replace(' ', "\t  "));
        // Upper-casing can change some letters' lower-case form (e.g. final
        // sigma), so compare against the upper-cased text's own key.
        prop_assert_eq!(normalise(&spaced), normalise(&t.to_uppercase()));
        prop_assert!(!n.starts_with(' ') && !n.ends_with(' ') && !n.contains("  "));
    }
}

#[tokio::test]
async fn dedup_validation_and_cap() {
    let (_tmp, store) = seeded_store().await;
    let first = put(&store, ANN, "Ann likes green tea").await;
    assert!(!first.duplicate);
    assert_eq!(first.memory.scope, "user");
    assert_eq!(first.memory.source, "owner");
    let again = put(&store, ANN, "  ann LIKES   green tea ").await;
    assert!(again.duplicate);
    assert_eq!(again.memory.id, first.memory.id);
    // Same text in another scope is another memory.
    assert!(!put(&store, CONV, "Ann likes green tea").await.duplicate);

    for bad in ["", "   \n "] {
        let e = save(&store, 1, ANN, bad, Source::Tool, None, None).await;
        assert!(matches!(e, Err(MemoryError::Empty)), "{bad:?}");
    }
    let long = "x".repeat(MAX_CHARS + 1);
    let e = save(&store, 1, ANN, &long, Source::Tool, None, None).await;
    assert!(matches!(e, Err(MemoryError::TooLong)));
    assert!(
        save(
            &store,
            1,
            ANN,
            &"y".repeat(MAX_CHARS),
            Source::Tool,
            None,
            None
        )
        .await
        .is_ok()
    );
    let e = save(
        &store,
        1,
        Scope::User(99),
        "ghost",
        Source::Tool,
        None,
        None,
    )
    .await;
    assert!(matches!(e, Err(MemoryError::NoSuchScope)));

    // Agent 1 holds 3 now; a cap of 3 refuses a fourth but still answers
    // a duplicate with the existing memory.
    let e = save_capped(&store, 1, BOB, "new", Source::Tool, None, None, 3).await;
    assert!(matches!(e, Err(MemoryError::Full(3))));
    let dup = save_capped(
        &store,
        1,
        ANN,
        "ANN likes green tea",
        Source::Tool,
        None,
        None,
        3,
    )
    .await
    .unwrap();
    assert!(dup.duplicate);
    // The cap is per agent.
    assert!(
        save_capped(&store, 2, BOB, "new", Source::Tool, None, None, 3)
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn search_never_crosses_scopes() {
    let (_tmp, store) = seeded_store().await;
    put(&store, ANN, "ann's secret is the blue door").await;
    put(&store, BOB, "bob prefers the red door").await;
    put(&store, CONV, "the group meets at the door at noon").await;

    let texts = |v: Vec<Memory>| v.into_iter().map(|m| m.text).collect::<Vec<_>>();
    let for_bob = search(&store, 1, &[BOB, CONV], "door secret", 10, None)
        .await
        .unwrap();
    let for_bob = texts(for_bob);
    assert_eq!(for_bob.len(), 2, "{for_bob:?}");
    assert!(for_bob.iter().all(|t| !t.contains("ann")), "{for_bob:?}");
    let for_ann = texts(search(&store, 1, &[ANN], "door", 10, None).await.unwrap());
    assert_eq!(for_ann, vec!["ann's secret is the blue door"]);
    // No scopes: nothing, never everything.
    assert!(
        search(&store, 1, &[], "door", 10, None)
            .await
            .unwrap()
            .is_empty()
    );
    // Another agent sees none of agent 1's memories.
    assert!(
        search(&store, 2, &[ANN, BOB, CONV], "door", 10, None)
            .await
            .unwrap()
            .is_empty()
    );
    // The owner's view sees all three.
    assert_eq!(
        search_all(&store, 1, "door", 10, None).await.unwrap().len(),
        3
    );
    // A search text over the limit is refused, not cut.
    let long = "door ".repeat(MAX_QUERY_CHARS / 5 + 1);
    let e = search_all(&store, 1, &long, 10, None).await;
    assert!(matches!(e, Err(MemoryError::QueryTooLong)));
}

#[tokio::test]
async fn fts_syntax_in_queries_is_plain_text() {
    let (_tmp, store) = seeded_store().await;
    put(&store, ANN, "uses NEAR and OR as words").await;
    for q in [
        "\"",
        "a\" OR",
        "text:*",
        "NEAR(a b)",
        "*",
        "(",
        "^x",
        "-y",
        "AND",
    ] {
        let r = search(&store, 1, &[ANN], q, 5, None).await;
        assert!(r.is_ok(), "{q}: {r:?}");
    }
    let hits = search(&store, 1, &[ANN], "NEAR(", 5, None).await.unwrap();
    assert_eq!(hits.len(), 1);
}

#[tokio::test]
async fn vectors_find_what_words_miss_and_fuse_with_bm25() {
    let (_tmp, store) = seeded_store().await;
    let (fake, embedder) = synonyms(false);
    for text in [
        "ann drinks espresso daily",
        "ann has a kitten",
        "ann likes coffee beans",
    ] {
        save(&store, 1, ANN, text, Source::Tool, None, Some(&embedder))
            .await
            .unwrap();
    }
    assert_eq!(fake.calls.load(Ordering::SeqCst), 3);
    // A duplicate costs no embedding call.
    save(
        &store,
        1,
        ANN,
        "ANN has a kitten",
        Source::Tool,
        None,
        Some(&embedder),
    )
    .await
    .unwrap();
    assert_eq!(fake.calls.load(Ordering::SeqCst), 3);

    // BM25 alone: only the literal word.
    let plain = search(&store, 1, &[ANN], "coffee", 10, None).await.unwrap();
    assert_eq!(plain.len(), 1);
    // With vectors: espresso comes too, both above the kitten.
    let hybrid = search(&store, 1, &[ANN], "coffee", 10, Some(&embedder))
        .await
        .unwrap();
    let texts: Vec<&str> = hybrid.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts[0], "ann likes coffee beans", "{texts:?}");
    assert_eq!(texts[1], "ann drinks espresso daily", "{texts:?}");
    // Vector search respects scopes too.
    assert!(
        search(&store, 1, &[BOB], "coffee", 10, Some(&embedder))
            .await
            .unwrap()
            .is_empty()
    );

    // A failing embedder falls back to BM25 silently.
    let (_f, broken) = synonyms(true);
    let fallback = search(&store, 1, &[ANN], "coffee", 10, Some(&broken))
        .await
        .unwrap();
    assert_eq!(fallback.len(), 1);
}

#[tokio::test]
async fn delete_removes_from_search_and_only_for_its_agent() {
    let (_tmp, store) = seeded_store().await;
    let m = put(&store, ANN, "forget me soon").await.memory;
    assert!(delete(&store, 2, m.id).await.unwrap().is_none());
    assert_eq!(delete(&store, 1, m.id).await.unwrap().unwrap().id, m.id);
    assert!(
        search(&store, 1, &[ANN], "forget", 5, None)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(list(&store, 1, 10).await.unwrap().is_empty());
    assert!(delete(&store, 1, m.id).await.unwrap().is_none());
}
