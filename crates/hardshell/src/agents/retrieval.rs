//! Shared pieces of memory and knowledge retrieval: the FTS5 query built
//! from free text, cosine similarity, and the query embedding.
//!
//! The FTS5 expression is only ever a disjunction of string literals, so
//! nothing a user or a model writes is interpreted as FTS5 syntax. An
//! embedding failure is never an error here: retrieval falls back to BM25.

use super::providers::SharedProvider;

/// Words of a query that reach FTS5; retrieval queries can be whole
/// messages, and the best words are usually early.
pub const MAX_QUERY_WORDS: usize = 32;
/// Longest single word kept, in characters.
const MAX_WORD_CHARS: usize = 64;

/// A retrieval query: the distinct words of free text (at most
/// `MAX_QUERY_WORDS`, each cut to `MAX_WORD_CHARS`), any of which may
/// match; rows matching more words rank higher. Each word is matched as a
/// phrase of the tokens it contains, like `chat::search::SearchWords`, but
/// ORed rather than ANDed. Backends render it in their own syntax (FTS5
/// here, `tsquery` in `store::pg::search`); no word is ever interpreted as
/// query syntax.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnyWords(Vec<String>);

impl AnyWords {
    /// The words of `q`, or `None` when it has none. Control characters
    /// separate words (FTS5 refuses a NUL inside a string); words without
    /// a letter or digit are dropped; repeats (in any case) count once.
    pub fn parse(q: &str) -> Option<Self> {
        let mut seen = std::collections::HashSet::new();
        let words: Vec<String> = q
            .split(|c: char| c.is_whitespace() || c.is_control())
            .filter(|w| w.chars().any(char::is_alphanumeric))
            .map(|w| w.chars().take(MAX_WORD_CHARS).collect::<String>())
            .filter(|w| seen.insert(w.to_lowercase()))
            .take(MAX_QUERY_WORDS)
            .collect();
        (!words.is_empty()).then_some(Self(words))
    }

    pub fn words(&self) -> &[String] {
        &self.0
    }

    /// The FTS5 MATCH expression: every word a quoted string literal,
    /// ORed (BM25 ranks the rows that match more words higher).
    pub fn fts5(&self) -> String {
        let quoted: Vec<String> = self
            .0
            .iter()
            .map(|w| format!("\"{}\"", w.replace('"', "\"\"")))
            .collect();
        quoted.join(" OR ")
    }
}

/// The FTS5 expression matching any word of `q`, or `None` when `q` has
/// no word (`AnyWords::parse(q)` rendered for FTS5).
#[cfg(test)]
fn fts_any(q: &str) -> Option<String> {
    AnyWords::parse(q).map(|w| w.fts5())
}

/// Cosine similarity; `None` when the lengths differ (another embedding
/// model), a vector is zero, or a value is not finite.
pub fn cosine(a: &[f32], b: &[f32]) -> Option<f32> {
    if a.len() != b.len() || a.is_empty() {
        return None;
    }
    let (mut dot, mut na, mut nb) = (0f64, 0f64, 0f64);
    for (x, y) in a.iter().zip(b) {
        let (x, y) = (f64::from(*x), f64::from(*y));
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    let s = dot / (na.sqrt() * nb.sqrt());
    #[allow(clippy::cast_possible_truncation)]
    s.is_finite().then_some(s as f32)
}

/// The query's embedding, or `None` (logged at debug) when there is no
/// embedder or it fails.
pub async fn embed_query(embedder: Option<&SharedProvider>, query: &str) -> Option<Vec<f32>> {
    let provider = embedder?;
    match provider.embed(vec![query.to_string()]).await {
        Ok(mut v) if v.len() == 1 => v.pop().filter(|e| !e.is_empty()),
        Ok(v) => {
            tracing::debug!(got = v.len(), "embeddings: unexpected count for a query");
            None
        }
        Err(e) => {
            tracing::debug!(code = e.code(), "embeddings unavailable; using BM25 only");
            None
        }
    }
}

/// A provider for unit tests whose embeddings put synonyms together:
/// dimension 0 counts coffee words, 1 cat words, 2 every other word. It
/// counts its embed calls; `failing` makes every call fail.
#[cfg(test)]
pub(crate) mod testing {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use futures_util::future::BoxFuture;

    use crate::agents::providers::{
        CallLimits, ChatRequest, EventStream, Provider, ProviderConfig, ProviderError,
        ProviderKind, SharedProvider,
    };

    pub struct Synonyms {
        config: ProviderConfig,
        pub calls: AtomicUsize,
        failing: bool,
    }

    pub fn synonyms(failing: bool) -> (Arc<Synonyms>, SharedProvider) {
        let p = Arc::new(Synonyms {
            config: ProviderConfig {
                name: "fake".into(),
                kind: ProviderKind::Openai,
                base_url: "http://127.0.0.1:9".into(),
                api_key: None,
                embedding_model: Some("fake-embed".into()),
                limits: CallLimits::default(),
            },
            calls: AtomicUsize::new(0),
            failing,
        });
        let shared: SharedProvider = p.clone();
        (p, shared)
    }

    pub fn vector(text: &str) -> Vec<f32> {
        let mut v = vec![0f32; 3];
        for w in text.to_lowercase().split(|c: char| !c.is_alphanumeric()) {
            match w {
                "" => {}
                "coffee" | "espresso" | "latte" => v[0] += 1.0,
                "cat" | "kitten" | "feline" => v[1] += 1.0,
                _ => v[2] += 0.1,
            }
        }
        v
    }

    impl Provider for Synonyms {
        fn config(&self) -> &ProviderConfig {
            &self.config
        }
        fn stream(&self, _: ChatRequest) -> BoxFuture<'_, Result<EventStream, ProviderError>> {
            Box::pin(async { Err(ProviderError::Protocol("not a chat model".into())) })
        }
        fn list_models(&self) -> BoxFuture<'_, Result<Vec<String>, ProviderError>> {
            Box::pin(async { Ok(Vec::new()) })
        }
        fn embed(
            &self,
            inputs: Vec<String>,
        ) -> BoxFuture<'_, Result<Vec<Vec<f32>>, ProviderError>> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let failing = self.failing;
            Box::pin(async move {
                if failing {
                    return Err(ProviderError::NoEmbeddings);
                }
                Ok(inputs.iter().map(|t| vector(t)).collect())
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn words_are_quoted_and_ored() {
        assert_eq!(fts_any("tea time").unwrap(), "\"tea\" OR \"time\"");
        assert_eq!(fts_any("tea\0time").unwrap(), "\"tea\" OR \"time\"");
        assert_eq!(
            fts_any("a\" OR x:* NEAR( a\"").unwrap(),
            "\"a\"\"\" OR \"OR\" OR \"x:*\" OR \"NEAR(\""
        );
        assert!(fts_any(" * ( ) ").is_none());
        let long = "w ".repeat(100) + &(0..100).map(|i| format!("w{i} ")).collect::<String>();
        assert_eq!(
            fts_any(&long).unwrap().matches(" OR ").count(),
            MAX_QUERY_WORDS - 1
        );
    }

    #[test]
    fn cosine_basics() {
        assert!((cosine(&[1.0, 0.0], &[2.0, 0.0]).unwrap() - 1.0).abs() < 1e-6);
        assert!(cosine(&[1.0, 0.0], &[0.0, 1.0]).unwrap().abs() < 1e-6);
        assert!(cosine(&[1.0], &[1.0, 2.0]).is_none());
        assert!(cosine(&[0.0, 0.0], &[1.0, 2.0]).is_none());
        assert!(cosine(&[], &[]).is_none());
    }

    proptest! {
        #[test]
        fn expression_is_only_quoted_literals(q in "\\PC{0,300}") {
            if let Some(expr) = fts_any(&q) {
                for part in expr.split(" OR ") {
                    prop_assert!(part.len() >= 2 && part.starts_with('"') && part.ends_with('"'));
                    let inner = &part[1..part.len() - 1];
                    // Every quote inside is doubled.
                    prop_assert!(!inner.replace("\"\"", "").contains('"'), "{}", part);
                }
            }
        }
    }
}
