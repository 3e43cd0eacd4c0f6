//! The HTTP edge: router, middleware and handlers.
//!
//! Handlers are thin: they extract, call domain or store methods, and map
//! errors to `ApiError`. No SQL and no business rules live here. Routes are
//! declared once, through utoipa, so the OpenAPI document cannot drift from
//! the router.

mod access_log;
mod agents_routes;
mod approvals_routes;
mod assets;
mod audit_routes;
mod auth_routes;
mod backup_routes;
pub mod bind;
mod bookmark_page_routes;
mod bookmarks_routes;
mod channels_routes;
mod channels_telegram_routes;
mod chat_routes;
pub mod client_ip;
mod doctor_routes;
mod edge;
pub mod error;
pub mod extract;
mod folders_routes;
pub mod headers;
mod health;
mod host_check;
mod keys_routes;
mod knowledge_routes;
mod memory_routes;
mod messages_routes;
mod metrics_routes;
pub(crate) mod openapi;
mod promptguard_routes;
mod providers_routes;
mod secrets_routes;
pub mod server;
mod sign_in_checks;
mod trust_routes;
mod uploads_routes;
mod user_data_routes;
mod users_routes;
mod ws;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use tower_http::catch_panic::CatchPanicLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::Pepper;
use crate::audit_log::AuditLog;
use crate::config::{Config, ProxyNet};
use crate::store::Store;

pub use error::ApiError;
use extract::SecuritySchemes;

/// Everything a handler may touch, passed explicitly, behind one shared
/// counter: axum clones the state several times per request (each boxed
/// route service, each `State` extractor), and with one `Arc` per field
/// every clone and drop bounced fourteen counters between the cores
/// (about 12 % of server CPU on a cached read, issue 25).
#[derive(Clone)]
pub struct AppState(Arc<SharedState>);

impl AppState {
    pub fn new(shared: SharedState) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = SharedState;

    fn deref(&self) -> &SharedState {
        &self.0
    }
}

/// The fields of [`AppState`].
pub struct SharedState {
    pub store: Store,
    pub audit: AuditLog,
    /// HMAC key for stored token and key hashes.
    pub pepper: Pepper,
    pub config: Arc<Config>,
    pub trusted_proxies: Arc<[ProxyNet]>,
    /// Origins allowed on cookie-authenticated writes and WebSocket upgrades.
    pub origins: Arc<[String]>,
    /// Login back-off, per-IP and per-key limits (identity layer).
    pub throttles: Arc<crate::auth::throttle::Throttles>,
    /// Live events for WebSocket clients.
    pub hub: crate::chat::hub::Hub,
    /// Encrypted upload files (the `uploads/` directory and its keys).
    pub uploads: crate::chat::upload_files::UploadFiles,
    /// The unlocked vault: provider keys and the leak guard's values.
    pub vault: Arc<crate::secrets::live::LiveVault>,
    /// The data directory (agent workspaces live under it).
    pub data_dir: Arc<crate::config::DataDir>,
    /// Agent turns: routing, running, stopping; provider registry.
    pub runtime: Arc<crate::agents::runtime::Runtime>,
    /// How the server was started (bind, vault unlock), for `doctor`.
    pub launch: Arc<crate::doctor::Launch>,
    /// Messaging channels and pairing.
    pub channels: Arc<crate::channels::Channels>,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Hardshell API",
        description = "Self-hosted, security-first home for AI agents."
    ),
    tags((name = "system", description = "Health and API description")),
    modifiers(&SecuritySchemes)
)]
struct ApiDoc;

/// Appends an audit event from a handler, failing the request closed when
/// the event cannot be written.
pub(crate) async fn record(state: &AppState, draft: audit::Draft) -> Result<(), ApiError> {
    Ok(state.audit.record(draft).await?)
}

/// Builds the application router with every hardening layer attached.
pub fn router(state: AppState) -> Router {
    let https = state.config.server.tls.is_some()
        || state
            .config
            .server
            .public_origin
            .as_deref()
            .is_some_and(|o| o.starts_with("https://"));
    let json_limit = state.config.limits.json_body_bytes;
    let edge = edge::Edge::new(edge::EdgeParts {
        hosts: host_check::AllowedHosts::from_origins(&state.origins),
        headers: headers::SecurityHeaders::new(headers::HeaderPolicy { https }),
    });
    let metrics_on = state.config.metrics.enabled;
    let (router, _) = api_routes().split_for_parts();
    let router = router
        .route("/", axum::routing::get(assets::app_page))
        .route("/setup", axum::routing::get(assets::setup_page))
        .route("/login", axum::routing::get(assets::login_page))
        .route("/assets/{file}", axum::routing::get(assets::file))
        .fallback(|| async { ApiError::not_found() });
    // Requests are counted only when metrics are on (fixed at start-up);
    // off, the layer would only pass each request through.
    let router = if metrics_on {
        router.layer(axum::middleware::from_fn(metrics_routes::track))
    } else {
        router
    };
    router
        .with_state(state)
        .layer(CatchPanicLayer::custom(headers::panic_response))
        .layer(DefaultBodyLimit::max(json_limit))
        .layer(axum::middleware::from_fn_with_state(edge, edge::edge))
}

/// Every documented route. Adding a route anywhere else would leave it out
/// of the OpenAPI document, so all routes are added here.
fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(health::healthz))
        .routes(routes!(health::openapi_json))
        .routes(routes!(metrics_routes::metrics))
        .routes(routes!(auth_routes::setup, auth_routes::setup_status))
        .routes(routes!(auth_routes::login))
        .routes(routes!(auth_routes::login_key))
        .routes(routes!(auth_routes::token))
        .routes(routes!(auth_routes::me))
        .routes(routes!(auth_routes::logout))
        .routes(routes!(auth_routes::sessions))
        .routes(routes!(auth_routes::revoke_session))
        .routes(routes!(auth_routes::revoke_all))
        .routes(routes!(users_routes::list, users_routes::create))
        .routes(routes!(users_routes::update, users_routes::delete))
        .routes(routes!(users_routes::identity_key))
        .routes(routes!(user_data_routes::export))
        .routes(routes!(keys_routes::list, keys_routes::create))
        .routes(routes!(keys_routes::revoke))
        .routes(routes!(keys_routes::delete))
        .routes(routes!(audit_routes::list))
        .routes(routes!(audit_routes::verify))
        .routes(routes!(backup_routes::status))
        .routes(routes!(doctor_routes::findings))
        .routes(routes!(chat_routes::list, chat_routes::create))
        .routes(routes!(
            chat_routes::get,
            chat_routes::update,
            chat_routes::delete
        ))
        .routes(routes!(chat_routes::add_member, chat_routes::remove_member))
        .routes(routes!(messages_routes::list, messages_routes::create))
        .routes(routes!(messages_routes::update, messages_routes::delete))
        .routes(routes!(messages_routes::search))
        .routes(uploads_routes::upload_route())
        .routes(routes!(uploads_routes::download))
        .routes(routes!(ws::connect))
        .routes(knowledge_routes::upload_route())
        .routes(routes!(knowledge_routes::delete))
        .routes(routes!(memory_routes::list, memory_routes::create))
        .routes(routes!(memory_routes::delete))
        .routes(routes!(agents_routes::list, agents_routes::create))
        .routes(routes!(
            agents_routes::get,
            agents_routes::update,
            agents_routes::delete
        ))
        .routes(routes!(agents_routes::get_soul, agents_routes::put_soul))
        .routes(routes!(providers_routes::list))
        .routes(routes!(
            providers_routes::get,
            providers_routes::put,
            providers_routes::delete
        ))
        .routes(routes!(providers_routes::models))
        .routes(routes!(providers_routes::detect))
        .routes(routes!(providers_routes::test))
        .routes(routes!(agents_routes::stop))
        .routes(routes!(approvals_routes::list))
        .routes(routes!(approvals_routes::get))
        .routes(routes!(approvals_routes::approve))
        .routes(routes!(approvals_routes::deny))
        .routes(routes!(secrets_routes::list))
        .routes(routes!(
            secrets_routes::get,
            secrets_routes::put,
            secrets_routes::delete
        ))
        .routes(routes!(secrets_routes::bind, secrets_routes::unbind))
        .routes(routes!(secrets_routes::rules))
        .routes(routes!(secrets_routes::revoke_rule))
        .routes(routes!(trust_routes::get))
        .routes(routes!(trust_routes::set))
        .routes(routes!(trust_routes::history))
        .routes(routes!(trust_routes::rollback))
        .routes(routes!(promptguard_routes::judge))
        .merge(bookmark_routes())
        .merge(channel_routes())
}

/// Channels and pairing (issue 19).
fn channel_routes() -> OpenApiRouter<AppState> {
    use channels_routes as c;
    OpenApiRouter::new()
        .routes(routes!(c::status))
        .routes(routes!(c::inbound))
        .routes(routes!(channels_telegram_routes::webhook))
        .routes(routes!(c::overview))
        .routes(routes!(c::invite))
        .routes(routes!(c::approve))
        .routes(routes!(c::deny))
        .routes(routes!(c::revoke))
}

/// The bookmark and folder routes (issue 20), kept together so other
/// route groups can be added above without touching them.
fn bookmark_routes() -> OpenApiRouter<AppState> {
    use bookmarks_routes as b;
    OpenApiRouter::new()
        .routes(routes!(b::list, b::create))
        .routes(routes!(b::get, b::update, b::delete))
        .routes(routes!(b::star, b::unstar))
        .routes(routes!(b::archive, b::unarchive))
        .routes(routes!(b::tags))
        .routes(routes!(b::stats))
        .routes(b::bulk_route())
        .routes(b::import_route())
        .routes(routes!(b::export))
        .routes(routes!(bookmark_page_routes::fetch))
        .routes(routes!(bookmark_page_routes::stored))
        .routes(routes!(bookmark_page_routes::to_knowledge))
        .routes(routes!(folders_routes::open_session))
        .routes(routes!(folders_routes::close_session))
        .routes(routes!(folders_routes::list, folders_routes::create))
        .routes(routes!(folders_routes::update, folders_routes::delete))
}

/// The generated OpenAPI document (what `openapi.json` serves).
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    let mut doc = api_routes().split_for_parts().1;
    openapi::complete(&mut doc);
    doc
}
