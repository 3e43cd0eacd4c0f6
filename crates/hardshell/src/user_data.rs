//! A person's data (docs/architecture.md, "Operations: backups and doctor", GDPR): the export archive and erasure.
//!
//! Owns the archive's layout (a tar of JSON files plus each upload's
//! decrypted bytes under `uploads/<public id>`) and the order of an erasure
//! (the rows in one transaction, then the files no row names). Who may ask,
//! and the audit entries, belong to the callers (the API and the CLI).
//! Must never put a credential, token hash or another person's message in an
//! export, and never touch the audit log.

use serde_json::{Value, json};

use crate::chat::upload_files::UploadFiles;
use crate::store::user_data::{Erased, UserData};
use crate::store::{Store, StoreError};

/// The `format` field of an export's `manifest.json`.
pub const FORMAT: &str = "hardshell-user-export-v1";

#[derive(Debug, thiserror::Error)]
pub enum UserDataError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("writing the export archive failed: {0}")]
    Archive(#[from] std::io::Error),
    #[error("encoding the export failed: {0}")]
    Json(#[from] serde_json::Error),
}

/// A finished export: the tar bytes and what it holds.
pub struct Export {
    pub tar: Vec<u8>,
    pub username: String,
    pub counts: Value,
}

fn add(tar: &mut tar::Builder<Vec<u8>>, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let mut h = tar::Header::new_gnu();
    h.set_size(bytes.len() as u64);
    h.set_mode(0o600);
    h.set_mtime(0);
    h.set_entry_type(tar::EntryType::Regular);
    tar.append_data(&mut h, name, bytes)
}

fn pretty(v: &impl serde::Serialize) -> Result<Vec<u8>, serde_json::Error> {
    serde_json::to_vec_pretty(v)
}

/// Builds user `id`'s export archive.
pub async fn export(
    store: &Store,
    uploads: &UploadFiles,
    id: i64,
    now: i64,
) -> Result<Export, UserDataError> {
    let UserData {
        user,
        messages,
        uploads: upload_rows,
        memories,
        bookmarks,
        bookmark_folders,
        sessions,
        audit,
    } = store.user_data(id).await?;
    let counts = json!({
        "messages": messages.len(),
        "uploads": upload_rows.len(),
        "memories": memories.len(),
        "bookmarks": bookmarks.len(),
        "sessions": sessions.len(),
        "audit_entries": audit.len(),
    });
    let mut tar = tar::Builder::new(Vec::new());
    add(
        &mut tar,
        "manifest.json",
        &pretty(&json!({
            "format": FORMAT,
            "exported_at": now,
            "user": {"id": user.id, "username": user.username},
            "counts": counts,
        }))?,
    )?;
    add(&mut tar, "user.json", &pretty(&user)?)?;
    add(&mut tar, "messages.json", &pretty(&messages)?)?;
    add(&mut tar, "memories.json", &pretty(&memories)?)?;
    add(
        &mut tar,
        "bookmarks.json",
        &pretty(&json!({"folders": bookmark_folders, "bookmarks": bookmarks}))?,
    )?;
    add(&mut tar, "sessions.json", &pretty(&sessions)?)?;
    let mut lines = Vec::new();
    for e in &audit {
        serde_json::to_writer(&mut lines, e)?;
        lines.push(b'\n');
    }
    add(&mut tar, "audit.jsonl", &lines)?;
    let mut listed = Vec::with_capacity(upload_rows.len());
    for mut row in upload_rows {
        let (Some(public_id), Some(address)) = (
            row.get("public_id")
                .and_then(Value::as_str)
                .map(str::to_owned),
            row.get("file_name")
                .and_then(Value::as_str)
                .map(str::to_owned),
        ) else {
            continue;
        };
        // Only ever our own random ids become archive paths.
        if !crate::chat::upload_files::is_public_id(&public_id) {
            continue;
        }
        // A file that is gone or fails authentication is listed as such;
        // it must not cost the person the rest of their export.
        let path = match uploads.load(&address) {
            Ok(bytes) => {
                add(&mut tar, &format!("uploads/{public_id}"), &bytes)?;
                Value::from(format!("uploads/{public_id}"))
            }
            Err(e) => {
                tracing::warn!(error = %e, "an upload could not be read for an export");
                Value::Null
            }
        };
        if let Some(obj) = row.as_object_mut() {
            obj.remove("file_name");
            obj.insert("path".into(), path);
        }
        listed.push(row);
    }
    add(&mut tar, "uploads.json", &pretty(&listed)?)?;
    let tar = tar.into_inner()?;
    Ok(Export {
        tar,
        username: user.username,
        counts,
    })
}

/// Deletes user `id` and erases their content (see
/// `Store::user_erase`), then removes the upload files no row names.
/// A file that cannot be removed is logged; the rows are already gone.
pub async fn erase(
    store: &Store,
    uploads: &UploadFiles,
    id: i64,
) -> Result<(crate::store::users::UserRow, Erased), UserDataError> {
    let (user, erased) = store.user_erase(id).await?;
    for file in &erased.orphan_files {
        if let Err(e) = uploads.remove(file) {
            tracing::error!(error = %e, "could not remove an erased user's upload file");
        }
    }
    Ok((user, erased))
}

/// The audit detail of an erasure: counts only, never content.
pub fn erase_details(erased: &Erased) -> Value {
    serde_json::to_value(erased).unwrap_or(Value::Null)
}
