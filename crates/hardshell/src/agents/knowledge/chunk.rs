//! Splits a document's text into parent chunks (about 1500 characters,
//! broken at paragraph, line, sentence or word boundaries) and, inside
//! each parent, overlapping child chunks (about 300 characters) that are
//! indexed for search.
//!
//! Works on byte ranges that always fall on character boundaries. Parents
//! tile the text exactly, so no character is ever dropped; children never
//! leave their parent and together cover it.

use std::ops::Range;

/// Target parent length, in characters.
pub const PARENT_CHARS: usize = 1500;
/// Target child length, in characters.
pub const CHILD_CHARS: usize = 300;
/// How far each child reaches back into the one before, in characters.
pub const CHILD_OVERLAP: usize = 60;

/// Byte offset `chars` characters after `from` in `text` (or its end).
fn advance(text: &str, from: usize, chars: usize) -> usize {
    text[from..]
        .char_indices()
        .nth(chars)
        .map_or(text.len(), |(i, _)| from + i)
}

/// Byte offset `chars` characters before `from` (or 0).
fn retreat(text: &str, from: usize, chars: usize) -> usize {
    text[..from]
        .char_indices()
        .rev()
        .nth(chars.saturating_sub(1))
        .map_or(0, |(i, _)| i)
}

/// Where a piece starting at `start` should end, at most `target`
/// characters on and never beyond `end`: the last paragraph break in the
/// second half of the window, else the last line break, sentence end or
/// space there, else the hard limit. Always `> start` when `start < end`.
fn cut(text: &str, start: usize, end: usize, target: usize) -> usize {
    let limit = advance(text, start, target).min(end);
    if limit >= end {
        return end;
    }
    let half = advance(text, start, target / 2).min(limit);
    let window = &text[half..limit];
    for sep in ["\n\n", "\n", ". ", "? ", "! ", " "] {
        if let Some(i) = window.rfind(sep) {
            return half + i + sep.len();
        }
    }
    limit
}

/// Parent ranges: consecutive, non-empty, and together exactly `text`.
pub fn parents(text: &str) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < text.len() {
        let end = cut(text, start, text.len(), PARENT_CHARS);
        out.push(start..end);
        start = end;
    }
    out
}

/// Child ranges inside `parent`: each non-empty and within it, each
/// starting after the one before, overlapping it by up to
/// `CHILD_OVERLAP` characters, and together covering the parent.
pub fn children(text: &str, parent: Range<usize>) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = parent.start;
    while start < parent.end {
        let end = cut(text, start, parent.end, CHILD_CHARS);
        out.push(start..end);
        if end >= parent.end {
            break;
        }
        // Step back into this child for the overlap, to a word start when
        // there is one, but always past this child's start.
        let mut next = retreat(text, end, CHILD_OVERLAP).max(start);
        if let Some(i) = text[next..end].find(char::is_whitespace) {
            next += i;
        }
        start = if next > start { next } else { end };
    }
    out
}

/// Parents as trimmed text, each with its trimmed children; pieces that
/// are only whitespace are dropped.
pub fn split(text: &str) -> Vec<(String, Vec<String>)> {
    parents(text)
        .into_iter()
        .filter(|p| !text[p.clone()].trim().is_empty())
        .map(|p| {
            let kids = children(text, p.clone())
                .into_iter()
                .map(|c| text[c].trim().to_string())
                .filter(|c| !c.is_empty())
                .collect();
            (text[p].trim().to_string(), kids)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn doc() -> impl Strategy<Value = String> {
        // Words, sentences, line and paragraph breaks, and multi-byte text.
        proptest::collection::vec(
            prop_oneof![
                "[a-z]{1,12}",
                Just(" ".to_string()),
                Just(". ".to_string()),
                Just("\n".to_string()),
                Just("\n\n".to_string()),
                "[é漢字🙂]{1,5}",
                // Runs with no break in them force hard cuts.
                (200usize..400).prop_map(|n| "w".repeat(n)),
            ],
            0..250,
        )
        .prop_map(|v| v.concat())
    }

    #[test]
    fn paragraphs_are_preferred_breaks() {
        let para = "word ".repeat(200); // 1000 chars
        let text = format!("{para}\n\n{para}\n\n{para}");
        let ps = parents(&text);
        assert_eq!(ps.len(), 3, "{ps:?}");
        assert!(text[ps[0].clone()].ends_with("\n\n"));
        let pieces = split(&text);
        assert_eq!(pieces[0].0, para.trim());
        assert!(pieces[0].1.len() >= 4);
        assert!(split("").is_empty());
        assert!(split(" \n\n ").is_empty());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn parents_tile_the_text(text in doc()) {
            let ps = parents(&text);
            let mut at = 0;
            for p in &ps {
                prop_assert_eq!(p.start, at);
                prop_assert!(p.end > p.start);
                prop_assert!(text[p.clone()].chars().count() <= PARENT_CHARS);
                at = p.end;
            }
            prop_assert_eq!(at, text.len());
            let joined: String = ps.iter().map(|p| &text[p.clone()]).collect();
            prop_assert_eq!(joined, text);
        }

        #[test]
        fn children_lie_within_and_cover_their_parent(text in doc()) {
            for p in parents(&text) {
                let cs = children(&text, p.clone());
                prop_assert!(!cs.is_empty());
                prop_assert_eq!(cs[0].start, p.start);
                prop_assert_eq!(cs.last().map(|c| c.end), Some(p.end));
                for w in cs.windows(2) {
                    // Each starts later and leaves no gap.
                    prop_assert!(w[1].start > w[0].start);
                    prop_assert!(w[1].start <= w[0].end);
                }
                for c in &cs {
                    prop_assert!(c.start >= p.start && c.end <= p.end && c.end > c.start);
                    prop_assert!(text[c.clone()].chars().count() <= CHILD_CHARS);
                }
            }
        }

        #[test]
        fn every_word_reaches_some_parent_and_child(text in doc()) {
            let pieces = split(&text);
            let all_parents: String = pieces.iter().map(|(p, _)| p.as_str()).collect();
            let squash = |s: &str| s.split_whitespace().collect::<String>();
            prop_assert_eq!(squash(&all_parents), squash(&text));
            for (parent, kids) in &pieces {
                for k in kids {
                    prop_assert!(parent.contains(k.as_str()));
                }
            }
        }
    }
}
