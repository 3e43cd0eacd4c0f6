//! A tiny loopback-only HTTP/1.1 test server that counts connections and
//! records every request, plus resolver and dialer stubs.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use netguard::{BoxFuture, Dial, Resolve, ResolveError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One request as the server saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

/// What the server answers.
pub enum Reply {
    Ok(Vec<u8>),
    Redirect(u16, String),
    /// Raw bytes written as they are, then the connection closes.
    Raw(Vec<u8>),
    /// Reads the request and never answers.
    Hang,
    /// Answers after a pause (for concurrency tests).
    Delayed(Duration, Vec<u8>),
}

pub struct TestServer {
    pub addr: SocketAddr,
    pub connections: Arc<AtomicUsize>,
    pub max_active: Arc<AtomicUsize>,
    pub seen: Arc<Mutex<Vec<Seen>>>,
}

impl TestServer {
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    pub fn paths(&self) -> Vec<String> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .map(|s| s.path.clone())
            .collect()
    }
}

type Handler = Arc<dyn Fn(&Seen) -> Reply + Send + Sync>;

/// Starts a server on `bind` (a loopback address; port 0 picks one).
pub async fn serve(
    bind: &str,
    handler: impl Fn(&Seen) -> Reply + Send + Sync + 'static,
) -> TestServer {
    let listener = TcpListener::bind(bind).await.unwrap();
    let addr = listener.local_addr().unwrap();
    assert!(
        addr.ip().is_loopback(),
        "test servers only listen on loopback"
    );
    let server = TestServer {
        addr,
        connections: Arc::new(AtomicUsize::new(0)),
        max_active: Arc::new(AtomicUsize::new(0)),
        seen: Arc::new(Mutex::new(Vec::new())),
    };
    let handler: Handler = Arc::new(handler);
    let (connections, max_active, seen) = (
        server.connections.clone(),
        server.max_active.clone(),
        server.seen.clone(),
    );
    let active = Arc::new(AtomicUsize::new(0));
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            connections.fetch_add(1, Ordering::SeqCst);
            let now = active.fetch_add(1, Ordering::SeqCst) + 1;
            max_active.fetch_max(now, Ordering::SeqCst);
            let (handler, seen, active) = (handler.clone(), seen.clone(), active.clone());
            tokio::spawn(async move {
                let _ = handle(stream, handler, seen).await;
                active.fetch_sub(1, Ordering::SeqCst);
            });
        }
    });
    server
}

async fn handle(
    mut stream: TcpStream,
    handler: Handler,
    seen: Arc<Mutex<Vec<Seen>>>,
) -> io::Result<()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or("").split(' ');
    let method = first.next().unwrap_or("").to_owned();
    let path = first.next().unwrap_or("").to_owned();
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end..].to_vec();
    while body.len() < len {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    let request = Seen {
        method,
        path,
        headers,
        body,
    };
    seen.lock().unwrap().push(request.clone());
    let bytes = match handler(&request) {
        Reply::Ok(body) => ok_bytes(&body),
        Reply::Redirect(status, location) => {
            format!("HTTP/1.1 {status} Redirect\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").into_bytes()
        }
        Reply::Raw(bytes) => bytes,
        Reply::Hang => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            return Ok(());
        }
        Reply::Delayed(pause, body) => {
            tokio::time::sleep(pause).await;
            ok_bytes(&body)
        }
    };
    stream.write_all(&bytes).await?;
    stream.shutdown().await
}

fn ok_bytes(body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

/// Answers each listed name with the next entry of its list, repeating the
/// last one, and counts every lookup.
pub struct SequenceResolver {
    answers: HashMap<String, Vec<IpAddr>>,
    pub calls: Arc<Mutex<HashMap<String, usize>>>,
}

impl SequenceResolver {
    pub fn new(entries: &[(&str, &[&str])]) -> Self {
        let answers = entries
            .iter()
            .map(|(h, ips)| {
                (
                    h.to_string(),
                    ips.iter().map(|s| s.parse().unwrap()).collect(),
                )
            })
            .collect();
        SequenceResolver {
            answers,
            calls: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    pub fn calls(&self, host: &str) -> usize {
        self.calls.lock().unwrap().get(host).copied().unwrap_or(0)
    }
}

impl Resolve for SequenceResolver {
    fn resolve<'a>(
        &'a self,
        host: &'a str,
        _port: u16,
    ) -> BoxFuture<'a, Result<Vec<IpAddr>, ResolveError>> {
        let n = {
            let mut calls = self.calls.lock().unwrap();
            let n = calls.entry(host.to_owned()).or_insert(0);
            *n += 1;
            *n
        };
        let answer = self
            .answers
            .get(host)
            .map(|ips| ips[(n - 1).min(ips.len() - 1)]);
        Box::pin(async move {
            answer
                .map(|ip| vec![ip])
                .ok_or_else(|| ResolveError(format!("no address for {host}")))
        })
    }
}

/// Records every dial; a dial to a "public" stand-in address is diverted to a
/// loopback test server so that no traffic ever leaves the machine. Anything
/// not diverted must already be loopback, or the dial is refused.
#[derive(Default)]
pub struct RecordingDialer {
    pub divert: HashMap<SocketAddr, SocketAddr>,
    pub dials: Mutex<Vec<SocketAddr>>,
}

impl RecordingDialer {
    pub fn dials(&self) -> Vec<SocketAddr> {
        self.dials.lock().unwrap().clone()
    }
}

impl Dial for RecordingDialer {
    fn dial(&self, addr: SocketAddr) -> BoxFuture<'_, io::Result<TcpStream>> {
        self.dials.lock().unwrap().push(addr);
        let to = self.divert.get(&addr).copied().unwrap_or(addr);
        Box::pin(async move {
            if !to.ip().is_loopback() {
                return Err(io::Error::other("test dialer only reaches loopback"));
            }
            TcpStream::connect(to).await
        })
    }
}
