//! Response hardening applied to every response: security headers, and
//! rewriting of any error that left a handler without a JSON body.
//!
//! It must never weaken a header a handler set on purpose (an upload's
//! `Content-Security-Policy: sandbox` stays).

use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::error::{ApiError, code_for_status};

/// No inline script or style, no eval, no framing, same-origin everything.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
connect-src 'self'; font-src 'self'; media-src 'self' blob:; object-src 'none'; base-uri 'none'; \
form-action 'self'; frame-ancestors 'none'";

const PERMISSIONS: &str =
    "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()";
const HSTS: &str = "max-age=63072000; includeSubDomains";

/// Whether responses are reached over HTTPS (TLS here, or at the proxy).
#[derive(Clone, Copy)]
pub struct HeaderPolicy {
    pub https: bool,
}

/// Adds the security headers to a response (and gives a JSON body to an
/// error that has none); `is_api` is whether the request's path is under
/// `/api/`.
pub async fn harden(policy: HeaderPolicy, is_api: bool, resp: Response) -> Response {
    let mut resp = json_errors(resp).await;
    let h = resp.headers_mut();
    // Room for all of them at once, instead of regrowing the map.
    h.reserve(9);
    set_if_absent(h, header::CONTENT_SECURITY_POLICY, CSP);
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        HeaderName::from_static("permissions-policy"),
        HeaderValue::from_static(PERMISSIONS),
    );
    h.insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    set_if_absent(
        h,
        HeaderName::from_static("cross-origin-resource-policy"),
        "same-origin",
    );
    if is_api {
        set_if_absent(h, header::CACHE_CONTROL, "no-store");
    }
    if policy.https {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    }
    resp
}

fn set_if_absent(h: &mut HeaderMap, name: HeaderName, value: &'static str) {
    if !h.contains_key(&name) {
        h.insert(name, HeaderValue::from_static(value));
    }
}

/// Errors produced outside our handlers (no route, wrong method, extractor
/// rejections, body limits) arrive as text; give them the JSON shape. Client
/// errors keep the framework's explanation (it names the bad field, never
/// internals); server errors get a generic message.
async fn json_errors(resp: Response) -> Response {
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let message = if status.is_server_error() {
        "internal server error".to_string()
    } else {
        let bytes = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes);
        let text: String = text.trim().chars().take(300).collect();
        if text.is_empty() {
            status
                .canonical_reason()
                .unwrap_or("request failed")
                .to_string()
        } else {
            text
        }
    };
    let mut out = ApiError::new(status, code_for_status(status), message).into_response();
    // Keep headers such as Allow and Retry-After; the body's type is ours now.
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            out.headers_mut().insert(name.clone(), value.clone());
        }
    }
    out
}

/// The response for a handler that panicked: logged, never shown.
pub fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response<Body> {
    tracing::error!("a request handler panicked");
    ApiError::new(
        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "internal server error",
    )
    .into_response()
}
