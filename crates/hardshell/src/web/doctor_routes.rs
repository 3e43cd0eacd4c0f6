//! `GET /api/v1/doctor`: the go-live checks for the web's Security page,
//! owner only. The same checks as `hardshell doctor` except the slow ones
//! (the owner-password list; the sandbox is reported as this server found
//! it at start, by the same probe). Reads only; never `--fix`.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use super::extract::Authorized;
use super::{ApiError, AppState};
use crate::doctor::{self, Depth, Finding};

#[derive(Serialize, ToSchema)]
pub struct DoctorReport {
    /// Most severe first.
    #[schema(value_type = Vec<Object>)]
    findings: Vec<Finding>,
    /// Critical findings not acknowledged in `[doctor] acknowledge`.
    blocking: usize,
}

/// The doctor's findings (id, severity, finding, fix, acknowledged).
#[utoipa::path(get, path = "/api/v1/doctor", tag = "system",
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "Findings, most severe first", body = DoctorReport),
        (status = 403, description = "Not the owner")))]
pub async fn findings(
    State(state): State<AppState>,
    Authorized(_p): Authorized,
) -> Result<Json<DoctorReport>, ApiError> {
    let sandbox = doctor::sandbox_finding(
        state
            .runtime
            .shell
            .sandbox()
            .map(|_| ())
            .map_err(str::to_string),
    );
    let perms = doctor::permissions(&state.data_dir, false);
    let ctx = doctor::Context {
        dd: &state.data_dir,
        config: &state.config,
        store: &state.store,
        audit: &state.audit,
        bind: state.launch.bind,
        unlock: state.launch.unlock,
        passphrase_file: state.launch.passphrase_file.clone(),
        now: crate::auth::now_secs(),
    };
    let mut extra = vec![perms, sandbox];
    extra.extend(doctor::channel_secrets_finding(
        state.config.channels.check_secrets(&state.vault),
    ));
    let findings = doctor::run(&ctx, Depth::Online, extra)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let blocking = findings.iter().filter(|f| f.blocks()).count();
    Ok(Json(DoctorReport { findings, blocking }))
}
