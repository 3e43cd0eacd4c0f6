//! Turns a user's search text into an FTS5 query that can only ever mean
//! "all of these words".
//!
//! Each whitespace-separated word becomes an FTS5 string literal (double
//! quotes doubled), so operators, column filters, `NEAR`, `*` and
//! parentheses typed by the user are matched as text, never interpreted.

/// Longest search text accepted, in characters.
pub const MAX_QUERY_CHARS: usize = 200;

/// Why a search text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("the search text is empty")]
    Empty,
    #[error("the search text is longer than {MAX_QUERY_CHARS} characters")]
    TooLong,
}

/// A validated search: the words a user typed, each to be matched as a
/// phrase of the tokens it contains, all of them required. Backends render
/// it in their own syntax (FTS5 here, `tsquery` in `store::pg::search`), so
/// what a search means does not depend on the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchWords(Vec<String>);

impl SearchWords {
    /// Words with no letter or digit are dropped (they match nothing).
    /// Control characters separate words like spaces: FTS5 refuses a NUL
    /// inside a string, which was a 500 (found by schemathesis).
    pub fn parse(q: &str) -> Result<Self, QueryError> {
        if q.chars().count() > MAX_QUERY_CHARS {
            return Err(QueryError::TooLong);
        }
        let words: Vec<String> = q
            .split(|c: char| c.is_whitespace() || c.is_control())
            .filter(|w| w.chars().any(char::is_alphanumeric))
            .map(str::to_owned)
            .collect();
        if words.is_empty() {
            return Err(QueryError::Empty);
        }
        Ok(Self(words))
    }

    pub fn words(&self) -> &[String] {
        &self.0
    }

    /// The FTS5 MATCH expression: every word a quoted string literal,
    /// implicitly ANDed.
    pub fn fts5(&self) -> String {
        let quoted: Vec<String> = self
            .0
            .iter()
            .map(|w| format!("\"{}\"", w.replace('"', "\"\"")))
            .collect();
        quoted.join(" ")
    }
}

/// The FTS5 MATCH expression for `q`: every word quoted, implicitly ANDed.
pub fn fts_query(q: &str) -> Result<String, QueryError> {
    Ok(SearchWords::parse(q)?.fts5())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn words_are_quoted_and_syntax_is_inert() {
        assert_eq!(fts_query("hello world").unwrap(), "\"hello\" \"world\"");
        assert_eq!(
            fts_query("a\" OR text:* NEAR(").unwrap(),
            "\"a\"\"\" \"OR\" \"text:*\" \"NEAR(\""
        );
        assert_eq!(fts_query("  ").unwrap_err(), QueryError::Empty);
        assert_eq!(fts_query("* ( ) \"").unwrap_err(), QueryError::Empty);
        assert_eq!(
            fts_query(&"a".repeat(201)).unwrap_err(),
            QueryError::TooLong
        );
        assert!(fts_query(&"a".repeat(200)).is_ok());
        assert_eq!(fts_query("a\0b\u{1}c").unwrap(), "\"a\" \"b\" \"c\"");
    }

    /// Every quote inside a literal is doubled, so the expression splits
    /// back into exactly the literals we built.
    fn literals(expr: &str) -> Option<Vec<String>> {
        let mut out = Vec::new();
        let mut chars = expr.chars().peekable();
        loop {
            match chars.next() {
                None => return Some(out),
                Some(' ') => continue,
                Some('"') => {}
                Some(_) => return None,
            }
            let mut lit = String::new();
            loop {
                match chars.next()? {
                    '"' if chars.peek() == Some(&'"') => {
                        chars.next();
                        lit.push('"');
                    }
                    '"' => break,
                    c => lit.push(c),
                }
            }
            out.push(lit);
        }
    }

    proptest! {
        #[test]
        fn any_text_becomes_only_string_literals(q in "\\PC{0,200}") {
            if let Ok(expr) = fts_query(&q) {
                let lits = literals(&expr);
                prop_assert!(lits.is_some(), "{expr}");
                let words: Vec<&str> = q.split_whitespace()
                    .filter(|w| w.chars().any(char::is_alphanumeric)).collect();
                prop_assert_eq!(lits.unwrap(), words);
            }
        }
    }
}
