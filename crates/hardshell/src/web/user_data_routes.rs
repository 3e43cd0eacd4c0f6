//! `GET /api/v1/users/{id}/export`: a person's data as a tar archive
//! (docs/architecture.md, "Operations: backups and doctor"). The owner may export anyone; everyone else only
//! themself; agent keys never. Every export is audited before the bytes
//! leave. The archive's layout is `user_data`'s.

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::extract::Authorized;
use super::{ApiError, AppState, record};
use crate::auth::Role;
use crate::user_data::UserDataError;

pub(super) fn api_error(e: UserDataError) -> ApiError {
    match e {
        UserDataError::Store(e) => e.into(),
        other => ApiError::internal(&other),
    }
}

/// A tar archive of the user's messages, uploads, memories, bookmarks,
/// sessions and the audit entries about them.
#[utoipa::path(get, path = "/api/v1/users/{id}/export", tag = "users",
    params(("id" = i64, Path, description = "User id")),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "The archive (application/x-tar, attachment)", content_type = "application/x-tar"),
        (status = 403, description = "Not yourself and not the owner, or an agent key"),
        (status = 404, description = "No such user")))]
pub async fn export(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Authorized(p): Authorized,
) -> Result<Response, ApiError> {
    let caller = p.require_human()?;
    if caller.id != id && caller.role != Role::Owner {
        return Err(ApiError::forbidden(
            "only the owner exports other users' data",
        ));
    }
    let now = crate::auth::now_secs();
    let export = crate::user_data::export(&state.store, &state.uploads, id, now)
        .await
        .map_err(api_error)?;
    record(
        &state,
        audit::Draft::new(p.actor(), "user.export", audit::Outcome::Success)
            .target(format!("user:{id}"))
            .ip(p.client.ip)
            .detail("counts", export.counts.clone()),
    )
    .await?;
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/x-tar".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"hardshell-user-{id}-export.tar\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        export.tar,
    )
        .into_response())
}
