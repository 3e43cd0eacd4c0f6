//! Small outside web sites for the web-tool tests: each serves fixed pages
//! on an ephemeral loopback port and records every request it receives, so
//! a test can show that an attack reached nothing.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::task::JoinHandle;

/// What a path answers.
#[derive(Clone, Debug)]
pub enum Page {
    /// 200 with this content type and body.
    Body(&'static str, String),
    /// A 302 to this location.
    Redirect(String),
    /// 200 JSON echoing the request's headers (to see what arrived).
    EchoHeaders,
    /// 200 `text/plain` with this body, after this long (a request in
    /// flight that a test can rely on).
    Slow(std::time::Duration, String),
}

/// One request as the site saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    /// Path and query.
    pub target: String,
    pub headers: BTreeMap<String, String>,
    pub body: String,
    /// When the whole body had arrived (for latency benchmarks).
    pub at: std::time::Instant,
}

type Pages = BTreeMap<String, Page>;

#[derive(Default)]
struct Shared {
    pages: Mutex<Pages>,
    seen: Mutex<Vec<Seen>>,
}

pub struct Site {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl Drop for Site {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Site {
    /// Starts a site on 127.0.0.1 with no pages (every path answers 404).
    pub async fn start() -> Site {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared::default());
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&shared));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Site { addr, shared, task }
    }

    pub fn page(&self, path: &str, page: Page) {
        self.shared.pages.lock().unwrap().insert(path.into(), page);
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `http://NAME:PORT` for a name the server's `[tools] resolve` maps here.
    pub fn url(&self, name: &str) -> String {
        format!("http://{name}:{}", self.addr.port())
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.shared.seen.lock().unwrap().clone()
    }
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let method = request.method().as_str().to_owned();
    let target = request
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let headers: BTreeMap<String, String> = request
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let path = request.uri().path().to_owned();
    let body: Bytes = axum::body::to_bytes(request.into_body(), 1 << 20)
        .await
        .unwrap_or_default();
    shared.seen.lock().unwrap().push(Seen {
        method,
        target,
        headers: headers.clone(),
        body: String::from_utf8_lossy(&body).into_owned(),
        at: std::time::Instant::now(),
    });
    let page = shared.pages.lock().unwrap().get(&path).cloned();
    match page {
        Some(Page::Body(ct, body)) => {
            let mut h = HeaderMap::new();
            h.insert(header::CONTENT_TYPE, ct.parse().unwrap());
            (StatusCode::OK, h, body).into_response()
        }
        Some(Page::Redirect(to)) => {
            (StatusCode::FOUND, [(header::LOCATION, to)], "").into_response()
        }
        Some(Page::EchoHeaders) => axum::Json(headers).into_response(),
        Some(Page::Slow(wait, body)) => {
            tokio::time::sleep(wait).await;
            ([(header::CONTENT_TYPE, "text/plain")], body).into_response()
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
