//! The browser UI's static files, embedded in the binary at build time
//! (no files are read from disk at run time, so nothing outside `web/` can
//! ever be served). Each response carries an exact content type; the
//! security-headers middleware adds the CSP that forbids inline script.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

const SETUP_HTML: &str = include_str!("../../../../web/setup.html");
const SETUP_JS: &str = include_str!("../../../../web/setup.js");
const BASE_CSS: &str = include_str!("../../../../web/base.css");

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

/// The first-run page that turns the printed setup link into an owner.
pub async fn setup_page() -> Response {
    asset(SETUP_HTML, "text/html; charset=utf-8")
}

pub async fn setup_js() -> Response {
    asset(SETUP_JS, "text/javascript; charset=utf-8")
}

pub async fn base_css() -> Response {
    asset(BASE_CSS, "text/css; charset=utf-8")
}
