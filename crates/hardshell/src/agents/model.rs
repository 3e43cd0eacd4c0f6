//! What an agent is, and the rules for the fields people set: handles,
//! `provider/model` names, tool lists and budgets.
//!
//! Pure validation: nothing here touches the store or the network, so the
//! same rules hold for the API, the seed agent and the CLI.

use crate::store::agents::{AgentFields, Budgets};

/// Tools the runtime knows in this release (`agents::tools::REGISTRY`;
/// a unit test keeps the two lists equal).
pub const KNOWN_TOOLS: &[&str] = &[
    "memory_save",
    "memory_search",
    "knowledge_search",
    "call_agent",
    "web_fetch",
    "http_request",
    "file_read",
    "file_list",
    "file_write",
    "file_delete",
    "send_message",
    "shell",
    "bookmark_search",
    "bookmark_add",
];

/// Half the JSON body limit, so any valid SOUL.md fits in a request even
/// when every character needs escaping.
pub const MAX_SOUL_BYTES: usize = 32 * 1024;
const MAX_NAME_CHARS: usize = 60;
const MAX_DESCRIPTION_CHARS: usize = 500;
/// Smallest context a model may claim: the safety preamble and SOUL need room.
pub const MIN_CONTEXT_TOKENS: i64 = 1024;
pub const MAX_CONTEXT_TOKENS: i64 = 2_000_000;
/// Budget ceilings (the OpenAPI document states the same numbers).
pub const MAX_TOKENS_PER_TURN: i64 = 10_000_000;
pub const MAX_TOKENS_PER_CONVERSATION_DAY: i64 = 1_000_000_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldError {
    #[error(
        "handle must be 1-32 characters of a-z, 0-9, _ or -, starting with a letter or digit, and not `all`"
    )]
    Handle,
    #[error("name must be 1-60 characters")]
    Name,
    #[error("description must be at most 500 characters")]
    Description,
    #[error("model must be `provider/model`, e.g. `openai/gpt-4o-mini`")]
    Model,
    #[error("unknown tool `{0}`")]
    Tool(String),
    #[error("at most {} tools", KNOWN_TOOLS.len())]
    TooManyTools,
    #[error("context_tokens must be between 1024 and 2000000")]
    Context,
    #[error(
        "budgets must be positive: tokens_per_turn at most 10000000, tokens_per_conversation_day at most 1000000000, daily_spend_usd 0 to 1000000"
    )]
    Budget,
    #[error("SOUL.md must be at most 32 KiB of text without NUL bytes")]
    Soul,
    #[error("provider name must be 1-32 characters of a-z, 0-9, _ or -")]
    ProviderName,
}

impl FieldError {
    pub fn code(&self) -> &'static str {
        match self {
            FieldError::Handle => "invalid_handle",
            FieldError::Name => "invalid_name",
            FieldError::Description => "invalid_description",
            FieldError::Model => "invalid_model",
            FieldError::Tool(_) | FieldError::TooManyTools => "invalid_tool",
            FieldError::Context => "invalid_context_tokens",
            FieldError::Budget => "invalid_budgets",
            FieldError::Soul => "invalid_soul",
            FieldError::ProviderName => "invalid_provider_name",
        }
    }
}

/// `[a-z0-9][a-z0-9_-]{0,31}`: used for agent handles and provider names.
pub fn is_slug(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 32
        && b[0].is_ascii_lowercase() | b[0].is_ascii_digit()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_' || *c == b'-')
}

/// The length limits of a handle and a name as the caller sent them,
/// before the routes trim them (like every limit, they count what was
/// sent); `check_fields` then checks the trimmed values.
pub fn check_sent(handle: Option<&str>, name: Option<&str>) -> Result<(), FieldError> {
    if handle.is_some_and(|h| h.chars().count() > 32) {
        return Err(FieldError::Handle);
    }
    if name.is_some_and(|n| n.chars().count() > MAX_NAME_CHARS) {
        return Err(FieldError::Name);
    }
    Ok(())
}

pub fn check_handle(handle: &str) -> Result<(), FieldError> {
    if is_slug(handle) && handle != "all" {
        Ok(())
    } else {
        Err(FieldError::Handle)
    }
}

/// Longest model name after the provider, in bytes.
pub const MAX_MODEL_NAME_BYTES: usize = 200;

/// A parsed `provider/model`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelRef<'a> {
    pub provider: &'a str,
    pub model: &'a str,
}

/// Splits at the first slash: model names may contain slashes themselves
/// (`openrouter/meta-llama/llama-3.1-8b`).
pub fn parse_model(s: &str) -> Result<ModelRef<'_>, FieldError> {
    let (provider, model) = s.split_once('/').ok_or(FieldError::Model)?;
    let clean = |m: &str| {
        !m.is_empty()
            && m.len() <= MAX_MODEL_NAME_BYTES
            && m.chars().all(|c| !c.is_control() && !c.is_whitespace())
    };
    if is_slug(provider) && clean(model) {
        Ok(ModelRef { provider, model })
    } else {
        Err(FieldError::Model)
    }
}

fn check_text(s: &str, max: usize, err: FieldError, allow_empty: bool) -> Result<(), FieldError> {
    let n = s.chars().count();
    if (n == 0 && !allow_empty) || n > max || s.chars().any(|c| c.is_control()) {
        Err(err)
    } else {
        Ok(())
    }
}

pub fn check_soul(soul: &str) -> Result<(), FieldError> {
    if soul.len() > MAX_SOUL_BYTES || soul.contains('\0') {
        Err(FieldError::Soul)
    } else {
        Ok(())
    }
}

/// Checks every field of an agent as it would be stored.
pub fn check_fields(f: &AgentFields) -> Result<(), FieldError> {
    check_handle(&f.handle)?;
    check_text(f.name.trim(), MAX_NAME_CHARS, FieldError::Name, false)?;
    check_text(
        &f.description,
        MAX_DESCRIPTION_CHARS,
        FieldError::Description,
        true,
    )?;
    parse_model(&f.model)?;
    if f.tools.len() > KNOWN_TOOLS.len() {
        return Err(FieldError::TooManyTools);
    }
    for t in &f.tools {
        if !KNOWN_TOOLS.contains(&t.as_str()) {
            return Err(FieldError::Tool(t.clone()));
        }
    }
    if !(MIN_CONTEXT_TOKENS..=MAX_CONTEXT_TOKENS).contains(&f.context_tokens) {
        return Err(FieldError::Context);
    }
    let b = f.budgets;
    if !(1..=MAX_TOKENS_PER_TURN).contains(&b.tokens_per_turn)
        || !(1..=MAX_TOKENS_PER_CONVERSATION_DAY).contains(&b.tokens_per_conversation_day)
        || b.daily_spend_micros.is_some_and(|m| m < 0)
    {
        return Err(FieldError::Budget);
    }
    Ok(())
}

pub fn default_budgets() -> Budgets {
    Budgets {
        tokens_per_turn: 20_000,
        tokens_per_conversation_day: 200_000,
        daily_spend_micros: None,
    }
}

/// US dollars (as people type them) to millionths; refuses NaN, negatives
/// and absurd values.
pub fn usd_to_micros(usd: f64) -> Option<i64> {
    if usd.is_finite() && (0.0..=1_000_000.0).contains(&usd) {
        Some((usd * 1_000_000.0).round() as i64)
    } else {
        None
    }
}

pub fn micros_to_usd(m: i64) -> f64 {
    m as f64 / 1_000_000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn handles() {
        for ok in ["helper", "a", "r2-d2", "x_y", "0day"] {
            assert!(check_handle(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "all",
            "Helper",
            "-x",
            "a b",
            "a/b",
            "émile",
            &"a".repeat(33),
        ] {
            assert!(check_handle(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn models() {
        let m = parse_model("openrouter/meta-llama/llama-3.1-8b").unwrap();
        assert_eq!(m.provider, "openrouter");
        assert_eq!(m.model, "meta-llama/llama-3.1-8b");
        for bad in [
            "gpt-4o",
            "/gpt",
            "openai/",
            "Open/x",
            "openai/a b",
            "openai/\u{7}",
        ] {
            assert!(parse_model(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn budgets_past_their_ceilings_are_refused() {
        let fields = |b: Budgets| AgentFields {
            handle: "helper".into(),
            name: "Helper".into(),
            description: String::new(),
            model: "openai/m".into(),
            tools: Vec::new(),
            memory: true,
            knowledge: true,
            context_tokens: 8192,
            budgets: b,
            disabled: false,
        };
        let ok = default_budgets();
        assert!(check_fields(&fields(ok)).is_ok());
        for bad in [
            Budgets {
                tokens_per_turn: 0,
                ..ok
            },
            Budgets {
                tokens_per_turn: MAX_TOKENS_PER_TURN + 1,
                ..ok
            },
            Budgets {
                tokens_per_conversation_day: MAX_TOKENS_PER_CONVERSATION_DAY + 1,
                ..ok
            },
            Budgets {
                tokens_per_conversation_day: -1,
                ..ok
            },
            Budgets {
                daily_spend_micros: Some(-1),
                ..ok
            },
        ] {
            assert_eq!(
                check_fields(&fields(bad)),
                Err(FieldError::Budget),
                "{bad:?}"
            );
        }
        let top = Budgets {
            tokens_per_turn: MAX_TOKENS_PER_TURN,
            tokens_per_conversation_day: MAX_TOKENS_PER_CONVERSATION_DAY,
            ..ok
        };
        assert!(check_fields(&fields(top)).is_ok());
    }

    #[test]
    fn a_tool_list_longer_than_the_known_tools_is_refused() {
        let mut f = AgentFields {
            handle: "helper".into(),
            name: "Helper".into(),
            description: String::new(),
            model: "openai/m".into(),
            tools: KNOWN_TOOLS.iter().map(|t| t.to_string()).collect(),
            memory: true,
            knowledge: true,
            context_tokens: 8192,
            budgets: default_budgets(),
            disabled: false,
        };
        assert!(check_fields(&f).is_ok());
        f.tools.push("shell".into());
        assert_eq!(check_fields(&f), Err(FieldError::TooManyTools));
    }

    #[test]
    fn money() {
        assert_eq!(usd_to_micros(1.5), Some(1_500_000));
        assert_eq!(usd_to_micros(-1.0), None);
        assert_eq!(usd_to_micros(f64::NAN), None);
    }

    proptest! {
        #[test]
        fn parse_model_never_panics_and_round_trips(s in "\\PC{0,80}") {
            if let Ok(m) = parse_model(&s) {
                prop_assert_eq!(format!("{}/{}", m.provider, m.model), s);
            }
        }
    }
}
