//! Listening and shutting down: plain HTTP on loopback, or rustls.
//!
//! Shutdown is graceful: on the signal the listener stops accepting, and
//! in-flight requests finish (up to a grace period) before `run` returns.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;

use crate::config::TlsConfig;

const GRACE: Duration = Duration::from_secs(20);

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot load TLS certificate or key ({cert}, {key}): {source}")]
    Tls {
        cert: String,
        key: String,
        #[source]
        source: std::io::Error,
    },
    #[error("server error: {0}")]
    Io(#[from] std::io::Error),
}

/// A bound socket, so the caller can print the real address (port 0 picks
/// a free one) before serving.
pub struct Bound {
    listener: TcpListener,
    pub addr: SocketAddr,
}

pub async fn bind(addr: SocketAddr) -> Result<Bound, ServeError> {
    raise_open_file_limit();
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })?;
    let addr = listener.local_addr()?;
    Ok(Bound { listener, addr })
}

/// Raises the soft open-file limit to the hard one. Every live connection
/// (a WebSocket client above all) holds a descriptor, and the usual soft
/// default of 1,024 would refuse connections long before memory runs
/// short; the hard limit stays the operator's (systemd's `LimitNOFILE=`,
/// `ulimit -Hn`). A failure leaves the limit as it was.
fn raise_open_file_limit() {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current == limit.maximum {
        return;
    }
    limit.current = limit.maximum;
    if let Err(e) = setrlimit(Resource::Nofile, limit) {
        tracing::warn!(error = %e, "cannot raise the open-file limit");
    }
}

/// Serves until `shutdown` resolves, then drains in-flight requests.
pub async fn run(
    bound: Bound,
    app: Router,
    tls: Option<&TlsConfig>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let service = app.into_make_service_with_connect_info::<SocketAddr>();
    match tls {
        None => {
            axum::serve(bound.listener, service)
                .with_graceful_shutdown(shutdown)
                .await?;
        }
        Some(tls) => {
            // ring is the one provider compiled in; installing twice is harmless.
            let _ = rustls::crypto::ring::default_provider().install_default();
            let config = axum_server::tls_rustls::RustlsConfig::from_pem_file(&tls.cert, &tls.key)
                .await
                .map_err(|source| ServeError::Tls {
                    cert: tls.cert.display().to_string(),
                    key: tls.key.display().to_string(),
                    source,
                })?;
            let handle = axum_server::Handle::new();
            let on_signal = handle.clone();
            tokio::spawn(async move {
                shutdown.await;
                on_signal.graceful_shutdown(Some(GRACE));
            });
            let std_listener = bound.listener.into_std()?;
            axum_server::from_tcp_rustls(std_listener, config)
                .handle(handle)
                .serve(service)
                .await?;
        }
    }
    Ok(())
}

/// Resolves on SIGINT or SIGTERM. The handlers are installed when this is
/// called, not when the future is first polled, so a signal that arrives
/// right after the "listening" line still gets a clean stop.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    use tokio::signal::unix::{SignalKind, signal};
    let term = signal(SignalKind::terminate()).ok();
    let int = signal(SignalKind::interrupt()).ok();
    async move {
        let wait = |s: Option<tokio::signal::unix::Signal>| async move {
            match s {
                Some(mut s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            () = wait(term) => {},
            () = wait(int) => {},
        }
        tracing::info!("shutdown signal received; finishing in-flight requests");
    }
}
