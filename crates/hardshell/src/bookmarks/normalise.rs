//! Normalising what a bookmark is made of: its URL (the dedup key), tags,
//! title, description and colours.
//!
//! URLs are parsed by the WHATWG parser (`url` crate), never by hand. Only
//! `http` and `https` pass; `javascript:`, `data:`, `file:` and every other
//! scheme are refused, and so are URLs that carry a user name or password
//! (they would leak into exports).

use unicode_normalization::UnicodeNormalization;
use url::Url;

/// Longest URL accepted, in bytes (after parsing).
pub const MAX_URL_BYTES: usize = 4096;
pub const MAX_TITLE_CHARS: usize = 500;
pub const MAX_DESCRIPTION_CHARS: usize = 10_000;
pub const MAX_TAGS: usize = 20;
pub const MAX_TAG_CHARS: usize = 64;
pub const MAX_FOLDER_NAME_CHARS: usize = 200;

/// Why a part of a bookmark was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldError {
    #[error("not a valid URL")]
    BadUrl,
    #[error("only http and https URLs can be bookmarked (not `{0}:`)")]
    Scheme(String),
    #[error("URLs with a user name or password are refused")]
    Credentials,
    #[error("the URL is longer than {MAX_URL_BYTES} bytes")]
    UrlTooLong,
    #[error("the title is longer than {MAX_TITLE_CHARS} characters")]
    TitleTooLong,
    #[error("the description is longer than {MAX_DESCRIPTION_CHARS} characters")]
    DescriptionTooLong,
    #[error("at most {MAX_TAGS} tags")]
    TooManyTags,
    #[error("a tag is longer than {MAX_TAG_CHARS} characters")]
    TagTooLong,
    #[error("a colour is `#rrggbb`")]
    Color,
    #[error("a folder name is 1 to {MAX_FOLDER_NAME_CHARS} characters")]
    FolderName,
}

/// A URL as stored (`url`) and its dedup key (`norm`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NormUrl {
    pub url: String,
    pub norm: String,
}

/// Parses and checks a URL. The stored form is the parser's serialisation
/// (scheme and host lower-cased, default port dropped, IDN in punycode,
/// path percent-encoded). The dedup key also drops the fragment, an empty
/// query and a trailing slash on a non-root path.
pub fn url(raw: &str) -> Result<NormUrl, FieldError> {
    let parsed = Url::parse(raw.trim()).map_err(|_| FieldError::BadUrl)?;
    match parsed.scheme() {
        "http" | "https" => {}
        other => return Err(FieldError::Scheme(other.to_string())),
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(FieldError::BadUrl);
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(FieldError::Credentials);
    }
    let url = parsed.to_string();
    if url.len() > MAX_URL_BYTES {
        return Err(FieldError::UrlTooLong);
    }
    let mut key = parsed;
    key.set_fragment(None);
    if key.query() == Some("") {
        key.set_query(None);
    }
    let path = key.path().to_string();
    if path.len() > 1 && path.ends_with('/') {
        key.set_path(path.trim_end_matches('/'));
    }
    Ok(NormUrl {
        url,
        norm: key.to_string(),
    })
}

/// One tag: NFKC, lower case, whitespace runs become `-`, characters other
/// than letters, digits and `-_.+#/:` dropped, `-` trimmed from the ends.
/// `None` when nothing is left. More than `MAX_TAG_CHARS` characters as
/// sent, or after normalising (NFKC can expand one character into many),
/// is refused, never cut.
pub fn tag(raw: &str) -> Result<Option<String>, FieldError> {
    if raw.chars().count() > MAX_TAG_CHARS {
        return Err(FieldError::TagTooLong);
    }
    let folded: String = raw.nfkc().flat_map(char::to_lowercase).collect();
    let joined = folded.split_whitespace().collect::<Vec<_>>().join("-");
    let kept: String = joined
        .chars()
        .filter(|c| c.is_alphanumeric() || "-_.+#/:".contains(*c))
        .collect();
    // Dropping characters can leave neighbours that compose (Hangul jamo
    // out of "㈀", for one): compose again so a tag is its own normal form.
    let kept: String = kept.nfc().collect();
    let t = kept.trim_matches('-');
    if t.chars().count() > MAX_TAG_CHARS {
        return Err(FieldError::TagTooLong);
    }
    Ok((!t.is_empty()).then(|| t.to_string()))
}

/// Tags normalised, empty ones dropped, duplicates removed (first kept);
/// more than `MAX_TAGS` distinct tags, or one too long, is an error.
pub fn tags<S: AsRef<str>>(raw: &[S]) -> Result<Vec<String>, FieldError> {
    let mut out: Vec<String> = Vec::new();
    for t in raw {
        if let Some(t) = tag(t.as_ref())?
            && !out.contains(&t)
        {
            out.push(t);
        }
    }
    if out.len() > MAX_TAGS {
        return Err(FieldError::TooManyTags);
    }
    Ok(out)
}

/// Control characters become spaces, whitespace runs collapse, ends trimmed.
fn one_line(raw: &str) -> String {
    raw.split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A title on one line; an empty title becomes the URL.
/// The limit counts the characters as sent, before any is dropped.
pub fn title(raw: Option<&str>, url: &str) -> Result<String, FieldError> {
    let raw = raw.unwrap_or_default();
    if raw.chars().count() > MAX_TITLE_CHARS {
        return Err(FieldError::TitleTooLong);
    }
    let t = one_line(raw);
    Ok(if t.is_empty() { url.to_string() } else { t })
}

/// A description: control characters other than newline and tab removed,
/// ends trimmed. The limit counts the characters as sent.
pub fn description(raw: Option<&str>) -> Result<String, FieldError> {
    let raw = raw.unwrap_or_default();
    if raw.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(FieldError::DescriptionTooLong);
    }
    let d: String = raw
        .chars()
        .filter(|c| !c.is_control() || *c == '\n' || *c == '\t')
        .collect();
    Ok(d.trim().to_string())
}

/// `#rrggbb`, lower-cased.
pub fn color(raw: &str) -> Result<String, FieldError> {
    let c = raw.trim().to_ascii_lowercase();
    let hex = c.strip_prefix('#').ok_or(FieldError::Color)?;
    if hex.len() == 6 && hex.chars().all(|ch| ch.is_ascii_hexdigit()) {
        Ok(c)
    } else {
        Err(FieldError::Color)
    }
}

/// A folder name on one line, 1 to `MAX_FOLDER_NAME_CHARS` characters
/// (counted as sent; blank is refused).
pub fn folder_name(raw: &str) -> Result<String, FieldError> {
    if raw.chars().count() > MAX_FOLDER_NAME_CHARS {
        return Err(FieldError::FolderName);
    }
    let n = one_line(raw);
    if n.is_empty() {
        return Err(FieldError::FolderName);
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn urls_normalise_and_hostile_schemes_are_refused() {
        let u = url("  HTTPS://Example.COM:443/a/b/?#frag ").unwrap();
        assert_eq!(u.url, "https://example.com/a/b/?#frag");
        assert_eq!(u.norm, "https://example.com/a/b");
        assert_eq!(
            url("http://example.com").unwrap().norm,
            "http://example.com/"
        );
        assert_eq!(
            url("https://bücher.example/").unwrap().url,
            "https://xn--bcher-kva.example/"
        );
        for bad in [
            "javascript:alert(1)",
            "JaVaScRiPt:alert(1)",
            " javascript:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "file:///etc/passwd",
            "ftp://example.com/",
            "vbscript:msgbox",
        ] {
            assert!(matches!(url(bad), Err(FieldError::Scheme(_))), "{bad}");
        }
        for bad in ["", "not a url", "http://", "/relative"] {
            assert!(url(bad).is_err(), "{bad}");
        }
        assert_eq!(
            url("https://user:pw@example.com/"),
            Err(FieldError::Credentials)
        );
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL_BYTES));
        assert_eq!(url(&long), Err(FieldError::UrlTooLong));
    }

    #[test]
    fn tags_normalise_dedup_and_cap() {
        assert_eq!(
            tags(&[
                "  Rust Lang ",
                "rust-lang",
                "ＲＵＳＴ",
                "<b>x</b>",
                "",
                "--"
            ])
            .unwrap(),
            ["rust-lang", "rust", "bx/b"]
        );
        let many: Vec<String> = (0..21).map(|i| format!("t{i}")).collect();
        assert_eq!(tags(&many), Err(FieldError::TooManyTags));
        assert_eq!(tags(&many[..20]).unwrap().len(), 20);
        // Duplicates do not count towards the cap.
        let dup: Vec<String> = (0..30).map(|i| format!("t{}", i % 5)).collect();
        assert_eq!(tags(&dup).unwrap().len(), 5);
    }

    #[test]
    fn titles_colours_and_folder_names() {
        assert_eq!(title(Some(" a\n\tb\u{7} "), "https://x/").unwrap(), "a b");
        assert_eq!(title(Some("  "), "https://x/").unwrap(), "https://x/");
        assert!(title(Some(&"a".repeat(501)), "u").is_err());
        assert_eq!(color("#AbCdEf").unwrap(), "#abcdef");
        for bad in ["abcdef", "#abc", "#ggg000", "red", "#abcdef0"] {
            assert!(color(bad).is_err(), "{bad}");
        }
        assert!(folder_name(" \n ").is_err());
        assert_eq!(folder_name(" Work\nstuff ").unwrap(), "Work stuff");
        assert_eq!(description(Some(" a\u{0}\nb ")).unwrap(), "a\nb");
    }

    /// Limits count characters as sent: the limit passes, one more is
    /// refused (never cut), multibyte characters count once, and spaces
    /// that trimming would drop still count.
    #[test]
    fn limits_count_characters_as_sent() {
        let at = "é".repeat(MAX_TAG_CHARS);
        assert_eq!(tag(&at), Ok(Some(at.clone())));
        assert_eq!(tag(&format!("{at}é")), Err(FieldError::TagTooLong));
        assert_eq!(tag(&format!(" {at}")), Err(FieldError::TagTooLong));
        assert_eq!(tags(&[format!("{at}x")]), Err(FieldError::TagTooLong));
        // One character NFKC expands to 18: past the limit once normalised.
        assert_eq!(tag(&"\u{FDFA}".repeat(4)), Err(FieldError::TagTooLong));
        let t = "ü".repeat(MAX_TITLE_CHARS);
        assert_eq!(title(Some(&t), "u"), Ok(t.clone()));
        assert_eq!(
            title(Some(&format!("{t} ")), "u"),
            Err(FieldError::TitleTooLong)
        );
        let d = "ж".repeat(MAX_DESCRIPTION_CHARS);
        assert_eq!(description(Some(&d)), Ok(d.clone()));
        assert_eq!(
            description(Some(&format!("\n{d}"))),
            Err(FieldError::DescriptionTooLong)
        );
        let f = "名".repeat(MAX_FOLDER_NAME_CHARS);
        assert_eq!(folder_name(&f), Ok(f.clone()));
        assert_eq!(folder_name(&format!("{f} ")), Err(FieldError::FolderName));
    }

    #[test]
    fn a_tag_that_composes_after_filtering_is_still_a_fixed_point() {
        // Found by the property test below: "㈀" is "(ᄀ)" under NFKC.
        let n = tag("㈀\u{FFCA}").unwrap().unwrap();
        assert_eq!(tag(&n), Ok(Some(n.clone())));
    }

    proptest! {
        #[test]
        fn accepted_urls_are_http_and_their_key_is_stable(s in "\\PC{0,60}") {
            if let Ok(u) = url(&s) {
                prop_assert!(u.url.starts_with("http://") || u.url.starts_with("https://"));
                let again = url(&u.url).unwrap();
                prop_assert_eq!(again.norm, u.norm);
            }
        }

        #[test]
        fn normalised_tags_are_fixed_points(t in "\\PC{0,80}") {
            if let Ok(Some(n)) = tag(&t) {
                prop_assert_eq!(tag(&n), Ok(Some(n.clone())));
                prop_assert!(!n.contains(char::is_whitespace));
            }
        }
    }
}
