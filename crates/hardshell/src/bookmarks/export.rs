//! Exports: our JSON (a folder tree that imports back to exactly the same
//! bookmarks), Netscape bookmark HTML (what browsers import), and CSV
//! (RFC 4180 through the `csv` crate).
//!
//! Every text value is escaped for its format; a CSV cell that a
//! spreadsheet would read as a formula is neutralised. Never emits a value
//! unescaped.

use std::collections::HashMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::store::bookmark_folders::Folder;
use crate::store::bookmarks::Bookmark;

/// The `format` field of our JSON.
pub const JSON_FORMAT: &str = "hardshell-bookmarks";
pub const JSON_VERSION: u32 = 1;
/// Between folder names in CSV's `folder` column.
pub const CSV_PATH_SEP: &str = " / ";
pub const CSV_HEADER: [&str; 10] = [
    "url",
    "title",
    "description",
    "tags",
    "folder",
    "starred",
    "archived",
    "color",
    "created_at",
    "updated_at",
];

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("cannot write the export: {0}")]
    Write(String),
}

/// Our JSON document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonDoc {
    pub format: String,
    pub version: u32,
    pub exported_at: i64,
    pub folders: Vec<JsonFolder>,
    /// Bookmarks at the top level.
    pub bookmarks: Vec<JsonBookmark>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonFolder {
    pub name: String,
    pub color: Option<String>,
    pub folders: Vec<JsonFolder>,
    pub bookmarks: Vec<JsonBookmark>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonBookmark {
    pub url: String,
    pub title: String,
    pub description: String,
    pub tags: Vec<String>,
    pub starred: bool,
    pub archived: bool,
    pub color: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl From<&Bookmark> for JsonBookmark {
    fn from(b: &Bookmark) -> Self {
        JsonBookmark {
            url: b.url.clone(),
            title: b.title.clone(),
            description: b.description.clone(),
            tags: b.tags.clone(),
            starred: b.starred,
            archived: b.archived,
            color: b.color.clone(),
            created_at: b.created_at,
            updated_at: b.updated_at,
        }
    }
}

/// Folders and bookmarks arranged as a tree: children by (name, id),
/// bookmarks by id.
struct Tree<'a> {
    children: HashMap<Option<i64>, Vec<&'a Folder>>,
    marks: HashMap<Option<i64>, Vec<&'a Bookmark>>,
}

impl<'a> Tree<'a> {
    fn new(folders: &'a [Folder], bookmarks: &'a [Bookmark]) -> Self {
        let known: std::collections::HashSet<i64> = folders.iter().map(|f| f.id).collect();
        let mut children: HashMap<Option<i64>, Vec<&Folder>> = HashMap::new();
        for f in folders {
            children.entry(f.parent_id).or_default().push(f);
        }
        for v in children.values_mut() {
            v.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
        }
        let mut marks: HashMap<Option<i64>, Vec<&Bookmark>> = HashMap::new();
        for b in bookmarks {
            let at = b.folder_id.filter(|f| known.contains(f));
            marks.entry(at).or_default().push(b);
        }
        for v in marks.values_mut() {
            v.sort_by_key(|b| b.id);
        }
        Tree { children, marks }
    }

    fn folders(&self, parent: Option<i64>) -> &[&'a Folder] {
        self.children.get(&parent).map_or(&[], Vec::as_slice)
    }

    fn bookmarks(&self, parent: Option<i64>) -> &[&'a Bookmark] {
        self.marks.get(&parent).map_or(&[], Vec::as_slice)
    }

    /// Folder id → names from the top level down.
    fn paths(&self) -> HashMap<i64, Vec<String>> {
        let mut out = HashMap::new();
        let mut stack: Vec<(Option<i64>, Vec<String>)> = vec![(None, Vec::new())];
        while let Some((at, path)) = stack.pop() {
            for f in self.folders(at) {
                let mut p = path.clone();
                p.push(f.name.clone());
                out.insert(f.id, p.clone());
                stack.push((Some(f.id), p));
            }
        }
        out
    }
}

fn json_folder(t: &Tree<'_>, f: &Folder) -> JsonFolder {
    JsonFolder {
        name: f.name.clone(),
        color: f.color.clone(),
        folders: t
            .folders(Some(f.id))
            .iter()
            .map(|c| json_folder(t, c))
            .collect(),
        bookmarks: t
            .bookmarks(Some(f.id))
            .iter()
            .map(|b| JsonBookmark::from(*b))
            .collect(),
    }
}

pub fn json(folders: &[Folder], bookmarks: &[Bookmark], now: i64) -> Result<Vec<u8>, ExportError> {
    let t = Tree::new(folders, bookmarks);
    let doc = JsonDoc {
        format: JSON_FORMAT.into(),
        version: JSON_VERSION,
        exported_at: now,
        folders: t.folders(None).iter().map(|f| json_folder(&t, f)).collect(),
        bookmarks: t
            .bookmarks(None)
            .iter()
            .map(|b| JsonBookmark::from(*b))
            .collect(),
    };
    serde_json::to_vec_pretty(&doc).map_err(|e| ExportError::Write(e.to_string()))
}

/// Escapes text for HTML content and double-quoted attribute values.
pub(crate) fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn html_bookmark(out: &mut String, indent: &str, b: &Bookmark) {
    let _ = write!(
        out,
        "{indent}<DT><A HREF=\"{}\" ADD_DATE=\"{}\" LAST_MODIFIED=\"{}\"",
        escape_html(&b.url),
        b.created_at,
        b.updated_at
    );
    if !b.tags.is_empty() {
        let _ = write!(out, " TAGS=\"{}\"", escape_html(&b.tags.join(",")));
    }
    if b.starred {
        out.push_str(" HARDSHELL_STARRED=\"1\"");
    }
    if b.archived {
        out.push_str(" HARDSHELL_ARCHIVED=\"1\"");
    }
    if let Some(c) = &b.color {
        let _ = write!(out, " HARDSHELL_COLOR=\"{}\"", escape_html(c));
    }
    let _ = writeln!(out, ">{}</A>", escape_html(&b.title));
    if !b.description.is_empty() {
        let _ = writeln!(out, "{indent}<DD>{}", escape_html(&b.description));
    }
}

fn html_level(out: &mut String, t: &Tree<'_>, at: Option<i64>, depth: usize) {
    let indent = "    ".repeat(depth);
    for b in t.bookmarks(at) {
        html_bookmark(out, &indent, b);
    }
    for f in t.folders(at) {
        // No folder dates: imports make folders anew, and a re-export
        // must be byte for byte the same.
        let _ = write!(out, "{indent}<DT><H3");
        if let Some(c) = &f.color {
            let _ = write!(out, " HARDSHELL_COLOR=\"{}\"", escape_html(c));
        }
        let _ = writeln!(out, ">{}</H3>", escape_html(&f.name));
        let _ = writeln!(out, "{indent}<DL><p>");
        html_level(out, t, Some(f.id), depth + 1);
        let _ = writeln!(out, "{indent}</DL><p>");
    }
}

/// Netscape bookmark HTML. Starred, archived and colour ride in
/// `HARDSHELL_*` attributes, which browsers ignore.
pub fn netscape(folders: &[Folder], bookmarks: &[Bookmark]) -> Vec<u8> {
    let t = Tree::new(folders, bookmarks);
    let mut out = String::from(
        "<!DOCTYPE NETSCAPE-Bookmark-file-1>\n\
         <!-- This is an automatically generated file.\n     \
         It will be read and overwritten.\n     DO NOT EDIT! -->\n\
         <META HTTP-EQUIV=\"Content-Type\" CONTENT=\"text/html; charset=UTF-8\">\n\
         <TITLE>Bookmarks</TITLE>\n<H1>Bookmarks</H1>\n<DL><p>\n",
    );
    html_level(&mut out, &t, None, 1);
    out.push_str("</DL><p>\n");
    out.into_bytes()
}

/// A cell a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab,
/// carriage return) gets a leading `'`; so does a cell that already
/// starts with `'`, so that import can always remove exactly one.
pub fn neutralise(cell: &str) -> String {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r' | '\'') => format!("'{cell}"),
        _ => cell.to_string(),
    }
}

/// Undoes `neutralise`.
pub fn unneutralise(cell: &str) -> &str {
    cell.strip_prefix('\'').unwrap_or(cell)
}

pub fn csv(folders: &[Folder], bookmarks: &[Bookmark]) -> Result<Vec<u8>, ExportError> {
    let t = Tree::new(folders, bookmarks);
    let paths = t.paths();
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    let err = |e: csv::Error| ExportError::Write(e.to_string());
    w.write_record(CSV_HEADER).map_err(err)?;
    let mut sorted: Vec<&Bookmark> = bookmarks.iter().collect();
    sorted.sort_by_key(|b| b.id);
    for b in sorted {
        let folder = b
            .folder_id
            .and_then(|f| paths.get(&f))
            .map(|p| p.join(CSV_PATH_SEP))
            .unwrap_or_default();
        let row = [
            b.url.clone(),
            b.title.clone(),
            b.description.clone(),
            b.tags.join(" "),
            folder,
            b.starred.to_string(),
            b.archived.to_string(),
            b.color.clone().unwrap_or_default(),
            b.created_at.to_string(),
            b.updated_at.to_string(),
        ];
        w.write_record(row.iter().map(|c| neutralise(c)))
            .map_err(err)?;
    }
    w.into_inner()
        .map_err(|e| ExportError::Write(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_neutralised_and_restored() {
        for cell in ["=1+1", "+x", "-2", "@SUM(A1)", "\tx", "'=x", "'plain"] {
            let n = neutralise(cell);
            assert!(n.starts_with('\''), "{cell}");
            assert_eq!(unneutralise(&n), cell);
        }
        assert_eq!(neutralise("plain"), "plain");
        assert_eq!(unneutralise("plain"), "plain");
    }

    #[test]
    fn html_escaping_covers_markup_and_quotes() {
        assert_eq!(
            escape_html("<script>\"a\" & 'b'</script>"),
            "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt;"
        );
    }
}
