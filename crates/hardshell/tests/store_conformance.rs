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

#[path = "store_conformance/memory.rs"]
mod memory;
#[path = "store_conformance/users.rs"]
mod users;
