//! One set of store cases, run against both backends: SQLCipher (a real
//! encrypted file in a temporary directory) and PostgreSQL (a fresh
//! database on the cluster `HARDSHELL_TEST_POSTGRES` names; skipped with a
//! visible line when it is unset, and never skipped under CI).
//!
//! Each aggregate's contracts live in `store_conformance/<aggregate>.rs` as
//! `async fn`s over that aggregate's interface trait; `both!` turns each
//! into one test per backend. One test binary for all of them: every
//! integration-test binary links the whole crate.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod pg_harness;

macro_rules! both {
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
                super::$contract(Arc::new(store)).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_postgres() {
                let Some(db) = crate::pg_harness::fresh(stringify!($contract)).await else {
                    return;
                };
                let store = PgStore::connect(&PgOptions::new(db.url.clone()))
                    .await
                    .unwrap();
                super::$contract(Arc::new(store)).await;
            }
        }
    };
}

/// Raw SQL for rows a contract needs but another aggregate owns (an agent,
/// a conversation), until that aggregate has its own interface.
pub enum Fixture {
    Sqlite {
        path: std::path::PathBuf,
        key_hex: String,
    },
    Pg {
        url: String,
    },
}

impl Fixture {
    /// Runs `sql` (the same text on both backends) as a superuser would.
    pub async fn exec(&self, sql: &str) {
        match self {
            Fixture::Sqlite { path, key_hex } => {
                let (path, key_hex, sql) = (path.clone(), key_hex.clone(), sql.to_string());
                tokio::task::spawn_blocking(move || {
                    let key = hardshell::store::DbKey::parse(&key_hex).unwrap();
                    hardshell::store::console::Console::open(&path, &key, true)
                        .unwrap()
                        .run(&sql)
                        .unwrap();
                })
                .await
                .unwrap();
            }
            Fixture::Pg { url } => {
                pg_harness::admin_client(url)
                    .await
                    .batch_execute(sql)
                    .await
                    .unwrap();
            }
        }
    }
}

/// `both!` for contracts that also take a `Fixture`.
macro_rules! both_fx {
    ($contract:ident) => {
        mod $contract {
            use hardshell::store::pg::{PgOptions, PgStore};
            use hardshell::store::{DbKey, Store};
            use std::sync::Arc;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_sqlcipher() {
                let tmp = tempfile::tempdir().unwrap();
                let path = tmp.path().join("hardshell.db");
                let key = DbKey::generate();
                let key_hex = key.expose_hex().to_string();
                let store = Store::open(&path, key).unwrap();
                let fx = crate::Fixture::Sqlite { path, key_hex };
                super::$contract(Arc::new(store), fx).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_postgres() {
                let Some(db) = crate::pg_harness::fresh(stringify!($contract)).await else {
                    return;
                };
                let store = PgStore::connect(&PgOptions::new(db.url.clone()))
                    .await
                    .unwrap();
                let fx = crate::Fixture::Pg {
                    url: db.url.clone(),
                };
                super::$contract(Arc::new(store), fx).await;
            }
        }
    };
}

#[path = "store_conformance/agents.rs"]
mod agents;
#[path = "store_conformance/approvals.rs"]
mod approvals;
#[path = "store_conformance/bookmarks.rs"]
mod bookmarks;
#[path = "store_conformance/credentials.rs"]
mod credentials;
#[path = "store_conformance/memory.rs"]
mod memory;
#[path = "store_conformance/trust.rs"]
mod trust;
#[path = "store_conformance/users.rs"]
mod users;
