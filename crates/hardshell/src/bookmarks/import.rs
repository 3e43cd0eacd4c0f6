//! Imports: Netscape bookmark HTML (`netscape.rs`), our JSON
//! (`export::JsonDoc`), ClawChives JSON, and our CSV.
//!
//! Parsing only produces plain items; each is then validated on its own by
//! the same rules as the API (`super::validate`), so a bad item fails alone
//! and hostile values are refused or kept as inert text. Never trusts a
//! file's folder ids: folders are matched by name path within the user's
//! own tree.
//!
//! ClawChives: its settings page exports `JSON.stringify(bookmarks)`, an
//! array of `{id, url, title, description, favicon, tags, folderId,
//! starred, archived, createdAt, updatedAt}` with ISO dates (read from
//! ClawStackStudios/ClawChives, `ImportExportSettings.tsx`). That array has
//! no folder names, so we also accept (our assumption, not seen in its
//! code) `{"bookmarks": [...], "folders": [{id, name, parentId, color}]}`
//! and rebuild the nesting from `parentId`.

use std::collections::HashMap;

use serde::Deserialize;

use super::export::{self, CSV_PATH_SEP, JsonDoc, JsonFolder, unneutralise};
use super::normalise::{self, FieldError};
use crate::store::bookmarks::{FolderRef, ItemError, NewBookmark};

/// Which format a file is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Netscape,
    Json,
    ClawChives,
    Csv,
}

impl Format {
    pub fn parse(s: &str) -> Option<Format> {
        match s {
            "netscape" | "html" => Some(Format::Netscape),
            "json" => Some(Format::Json),
            "clawchives" => Some(Format::ClawChives),
            "csv" => Some(Format::Csv),
            _ => None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("the file is not valid {0}: {1}")]
    Malformed(&'static str, String),
    #[error("the file is not a {} export (format {}, version {})", export::JSON_FORMAT, .0, .1)]
    WrongFormat(String, u32),
    #[error("the file holds more than {} bookmarks", super::MAX_IMPORT)]
    TooMany,
}

/// One bookmark as read from a file, before validation.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ImportItem {
    pub url: String,
    pub title: Option<String>,
    pub description: Option<String>,
    pub tags: Vec<String>,
    /// Folder names from the top level down, each with a colour.
    pub folder: Vec<(String, Option<String>)>,
    pub starred: bool,
    pub archived: bool,
    pub color: Option<String>,
    pub created_at: Option<i64>,
    pub updated_at: Option<i64>,
}

/// A parsed file: every folder path (in document order, so empty folders
/// survive) and every bookmark.
#[derive(Clone, Debug, Default)]
pub struct Parsed {
    pub folders: Vec<Vec<(String, Option<String>)>>,
    pub items: Vec<ImportItem>,
}

pub fn parse(format: Format, text: &str) -> Result<Parsed, ImportError> {
    let parsed = match format {
        Format::Netscape => super::netscape::parse(text),
        Format::Json => ours(text)?,
        Format::ClawChives => clawchives(text)?,
        Format::Csv => csv(text)?,
    };
    if parsed.items.len() > super::MAX_IMPORT {
        return Err(ImportError::TooMany);
    }
    Ok(parsed)
}

/// Validates one item into what the store inserts.
pub fn to_new(item: &ImportItem, now: i64) -> Result<NewBookmark, FieldError> {
    let u = normalise::url(&item.url)?;
    let mut folder = Vec::with_capacity(item.folder.len());
    for (name, color) in &item.folder {
        let c = color
            .as_deref()
            .map(normalise::color)
            .transpose()
            .ok()
            .flatten();
        folder.push((normalise::folder_name(name)?, c));
    }
    let created_at = item.created_at.unwrap_or(now);
    Ok(NewBookmark {
        title: normalise::title(item.title.as_deref(), &u.url)?,
        description: normalise::description(item.description.as_deref())?,
        tags: normalise::tags(&item.tags)?,
        folder: if folder.is_empty() {
            FolderRef::Root
        } else {
            FolderRef::Path(folder)
        },
        starred: item.starred,
        archived: item.archived,
        color: item.color.as_deref().map(normalise::color).transpose()?,
        created_at,
        updated_at: item.updated_at.unwrap_or(created_at),
        url: u.url,
        norm_url: u.norm,
    })
}

/// Every item validated, failures kept in place with their index.
pub fn validate_all(items: &[ImportItem], now: i64) -> Vec<Result<NewBookmark, ItemError>> {
    items
        .iter()
        .enumerate()
        .map(|(index, i)| {
            to_new(i, now).map_err(|e| ItemError {
                index,
                url: i.url.chars().take(300).collect(),
                reason: e.to_string(),
            })
        })
        .collect()
}

/// Folder paths that `to_new` would accept, for making empty folders.
pub fn valid_folders(
    folders: &[Vec<(String, Option<String>)>],
) -> Vec<Vec<(String, Option<String>)>> {
    folders
        .iter()
        .filter_map(|p| {
            p.iter()
                .map(|(n, c)| {
                    let c = c
                        .as_deref()
                        .map(normalise::color)
                        .transpose()
                        .ok()
                        .flatten();
                    normalise::folder_name(n).ok().map(|n| (n, c))
                })
                .collect::<Option<Vec<_>>>()
        })
        .collect()
}

fn ours(text: &str) -> Result<Parsed, ImportError> {
    let doc: JsonDoc =
        serde_json::from_str(text).map_err(|e| ImportError::Malformed("JSON", e.to_string()))?;
    if doc.format != export::JSON_FORMAT || doc.version != export::JSON_VERSION {
        return Err(ImportError::WrongFormat(doc.format, doc.version));
    }
    let mut out = Parsed::default();
    // Folders first, depth first, so that ids come out in the export's order.
    fn folders(f: &[JsonFolder], path: &[(String, Option<String>)], out: &mut Parsed) {
        for folder in f {
            let mut p = path.to_vec();
            p.push((folder.name.clone(), folder.color.clone()));
            out.folders.push(p.clone());
            folders(&folder.folders, &p, out);
        }
    }
    fn marks(f: &[JsonFolder], path: &[(String, Option<String>)], out: &mut Parsed) {
        for folder in f {
            let mut p = path.to_vec();
            p.push((folder.name.clone(), folder.color.clone()));
            for b in &folder.bookmarks {
                out.items.push(item(b, &p));
            }
            marks(&folder.folders, &p, out);
        }
    }
    fn item(b: &export::JsonBookmark, path: &[(String, Option<String>)]) -> ImportItem {
        ImportItem {
            url: b.url.clone(),
            title: Some(b.title.clone()),
            description: Some(b.description.clone()),
            tags: b.tags.clone(),
            folder: path.to_vec(),
            starred: b.starred,
            archived: b.archived,
            color: b.color.clone(),
            created_at: Some(b.created_at),
            updated_at: Some(b.updated_at),
        }
    }
    folders(&doc.folders, &[], &mut out);
    for b in &doc.bookmarks {
        out.items.push(item(b, &[]));
    }
    marks(&doc.folders, &[], &mut out);
    Ok(out)
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ClawFile {
    Bare(Vec<ClawBookmark>),
    Wrapped {
        bookmarks: Vec<ClawBookmark>,
        #[serde(default)]
        folders: Vec<ClawFolder>,
    },
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ClawBookmark {
    #[serde(default)]
    url: String,
    title: Option<String>,
    description: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    folder_id: Option<serde_json::Value>,
    #[serde(default)]
    starred: bool,
    #[serde(default)]
    archived: bool,
    color: Option<String>,
    created_at: Option<String>,
    updated_at: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ClawFolder {
    id: serde_json::Value,
    name: String,
    parent_id: Option<serde_json::Value>,
    color: Option<String>,
}

/// An id as a string, whether the file wrote it as a string or a number.
fn id_of(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn iso(s: Option<&str>) -> Option<i64> {
    time::OffsetDateTime::parse(s?, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(time::OffsetDateTime::unix_timestamp)
}

fn clawchives(text: &str) -> Result<Parsed, ImportError> {
    let file: ClawFile = serde_json::from_str(text)
        .map_err(|e| ImportError::Malformed("ClawChives JSON", e.to_string()))?;
    let (bookmarks, folders) = match file {
        ClawFile::Bare(b) => (b, Vec::new()),
        ClawFile::Wrapped { bookmarks, folders } => (bookmarks, folders),
    };
    let by_id: HashMap<String, &ClawFolder> = folders
        .iter()
        .filter_map(|f| id_of(&f.id).map(|id| (id, f)))
        .collect();
    // The path of a folder id, following parents at most 64 deep (a cycle
    // in the file ends there).
    let path_of = |id: &str| -> Vec<(String, Option<String>)> {
        let mut path = Vec::new();
        let mut at = by_id.get(id).copied();
        while let Some(f) = at {
            if path.len() >= 64 {
                break;
            }
            path.push((f.name.clone(), f.color.clone()));
            at = f
                .parent_id
                .as_ref()
                .and_then(id_of)
                .and_then(|p| by_id.get(&p).copied());
        }
        path.reverse();
        path
    };
    let mut out = Parsed::default();
    for f in &folders {
        if let Some(id) = id_of(&f.id) {
            out.folders.push(path_of(&id));
        }
    }
    for b in bookmarks {
        let folder = b
            .folder_id
            .as_ref()
            .and_then(id_of)
            .map(|id| path_of(&id))
            .unwrap_or_default();
        out.items.push(ImportItem {
            created_at: iso(b.created_at.as_deref()),
            updated_at: iso(b.updated_at.as_deref()),
            url: b.url,
            title: b.title,
            description: b.description,
            tags: b.tags,
            folder,
            starred: b.starred,
            archived: b.archived,
            color: b.color,
        });
    }
    Ok(out)
}

fn csv(text: &str) -> Result<Parsed, ImportError> {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(text.as_bytes());
    let bad = |e: csv::Error| ImportError::Malformed("CSV", e.to_string());
    let headers = r.headers().map_err(bad)?.clone();
    let col = |name: &str| headers.iter().position(|h| h == name);
    let url_col =
        col("url").ok_or_else(|| ImportError::Malformed("CSV", "no `url` column".into()))?;
    let mut out = Parsed::default();
    for rec in r.records() {
        let rec = rec.map_err(bad)?;
        let get = |name: &str| {
            col(name)
                .and_then(|i| rec.get(i))
                .map(|v| unneutralise(v).to_string())
        };
        let folder = get("folder")
            .filter(|f| !f.is_empty())
            .map(|f| {
                f.split(CSV_PATH_SEP)
                    .map(|n| (n.to_string(), None))
                    .collect()
            })
            .unwrap_or_default();
        out.items.push(ImportItem {
            url: rec
                .get(url_col)
                .map(|v| unneutralise(v).to_string())
                .unwrap_or_default(),
            title: get("title"),
            description: get("description"),
            tags: get("tags")
                .map(|t| t.split_whitespace().map(str::to_string).collect())
                .unwrap_or_default(),
            folder,
            starred: get("starred").is_some_and(|v| v == "true"),
            archived: get("archived").is_some_and(|v| v == "true"),
            color: get("color").filter(|c| !c.is_empty()),
            created_at: get("created_at").and_then(|v| v.parse().ok()),
            updated_at: get("updated_at").and_then(|v| v.parse().ok()),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clawchives_bare_arrays_and_folder_trees_are_read() {
        let bare = r#"[{"id":"1","url":"https://a.example/","title":"A","description":"",
            "favicon":"","tags":["x"],"folderId":null,"starred":true,"archived":false,
            "createdAt":"2024-01-02T03:04:05.000Z","updatedAt":"2024-01-02T03:04:05.000Z"}]"#;
        let p = parse(Format::ClawChives, bare).unwrap();
        assert_eq!(p.items.len(), 1);
        assert!(p.items[0].starred);
        assert_eq!(p.items[0].created_at, Some(1_704_164_645));
        let wrapped = r##"{"bookmarks":[{"url":"https://b.example/","folderId":"c"}],
            "folders":[{"id":"p","name":"Parent","parentId":null},
                       {"id":"c","name":"Child","parentId":"p","color":"#00ff00"}]}"##;
        let p = parse(Format::ClawChives, wrapped).unwrap();
        let names: Vec<&str> = p.items[0].folder.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["Parent", "Child"]);
        assert_eq!(p.folders.len(), 2);
        // A parent cycle in the file stops instead of looping.
        let cyc = r#"{"bookmarks":[{"url":"https://c.example/","folderId":1}],
            "folders":[{"id":1,"name":"A","parentId":2},{"id":2,"name":"B","parentId":1}]}"#;
        let p = parse(Format::ClawChives, cyc).unwrap();
        assert_eq!(p.items[0].folder.len(), 64);
        assert!(parse(Format::ClawChives, "{}").is_err());
    }

    #[test]
    fn our_json_refuses_other_formats_and_unknown_fields() {
        let other = r#"{"format":"x","version":1,"exported_at":0,"folders":[],"bookmarks":[]}"#;
        assert!(matches!(
            parse(Format::Json, other),
            Err(ImportError::WrongFormat(_, _))
        ));
        let extra = r#"{"format":"hardshell-bookmarks","version":1,"exported_at":0,
            "folders":[],"bookmarks":[],"evil":1}"#;
        assert!(matches!(
            parse(Format::Json, extra),
            Err(ImportError::Malformed(_, _))
        ));
    }

    #[test]
    fn items_validate_alone() {
        let items = vec![
            ImportItem {
                url: "javascript:alert(1)".into(),
                ..ImportItem::default()
            },
            ImportItem {
                url: "https://ok.example/".into(),
                folder: vec![("F".into(), Some("#ABCDEF".into()))],
                ..ImportItem::default()
            },
        ];
        let v = validate_all(&items, 5);
        assert!(v[0].as_ref().unwrap_err().reason.contains("http"));
        let ok = v[1].as_ref().unwrap();
        assert_eq!(ok.title, "https://ok.example/");
        assert_eq!(ok.created_at, 5);
        assert_eq!(
            ok.folder,
            FolderRef::Path(vec![("F".into(), Some("#abcdef".into()))])
        );
    }
}
