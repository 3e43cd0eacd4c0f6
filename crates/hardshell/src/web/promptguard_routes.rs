//! `GET /api/v1/promptguard/judge`: whether a model judge is configured,
//! its budget today and what it has said (counts only, never content).
//!
//! Thin: the numbers are `agents::judge`'s. Owner only: the counters tell
//! how often untrusted content looked hostile.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;
use super::extract::Authorized;

/// The judge's state since the server started.
#[derive(Serialize, ToSchema)]
pub struct JudgeView {
    /// False when `[promptguard] judge` is not set.
    configured: bool,
    /// `provider/model`.
    model: Option<String>,
    /// Tokens allowed per UTC day, and used today.
    daily_tokens: Option<u64>,
    used_today: Option<u64>,
    /// Calls made, answers served from the cache, and the outcomes.
    asked: u64,
    cached: u64,
    flagged: u64,
    clean: u64,
    /// Questions not asked because the day's budget was spent.
    over_budget: u64,
    /// Calls that left the rules' verdict alone.
    timeouts: u64,
    malformed: u64,
    failed: u64,
}

#[utoipa::path(get, path = "/api/v1/promptguard/judge", tag = "agents",
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "The judge's budget and counters", body = JudgeView),
        (status = 403, description = "Only the owner")))]
pub async fn judge(State(state): State<AppState>, Authorized(_p): Authorized) -> Json<JudgeView> {
    let view = match state.runtime.judge_stats() {
        Some(s) => JudgeView {
            configured: true,
            model: Some(s.model),
            daily_tokens: Some(s.daily_tokens),
            used_today: Some(s.used_today),
            asked: s.asked,
            cached: s.cached,
            flagged: s.flagged,
            clean: s.clean,
            over_budget: s.over_budget,
            timeouts: s.timeouts,
            malformed: s.malformed,
            failed: s.failed,
        },
        None => JudgeView {
            configured: false,
            model: None,
            daily_tokens: None,
            used_today: None,
            asked: 0,
            cached: 0,
            flagged: 0,
            clean: 0,
            over_budget: 0,
            timeouts: 0,
            malformed: 0,
            failed: 0,
        },
    };
    Json(view)
}
