//! `POST /api/v1/uploads` and `GET /api/v1/uploads/{id}`.
//!
//! Upload: one multipart field `file`, encrypted into a temporary file as
//! it arrives (never whole in memory while the client sends it), capped
//! while it streams, typed from its bytes, then renamed into place and
//! audited; refused, failed or abandoned part-way, the temporary file is
//! removed and no row exists. Download: only for the uploader or a member
//! of a conversation that has it attached (404 otherwise), streamed chunk
//! by chunk, with headers that keep a browser from ever running it. Never
//! uses the client's file name or Content-Type for anything but a display
//! name.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use utoipa::ToSchema;
use utoipa_axum::router::{UtoipaMethodRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use super::extract::{Authorized, Identity, Principal};
use super::{ApiError, AppState, record};
use crate::auth::now_secs;
use crate::chat::upload_files::{Staged, UploadFileError, UploadFiles, is_public_id, public_id};
use crate::chat::upload_slots::UploadSlot;
use crate::store::chat::AttachmentRow;
use crate::store::uploads::{NewUpload, Reader};
use uploadtype::{self as upload_type, classify, content_disposition, display_name};

/// Room for the multipart framing around the file: boundaries and part
/// headers (the file name may be long). Anything larger is not an upload.
const MULTIPART_OVERHEAD: usize = 64 * 1024;

/// The upload route with its own body limit.
///
/// The router sets a global `DefaultBodyLimit` sized for JSON. That layer
/// only records the limit in the request's extensions for the body
/// extractors to read, so a layer on this one route, being inner, replaces
/// it. The real cap comes from `config.limits.upload_bytes`, which lives in
/// the state while routes are declared without state (they also build the
/// OpenAPI document), so the route turns the default off and the handler
/// applies the configured cap itself, to the whole body and to the file.
pub(super) fn upload_route() -> UtoipaMethodRouter<AppState> {
    routes!(upload).layer(DefaultBodyLimit::disable())
}

/// The multipart form (documentation only; the handler streams it).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UploadForm {
    /// The file. Its type is read from its bytes, never from its name.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

fn too_large(cap: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!("uploads are limited to {cap} bytes"),
    )
}

fn unsupported(why: upload_type::Unsupported) -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_type",
        why.0,
    )
}

fn bad_form(message: impl Into<String>) -> ApiError {
    ApiError::bad_request(message)
}

/// Uploads one file (multipart field `file`).
#[utoipa::path(post, path = "/api/v1/uploads", tag = "uploads",
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 201, description = "Stored", body = AttachmentRow),
        (status = 400, description = "Not a multipart form with one non-empty `file` field"),
        (status = 413, description = "Larger than `limits.upload_bytes`"),
        (status = 415, description = "Type not on the allowlist (decided from the bytes)"),
        (status = 429, description = "Too many uploads in flight (2 per person or key, 4 in all); see Retry-After")))]
pub async fn upload(
    State(state): State<AppState>,
    Authorized(p): Authorized,
    req: Request,
) -> Result<Response, ApiError> {
    let mut sink = DiskSink::new(state.uploads.clone());
    let (name, _slot) = match read_form_into(&state, &p, req, &mut sink).await {
        Ok(v) => v,
        Err(e) => {
            // The temporary file is gone before the answer is sent.
            sink.abort().await;
            return Err(refused(&state, &p, e).await);
        }
    };
    let staged = sink.finish().await?;
    // Typing reads every byte (polyglot and structure checks), so the
    // plaintext is read back once, off the async workers, and dropped
    // right after; only the upload slots bound how many do this at once.
    let name_for_type = name.clone();
    let (staged, kind) = tokio::task::spawn_blocking(move || {
        let kind = staged
            .read_all()
            .map(|data| classify(&data, &name_for_type));
        (staged, kind)
    })
    .await
    .map_err(|e| ApiError::internal(&e))?;
    let kind = match kind.map_err(|e| ApiError::internal(&e))? {
        Ok(k) => k,
        Err(why) => {
            drop(staged);
            return Err(refused(&state, &p, unsupported(why)).await);
        }
    };
    let size = i64::try_from(staged.len()).map_err(|e| ApiError::internal(&e))?;
    let address = tokio::task::spawn_blocking(move || staged.commit())
        .await
        .map_err(|e| ApiError::internal(&e))?
        .map_err(|e| ApiError::internal(&e))?;
    let (uploader_user, uploader_key) = match &p.identity {
        Identity::User(u) => (Some(u.id), None),
        Identity::AgentKey(k) => (None, Some(k.row_id)),
    };
    let row = state
        .store
        .upload_insert(NewUpload {
            public_id: public_id(),
            file_name: address,
            size,
            mime: kind.mime().to_string(),
            name,
            uploader_user,
            uploader_key,
            created_at: now_secs(),
        })
        .await?;
    record(
        &state,
        audit::Draft::new(p.actor(), "chat.upload", audit::Outcome::Success)
            .target(format!("upload:{}", row.public_id))
            .ip(p.client.ip)
            .detail("size", row.size)
            .detail("mime", row.mime.clone()),
    )
    .await?;
    let body = AttachmentRow::new(row.public_id, row.name, row.mime, row.size);
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// Audits a refused upload (too large, or a type not allowed: both are
/// worth seeing in the log) and passes the error on. Malformed forms are
/// not audited.
async fn refused(state: &AppState, p: &Principal, e: ApiError) -> ApiError {
    if !matches!(
        e.status,
        StatusCode::PAYLOAD_TOO_LARGE | StatusCode::UNSUPPORTED_MEDIA_TYPE
    ) {
        return e;
    }
    let draft = audit::Draft::new(p.actor(), "chat.upload", audit::Outcome::Denied)
        .ip(p.client.ip)
        .detail("reason", e.code)
        .detail("message", e.message.clone());
    match record(state, draft).await {
        Ok(()) => e,
        Err(audit_failed) => audit_failed,
    }
}

/// Where the file's bytes go while the form is read.
pub(super) trait FileSink: Send {
    fn take(&mut self, chunk: Bytes) -> impl Future<Output = Result<(), ApiError>> + Send;
}

impl FileSink for Vec<u8> {
    async fn take(&mut self, chunk: Bytes) -> Result<(), ApiError> {
        self.extend_from_slice(&chunk);
        Ok(())
    }
}

/// Reads the form into memory (for callers that need the whole text, such
/// as knowledge documents): see [`read_form_into`]. Nothing is written
/// anywhere.
pub(super) async fn read_form(
    state: &AppState,
    p: &Principal,
    req: Request,
) -> Result<(String, Vec<u8>, UploadSlot), ApiError> {
    let mut data = Vec::new();
    let (name, slot) = read_form_into(state, p, req, &mut data).await?;
    Ok((name, data, slot))
}

/// Reads the form: exactly one field, `file`, at most
/// `limits.upload_bytes` long and not empty, its bytes passed to `sink` as
/// they arrive. Returns the sanitised display name and the upload slot the
/// caller holds until it is done with the bytes (taken before the body is
/// read; over the bound: 429). On an error the sink may hold part of the
/// file; the caller discards it.
pub(super) async fn read_form_into<S: FileSink>(
    state: &AppState,
    p: &Principal,
    req: Request,
    sink: &mut S,
) -> Result<(String, UploadSlot), ApiError> {
    let principal = match &p.identity {
        Identity::User(u) => format!("user:{}", u.id),
        Identity::AgentKey(k) => format!("key:{}", k.id),
    };
    let Some(slot) = state.uploads.slots.try_take(&principal) else {
        let mut e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_uploads",
            "too many uploads in flight; wait for one to finish",
        );
        e.retry_after = Some(1);
        return Err(e);
    };
    let cap = state.config.limits.upload_bytes;
    let body_cap = cap.saturating_add(MULTIPART_OVERHEAD);
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > body_cap as u64) {
        return Err(too_large(cap));
    }
    // The whole body is counted as it streams; past `body_cap` the stream
    // fails and the flag tells that failure apart from a malformed form.
    let over = Arc::new(AtomicBool::new(false));
    let (parts, body) = req.into_parts();
    let flag = Arc::clone(&over);
    let mut seen = 0usize;
    let counted = body.into_data_stream().map(move |chunk| {
        let chunk = chunk?;
        seen = seen.saturating_add(chunk.len());
        if seen > body_cap {
            flag.store(true, Ordering::Relaxed);
            return Err(axum::Error::new("request body too large"));
        }
        Ok(chunk)
    });
    let req = Request::from_parts(parts, Body::from_stream(counted));
    let mut form = Multipart::from_request(req, state)
        .await
        .map_err(|e| bad_form(e.body_text()))?;
    let form_err = |e: axum::extract::multipart::MultipartError| {
        if over.load(Ordering::Relaxed) || e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            too_large(cap)
        } else {
            bad_form(format!("malformed multipart body: {}", e.body_text()))
        }
    };
    let mut field = form
        .next_field()
        .await
        .map_err(form_err)?
        .ok_or_else(|| bad_form("the form has no `file` field"))?;
    if field.name() != Some("file") {
        return Err(bad_form("the form must have exactly one field, `file`"));
    }
    let name = display_name(field.file_name().unwrap_or_default());
    let mut taken = 0usize;
    while let Some(chunk) = field.chunk().await.map_err(form_err)? {
        taken = taken.saturating_add(chunk.len());
        if taken > cap {
            return Err(too_large(cap));
        }
        sink.take(chunk).await?;
    }
    drop(field);
    if form.next_field().await.map_err(form_err)?.is_some() {
        return Err(bad_form("the form must have exactly one field, `file`"));
    }
    if taken == 0 {
        return Err(bad_form("the file is empty"));
    }
    Ok((name, slot))
}

enum ToDisk {
    Data(Bytes),
    End,
}

/// Encrypts the file into a temporary file on a blocking thread, fed
/// through a short channel (so at most a few chunks wait in memory). The
/// writer starts with the first bytes, so a request refused before then
/// touches no disk; and the first [`upload_type::HEAD_LEN`] bytes are
/// checked before they are passed on, so a file whose head already rules
/// it out (an executable, an archive, any binary not on the allowlist) is
/// refused (415) before it reaches the disk or the rest of it is read. If the channel closes without [`ToDisk::End`] (an
/// error, or the request future dropped when the client goes away), the
/// writer drops its [`crate::chat::upload_files::Pending`] and the
/// temporary file with it.
struct DiskSink {
    files: UploadFiles,
    writer: Option<Writer>,
    /// The first bytes, until they are checked (then empty).
    head: Vec<u8>,
    head_checked: bool,
}

struct Writer {
    tx: tokio::sync::mpsc::Sender<ToDisk>,
    task: tokio::task::JoinHandle<Result<Staged, UploadFileError>>,
}

impl Writer {
    fn start(files: UploadFiles) -> Self {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<ToDisk>(4);
        let task = tokio::task::spawn_blocking(move || {
            let mut pending = files.begin()?;
            while let Some(msg) = rx.blocking_recv() {
                match msg {
                    ToDisk::Data(b) => pending.write(&b)?,
                    ToDisk::End => return pending.finish(),
                }
            }
            Err(UploadFileError::Abandoned)
        });
        Self { tx, task }
    }

    /// Closes the channel and waits for the writer: the sealed file after
    /// an `End`, else its error (its temporary file already removed).
    async fn join(self) -> Result<Staged, ApiError> {
        drop(self.tx);
        self.task
            .await
            .map_err(|e| ApiError::internal(&e))?
            .map_err(|e| ApiError::internal(&e))
    }
}

impl DiskSink {
    fn new(files: UploadFiles) -> Self {
        Self {
            files,
            writer: None,
            head: Vec::new(),
            head_checked: false,
        }
    }

    /// Ends the file and waits for it to be sealed and durable.
    async fn finish(self) -> Result<Staged, ApiError> {
        let Some(w) = self.writer else {
            return Err(ApiError::internal(&"an upload finished before any bytes"));
        };
        // A failed send means the writer stopped; `join` reports why.
        let _ = w.tx.send(ToDisk::End).await;
        w.join().await
    }

    /// Discards the file and waits until the temporary file is removed.
    async fn abort(self) {
        if let Some(w) = self.writer {
            let _ = w.join().await;
        }
    }
}

impl FileSink for DiskSink {
    async fn take(&mut self, chunk: Bytes) -> Result<(), ApiError> {
        if !self.head_checked {
            let want = upload_type::HEAD_LEN - self.head.len();
            self.head.extend_from_slice(&chunk[..want.min(chunk.len())]);
            if self.head.len() == upload_type::HEAD_LEN {
                self.head_checked = true;
                let head = std::mem::take(&mut self.head);
                if let Some(why) = upload_type::refused_by_head(&head) {
                    return Err(unsupported(why));
                }
            }
        }
        let w = self
            .writer
            .get_or_insert_with(|| Writer::start(self.files.clone()));
        if w.tx.send(ToDisk::Data(chunk)).await.is_ok() {
            return Ok(());
        }
        // The writer failed (say, the disk is full) and removed its file.
        match self.writer.take() {
            Some(w) => w.join().await.map(|_| ()),
            None => Err(ApiError::internal(&"the upload writer is gone")),
        }
        .and(Err(ApiError::internal(&"the upload writer stopped early")))
    }
}

/// Downloads an upload the caller may read.
#[utoipa::path(get, path = "/api/v1/uploads/{id}", tag = "uploads",
    params(("id" = String, Path, description = "Upload id")),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "The file, with its stored type (text as UTF-8); `attachment` unless a raster image",
            content(("image/png"), ("image/jpeg"), ("image/gif"), ("image/webp"), ("application/pdf"),
                ("text/plain"), ("text/markdown"), ("text/csv"), ("application/json"))),
        (status = 404, description = "No such upload, or not readable by the caller")))]
pub async fn download(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Authorized(p): Authorized,
) -> Result<Response, ApiError> {
    if !is_public_id(&id) {
        return Err(ApiError::not_found());
    }
    let reader = Reader {
        user: p.user().map(|u| u.id),
        key: match &p.identity {
            Identity::AgentKey(k) => Some(k.row_id),
            Identity::User(_) => None,
        },
        membership_user: p.membership_user(),
    };
    let row = state
        .store
        .upload_for_reader(id, reader)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let files = state.uploads.clone();
    let address = row.file_name.clone();
    let file = tokio::task::spawn_blocking(move || files.open(&address))
        .await
        .map_err(|e| ApiError::internal(&e))?
        .map_err(|e| {
            tracing::error!(upload = %row.public_id, error = %e, "cannot serve an upload file");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "the file could not be read",
            )
        })?;
    if i64::try_from(file.len()).ok() != Some(row.size) {
        return Err(ApiError::internal(&format!(
            "upload {} decrypted to an unexpected size",
            row.public_id
        )));
    }
    let mut resp = Body::from_stream(stream_file(file, row.public_id.clone())).into_response();
    let h = resp.headers_mut();
    // Set, so that a body cut short by a damaged chunk is seen as cut.
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(row.size));
    let header_value = |v: String| HeaderValue::from_str(&v).map_err(|e| ApiError::internal(&e));
    let inline = crate::store::chat::is_inline_mime(&row.mime);
    h.insert(
        header::CONTENT_TYPE,
        header_value(upload_type::content_type(&row.mime))?,
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        header_value(content_disposition(inline, &row.name))?,
    );
    // `nosniff` comes from the edge, which forces it on every response.
    // Even a file opened directly runs in an opaque, script-less origin.
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    Ok(resp)
}

/// The file's plaintext as a stream of chunks, decrypted on a blocking
/// thread a couple of chunks ahead of the client. A chunk that fails
/// authentication ends the stream with an error (the client sees a body
/// shorter than its Content-Length); nothing after it is sent.
fn stream_file(
    mut file: crate::chat::upload_files::Download,
    public_id: String,
) -> impl futures_util::Stream<Item = Result<Bytes, UploadFileError>> {
    let (tx, rx) = tokio::sync::mpsc::channel(2);
    tokio::task::spawn_blocking(move || {
        loop {
            let item = match file.next_chunk() {
                Ok(Some(c)) => Ok(Bytes::from(c)),
                Ok(None) => break,
                Err(e) => {
                    tracing::error!(upload = %public_id, error = %e, "an upload file is damaged part-way");
                    Err(e)
                }
            };
            let stop = item.is_err();
            // The client went away: stop reading.
            if tx.blocking_send(item).is_err() || stop {
                break;
            }
        }
    });
    futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn served_inline_exactly_when_the_upload_object_says_inline() {
        use uploadtype::Kind;
        let kinds = [
            Kind::Png,
            Kind::Jpeg,
            Kind::Gif,
            Kind::Webp,
            Kind::Pdf,
            Kind::Text,
            Kind::Markdown,
            Kind::Csv,
            Kind::Json,
        ];
        for k in kinds {
            assert_eq!(
                k.inline(),
                crate::store::chat::is_inline_mime(k.mime()),
                "{k:?}"
            );
        }
    }

    #[test]
    fn both_routes_are_documented_with_a_multipart_body() {
        let doc = super::super::openapi_document();
        let paths = &doc.paths.paths;
        let post = paths["/api/v1/uploads"].post.as_ref().unwrap();
        let body = serde_json::to_value(post.request_body.as_ref().unwrap()).unwrap();
        assert!(body["content"]["multipart/form-data"].is_object(), "{body}");
        assert!(paths["/api/v1/uploads/{id}"].get.is_some());
        for (m, p) in [("POST", "/api/v1/uploads"), ("GET", "/api/v1/uploads/{id}")] {
            assert!(crate::auth::permissions::rule_for(m, p).is_some());
        }
    }
}
