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

/// The security headers, built once at start-up: one map for `/api/`
/// responses (with `Cache-Control: no-store`) and one for the rest. A
/// response gets a copy of one, then its own headers on top, so the nine
/// names are hashed here once instead of on every response.
pub struct SecurityHeaders {
    api: HeaderMap,
    other: HeaderMap,
}

/// Headers whose value is ours whatever a handler set.
const FORCED: [HeaderName; 6] = [
    header::X_CONTENT_TYPE_OPTIONS,
    header::REFERRER_POLICY,
    header::X_FRAME_OPTIONS,
    HeaderName::from_static("permissions-policy"),
    HeaderName::from_static("cross-origin-opener-policy"),
    header::STRICT_TRANSPORT_SECURITY,
];

impl SecurityHeaders {
    pub fn new(policy: HeaderPolicy) -> Self {
        let mut other = HeaderMap::with_capacity(12);
        // Defaults a handler may replace (an upload's `sandbox` CSP).
        other.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
        other.insert(
            HeaderName::from_static("cross-origin-resource-policy"),
            HeaderValue::from_static("same-origin"),
        );
        // Always ours.
        other.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        other.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
        other.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        other.insert(
            HeaderName::from_static("permissions-policy"),
            HeaderValue::from_static(PERMISSIONS),
        );
        other.insert(
            HeaderName::from_static("cross-origin-opener-policy"),
            HeaderValue::from_static("same-origin"),
        );
        if policy.https {
            other.insert(
                header::STRICT_TRANSPORT_SECURITY,
                HeaderValue::from_static(HSTS),
            );
        }
        let mut api = other.clone();
        api.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        Self { api, other }
    }
}

/// Adds the security headers to a response (and gives a JSON body to an
/// error that has none); `is_api` is whether the request's path is under
/// `/api/`. The handler's own headers are kept, every value of each,
/// except those in [`FORCED`], whose value is always ours.
pub async fn harden(security: &SecurityHeaders, is_api: bool, resp: Response) -> Response {
    let mut resp = json_errors(resp).await;
    let template = if is_api {
        &security.api
    } else {
        &security.other
    };
    let own = std::mem::replace(resp.headers_mut(), template.clone());
    let h = resp.headers_mut();
    // `into_iter` names a header once, then yields its further values
    // with no name; `current` is the name they belong to, or `None`
    // while skipping a forced header's values.
    let mut current: Option<HeaderName> = None;
    for (name, value) in own {
        match name {
            Some(name) => {
                current = (!FORCED.contains(&name)).then_some(name);
                if let Some(name) = &current {
                    h.insert(name.clone(), value);
                }
            }
            None => {
                if let Some(name) = &current {
                    h.append(name.clone(), value);
                }
            }
        }
    }
    resp
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

#[cfg(test)]
mod tests {
    use super::*;

    async fn hardened(
        https: bool,
        is_api: bool,
        own: &[(&'static str, &'static str)],
    ) -> HeaderMap {
        let mut resp = Response::new(Body::from("{}"));
        for (name, value) in own {
            resp.headers_mut().append(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        let security = SecurityHeaders::new(HeaderPolicy { https });
        harden(&security, is_api, resp).await.headers().clone()
    }

    #[tokio::test]
    async fn every_response_gets_the_security_headers() {
        let h = hardened(false, false, &[]).await;
        assert_eq!(h["content-security-policy"], CSP);
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["referrer-policy"], "no-referrer");
        assert_eq!(h["x-frame-options"], "DENY");
        assert_eq!(h["permissions-policy"], PERMISSIONS);
        assert_eq!(h["cross-origin-opener-policy"], "same-origin");
        assert_eq!(h["cross-origin-resource-policy"], "same-origin");
        // Not under /api/, not over HTTPS.
        assert!(!h.contains_key("cache-control"));
        assert!(!h.contains_key("strict-transport-security"));
        let h = hardened(true, true, &[]).await;
        assert_eq!(h["cache-control"], "no-store");
        assert_eq!(h["strict-transport-security"], HSTS);
    }

    #[tokio::test]
    async fn a_handler_may_tighten_some_headers_but_never_weaken_the_forced_ones() {
        let h = hardened(
            true,
            true,
            &[
                ("content-security-policy", "sandbox"),
                ("cache-control", "private, max-age=60"),
                ("cross-origin-resource-policy", "same-site"),
                // A handler cannot lift these.
                ("x-frame-options", "ALLOWALL"),
                ("x-frame-options", "SAMEORIGIN"),
                ("referrer-policy", "unsafe-url"),
                ("strict-transport-security", "max-age=0"),
                ("x-content-type-options", "sniff"),
            ],
        )
        .await;
        assert_eq!(h["content-security-policy"], "sandbox");
        assert_eq!(h["cache-control"], "private, max-age=60");
        assert_eq!(h["cross-origin-resource-policy"], "same-site");
        let all = |name: &str| h.get_all(name).iter().cloned().collect::<Vec<_>>();
        assert_eq!(all("x-frame-options"), ["DENY"]);
        assert_eq!(all("referrer-policy"), ["no-referrer"]);
        assert_eq!(all("strict-transport-security"), [HSTS]);
        assert_eq!(all("x-content-type-options"), ["nosniff"]);
        assert_eq!(all("content-security-policy"), ["sandbox"]);
    }

    #[tokio::test]
    async fn a_handlers_own_headers_keep_every_value_in_order() {
        let h = hardened(
            false,
            true,
            &[
                ("content-type", "application/json"),
                ("set-cookie", "a=1"),
                ("vary", "origin"),
                ("set-cookie", "b=2"),
                ("x-frame-options", "SAMEORIGIN"),
                ("retry-after", "3"),
            ],
        )
        .await;
        assert_eq!(h["content-type"], "application/json");
        let cookies: Vec<_> = h.get_all("set-cookie").iter().cloned().collect();
        assert_eq!(cookies, ["a=1", "b=2"]);
        assert_eq!(h["vary"], "origin");
        assert_eq!(h["retry-after"], "3");
        assert_eq!(h["x-frame-options"], "DENY");
        // The security headers plus the five names the handler set.
        assert_eq!(h.keys_len(), 8 + 4);
    }
}
