//! Completes the generated OpenAPI document with what every route shares:
//! the JSON error body, and the statuses the layers in front of a handler
//! answer (host check, body limits, JSON content type, credentials, rate
//! limits). Handlers document only their own outcomes; this adds the rest
//! without overwriting a handler's more precise description.
//!
//! Never invents a status a layer cannot return: 415 only where the body is
//! JSON, 422 only where it is read into a typed schema, 400 for queries
//! only where there are query parameters and for paths only where an id is
//! an integer, 404 only where the path has a parameter, 401/403/429 only
//! where the route needs credentials.

use utoipa::openapi::path::Operation;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, SchemaType, Type};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, ResponseBuilder};

const ERROR_SCHEMA: &str = "Error";

/// The schema of a list of at most `items` strings of `min..=max`
/// characters each; `nullable` for an `Option<Vec<String>>` field. Lets a
/// field state its bounds from the constants the code enforces
/// (`#[schema(schema_with = ...)]`), since `max_length` takes only literals.
pub(crate) fn string_list(
    items: usize,
    min: usize,
    max: usize,
    nullable: bool,
) -> utoipa::openapi::schema::Array {
    ArrayBuilder::new()
        .schema_type(array_type(nullable))
        .max_items(Some(items))
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(min))
                .max_length(Some(max)),
        )
        .build()
}

/// `array`, or `array | null` when the field may be null.
fn array_type(nullable: bool) -> SchemaType {
    if nullable {
        SchemaType::from_iter([Type::Array, Type::Null])
    } else {
        SchemaType::new(Type::Array)
    }
}

/// The schema of a list of at most `values.len()` strings from `values`.
pub(crate) fn enum_list(values: &[&str], nullable: bool) -> utoipa::openapi::schema::Array {
    ArrayBuilder::new()
        .schema_type(array_type(nullable))
        .max_items(Some(values.len()))
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(values.iter().copied())),
        )
        .build()
}

/// Adds the shared error schema and statuses to every operation in `doc`.
pub fn complete(doc: &mut OpenApi) {
    let components = doc.components.get_or_insert_with(Default::default);
    components.schemas.insert(
        ERROR_SCHEMA.to_string(),
        ObjectBuilder::new()
            .description(Some(
                "Every error: a stable machine code and a message for people",
            ))
            .property(
                "error",
                ObjectBuilder::new()
                    .property("code", ObjectBuilder::new().schema_type(Type::String))
                    .property("message", ObjectBuilder::new().schema_type(Type::String))
                    .required("code")
                    .required("message"),
            )
            .required("error")
            .into(),
    );
    for item in doc.paths.paths.values_mut() {
        for op in [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ]
        .into_iter()
        .flatten()
        {
            complete_operation(op);
        }
    }
}

fn complete_operation(op: &mut Operation) {
    let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
    let (has_body, json_body) = match &op.request_body {
        Some(b) => (true, b.content.contains_key("application/json")),
        None => (false, false),
    };
    let typed_body = op
        .request_body
        .as_ref()
        .and_then(|b| b.content.get("application/json"))
        .and_then(|c| c.schema.as_ref())
        .is_some_and(|s| matches!(s, utoipa::openapi::RefOr::Ref(_)));
    let path_params: Vec<serde_json::Value> = op
        .parameters
        .iter()
        .flatten()
        .filter(|p| matches!(p.parameter_in, utoipa::openapi::path::ParameterIn::Path))
        .filter_map(|p| serde_json::to_value(p).ok())
        .collect();
    let integer_path = path_params.iter().any(|p| p["schema"]["type"] == "integer");
    let has_query = op.parameters.as_ref().is_some_and(|ps| {
        ps.iter()
            .any(|p| matches!(p.parameter_in, utoipa::openapi::path::ParameterIn::Query))
    });
    let mut add = |status: &str, text: &str| {
        if op.responses.responses.contains_key(status) {
            return;
        }
        let response = ResponseBuilder::new()
            .description(text)
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name(ERROR_SCHEMA)))
                    .build(),
            )
            .build();
        op.responses
            .responses
            .insert(status.to_string(), response.into());
    };
    add(
        "421",
        "The Host header names none of the server's configured names (`unknown_host`)",
    );
    add(
        "500",
        "An internal error; nothing was half-written (`internal`)",
    );
    if integer_path {
        add(
            "400",
            "A path id is not an integer (letters, a fraction, past 2^63-1) (`bad_request`)",
        );
    }
    if !path_params.is_empty() {
        add(
            "404",
            "The path names nothing: no such id (zero and negative ids included) or name (`not_found`)",
        );
    }
    if has_query {
        add(
            "400",
            "A query parameter is unknown, malformed or outside its documented limits (`bad_request`)",
        );
    }
    if has_body {
        add("400", "The body is malformed (not JSON, or cut short)");
        add(
            "413",
            "The body is over the server's limit (`limits.json_body_bytes` for JSON)",
        );
    }
    if json_body {
        add(
            "415",
            "The body is not sent as `Content-Type: application/json`",
        );
    }
    if typed_body {
        add(
            "422",
            "A field is unknown, missing, of the wrong type, or outside its documented limits (`invalid_body`, or the field's own code)",
        );
    }
    if secured {
        add(
            "401",
            "No credentials, or unknown or expired ones (`unauthorized`)",
        );
        add(
            "403",
            "Not allowed for this principal, a CSRF or Origin check failed, or a revoked or expired key (`key_revoked`, `key_expired`)",
        );
        add("429", "Rate limited (`rate_limited`); see `Retry-After`");
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_operation_documents_the_statuses_its_layers_can_return() {
        let doc = super::super::openapi_document();
        assert!(
            doc.components
                .as_ref()
                .is_some_and(|c| c.schemas.contains_key(super::ERROR_SCHEMA))
        );
        let mut checked = 0;
        for (path, item) in &doc.paths.paths {
            for op in [&item.get, &item.post, &item.put, &item.patch, &item.delete]
                .into_iter()
                .flatten()
            {
                let has = |s: &str| op.responses.responses.contains_key(s);
                assert!(has("421") && has("500"), "{path}");
                if op.security.as_ref().is_some_and(|s| !s.is_empty()) {
                    assert!(has("401") && has("403") && has("429"), "{path}");
                }
                if let Some(b) = &op.request_body {
                    assert!(has("400") && has("413"), "{path}");
                    if b.content.contains_key("application/json") {
                        assert!(has("415"), "{path}");
                    }
                    let typed = b
                        .content
                        .get("application/json")
                        .is_some_and(|c| matches!(c.schema, Some(utoipa::openapi::RefOr::Ref(_))));
                    if typed {
                        assert!(has("422"), "{path}");
                    }
                }
                let query =
                    op.parameters.iter().flatten().any(|p| {
                        matches!(p.parameter_in, utoipa::openapi::path::ParameterIn::Query)
                    });
                if query {
                    assert!(has("400"), "{path}");
                }
                checked += 1;
            }
        }
        assert!(checked > 100, "only {checked} operations");
    }

    #[test]
    fn request_bodies_state_their_limits() {
        let doc = serde_json::to_value(super::super::openapi_document()).unwrap_or_default();
        let agent = &doc["components"]["schemas"]["CreateAgent"]["properties"];
        assert_eq!(agent["handle"]["maxLength"], 32, "{agent}");
        assert_eq!(agent["name"]["maxLength"], 60);
        assert_eq!(agent["description"]["maxLength"], 500);
        assert_eq!(agent["context_tokens"]["maximum"], 2_000_000.0);
        let budgets = &doc["components"]["schemas"]["BudgetsView"]["properties"];
        assert_eq!(
            budgets["tokens_per_turn"]["maximum"],
            crate::agents::model::MAX_TOKENS_PER_TURN as f64
        );
        let user = &doc["components"]["schemas"]["CreateUser"]["properties"];
        assert_eq!(user["username"]["maxLength"], 64, "{user}");
        assert_eq!(user["password"]["minLength"], 12);
        let bookmark = &doc["components"]["schemas"]["Draft"]["properties"];
        assert_eq!(
            bookmark["url"]["maxLength"],
            crate::bookmarks::normalise::MAX_URL_BYTES,
            "{bookmark}"
        );
        assert_eq!(
            bookmark["title"]["maxLength"],
            crate::bookmarks::normalise::MAX_TITLE_CHARS
        );
        assert_eq!(
            bookmark["tags"]["maxItems"],
            crate::bookmarks::normalise::MAX_TAGS
        );
    }

    #[test]
    fn a_handlers_own_description_is_kept() {
        let doc = super::super::openapi_document();
        let item = &doc.paths.paths["/api/v1/approvals/{id}/approve"];
        let op = item.post.as_ref().expect("approve is documented");
        let forbidden = match &op.responses.responses["403"] {
            utoipa::openapi::RefOr::T(r) => r.description.clone(),
            utoipa::openapi::RefOr::Ref(_) => String::new(),
        };
        assert!(forbidden.contains("owner"), "{forbidden}");
    }
}

#[cfg(test)]
#[path = "openapi_limits_tests.rs"]
mod limits_tests;
