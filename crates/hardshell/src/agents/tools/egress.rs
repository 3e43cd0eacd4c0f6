//! Secrets at egress: `{{secret:NAME}}` placeholders in an `http_request`
//! are replaced by the vault's value only at the egress point, after
//! netguard has pinned the destination, and only in a slot the secret's
//! binding names.
//!
//! Owns placeholder parsing, binding and slot matching, and the refusal of
//! agent-supplied credential headers to a bound host. It never puts a value
//! anywhere but the outgoing request, never resolves a placeholder for an
//! unbound origin or slot, and never reports a value in an error.

use std::sync::Arc;

use serde_json::Value;
use url::Url;
use zeroize::Zeroizing;

use crate::secrets::RESERVED_PREFIX;
use crate::secrets::live::LiveVault;
use crate::store::tool_rules::{BindingRow, SecretBinding};

const OPEN: &str = "{{secret:";
const CLOSE: &str = "}}";
const MAX_NAME: usize = 64;

/// Header names that carry credentials. An agent may not set them to a
/// bound host except through a placeholder the binding allows.
const CREDENTIAL_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "x-api-key",
    "api-key",
    "apikey",
    "x-auth-token",
    "x-access-token",
    "private-token",
];

/// The slot a secret fills when its binding names none.
pub const DEFAULT_SLOT: &str = "header:*";

fn name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')
}

/// The names of every placeholder in `s`, in order.
pub fn placeholders(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find(OPEN) {
        let after = &rest[i + OPEN.len()..];
        let len = after.find(|c: char| !name_char(c)).unwrap_or(after.len());
        if len > 0 && len <= MAX_NAME && after[len..].starts_with(CLOSE) {
            out.push(&after[..len]);
            rest = &after[len + CLOSE.len()..];
        } else {
            rest = after;
        }
    }
    out
}

/// Something that looks like a placeholder in a form we never resolve
/// (percent-encoded, spaced, unterminated): refused rather than sent.
pub fn looks_like_placeholder(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    let squeezed: String = lower.chars().filter(|c| !c.is_whitespace()).collect();
    squeezed.contains("{{secret:")
        || lower.contains("%7b%7bsecret")
        || lower.contains("secret:") && lower.contains("{{")
}

/// Whether `s` mentions a secret in any form.
pub fn mentions_secret(s: &str) -> bool {
    !placeholders(s).is_empty() || looks_like_placeholder(s)
}

/// A binding's slots, with the default when none is named.
fn slots(b: &SecretBinding) -> Vec<String> {
    if b.slots.is_empty() {
        vec![DEFAULT_SLOT.to_string()]
    } else {
        b.slots.clone()
    }
}

/// Longest host in a secret binding, in characters (a DNS name's limit).
pub const MAX_BINDING_HOST_CHARS: usize = 253;
/// Longest path prefix in a secret binding, in characters.
pub const MAX_BINDING_PATH_CHARS: usize = 1024;
/// Most slots one binding names.
pub const MAX_BINDING_SLOTS: usize = 32;
/// Longest slot (`header:NAME`, `query:NAME`, `body:FIELD`), in characters.
pub const MAX_SLOT_CHARS: usize = 128;

/// Checks a binding the owner sets: a known scheme, a host, a path prefix
/// starting with `/`, and well-formed slots. Returns it normalised.
pub fn normalise_binding(name: &str, mut b: SecretBinding) -> Result<SecretBinding, String> {
    if name.starts_with(RESERVED_PREFIX) {
        return Err(format!("{RESERVED_PREFIX}* secrets are the server's own"));
    }
    if b.host.chars().count() > MAX_BINDING_HOST_CHARS {
        return Err(format!(
            "host is at most {MAX_BINDING_HOST_CHARS} characters"
        ));
    }
    if b.path_prefix
        .as_ref()
        .is_some_and(|p| p.chars().count() > MAX_BINDING_PATH_CHARS)
    {
        return Err(format!(
            "path_prefix is at most {MAX_BINDING_PATH_CHARS} characters"
        ));
    }
    if b.slots.len() > MAX_BINDING_SLOTS
        || b.slots.iter().any(|s| s.chars().count() > MAX_SLOT_CHARS)
    {
        return Err(format!(
            "at most {MAX_BINDING_SLOTS} slots of at most {MAX_SLOT_CHARS} characters"
        ));
    }
    b.scheme = b.scheme.to_ascii_lowercase();
    if b.scheme != "http" && b.scheme != "https" {
        return Err("scheme must be http or https".into());
    }
    let host = url::Host::parse(b.host.trim()).map_err(|_| "not a valid host".to_string())?;
    b.host = netguard::host_key(&host).ok_or_else(|| "not a valid host".to_string())?;
    if b.port == 0 {
        b.port = if b.scheme == "https" { 443 } else { 80 };
    }
    if let Some(p) = &b.path_prefix
        && (!p.starts_with('/') || p.contains(['?', '#']))
    {
        return Err("path_prefix must start with / and hold no query".into());
    }
    for slot in &mut b.slots {
        let (kind, key) = slot.split_once(':').ok_or_else(|| {
            format!("slot {slot:?} must be header:NAME, query:NAME or body:FIELD")
        })?;
        let kind = kind.to_ascii_lowercase();
        let key = if kind == "header" {
            key.to_ascii_lowercase()
        } else {
            key.to_string()
        };
        let valid_key = !key.is_empty()
            && (key == "*" && kind == "header"
                || key
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c)));
        if !matches!(kind.as_str(), "header" | "query" | "body") || !valid_key {
            return Err(format!(
                "slot {slot:?} must be header:NAME, header:*, query:NAME or body:FIELD"
            ));
        }
        *slot = format!("{kind}:{key}");
    }
    Ok(b)
}

/// Whether a binding covers a URL's origin and path.
pub fn binding_covers(b: &SecretBinding, url: &Url) -> bool {
    let host = url.host().and_then(|h| netguard::host_key(&h.to_owned()));
    let path_ok = match &b.path_prefix {
        None => true,
        Some(p) => {
            let path = url.path();
            path == p.trim_end_matches('/')
                || path.starts_with(p.as_str())
                    && (p.ends_with('/') || path[p.len()..].starts_with('/'))
        }
    };
    url.scheme() == b.scheme
        && host.as_deref() == Some(b.host.as_str())
        && url.port_or_known_default() == Some(b.port)
        && path_ok
}

/// Where a placeholder sits in a request.
enum Slot<'a> {
    Header(&'a str),
    Query(&'a str),
    Body(&'a str),
}

fn allowed(b: &SecretBinding, slot: &Slot<'_>) -> bool {
    slots(b).iter().any(|s| match (s.split_once(':'), slot) {
        (Some(("header", "*")), Slot::Header(_)) => true,
        (Some(("header", k)), Slot::Header(h)) => k.eq_ignore_ascii_case(h),
        (Some(("query", k)), Slot::Query(q)) => k == *q,
        (Some(("body", k)), Slot::Body(f)) => k == *f,
        _ => false,
    })
}

fn slot_name(slot: &Slot<'_>) -> String {
    match slot {
        Slot::Header(h) => format!("header {h}"),
        Slot::Query(q) => format!("query parameter {q}"),
        Slot::Body(f) => format!("body field {f}"),
    }
}

/// The bindings that cover `url`, by name.
fn bound_here<'a>(bindings: &'a [BindingRow], url: &Url) -> Vec<&'a BindingRow> {
    bindings
        .iter()
        .filter(|b| binding_covers(&b.binding, url))
        .collect()
}

/// Every placeholder in `text` names a secret bound to `url` whose binding
/// allows `slot`.
fn check_text(
    text: &str,
    slot: &Slot<'_>,
    url: &Url,
    bindings: &[BindingRow],
) -> Result<(), String> {
    let names = placeholders(text);
    if names.is_empty() && looks_like_placeholder(text) {
        return Err(format!(
            "a malformed secret placeholder in the {}",
            slot_name(slot)
        ));
    }
    for name in names {
        let Some(b) = bindings.iter().find(|b| b.name == name) else {
            return Err(format!("secret {name} has no binding, so it is never sent"));
        };
        if !binding_covers(&b.binding, url) {
            return Err(format!(
                "secret {name} is not bound to {}://{}",
                url.scheme(),
                url.host_str().unwrap_or_default()
            ));
        }
        if !allowed(&b.binding, slot) {
            return Err(format!(
                "secret {name} may not be placed in the {}",
                slot_name(slot)
            ));
        }
    }
    Ok(())
}

/// The parts of an `http_request` the checks look at.
pub struct Outgoing<'a> {
    pub url: &'a Url,
    pub headers: &'a [(String, String)],
    pub body: Option<&'a str>,
}

/// Checks every placeholder and credential header of a request against the
/// bindings, for `url` as the request names it. Run before approval is
/// asked (so a call that could never be sent is refused at once) and again
/// at egress against the pinned destination. Returns whether any secret
/// would be attached.
pub fn check_request(req: &Outgoing<'_>, bindings: &[BindingRow]) -> Result<bool, String> {
    let url = req.url;
    let mut any = false;
    for host_part in [
        url.host_str().unwrap_or_default(),
        url.path(),
        url.username(),
    ] {
        if mentions_secret(host_part) || mentions_secret(&decode(host_part)) {
            return Err("a secret placeholder may not appear in the URL's host or path".into());
        }
    }
    if let Some(f) = url.fragment()
        && (mentions_secret(f) || mentions_secret(&decode(f)))
    {
        return Err("a secret placeholder may not appear in the URL's fragment".into());
    }
    if let Some(q) = url.query() {
        for (k, v) in url::form_urlencoded::parse(q.as_bytes()) {
            if mentions_secret(&k) {
                return Err("a secret placeholder may not name a query parameter".into());
            }
            check_text(&v, &Slot::Query(&k), url, bindings)?;
            any |= !placeholders(&v).is_empty();
        }
        if mentions_secret(&decode(q)) && !mentions_secret(q) {
            return Err("a percent-encoded secret placeholder in the query".into());
        }
    }
    let guarded = !bound_here(bindings, url).is_empty();
    for (name, value) in req.headers {
        if mentions_secret(name) {
            return Err("a secret placeholder may not name a header".into());
        }
        let lower = name.to_ascii_lowercase();
        check_text(value, &Slot::Header(&lower), url, bindings)?;
        let has = !placeholders(value).is_empty();
        any |= has;
        if guarded && CREDENTIAL_HEADERS.contains(&lower.as_str()) && !has {
            return Err(format!(
                "the {lower} header to a host with bound secrets must come from a secret placeholder"
            ));
        }
    }
    if let Some(body) = req.body
        && mentions_secret(body)
    {
        let json: Value = serde_json::from_str(body).map_err(|_| {
            "a secret placeholder in a body is allowed only in a JSON field".to_string()
        })?;
        any |= walk_body(&json, "", url, bindings)?;
    }
    Ok(any)
}

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

fn walk_body(v: &Value, path: &str, url: &Url, bindings: &[BindingRow]) -> Result<bool, String> {
    match v {
        Value::String(s) => {
            check_text(s, &Slot::Body(path), url, bindings)?;
            Ok(!placeholders(s).is_empty())
        }
        Value::Object(map) => {
            let mut any = false;
            for (k, child) in map {
                if mentions_secret(k) {
                    return Err("a secret placeholder may not name a body field".into());
                }
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                any |= walk_body(child, &p, url, bindings)?;
            }
            Ok(any)
        }
        Value::Array(items) => {
            let mut any = false;
            for (i, child) in items.iter().enumerate() {
                any |= walk_body(child, &format!("{path}.{i}"), url, bindings)?;
            }
            Ok(any)
        }
        _ => Ok(false),
    }
}

/// Replaces every placeholder in `s` by its value. Only called after
/// `check_request` passed for the pinned destination.
fn substitute(s: &str, vault: &LiveVault) -> Result<Zeroizing<String>, String> {
    let mut out = Zeroizing::new(String::with_capacity(s.len()));
    let mut rest = s;
    while let Some(i) = rest.find(OPEN) {
        out.push_str(&rest[..i]);
        let after = &rest[i + OPEN.len()..];
        let len = after.find(|c: char| !name_char(c)).unwrap_or(after.len());
        if len > 0 && len <= MAX_NAME && after[len..].starts_with(CLOSE) {
            let name = &after[..len];
            let value = vault
                .get(name)
                .ok_or_else(|| format!("secret {name} is not in the vault"))?;
            out.push_str(secrecy::ExposeSecret::expose_secret(&value));
            rest = &after[len + CLOSE.len()..];
        } else {
            out.push_str(OPEN);
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn substitute_json(v: &mut Value, vault: &LiveVault) -> Result<(), String> {
    match v {
        Value::String(s) if !placeholders(s).is_empty() => {
            *s = substitute(s, vault)?.to_string();
        }
        Value::Object(map) => {
            for child in map.values_mut() {
                substitute_json(child, vault)?;
            }
        }
        Value::Array(items) => {
            for child in items {
                substitute_json(child, vault)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// The egress hook for `http_request`: checks the request again against
/// the pinned destination, then resolves its placeholders.
pub struct SecretEgress {
    pub bindings: Vec<BindingRow>,
    pub vault: Arc<LiveVault>,
}

impl netguard::Egress for SecretEgress {
    fn finish(&self, parts: &mut netguard::EgressParts<'_>) -> Result<bool, String> {
        let mut url = parts.target.url.clone();
        url.set_query(parts.query.as_deref());
        let body = std::str::from_utf8(&parts.body).ok();
        if body.is_none() && mentions_secret(&String::from_utf8_lossy(&parts.body)) {
            return Err("a secret placeholder in a body that is not text".into());
        }
        let attached = check_request(
            &Outgoing {
                url: &url,
                headers: &parts.headers,
                body,
            },
            &self.bindings,
        )?;
        if !attached {
            return Ok(false);
        }
        for (_, value) in &mut parts.headers {
            if !placeholders(value).is_empty() {
                *value = substitute(value, &self.vault)?.to_string();
            }
        }
        if let Some(q) = parts.query.take() {
            let mut ser = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in url::form_urlencoded::parse(q.as_bytes()) {
                if placeholders(&v).is_empty() {
                    ser.append_pair(&k, &v);
                } else {
                    ser.append_pair(&k, &substitute(&v, &self.vault)?);
                }
            }
            parts.query = Some(ser.finish());
        }
        if let Some(text) = body
            && !placeholders(text).is_empty()
        {
            let mut json: Value = serde_json::from_str(text)
                .map_err(|_| "a secret placeholder in a body that is not JSON".to_string())?;
            substitute_json(&mut json, &self.vault)?;
            parts.body = serde_json::to_vec(&json).map_err(|e| e.to_string())?;
        }
        Ok(true)
    }
}

#[cfg(test)]
#[path = "egress_tests.rs"]
mod tests;
