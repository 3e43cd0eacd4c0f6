//! The bookmarks aggregate (`store::bookmarks::BookmarkStore`,
//! `store::bookmark_folders::FolderStore`,
//! `store::bookmark_pages::BookmarkPageStore`).

use std::sync::Arc;

use hardshell::auth::Role;
use hardshell::chat::search::SearchWords;
use hardshell::store::auth::{AgentKeyRow, NewAgentKey};
use hardshell::store::bookmark_folders::{FolderPatch, FolderStore, FolderWrite};
use hardshell::store::bookmark_pages::{BookmarkPageStore, Fill, PageText};
use hardshell::store::bookmarks::{
    Bookmark, BookmarkStore, Creator, Filter, FolderRef, Insert, ItemError, NewBookmark, Patch,
    Update,
};
use hardshell::store::credentials::CredentialStore;
use hardshell::store::users::UserStore;

both!(bookmarks_contract_and_isolation);
both!(folders_tree_cycles_and_delete);
both!(bulk_inserts_and_import_paths);
both!(list_filters_and_cursor);
both!(pages_saved_per_user);
both!(import_sessions_are_per_user);

/// Writers racing each other (the check-then-write steps).
#[path = "bookmarks_races.rs"]
mod races;

/// The same searches give the same bookmarks on both backends.
#[path = "bookmarks_search.rs"]
mod search;

/// Everything the cases need from a backend.
trait Backend: BookmarkStore + FolderStore + BookmarkPageStore + UserStore + 'static {}
impl<T: BookmarkStore + FolderStore + BookmarkPageStore + UserStore + 'static> Backend for T {}

async fn user<S: Backend>(s: &S, name: &str) -> i64 {
    s.user_create(name.into(), Role::Member, None)
        .await
        .unwrap()
        .id
}

fn new(url: &str, title: &str, tags: &[&str]) -> NewBookmark {
    NewBookmark {
        url: url.into(),
        norm_url: url.to_ascii_lowercase(),
        title: title.into(),
        description: String::new(),
        tags: tags.iter().map(|t| (*t).to_string()).collect(),
        folder: FolderRef::Root,
        starred: false,
        archived: false,
        color: None,
        created_at: 1_700_000_000,
        updated_at: 1_700_000_000,
    }
}

async fn add<S: Backend>(s: &S, user: i64, b: NewBookmark) -> Bookmark {
    match s
        .bookmark_insert(user, Creator::User(user), b)
        .await
        .unwrap()
    {
        Insert::Inserted(b) => *b,
        other => panic!("not inserted: {other:?}"),
    }
}

async fn folder<S: Backend>(s: &S, user: i64, name: &str, parent: Option<i64>) -> i64 {
    match s
        .folder_create(user, name.into(), parent, None)
        .await
        .unwrap()
    {
        FolderWrite::Done(f) => f.id,
        other => panic!("folder not made: {other:?}"),
    }
}

fn ids(list: &[Bookmark]) -> Vec<i64> {
    list.iter().map(|b| b.id).collect()
}

fn filter() -> Filter {
    Filter {
        limit: 100,
        ..Filter::default()
    }
}

async fn bookmarks_contract_and_isolation<S: Backend>(s: Arc<S>) {
    let alice = user(&*s, "alice").await;
    let bob = user(&*s, "bob").await;
    let mut draft = new("https://Example.org/a", "A page", &["rust", "db"]);
    draft.description = "about a".into();
    draft.starred = true;
    draft.color = Some("#ff0000".into());
    let a = add(&*s, alice, draft.clone()).await;
    assert_eq!(a.url, "https://Example.org/a");
    assert_eq!(a.tags, ["rust", "db"]);
    assert!(a.starred && !a.archived);
    assert_eq!(a.color.as_deref(), Some("#ff0000"));
    assert_eq!(a.created_by.kind, "user");
    assert_eq!(a.created_by.id, Some(alice.to_string()));
    assert_eq!((a.created_at, a.updated_at), (1_700_000_000, 1_700_000_000));
    assert_eq!(s.bookmark_get(alice, a.id).await.unwrap(), Some(a.clone()));

    // The same normalised URL again is a duplicate of the first; another
    // user may bookmark it too.
    assert_eq!(
        s.bookmark_insert(alice, Creator::User(alice), draft.clone())
            .await
            .unwrap(),
        Insert::Duplicate(a.id)
    );
    let bob_a = add(&*s, bob, draft.clone()).await;
    assert_ne!(bob_a.id, a.id);

    // Another user's bookmark is not there, for reads and writes.
    assert_eq!(s.bookmark_get(bob, a.id).await.unwrap(), None);
    let retitle = Patch {
        title: Some("mine now".into()),
        now: 1_700_000_100,
        ..Patch::default()
    };
    assert_eq!(
        s.bookmark_update(bob, a.id, retitle.clone()).await.unwrap(),
        Update::NotFound
    );
    assert_eq!(s.bookmark_delete(bob, a.id).await.unwrap(), None);
    assert_eq!(s.bookmark_get(alice, a.id).await.unwrap(), Some(a.clone()));
    assert_eq!(
        s.bookmark_update(alice, 999_999, retitle).await.unwrap(),
        Update::NotFound
    );

    // Folders must be the user's own.
    let bobs_folder = folder(&*s, bob, "bob's", None).await;
    let mut into_bobs = new("https://example.org/b", "B", &[]);
    into_bobs.folder = FolderRef::Id(bobs_folder);
    assert_eq!(
        s.bookmark_insert(alice, Creator::User(alice), into_bobs)
            .await
            .unwrap(),
        Insert::NoFolder
    );
    let b = add(&*s, alice, new("https://example.org/b", "B", &["db"])).await;
    let move_to_bobs = Patch {
        folder_id: Some(Some(bobs_folder)),
        now: 1_700_000_200,
        ..Patch::default()
    };
    assert_eq!(
        s.bookmark_update(alice, b.id, move_to_bobs).await.unwrap(),
        Update::NoFolder
    );

    // A URL change onto another bookmark's URL is a duplicate; onto its
    // own is fine. Refused patches change nothing.
    let onto_a = Patch {
        url: Some((
            "https://EXAMPLE.org/a".into(),
            "https://example.org/a".into(),
        )),
        title: Some("lost".into()),
        now: 1_700_000_300,
        ..Patch::default()
    };
    assert_eq!(
        s.bookmark_update(alice, b.id, onto_a).await.unwrap(),
        Update::Duplicate(a.id)
    );
    assert_eq!(s.bookmark_get(alice, b.id).await.unwrap(), Some(b.clone()));
    let mine = folder(&*s, alice, "mine", None).await;
    let patch = Patch {
        url: Some((
            "https://example.org/B".into(),
            "https://example.org/b".into(),
        )),
        title: Some("Bee".into()),
        description: Some("d".into()),
        tags: Some(vec!["x".into(), "db".into()]),
        folder_id: Some(Some(mine)),
        starred: Some(true),
        archived: Some(true),
        color: Some(Some("#00ff00".into())),
        now: 1_700_000_400,
    };
    let Update::Updated(b2) = s.bookmark_update(alice, b.id, patch).await.unwrap() else {
        panic!("not updated");
    };
    assert_eq!(b2.url, "https://example.org/B");
    assert_eq!((b2.title.as_str(), b2.description.as_str()), ("Bee", "d"));
    assert_eq!(b2.tags, ["x", "db"]);
    assert_eq!(b2.folder_id, Some(mine));
    assert!(b2.starred && b2.archived);
    assert_eq!(b2.color.as_deref(), Some("#00ff00"));
    assert_eq!(b2.updated_at, 1_700_000_400);
    // Clearing optional fields; `updated_at` never goes backwards.
    let clear = Patch {
        folder_id: Some(None),
        color: Some(None),
        now: 1,
        ..Patch::default()
    };
    let Update::Updated(b3) = s.bookmark_update(alice, b.id, clear).await.unwrap() else {
        panic!("not updated");
    };
    assert_eq!((b3.folder_id, b3.color.clone()), (None, None));
    assert_eq!(b3.updated_at, 1_700_000_400);
    assert_eq!(b3.tags, ["x", "db"]);

    // Tags: counted from the tag rows, most used first, then by name.
    let tags = s.bookmark_tags(alice).await.unwrap();
    let tags: Vec<(&str, i64)> = tags.iter().map(|t| (t.tag.as_str(), t.count)).collect();
    assert_eq!(tags, [("db", 2), ("rust", 1), ("x", 1)]);
    assert_eq!(s.bookmark_tags(bob).await.unwrap().len(), 2);

    let stats = s.bookmark_stats(alice).await.unwrap();
    assert_eq!(
        (
            stats.total,
            stats.starred,
            stats.archived,
            stats.folders,
            stats.tags
        ),
        (2, 2, 1, 1, 3)
    );
    assert_eq!((stats.by_keys, stats.by_agents), (0, 0));
    let bob_stats = s.bookmark_stats(bob).await.unwrap();
    assert_eq!((bob_stats.total, bob_stats.folders), (1, 1));

    // Delete answers the row once; the tags go with it.
    let gone = s.bookmark_delete(alice, a.id).await.unwrap().unwrap();
    assert_eq!(gone.id, a.id);
    assert_eq!(s.bookmark_delete(alice, a.id).await.unwrap(), None);
    assert_eq!(s.bookmark_get(alice, a.id).await.unwrap(), None);
    let tags = s.bookmark_tags(alice).await.unwrap();
    assert!(tags.iter().all(|t| t.tag != "rust"), "{tags:?}");
    // The URL is free again.
    add(&*s, alice, draft).await;
    assert_eq!(ids(&s.bookmarks_all(bob).await.unwrap()), [bob_a.id]);
}

async fn folders_tree_cycles_and_delete<S: Backend>(s: Arc<S>) {
    let alice = user(&*s, "alice").await;
    let bob = user(&*s, "bob").await;
    let a = folder(&*s, alice, "a", None).await;
    let b = folder(&*s, alice, "b", Some(a)).await;
    let c = folder(&*s, alice, "C", Some(b)).await;
    let bobs = folder(&*s, bob, "bob", None).await;

    assert_eq!(
        s.folder_create(alice, "x".into(), Some(bobs), None)
            .await
            .unwrap(),
        FolderWrite::NoParent
    );
    let under = |parent| FolderPatch {
        parent_id: Some(parent),
        now: 1_700_000_000,
        ..FolderPatch::default()
    };
    // Into itself, into a descendant: refused, nothing changes.
    for target in [a, b, c] {
        assert_eq!(
            s.folder_update(alice, a, under(Some(target)))
                .await
                .unwrap(),
            FolderWrite::Cycle,
            "a into {target}"
        );
    }
    assert_eq!(
        s.folder_update(alice, a, under(Some(bobs))).await.unwrap(),
        FolderWrite::NoParent
    );
    assert_eq!(
        s.folder_update(bob, a, under(None)).await.unwrap(),
        FolderWrite::NotFound
    );
    assert_eq!(s.folder_delete(bob, a).await.unwrap(), None);

    // Listing: by name (byte order: upper case first), then id; bookmarks
    // counted directly inside.
    let mut in_b = new("https://example.org/in-b", "in b", &[]);
    in_b.folder = FolderRef::Id(b);
    let bm = add(&*s, alice, in_b).await;
    let list = s.folders_list(alice).await.unwrap();
    let shown: Vec<(&str, Option<i64>, i64)> = list
        .iter()
        .map(|f| (f.name.as_str(), f.parent_id, f.bookmarks))
        .collect();
    assert_eq!(
        shown,
        [("C", Some(b), 0), ("a", None, 0), ("b", Some(a), 1)]
    );
    assert_eq!(s.folders_list(bob).await.unwrap().len(), 1);

    // Rename, recolour and move to the top level.
    let FolderWrite::Done(moved) = s
        .folder_update(
            alice,
            c,
            FolderPatch {
                name: Some("c2".into()),
                parent_id: Some(None),
                color: Some(Some("#123456".into())),
                now: 1_700_000_500,
            },
        )
        .await
        .unwrap()
    else {
        panic!("not moved");
    };
    assert_eq!(moved.name, "c2");
    assert_eq!(moved.parent_id, None);
    assert_eq!(moved.color.as_deref(), Some("#123456"));
    assert_eq!(moved.updated_at, 1_700_000_500);
    // Back under b, then delete b: its bookmark and c go up to a.
    s.folder_update(alice, c, under(Some(b))).await.unwrap();
    let deleted = s.folder_delete(alice, b).await.unwrap().unwrap();
    assert_eq!(deleted.id, b);
    assert_eq!(deleted.parent_id, Some(a));
    assert_eq!((deleted.moved_bookmarks, deleted.moved_folders), (1, 1));
    assert_eq!(
        s.bookmark_get(alice, bm.id)
            .await
            .unwrap()
            .unwrap()
            .folder_id,
        Some(a)
    );
    let list = s.folders_list(alice).await.unwrap();
    let c_now = list.iter().find(|f| f.id == c).unwrap();
    assert_eq!(c_now.parent_id, Some(a));
    assert!(list.iter().all(|f| f.id != b));
    assert_eq!(
        s.folder_update(alice, b, under(None)).await.unwrap(),
        FolderWrite::NotFound
    );
    // Deleting a top-level folder moves its contents to the top level.
    let top = s.folder_delete(alice, a).await.unwrap().unwrap();
    assert_eq!(top.parent_id, None);
    assert_eq!(
        s.bookmark_get(alice, bm.id)
            .await
            .unwrap()
            .unwrap()
            .folder_id,
        None
    );
}

fn path(names: &[&str]) -> Vec<(String, Option<String>)> {
    names.iter().map(|n| ((*n).to_string(), None)).collect()
}

async fn bulk_inserts_and_import_paths<S: Backend>(s: Arc<S>) {
    let alice = user(&*s, "alice").await;
    let bob = user(&*s, "bob").await;
    let existing = add(&*s, alice, new("https://example.org/old", "old", &[])).await;
    let bobs = folder(&*s, bob, "bob", None).await;

    let mut in_path = new("https://example.org/1", "one", &["t"]);
    in_path.folder = FolderRef::Path(vec![
        ("Imported".into(), Some("#111111".into())),
        ("Deep".into(), None),
    ]);
    let mut same_path = new("https://example.org/2", "two", &[]);
    same_path.folder = FolderRef::Path(path(&["Imported", "Deep"]));
    let mut in_bobs = new("https://example.org/3", "three", &[]);
    in_bobs.folder = FolderRef::Id(bobs);
    let refused = ItemError {
        index: 3,
        url: "not a url".into(),
        reason: "bad url".into(),
    };
    let items = vec![
        Ok(in_path),
        Ok(new("https://example.org/OLD", "again", &[])),
        Ok(same_path),
        Err(refused.clone()),
        Ok(new("https://example.org/1", "twice in batch", &[])),
        Ok(in_bobs),
    ];
    let out = s
        .bookmarks_insert_many(
            alice,
            Creator::User(alice),
            vec![path(&["Empty"])],
            items,
            None,
        )
        .await
        .unwrap();
    assert_eq!(out.len(), 6);
    let first = *out[0].as_ref().unwrap();
    let third = *out[2].as_ref().unwrap();
    let reasons: Vec<Option<&str>> = out
        .iter()
        .map(|r| r.as_ref().err().map(|e| e.reason.as_str()))
        .collect();
    assert_eq!(
        reasons,
        [
            None,
            Some("duplicate: this URL is already bookmarked"),
            None,
            Some("bad url"),
            Some("duplicate: the same URL appears earlier in this batch"),
            Some("no such folder"),
        ]
    );
    assert_eq!(out[3], Err(refused));
    assert_eq!(out[1].as_ref().unwrap_err().index, 1);

    // Paths were made once, the empty folder too; colours come from the
    // first mention.
    let folders = s.folders_list(alice).await.unwrap();
    let named = |n: &str| folders.iter().find(|f| f.name == n).unwrap().clone();
    assert_eq!(folders.len(), 3, "{folders:?}");
    let (imported, deep) = (named("Imported"), named("Deep"));
    assert_eq!(named("Empty").parent_id, None);
    assert_eq!(imported.color.as_deref(), Some("#111111"));
    assert_eq!(deep.parent_id, Some(imported.id));
    assert_eq!(deep.bookmarks, 2);
    for id in [first, third] {
        let b = s.bookmark_get(alice, id).await.unwrap().unwrap();
        assert_eq!(b.folder_id, Some(deep.id));
    }
    // A second import reuses the folders.
    let mut again = new("https://example.org/4", "four", &[]);
    again.folder = FolderRef::Path(path(&["Imported", "Deep"]));
    let out = s
        .bookmarks_insert_many(alice, Creator::User(alice), vec![], vec![Ok(again)], None)
        .await
        .unwrap();
    let fourth = *out[0].as_ref().unwrap();
    assert_eq!(s.folders_list(alice).await.unwrap().len(), 3);
    // Oldest first for exports; bob sees none of it.
    assert_eq!(
        ids(&s.bookmarks_all(alice).await.unwrap()),
        [existing.id, first, third, fourth]
    );
    assert!(s.bookmarks_all(bob).await.unwrap().is_empty());
    assert_eq!(s.folders_list(bob).await.unwrap().len(), 1);
}

async fn list_filters_and_cursor<S: Backend>(s: Arc<S>) {
    let alice = user(&*s, "alice").await;
    let bob = user(&*s, "bob").await;
    let f = folder(&*s, alice, "f", None).await;
    let mut made = Vec::new();
    for i in 0..6 {
        let mut b = new(
            &format!("https://example.org/{i}"),
            &format!("n{i}"),
            if i % 2 == 0 { &["even"] } else { &["odd"] },
        );
        b.starred = i % 3 == 0;
        b.archived = i == 5;
        if i < 2 {
            b.folder = FolderRef::Id(f);
        }
        made.push(add(&*s, alice, b).await.id);
    }
    add(&*s, bob, new("https://example.org/0", "bob's", &["even"])).await;
    let list = |f: Filter| {
        let s = Arc::clone(&s);
        async move { ids(&s.bookmarks_list(alice, f).await.unwrap()) }
    };
    let rev = |idx: &[usize]| idx.iter().rev().map(|i| made[*i]).collect::<Vec<_>>();
    assert_eq!(list(filter()).await, rev(&[0, 1, 2, 3, 4, 5]));
    let starred = Filter {
        starred: Some(true),
        ..filter()
    };
    assert_eq!(list(starred).await, rev(&[0, 3]));
    let unstarred = Filter {
        starred: Some(false),
        archived: Some(false),
        ..filter()
    };
    assert_eq!(list(unstarred).await, rev(&[1, 2, 4]));
    let in_f = Filter {
        folder: Some(Some(f)),
        ..filter()
    };
    assert_eq!(list(in_f).await, rev(&[0, 1]));
    let top = Filter {
        folder: Some(None),
        ..filter()
    };
    assert_eq!(list(top).await, rev(&[2, 3, 4, 5]));
    let even = Filter {
        tag: Some("even".into()),
        ..filter()
    };
    assert_eq!(list(even).await, rev(&[0, 2, 4]));
    // Another user's folder holds nothing of alice's.
    let mut in_bobs = new("https://example.org/bob-f", "bob's", &[]);
    let bobs = folder(&*s, bob, "bob's", None).await;
    in_bobs.folder = FolderRef::Id(bobs);
    add(&*s, bob, in_bobs).await;
    let bobs_folder = Filter {
        folder: Some(Some(bobs)),
        ..filter()
    };
    assert!(list(bobs_folder).await.is_empty());
    let nothing = Filter {
        tag: Some("nope".into()),
        ..filter()
    };
    assert!(list(nothing).await.is_empty());
    // Pages: newest first, the cursor is the last id seen.
    let page1 = list(Filter {
        limit: 4,
        ..filter()
    })
    .await;
    assert_eq!(page1, rev(&[2, 3, 4, 5]));
    let page2 = list(Filter {
        limit: 4,
        before: page1.last().copied(),
        ..filter()
    })
    .await;
    assert_eq!(page2, rev(&[0, 1]));
    let combined = Filter {
        tag: Some("odd".into()),
        folder: Some(None),
        before: Some(made[5]),
        limit: 1,
        ..filter()
    };
    assert_eq!(list(combined).await, [made[3]]);
}

fn page(bookmark_id: i64, text: &str) -> PageText {
    PageText {
        bookmark_id,
        final_url: "https://example.org/final".into(),
        status: 200,
        title: "Page title".into(),
        description: "Page description".into(),
        text: text.into(),
        truncated: false,
        hidden: vec!["html_comment".into(), "display_none".into()],
        flagged: true,
        score: 0.5,
        fetched_at: 1_700_000_900,
    }
}

async fn pages_saved_per_user<S: Backend>(s: Arc<S>) {
    let alice = user(&*s, "alice").await;
    let bob = user(&*s, "bob").await;
    let url = "https://example.org/p";
    let b = add(&*s, alice, new(url, url, &[])).await;
    let fill = Fill {
        title: Some("Filled title".into()),
        description: Some("Filled description".into()),
    };
    // Bob can neither save nor read alice's page.
    assert!(
        !s.bookmark_page_save(bob, page(b.id, "evil"), fill.clone())
            .await
            .unwrap()
    );
    assert!(
        !s.bookmark_page_save(alice, page(999_999, "x"), fill.clone())
            .await
            .unwrap()
    );
    assert!(s.bookmark_page(alice, b.id).await.unwrap().is_none());

    assert!(
        s.bookmark_page_save(alice, page(b.id, "first"), fill.clone())
            .await
            .unwrap()
    );
    assert_eq!(
        s.bookmark_page(alice, b.id).await.unwrap(),
        Some(page(b.id, "first"))
    );
    assert!(s.bookmark_page(bob, b.id).await.unwrap().is_none());
    // The title was still the URL and the description empty: both filled.
    let filled = s.bookmark_get(alice, b.id).await.unwrap().unwrap();
    assert_eq!(filled.title, "Filled title");
    assert_eq!(filled.description, "Filled description");
    assert_eq!(filled.updated_at, 1_700_000_900);

    // A second fetch replaces the page and never overwrites what is set.
    let mut second = page(b.id, "second");
    second.status = 404;
    second.hidden = vec![];
    second.flagged = false;
    second.truncated = true;
    let other = Fill {
        title: Some("Other".into()),
        description: Some("Other".into()),
    };
    assert!(
        s.bookmark_page_save(alice, second.clone(), other)
            .await
            .unwrap()
    );
    assert_eq!(s.bookmark_page(alice, b.id).await.unwrap(), Some(second));
    let kept = s.bookmark_get(alice, b.id).await.unwrap().unwrap();
    assert_eq!(kept.title, "Filled title");
    assert_eq!(kept.description, "Filled description");

    // The page goes with its bookmark.
    s.bookmark_delete(alice, b.id).await.unwrap();
    assert!(s.bookmark_page(alice, b.id).await.unwrap().is_none());
}

async fn key<S: Backend + CredentialStore>(s: &S, user: i64, n: u8) -> AgentKeyRow {
    s.agent_key_create(NewAgentKey {
        name: format!("import {n}"),
        hash: [n; 32],
        permissions: vec!["bookmarks:write".into()],
        created_by: user,
        expires_at: None,
        rate_limit_per_minute: None,
    })
    .await
    .unwrap()
}

async fn import_sessions_are_per_user<S: Backend + CredentialStore>(s: Arc<S>) {
    let alice = user(&*s, "alice").await;
    let bob = user(&*s, "bob").await;
    let k = key(&*s, alice, 1).await;
    // No such agent key, or another user's: refused, nothing recorded.
    for (who, public_id) in [(alice, "no-such-key".to_string()), (bob, k.id.clone())] {
        assert!(
            s.import_session_create(who, public_id, 1_800_000_000)
                .await
                .is_err()
        );
    }
    let session = s
        .import_session_create(alice, k.id.clone(), 1_800_000_000)
        .await
        .unwrap();
    assert_eq!(session.key_id, k.id);
    assert_eq!(session.expires_at, 1_800_000_000);
    assert_eq!((session.imported, session.failed), (0, 0));
    assert!(session.closed_at.is_none() && session.errors.is_empty());

    // What the key imports is tallied on its session; the bookmarks say
    // the key made them.
    add(&*s, alice, new("https://example.org/had", "had", &[])).await;
    let refused = ItemError {
        index: 0,
        url: "nope".into(),
        reason: "bad url".into(),
    };
    let items = vec![
        Err(refused.clone()),
        Ok(new("https://example.org/k1", "k1", &[])),
        Ok(new("https://example.org/had", "again", &[])),
        Ok(new("https://example.org/k2", "k2", &[])),
    ];
    let out = s
        .bookmarks_insert_many(alice, Creator::Key(k.row_id), vec![], items, Some(k.row_id))
        .await
        .unwrap();
    let made = *out[1].as_ref().unwrap();
    let b = s.bookmark_get(alice, made).await.unwrap().unwrap();
    assert_eq!(b.created_by.kind, "key");
    assert_eq!(b.created_by.id.as_deref(), Some(k.id.as_str()));
    assert_eq!(s.bookmark_stats(alice).await.unwrap().by_keys, 2);

    // Only the owner closes it; closing revokes the key and twice answers
    // the same summary.
    assert_eq!(
        s.import_session_close(bob, session.id.clone())
            .await
            .unwrap(),
        None
    );
    let closed = s
        .import_session_close(alice, session.id.clone())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((closed.imported, closed.failed), (2, 2));
    assert_eq!(closed.errors.len(), 2);
    assert_eq!(closed.errors[0], refused);
    assert_eq!(
        closed.errors[1].reason,
        "duplicate: this URL is already bookmarked"
    );
    assert!(closed.closed_at.is_some());
    let keys = s.agent_keys_list().await.unwrap();
    assert!(
        keys.iter()
            .find(|x| x.id == k.id)
            .unwrap()
            .revoked_at
            .is_some()
    );
    // A closed session tallies nothing more.
    let late = vec![Ok(new("https://example.org/k3", "k3", &[]))];
    s.bookmarks_insert_many(alice, Creator::Key(k.row_id), vec![], late, Some(k.row_id))
        .await
        .unwrap();
    let again = s
        .import_session_close(alice, session.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again, closed);
}
