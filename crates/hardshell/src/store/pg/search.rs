//! Full-text search on PostgreSQL: a `chat::search::SearchWords` as a
//! `tsquery` over the generated `search` columns (0003 and later).
//!
//! Each word becomes `phraseto_tsquery('simple', search_fold($n))`, the
//! twin of an FTS5 string literal (a phrase of the tokens in the word),
//! and the words are ANDed, as FTS5 does for literals side by side. The
//! words travel as bind parameters; no user text is ever spliced into SQL.

use crate::agents::retrieval::AnyWords;
use crate::chat::search::SearchWords;

/// The `tsquery` expression for `words`, numbering its parameters from
/// `$first`, and the parameters to bind in that order.
pub(crate) fn tsquery(words: &SearchWords, first: usize) -> (String, Vec<String>) {
    let parts: Vec<String> = (0..words.words().len())
        .map(|i| format!("phraseto_tsquery('simple', search_fold(${}))", first + i))
        .collect();
    (format!("({})", parts.join(" && ")), words.words().to_vec())
}

/// The `tsquery` expression matching any of `words` (retrieval: memories,
/// knowledge), numbering its parameters from `$first`, and the parameters.
/// Each word is a phrase as in `tsquery`, the words ORed.
pub(crate) fn tsquery_any(words: &AnyWords, first: usize) -> (String, Vec<String>) {
    let parts: Vec<String> = (0..words.words().len())
        .map(|i| format!("phraseto_tsquery('simple', search_fold(${}))", first + i))
        .collect();
    (format!("({})", parts.join(" || ")), words.words().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_become_numbered_parameters_never_sql() {
        let words = SearchWords::parse("hello 'x); DROP TABLE users; --").unwrap();
        let (sql, params) = tsquery(&words, 3);
        assert_eq!(
            sql,
            "(phraseto_tsquery('simple', search_fold($3)) && \
             phraseto_tsquery('simple', search_fold($4)) && \
             phraseto_tsquery('simple', search_fold($5)) && \
             phraseto_tsquery('simple', search_fold($6)) && \
             phraseto_tsquery('simple', search_fold($7)))"
        );
        assert_eq!(params, ["hello", "'x);", "DROP", "TABLE", "users;"]);
    }

    #[test]
    fn any_words_are_ored_parameters_never_sql() {
        let words = AnyWords::parse("tea 'x); DROP tea").unwrap();
        let (sql, params) = tsquery_any(&words, 2);
        assert_eq!(
            sql,
            "(phraseto_tsquery('simple', search_fold($2)) || \
             phraseto_tsquery('simple', search_fold($3)) || \
             phraseto_tsquery('simple', search_fold($4)))"
        );
        assert_eq!(params, ["tea", "'x);", "DROP"]);
    }
}
