//! Every value a caller sends in a JSON body or a query string is bounded in
//! the OpenAPI document: strings by `maxLength` (or an `enum`/`format`),
//! numbers by `minimum` and `maximum`, arrays by `maxItems`. The bounds are
//! the ones the code enforces; the tests below pin some to their constants.

use serde_json::Value;

/// Fields whose bound is not a schema keyword, each with the reason;
/// matched against the end of a field's place (`POST /x body.a.b[]`).
/// None today: every value a caller sends is refused past its bound.
const ALLOWED: &[(&str, &str)] = &[];

fn types(schema: &Value) -> Vec<&str> {
    match &schema["type"] {
        Value::String(s) => vec![s.as_str()],
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => {
            let name = r.trim_start_matches("#/components/schemas/");
            &doc["components"]["schemas"][name]
        }
        None => schema,
    }
}

/// Appends `at` to `gaps` for every unbounded value under `schema`.
fn walk(doc: &Value, schema: &Value, at: &str, seen: &mut Vec<String>, gaps: &mut Vec<String>) {
    if let Some(r) = schema["$ref"].as_str() {
        if seen.iter().any(|s| s == r) {
            return;
        }
        seen.push(r.to_string());
        let target = resolve(doc, schema);
        if target.is_null() {
            gaps.push(format!("{at} (no schema {r})"));
        }
        walk(doc, target, at, seen, gaps);
        seen.pop();
        return;
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        for s in schema[key].as_array().into_iter().flatten() {
            walk(doc, s, at, seen, gaps);
        }
    }
    if let Some(props) = schema["properties"].as_object() {
        for (name, s) in props {
            walk(doc, s, &format!("{at}.{name}"), seen, gaps);
        }
    }
    let has = |k: &str| !schema[k].is_null();
    let bounded = if schema.get("enum").is_some() || has("const") {
        true
    } else {
        types(schema).into_iter().all(|t| match t {
            "string" => has("maxLength") || has("format"),
            "integer" | "number" => has("minimum") && has("maximum"),
            "array" => has("maxItems"),
            _ => true,
        })
    };
    if !bounded && !ALLOWED.iter().any(|(a, _)| at.ends_with(a)) {
        gaps.push(at.to_string());
    }
    if types(schema).contains(&"array") {
        walk(doc, &schema["items"], &format!("{at}[]"), seen, gaps);
    }
}

/// Every unbounded field of every JSON request body and query parameter.
fn unbounded(doc: &Value) -> Vec<String> {
    let mut gaps = Vec::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for (method, op) in item.as_object().into_iter().flatten() {
            let at = format!("{} {path}", method.to_uppercase());
            let body = &op["requestBody"]["content"]["application/json"]["schema"];
            if !body.is_null() {
                walk(doc, body, &format!("{at} body"), &mut Vec::new(), &mut gaps);
            }
            for p in op["parameters"].as_array().into_iter().flatten() {
                if p["in"] == "query" {
                    let name = p["name"].as_str().unwrap_or_default();
                    let at = format!("{at} ?{name}");
                    walk(doc, &p["schema"], &at, &mut Vec::new(), &mut gaps);
                }
            }
        }
    }
    gaps.sort();
    gaps.dedup();
    gaps
}

fn document() -> Value {
    serde_json::to_value(super::super::openapi_document()).unwrap_or_default()
}

#[test]
fn every_request_value_is_bounded() {
    let gaps = unbounded(&document());
    assert!(
        gaps.is_empty(),
        "{} unbounded:\n{}",
        gaps.len(),
        gaps.join("\n")
    );
}

#[test]
fn the_walk_finds_an_unbounded_field() {
    let doc = serde_json::json!({
        "paths": {"/x": {"post": {"requestBody": {"content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/X"}}}}}}},
        "components": {"schemas": {"X": {"type": "object", "properties": {
            "ok": {"type": "string", "maxLength": 3},
            "free": {"type": ["string", "null"]},
            "n": {"type": "integer", "minimum": 0},
            "list": {"type": "array", "maxItems": 2, "items": {"type": "string"}}
        }}}}
    });
    assert_eq!(
        unbounded(&doc),
        ["POST /x body.free", "POST /x body.list[]", "POST /x body.n"]
    );
}

/// A property of a component schema.
fn prop<'a>(doc: &'a Value, schema: &str, field: &str) -> &'a Value {
    &doc["components"]["schemas"][schema]["properties"][field]
}

/// A query parameter's schema.
fn param<'a>(doc: &'a Value, path: &str, name: &str) -> &'a Value {
    let params = doc["paths"][path]["get"]["parameters"].as_array();
    params
        .into_iter()
        .flatten()
        .find(|p| p["name"] == name)
        .map_or(&Value::Null, |p| &p["schema"])
}

#[test]
fn documented_limits_equal_the_enforced_constants() {
    use crate::agents::{memory, model, tools::egress};
    use crate::chat::{search, upload_files, validate};
    let doc = document();
    let max_len = |v: &Value| v["maxLength"].as_u64().unwrap_or(0) as usize;
    let max = |v: &Value| v["maximum"].as_u64().unwrap_or(0);
    let max_items = |v: &Value| v["maxItems"].as_u64().unwrap_or(0) as usize;
    let id = i64::MAX as u64;

    let conv = |f: &str| prop(&doc, "CreateConversation", f);
    assert_eq!(max_len(conv("title")), validate::MAX_TITLE_CHARS);
    assert_eq!(
        max_items(conv("members")),
        super::super::chat_routes::MAX_INITIAL_MEMBERS
    );
    assert_eq!(max(conv("agent_id")), id);
    let msg = |f: &str| prop(&doc, "PostMessage", f);
    assert_eq!(max_len(msg("text")), validate::MAX_TEXT_CHARS);
    assert_eq!(max_items(msg("attachments")), validate::MAX_ATTACHMENTS);
    assert_eq!(
        max_len(&msg("attachments")["items"]),
        upload_files::PUBLIC_ID_LEN
    );
    assert_eq!(
        max_len(prop(&doc, "EditMessage", "text")),
        validate::MAX_TEXT_CHARS
    );

    assert_eq!(
        max_len(prop(&doc, "LoginRequest", "password")),
        crate::auth::password::MAX_LEN
    );
    assert_eq!(
        prop(&doc, "SetupRequest", "password")["minLength"].as_u64(),
        Some(crate::auth::password::MIN_LEN as u64)
    );

    let inbound = |f: &str| prop(&doc, "InboundBody", f);
    assert_eq!(max_len(inbound("id")), crate::channels::MAX_ID_CHARS);
    assert_eq!(max_len(inbound("sender")), crate::channels::MAX_ID_CHARS);
    assert_eq!(max_len(inbound("text")), crate::channels::MAX_TEXT_CHARS);
    assert_eq!(max_len(inbound("name")), crate::channels::MAX_ID_CHARS);
    {
        use crate::bookmarks::normalise::{MAX_TAG_CHARS, MAX_TAGS};
        for schema in ["Draft", "Changes"] {
            let tags = prop(&doc, schema, "tags");
            assert_eq!(max_items(tags), MAX_TAGS, "{schema}");
            assert_eq!(max_len(&tags["items"]), MAX_TAG_CHARS, "{schema}");
        }
        assert_eq!(
            max_len(param(&doc, "/api/v1/bookmarks", "tag")),
            MAX_TAG_CHARS
        );
    }
    assert_eq!(
        max_len(prop(&doc, "DecideBody", "code")),
        crate::channels::pairing::MAX_TYPED_CODE_CHARS
    );

    let key = |f: &str| prop(&doc, "CreateKey", f);
    assert_eq!(
        max_len(key("name")),
        super::super::keys_routes::MAX_NAME_CHARS
    );
    assert_eq!(
        max(key("expires_at")),
        super::super::keys_routes::MAX_EXPIRES_AT as u64
    );
    assert_eq!(
        max(key("rate_limit_per_minute")),
        u64::from(super::super::keys_routes::MAX_RATE)
    );
    let all = crate::auth::permissions::RESOURCES.len() * crate::auth::permissions::ACTIONS.len();
    assert_eq!(max_items(key("permissions")), all);

    assert_eq!(
        max_len(prop(&doc, "NewMemoryBody", "text")),
        memory::MAX_CHARS
    );
    let memories = "/api/v1/agents/{id}/memories";
    assert_eq!(max_len(param(&doc, memories, "q")), memory::MAX_QUERY_CHARS);
    assert_eq!(
        max(param(&doc, memories, "limit")) as usize,
        super::super::memory_routes::MAX_LIMIT
    );

    let provider = |f: &str| prop(&doc, "PutProvider", f);
    use super::super::providers_routes as pr;
    assert_eq!(max_len(provider("base_url")), pr::MAX_BASE_URL_CHARS);
    assert_eq!(max_len(provider("api_key")), pr::MAX_API_KEY_CHARS);
    assert_eq!(max_items(provider("models")), pr::MAX_MODELS);
    assert_eq!(
        max_len(&provider("models")["items"]),
        model::MAX_MODEL_NAME_BYTES
    );
    assert_eq!(
        max_len(provider("embedding_model")),
        model::MAX_MODEL_NAME_BYTES
    );
    assert_eq!(
        max_len(prop(&doc, "DetectRequest", "base_url")),
        pr::MAX_BASE_URL_CHARS
    );

    assert_eq!(
        max_len(prop(&doc, "SecretValue", "value")),
        super::super::secrets_routes::MAX_VALUE_BYTES
    );
    let binding = |f: &str| prop(&doc, "BindingBody", f);
    assert_eq!(max_len(binding("host")), egress::MAX_BINDING_HOST_CHARS);
    assert_eq!(
        max_len(binding("path_prefix")),
        egress::MAX_BINDING_PATH_CHARS
    );
    assert_eq!(max_items(binding("slots")), egress::MAX_BINDING_SLOTS);
    assert_eq!(max_len(&binding("slots")["items"]), egress::MAX_SLOT_CHARS);

    let level = |f: &str| prop(&doc, "SetLevelBody", f);
    assert_eq!(max(level("level")), 4);
    assert_eq!(
        max_len(level("reason")),
        crate::trust::levels::MAX_REASON_CHARS
    );

    assert_eq!(
        max_items(prop(&doc, "CreateAgent", "tools")),
        model::KNOWN_TOOLS.len()
    );
    assert_eq!(max_len(prop(&doc, "Soul", "soul")), model::MAX_SOUL_BYTES);
    assert_eq!(
        max_len(prop(&doc, "FolderDraft", "name")),
        crate::bookmarks::normalise::MAX_FOLDER_NAME_CHARS
    );
    let bulk = &doc["paths"]["/api/v1/bookmarks/bulk"]["post"]["requestBody"]["content"]["application/json"]
        ["schema"];
    assert_eq!(max_items(resolve(&doc, bulk)), crate::bookmarks::MAX_BULK);
    let bookmarks = "/api/v1/bookmarks";
    assert_eq!(
        max_len(param(&doc, bookmarks, "q")),
        search::MAX_QUERY_CHARS
    );
    assert_eq!(
        max(param(&doc, bookmarks, "limit")) as usize,
        crate::bookmarks::MAX_PAGE
    );
    assert_eq!(
        max_len(param(&doc, "/api/v1/search", "q")),
        search::MAX_QUERY_CHARS
    );

    let audit = "/api/v1/audit";
    use super::super::audit_routes as ar;
    assert_eq!(max(param(&doc, audit, "limit")), u64::from(ar::MAX_LIMIT));
    assert_eq!(max_len(param(&doc, audit, "action")), ar::MAX_FILTER_CHARS);
    assert_eq!(max_len(param(&doc, audit, "actor")), ar::MAX_FILTER_CHARS);
    assert_eq!(
        max(param(&doc, "/api/v1/approvals", "limit")) as usize,
        super::super::approvals_routes::MAX_LIMIT
    );
}
