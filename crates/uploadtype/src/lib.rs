//! What an upload is, decided from its bytes: the allowlist (png, jpeg,
//! gif, webp, pdf, and plain text / Markdown / CSV / JSON), polyglot checks,
//! the display-name sanitiser, and the `Content-Disposition` value.
//!
//! It must never trust the client's name or `Content-Type` for the type
//! (the name only picks between text flavours after the content fits), and
//! never return a name that could act as a path or break a header.

/// An allowed upload type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Png,
    Jpeg,
    Gif,
    Webp,
    Pdf,
    Text,
    Markdown,
    Csv,
    Json,
}

impl Kind {
    /// The MIME type the file is stored and served with.
    pub fn mime(self) -> &'static str {
        match self {
            Self::Png => "image/png",
            Self::Jpeg => "image/jpeg",
            Self::Gif => "image/gif",
            Self::Webp => "image/webp",
            Self::Pdf => "application/pdf",
            Self::Text => "text/plain",
            Self::Markdown => "text/markdown",
            Self::Csv => "text/csv",
            Self::Json => "application/json",
        }
    }

    /// Raster images a browser may show inline; everything else downloads.
    pub fn inline(self) -> bool {
        matches!(self, Self::Png | Self::Jpeg | Self::Gif | Self::Webp)
    }
}

/// The `Content-Type` to serve a stored MIME type with: text is UTF-8.
pub fn content_type(mime: &str) -> String {
    if mime.starts_with("text/") {
        format!("{mime}; charset=utf-8")
    } else {
        mime.to_string()
    }
}

/// Why a file was refused (shown to the caller; names no internals).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Unsupported(pub &'static str);

const NOT_ALLOWED: Unsupported = Unsupported(
    "this file type is not allowed; upload png, jpeg, gif, webp, pdf, or UTF-8 text (txt, md, csv, json)",
);
const MARKUP: Unsupported = Unsupported("HTML, SVG and XML files are not allowed");
const DISGUISED: Unsupported =
    Unsupported("the file carries extra content beyond its declared format");
const ACTIVE_PDF: Unsupported =
    Unsupported("PDF files with scripts, launch actions or embedded files are not allowed");

/// Classifies `bytes` (the whole file). `name` is the sanitised display
/// name; only its extension is read, and only for text.
pub fn classify(bytes: &[u8], name: &str) -> Result<Kind, Unsupported> {
    use infer::MatcherType;
    if let Some(t) = infer::get(bytes) {
        let kind = match t.mime_type() {
            "image/png" => Some(Kind::Png),
            "image/jpeg" => Some(Kind::Jpeg),
            "image/gif" => Some(Kind::Gif),
            "image/webp" => Some(Kind::Webp),
            "application/pdf" => Some(Kind::Pdf),
            _ => None,
        };
        if let Some(kind) = kind {
            check_binary(kind, bytes)?;
            return Ok(kind);
        }
        match t.matcher_type() {
            // Executables, archives, and text that sniffs as HTML, XML or
            // a shell script: never, whatever else the bytes might be.
            MatcherType::App | MatcherType::Archive => return Err(NOT_ALLOWED),
            MatcherType::Text => return Err(MARKUP),
            // Weak magics (e.g. "BM" for bmp) also match ordinary text; the
            // strict text check below decides those.
            _ => {}
        }
    }
    classify_text(bytes, name)
}

/// How many leading bytes [`refused_by_head`] needs.
pub const HEAD_LEN: usize = 4096;

/// Decides a refusal from the first bytes alone, so that a streamed upload
/// can be refused before the rest arrives. `Some` only when [`classify`]
/// would refuse the whole file, whatever follows: the head carries none of
/// the allowed binary magics (each is decided by its first 12 bytes) and
/// cannot begin text (invalid UTF-8 before its last 3 bytes, or a binary
/// control character). `None` decides nothing; [`classify`] still runs on
/// the whole file. Heads shorter than 16 bytes decide nothing.
pub fn refused_by_head(head: &[u8]) -> Option<Unsupported> {
    use infer::{archive, image};
    if head.len() < 16 {
        return None;
    }
    let allowed_magic = [
        image::is_png,
        image::is_jpeg,
        image::is_gif,
        image::is_webp,
        archive::is_pdf,
    ]
    .iter()
    .any(|is| is(head));
    if allowed_magic {
        return None;
    }
    let text = match std::str::from_utf8(head) {
        Ok(t) => t,
        // Cut inside a character: judge what comes before it.
        Err(e) if e.error_len().is_none() => {
            std::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or_default()
        }
        Err(_) => return Some(NOT_ALLOWED),
    };
    text.chars().any(is_binary_control).then_some(NOT_ALLOWED)
}

/// Structural and polyglot checks for the allowed binary formats.
fn check_binary(kind: Kind, bytes: &[u8]) -> Result<(), Unsupported> {
    if has_zip_tail(bytes) {
        return Err(DISGUISED);
    }
    match kind {
        Kind::Pdf => {
            // Browsers sniff only the head; a PDF may quote markup later.
            let head = &bytes[..bytes.len().min(1024)];
            if has_markup_tag(head) {
                return Err(DISGUISED);
            }
            if pdf_has_active_content(bytes) {
                return Err(ACTIVE_PDF);
            }
        }
        _ => {
            if has_markup_tag(bytes) {
                return Err(DISGUISED);
            }
            let well_formed = match kind {
                Kind::Png => png_ends_exactly(bytes),
                Kind::Webp => riff_size_matches(bytes),
                Kind::Gif => gif_ends_exactly(bytes),
                _ => true,
            };
            if !well_formed {
                return Err(DISGUISED);
            }
        }
    }
    Ok(())
}

/// Markup that would make the bytes render as a document if sniffed.
const MARKUP_TAGS: &[&[u8]] = &[b"<script", b"<html", b"<svg", b"<!doctype", b"<iframe"];

fn has_markup_tag(bytes: &[u8]) -> bool {
    bytes.iter().enumerate().any(|(i, &b)| {
        b == b'<'
            && MARKUP_TAGS.iter().any(|tag| {
                bytes
                    .get(i..i + tag.len())
                    .is_some_and(|w| w.eq_ignore_ascii_case(tag))
            })
    })
}

/// A ZIP end-of-central-directory record that ends exactly at the end of
/// the file: what makes an image or PDF also open as a ZIP (or JAR).
fn has_zip_tail(bytes: &[u8]) -> bool {
    const EOCD: &[u8] = b"PK\x05\x06";
    const MIN: usize = 22;
    if bytes.len() < MIN {
        return false;
    }
    let from = bytes.len().saturating_sub(MIN + usize::from(u16::MAX));
    (from..=bytes.len() - MIN).any(|p| {
        bytes[p..].starts_with(EOCD) && {
            let comment = usize::from(u16::from_le_bytes([bytes[p + 20], bytes[p + 21]]));
            p + MIN + comment == bytes.len()
        }
    })
}

fn be_u32(b: &[u8], at: usize) -> Option<usize> {
    let s = b.get(at..at + 4)?;
    usize::try_from(u32::from_be_bytes([s[0], s[1], s[2], s[3]])).ok()
}

/// Walks the PNG chunks; the file must end right after `IEND`.
fn png_ends_exactly(bytes: &[u8]) -> bool {
    let mut pos = 8;
    loop {
        let Some(len) = be_u32(bytes, pos) else {
            return false;
        };
        let Some(kind) = bytes.get(pos + 4..pos + 8) else {
            return false;
        };
        let Some(end) = pos.checked_add(12).and_then(|p| p.checked_add(len)) else {
            return false;
        };
        if end > bytes.len() {
            return false;
        }
        if kind == b"IEND" {
            return end == bytes.len();
        }
        pos = end;
    }
}

/// The RIFF length field must cover the file exactly.
fn riff_size_matches(bytes: &[u8]) -> bool {
    let Some(s) = bytes.get(4..8) else {
        return false;
    };
    let size = u32::from_le_bytes([s[0], s[1], s[2], s[3]]);
    usize::try_from(size).is_ok_and(|n| n.checked_add(8) == Some(bytes.len()))
}

/// Skips GIF data sub-blocks from `pos`; returns the position after the
/// zero-length terminator.
fn gif_skip_sub_blocks(bytes: &[u8], mut pos: usize) -> Option<usize> {
    loop {
        let n = usize::from(*bytes.get(pos)?);
        pos += 1;
        if n == 0 {
            return Some(pos);
        }
        pos += n;
    }
}

/// Walks the GIF blocks; the file must end right after the trailer.
fn gif_ends_exactly(bytes: &[u8]) -> bool {
    fn walk(bytes: &[u8]) -> Option<usize> {
        let flags = *bytes.get(10)?;
        let mut pos = 13;
        if flags & 0x80 != 0 {
            pos += 3 << ((flags & 0x07) + 1);
        }
        loop {
            match *bytes.get(pos)? {
                0x3B => return Some(pos + 1),
                0x21 => pos = gif_skip_sub_blocks(bytes, pos + 2)?,
                0x2C => {
                    let local = *bytes.get(pos + 9)?;
                    pos += 10;
                    if local & 0x80 != 0 {
                        pos += 3 << ((local & 0x07) + 1);
                    }
                    // LZW minimum code size, then the image data.
                    pos = gif_skip_sub_blocks(bytes, pos + 1)?;
                }
                _ => return None,
            }
        }
    }
    walk(bytes) == Some(bytes.len())
}

/// PDF names that run code or carry files. Names are decoded (`#xx`
/// escapes) before comparing. Best effort: names inside compressed object
/// streams are not inflated; the download is an attachment under
/// `CSP: sandbox` regardless.
fn pdf_has_active_content(bytes: &[u8]) -> bool {
    const ACTIVE: &[&[u8]] = &[
        b"JavaScript",
        b"JS",
        b"Launch",
        b"EmbeddedFile",
        b"EmbeddedFiles",
        b"RichMedia",
    ];
    let is_delim = |b: u8| {
        b.is_ascii_whitespace()
            || b == 0
            || matches!(
                b,
                b'/' | b'(' | b')' | b'<' | b'>' | b'[' | b']' | b'{' | b'}' | b'%'
            )
    };
    let mut i = 0;
    let mut name = Vec::with_capacity(32);
    while i < bytes.len() {
        if bytes[i] != b'/' {
            i += 1;
            continue;
        }
        i += 1;
        name.clear();
        while i < bytes.len() && !is_delim(bytes[i]) && name.len() <= 32 {
            let b = bytes[i];
            let escaped = (b == b'#')
                .then(|| bytes.get(i + 1..i + 3))
                .flatten()
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            if let Some(v) = escaped {
                name.push(v);
                i += 3;
            } else {
                name.push(b);
                i += 1;
            }
        }
        if ACTIVE.contains(&name.as_slice()) {
            return true;
        }
    }
    false
}

/// Text starts that a browser or an XML reader would treat as a document.
const MARKUP_STARTS: &[&str] = &[
    "<!doctype",
    "<html",
    "<svg",
    "<?xml",
    "<script",
    "<iframe",
    "<head",
    "<body",
    "<xsl",
];

fn classify_text(bytes: &[u8], name: &str) -> Result<Kind, Unsupported> {
    let text = std::str::from_utf8(bytes).map_err(|_| NOT_ALLOWED)?;
    if text.chars().any(is_binary_control) {
        return Err(NOT_ALLOWED);
    }
    let start = text.trim_start_matches(|c: char| c.is_whitespace() || c == '\u{FEFF}');
    let head: String = start.chars().take(16).collect::<String>().to_lowercase();
    if MARKUP_STARTS.iter().any(|m| head.starts_with(m)) {
        return Err(MARKUP);
    }
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    Ok(match ext.as_str() {
        "md" | "markdown" => Kind::Markdown,
        "csv" if csv_fits(text) => Kind::Csv,
        "json" if serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok() => Kind::Json,
        _ => Kind::Text,
    })
}

/// Control characters that do not occur in text (all but tab, newlines and
/// form feed).
fn is_binary_control(c: char) -> bool {
    c.is_control() && !matches!(c, '\t' | '\n' | '\r' | '\x0C')
}

/// RFC 4180: quotes balanced, and every non-empty record has the same
/// number of fields.
fn csv_fits(text: &str) -> bool {
    let mut fields = 1usize;
    let mut expected: Option<usize> = None;
    let mut in_quotes = false;
    let mut field_start = true;
    let mut after_quote = false;
    let mut record_empty = true;
    let mut chars = text.chars().peekable();
    fn end_record(expected: &mut Option<usize>, fields: usize, empty: bool) -> bool {
        empty || *expected.get_or_insert(fields) == fields
    }
    while let Some(c) = chars.next() {
        if in_quotes {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                } else {
                    in_quotes = false;
                    after_quote = true;
                }
            }
            continue;
        }
        match c {
            '"' if field_start => {
                in_quotes = true;
                field_start = false;
                record_empty = false;
            }
            '"' => return false,
            ',' => {
                fields += 1;
                field_start = true;
                after_quote = false;
                record_empty = false;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' | '\r' => {
                if !end_record(&mut expected, fields, record_empty) {
                    return false;
                }
                fields = 1;
                field_start = true;
                after_quote = false;
                record_empty = true;
            }
            _ if after_quote => return false,
            _ => {
                field_start = false;
                record_empty = false;
            }
        }
    }
    !in_quotes && end_record(&mut expected, fields, record_empty) && expected.is_some()
}

/// Longest display name, in bytes (well under the 255 of most file systems).
pub const MAX_NAME_BYTES: usize = 200;
const FALLBACK_NAME: &str = "file";

/// Invisible format characters: bidi overrides and isolates, zero-width
/// characters, the BOM, soft hyphen, interlinear annotations, tags.
fn is_invisible_format(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}' | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}' | '\u{E0000}'..='\u{E007F}')
}

/// Characters that look like path separators.
fn is_slash_like(c: char) -> bool {
    matches!(
        c,
        '/' | '\\'
            | '\u{2044}'
            | '\u{2215}'
            | '\u{2216}'
            | '\u{29F8}'
            | '\u{29F9}'
            | '\u{FF0F}'
            | '\u{FF3C}'
    )
}

/// A display name from a client-supplied file name: the last path
/// component, without control or invisible characters, whitespace
/// collapsed, at most [`MAX_NAME_BYTES`], and `file` if nothing is left.
/// It is only ever shown; it never names anything on disk.
pub fn display_name(raw: &str) -> String {
    let mut cleaned = String::with_capacity(raw.len().min(1024));
    let mut space = false;
    for c in raw.chars().take(4096) {
        // Tabs and line breaks are controls too; they become one space.
        if c.is_whitespace() {
            space = true;
            continue;
        }
        if c.is_control() || is_invisible_format(c) {
            continue;
        }
        if space && !cleaned.is_empty() {
            cleaned.push(' ');
        }
        space = false;
        cleaned.push(if is_slash_like(c) { '/' } else { c });
    }
    let last = cleaned
        .rsplit('/')
        .map(|s| s.trim_matches(' ').trim_end_matches('.'))
        .find(|s| !s.is_empty())
        .unwrap_or("");
    truncate_keeping_extension(last.trim_end_matches(' '), MAX_NAME_BYTES)
}

fn truncate_keeping_extension(name: &str, max: usize) -> String {
    if name.is_empty() {
        return FALLBACK_NAME.to_string();
    }
    if name.len() <= max {
        return name.to_string();
    }
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e)
        .filter(|e| !e.is_empty() && e.len() <= 16);
    let keep = ext.map_or(0, |e| e.len() + 1);
    let mut stem_end = max - keep;
    while !name.is_char_boundary(stem_end) {
        stem_end -= 1;
    }
    let stem = name[..stem_end].trim_end_matches([' ', '.']);
    let stem = if stem.is_empty() { FALLBACK_NAME } else { stem };
    match ext {
        Some(e) => format!("{stem}.{e}"),
        None => stem.to_string(),
    }
}

/// RFC 6266 / 5987: an ASCII `filename` fallback plus the exact name as
/// `filename*=UTF-8''…`. The result is visible ASCII only.
pub fn content_disposition(inline: bool, name: &str) -> String {
    let disposition = if inline { "inline" } else { "attachment" };
    let fallback: String = name
        .chars()
        .map(|c| match c {
            '"' | '\\' | '%' | ';' => '_',
            c if c == ' ' || c.is_ascii_graphic() => c,
            _ => '_',
        })
        .collect();
    let mut encoded = String::with_capacity(name.len() * 3);
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            encoded.push(char::from(b));
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A minimal valid PNG (1x1, one IDAT) built from parts.
    fn png() -> Vec<u8> {
        let mut v = b"\x89PNG\r\n\x1a\n".to_vec();
        let chunk = |v: &mut Vec<u8>, kind: &[u8], data: &[u8]| {
            v.extend((data.len() as u32).to_be_bytes());
            v.extend(kind);
            v.extend(data);
            v.extend([0, 0, 0, 0]);
        };
        chunk(&mut v, b"IHDR", &[0, 0, 0, 1, 0, 0, 0, 1, 8, 0, 0, 0, 0]);
        chunk(&mut v, b"IDAT", &[0x78, 0x9c, 0x63, 0, 0, 0, 1, 0, 1]);
        chunk(&mut v, b"IEND", &[]);
        v
    }

    fn gif() -> Vec<u8> {
        let mut v = b"GIF89a\x01\x00\x01\x00\x80\x00\x00".to_vec();
        v.extend([0, 0, 0, 255, 255, 255]); // global colour table, 2 entries
        v.extend(b"\x21\xf9\x04\x01\x00\x00\x00\x00"); // graphic control ext
        v.extend(b"\x2c\x00\x00\x00\x00\x01\x00\x01\x00\x00"); // descriptor
        v.extend(b"\x02\x02\x44\x01\x00"); // LZW data
        v.push(0x3B);
        v
    }

    fn webp() -> Vec<u8> {
        let body = b"WEBPVP8 \x04\x00\x00\x00abcd";
        let mut v = b"RIFF".to_vec();
        v.extend((body.len() as u32).to_le_bytes());
        v.extend(body);
        v
    }

    fn pdf(extra: &str) -> Vec<u8> {
        let mut v = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >> endobj\n".to_vec();
        v.extend(extra.as_bytes());
        v.extend(b"\n%%EOF\n");
        v
    }

    #[test]
    fn allowed_binaries_are_recognised_by_magic_not_name() {
        assert_eq!(classify(&png(), "x.txt"), Ok(Kind::Png));
        assert_eq!(classify(&gif(), "x"), Ok(Kind::Gif));
        assert_eq!(classify(&webp(), "x"), Ok(Kind::Webp));
        assert_eq!(classify(&pdf(""), "x.png"), Ok(Kind::Pdf));
        let jpeg = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9";
        assert_eq!(classify(jpeg, "a.jpg"), Ok(Kind::Jpeg));
        assert!(Kind::Png.inline() && !Kind::Pdf.inline() && !Kind::Text.inline());
        assert_eq!(content_type(Kind::Csv.mime()), "text/csv; charset=utf-8");
        assert_eq!(content_type(Kind::Pdf.mime()), "application/pdf");
    }

    #[test]
    fn markup_executables_and_archives_are_refused() {
        for html in [
            "<!DOCTYPE html><p>x",
            "  \n<html><script>alert(1)</script>",
            "\u{FEFF}<svg xmlns='http://www.w3.org/2000/svg'/>",
            "<?xml version='1.0'?><svg/>",
            "<ScRiPt>alert(1)</script>",
            "<!-- hi --><b>x</b>",
        ] {
            assert!(classify(html.as_bytes(), "a.png").is_err(), "{html}");
            assert!(classify(html.as_bytes(), "a.txt").is_err(), "{html}");
        }
        assert!(
            classify(
                b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00",
                "a"
            )
            .is_err()
        );
        assert!(classify(b"MZ\x90\x00\x03\x00\x00\x00\x04\x00", "a.txt").is_err());
        assert!(classify(b"PK\x03\x04\x14\x00\x00\x00\x08\x00", "a.csv").is_err());
        assert!(classify(b"#!/bin/sh\nrm -rf /\n", "a.txt").is_err());
        assert!(classify(b"plain\0text", "a.txt").is_err());
        assert!(classify(b"bell \x07 here", "a.txt").is_err());
        assert!(classify(b"\xff\xfe\x00\x00", "a.txt").is_err());
    }

    #[test]
    fn polyglots_are_refused() {
        let mut with_zip = png();
        with_zip.extend(b"PK\x05\x06\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0");
        assert_eq!(classify(&with_zip, "a.png"), Err(DISGUISED));
        let mut trailing = png();
        trailing.extend(b"<p>after IEND");
        assert_eq!(classify(&trailing, "a.png"), Err(DISGUISED));
        let mut inside = png();
        inside.splice(
            33..33,
            b"\0\0\0\x14tEXt<script>alert(1)\0\0\0\0".iter().copied(),
        );
        assert_eq!(classify(&inside, "a.png"), Err(DISGUISED));
        let mut truncated = png();
        truncated.truncate(30);
        assert_eq!(classify(&truncated, "a.png"), Err(DISGUISED));
        let mut gif_tail = gif();
        gif_tail.extend(b"alert(1)");
        assert_eq!(classify(&gif_tail, "a.gif"), Err(DISGUISED));
        let mut webp_tail = webp();
        webp_tail.extend(b"junk");
        assert_eq!(classify(&webp_tail, "a.webp"), Err(DISGUISED));
        assert_eq!(
            classify(&pdf("<html><script>x</script>"), "a.pdf"),
            Err(DISGUISED)
        );
    }

    #[test]
    fn pdfs_with_active_content_are_refused_even_when_escaped() {
        for extra in [
            "2 0 obj << /S /JavaScript /JS (app.alert(1)) >> endobj",
            "2 0 obj << /S /Java#53cript >> endobj",
            "2 0 obj << /S /Launch /F (cmd.exe) >> endobj",
            "2 0 obj << /Type /EmbeddedFile >> endobj",
        ] {
            assert_eq!(classify(&pdf(extra), "a.pdf"), Err(ACTIVE_PDF), "{extra}");
        }
        assert_eq!(classify(&pdf("/JSON /Launcher"), "a.pdf"), Ok(Kind::Pdf));
    }

    #[test]
    fn text_flavour_needs_extension_and_fitting_content() {
        assert_eq!(classify(b"hello\n", "a.txt"), Ok(Kind::Text));
        assert_eq!(classify(b"BMW owners\n", "a.txt"), Ok(Kind::Text));
        assert_eq!(classify(b"# T\n\n*x*", "a.md"), Ok(Kind::Markdown));
        assert_eq!(classify(b"# T", "a.MARKDOWN"), Ok(Kind::Markdown));
        assert_eq!(classify(b"{\"a\":[1,2]}", "a.json"), Ok(Kind::Json));
        assert_eq!(classify(b"{\"a\":", "a.json"), Ok(Kind::Text));
        assert_eq!(classify(b"{\"a\":1}", "a.txt"), Ok(Kind::Text));
        assert_eq!(
            classify(b"a,b\r\n1,\"x,\"\"y\"\"\"\n", "a.csv"),
            Ok(Kind::Csv)
        );
        assert_eq!(classify(b"a,b\n1,2,3\n", "a.csv"), Ok(Kind::Text));
        assert_eq!(classify(b"a,\"b\n", "a.csv"), Ok(Kind::Text));
        assert_eq!(classify(b"a,b\"c\n", "a.csv"), Ok(Kind::Text));
        assert_eq!(classify("Grüße\tß\n".as_bytes(), "a"), Ok(Kind::Text));
        assert_eq!(classify(b"", "a.txt"), Ok(Kind::Text));
    }

    #[test]
    fn names_lose_paths_controls_and_bidi() {
        assert_eq!(display_name("../../etc/passwd"), "passwd");
        assert_eq!(display_name("C:\\Users\\x\\cat.png"), "cat.png");
        assert_eq!(display_name("a\0b.txt"), "ab.txt");
        assert_eq!(display_name("a\u{90}b\t\nc.txt"), "ab c.txt");
        assert_eq!(display_name("evil\u{202E}gnp.exe"), "evilgnp.exe");
        assert_eq!(display_name("  a \t\n  b  .txt "), "a b .txt");
        assert_eq!(display_name("..／..／x"), "x");
        assert_eq!(display_name(".."), "file");
        assert_eq!(display_name("dir/"), "dir");
        assert_eq!(display_name(""), "file");
        assert_eq!(display_name("\u{200B}"), "file");
        let long = format!("{}.png", "é".repeat(300));
        let short = display_name(&long);
        assert!(
            short.len() <= MAX_NAME_BYTES && short.ends_with(".png"),
            "{short}"
        );
    }

    #[test]
    fn content_disposition_is_ascii_with_utf8_copy() {
        assert_eq!(
            content_disposition(false, "a \"b\";c.pdf"),
            "attachment; filename=\"a _b__c.pdf\"; filename*=UTF-8''a%20%22b%22%3Bc.pdf"
        );
        assert_eq!(
            content_disposition(true, "é.png"),
            "inline; filename=\"_.png\"; filename*=UTF-8''%C3%A9.png"
        );
    }

    proptest! {
        #[test]
        fn display_name_is_always_safe(raw in any::<String>()) {
            let n = display_name(&raw);
            prop_assert!(!n.is_empty() && n.len() <= MAX_NAME_BYTES);
            prop_assert!(!n.contains(['/', '\\', '\0']));
            prop_assert!(!n.chars().any(|c| c.is_control() || is_invisible_format(c)));
            prop_assert!(n != "." && n != "..");
            let cd = content_disposition(true, &n);
            prop_assert!(cd.bytes().all(|b| b == b' ' || b.is_ascii_graphic()));
            prop_assert_eq!(cd.matches('"').count(), 2);
        }

        #[test]
        fn classify_never_panics_and_refuses_binary_text(
            // Real magics in front of random tails reach the binary parsers.
            magic in proptest::sample::select(vec![
                &b""[..], b"\x89PNG\r\n\x1a\n", b"GIF89a", b"%PDF-1.7\n", b"\xff\xd8\xff\xe0",
                b"RIFF\x10\0\0\0WEBPVP8 ", b"<html>", b"PK\x03\x04",
            ]),
            tail in proptest::collection::vec(any::<u8>(), 0..512),
            name in ".{0,20}",
        ) {
            let bytes = [magic, tail.as_slice()].concat();
            let kind = classify(&bytes, &name);
            if let Ok(Kind::Text | Kind::Markdown | Kind::Csv | Kind::Json) = kind {
                let s = std::str::from_utf8(&bytes);
                prop_assert!(s.is_ok());
                prop_assert!(!s.unwrap_or_default().chars().any(is_binary_control));
            }
            if magic == b"<html>" || magic == b"PK\x03\x04" {
                prop_assert!(kind.is_err());
            }
        }

        #[test]
        fn a_refusal_from_the_head_is_a_refusal_of_the_whole(
            magic in proptest::sample::select(vec![
                &b""[..], b"\x89PNG\r\n\x1a\n", b"GIF89a", b"%PDF-1.7\n", b"\xff\xd8\xff\xe0",
                b"RIFF\x10\0\0\0WEBPVP8 ", b"\x7fELF\x02\x01\x01\0", b"PK\x03\x04", b"MZ",
                "caf\u{e9} na\u{ef}ve text ".as_bytes(),
            ]),
            body in proptest::collection::vec(any::<u8>(), 0..64),
            text_tail in "[ -~\n\u{e9}\u{4e2d}]{0,64}",
            cut in 16usize..96,
            name in "[a-z]{1,8}\\.(png|txt|md|csv|json)",
        ) {
            let bytes = [magic, body.as_slice(), text_tail.as_bytes()].concat();
            let head = &bytes[..cut.min(bytes.len())];
            if refused_by_head(head).is_some() {
                prop_assert!(classify(&bytes, &name).is_err());
            }
            // Text, and the allowed magics, are never refused early.
            let text = [magic, text_tail.as_bytes()].concat();
            let binary_refused = [&b"\x7fELF"[..], b"PK", b"MZ"];
            if !binary_refused.iter().any(|m| magic.starts_with(m)) {
                prop_assert!(refused_by_head(&text[..cut.min(text.len())]).is_none());
            }
        }

        #[test]
        fn markup_prefix_is_refused_under_any_name(
            ws in "[ \t\r\n]{0,4}",
            tag in proptest::sample::select(vec!["<html", "<svg", "<script", "<!doctype", "<?xml"]),
            upper in proptest::collection::vec(any::<bool>(), 9),
            rest in "[a-z <>=]{0,40}",
            name in "[a-z]{1,8}\\.(png|txt|md|csv|json)",
        ) {
            let tag: String = tag
                .chars()
                .zip(upper)
                .map(|(c, u)| if u { c.to_ascii_uppercase() } else { c })
                .collect();
            let text = format!("{ws}{tag}{rest}");
            prop_assert!(classify(text.as_bytes(), &name).is_err());
        }
    }
}
