//! The reference the `read_path` benchmark measures the server against: a
//! bare axum server (the workspace's axum and tokio, default multi-thread
//! runtime like `hardshell serve`) that answers
//! `GET /api/v1/conversations/{id}/messages` with fixed bytes behind one
//! constant-time bearer compare, and nothing else: no other middleware,
//! no logging, no security headers. Not used by the server.
//!
//! It runs in its own process (the bench binary re-executed with
//! `--axum-reference`), so it gets a runtime and threads of its own, as
//! the server does.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use subtle::ConstantTimeEq;

#[derive(Clone)]
struct Fixed {
    /// `Bearer <token>`, the whole expected header value.
    expected: Bytes,
    body: Bytes,
}

async fn page(State(f): State<Fixed>, headers: HeaderMap) -> Response {
    let ok = headers
        .get(header::AUTHORIZATION)
        .is_some_and(|v| bool::from(v.as_bytes().ct_eq(&f.expected)));
    if !ok {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    ([(header::CONTENT_TYPE, "application/json")], f.body).into_response()
}

/// Serves `body` to holders of `token` on a free loopback port, printing
/// `listening <port>` on stdout first; runs until killed.
pub fn serve(body: Vec<u8>, token: &str) {
    let fixed = Fixed {
        expected: Bytes::from(format!("Bearer {token}")),
        body: Bytes::from(body),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let app = Router::new()
            .route("/api/v1/conversations/{id}/messages", get(page))
            .with_state(fixed);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!("listening {}", listener.local_addr().unwrap().port());
        axum::serve(listener, app).await.unwrap();
    });
}
