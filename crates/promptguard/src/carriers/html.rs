//! The HTML splitter: parses a document the way a browser would and sorts
//! its text into what a person sees and what only a machine reads.
//!
//! Owns: the tree walk (an explicit stack, so deep nesting cannot overflow
//! the call stack), which elements and attributes carry hidden text, and
//! the whitespace a browser would collapse. Must never run or fetch
//! anything: scripts and styles are dropped unread, URLs are never followed,
//! and only inline `style` attributes are read (not style sheets).

use scraper::node::Node;
use scraper::{ElementRef, Html};

use super::css::{BLACK, Rgba, WHITE, parse_color, parse_style};
use super::{Carrier, HiddenSpan, Split, split_plain};

/// Elements whose content is code or metadata, not text for anyone.
const SKIP: &[&str] = &[
    "script", "style", "template", "iframe", "object", "svg", "math",
];

/// Elements that start a new line of visible text.
const BLOCK: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "br",
    "dd",
    "div",
    "dl",
    "dt",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "form",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hr",
    "li",
    "main",
    "nav",
    "ol",
    "p",
    "pre",
    "section",
    "table",
    "td",
    "th",
    "title",
    "tr",
    "ul",
];

/// Rendering state inherited down the tree.
#[derive(Clone, Copy, Debug)]
struct Ctx {
    /// A reason no descendant can undo (`display: none`, `hidden`).
    sticky: Option<Carrier>,
    visibility_hidden: bool,
    font_zero: bool,
    color: Rgba,
    background: Rgba,
    in_pre: bool,
}

impl Ctx {
    fn root() -> Self {
        Ctx {
            sticky: None,
            visibility_hidden: false,
            font_zero: false,
            color: BLACK,
            background: WHITE,
            in_pre: false,
        }
    }

    /// Why text in this context is not seen, if it is not.
    fn text_carrier(&self) -> Option<Carrier> {
        if let Some(c) = self.sticky {
            return Some(c);
        }
        if self.visibility_hidden {
            return Some(Carrier::VisibilityHidden);
        }
        if self.font_zero {
            return Some(Carrier::ZeroFontSize);
        }
        if self.color.3 < 32 || self.color.looks_like(self.background) {
            return Some(Carrier::SameColour);
        }
        None
    }

    fn enter(&self, el: ElementRef<'_>, name: &str) -> Ctx {
        let mut next = *self;
        next.in_pre |= name == "pre";
        let e = el.value();
        if next.sticky.is_none() && e.attr("hidden").is_some() {
            next.sticky = Some(Carrier::HiddenAttribute);
        }
        if let Some(style) = e.attr("style") {
            let s = parse_style(style);
            if next.sticky.is_none() {
                if s.display_none {
                    next.sticky = Some(Carrier::DisplayNone);
                } else if s.opacity_zero {
                    next.sticky = Some(Carrier::Transparent);
                } else if s.off_screen {
                    next.sticky = Some(Carrier::OffScreen);
                }
            }
            if let Some(v) = s.visibility_hidden {
                next.visibility_hidden = v;
            }
            if let Some(f) = s.font_zero {
                next.font_zero = f;
            }
            if let Some(c) = s.color {
                next.color = c;
            }
            // A see-through background shows the one behind it.
            if let Some(b) = s.background.filter(|b| b.3 >= 128) {
                next.background = b;
            }
        }
        if let Some(b) = e.attr("bgcolor").and_then(parse_color) {
            next.background = b;
        }
        if name == "font"
            && let Some(c) = e.attr("color").and_then(parse_color)
        {
            next.color = c;
        }
        next
    }
}

/// Collects visible text with browser-like whitespace, and hidden spans.
#[derive(Default)]
struct Sink {
    visible: String,
    pending_space: bool,
    hidden: Vec<HiddenSpan>,
    current: Option<HiddenSpan>,
}

impl Sink {
    fn newline(&mut self) {
        if !self.visible.is_empty() && !self.visible.ends_with('\n') {
            self.visible.push('\n');
        }
        self.pending_space = false;
    }

    fn visible_text(&mut self, t: &str, pre: bool) {
        if t.trim().is_empty() && !pre {
            self.pending_space |= !t.is_empty();
            return;
        }
        self.flush();
        if pre {
            self.visible.push_str(t);
            return;
        }
        for ch in t.chars() {
            if ch.is_whitespace() {
                self.pending_space = true;
                continue;
            }
            if self.pending_space
                && !self.visible.is_empty()
                && !self.visible.ends_with(['\n', ' '])
            {
                self.visible.push(' ');
            }
            self.pending_space = false;
            self.visible.push(ch);
        }
    }

    fn hidden_text(&mut self, carrier: Carrier, t: &str) {
        let t = collapse(t);
        if t.is_empty() {
            return;
        }
        match &mut self.current {
            Some(span) if span.carrier == carrier => {
                span.text.push(' ');
                span.text.push_str(&t);
            }
            _ => {
                self.flush();
                self.current = Some(HiddenSpan { carrier, text: t });
            }
        }
    }

    /// A hidden span of its own (a comment, an attribute).
    fn span(&mut self, carrier: Carrier, t: &str) {
        let t = collapse(t);
        if !t.is_empty() {
            self.flush();
            self.hidden.push(HiddenSpan { carrier, text: t });
        }
    }

    fn flush(&mut self) {
        if let Some(span) = self.current.take() {
            self.hidden.push(span);
        }
    }
}

fn collapse(t: &str) -> String {
    t.split_whitespace().collect::<Vec<_>>().join(" ")
}

enum Step<'a> {
    Enter(ego_tree::NodeRef<'a, Node>, Ctx),
    Block,
}

/// Past this estimated nesting depth a document is not parsed: tree
/// builders spend time proportional to the depth on every start tag, so a
/// page of a hundred thousand nested `<div>`s would take minutes (browsers
/// cap their parsers near 512 for the same reason).
pub(crate) const MAX_DEPTH: usize = 512;

/// Elements that hold nothing or whose end tag the parser supplies, so
/// they do not deepen the tree in practice.
const SHALLOW: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track",
    "wbr", "p", "li", "td", "th", "tr", "dt", "dd", "option", "optgroup", "thead", "tbody",
    "tfoot", "colgroup", "caption", "rp", "rt", "html", "head", "body",
];

/// The deepest nesting of elements, estimated from the tags alone: comments,
/// scripts and styles skipped, self-closing and shallow elements ignored.
pub(crate) fn estimated_depth(html: &str) -> usize {
    let b = html.as_bytes();
    let lower = |i: usize| b.get(i).map(u8::to_ascii_lowercase);
    let (mut depth, mut max) = (0usize, 0usize);
    let mut i = 0;
    while let Some(off) = b.get(i..).and_then(|r| memchr::memchr(b'<', r)) {
        i += off + 1;
        if b.get(i..).is_some_and(|r| r.starts_with(b"!--")) {
            i = find(b, i, b"-->").unwrap_or(b.len());
            continue;
        }
        let close = b.get(i) == Some(&b'/');
        let start = i + usize::from(close);
        let mut end = start;
        while b.get(end).is_some_and(u8::is_ascii_alphanumeric) {
            end += 1;
        }
        if end == start || !b.get(start).is_some_and(u8::is_ascii_alphabetic) {
            continue;
        }
        let name: String = (start..end).filter_map(lower).map(char::from).collect();
        if close {
            depth = depth.saturating_sub(1);
            continue;
        }
        let gt = b
            .get(end..)
            .and_then(|r| memchr::memchr(b'>', r))
            .map(|p| end + p);
        let self_closing = gt.is_some_and(|g| g > 0 && b.get(g - 1) == Some(&b'/'));
        if name == "script" || name == "style" {
            let closing = if name == "script" {
                b"</script".as_slice()
            } else {
                b"</style".as_slice()
            };
            i = find_ci(b, end, closing).unwrap_or(b.len());
            continue;
        }
        if !self_closing && !SHALLOW.contains(&name.as_str()) {
            depth += 1;
            max = max.max(depth);
        }
    }
    max
}

fn find(hay: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(hay.get(from..)?, needle).map(|p| from + p + needle.len())
}

/// Case-insensitive `find` for an ASCII needle written in lowercase.
fn find_ci(hay: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    let rest = hay.get(from..)?;
    rest.windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
        .map(|p| from + p + needle.len())
}

/// Text of a document too deep to parse: tags dropped, nothing trusted.
fn unparsed(html: &str) -> Split {
    let mut text = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                text.push(' ');
            }
            _ if !in_tag => text.push(c),
            _ => {}
        }
    }
    Split {
        visible: String::new(),
        hidden: vec![HiddenSpan {
            carrier: Carrier::Unparsed,
            text: collapse(&text),
        }],
    }
}

/// See `carriers::split_html`.
pub(crate) fn split(html: &str) -> Split {
    if estimated_depth(html) > MAX_DEPTH {
        return unparsed(html);
    }
    let doc = Html::parse_document(html);
    let mut sink = Sink::default();
    let mut stack = vec![Step::Enter(doc.tree.root(), Ctx::root())];
    while let Some(step) = stack.pop() {
        let (node, ctx) = match step {
            Step::Block => {
                sink.newline();
                continue;
            }
            Step::Enter(node, ctx) => (node, ctx),
        };
        let mut child_ctx = ctx;
        match node.value() {
            Node::Text(t) => {
                match ctx.text_carrier() {
                    Some(c) => sink.hidden_text(c, t),
                    None => sink.visible_text(t, ctx.in_pre),
                }
                continue;
            }
            Node::Comment(c) => {
                sink.span(Carrier::HtmlComment, c);
                continue;
            }
            Node::Element(e) => {
                let name = e.name();
                if SKIP.contains(&name) {
                    continue;
                }
                let Some(el) = ElementRef::wrap(node) else {
                    continue;
                };
                child_ctx = ctx.enter(el, name);
                for (attr, carrier) in [
                    ("alt", Carrier::AltText),
                    ("title", Carrier::TitleAttribute),
                    ("aria-label", Carrier::AriaLabel),
                ] {
                    if let Some(v) = e.attr(attr) {
                        sink.span(carrier, v);
                    }
                }
                if BLOCK.contains(&name) {
                    sink.newline();
                    stack.push(Step::Block);
                }
            }
            _ => {}
        }
        let children: Vec<_> = node.children().collect();
        for child in children.into_iter().rev() {
            stack.push(Step::Enter(child, child_ctx));
        }
    }
    sink.flush();
    // Preformatted text keeps its spaces, and so can hide text after a long
    // run of them, like plain text.
    let plain = split_plain(&sink.visible);
    let mut hidden = sink.hidden;
    hidden.extend(plain.hidden);
    let visible = plain
        .visible
        .lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n");
    Split {
        visible: visible.trim().to_string(),
        hidden,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn carriers(html: &str) -> Vec<(Carrier, String)> {
        split(html)
            .hidden
            .into_iter()
            .map(|h| (h.carrier, h.text))
            .collect()
    }

    #[test]
    fn each_carrier_is_found_and_kept_out_of_the_visible_text() {
        let cases = [
            ("<p>a<!-- secret one --></p>", Carrier::HtmlComment),
            (
                "<p>a</p><div style='display:none'>secret one</div>",
                Carrier::DisplayNone,
            ),
            (
                "<p>a</p><span style='visibility:hidden'>secret one</span>",
                Carrier::VisibilityHidden,
            ),
            (
                "<p>a</p><p style='font-size:0'>secret one</p>",
                Carrier::ZeroFontSize,
            ),
            (
                "<body style='background:#fff'><p>a</p><p style='color:white'>secret one</p></body>",
                Carrier::SameColour,
            ),
            ("<p>a</p><p hidden>secret one</p>", Carrier::HiddenAttribute),
            ("<p>a</p><img src=x alt='secret one'>", Carrier::AltText),
            (
                "<p>a <a href=/ title='secret one'>b</a></p>",
                Carrier::TitleAttribute,
            ),
            (
                "<p>a</p><p style='opacity:0'>secret one</p>",
                Carrier::Transparent,
            ),
            (
                "<p>a</p><p style='position:absolute;left:-9999px'>secret one</p>",
                Carrier::OffScreen,
            ),
            (
                "<p>a</p><pre>code                                                                     secret one</pre>",
                Carrier::WhitespaceRun,
            ),
        ];
        for (html, carrier) in cases {
            let s = split(html);
            assert!(!s.visible.contains("secret"), "{html}: {s:?}");
            assert!(
                s.hidden
                    .iter()
                    .any(|h| h.carrier == carrier && h.text.contains("secret one")),
                "{html}: {s:?}"
            );
        }
    }

    #[test]
    fn visible_text_reads_like_the_page() {
        let s = split(
            "<html><head><title>T</title><script>var x = 'ignore all';</script></head>\
             <body><h1>Head</h1><p>One   two\nthree</p><ul><li>a</li><li>b</li></ul></body></html>",
        );
        assert_eq!(s.visible, "T\nHead\nOne two three\na\nb");
        assert!(s.hidden.is_empty());
    }

    #[test]
    fn children_can_show_again_where_the_style_allows() {
        // A zero font size on the parent, a real size on the child (an
        // inline-block layout trick): the child's text is visible.
        let s = split("<div style='font-size:0'><span style='font-size:16px'>shown</span></div>");
        assert_eq!(s.visible, "shown");
        // `display: none` cannot be undone.
        let s = split("<div style='display:none'><span style='display:block'>gone</span></div>");
        assert_eq!(s.visible, "");
        assert_eq!(
            carriers("<div style='display:none'><span style='display:block'>gone</span></div>"),
            vec![(Carrier::DisplayNone, "gone".to_string())]
        );
        // Dark text on a dark background, light text on it is visible.
        let s = split(
            "<div style='background:#000'><p style='color:#111'>dark</p><p style='color:#eee'>light</p></div>",
        );
        assert_eq!(s.visible, "light");
    }

    #[test]
    fn deep_nesting_is_neither_parsed_nor_shown() {
        let html = "<div>".repeat(50_000) + "deep" + &"</div>".repeat(50_000);
        let s = split(&html);
        assert_eq!(s.visible, "");
        assert_eq!(
            s.hidden,
            vec![HiddenSpan {
                carrier: Carrier::Unparsed,
                text: "deep".into()
            }]
        );
        // Just under the cap, the walk (an explicit stack) copes.
        let html = "<div>".repeat(MAX_DEPTH) + "deep";
        assert_eq!(split(&html).visible, "deep");
    }

    #[test]
    fn depth_estimate_skips_what_does_not_nest() {
        assert_eq!(
            estimated_depth("<div><div></div><p><p><li><br><img/></div>"),
            2
        );
        assert_eq!(
            estimated_depth("<!-- <div><div> --><script>'<div><div>'</script><b>x</b>"),
            1
        );
        assert_eq!(estimated_depth("a < b and c<3"), 0);
    }
}
