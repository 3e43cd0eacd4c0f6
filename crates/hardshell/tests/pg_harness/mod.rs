//! A fresh PostgreSQL database per test, on the cluster that
//! `HARDSHELL_TEST_POSTGRES` names: a superuser URL of the form
//! `postgres://user:password@host:port/dbname`, such as the throw-away
//! cluster `eval "$(bash .ci/postgres-cluster.sh start)"` makes.
//!
//! Without the variable a test prints a visible "skipped" line and passes;
//! under CI (`CI` set) it fails instead, so CI can never skip silently.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;

pub const VAR: &str = "HARDSHELL_TEST_POSTGRES";

/// A database created for one test and dropped after it.
pub struct TestDb {
    /// A URL for the new database, with the same user and password.
    pub url: String,
    pub name: String,
    admin: String,
}

/// A new empty database, or `None` (after a visible skip line) when no
/// cluster is configured.
pub async fn fresh(label: &str) -> Option<TestDb> {
    let Ok(admin) = std::env::var(VAR) else {
        if std::env::var_os("CI").is_some() {
            panic!("{VAR} is unset under CI: the PostgreSQL tests must run there");
        }
        // Straight to the stream: libtest captures `eprintln!`.
        let _ = writeln!(
            std::io::stderr(),
            "skipped {label}: {VAR} is unset (see .ci/postgres-cluster.sh)"
        );
        return None;
    };
    let name = format!(
        "hs_{}_{}",
        label.replace(|c: char| !c.is_ascii_alphanumeric(), "_"),
        hex::encode(rand::random::<[u8; 6]>())
    );
    let client = admin_client(&admin).await;
    client
        .batch_execute(&format!("CREATE DATABASE \"{name}\""))
        .await
        .unwrap();
    Some(TestDb {
        url: with_dbname(&admin, &name),
        name,
        admin,
    })
}

impl TestDb {
    /// A superuser connection to this test's database (for checks the
    /// store's API does not offer, and for tampering).
    pub async fn client(&self) -> tokio_postgres::Client {
        admin_client(&self.url).await
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let admin = self.admin.clone();
        let name = self.name.clone();
        // Drop runs inside the test's runtime; a fresh one on its own
        // thread can block on the cleanup.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let client = admin_client(&admin).await;
                let _ = client
                    .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .await;
            });
        })
        .join();
    }
}

pub async fn admin_client(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("cannot reach the test cluster in {VAR}: {e}"));
    tokio::spawn(conn);
    client
}

/// The same URL with another database name.
pub fn with_dbname(url: &str, dbname: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    let mut out = format!("{}/{dbname}", &base[..path_start]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

/// A cluster of the test's own (for tests that stop and start the server),
/// made by `.ci/postgres-cluster.sh`; removed on drop. `None` (after the
/// visible skip) where `fresh` would skip.
pub struct PrivateCluster {
    pub url: String,
    dir: String,
}

pub fn private_cluster(label: &str) -> Option<PrivateCluster> {
    if std::env::var_os(VAR).is_none() {
        if std::env::var_os("CI").is_some() {
            panic!("{VAR} is unset under CI: the PostgreSQL tests must run there");
        }
        let _ = writeln!(std::io::stderr(), "skipped {label}: {VAR} is unset");
        return None;
    }
    let out = cluster_script(&["start"]);
    let mut url = None;
    let mut dir = None;
    for line in out.lines() {
        let value = |l: &str| {
            l.split_once('=')
                .map(|(_, v)| v.trim_matches('\'').to_string())
        };
        if line.starts_with("export HARDSHELL_TEST_POSTGRES=") {
            url = value(line);
        } else if line.starts_with("export HARDSHELL_TEST_POSTGRES_DIR=") {
            dir = value(line);
        }
    }
    Some(PrivateCluster {
        url: url.expect("the script prints the URL"),
        dir: dir.expect("the script prints the directory"),
    })
}

impl PrivateCluster {
    /// Stops the server (fast shutdown: clients are disconnected).
    pub fn pause(&self) {
        cluster_script(&["pause", &self.dir]);
    }
    /// Starts it again on the same port with the same data.
    pub fn resume(&self) {
        cluster_script(&["resume", &self.dir]);
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        cluster_script(&["stop", &self.dir]);
    }
}

fn cluster_script(args: &[&str]) -> String {
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.ci/postgres-cluster.sh");
    let out = std::process::Command::new("bash")
        .arg(script)
        .args(args)
        .output()
        .expect("run .ci/postgres-cluster.sh");
    assert!(
        out.status.success(),
        "postgres-cluster.sh {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
