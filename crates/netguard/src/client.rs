//! The only HTTP client for tools. Every hop (the first request and each
//! redirect) is parsed, checked, resolved once and pinned before anything is
//! dialled; redirects are followed by hand, at most `max_redirects`. It never
//! sends caller headers or a request body (which may carry injected secrets)
//! to another origin.

use std::sync::Arc;

use bytes::Bytes;
use http::header::{self, HeaderName, HeaderValue};
use http::{Method, StatusCode};
use http_body_util::Full;
use tokio::sync::Semaphore;
use tokio::time::timeout;
use tokio_rustls::rustls::{ClientConfig, RootCertStore};
use url::Url;

use crate::check::{Target, prepare};
use crate::error::NetError;
use crate::policy::Policy;
use crate::resolve::Resolve;
use crate::streaming::StreamingResponse;
use crate::transport::{Dial, TcpDialer, read_body, send, tls_config};

const USER_AGENT: &str = concat!("hardshell-netguard/", env!("CARGO_PKG_VERSION"));

/// Headers netguard sets itself; a caller may not override them.
const RESERVED_HEADERS: &[HeaderName] = &[
    header::HOST,
    header::CONTENT_LENGTH,
    header::TRANSFER_ENCODING,
    header::CONNECTION,
    header::UPGRADE,
    header::TE,
];

/// An outgoing request. Build with [`Request::get`] or [`Request::new`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn new(method: &str, url: &str) -> Self {
        Request {
            method: method.to_owned(),
            url: url.to_owned(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn get(url: &str) -> Self {
        Self::new("GET", url)
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }
}

/// The request as it will leave, handed to an [`Egress`] hook once the first
/// hop's address is pinned: the hook may rewrite header values, the query
/// and the body, never the scheme, host, port or path.
pub struct EgressParts<'a> {
    /// The pinned destination (scheme, normalised host, port, path).
    pub target: &'a Target,
    /// The query, if any, without the `?`.
    pub query: Option<String>,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Finishes a request at the egress point (secrets are resolved here, after
/// netguard has checked and pinned the address). Returning `Ok(true)` marks
/// the request as carrying a secret: it then never follows a redirect.
pub trait Egress: Send + Sync {
    fn finish(&self, parts: &mut EgressParts<'_>) -> Result<bool, String>;
}

/// A complete response: the body has been read within the cap.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    /// The URL of the last hop.
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The checked address the last hop was sent to.
    pub remote_addr: std::net::SocketAddr,
    pub redirects: usize,
}

impl Response {
    /// The first value of a header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as UTF-8, lossily.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

struct Inner {
    policy: Policy,
    resolver: Arc<dyn Resolve>,
    dialer: Arc<dyn Dial>,
    tls: Arc<ClientConfig>,
    slots: Arc<Semaphore>,
}

/// The SSRF-safe client. Make one per caller (agent session): clones share
/// its concurrency limit.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

/// Configures a [`Client`] beyond policy and resolver.
pub struct ClientBuilder {
    policy: Policy,
    resolver: Arc<dyn Resolve>,
    dialer: Arc<dyn Dial>,
    roots: Option<RootCertStore>,
}

impl ClientBuilder {
    /// Replaces how checked addresses are dialled (tests record dials).
    pub fn dialer(mut self, dialer: Arc<dyn Dial>) -> Self {
        self.dialer = dialer;
        self
    }

    /// Trusts these roots instead of the Mozilla set.
    pub fn tls_roots(mut self, roots: RootCertStore) -> Self {
        self.roots = Some(roots);
        self
    }

    pub fn build(self) -> Result<Client, NetError> {
        let slots = Arc::new(Semaphore::new(self.policy.limits().max_concurrent.max(1)));
        Ok(Client {
            inner: Arc::new(Inner {
                tls: tls_config(self.roots)?,
                policy: self.policy,
                resolver: self.resolver,
                dialer: self.dialer,
                slots,
            }),
        })
    }
}

/// Same scheme, host and port.
fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host() == b.host()
        && a.port_or_known_default() == b.port_or_known_default()
}

fn build_request(
    target: &Target,
    method: &Method,
    headers: &[(HeaderName, HeaderValue)],
    body: &Bytes,
) -> Result<http::Request<Full<Bytes>>, NetError> {
    let path = match target.url.query() {
        Some(q) => format!("{}?{q}", target.url.path()),
        None => target.url.path().to_owned(),
    };
    let mut builder = http::Request::builder()
        .method(method.clone())
        .uri(path)
        .header(header::HOST, target.host_header())
        .header(header::USER_AGENT, USER_AGENT)
        .header(header::CONNECTION, "close");
    for (name, value) in headers {
        builder = builder.header(name, value);
    }
    builder
        .body(Full::new(body.clone()))
        .map_err(|e| NetError::InvalidRequest(e.to_string()))
}

fn parse_headers(raw: &[(String, String)]) -> Result<Vec<(HeaderName, HeaderValue)>, NetError> {
    raw.iter()
        .map(|(k, v)| {
            let name = HeaderName::from_bytes(k.as_bytes())
                .map_err(|e| NetError::InvalidRequest(format!("header {k:?}: {e}")))?;
            if RESERVED_HEADERS.contains(&name) {
                return Err(NetError::InvalidRequest(format!(
                    "header {name} is set by netguard"
                )));
            }
            let value = HeaderValue::from_str(v)
                .map_err(|e| NetError::InvalidRequest(format!("header {k:?}: {e}")))?;
            Ok((name, value))
        })
        .collect()
}

impl Client {
    /// A client that dials with [`TcpDialer`] and trusts the Mozilla roots.
    pub fn new(policy: Policy, resolver: Arc<dyn Resolve>) -> Result<Client, NetError> {
        Self::builder(policy, resolver).build()
    }

    pub fn builder(policy: Policy, resolver: Arc<dyn Resolve>) -> ClientBuilder {
        ClientBuilder {
            policy,
            resolver,
            dialer: Arc::new(TcpDialer),
            roots: None,
        }
    }

    pub fn policy(&self) -> &Policy {
        &self.inner.policy
    }

    pub async fn get(&self, url: &str) -> Result<Response, NetError> {
        self.request(Request::get(url)).await
    }

    /// Sends a request, following redirects by hand; the total timeout covers
    /// waiting for a free slot, every hop and every body.
    pub async fn request(&self, request: Request) -> Result<Response, NetError> {
        let total = self.inner.policy.limits().total_timeout;
        timeout(total, self.request_in_slot(request, None))
            .await
            .map_err(|_| NetError::Timeout("the total time limit passed"))?
    }

    /// Like [`Client::request`], but `egress` finishes the first hop after
    /// its address is pinned and before anything is sent. When it reports a
    /// secret, a redirect answer is returned as it is, never followed.
    pub async fn request_with_egress(
        &self,
        request: Request,
        egress: &dyn Egress,
    ) -> Result<Response, NetError> {
        let total = self.inner.policy.limits().total_timeout;
        timeout(total, self.request_in_slot(request, Some(egress)))
            .await
            .map_err(|_| NetError::Timeout("the total time limit passed"))?
    }

    async fn request_in_slot(
        &self,
        request: Request,
        egress: Option<&dyn Egress>,
    ) -> Result<Response, NetError> {
        let _slot = self
            .inner
            .slots
            .acquire()
            .await
            .map_err(|_| NetError::InvalidRequest("client is shut down".into()))?;
        let mut method = Method::from_bytes(request.method.as_bytes())
            .map_err(|e| NetError::InvalidRequest(e.to_string()))?;
        // Caller headers are validated before anything is resolved.
        parse_headers(&request.headers)?;
        let limits = self.inner.policy.limits();
        let mut target = prepare(
            &request.url,
            &self.inner.policy,
            self.inner.resolver.as_ref(),
        )
        .await?;
        let (raw_headers, raw_body, carries_secret) = match egress {
            None => (request.headers, request.body, false),
            Some(hook) => {
                let mut parts = EgressParts {
                    target: &target,
                    query: target.url.query().map(str::to_owned),
                    headers: request.headers,
                    body: request.body,
                };
                let secret = hook.finish(&mut parts).map_err(NetError::Egress)?;
                let EgressParts {
                    query,
                    headers,
                    body,
                    ..
                } = parts;
                target.url.set_query(query.as_deref());
                (headers, body, secret)
            }
        };
        let mut headers = parse_headers(&raw_headers)?;
        let mut body = Bytes::from(raw_body);
        let mut redirects = 0usize;
        loop {
            let req = build_request(&target, &method, &headers, &body)?;
            let exchange = send(
                &target,
                req,
                self.inner.dialer.as_ref(),
                &self.inner.tls,
                limits,
            )
            .await?;
            let status = exchange.response.status();
            let location = exchange.response.headers().get(header::LOCATION).cloned();
            if let (true, Some(location)) = (status.is_redirection(), location) {
                if carries_secret
                    || status == StatusCode::NOT_MODIFIED
                    || status == StatusCode::MULTIPLE_CHOICES
                {
                    return finish(exchange, &target, redirects, limits).await;
                }
                if redirects >= limits.max_redirects {
                    return Err(NetError::TooManyRedirects {
                        max: limits.max_redirects,
                    });
                }
                redirects += 1;
                let location = location
                    .to_str()
                    .map_err(|_| NetError::InvalidUrl("redirect Location is not text".into()))?;
                let next = target.url.join(location).map_err(|e| {
                    NetError::InvalidUrl(format!("redirect Location {location:?}: {e}"))
                })?;
                let rewrite_to_get = status == StatusCode::SEE_OTHER && method != Method::HEAD
                    || matches!(status, StatusCode::MOVED_PERMANENTLY | StatusCode::FOUND)
                        && method == Method::POST;
                let cross_origin = !same_origin(&target.url, &next);
                if cross_origin && !rewrite_to_get && !body.is_empty() {
                    // A 307/308 would resend the body (which may hold injected
                    // secrets) to another origin: hand the redirect back instead.
                    return finish(exchange, &target, redirects - 1, limits).await;
                }
                // Drop the hop's connection before dialling the next one.
                drop(exchange);
                if rewrite_to_get {
                    method = Method::GET;
                    body = Bytes::new();
                    headers.retain(|(n, _)| !n.as_str().starts_with("content-"));
                }
                if cross_origin {
                    headers.clear();
                }
                target = prepare(
                    next.as_str(),
                    &self.inner.policy,
                    self.inner.resolver.as_ref(),
                )
                .await?;
                continue;
            }
            return finish(exchange, &target, redirects, limits).await;
        }
    }
}

impl Client {
    /// Sends one request and returns as soon as the response head arrives;
    /// the body is then read with [`StreamingResponse::chunk`]. The connect,
    /// read (per chunk) and total timeouts and the body cap all apply while
    /// streaming. Redirects are refused with [`NetError::RedirectRefused`]:
    /// a caller that streams (a provider call carrying an API key) talks to
    /// exactly the URL its owner configured.
    pub async fn send_streaming(&self, request: Request) -> Result<StreamingResponse, NetError> {
        let limits = self.inner.policy.limits();
        let deadline = tokio::time::Instant::now() + limits.total_timeout;
        tokio::time::timeout_at(deadline, self.open_stream(request, deadline))
            .await
            .map_err(|_| NetError::Timeout("the total time limit passed"))?
    }

    async fn open_stream(
        &self,
        request: Request,
        deadline: tokio::time::Instant,
    ) -> Result<StreamingResponse, NetError> {
        let slot = Arc::clone(&self.inner.slots)
            .acquire_owned()
            .await
            .map_err(|_| NetError::InvalidRequest("client is shut down".into()))?;
        let method = Method::from_bytes(request.method.as_bytes())
            .map_err(|e| NetError::InvalidRequest(e.to_string()))?;
        let headers = parse_headers(&request.headers)?;
        let body = Bytes::from(request.body);
        let limits = self.inner.policy.limits();
        let target = prepare(
            &request.url,
            &self.inner.policy,
            self.inner.resolver.as_ref(),
        )
        .await?;
        let req = build_request(&target, &method, &headers, &body)?;
        let exchange = send(
            &target,
            req,
            self.inner.dialer.as_ref(),
            &self.inner.tls,
            limits,
        )
        .await?;
        let status = exchange.response.status();
        if status.is_redirection() && status != StatusCode::NOT_MODIFIED {
            return Err(NetError::RedirectRefused {
                status: status.as_u16(),
            });
        }
        StreamingResponse::new(
            exchange,
            target.url.to_string(),
            slot,
            limits.max_body_bytes,
            limits.read_timeout,
            deadline,
        )
    }
}

async fn finish(
    mut exchange: crate::transport::Exchange,
    target: &Target,
    redirects: usize,
    limits: &crate::policy::Limits,
) -> Result<Response, NetError> {
    let declared = exchange
        .response
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let body = read_body(
        exchange.response.body_mut(),
        declared,
        limits.max_body_bytes,
        limits.read_timeout,
    )
    .await?;
    let headers = exchange
        .response
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    Ok(Response {
        status: exchange.response.status().as_u16(),
        url: target.url.to_string(),
        headers,
        body,
        remote_addr: exchange.remote_addr,
        redirects,
    })
}
