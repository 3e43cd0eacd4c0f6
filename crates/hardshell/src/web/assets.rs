//! The browser UI's static files, embedded in the binary at build time.
//!
//! Only the names in [`ASSETS`] can ever be served: the request path is
//! looked up in that table and never touches the file system, so nothing
//! outside `web/` is reachable. Each response carries an exact content type;
//! the security-headers middleware adds the CSP that forbids inline script.

use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::ApiError;

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const SVG: &str = "image/svg+xml";

macro_rules! web {
    ($name:literal) => {
        include_str!(concat!("../../../../web/", $name))
    };
}

/// `(name under /assets/, body, content type)`.
const ASSETS: &[(&str, &str, &str)] = &[
    ("base.css", web!("base.css"), CSS),
    ("app.css", web!("app.css"), CSS),
    ("bookmarks.css", web!("bookmarks.css"), CSS),
    ("theme.js", web!("theme.js"), JS),
    ("api.js", web!("api.js"), JS),
    ("dom.js", web!("dom.js"), JS),
    ("setup.js", web!("setup.js"), JS),
    ("login.js", web!("login.js"), JS),
    ("app.js", web!("app.js"), JS),
    ("chat.js", web!("chat.js"), JS),
    ("composer.js", web!("composer.js"), JS),
    ("live.js", web!("live.js"), JS),
    ("settings.js", web!("settings.js"), JS),
    ("agents.js", web!("agents.js"), JS),
    ("agent-chat.js", web!("agent-chat.js"), JS),
    ("sidebar-agents.js", web!("sidebar-agents.js"), JS),
    ("first-run.js", web!("first-run.js"), JS),
    ("cards.js", web!("cards.js"), JS),
    ("approvals.js", web!("approvals.js"), JS),
    ("trust.js", web!("trust.js"), JS),
    ("secrets.js", web!("secrets.js"), JS),
    ("security.js", web!("security.js"), JS),
    ("channels.js", web!("channels.js"), JS),
    ("bookmarks.js", web!("bookmarks.js"), JS),
    ("icon.svg", web!("icon.svg"), SVG),
];

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

/// `GET /assets/{file}`: a name from the table, or 404.
pub async fn file(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, body, ct)) => asset(body, ct),
        None => ApiError::not_found().into_response(),
    }
}

/// The first-run page that turns the printed setup link into an owner.
pub async fn setup_page() -> Response {
    asset(web!("setup.html"), HTML)
}

/// Password or key-file sign-in.
pub async fn login_page() -> Response {
    asset(web!("login.html"), HTML)
}

/// The chat application (it sends itself to /login when signed out).
pub async fn app_page() -> Response {
    asset(web!("app.html"), HTML)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_name_is_plain_and_unique() {
        for (i, (name, body, _)) in ASSETS.iter().enumerate() {
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-'),
                "{name}"
            );
            assert!(!name.starts_with('.'), "{name}");
            assert!(!body.is_empty(), "{name}");
            assert!(
                ASSETS[i + 1..].iter().all(|(other, _, _)| other != name),
                "{name}"
            );
        }
    }

    fn has_event_handler(s: &str) -> bool {
        s.match_indices(" on").any(|(i, _)| {
            let rest = &s[i + 3..];
            let n = rest.chars().take_while(char::is_ascii_alphabetic).count();
            n > 0 && rest[n..].starts_with('=')
        })
    }

    #[test]
    fn no_page_or_asset_carries_inline_script_or_style() {
        let pages = [web!("setup.html"), web!("login.html"), web!("app.html")];
        for page in pages {
            let lower = page.to_ascii_lowercase();
            assert!(!lower.contains("style="), "inline style attribute");
            assert!(!lower.contains("<style"), "inline style element");
            assert!(!has_event_handler(&lower), "inline event handler");
            for script in lower.split("<script").skip(1) {
                let open = script.split('>').next().unwrap_or_default();
                assert!(open.contains("src=\"/assets/"), "inline script: {open}");
            }
        }
        for page in pages {
            assert!(!page.to_ascii_lowercase().contains("javascript:"));
        }
        for (name, body, ct) in ASSETS {
            // Nothing is fetched from another origin (no CDN, fonts, images).
            if *ct != SVG {
                assert!(!body.contains("http://"), "{name} names an external URL");
                assert!(!body.contains("https://"), "{name} names an external URL");
            }
            assert!(!body.contains("eval("), "{name} uses eval");
            assert!(!body.contains("new Function"), "{name} uses Function");
        }
    }
}
