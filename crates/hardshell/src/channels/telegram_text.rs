//! Agent replies as Telegram MarkdownV2: escaped so that Telegram shows
//! exactly the text the agent wrote, code kept as code, and split into
//! messages that fit Telegram's limit.
//!
//! Outside code every character MarkdownV2 reserves is escaped, so a reply
//! can never smuggle in a link or formatting the agent did not mean as
//! text. Inside fenced blocks and inline code only `` ` `` and `\` are
//! escaped (what the Bot API requires there). Pure functions; no I/O.

/// Telegram's limit per message, in UTF-16 code units (counted on the
/// escaped text, which is never shorter than what Telegram counts).
pub const MAX_MESSAGE: usize = 4096;

const SPECIAL: &str = "_*[]()~`>#+-=|{}.!\\";

fn escape_plain(s: &str, out: &mut String) {
    for c in s.chars() {
        if SPECIAL.contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
}

fn escape_code(s: &str, out: &mut String) {
    for c in s.chars() {
        if c == '`' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
}

/// One line outside a fenced block: `inline code` kept, the rest escaped.
/// An odd number of backticks means they are not code: all escaped.
fn escape_line(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + 8);
    if line.matches('`').count() % 2 == 1 {
        escape_plain(line, &mut out);
        return out;
    }
    for (i, part) in line.split('`').enumerate() {
        if i % 2 == 1 {
            out.push('`');
            escape_code(part, &mut out);
            out.push('`');
        } else {
            escape_plain(part, &mut out);
        }
    }
    out
}

fn is_fence(line: &str) -> bool {
    line.trim_start().starts_with("```")
}

fn units(s: &str) -> usize {
    s.encode_utf16().count()
}

/// Splits `s` into pieces whose escaped form (by `esc`) fits `budget`,
/// cutting at character boundaries only.
fn hard_split(s: &str, budget: usize, esc: &dyn Fn(&str) -> String) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for c in s.chars() {
        let mut next = cur.clone();
        next.push(c);
        if units(&esc(&next)) > budget && !cur.is_empty() {
            out.push(esc(&cur));
            cur = c.to_string();
        } else {
            cur = next;
        }
    }
    if !cur.is_empty() || out.is_empty() {
        out.push(esc(&cur));
    }
    out
}

/// The reply as MarkdownV2 messages, each at most `MAX_MESSAGE` units.
pub fn render(text: &str) -> Vec<String> {
    render_with(text, MAX_MESSAGE)
}

/// `render` with a given limit (tests use small ones).
pub fn render_with(text: &str, limit: usize) -> Vec<String> {
    const FENCE_COST: usize = 8; // "```\n" to reopen and "\n```" to close
    let budget = limit.saturating_sub(FENCE_COST).max(16);
    let mut messages: Vec<String> = Vec::new();
    let mut cur = String::new();
    let mut in_code = false;
    let mut push_line = |line: String, in_code: bool, cur: &mut String| {
        let needed = units(cur) + units(&line) + usize::from(!cur.is_empty());
        if needed > budget && !cur.is_empty() {
            if in_code {
                cur.push_str("\n```");
            }
            messages.push(std::mem::take(cur));
            if in_code {
                cur.push_str("```");
            }
        }
        if !cur.is_empty() {
            cur.push('\n');
        }
        cur.push_str(&line);
    };
    for line in text.lines() {
        if is_fence(line) {
            // The fence line itself: the language tag is code-escaped.
            let mut f = String::from("```");
            escape_code(line.trim_start().trim_start_matches('`'), &mut f);
            push_line(f, in_code, &mut cur);
            in_code = !in_code;
            continue;
        }
        let esc: &dyn Fn(&str) -> String = if in_code {
            &|s: &str| {
                let mut o = String::new();
                escape_code(s, &mut o);
                o
            }
        } else {
            &escape_line
        };
        let escaped = esc(line);
        if units(&escaped) <= budget {
            push_line(escaped, in_code, &mut cur);
        } else {
            for piece in hard_split(line, budget, esc) {
                push_line(piece, in_code, &mut cur);
            }
        }
    }
    if in_code {
        cur.push_str("\n```");
    }
    if !cur.trim().is_empty() {
        messages.push(cur);
    }
    messages
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specials_are_escaped_outside_code() {
        assert_eq!(
            render("Hi! 1+1=2. [link](http://x) *b* _i_ ~s~ >q #h {x} |p| a-b"),
            vec![
                "Hi\\! 1\\+1\\=2\\. \\[link\\]\\(http://x\\) \\*b\\* \\_i\\_ \\~s\\~ \\>q \\#h \\{x\\} \\|p\\| a\\-b"
            ]
        );
        assert_eq!(render("back\\slash"), vec!["back\\\\slash"]);
    }

    #[test]
    fn code_keeps_its_text_and_escapes_only_backticks_and_backslashes() {
        assert_eq!(render("run `a.b()` now"), vec!["run `a.b()` now"]);
        assert_eq!(
            render("```rust\nlet x = a\\b;\n```"),
            vec!["```rust\nlet x = a\\\\b;\n```"]
        );
        // An unpaired backtick is plain text.
        assert_eq!(render("it`s"), vec!["it\\`s"]);
    }

    #[test]
    fn long_replies_split_under_the_limit_and_lose_nothing() {
        let text: String = (0..500)
            .map(|i| format!("line {i}. "))
            .collect::<Vec<_>>()
            .join("\n");
        let parts = render(&text);
        assert!(parts.len() > 1);
        for p in &parts {
            assert!(units(p) <= MAX_MESSAGE, "{}", units(p));
        }
        let joined = parts.join("\n").replace('\\', "");
        assert_eq!(joined, text);
    }

    #[test]
    fn a_single_huge_line_is_cut_without_breaking_an_escape() {
        let text = ".".repeat(10_000);
        let parts = render_with(&text, 100);
        for p in &parts {
            assert!(units(p) <= 100);
            assert!(
                !p.ends_with('\\') || p.ends_with("\\\\"),
                "cut inside an escape"
            );
            assert_eq!(p.len() % 2, 0, "every dot carries its backslash");
        }
        assert_eq!(parts.concat().replace('\\', ""), text);
    }

    #[test]
    fn a_code_block_split_across_messages_is_closed_and_reopened() {
        let body: String = (0..40)
            .map(|i| format!("x{i}"))
            .collect::<Vec<_>>()
            .join("\n");
        let parts = render_with(&format!("```\n{body}\n```"), 60);
        assert!(parts.len() > 1);
        for p in &parts {
            assert!(p.starts_with("```"), "{p}");
            assert!(p.ends_with("```"), "{p}");
            assert!(units(p) <= 60);
        }
    }

    /// Removes MarkdownV2 escapes (text without code only).
    fn unescape(s: &str) -> String {
        let mut out = String::new();
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            } else {
                out.push(c);
            }
        }
        out
    }

    /// Whether every reserved character is escaped (text without code).
    fn fully_escaped(s: &str) -> bool {
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                if chars.next().is_none() {
                    return false;
                }
            } else if SPECIAL.contains(c) {
                return false;
            }
        }
        true
    }

    proptest::proptest! {
        #[test]
        fn any_text_fits_is_escaped_and_round_trips(
            text in "[a-zA-Z0-9 _*\\[\\]()~>#+=|{}.!\\-\\\\\n\u{e9}\u{1f600}]{0,400}",
            limit in 40usize..200,
        ) {
            let parts = render_with(&text, limit);
            for p in &parts {
                proptest::prop_assert!(units(p) <= limit, "{} > {limit}", units(p));
                proptest::prop_assert!(fully_escaped(p), "unescaped: {p:?}");
            }
            // Lines that fit are never cut, so every line comes back in
            // order (blank lines may go: Telegram trims them anyway).
            let budget = limit - 8;
            if text.lines().all(|l| units(&escape_line(l)) <= budget) {
                let back: Vec<String> = parts
                    .iter()
                    .flat_map(|p| unescape(p).lines().map(str::to_string).collect::<Vec<_>>())
                    .filter(|l| !l.trim().is_empty())
                    .collect();
                let want: Vec<String> = text
                    .lines()
                    .filter(|l| !l.trim().is_empty())
                    .map(str::to_string)
                    .collect();
                proptest::prop_assert_eq!(back, want);
            }
        }
    }
}
