//! Bookmark writers racing each other: what SQLite gets from its single
//! writer, PostgreSQL must get from the user's lock (`pg::bookmark_folders`).
//! Each case failed on PostgreSQL with the lock (and `ON CONFLICT`) removed.

use std::collections::BTreeSet;
use std::sync::Arc;

use hardshell::store::bookmark_folders::{FolderPatch, FolderWrite};
use hardshell::store::bookmarks::{Creator, Insert};

use super::{Backend, folder, new, path, user};

both!(racing_duplicate_urls_make_one_bookmark);
both!(racing_bulk_imports_in_opposite_orders);
both!(racing_folder_moves_never_make_a_cycle);

/// Two writers bookmark the same URL at the same moment, many times over:
/// exactly one bookmark each round, the other writer told it is a
/// duplicate of that one. On PostgreSQL both would pass the duplicate
/// check and one would meet the unique index as an error without the
/// user's lock (and the `ON CONFLICT` answer).
async fn racing_duplicate_urls_make_one_bookmark<S: Backend>(s: Arc<S>) {
    let alice = user(&*s, "alice").await;
    for round in 0..25 {
        let url = format!("https://example.org/race/{round}");
        let (s1, s2) = (Arc::clone(&s), Arc::clone(&s));
        let (b1, b2) = (new(&url, "one", &["a"]), new(&url, "two", &["b"]));
        let (r1, r2) = tokio::join!(
            tokio::spawn(async move { s1.bookmark_insert(alice, Creator::User(alice), b1).await }),
            tokio::spawn(async move { s2.bookmark_insert(alice, Creator::User(alice), b2).await }),
        );
        let (r1, r2) = (r1.unwrap().unwrap(), r2.unwrap().unwrap());
        let winner = match (&r1, &r2) {
            (Insert::Inserted(w), Insert::Duplicate(d))
            | (Insert::Duplicate(d), Insert::Inserted(w)) => {
                assert_eq!(*d, w.id, "round {round}");
                w.id
            }
            other => panic!("round {round}: exactly one insert must win: {other:?}"),
        };
        let same: Vec<i64> = s
            .bookmarks_all(alice)
            .await
            .unwrap()
            .iter()
            .filter(|b| b.url == url)
            .map(|b| b.id)
            .collect();
        assert_eq!(same, [winner], "round {round}");
    }
    // Only the winners' tags exist: a loser left nothing behind.
    let total: i64 = s
        .bookmark_tags(alice)
        .await
        .unwrap()
        .iter()
        .map(|t| t.count)
        .sum();
    assert_eq!(total, 25);
}

/// Two imports of the same URLs in opposite orders, at once: every URL is
/// bookmarked once, each import reports the other's as duplicates, and
/// neither fails as a whole (on PostgreSQL, without the user's lock, each
/// would wait on the other's row: a deadlock, one import aborted).
async fn racing_bulk_imports_in_opposite_orders<S: Backend>(s: Arc<S>) {
    let alice = user(&*s, "alice").await;
    for round in 0..10 {
        let urls: Vec<String> = (0..8)
            .map(|i| format!("https://example.org/bulk/{round}/{i}"))
            .collect();
        let forward: Vec<_> = urls.iter().map(|u| Ok(new(u, "f", &[]))).collect();
        let backward: Vec<_> = urls.iter().rev().map(|u| Ok(new(u, "b", &[]))).collect();
        let (s1, s2) = (Arc::clone(&s), Arc::clone(&s));
        let leaf = format!("r{round}");
        let shared = path(&["Shared", leaf.as_str()]);
        let (p1, p2) = (vec![shared.clone()], vec![shared]);
        let (r1, r2) = tokio::join!(
            tokio::spawn(async move {
                s1.bookmarks_insert_many(alice, Creator::User(alice), p1, forward, None)
                    .await
            }),
            tokio::spawn(async move {
                s2.bookmarks_insert_many(alice, Creator::User(alice), p2, backward, None)
                    .await
            }),
        );
        let (r1, r2) = (r1.unwrap().unwrap(), r2.unwrap().unwrap());
        let won = r1.iter().chain(&r2).filter(|r| r.is_ok()).count();
        assert_eq!(won, 8, "round {round}");
        let all = s.bookmarks_all(alice).await.unwrap();
        let distinct: BTreeSet<&str> = all.iter().map(|b| b.url.as_str()).collect();
        assert_eq!(distinct.len(), all.len());
        // The import folder was made once.
        let folders = s.folders_list(alice).await.unwrap();
        let made = folders
            .iter()
            .filter(|f| f.name == format!("r{round}"))
            .count();
        assert_eq!(made, 1, "round {round}: {folders:?}");
    }
    assert_eq!(s.bookmarks_all(alice).await.unwrap().len(), 80);
}

/// Two folders moved into each other at the same moment, many times over:
/// one move wins, the other is a cycle, and the tree has no cycle. On
/// PostgreSQL both would see no cycle and commit without the user's lock.
async fn racing_folder_moves_never_make_a_cycle<S: Backend>(s: Arc<S>) {
    let alice = user(&*s, "alice").await;
    let a = folder(&*s, alice, "a", None).await;
    let b = folder(&*s, alice, "b", None).await;
    let under = |parent: i64| FolderPatch {
        parent_id: Some(Some(parent)),
        now: 1_700_000_000,
        ..FolderPatch::default()
    };
    for round in 0..25 {
        let (s1, s2) = (Arc::clone(&s), Arc::clone(&s));
        let (pa, pb) = (under(b), under(a));
        let (ra, rb) = tokio::join!(
            tokio::spawn(async move { s1.folder_update(alice, a, pa).await }),
            tokio::spawn(async move { s2.folder_update(alice, b, pb).await }),
        );
        let (ra, rb) = (ra.unwrap().unwrap(), rb.unwrap().unwrap());
        let cycles = [&ra, &rb]
            .iter()
            .filter(|r| ***r == FolderWrite::Cycle)
            .count();
        let done = [&ra, &rb]
            .iter()
            .filter(|r| matches!(r, FolderWrite::Done(_)))
            .count();
        assert_eq!((done, cycles), (1, 1), "round {round}: {ra:?} / {rb:?}");
        let list = s.folders_list(alice).await.unwrap();
        let tops = list.iter().filter(|f| f.parent_id.is_none()).count();
        assert_eq!(tops, 1, "round {round}: a cycle: {list:?}");
        // Both back to the top level.
        for id in [a, b] {
            let top = FolderPatch {
                parent_id: Some(None),
                now: 1_700_000_000,
                ..FolderPatch::default()
            };
            s.folder_update(alice, id, top).await.unwrap();
        }
    }
}
