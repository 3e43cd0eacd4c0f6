//! `GET /healthz` and the OpenAPI document.

use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
pub struct Health {
    /// Always `ok` when the server answers.
    status: &'static str,
}

/// Says only that the server is up: no version, no counts, no paths.
#[utoipa::path(get, path = "/healthz", tag = "system",
    responses((status = 200, description = "The server is up", body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// The OpenAPI 3 description of every route, generated from the router.
/// Built for each request, not kept: it is fetched rarely, and building it
/// costs about what cloning a kept copy did, without holding the whole
/// document in memory for the server's life or handing every request an
/// extension to carry it.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "system",
    responses((status = 200, description = "OpenAPI document", content_type = "application/json")))]
pub async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(super::openapi_document())
}
