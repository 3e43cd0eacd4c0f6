//! `@handle` mentions: finding them in Markdown and resolving them against
//! a conversation's members.
//!
//! Only prose counts: code spans, code blocks, raw HTML and link targets
//! never mention anyone, and an `@` inside a word (`ann@example.com`) is
//! not a mention. Resolution only ever yields members of the conversation,
//! so a mention can never reveal or notify an outsider.

use std::ops::Range;

use pulldown_cmark::utils::TextMergeWithOffset;
use pulldown_cmark::{Event, Parser, Tag, TagEnd};

use crate::store::chat::Ref;

/// The handle that mentions every member.
pub const ALL: &str = "all";
/// Handles are usernames or agent handles: at most this many characters.
const MAX_HANDLE: usize = 64;

/// One `@handle` token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    /// Byte range in the Markdown source: the `@handle` itself when its
    /// text fragment has no escapes, else the whole fragment.
    pub range: Range<usize>,
    /// The handle without `@`, as written.
    pub handle: String,
}

fn handle_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-')
}

/// Characters that, right before `@`, make it part of a word or address.
fn joins_word(c: u8) -> bool {
    handle_char(c) || matches!(c, b'@' | b'+' | b'/' | b'\\' | b'`')
}

/// `@handle` tokens in a plain-text fragment, as byte ranges of the whole
/// token (`@` included).
pub fn scan(s: &str) -> Vec<Range<usize>> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'@' || (i > 0 && joins_word(b[i - 1])) {
            i += 1;
            continue;
        }
        let start = i;
        let mut end = i + 1;
        while end < b.len() && handle_char(b[end]) {
            end += 1;
        }
        // Sentence punctuation after a handle is not part of it.
        while end > start + 1 && matches!(b[end - 1], b'.' | b'-') {
            end -= 1;
        }
        let len = end - start - 1;
        let first_ok = b
            .get(start + 1)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_');
        // `@ann@x` is an address, not a mention.
        let glued = b.get(end).is_some_and(|c| *c == b'@');
        if first_ok && (1..=MAX_HANDLE).contains(&len) && !glued {
            out.push(start..end);
        }
        i = end.max(i + 1);
    }
    out
}

/// The Markdown options every renderer and scanner shares, so mentions are
/// found exactly where the HTML shows prose.
pub fn markdown_options() -> pulldown_cmark::Options {
    use pulldown_cmark::Options;
    Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS
}

/// Every `@handle` in the prose of `markdown`, in order (duplicates kept).
pub fn find(markdown: &str) -> Vec<Token> {
    let parser = Parser::new_ext(markdown, markdown_options()).into_offset_iter();
    let mut out = Vec::new();
    let mut code = 0usize;
    let mut image = 0usize;
    for (event, range) in TextMergeWithOffset::new(parser) {
        match event {
            Event::Start(Tag::CodeBlock(_)) => code += 1,
            Event::End(TagEnd::CodeBlock) => code = code.saturating_sub(1),
            Event::Start(Tag::Image { .. }) => image += 1,
            Event::End(TagEnd::Image) => image = image.saturating_sub(1),
            Event::Text(text) if code == 0 && image == 0 => {
                let exact = markdown.get(range.clone()) == Some(&*text);
                for r in scan(&text) {
                    let handle = text[r.start + 1..r.end].to_string();
                    let range = if exact {
                        range.start + r.start..range.start + r.end
                    } else {
                        range.clone()
                    };
                    out.push(Token { range, handle });
                }
            }
            _ => {}
        }
    }
    out
}

/// Resolves handles against the conversation's `members` (users by
/// username, agents by handle, case-insensitively); `@all` stands for every
/// member. Returns refs in order of first mention, without duplicates.
pub fn resolve(tokens: &[Token], members: &[Ref]) -> Vec<Ref> {
    let mut out: Vec<Ref> = Vec::new();
    let mut push = |r: &Ref| {
        if !out.contains(r) {
            out.push(r.clone());
        }
    };
    for t in tokens {
        if t.handle.eq_ignore_ascii_case(ALL) {
            members.iter().for_each(&mut push);
            continue;
        }
        if let Some(m) = members
            .iter()
            .find(|m| ref_name(m).eq_ignore_ascii_case(&t.handle))
        {
            push(m);
        }
    }
    out
}

/// Lower-cased handles that resolved (including `all` when used), for the
/// renderer to highlight.
pub fn resolved_handles(tokens: &[Token], members: &[Ref]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in tokens {
        let h = t.handle.to_ascii_lowercase();
        let known = h == ALL || members.iter().any(|m| ref_name(m).eq_ignore_ascii_case(&h));
        if known && !out.contains(&h) {
            out.push(h);
        }
    }
    out
}

fn ref_name(r: &Ref) -> &str {
    match r {
        Ref::User { name, .. } | Ref::Agent { name, .. } | Ref::Key { name, .. } => name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn handles(md: &str) -> Vec<String> {
        find(md).into_iter().map(|t| t.handle).collect()
    }

    fn user(id: i64, name: &str) -> Ref {
        Ref::User {
            id,
            name: name.into(),
        }
    }

    #[test]
    fn finds_handles_in_prose_only() {
        assert_eq!(handles("hi @ann and @Bob."), ["ann", "Bob"]);
        assert_eq!(handles("@ann_bee, look"), ["ann_bee"]);
        assert!(handles("mail ann@example.com now").is_empty());
        assert!(handles("`@ann` in code").is_empty());
        assert!(handles("```\n@ann\n```\n").is_empty());
        assert!(handles("    @ann indented code\n").is_empty());
        assert!(handles("@ @. @-x @@ann").is_empty());
        assert_eq!(handles("**@ann** [x](http://e.com/@bob)"), ["ann"]);
    }

    #[test]
    fn exact_offsets_point_at_the_token() {
        let md = "hey @ann!";
        let t = find(md);
        assert_eq!(t.len(), 1);
        assert_eq!(&md[t[0].range.clone()], "@ann");
    }

    #[test]
    fn resolution_is_case_insensitive_ordered_and_deduplicated() {
        let members = vec![
            user(1, "ann"),
            user(2, "bob"),
            Ref::Agent {
                id: 9,
                name: "helper".into(),
            },
        ];
        let t = find("@HELPER @bob @nobody @Ann @bob");
        assert_eq!(
            resolve(&t, &members),
            vec![members[2].clone(), members[1].clone(), members[0].clone()]
        );
        assert_eq!(resolved_handles(&t, &members), ["helper", "bob", "ann"]);
        let all = find("@all and @ann");
        assert_eq!(resolve(&all, &members), members);
        assert!(resolve(&find("@nobody"), &members).is_empty());
    }

    proptest! {
        #[test]
        fn scanning_never_panics_and_stays_in_bounds(s in "\\PC{0,200}") {
            for t in find(&s) {
                prop_assert!(t.range.start <= t.range.end && t.range.end <= s.len());
                prop_assert!(s.is_char_boundary(t.range.start) && s.is_char_boundary(t.range.end));
                prop_assert!(!t.handle.is_empty() && t.handle.len() <= MAX_HANDLE);
            }
            for r in scan(&s) {
                prop_assert!(r.end <= s.len() && s[r.clone()].starts_with('@'));
            }
        }

        #[test]
        fn mention_heavy_input_never_panics(parts in proptest::collection::vec(
            prop_oneof![Just("@"), Just("ann"), Just("`"), Just("\\"), Just("."), Just(" "),
                Just("\n"), Just("```"), Just("é"), Just("_"), Just("["), Just("](x)")], 0..40)) {
            let s: String = parts.concat();
            for t in find(&s) {
                prop_assert!(t.range.end <= s.len());
            }
        }
    }
}
