//! Markdown to safe HTML for chat messages.
//!
//! Two layers, so one mistake is not enough for script to run: the event
//! stream is filtered first (raw HTML becomes visible text, links keep only
//! http/https/mailto targets, images only same-origin upload URLs), then
//! the HTML is cleaned by ammonia with an explicit allowlist. This module
//! must never pass user-written HTML, styles, event handlers or script URLs
//! through, and it never sees HTTP types or the database.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use pulldown_cmark::utils::TextMergeWithOffset;
use pulldown_cmark::{CowStr, Event, Parser, Tag, TagEnd};

use super::mentions;

/// Same-origin path that inline images may point at.
const UPLOAD_PATH: &str = "/api/v1/uploads/";

/// Every element a rendered message may contain.
const ALLOWED_TAGS: [&str; 28] = [
    "a",
    "blockquote",
    "br",
    "code",
    "del",
    "em",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "img",
    "input",
    "li",
    "ol",
    "p",
    "pre",
    "span",
    "strong",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tr",
    "ul",
];

static SANITIZER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(sanitizer);

fn sanitizer() -> ammonia::Builder<'static> {
    let tags: HashSet<&str> = ALLOWED_TAGS.into();
    let attrs: HashMap<&str, HashSet<&str>> = [
        ("a", ["href", "title"].into()),
        ("img", ["src", "alt", "title"].into()),
        ("input", ["type", "checked", "disabled"].into()),
        ("ol", ["start"].into()),
    ]
    .into();
    let classes: HashMap<&str, HashSet<&str>> = [("span", ["mention"].into())].into();
    let mut b = ammonia::Builder::default();
    b.tags(tags)
        .tag_attributes(attrs)
        .generic_attributes(HashSet::new())
        .generic_attribute_prefixes(HashSet::new())
        .allowed_classes(classes)
        .url_schemes(["http", "https", "mailto"].into())
        .url_relative(ammonia::UrlRelative::Custom(Box::new(keep_upload_url)))
        .link_rel(Some("noopener noreferrer nofollow"))
        .set_tag_attribute_value("a", "target", "_blank")
        .attribute_filter(|element, attribute, value| match (element, attribute) {
            // Only the task-list checkbox that Markdown itself produces.
            ("input", "type") => (value == "checkbox").then_some(Cow::Borrowed(value)),
            ("img", "src") => is_upload_url(value).then_some(Cow::Borrowed(value)),
            _ => Some(Cow::Borrowed(value)),
        })
        .strip_comments(true);
    b
}

/// `/api/v1/uploads/<public id>` and nothing else.
fn is_upload_url(url: &str) -> bool {
    url.strip_prefix(UPLOAD_PATH).is_some_and(|id| {
        (1..=64).contains(&id.len())
            && id
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
    })
}

/// Relative URLs survive only as upload URLs.
fn keep_upload_url(url: &str) -> Option<Cow<'_, str>> {
    is_upload_url(url).then_some(Cow::Borrowed(url))
}

/// Link targets a message may carry.
fn is_safe_link(url: &str) -> bool {
    let u = url.trim_start().to_ascii_lowercase();
    ["http://", "https://", "mailto:"]
        .iter()
        .any(|s| u.starts_with(s))
}

fn escape_html(s: &str) -> String {
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

/// Splits one prose fragment, wrapping resolved mentions in spans.
fn push_text<'a>(out: &mut Vec<Event<'a>>, text: CowStr<'a>, resolved: &[String]) {
    let hits: Vec<_> = mentions::scan(&text)
        .into_iter()
        .filter(|r| {
            let h = text[r.start + 1..r.end].to_ascii_lowercase();
            resolved.contains(&h)
        })
        .collect();
    if hits.is_empty() {
        out.push(Event::Text(text));
        return;
    }
    let mut at = 0;
    for r in hits {
        if r.start > at {
            out.push(Event::Text(CowStr::from(text[at..r.start].to_string())));
        }
        out.push(Event::Html(CowStr::from(format!(
            "<span class=\"mention\">{}</span>",
            escape_html(&text[r.clone()])
        ))));
        at = r.end;
    }
    if at < text.len() {
        out.push(Event::Text(CowStr::from(text[at..].to_string())));
    }
}

/// Punctuation that means nothing to Markdown or HTML inside one line of
/// prose (as long as the line starts with a letter or digit): a line made of
/// only these, letters, digits and spaces renders as itself in a paragraph.
fn inert_punct(c: u8) -> bool {
    matches!(
        c,
        b' ' | b','
            | b'.'
            | b';'
            | b':'
            | b'?'
            | b'!'
            | b'/'
            | b'('
            | b')'
            | b'-'
            | b'\''
            | b'"'
            | b'%'
            | b'+'
            | b'='
    )
}

/// The HTML the full renderer gives a one-line message with no Markdown,
/// HTML, entity or mention syntax in it, or `None` when that is not this
/// message. Most chat lines are such prose, and the full path (two parsers
/// and a sanitiser) is most of the cost of a post; the fast path must give
/// byte-identical output, which a property test checks against `render`.
pub fn render_plain(text: &str) -> Option<String> {
    let b = text.as_bytes();
    let first = *b.first()?;
    if !first.is_ascii_alphanumeric() || b.last().is_some_and(|c| *c == b' ') {
        return None;
    }
    // `1.` and `1)` open an ordered list.
    let digits = b.iter().take_while(|c| c.is_ascii_digit()).count();
    if digits > 0 && matches!(b.get(digits), Some(b'.' | b')')) {
        return None;
    }
    // Non-ASCII letters, symbols and emoji are inert too; Unicode spaces
    // and controls are not (the serialiser writes U+00A0 as `&nbsp;`).
    let inert = |c: char| match u8::try_from(c) {
        Ok(a) if a.is_ascii() => a.is_ascii_alphanumeric() || inert_punct(a),
        _ => !c.is_whitespace() && !c.is_control(),
    };
    if !text.chars().all(inert) {
        return None;
    }
    let mut html = String::with_capacity(text.len() + 8);
    html.push_str("<p>");
    html.push_str(text);
    html.push_str("</p>\n");
    Some(html)
}

/// Renders `markdown` to sanitised HTML. `resolved` holds the lower-cased
/// handles (from `mentions::resolved_handles`) to show as mentions.
pub fn render(markdown: &str, resolved: &[String]) -> String {
    let parser = Parser::new_ext(markdown, mentions::markdown_options()).into_offset_iter();
    let mut events: Vec<Event<'_>> = Vec::new();
    // Whether each open link/image was kept (its End must match).
    let mut links: Vec<bool> = Vec::new();
    let mut images: Vec<bool> = Vec::new();
    let mut code = 0usize;
    for (event, _) in TextMergeWithOffset::new(parser) {
        match event {
            // Raw HTML is shown as text, never interpreted.
            Event::Html(s) | Event::InlineHtml(s) => events.push(Event::Text(s)),
            Event::Start(Tag::Link { ref dest_url, .. }) => {
                let keep = is_safe_link(dest_url);
                links.push(keep);
                if keep {
                    events.push(event);
                }
            }
            Event::End(TagEnd::Link) => {
                if links.pop().unwrap_or(false) {
                    events.push(event);
                }
            }
            Event::Start(Tag::Image { ref dest_url, .. }) => {
                let keep = is_upload_url(dest_url);
                images.push(keep);
                if keep {
                    events.push(event);
                }
            }
            Event::End(TagEnd::Image) => {
                if images.pop().unwrap_or(false) {
                    events.push(event);
                }
            }
            Event::Start(Tag::CodeBlock(_)) => {
                code += 1;
                events.push(event);
            }
            Event::End(TagEnd::CodeBlock) => {
                code = code.saturating_sub(1);
                events.push(event);
            }
            Event::Text(text) if code == 0 && images.is_empty() => {
                push_text(&mut events, text, resolved)
            }
            other => events.push(other),
        }
    }
    let mut html = String::with_capacity(markdown.len() * 2);
    pulldown_cmark::html::push_html(&mut html, events.into_iter());
    SANITIZER.clean(&html).to_string()
}

/// Renders a prefix of a reply that is still streaming. It is the full
/// renderer and sanitiser of stored messages, so a snapshot is never less
/// safe than a stored message, wherever the model's text was cut (half a
/// tag, half a link, an open code fence); a test checks every prefix.
pub fn render_partial(markdown_prefix: &str) -> String {
    render(markdown_prefix, &[])
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn r(md: &str) -> String {
        render(md, &[])
    }

    /// Every real tag in `html` with its attributes. Text has `<` escaped
    /// and attribute values are always double-quoted by the serialiser, so
    /// a small scanner is exact here.
    fn tags(html: &str) -> Vec<(String, Vec<(String, String)>)> {
        let b = html.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            if b[i] != b'<' {
                i += 1;
                continue;
            }
            i += 1;
            if b.get(i) == Some(&b'/') {
                i += 1;
            }
            let start = i;
            while i < b.len() && b[i].is_ascii_alphanumeric() {
                i += 1;
            }
            let name = html[start..i].to_ascii_lowercase();
            let mut attrs = Vec::new();
            loop {
                while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b'/') {
                    i += 1;
                }
                if i >= b.len() || b[i] == b'>' {
                    i += 1;
                    break;
                }
                let a = i;
                while i < b.len()
                    && !matches!(b[i], b'=' | b'>' | b'/')
                    && !b[i].is_ascii_whitespace()
                {
                    i += 1;
                }
                let attr = html[a..i].to_ascii_lowercase();
                let mut value = String::new();
                if b.get(i) == Some(&b'=') && b.get(i + 1) == Some(&b'"') {
                    let v = i + 2;
                    let close = html[v..].find('"').map_or(b.len(), |n| v + n);
                    value = html[v..close].to_string();
                    i = close + 1;
                }
                attrs.push((attr, value));
            }
            out.push((name, attrs));
        }
        out
    }

    /// The safety properties every rendering must have.
    fn assert_safe(html: &str) {
        assert!(!html.to_ascii_lowercase().contains("<script"), "{html}");
        for (name, attrs) in tags(html) {
            assert!(
                ALLOWED_TAGS.contains(&name.as_str()),
                "tag {name:?} in {html}"
            );
            for (attr, value) in attrs {
                let v = value.trim().to_ascii_lowercase();
                assert!(
                    !attr.starts_with("on") && attr != "style",
                    "{attr} in {html}"
                );
                assert!(
                    !v.starts_with("javascript:") && !v.starts_with("data:"),
                    "{html}"
                );
                match attr.as_str() {
                    "href" => assert!(
                        ["http://", "https://", "mailto:"]
                            .iter()
                            .any(|p| v.starts_with(p)),
                        "{html}"
                    ),
                    "src" => assert!(is_upload_url(&value), "{html}"),
                    "class" => assert_eq!(value, "mention"),
                    "type" => assert_eq!(value, "checkbox"),
                    _ => {}
                }
            }
        }
    }

    #[test]
    fn renders_common_markdown() {
        assert_eq!(
            r("**hi** _there_"),
            "<p><strong>hi</strong> <em>there</em></p>\n"
        );
        assert!(r("~~gone~~").contains("<del>gone</del>"));
        assert!(r("| a | b |\n|---|---|\n| 1 | 2 |\n").contains("<td>1</td>"));
        assert!(r("- [x] done\n").contains("type=\"checkbox\""));
        assert!(r("```\nlet x = 1;\n```\n").contains("<pre><code>let x = 1;\n</code></pre>"));
    }

    #[test]
    fn links_get_safe_attributes() {
        let h = r("[site](https://example.com/a?b=1)");
        assert!(h.contains("href=\"https://example.com/a?b=1\""), "{h}");
        assert!(h.contains("rel=\"noopener noreferrer nofollow\""), "{h}");
        assert!(h.contains("target=\"_blank\""), "{h}");
        assert!(r("<mailto:a@b.c>").contains("href=\"mailto:a@b.c\""));
        // Relative links are dropped to text.
        assert_eq!(r("[x](/admin)"), "<p>x</p>\n");
    }

    #[test]
    fn images_only_from_uploads() {
        let ok = r("![cat](/api/v1/uploads/AbC_d-1)");
        assert!(
            ok.contains("<img src=\"/api/v1/uploads/AbC_d-1\" alt=\"cat\""),
            "{ok}"
        );
        for bad in [
            "![cat](https://evil.example/x.png)",
            "![cat](/api/v1/uploads/../../x)",
            "![cat](//evil.example/api/v1/uploads/x)",
            "![cat](data:image/png;base64,AAAA)",
        ] {
            let h = r(bad);
            assert!(!h.contains("<img"), "{bad} -> {h}");
            assert!(h.contains("cat"), "{bad} -> {h}");
        }
    }

    #[test]
    fn classic_xss_payloads_are_neutralised() {
        let payloads = [
            "<img src=x onerror=alert(1)>",
            "<script>alert(1)</script>",
            "[x](javascript:alert(1))",
            "[x](JaVaScRiPt:alert(1))",
            "[x]( javascript:alert(1))",
            "[x](&#106;avascript:alert(1))",
            "[x](&#x6A;avascript&#58;alert(1))",
            "[x](java\\script:alert(1))",
            "<svg onload=alert(1)>",
            "<a href=\"data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==\">x</a>",
            "[x](data:text/html,<script>alert(1)</script>)",
            "<iframe src=\"https://evil.example\"></iframe>",
            "<style>body{display:none}</style>",
            "<javascript:alert(1)>",
            "<JAVASCRIPT:alert(1)>",
            "![x](javascript:alert(1))",
            "<span class=\"mention\">@fake</span>",
            "<div style=\"position:fixed\">x</div>",
            "[x](vbscript:msgbox(1))",
            "<img src=\"/api/v1/uploads/x\" onerror=\"alert(1)\">",
            "```\n</code><script>alert(1)</script>\n```",
            "[x](https://e.com \"t\\\" onmouseover=alert(1)\")",
        ];
        for p in payloads {
            let h = r(p);
            assert_safe(&h);
            assert!(
                !h.contains("<iframe") && !h.contains("<svg") && !h.contains("<style"),
                "{p} -> {h}"
            );
            assert!(!h.contains("<span class=\"mention\""), "{p} -> {h}");
            assert!(
                !h.contains("<a href=\"java") && !h.contains("<a href=\"data"),
                "{p} -> {h}"
            );
        }
    }

    #[test]
    fn resolved_mentions_become_spans() {
        let h = render("hi @Ann and @bob, `@ann`", &["ann".into()]);
        assert_eq!(
            h,
            "<p>hi <span class=\"mention\">@Ann</span> and @bob, <code>@ann</code></p>\n"
        );
    }

    #[test]
    fn plain_prose_takes_the_fast_path_and_markup_does_not() {
        for plain in [
            "fan-out 3/17",
            "ok",
            "Déjà vu, isn't it? \"yes\" (100%) 🎉",
            "2024 was 1+1=2",
        ] {
            let fast = render_plain(plain);
            assert_eq!(
                fast.as_deref(),
                Some(render(plain, &[]).as_str()),
                "{plain}"
            );
        }
        for marked in [
            "",
            " lead",
            "trail ",
            "**b**",
            "a_b_",
            "1. item",
            "12) item",
            "- x",
            "# h",
            "> q",
            "a <b>",
            "a & b",
            "&#64;ann",
            "@ann",
            "`c`",
            "[x](y)",
            "a\nb",
            "a\\",
            "~~s~~",
            "a | b",
            "a\u{a0}b",
            "tab\there",
            "a*b",
        ] {
            assert_eq!(render_plain(marked), None, "{marked:?}");
        }
    }

    proptest! {
        #[test]
        fn the_fast_path_is_byte_identical_to_the_full_renderer(
            s in "[a-zA-Z0-9][a-zA-Z0-9 ,.;:?!/()'\"%+=-]{0,60}"
        ) {
            let fast = render_plain(&s);
            // Everything here is plain except an ordered-list opener.
            let digits = s.bytes().take_while(u8::is_ascii_digit).count();
            let list = digits > 0 && matches!(s.as_bytes().get(digits), Some(b'.' | b')'));
            prop_assert_eq!(fast.is_some(), !list && !s.ends_with(' '));
            if let Some(fast) = fast {
                prop_assert_eq!(&fast, &render(&s, &[]));
                prop_assert_eq!(&fast, &render(&s, &["ann".into(), "all".into()]));
            }
        }

        #[test]
        fn the_fast_path_agrees_on_unicode_and_syntax(parts in proptest::collection::vec(prop_oneof![
            Just("a"), Just("Z9"), Just(" "), Just("  "), Just("."), Just("-"), Just("!"), Just("\""),
            Just("'"), Just("("), Just(")"), Just(":"), Just("/"), Just("é"), Just("中文"), Just("🎉"),
            Just("\u{200b}"), Just("\u{feff}"), Just("\u{fffd}"), Just("\u{2028}"), Just("\u{85}"),
            Just("\u{a0}"), Just("\u{3000}"), Just("*"), Just("_"), Just("<"), Just("&"), Just("@ann"),
            Just("#"), Just("1."), Just("\\"), Just("`"), Just("~"), Just("|"), Just("\n"), Just("\t"),
        ], 1..30)) {
            let s: String = parts.concat();
            if let Some(fast) = render_plain(&s) {
                prop_assert_eq!(&fast, &render(&s, &[]));
                prop_assert_eq!(&fast, &render(&s, &["ann".into()]));
            }
        }

        #[test]
        fn the_fast_path_agrees_on_any_printable_input(s in "\\PC{0,80}") {
            if let Some(fast) = render_plain(&s) {
                prop_assert_eq!(fast, render(&s, &[]));
            }
        }

        #[test]
        fn arbitrary_input_renders_safely(s in "\\PC{0,300}") {
            assert_safe(&render(&s, &["ann".into(), "all".into()]));
        }

        #[test]
        fn hostile_fragments_render_safely(parts in proptest::collection::vec(prop_oneof![
            Just("<"), Just(">"), Just("script"), Just("javascript:"), Just("JaVaScRiPt:"),
            Just("[x]("), Just(")"), Just("![i]("), Just(" onerror="), Just("\""), Just("'"),
            Just("`"), Just("&#106;"), Just("&#x3a;"), Just("<img src=x"), Just("\n"), Just(" "),
            Just("@ann"), Just("*"), Just("|"), Just("-"), Just("data:"), Just("/api/v1/uploads/"),
            Just("<a href="), Just("style="), Just("\\"), Just("<"), Just("svg"), Just("iframe"),
        ], 0..40)) {
            let s: String = parts.concat();
            assert_safe(&render(&s, &["ann".into()]));
        }

        #[test]
        fn every_prefix_of_a_streamed_reply_renders_safely(parts in proptest::collection::vec(prop_oneof![
            Just("<"), Just(">"), Just("<script>alert(1)</script>"), Just("<img src=x onerror=alert(1)>"),
            Just("javascript:"), Just("[x](javascript:alert(1))"), Just("[y](https://a.example/)"),
            Just("![i](/api/v1/uploads/abc)"), Just("![i](https://x/y.png)"), Just(" onerror="),
            Just("\""), Just("'"), Just("`"), Just("```"), Just("```html\n"), Just("&#106;"),
            Just("\n"), Just(" "), Just("**"), Just("_"), Just("|a|b|\n|-|-|\n"), Just("- [ ] "),
            Just("<a href=\"javascript:alert(1)\">"), Just("<svg onload=alert(1)>"), Just("<!--"),
            Just("<style>"), Just("data:text/html,"), Just("<iframe src=//x>"), Just("word"),
        ], 0..24)) {
            let s: String = parts.concat();
            for (cut, _) in s.char_indices().chain(std::iter::once((s.len(), ' '))) {
                assert_safe(&render_partial(&s[..cut]));
            }
        }
    }

    #[test]
    fn a_partial_reply_renders_markdown_but_never_live_html() {
        let reply = "Here is **bold** text <script>alert(1)</script> and [a](javascript:alert(1)).";
        let mut saw_bold = false;
        for (cut, _) in reply.char_indices() {
            let html = render_partial(&reply[..cut]);
            assert_safe(&html);
            saw_bold |= html.contains("<strong>bold</strong>");
        }
        assert!(
            saw_bold,
            "a partial snapshot renders Markdown as it streams"
        );
    }
}
