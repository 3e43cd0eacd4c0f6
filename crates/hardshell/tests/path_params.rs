//! Every route with a path parameter, taken from the served `openapi.json`
//! (so a new route is covered without editing this file), called with path
//! values that name nothing: not a number, negative, zero, past `i64`, and
//! very long. Each must answer a precise JSON 4xx that the document lists
//! for that operation, never a 5xx or a plain-text rejection: 400
//! `bad_request` when an integer id does not parse as one, 404 `not_found`
//! when it parses (or a name is well-formed or not) but names nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::identity::{bearer, installation, tokens};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// Operations that answer before reading the path value, with why.
const FIRST_ANSWER: &[(&str, StatusCode, &str)] = &[
    // Unknown webhook channels are 401, like a bad signature: a caller
    // cannot learn which channel names exist.
    (
        "/api/v1/channels/{name}/inbound",
        StatusCode::UNAUTHORIZED,
        "signed webhook",
    ),
];

/// The path with every `{param}` replaced by `value`.
fn fill(path: &str, value: &str) -> String {
    let mut out = String::new();
    let mut in_param = false;
    for c in path.chars() {
        match c {
            '{' => in_param = true,
            '}' => {
                in_param = false;
                out.push_str(value);
            }
            _ if in_param => {}
            _ => out.push(c),
        }
    }
    out
}

/// Whether any path parameter of the operation is an integer.
fn integer_param(item: &Value, op: &Value) -> bool {
    let params = op["parameters"]
        .as_array()
        .into_iter()
        .chain(item["parameters"].as_array())
        .flatten();
    params
        .filter(|p| p["in"] == "path")
        .any(|p| p["schema"]["type"] == "integer")
}

#[tokio::test(flavor = "multi_thread")]
async fn every_path_parameter_is_bounds_checked() {
    let (_env, server) = installation(&[("olga", "owner")]);
    let owner = tokens(&server, "olga").await.0;
    let doc = common::openapi(&server).await;
    let huge = "9".repeat(25);
    let long = "7".repeat(4000);
    let values: [(&str, bool); 6] = [
        // (value, parses as an i64)
        ("abc", false),
        ("1.5", false),
        ("-1", true),
        ("0", true),
        (&huge, false),
        (&long, false),
    ];
    let mut checked = 0;
    let mut failures = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        if !path.contains('{') {
            continue;
        }
        for (method, op) in item.as_object().unwrap() {
            let Ok(m) = Method::from_bytes(method.to_uppercase().as_bytes()) else {
                continue;
            };
            if !op.is_object() || m == Method::OPTIONS {
                continue;
            }
            let integer = integer_param(item, op);
            let documented = |s: StatusCode| !op["responses"][s.as_str()].is_null();
            for (value, parses) in &values {
                let url = fill(path, value);
                let mut req = bearer(&server, &owner, m.clone(), &url);
                if op["requestBody"]["content"]["application/json"].is_object() {
                    req = req.json(&json!({}));
                }
                let resp = req.send().await.unwrap();
                let status = resp.status();
                let is_json = resp
                    .headers()
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.starts_with("application/json"));
                let body: Value = resp.json().await.unwrap_or(Value::Null);
                let code = body["error"]["code"].as_str().unwrap_or("");
                // A value that cannot be an id is refused before anything
                // else; one that can names nothing (a route with a body
                // may refuse the empty body first: 422).
                let has_body = op["requestBody"]["content"]["application/json"].is_object();
                let allowed: Vec<StatusCode> = match FIRST_ANSWER.iter().find(|(p, _, _)| p == path)
                {
                    Some((_, s, _)) => vec![*s],
                    None if integer && !parses => vec![StatusCode::BAD_REQUEST],
                    None if has_body => {
                        vec![StatusCode::NOT_FOUND, StatusCode::UNPROCESSABLE_ENTITY]
                    }
                    None => vec![StatusCode::NOT_FOUND],
                };
                let short: String = value.chars().take(12).collect();
                let ok =
                    is_json && !code.is_empty() && documented(status) && allowed.contains(&status);
                if !ok {
                    failures.push(format!(
                        "{method} {path} with {short}…: {status} json={is_json} documented={} {body}",
                        documented(status)
                    ));
                }
                checked += 1;
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(checked >= 300, "only {checked} requests");
}
