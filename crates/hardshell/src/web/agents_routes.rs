//! Agents and their SOUL.md.
//!
//! Everyone signed in may list agents (they need the handles to mention
//! them); the matrix lets only owners and admins change them. Field rules
//! live in `agents::model`, files in `agents::workspace`; these handlers
//! only translate and audit.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::{Authorized, Principal};
use super::{ApiError, AppState, record};
use crate::agents::model::{self, FieldError};
use crate::agents::workspace;
use crate::store::agents::{AgentFields, AgentReject, AgentRow, Budgets};

#[derive(Serialize, Deserialize, ToSchema, Clone, Copy, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BudgetsView {
    #[schema(minimum = 1, maximum = 10000000)]
    pub tokens_per_turn: i64,
    #[schema(minimum = 1, maximum = 1000000000)]
    pub tokens_per_conversation_day: i64,
    /// US dollars per UTC day; null for no cap.
    #[schema(minimum = 0, maximum = 1000000)]
    pub daily_spend_usd: Option<f64>,
}

/// Any subset of the budgets; `daily_spend_usd: null` removes the cap.
#[derive(Deserialize, ToSchema, Clone, Copy, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct BudgetsPatch {
    #[schema(minimum = 1, maximum = 10000000)]
    tokens_per_turn: Option<i64>,
    #[schema(minimum = 1, maximum = 1000000000)]
    tokens_per_conversation_day: Option<i64>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<f64>, minimum = 0, maximum = 1000000)]
    daily_spend_usd: Option<Option<f64>>,
}

/// Tells a present `null` (Some(None)) from an absent field (None).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<f64>>, D::Error> {
    Option::<f64>::deserialize(d).map(Some)
}

#[derive(Serialize, ToSchema)]
pub struct AgentView {
    id: i64,
    handle: String,
    name: String,
    description: String,
    model: String,
    tools: Vec<String>,
    memory: bool,
    knowledge: bool,
    context_tokens: i64,
    budgets: BudgetsView,
    disabled: bool,
    created_at: i64,
    updated_at: i64,
}

impl From<AgentRow> for AgentView {
    fn from(a: AgentRow) -> Self {
        AgentView {
            id: a.id,
            handle: a.handle,
            name: a.name,
            description: a.description,
            model: a.model,
            tools: a.tools,
            memory: a.memory,
            knowledge: a.knowledge,
            context_tokens: a.context_tokens,
            budgets: BudgetsView {
                tokens_per_turn: a.budgets.tokens_per_turn,
                tokens_per_conversation_day: a.budgets.tokens_per_conversation_day,
                daily_spend_usd: a.budgets.daily_spend_micros.map(model::micros_to_usd),
            },
            disabled: a.disabled,
            created_at: a.created_at,
            updated_at: a.updated_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct AgentList {
    agents: Vec<AgentView>,
}

/// A new agent; omitted fields take the defaults.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAgent {
    #[schema(min_length = 1, max_length = 32, pattern = "^[a-z0-9][a-z0-9_-]*$")]
    handle: String,
    #[schema(min_length = 1, max_length = 60)]
    name: String,
    /// `provider/model`
    #[schema(min_length = 3, max_length = 233)]
    model: String,
    /// At most 32 KiB (UTF-8 bytes), no NUL.
    #[schema(max_length = 32768)]
    soul: Option<String>,
    #[schema(max_length = 500)]
    description: Option<String>,
    /// Known tool names, at most as many as there are tools.
    #[schema(schema_with = tool_names)]
    tools: Option<Vec<String>>,
    memory: Option<bool>,
    knowledge: Option<bool>,
    #[schema(minimum = 1024, maximum = 2000000)]
    context_tokens: Option<i64>,
    budgets: Option<BudgetsView>,
}

/// Any subset of an agent's fields.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateAgent {
    #[schema(min_length = 1, max_length = 32, pattern = "^[a-z0-9][a-z0-9_-]*$")]
    handle: Option<String>,
    #[schema(min_length = 1, max_length = 60)]
    name: Option<String>,
    #[schema(min_length = 3, max_length = 233)]
    model: Option<String>,
    #[schema(max_length = 500)]
    description: Option<String>,
    /// Known tool names, at most as many as there are tools.
    #[schema(schema_with = tool_names)]
    tools: Option<Vec<String>>,
    memory: Option<bool>,
    knowledge: Option<bool>,
    #[schema(minimum = 1024, maximum = 2000000)]
    context_tokens: Option<i64>,
    budgets: Option<BudgetsPatch>,
    disabled: Option<bool>,
}

fn tool_names() -> utoipa::openapi::schema::Array {
    super::openapi::enum_list(model::KNOWN_TOOLS, true)
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Soul {
    /// At most 32 KiB (UTF-8 bytes), no NUL.
    #[schema(max_length = 32768)]
    soul: String,
}

fn invalid(e: FieldError) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.code(), e.to_string())
}

fn budgets_from(v: BudgetsView) -> Result<Budgets, ApiError> {
    let daily_spend_micros = match v.daily_spend_usd {
        Some(usd) => Some(model::usd_to_micros(usd).ok_or_else(|| invalid(FieldError::Budget))?),
        None => None,
    };
    Ok(Budgets {
        tokens_per_turn: v.tokens_per_turn,
        tokens_per_conversation_day: v.tokens_per_conversation_day,
        daily_spend_micros,
    })
}

fn taken() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "handle_taken",
        "another agent or a user already has this handle",
    )
}

/// The provider part of an already checked `provider/model`.
fn provider_of(model: &str) -> Option<String> {
    model::parse_model(model)
        .ok()
        .map(|m| m.provider.to_string())
}

/// Maps a store refusal to its API error.
fn rejected(r: AgentReject, model: &str) -> ApiError {
    match r {
        AgentReject::HandleTaken => taken(),
        AgentReject::UnknownProvider => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_provider",
            format!(
                "no provider named `{}` is configured; add it under Settings → Providers first",
                provider_of(model).unwrap_or_default()
            ),
        ),
    }
}

fn draft(p: &Principal, action: &str, id: i64) -> audit::Draft {
    audit::Draft::new(p.actor(), action, audit::Outcome::Success)
        .target(format!("agent:{id}"))
        .ip(p.client.ip)
}

async fn agent_or_404(state: &AppState, id: i64) -> Result<AgentRow, ApiError> {
    state
        .store
        .agent_get(id)
        .await?
        .ok_or_else(ApiError::not_found)
}

fn io_error(e: std::io::Error) -> ApiError {
    ApiError::internal(&format_args!("agent workspace I/O failed: {e}"))
}

/// Agents, by handle.
#[utoipa::path(get, path = "/api/v1/agents", tag = "agents",
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = AgentList)))]
pub async fn list(
    State(state): State<AppState>,
    Authorized(_p): Authorized,
) -> Result<Json<AgentList>, ApiError> {
    let agents = state.store.agent_list().await?;
    Ok(Json(AgentList {
        agents: agents.into_iter().map(AgentView::from).collect(),
    }))
}

/// Creates an agent and its workspace with SOUL.md.
#[utoipa::path(post, path = "/api/v1/agents", tag = "agents",
    security(("bearer" = []), ("cookie" = [])), request_body = CreateAgent,
    responses((status = 201, body = AgentView), (status = 409), (status = 422)))]
pub async fn create(
    State(state): State<AppState>,
    Authorized(p): Authorized,
    Json(body): Json<CreateAgent>,
) -> Result<(StatusCode, Json<AgentView>), ApiError> {
    model::check_sent(Some(&body.handle), Some(&body.name)).map_err(invalid)?;
    let fields = AgentFields {
        handle: body.handle.trim().to_string(),
        name: body.name.trim().to_string(),
        description: body.description.unwrap_or_default(),
        model: body.model,
        tools: body
            .tools
            .unwrap_or_else(|| model::KNOWN_TOOLS.iter().map(|t| t.to_string()).collect()),
        memory: body.memory.unwrap_or(true),
        knowledge: body.knowledge.unwrap_or(true),
        context_tokens: body.context_tokens.unwrap_or(8192),
        budgets: match body.budgets {
            Some(b) => budgets_from(b)?,
            None => model::default_budgets(),
        },
        disabled: false,
    };
    model::check_fields(&fields).map_err(invalid)?;
    let soul = body
        .soul
        .unwrap_or_else(|| workspace::soul_template(&fields.name));
    model::check_soul(&soul).map_err(invalid)?;
    let creator = p.user().map(|u| u.id);
    let model_name = fields.model.clone();
    let provider = provider_of(&model_name);
    let row = state
        .store
        .agent_create(fields, creator, provider)
        .await?
        .map_err(|r| rejected(r, &model_name))?;
    let dd = state.data_dir.clone();
    let id = row.id;
    let written = tokio::task::spawn_blocking(move || workspace::write_soul(&dd, id, &soul))
        .await
        .map_err(|_| ApiError::internal(&"agent workspace task failed"))?;
    if let Err(e) = written {
        // No half-made agent: without its workspace it is removed again.
        state.store.agent_delete(id).await?;
        return Err(io_error(e));
    }
    record(
        &state,
        draft(&p, "agent.created", id)
            .detail("handle", row.handle.clone())
            .detail("model", row.model.clone()),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(row.into())))
}

#[utoipa::path(get, path = "/api/v1/agents/{id}", tag = "agents",
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = AgentView), (status = 404)))]
pub async fn get(
    State(state): State<AppState>,
    Authorized(_p): Authorized,
    Path(id): Path<i64>,
) -> Result<Json<AgentView>, ApiError> {
    Ok(Json(agent_or_404(&state, id).await?.into()))
}

/// Changes any subset of an agent's fields.
#[utoipa::path(patch, path = "/api/v1/agents/{id}", tag = "agents",
    security(("bearer" = []), ("cookie" = [])), request_body = UpdateAgent,
    responses((status = 200, body = AgentView), (status = 404), (status = 409), (status = 422)))]
pub async fn update(
    State(state): State<AppState>,
    Authorized(p): Authorized,
    Path(id): Path<i64>,
    Json(body): Json<UpdateAgent>,
) -> Result<Json<AgentView>, ApiError> {
    let a = agent_or_404(&state, id).await?;
    // A changed model must name a configured provider; an unchanged one
    // may outlive its provider (the agent then explains why it cannot answer).
    let new_model = body.model.as_ref().filter(|m| **m != a.model).cloned();
    model::check_sent(body.handle.as_deref(), body.name.as_deref()).map_err(invalid)?;
    let fields = AgentFields {
        handle: body
            .handle
            .map(|h| h.trim().to_string())
            .unwrap_or(a.handle),
        name: body.name.map(|n| n.trim().to_string()).unwrap_or(a.name),
        description: body.description.unwrap_or(a.description),
        model: body.model.unwrap_or(a.model),
        tools: body.tools.unwrap_or(a.tools),
        memory: body.memory.unwrap_or(a.memory),
        knowledge: body.knowledge.unwrap_or(a.knowledge),
        context_tokens: body.context_tokens.unwrap_or(a.context_tokens),
        budgets: match body.budgets {
            Some(b) => budgets_from(BudgetsView {
                tokens_per_turn: b.tokens_per_turn.unwrap_or(a.budgets.tokens_per_turn),
                tokens_per_conversation_day: b
                    .tokens_per_conversation_day
                    .unwrap_or(a.budgets.tokens_per_conversation_day),
                daily_spend_usd: b
                    .daily_spend_usd
                    .unwrap_or(a.budgets.daily_spend_micros.map(model::micros_to_usd)),
            })?,
            None => a.budgets,
        },
        disabled: body.disabled.unwrap_or(a.disabled),
    };
    model::check_fields(&fields).map_err(invalid)?;
    let provider = new_model.as_deref().and_then(provider_of);
    let row = state
        .store
        .agent_update(id, fields, provider)
        .await?
        .map_err(|r| rejected(r, new_model.as_deref().unwrap_or_default()))?;
    if row.disabled {
        // A disabled agent stops talking now, not after its current turn.
        state.runtime.stop_agent(id);
    }
    record(
        &state,
        draft(&p, "agent.updated", id)
            .detail("handle", row.handle.clone())
            .detail("model", row.model.clone())
            .detail("disabled", row.disabled),
    )
    .await?;
    Ok(Json(row.into()))
}

#[utoipa::path(delete, path = "/api/v1/agents/{id}", tag = "agents",
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 204), (status = 404)))]
pub async fn delete(
    State(state): State<AppState>,
    Authorized(p): Authorized,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    let a = agent_or_404(&state, id).await?;
    state.runtime.stop_agent(id);
    if !state.store.agent_delete(id).await? {
        return Err(ApiError::not_found());
    }
    let dd = state.data_dir.clone();
    let removed = tokio::task::spawn_blocking(move || workspace::remove(&dd, id))
        .await
        .map_err(|_| ApiError::internal(&"agent workspace task failed"))?;
    if let Err(e) = removed {
        // The agent is gone; a leftover directory is only logged.
        tracing::warn!(%e, agent = id, "could not remove an agent workspace");
    }
    record(
        &state,
        draft(&p, "agent.deleted", id).detail("handle", a.handle),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/agents/{id}/soul", tag = "agents",
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = Soul), (status = 404)))]
pub async fn get_soul(
    State(state): State<AppState>,
    Authorized(_p): Authorized,
    Path(id): Path<i64>,
) -> Result<Json<Soul>, ApiError> {
    agent_or_404(&state, id).await?;
    let dd = state.data_dir.clone();
    let soul = tokio::task::spawn_blocking(move || workspace::read_soul(&dd, id))
        .await
        .map_err(|_| ApiError::internal(&"agent workspace task failed"))?
        .map_err(io_error)?;
    Ok(Json(Soul { soul }))
}

/// Replaces SOUL.md (atomically).
#[utoipa::path(put, path = "/api/v1/agents/{id}/soul", tag = "agents",
    security(("bearer" = []), ("cookie" = [])), request_body = Soul,
    responses((status = 200, body = Soul), (status = 404), (status = 422)))]
pub async fn put_soul(
    State(state): State<AppState>,
    Authorized(p): Authorized,
    Path(id): Path<i64>,
    Json(body): Json<Soul>,
) -> Result<Json<Soul>, ApiError> {
    agent_or_404(&state, id).await?;
    model::check_soul(&body.soul).map_err(invalid)?;
    let dd = state.data_dir.clone();
    let soul = body.soul.clone();
    tokio::task::spawn_blocking(move || workspace::write_soul(&dd, id, &soul))
        .await
        .map_err(|_| ApiError::internal(&"agent workspace task failed"))?
        .map_err(io_error)?;
    record(
        &state,
        draft(&p, "agent.soul_updated", id).detail("bytes", body.soul.len() as i64),
    )
    .await?;
    Ok(Json(body))
}

#[derive(Serialize, ToSchema)]
pub struct Stopped {
    stopped: usize,
}

/// Cancels the running agent turns of a conversation. Members who can
/// post may stop them; what was streamed so far is stored, marked stopped.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/stop", tag = "agents",
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = Stopped), (status = 404)))]
pub async fn stop(
    State(state): State<AppState>,
    Authorized(p): Authorized,
    Path(id): Path<i64>,
) -> Result<Json<Stopped>, ApiError> {
    let uid = super::chat_routes::writer(&state, &p).await?;
    // Non-members get 404, like every other conversation route.
    state.store.conversation_for_member(id, uid).await?;
    let stopped = state.runtime.stop_conversation(id);
    if stopped > 0 {
        record(
            &state,
            audit::Draft::new(p.actor(), "agent.stopped", audit::Outcome::Success)
                .target(format!("conversation:{id}"))
                .ip(p.client.ip)
                .detail("turns", stopped as u64),
        )
        .await?;
    }
    Ok(Json(Stopped { stopped }))
}
