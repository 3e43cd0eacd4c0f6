//! The rule table: every injection pattern the scanner knows, with its family
//! and weight.
//!
//! Owns: the phrases (matched with aho-corasick) and the small set of regexes,
//! written in plain English and folded the same way the text is. Must never
//! hold a rule that fires on one ordinary word: single words ("ignore",
//! "system", "Dan") are not evidence, phrases and structures are.

/// Rule families, as reported in findings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Family {
    Override,
    RoleHijack,
    Extraction,
    Template,
    Delimiter,
    ToolInjection,
    Exfiltration,
    Jailbreak,
    Obfuscation,
}

impl Family {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Family::Override => "instruction_override",
            Family::RoleHijack => "role_hijack",
            Family::Extraction => "prompt_extraction",
            Family::Template => "template_tokens",
            Family::Delimiter => "delimiter_forgery",
            Family::ToolInjection => "tool_injection",
            Family::Exfiltration => "secret_exfiltration",
            Family::Jailbreak => "jailbreak_persona",
            Family::Obfuscation => "obfuscation",
        }
    }
}

/// Which normalised view a rule matches on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ViewKind {
    /// Folded words separated by single spaces.
    Words,
    /// Folded words with no separators (letter-spacing tricks). Phrases
    /// only: they run over the words view with its spaces skipped.
    Squeezed,
    /// Lowercased text with punctuation kept (tokens, tags, headers).
    Tokens,
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum Matcher {
    Phrases(&'static [&'static str]),
    Regex(&'static str),
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct RuleDef {
    pub id: &'static str,
    pub family: Family,
    /// Evidence weight; the verdict flags at a summed score of 1.0.
    pub weight: f32,
    pub view: ViewKind,
    pub matcher: Matcher,
    /// The last word of the match must have no lowercase letters in the
    /// original text ("DAN" the persona, not "Dan" the colleague).
    pub caps_last_word: bool,
    /// Skipped when directly preceded by a negation ("never reveal your
    /// API keys" is advice, not a request) or by a reporting frame ("tells
    /// the model to ignore previous instructions" describes an attack).
    pub negatable: bool,
}

const fn rule(
    id: &'static str,
    family: Family,
    weight: f32,
    view: ViewKind,
    matcher: Matcher,
) -> RuleDef {
    RuleDef {
        id,
        family,
        weight,
        view,
        matcher,
        caps_last_word: false,
        negatable: false,
    }
}

const fn negatable(r: RuleDef) -> RuleDef {
    RuleDef {
        negatable: true,
        ..r
    }
}

use std::sync::LazyLock;

#[cfg(test)]
use Family::*;

// Shared vocabulary for the words-view regexes (folded at compile time).
macro_rules! override_verb {
    () => {
        r"(?:ignore|ignoring|disregard|disregarding|forget|forgetting|skip|override|overriding|bypass|drop|discard|abandon|neglect|ditch|scrap|set aside|put aside|cast aside|cast off|push aside|brush aside|throw out|throw away|toss out|leave behind|let go of|move past|pay no attention to|pay no heed to|do not pay attention to|don t pay attention to|stop paying attention to|do not follow|don t follow|must not follow|should not follow|shall not follow|stop following|no longer follow|stop obeying|no longer obey|do not obey|don t obey|stop listening to|stop heeding|stop adhering to|stop complying with|cancel|erase|nullify|void|delete|clear|wipe|dismiss|overrule|forgo|unlearn)"
    };
}
macro_rules! prior_qualifier {
    () => {
        r"(?:previous|previously|prior|above|earlier|preceding|former|initial|original|existing|system|all|any|every|your|those|these|given|default|developer|hidden|foregoing|aforementioned)"
    };
}
macro_rules! instruction_object {
    () => {
        r"(?:instructions?|rules?|directions?|directives?|guidelines?|prompts?|commands?|constraints?|guidance|context|programming|restrictions?|policies|policy|limitations?|filters?|safeguards?|guardrails?|configuration|conditioning|system message|messages|ethics|principles|protocols?|boundaries)"
    };
}
macro_rules! privileged_source {
    () => {
        r"(?:developer|developers|operator|operators|creator|creators|admin|administrator|system|owner|owners|company|programmer|programmers|maker|makers)"
    };
}
macro_rules! secret_object {
    () => {
        r"(?:api keys?|apikeys?|secret keys?|access keys?|access tokens?|auth tokens?|bearer tokens?|session tokens?|session cookies?|cookies|passwords?|passphrases?|credentials?|secrets?|private keys?|ssh keys?|id rsa|aws keys?|aws credentials|tokens|env vars|environment variables|env files?|dotenv|vault (?:contents|secrets|entries)|keychain|credit card (?:numbers?|details)|seed phrases?|recovery phrases?|mnemonic|2fa codes?|one time codes?|otp codes?|conversation history|chat history|private data)"
    };
}

mod actions;
mod conversation;

/// Every rule, in one table; engine indexes refer to positions in it.
pub(crate) static RULES: LazyLock<Vec<RuleDef>> =
    LazyLock::new(|| [conversation::RULES, actions::RULES].concat());

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_ids_are_unique_and_weights_sane() {
        let mut ids: Vec<&str> = RULES.iter().map(|r| r.id).collect();
        ids.sort_unstable();
        let before = ids.len();
        ids.dedup();
        assert_eq!(before, ids.len());
        assert!(RULES.iter().all(|r| r.weight > 0.0 && r.weight <= 1.0));
    }

    #[test]
    fn every_family_has_rules() {
        for f in [
            Override,
            RoleHijack,
            Extraction,
            Template,
            Delimiter,
            ToolInjection,
            Exfiltration,
            Jailbreak,
        ] {
            assert!(RULES.iter().any(|r| r.family == f), "{f:?}");
        }
    }
}
