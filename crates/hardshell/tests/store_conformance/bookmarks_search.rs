//! Bookmark search parity: the same searches over the same bookmarks give
//! the same results on SQLCipher (FTS5) and PostgreSQL (`tsquery`).

use std::sync::Arc;

use super::*;

both!(search_parity);

async fn search_parity<S: Backend>(s: Arc<S>) {
    let alice = user(&*s, "alice").await;
    let bob = user(&*s, "bob").await;
    let b1 = add(
        &*s,
        alice,
        new(
            "https://rust-lang.github.io/async-book/",
            "Rust async book",
            &["rust"],
        ),
    )
    .await
    .id;
    let mut cafe = new("https://example.org/cafe", "Café culture", &["travel"]);
    cafe.description = "Coffee houses of Vienna".into();
    let b2 = add(&*s, alice, cafe).await.id;
    let mut pg = new(
        "https://www.postgresql.org/docs/current/textsearch.html",
        "PostgreSQL full-text search",
        &["db", "search"],
    );
    pg.description = "tsvector and tsquery or GIN".into();
    let b3 = add(&*s, alice, pg).await.id;
    let mut lite = new("https://sqlite.org/fts5.html", "SQLite FTS5", &["db"]);
    lite.description = "title:rust NEAR( syntax, \"quoted\" * ^x".into();
    let b4 = add(&*s, alice, lite).await.id;
    let mut world = new("https://example.org/world", "Москва and Øresund", &[]);
    world.description = "ΑΘΗΝΑ naïve-façade".into();
    let b5 = add(&*s, alice, world).await.id;
    add(
        &*s,
        bob,
        new("https://example.org/bob", "Rust for bob", &["db"]),
    )
    .await;

    let cases: Vec<(&str, Vec<i64>)> = vec![
        ("rust", vec![b4, b1]),
        ("RUST Async", vec![b1]),
        ("db", vec![b4, b3]),
        ("search db", vec![b3]),
        ("full-text", vec![b3]),
        ("text-full", vec![]),
        ("example.org/cafe", vec![b2]),
        ("textsearch.html", vec![b3]),
        ("cafe", vec![b2]),
        ("CAFÉ", vec![b2]),
        ("Vïenna", vec![b2]),
        ("travel", vec![b2]),
        ("nothingmatchesthis", vec![]),
        ("rust nothingmatchesthis", vec![]),
        ("title:rust", vec![b4]),
        ("NEAR(", vec![b4]),
        ("db OR", vec![b3]),
        ("\"quoted\"", vec![b4]),
        ("x*", vec![b4]),
        ("'x); DROP TABLE bookmarks; --", vec![]),
        // A phrase never spans two fields: "book" ends b1's title and
        // "https" starts its URL.
        ("book-https", vec![]),
        ("culture-coffee", vec![]),
        ("vienna-https", vec![]),
        ("book", vec![b1]),
        // Case folds beyond ASCII; letters without a decomposition (ø)
        // keep their identity.
        ("МОСКВА", vec![b5]),
        ("αθηνα", vec![b5]),
        ("øresund", vec![b5]),
        ("oresund", vec![]),
        ("NAIVE-FACADE", vec![b5]),
        ("naive façade", vec![b5]),
    ];
    for (q, want) in cases {
        let f = Filter {
            search: Some(SearchWords::parse(q).unwrap()),
            ..filter()
        };
        assert_eq!(
            ids(&s.bookmarks_list(alice, f).await.unwrap()),
            want,
            "search {q:?}"
        );
    }
    // Search narrows together with the other filters.
    let f = Filter {
        search: Some(SearchWords::parse("db").unwrap()),
        tag: Some("search".into()),
        ..filter()
    };
    assert_eq!(ids(&s.bookmarks_list(alice, f).await.unwrap()), [b3]);
    // An edit is searchable at once, and the old words are gone.
    let patch = Patch {
        title: Some("Tokio book".into()),
        tags: Some(vec!["tokio".into()]),
        now: 1_700_000_500,
        ..Patch::default()
    };
    s.bookmark_update(alice, b1, patch).await.unwrap();
    for (q, want) in [
        ("tokio", vec![b1]),
        ("async", vec![b1]),
        ("rust", vec![b4, b1]),
    ] {
        let f = Filter {
            search: Some(SearchWords::parse(q).unwrap()),
            ..filter()
        };
        assert_eq!(ids(&s.bookmarks_list(alice, f).await.unwrap()), want, "{q}");
    }
    let f = Filter {
        search: Some(SearchWords::parse("culture").unwrap()),
        ..filter()
    };
    s.bookmark_delete(alice, b2).await.unwrap();
    assert!(s.bookmarks_list(alice, f).await.unwrap().is_empty());
}
