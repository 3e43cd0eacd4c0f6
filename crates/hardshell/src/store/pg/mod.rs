//! The PostgreSQL backend (issue 23): how a `postgres://` URL becomes a
//! connection we trust, the connection pool, and the schema versions.
//!
//! It owns the transport rule: a server on a Unix socket or on loopback
//! may be reached in the clear; any other server only over TLS with its
//! certificate verified (the Mozilla roots, or the CA file the operator
//! names). It must never fall back to an unverified or unencrypted
//! connection to a remote server, apply a migration outside a transaction,
//! or run on a schema newer than this build knows.
//!
//! The aggregates' SQL for this backend lives beside it (`users`,
//! `memories`, `knowledge`, …), each implementing the same interface as
//! the SQLCipher code; the conformance suite (`tests/store_conformance.rs`)
//! runs one set of cases on both.

pub mod agents;
pub mod approvals;
pub mod bookmark_folders;
pub mod bookmarks;
pub mod credentials;
pub mod knowledge;
pub mod memories;
pub(crate) mod migrations;
pub(crate) mod search;
pub mod trust;
pub mod users;

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{
    Manager, ManagerConfig, Object, Pool, PoolError, RecyclingMethod, Runtime,
};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::{Config, NoTls};
use zeroize::Zeroizing;

use super::StoreError;

/// How long a request waits for a pooled connection, or for a new one to
/// open, before the store reports the database unavailable (503) rather
/// than holding the request open.
const POOL_WAIT: Duration = Duration::from_secs(5);
/// Connections kept open per process.
const DEFAULT_POOL_SIZE: usize = 16;
/// Serialises migrations between processes (replicas starting together):
/// `pg_advisory_xact_lock` on this key ("hardshel" in ASCII).
const MIGRATION_LOCK: i64 = 0x6861_7264_7368_656c;

/// Where and how to connect.
pub struct PgOptions {
    /// A libpq-style URL or key=value string; it may hold the password.
    pub url: Zeroizing<String>,
    /// A PEM file of CA certificates to verify the server with, instead of
    /// the Mozilla roots (a private CA is the usual case for a database).
    pub ca_file: Option<PathBuf>,
    pub pool_size: usize,
}

impl PgOptions {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: Zeroizing::new(url.into()),
            ca_file: None,
            pool_size: DEFAULT_POOL_SIZE,
        }
    }
}

/// How the connection to the server is protected; `doctor` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// A Unix socket: never leaves the machine; the kernel checks the peer.
    UnixSocket,
    /// TCP to 127.0.0.0/8, ::1 or `localhost`: never leaves the machine.
    Loopback,
    /// TLS with the server's certificate verified.
    VerifiedTls { custom_ca: bool },
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnixSocket => f.write_str("Unix socket (no TLS needed)"),
            Self::Loopback => f.write_str("loopback TCP (no TLS needed)"),
            Self::VerifiedTls { custom_ca: true } => {
                f.write_str("TLS, certificate verified against the configured CA file")
            }
            Self::VerifiedTls { custom_ca: false } => {
                f.write_str("TLS, certificate verified against the Mozilla root certificates")
            }
        }
    }
}

/// Decides the transport for a parsed URL, or refuses it. TLS is chosen
/// for any host that is not local, and for a local one when the URL asks
/// for it (`sslmode=require`); a remote host with `sslmode=disable` is an
/// error, not a downgrade.
pub fn decide_transport(config: &Config, custom_ca: bool) -> Result<Transport, StoreError> {
    let hosts = config.get_hosts();
    if hosts.is_empty() {
        return Err(StoreError::PgConfig("the URL names no host".into()));
    }
    // A `hostaddr` overrides where the name resolves; judge by both.
    let addrs_local = config.get_hostaddrs().iter().all(IpAddr::is_loopback);
    let all_unix = hosts.iter().all(|h| matches!(h, Host::Unix(_)));
    let all_local = hosts.iter().all(|h| match h {
        Host::Unix(_) => true,
        Host::Tcp(name) => is_loopback_name(name),
    }) && addrs_local;
    let wants_tls = config.get_ssl_mode() == SslMode::Require;
    if all_local && !wants_tls {
        return Ok(if all_unix {
            Transport::UnixSocket
        } else {
            Transport::Loopback
        });
    }
    if config.get_ssl_mode() == SslMode::Disable {
        return Err(StoreError::PgConfig(
            "sslmode=disable is refused for a server that is not on this machine: \
             use TLS (the default) or a Unix socket"
                .into(),
        ));
    }
    Ok(Transport::VerifiedTls { custom_ca })
}

fn is_loopback_name(name: &str) -> bool {
    let bare = name.trim_start_matches('[').trim_end_matches(']');
    name.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The rustls client settings: ring, and either the Mozilla roots or only
/// the CA certificates in `ca_file`.
fn tls_config(ca_file: Option<&Path>) -> Result<rustls::ClientConfig, StoreError> {
    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        Some(path) => {
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                .map_err(|e| StoreError::PgConfig(format!("CA file {}: {e}", path.display())))?;
            let (added, _) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(StoreError::PgConfig(format!(
                    "CA file {} holds no usable certificate",
                    path.display()
                )));
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| StoreError::PgConfig(format!("TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// An open PostgreSQL store: a pool of connections at the current schema.
#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
    transport: Transport,
}

impl fmt::Debug for PgStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the URL: it may hold the password.
        f.debug_struct("PgStore")
            .field("transport", &self.transport)
            .finish()
    }
}

impl PgStore {
    /// Connects, checks the transport rule, and brings the schema up to
    /// date (every migration in its own transaction, serialised between
    /// processes).
    pub async fn connect(opts: &PgOptions) -> Result<Self, StoreError> {
        let store = Self::connect_without_migrating(opts)?;
        store.migrate_to(migrations::latest_version()).await?;
        Ok(store)
    }

    /// The pool, without touching the schema: for tests that start from an
    /// older version.
    #[doc(hidden)]
    pub fn connect_without_migrating(opts: &PgOptions) -> Result<Self, StoreError> {
        let mut config: Config = opts
            .url
            .parse()
            .map_err(|e| StoreError::PgConfig(format!("the PostgreSQL URL is invalid: {e}")))?;
        config.application_name("hardshell");
        config.connect_timeout(POOL_WAIT);
        let transport = decide_transport(&config, opts.ca_file.is_some())?;
        let manager_config = ManagerConfig {
            // `Fast` still drops a connection the server closed (restart),
            // so the pool recovers by itself.
            recycling_method: RecyclingMethod::Fast,
        };
        let manager = match transport {
            Transport::VerifiedTls { .. } => {
                config.ssl_mode(SslMode::Require);
                let tls = tokio_postgres_rustls::MakeRustlsConnect::new(tls_config(
                    opts.ca_file.as_deref(),
                )?);
                Manager::from_config(config, tls, manager_config)
            }
            Transport::UnixSocket | Transport::Loopback => {
                config.ssl_mode(SslMode::Disable);
                Manager::from_config(config, NoTls, manager_config)
            }
        };
        let pool = Pool::builder(manager)
            .max_size(opts.pool_size.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(POOL_WAIT))
            .create_timeout(Some(POOL_WAIT))
            .recycle_timeout(Some(POOL_WAIT))
            .build()
            .map_err(|e| StoreError::PgConfig(e.to_string()))?;
        Ok(Self { pool, transport })
    }

    pub fn transport(&self) -> Transport {
        self.transport
    }

    /// A pooled connection, or `Unavailable` when the server cannot be
    /// reached within `POOL_WAIT`.
    pub(crate) async fn client(&self) -> Result<Object, StoreError> {
        self.pool.get().await.map_err(|e| match e {
            PoolError::Backend(e) => pg_error(e),
            other => StoreError::Unavailable(other.to_string()),
        })
    }

    /// The schema version recorded in the database (0 when empty).
    pub async fn schema_version(&self) -> Result<i64, StoreError> {
        let client = self.client().await?;
        let exists: bool = client
            .query_one("SELECT to_regclass('hardshell_schema') IS NOT NULL", &[])
            .await?
            .get(0);
        if !exists {
            return Ok(0);
        }
        Ok(client
            .query_one(
                "SELECT coalesce(max(version), 0) FROM hardshell_schema",
                &[],
            )
            .await?
            .get(0))
    }

    /// Applies the known migrations up to `target`, one transaction each,
    /// each under a transaction-scoped advisory lock so replicas starting
    /// together apply every migration exactly once.
    #[doc(hidden)]
    pub async fn migrate_to(&self, target: i64) -> Result<i64, StoreError> {
        let known = migrations::latest_version();
        let mut client = self.client().await?;
        let mut current = 0;
        for &(version, name, sql) in migrations::MIGRATIONS {
            let tx = client.transaction().await?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
                .await?;
            tx.batch_execute(
                "CREATE TABLE IF NOT EXISTS hardshell_schema (
                     version    BIGINT PRIMARY KEY,
                     name       TEXT NOT NULL,
                     applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
                 )",
            )
            .await?;
            current = tx
                .query_one(
                    "SELECT coalesce(max(version), 0) FROM hardshell_schema",
                    &[],
                )
                .await?
                .get(0);
            if current > known {
                return Err(StoreError::SchemaTooNew {
                    found: current,
                    known,
                });
            }
            if version <= current || version > target {
                tx.commit().await?;
                continue;
            }
            tx.batch_execute(sql).await.map_err(|e| {
                StoreError::PgMigration(format!("version {version} ({name}): {}", pg_error(e)))
            })?;
            tx.execute(
                "INSERT INTO hardshell_schema (version, name) VALUES ($1, $2)",
                &[&version, &name],
            )
            .await?;
            tx.commit().await?;
            current = version;
        }
        Ok(current)
    }
}

/// A server error keeps its message; a lost or refused connection becomes
/// `Unavailable`, which the API answers with 503.
pub(crate) fn pg_error(e: tokio_postgres::Error) -> StoreError {
    use std::error::Error as _;
    let io = e.source().is_some_and(|s| s.is::<std::io::Error>());
    // Class 08: connection exception; 57P01-03: shutdown, crash, starting.
    let state = e.code().map(|c| c.code()).unwrap_or_default();
    if e.is_closed() || io || state.starts_with("08") || state.starts_with("57P0") {
        return StoreError::Unavailable(e.to_string());
    }
    StoreError::Postgres(e)
}

/// Serialises one read-then-write against every other transaction naming
/// the same `key` (e.g. `trust:7:web`), until this transaction ends: what
/// SQLite's single writer gave for free. The key is hashed by the server
/// (`hashtextextended`) and bound as a parameter, never spliced.
pub(crate) async fn lock_named(
    tx: &impl deadpool_postgres::GenericClient,
    key: &str,
) -> Result<(), StoreError> {
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
        &[&key],
    )
    .await?;
    Ok(())
}

/// Column `i` of `row`, with a conversion failure as a store error.
pub(crate) fn col<'a, T: tokio_postgres::types::FromSql<'a>>(
    row: &'a tokio_postgres::Row,
    i: usize,
) -> Result<T, StoreError> {
    row.try_get(i).map_err(pg_error)
}

/// True when `e` is a unique-constraint violation.
pub(crate) fn is_unique_violation(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transport(url: &str) -> Result<Transport, StoreError> {
        decide_transport(&url.parse().unwrap(), false)
    }

    #[test]
    fn local_servers_may_be_plain_and_remote_ones_need_verified_tls() {
        assert_eq!(
            transport("postgres://u:p@127.0.0.1:5432/db").unwrap(),
            Transport::Loopback
        );
        assert_eq!(
            transport("postgres://u:p@localhost/db").unwrap(),
            Transport::Loopback
        );
        assert_eq!(
            transport("postgres://u@[::1]/db").unwrap(),
            Transport::Loopback
        );
        assert_eq!(
            transport("host=/run/postgresql user=u dbname=db").unwrap(),
            Transport::UnixSocket
        );
        assert_eq!(
            transport("postgres://u:p@db.example.com/db").unwrap(),
            Transport::VerifiedTls { custom_ca: false }
        );
        assert_eq!(
            transport("postgres://u:p@10.0.0.5/db?sslmode=prefer").unwrap(),
            Transport::VerifiedTls { custom_ca: false }
        );
        assert_eq!(
            transport("postgres://u:p@127.0.0.1/db?sslmode=require").unwrap(),
            Transport::VerifiedTls { custom_ca: false }
        );
    }

    #[test]
    fn downgrades_for_remote_servers_are_refused() {
        // Asking for no TLS to a remote server is an error, not a downgrade.
        assert!(matches!(
            transport("postgres://u:p@db.example.com/db?sslmode=disable"),
            Err(StoreError::PgConfig(_))
        ));
        // A local-looking name that resolves elsewhere through hostaddr.
        assert!(matches!(
            transport("host=localhost hostaddr=10.1.2.3 user=u sslmode=disable"),
            Err(StoreError::PgConfig(_))
        ));
        // One remote host among local ones makes the whole list remote.
        assert!(matches!(
            transport("postgres://u@127.0.0.1,db.example.com/db?sslmode=disable"),
            Err(StoreError::PgConfig(_))
        ));
        assert!(matches!(
            transport("user=u dbname=db"),
            Err(StoreError::PgConfig(_))
        ));
    }

    #[test]
    fn a_ca_file_without_certificates_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("ca.pem");
        std::fs::write(&path, "not a certificate\n").unwrap();
        assert!(matches!(
            tls_config(Some(&path)),
            Err(StoreError::PgConfig(_))
        ));
        assert!(tls_config(None).is_ok());
    }

    #[test]
    fn the_debug_form_never_shows_the_url() {
        let opts = PgOptions::new("postgres://u:hunter2@127.0.0.1/db");
        let store = PgStore::connect_without_migrating(&opts).unwrap();
        assert!(!format!("{store:?}").contains("hunter2"));
    }
}
