//! `file_read`, `file_list` (read-only), `file_write` and `file_delete`
//! (files domain), confined to the agent's workspace `agents/<id>/files/`.
//!
//! Owns path validation and the capability handle every access goes
//! through: paths are checked by hand first (clear errors for `..`,
//! absolute paths, NUL bytes, encoded traversal), then opened with cap-std
//! relative to the workspace directory, which refuses any path or symlink
//! that would leave it. It never opens a path with ambient authority except
//! the workspace root itself, and never reaches SOUL.md or settings (they
//! live beside `files/`, not in it).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cap_std::ambient_authority;
use cap_std::fs::{Dir, OpenOptions};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{ToolDef, ToolScope};
use crate::agents::runtime::Runtime;
use crate::trust::Domain;

const MAX_PATH_BYTES: usize = 512;
const MAX_LISTED: usize = 500;

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PathArgs {
    path: String,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListArgs {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    path: Option<String>,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WriteArgs {
    path: String,
    content: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    append: bool,
}

fn path_schema() -> Value {
    json!({"type":"object","properties":{
        "path":{"type":"string","description":"a path relative to your workspace"}},
        "required":["path"],"additionalProperties":false})
}

fn list_schema() -> Value {
    json!({"type":"object","properties":{
        "path":{"type":"string","description":"a directory relative to your workspace (default: its root)"}},
        "additionalProperties":false})
}

fn write_schema() -> Value {
    json!({"type":"object","properties":{
        "path":{"type":"string"},"content":{"type":"string"},"append":{"type":"boolean"}},
        "required":["path","content"],"additionalProperties":false})
}

pub(super) const READ: ToolDef = ToolDef {
    name: "file_read",
    domain: Domain::Files,
    read_only: true,
    taints: false,
    description: "Read a text file from your workspace.",
    schema: path_schema,
};

pub(super) const LIST: ToolDef = ToolDef {
    name: "file_list",
    domain: Domain::Files,
    read_only: true,
    taints: false,
    description: "List the files in a directory of your workspace.",
    schema: list_schema,
};

pub(super) const WRITE: ToolDef = ToolDef {
    name: "file_write",
    domain: Domain::Files,
    read_only: false,
    taints: false,
    description: "Write (or append to) a text file in your workspace; parent directories are created.",
    schema: write_schema,
};

pub(super) const DELETE: ToolDef = ToolDef {
    name: "file_delete",
    domain: Domain::Files,
    read_only: false,
    taints: false,
    description: "Delete a file from your workspace.",
    schema: path_schema,
};

/// A workspace-relative path in normal form (`a/b/c`, no `.` parts), or
/// the reason it is refused. An empty result is the workspace root.
pub(crate) fn normalise(raw: &str) -> Result<String, String> {
    if raw.len() > MAX_PATH_BYTES {
        return Err("the path is too long".into());
    }
    if raw.contains('\0') {
        return Err("a path may not contain NUL bytes".into());
    }
    if raw.contains('\\') {
        return Err("use / to separate directories".into());
    }
    if raw.starts_with('/') || raw.starts_with('~') {
        return Err("paths are relative to your workspace; absolute paths are refused".into());
    }
    let decoded = percent_encoding::percent_decode_str(raw).decode_utf8_lossy();
    if decoded != raw
        && (decoded.split(['/', '\\']).any(|p| p == "..")
            || decoded.contains(['\0', '\\'])
            || decoded.starts_with('/'))
    {
        return Err("an encoded path that leaves the workspace is refused".into());
    }
    let mut parts = Vec::new();
    for part in raw.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err("`..` may not appear in a path".into()),
            p if p.chars().any(char::is_control) => {
                return Err("a path may not contain control characters".into());
            }
            p => parts.push(p),
        }
    }
    Ok(parts.join("/"))
}

/// The resolved target an approval covers.
pub(super) fn target(path: &str) -> String {
    format!("file:{}", if path.is_empty() { "." } else { path })
}

pub(super) fn prepare_path(mut a: PathArgs) -> Result<(PathArgs, String), String> {
    a.path = normalise(&a.path)?;
    if a.path.is_empty() {
        return Err("name a file".into());
    }
    let t = target(&a.path);
    Ok((a, t))
}

pub(super) fn prepare_list(mut a: ListArgs) -> Result<(ListArgs, String), String> {
    let p = normalise(a.path.as_deref().unwrap_or(""))?;
    let t = target(&p);
    a.path = (!p.is_empty()).then_some(p);
    Ok((a, t))
}

pub(super) fn prepare_write(
    mut a: WriteArgs,
    max_bytes: usize,
) -> Result<(WriteArgs, String), String> {
    a.path = normalise(&a.path)?;
    if a.path.is_empty() {
        return Err("name a file".into());
    }
    if a.content.len() > max_bytes {
        return Err(format!(
            "the content is over the {max_bytes}-byte file limit"
        ));
    }
    let t = target(&a.path);
    Ok((a, t))
}

/// `agents/<id>/files/` in the data directory.
pub(crate) fn workspace_root(rt: &Runtime, agent: i64) -> PathBuf {
    crate::agents::workspace::agent_dir(&rt.data_dir, agent).join("files")
}

/// Creates the workspace if missing, private to the server's user (the
/// shell sandbox runs as that user too).
pub(super) fn ensure_workspace(root: &Path) -> Result<(), String> {
    let fail = |_| "the workspace is unavailable".to_string();
    std::fs::create_dir_all(root).map_err(fail)?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o700)).map_err(fail)
}

/// Opens the workspace (creating it, private) as a capability handle.
fn open_root(root: &Path) -> Result<Dir, String> {
    ensure_workspace(root)?;
    Dir::open_ambient_dir(root, ambient_authority())
        .map_err(|_| "the workspace is unavailable".to_string())
}

fn io_error(path: &str, e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => format!("{path}: no such file"),
        std::io::ErrorKind::PermissionDenied => {
            format!("{path}: refused (it would leave the workspace, or is not allowed)")
        }
        _ => format!("{path}: refused ({e})"),
    }
}

/// Runs blocking file work on the blocking pool with the workspace open.
async fn in_workspace<T, F>(rt: &Arc<Runtime>, agent: i64, f: F) -> Result<T, String>
where
    T: Send + 'static,
    F: FnOnce(&Dir) -> Result<T, String> + Send + 'static,
{
    let root = workspace_root(rt, agent);
    tokio::task::spawn_blocking(move || f(&open_root(&root)?))
        .await
        .map_err(|_| "the file task failed".to_string())?
}

pub(super) async fn read(
    rt: &Arc<Runtime>,
    scope: &ToolScope<'_>,
    a: PathArgs,
) -> Result<String, String> {
    let max = rt.tool_net.config.max_file_bytes;
    let redactor = rt.vault.redactor();
    in_workspace(rt, scope.agent.id, move |dir| {
        let file = dir.open(&a.path).map_err(|e| io_error(&a.path, &e))?;
        let meta = file.metadata().map_err(|e| io_error(&a.path, &e))?;
        if !meta.is_file() {
            return Err(format!("{}: not a file", a.path));
        }
        let mut bytes = Vec::new();
        file.take(max as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| io_error(&a.path, &e))?;
        if bytes.len() > max {
            return Err(format!("{}: over the {max}-byte file limit", a.path));
        }
        let text = String::from_utf8(bytes).map_err(|_| format!("{}: not UTF-8 text", a.path))?;
        Ok(redactor.redact(&text).0)
    })
    .await
}

pub(super) async fn list(
    rt: &Arc<Runtime>,
    scope: &ToolScope<'_>,
    a: ListArgs,
) -> Result<String, String> {
    in_workspace(rt, scope.agent.id, move |dir| {
        let shown = a.path.clone().unwrap_or_else(|| ".".into());
        let entries = match &a.path {
            None => dir.entries(),
            Some(p) => dir.read_dir(p),
        }
        .map_err(|e| io_error(&shown, &e))?;
        let mut lines = Vec::new();
        for entry in entries.take(MAX_LISTED + 1) {
            let entry = entry.map_err(|e| io_error(&shown, &e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let ft = entry.file_type().map_err(|e| io_error(&name, &e))?;
            let line = if ft.is_dir() {
                format!("{name}/")
            } else if ft.is_symlink() {
                format!("{name} (link)")
            } else {
                let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
                format!("{name} ({size} bytes)")
            };
            lines.push(line);
        }
        lines.sort();
        if lines.len() > MAX_LISTED {
            lines.truncate(MAX_LISTED);
            lines.push("[… more entries not shown]".into());
        }
        Ok(if lines.is_empty() {
            format!("{shown} is empty")
        } else {
            lines.join("\n")
        })
    })
    .await
}

pub(super) async fn write(
    rt: &Arc<Runtime>,
    scope: &ToolScope<'_>,
    a: WriteArgs,
) -> Result<String, String> {
    let max = rt.tool_net.config.max_file_bytes;
    let (content, hits) = rt.vault.redactor().redact(&a.content);
    if !hits.is_empty() {
        return Err("that content holds a secret, so it was not written".into());
    }
    in_workspace(rt, scope.agent.id, move |dir| {
        if let Some(parent) = Path::new(&a.path).parent()
            && !parent.as_os_str().is_empty()
        {
            dir.create_dir_all(parent)
                .map_err(|e| io_error(&a.path, &e))?;
        }
        let mut opts = OpenOptions::new();
        opts.write(true).create(true);
        if a.append {
            opts.append(true);
        } else {
            opts.truncate(true);
        }
        let mut file = dir
            .open_with(&a.path, &opts)
            .map_err(|e| io_error(&a.path, &e))?;
        let existing = file.metadata().map(|m| m.len()).unwrap_or(0);
        if a.append && existing as usize + content.len() > max {
            return Err(format!(
                "{}: appending would pass the {max}-byte limit",
                a.path
            ));
        }
        std::io::Write::write_all(&mut file, content.as_bytes())
            .map_err(|e| io_error(&a.path, &e))?;
        Ok(format!("wrote {} bytes to {}", content.len(), a.path))
    })
    .await
}

pub(super) async fn delete(
    rt: &Arc<Runtime>,
    scope: &ToolScope<'_>,
    a: PathArgs,
) -> Result<String, String> {
    in_workspace(rt, scope.agent.id, move |dir| {
        dir.remove_file(&a.path)
            .map_err(|e| io_error(&a.path, &e))?;
        Ok(format!("deleted {}", a.path))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_that_leave_the_workspace_are_refused() {
        for bad in [
            "../x",
            "a/../../x",
            "/etc/passwd",
            "~/x",
            "a\0b",
            "a\\..\\b",
            "%2e%2e/x",
            "a/%2E%2E/%2e%2e/x",
            "%2fetc/passwd",
        ] {
            assert!(normalise(bad).is_err(), "{bad:?} passed");
        }
        assert_eq!(normalise("./a//b/./c.txt").unwrap(), "a/b/c.txt");
        assert_eq!(normalise("").unwrap(), "");
        assert_eq!(normalise("100%.txt").unwrap(), "100%.txt");
    }
}
