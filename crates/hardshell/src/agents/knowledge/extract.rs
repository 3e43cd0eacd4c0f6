//! Text out of an uploaded knowledge document: Markdown and plain text as
//! they are, HTML through the sanitiser to plain text, PDF through lopdf.
//!
//! The type comes from the bytes (`uploadtype::classify`); the name only
//! chooses HTML, which the upload classifier refuses as markup, and only
//! for valid UTF-8. Never runs, fetches or follows anything in a document:
//! HTML scripts and styles are dropped with their content, PDF parsing is
//! bounded (decompressed size, pages, output) and a parser panic is caught.

use std::collections::{HashMap, HashSet};
use std::panic::{AssertUnwindSafe, catch_unwind};

use uploadtype::Kind;

/// Most extracted text kept from one document, in bytes.
pub const MAX_TEXT_BYTES: usize = 1024 * 1024;
/// Most PDF pages read.
pub const MAX_PDF_PAGES: usize = 2000;
/// Cap on one PDF stream's decompressed size (a bomb stops here).
const PDF_MAX_DECOMPRESSED: usize = 32 * 1024 * 1024;

/// What a document was read as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DocKind {
    Markdown,
    Text,
    Html,
    Pdf,
}

impl DocKind {
    pub fn mime(self) -> &'static str {
        match self {
            DocKind::Markdown => "text/markdown",
            DocKind::Text => "text/plain",
            DocKind::Html => "text/html",
            DocKind::Pdf => "application/pdf",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtractError {
    #[error("knowledge takes Markdown, text, HTML or PDF: {0}")]
    Unsupported(String),
    #[error("the document could not be read: {0}")]
    Unreadable(String),
    #[error("the document has no extractable text")]
    NoText,
    #[error("the document's text is longer than {MAX_TEXT_BYTES} bytes")]
    TooLong,
}

/// The document's type from its bytes (and, for HTML only, its name).
pub fn kind_of(bytes: &[u8], name: &str) -> Result<DocKind, ExtractError> {
    let lower = name.to_ascii_lowercase();
    if (lower.ends_with(".html") || lower.ends_with(".htm")) && std::str::from_utf8(bytes).is_ok() {
        return Ok(DocKind::Html);
    }
    match uploadtype::classify(bytes, name) {
        Ok(Kind::Pdf) => Ok(DocKind::Pdf),
        Ok(Kind::Markdown) => Ok(DocKind::Markdown),
        Ok(Kind::Text) => Ok(DocKind::Text),
        Ok(other) => Err(ExtractError::Unsupported(format!(
            "{} is not",
            other.mime()
        ))),
        Err(why) => Err(ExtractError::Unsupported(why.0.to_string())),
    }
}

/// A document's text as the model may read it, and what a reader of the
/// document would not have seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extracted {
    pub text: String,
    /// Hidden passages (comments, CSS-hidden elements, alt and title text,
    /// text after long blank runs). They go to the scanner, never into
    /// `text`. PDF text is not split: hidden PDF text is not detected.
    pub hidden: Vec<promptguard::HiddenSpan>,
}

/// The document's text, line endings normalised, bounded, and not blank.
pub fn text_of(kind: DocKind, bytes: &[u8]) -> Result<String, ExtractError> {
    extract(kind, bytes).map(|e| e.text)
}

/// The document's visible text and its hidden passages. A document with
/// nothing hidden keeps its own layout (Markdown stays Markdown); one with
/// hidden passages is reduced to what the carrier splitter saw as visible.
pub fn extract(kind: DocKind, bytes: &[u8]) -> Result<Extracted, ExtractError> {
    let (text, hidden) = match kind {
        DocKind::Markdown => {
            let s = utf8(bytes)?;
            visible_or_whole(s.to_string(), promptguard::split_markdown(s))
        }
        DocKind::Text => {
            let s = utf8(bytes)?;
            visible_or_whole(s.to_string(), promptguard::split_plain(s))
        }
        DocKind::Html => {
            let s = utf8(bytes)?;
            let split = promptguard::split_html(s);
            if split.hidden.is_empty() {
                (html_to_text(s), Vec::new())
            } else {
                (split.visible, split.hidden)
            }
        }
        DocKind::Pdf => (pdf_to_text(bytes)?, Vec::new()),
    };
    let text = text
        .trim_start_matches('\u{FEFF}')
        .replace("\r\n", "\n")
        .replace('\r', "\n");
    if text.len() > MAX_TEXT_BYTES {
        return Err(ExtractError::TooLong);
    }
    if text.trim().is_empty() {
        return Err(ExtractError::NoText);
    }
    Ok(Extracted { text, hidden })
}

fn visible_or_whole(
    whole: String,
    split: promptguard::Split,
) -> (String, Vec<promptguard::HiddenSpan>) {
    if split.hidden.is_empty() {
        (whole, Vec::new())
    } else {
        (split.visible, split.hidden)
    }
}

fn utf8(bytes: &[u8]) -> Result<&str, ExtractError> {
    std::str::from_utf8(bytes).map_err(|_| ExtractError::Unreadable("not valid UTF-8".into()))
}

/// Elements that start a new line (or paragraph) in the text.
const BLOCKS: [&str; 24] = [
    "p",
    "div",
    "br",
    "li",
    "tr",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "pre",
    "blockquote",
    "section",
    "article",
    "header",
    "footer",
    "table",
    "ul",
    "ol",
    "dt",
    "dd",
    "hr",
    "td",
];

/// HTML to plain text. ammonia (html5ever) parses it and keeps only the
/// block elements, without attributes, dropping scripts, styles and
/// templates with their content; what comes out is then a plain walk:
/// every `<` starts a known tag, and only a few entities remain.
pub fn html_to_text(html: &str) -> String {
    let clean = ammonia::Builder::empty()
        .add_tags(BLOCKS)
        .generic_attributes(HashSet::new())
        .tag_attributes(HashMap::new())
        .link_rel(None)
        .clean_content_tags(HashSet::from([
            "script", "style", "template", "noscript", "title", "head",
        ]))
        .clean(html)
        .to_string();
    let mut out = String::with_capacity(clean.len());
    let mut rest = clean.as_str();
    while let Some(open) = rest.find('<') {
        push_unescaped(&mut out, &rest[..open]);
        let Some(close) = rest[open..].find('>') else {
            rest = "";
            break;
        };
        let tag = rest[open + 1..open + close]
            .trim_start_matches('/')
            .trim_end_matches('/');
        let br = match tag {
            "br" | "td" => "\n",
            _ => "\n\n",
        };
        let enough = out.ends_with("\n\n") || (br == "\n" && out.ends_with('\n'));
        if !enough {
            out.push_str(br);
        }
        rest = &rest[open + close + 1..];
    }
    push_unescaped(&mut out, rest);
    out.trim().to_string()
}

/// Appends `s` with the entities html5ever's serialiser writes decoded.
fn push_unescaped(out: &mut String, s: &str) {
    out.push_str(
        &s.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&nbsp;", " ")
            .replace("&amp;", "&"),
    );
}

/// PDF text, page by page. Pages that fail to decode are skipped; a file
/// that does not parse is `Unreadable`; no text at all is `NoText`.
pub fn pdf_to_text(bytes: &[u8]) -> Result<String, ExtractError> {
    let run = || -> Result<String, ExtractError> {
        let options = lopdf::LoadOptions {
            max_decompressed_size: Some(PDF_MAX_DECOMPRESSED),
            ..lopdf::LoadOptions::default()
        };
        let doc = lopdf::Document::load_mem_with_options(bytes, options)
            .map_err(|e| ExtractError::Unreadable(short(&e.to_string())))?;
        if doc.is_encrypted() {
            return Err(ExtractError::Unreadable("the PDF is encrypted".into()));
        }
        let pages: Vec<u32> = doc
            .get_pages()
            .keys()
            .copied()
            .take(MAX_PDF_PAGES)
            .collect();
        let mut text = String::new();
        for page in pages {
            match doc.extract_text_with_limit(&[page], PDF_MAX_DECOMPRESSED) {
                Ok(t) => {
                    if !text.is_empty() {
                        text.push_str("\n\n");
                    }
                    text.push_str(t.trim());
                }
                Err(e) => tracing::debug!(page, error = %short(&e.to_string()), "PDF page skipped"),
            }
            if text.len() > MAX_TEXT_BYTES {
                return Err(ExtractError::TooLong);
            }
        }
        Ok(text)
    };
    match catch_unwind(AssertUnwindSafe(run)) {
        Ok(r) => r,
        Err(_) => Err(ExtractError::Unreadable("the PDF is malformed".into())),
    }
}

/// A parser's message, cut short for an API error.
fn short(s: &str) -> String {
    s.chars().take(120).collect()
}

#[cfg(test)]
#[path = "extract_tests.rs"]
pub(crate) mod tests;
