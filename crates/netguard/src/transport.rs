//! One HTTP/1.1 exchange with a checked [`Target`]: dial one of its pinned
//! addresses, TLS when https, send, and read a capped body under timeouts.
//! There is no DNS in here at all: the only addresses it can reach are the
//! ones `check` classified. No connection pooling, no proxies from the
//! environment, no decompression (so the body cap counts real bytes).

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio::time::timeout;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

use crate::check::Target;
use crate::error::NetError;
use crate::policy::Limits;
use crate::resolve::BoxFuture;

/// Opens a TCP connection to an already checked socket address. The default
/// is [`TcpDialer`]; tests substitute one that records every dial.
pub trait Dial: Send + Sync {
    fn dial(&self, addr: SocketAddr) -> BoxFuture<'_, io::Result<TcpStream>>;
}

/// Plain `TcpStream::connect`.
#[derive(Clone, Copy, Debug, Default)]
pub struct TcpDialer;

impl Dial for TcpDialer {
    fn dial(&self, addr: SocketAddr) -> BoxFuture<'_, io::Result<TcpStream>> {
        Box::pin(TcpStream::connect(addr))
    }
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// TLS client settings: ring, Mozilla roots, HTTP/1.1 only.
pub(crate) fn tls_config(roots: Option<RootCertStore>) -> Result<Arc<ClientConfig>, NetError> {
    let roots = roots.unwrap_or_else(|| RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    });
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| NetError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Aborts the hyper connection task when the exchange is dropped (timeout).
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A response head plus the still unread body and the connection it needs.
pub(crate) struct Exchange {
    pub response: http::Response<Incoming>,
    pub remote_addr: SocketAddr,
    _conn: AbortOnDrop,
}

async fn dial_pinned(
    target: &Target,
    dialer: &dyn Dial,
    limits: &Limits,
) -> Result<(TcpStream, SocketAddr), NetError> {
    let mut failures = Vec::new();
    let mut all_timed_out = true;
    for addr in &target.addrs {
        match timeout(limits.connect_timeout, dialer.dial(*addr)).await {
            Ok(Ok(stream)) => return Ok((stream, *addr)),
            Ok(Err(e)) => {
                all_timed_out = false;
                failures.push(format!("{addr}: {e}"));
            }
            Err(_) => failures.push(format!("{addr}: timed out")),
        }
    }
    if all_timed_out && !failures.is_empty() {
        return Err(NetError::Timeout("connecting"));
    }
    Err(NetError::Connect(failures.join("; ")))
}

/// Sends `request` to the target's pinned addresses and returns the head.
pub(crate) async fn send(
    target: &Target,
    request: http::Request<Full<Bytes>>,
    dialer: &dyn Dial,
    tls: &Arc<ClientConfig>,
    limits: &Limits,
) -> Result<Exchange, NetError> {
    let (tcp, remote_addr) = dial_pinned(target, dialer, limits).await?;
    let io: Box<dyn Io> = if target.is_https() {
        let name =
            ServerName::try_from(target.host.clone()).map_err(|e| NetError::Tls(e.to_string()))?;
        let handshake = TlsConnector::from(Arc::clone(tls)).connect(name, tcp);
        let stream = timeout(limits.connect_timeout, handshake)
            .await
            .map_err(|_| NetError::Timeout("in the TLS handshake"))?
            .map_err(|e| NetError::Tls(e.to_string()))?;
        Box::new(stream)
    } else {
        Box::new(tcp)
    };
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| NetError::Http(e.to_string()))?;
    let conn = AbortOnDrop(tokio::spawn(async move {
        // Errors surface through the request future; nothing to do here.
        let _ = conn.await;
    }));
    let response = timeout(limits.read_timeout, sender.send_request(request))
        .await
        .map_err(|_| NetError::Timeout("waiting for response headers"))?
        .map_err(|e| NetError::Http(e.to_string()))?;
    Ok(Exchange {
        response,
        remote_addr,
        _conn: conn,
    })
}

/// Reads the body, refusing anything over `cap` bytes (declared or actual)
/// and any gap between chunks longer than `read_timeout`.
pub(crate) async fn read_body(
    body: &mut Incoming,
    declared: Option<u64>,
    cap: usize,
    read_timeout: Duration,
) -> Result<Vec<u8>, NetError> {
    if declared.is_some_and(|n| n > cap as u64) {
        return Err(NetError::BodyTooLarge { limit: cap });
    }
    let mut out = Vec::new();
    loop {
        let frame = timeout(read_timeout, body.frame())
            .await
            .map_err(|_| NetError::Timeout("reading the body"))?;
        let Some(frame) = frame else { break };
        let frame = frame.map_err(|e| NetError::Http(e.to_string()))?;
        if let Ok(data) = frame.into_data() {
            if out.len().saturating_add(data.len()) > cap {
                return Err(NetError::BodyTooLarge { limit: cap });
            }
            out.extend_from_slice(&data);
        }
    }
    Ok(out)
}
