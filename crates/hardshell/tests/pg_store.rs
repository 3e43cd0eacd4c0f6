//! The PostgreSQL backend's own rules, against a real server: schema
//! versions (from empty, from the previous version, several processes at
//! once, a newer schema refused), the transport rule, and a server that
//! cannot be reached reported as unavailable rather than hanging.
//! Skipped with a visible line when `HARDSHELL_TEST_POSTGRES` is unset.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod pg_harness;

use hardshell::store::StoreError;
use hardshell::store::pg::{PgOptions, PgStore, Transport};

async fn latest(db: &pg_harness::TestDb) -> i64 {
    let store = PgStore::connect(&PgOptions::new(db.url.clone()))
        .await
        .unwrap();
    store.schema_version().await.unwrap()
}

#[tokio::test]
async fn an_empty_database_is_brought_to_the_latest_schema_once() {
    let Some(db) = pg_harness::fresh("empty").await else {
        return;
    };
    let version = latest(&db).await;
    assert!(version >= 1);
    // Connecting again applies nothing twice.
    assert_eq!(latest(&db).await, version);
    let client = db.client().await;
    let rows = client
        .query("SELECT version FROM hardshell_schema ORDER BY version", &[])
        .await
        .unwrap();
    let versions: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(versions, (1..=version).collect::<Vec<_>>());
    // Through loopback TCP, the transport is reported as such.
    let store = PgStore::connect(&PgOptions::new(db.url.clone()))
        .await
        .unwrap();
    assert_eq!(store.transport(), Transport::Loopback);
}

#[tokio::test]
async fn a_database_at_the_previous_version_is_migrated_and_keeps_its_rows() {
    let Some(db) = pg_harness::fresh("previous").await else {
        return;
    };
    let store = PgStore::connect_without_migrating(&PgOptions::new(db.url.clone())).unwrap();
    let target = store.migrate_to(i64::MAX).await.unwrap();
    assert!(target >= 1);
    // Start again one version earlier, with a row in it.
    drop(store);
    let client = db.client().await;
    client
        .batch_execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
        .await
        .unwrap();
    let store = PgStore::connect_without_migrating(&PgOptions::new(db.url.clone())).unwrap();
    assert_eq!(store.migrate_to(target - 1).await.unwrap(), target - 1);
    if target >= 2 {
        client
            .execute(
                "INSERT INTO users (uuid, username, role, created_at)
                 VALUES ('u-1', 'kept', 'owner', '2026-01-01T00:00:00Z')",
                &[],
            )
            .await
            .unwrap();
    }
    assert_eq!(latest(&db).await, target);
    if target >= 2 {
        let n: i64 = client
            .query_one("SELECT count(*) FROM users WHERE username = 'kept'", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(n, 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_starting_together_apply_each_migration_once() {
    let Some(db) = pg_harness::fresh("together").await else {
        return;
    };
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let url = db.url.clone();
        tasks.push(tokio::spawn(async move {
            PgStore::connect(&PgOptions::new(url)).await.map(|_| ())
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let client = db.client().await;
    let dupes: i64 = client
        .query_one(
            "SELECT count(*) - count(DISTINCT version) FROM hardshell_schema",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(dupes, 0);
}

#[tokio::test]
async fn a_schema_newer_than_this_build_is_refused() {
    let Some(db) = pg_harness::fresh("newer").await else {
        return;
    };
    let version = latest(&db).await;
    let client = db.client().await;
    client
        .execute(
            "INSERT INTO hardshell_schema (version, name) VALUES ($1, 'from the future')",
            &[&(version + 1)],
        )
        .await
        .unwrap();
    let err = PgStore::connect(&PgOptions::new(db.url.clone()))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::SchemaTooNew { found, known } if found == version + 1 && known == version),
        "{err}"
    );
}

#[tokio::test]
async fn asking_for_tls_from_a_server_without_it_fails_instead_of_going_plain() {
    let Some(db) = pg_harness::fresh("tls").await else {
        return;
    };
    // The test cluster has no TLS; `sslmode=require` must not quietly
    // connect in the clear.
    let url = format!("{}?sslmode=require", db.url);
    let err = PgStore::connect(&PgOptions::new(url)).await.unwrap_err();
    assert!(
        matches!(err, StoreError::Postgres(_)) && err.to_string().contains("TLS"),
        "{err}"
    );
}

#[tokio::test]
async fn a_server_that_is_not_there_is_unavailable_not_a_hang() {
    // Port 1 on loopback: nothing listens there.
    let started = std::time::Instant::now();
    let err = PgStore::connect(&PgOptions::new("postgres://u:p@127.0.0.1:1/db".to_string()))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err}");
    // Bounded by the pool's wait, not by the caller's patience.
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
}

#[tokio::test]
async fn a_wrong_password_is_an_error_that_never_echoes_the_password() {
    let Some(db) = pg_harness::fresh("password").await else {
        return;
    };
    let (head, tail) = db.url.split_once('@').unwrap();
    let user = head.rsplit_once(':').unwrap().0;
    let url = format!("{user}:not-the-password-7d1f@{tail}");
    let err = PgStore::connect(&PgOptions::new(url)).await.unwrap_err();
    let text = err.to_string();
    assert!(!text.contains("not-the-password-7d1f"), "{text}");
    assert!(matches!(err, StoreError::Postgres(_)), "{text}");
}

/// The server goes away under a running store: calls fail promptly with
/// `Unavailable` (the API's 503) instead of hanging, and once it is back
/// the same store works again by itself, with everything acknowledged
/// before the restart still there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_server_is_unavailable_meanwhile_and_recovered_from_without_help() {
    use hardshell::auth::Role;
    use hardshell::store::users::UserStore;

    let Some(cluster) = pg_harness::private_cluster("restart") else {
        return;
    };
    let store = PgStore::connect(&PgOptions::new(cluster.url.clone()))
        .await
        .unwrap();
    store
        .user_create("before".into(), Role::Owner, None)
        .await
        .unwrap();
    // Warm several pooled connections, all of which the restart kills.
    let mut warm = Vec::new();
    for _ in 0..4 {
        let s = store.clone();
        warm.push(tokio::spawn(async move { s.users_list().await }));
    }
    for w in warm {
        w.await.unwrap().unwrap();
    }

    cluster.pause();
    let started = std::time::Instant::now();
    for _ in 0..3 {
        let err = store.users_list().await.unwrap_err();
        assert!(matches!(err, StoreError::Unavailable(_)), "{err}");
    }
    let err = store
        .user_create("during".into(), Role::Member, None)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(30));

    cluster.resume();
    // The pool drops the dead connections and opens new ones; no restart
    // of the store, no reconnect call.
    let mut users = None;
    for _ in 0..50 {
        match store.users_list().await {
            Ok(u) => {
                users = Some(u);
                break;
            }
            Err(StoreError::Unavailable(_)) => {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await
            }
            Err(e) => panic!("{e}"),
        }
    }
    let users = users.expect("the store recovers once the server is back");
    assert_eq!(
        users
            .iter()
            .map(|u| u.username.as_str())
            .collect::<Vec<_>>(),
        ["before"]
    );
    store
        .user_create("after".into(), Role::Member, None)
        .await
        .unwrap();
}
