//! `GET /api/v1/backups/status`: the age of the last good backup and the
//! schedule, for the web's Security page (owner only). Reads the audit
//! log's newest successful `backup.created`, as `doctor` does; never a
//! path's contents or a key.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use super::extract::Authorized;
use super::{ApiError, AppState};
use crate::backup::schedule::{Schedule, parse_ts};

#[derive(Serialize, ToSchema)]
pub struct BackupStatus {
    /// When the newest verified backup was made (RFC 3339), if any.
    last_backup_at: Option<String>,
    /// Its age in seconds.
    age_secs: Option<i64>,
    /// Whether the server makes backups on a schedule (`[backup] every`).
    scheduled: bool,
    every_secs: Option<u64>,
    keep: Option<usize>,
    /// When the next scheduled backup is due (Unix seconds).
    next_due_at: Option<i64>,
}

/// The last good backup's age and the schedule.
#[utoipa::path(get, path = "/api/v1/backups/status", tag = "system",
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "Backup age and schedule", body = BackupStatus),
        (status = 403, description = "Not the owner")))]
pub async fn status(
    State(state): State<AppState>,
    Authorized(_p): Authorized,
) -> Result<Json<BackupStatus>, ApiError> {
    let last = state.store.last_backup_ts().await?;
    let at = last.as_deref().and_then(parse_ts);
    let now = crate::auth::now_secs();
    let schedule = Schedule::from_config(&state.config.backup, &state.data_dir);
    let every = schedule.as_ref().map(|s| s.every.as_secs());
    let next_due_at = every.map(|e| {
        at.map_or(now, |t| {
            t.saturating_add(i64::try_from(e).unwrap_or(i64::MAX))
        })
    });
    Ok(Json(BackupStatus {
        last_backup_at: last,
        age_secs: at.map(|t| now.saturating_sub(t).max(0)),
        scheduled: schedule.is_some(),
        every_secs: every,
        keep: schedule.as_ref().map(|s| s.keep),
        next_due_at,
    }))
}
