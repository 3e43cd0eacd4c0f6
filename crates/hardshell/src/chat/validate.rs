//! Input rules for conversations and messages, and the step that turns a
//! message's Markdown into stored HTML and mentions. No HTTP, no SQL.

use super::{markdown, mentions};
use crate::store::chat::Ref;

/// Longest conversation title, in characters as sent.
pub const MAX_TITLE_CHARS: usize = 120;
/// Longest message text, in characters.
pub const MAX_TEXT_CHARS: usize = 16_000;
/// Most attachments on one message.
pub const MAX_ATTACHMENTS: usize = 10;

/// A trimmed title of 1..=120 characters (counted as sent) without
/// control characters.
pub fn title(raw: &str) -> Result<String, String> {
    let t = raw.trim();
    if t.is_empty() || raw.chars().count() > MAX_TITLE_CHARS {
        return Err(format!("a title is 1 to {MAX_TITLE_CHARS} characters"));
    }
    if t.chars().any(char::is_control) {
        return Err("a title cannot contain control characters".into());
    }
    Ok(t.to_string())
}

/// Message text: at most 16000 characters, and not blank unless the
/// message carries attachments. Returned as written (Markdown cares about
/// leading spaces), minus trailing whitespace.
pub fn text(raw: &str, has_attachments: bool) -> Result<String, String> {
    if raw.chars().count() > MAX_TEXT_CHARS {
        return Err(format!("a message is at most {MAX_TEXT_CHARS} characters"));
    }
    if raw.trim().is_empty() && !has_attachments {
        return Err("a message needs text or an attachment".into());
    }
    if raw.contains('\0') {
        return Err("a message cannot contain NUL characters".into());
    }
    Ok(raw.trim_end().to_string())
}

/// The sanitised HTML and resolved mentions for `text` in a conversation
/// with these `members`.
pub fn render_message(text: &str, members: &[Ref]) -> (String, Vec<Ref>) {
    // Plain prose has no `@` or `&`, so it cannot mention anyone.
    if let Some(html) = markdown::render_plain(text) {
        return (html, Vec::new());
    }
    let tokens = mentions::find(text);
    let refs = mentions::resolve(&tokens, members);
    let handles = mentions::resolved_handles(&tokens, members);
    (markdown::render(text, &handles), refs)
}

/// Attachment ids in order without duplicates; at most `MAX_ATTACHMENTS`
/// as sent (repeats count, so the documented `maxItems` holds).
pub fn attachments(ids: &[String]) -> Result<Vec<String>, String> {
    if ids.len() > MAX_ATTACHMENTS {
        return Err(format!("at most {MAX_ATTACHMENTS} attachments"));
    }
    let mut out: Vec<String> = Vec::with_capacity(ids.len());
    for id in ids {
        if !out.contains(id) {
            out.push(id.clone());
        }
    }
    if out.len() > MAX_ATTACHMENTS {
        return Err(format!("at most {MAX_ATTACHMENTS} attachments"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_are_trimmed_and_bounded() {
        assert_eq!(title("  Team ").unwrap(), "Team");
        assert!(title("   ").is_err());
        assert!(title(&"x".repeat(121)).is_err());
        assert!(title(&"é".repeat(120)).is_ok());
        assert!(title("a\u{7}b").is_err());
        assert!(title("a\nb").is_err());
    }

    #[test]
    fn text_limits() {
        assert!(text("", false).is_err());
        assert!(text(" \n ", false).is_err());
        assert_eq!(text(" \n ", true).unwrap(), "");
        assert!(text(&"x".repeat(16_000), false).is_ok());
        assert!(text(&"x".repeat(16_001), false).is_err());
        assert!(text("a\0b", false).is_err());
        assert_eq!(text("    code\n", false).unwrap(), "    code");
    }

    #[test]
    fn mentions_render_only_members() {
        let members = vec![Ref::User {
            id: 2,
            name: "bob".into(),
        }];
        let (html, refs) = render_message("hi @Bob and @eve", &members);
        assert_eq!(refs, members);
        assert!(html.contains("<span class=\"mention\">@Bob</span>"));
        assert!(!html.contains("@eve</span>"));
    }

    #[test]
    fn plain_and_marked_up_text_render_the_same_either_way() {
        let members = vec![Ref::User {
            id: 2,
            name: "bob".into(),
        }];
        for t in [
            "just words, nothing else",
            "hi @bob",
            "&#64;bob hi",
            "**@bob**",
        ] {
            let tokens = mentions::find(t);
            let full = (
                markdown::render(t, &mentions::resolved_handles(&tokens, &members)),
                mentions::resolve(&tokens, &members),
            );
            assert_eq!(render_message(t, &members), full, "{t}");
        }
        // A mention spelled as an entity still resolves (full path).
        assert_eq!(render_message("&#64;bob hi", &members).1, members);
    }

    #[test]
    fn attachments_are_deduplicated_and_bounded() {
        let ids: Vec<String> = (0..11).map(|i| format!("u{i}")).collect();
        assert!(attachments(&ids).is_err());
        let dup = vec!["a".to_string(), "a".to_string()];
        assert_eq!(attachments(&dup).unwrap(), ["a"]);
        // Repeats count towards the limit: eleven copies of one id are refused.
        let repeated = vec!["a".to_string(); MAX_ATTACHMENTS + 1];
        assert!(attachments(&repeated).is_err());
    }
}
