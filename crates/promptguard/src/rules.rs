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
    /// Cyrillic, Chinese, Japanese and Korean with every separator removed
    /// (`normalize/dense.rs`). Phrases and sequences only.
    Dense,
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum Matcher {
    Phrases(&'static [&'static str]),
    Regex(&'static str),
    /// Every combination of one entry per slot, joined by spaces, as
    /// phrases ("" makes a slot optional). For languages whose rules are
    /// long lists of inflected forms, in views that have no regexes.
    Seq(&'static [&'static [&'static str]]),
}

/// The phrases a `Seq` stands for.
pub(crate) fn expand_seq(slots: &[&[&str]]) -> Vec<String> {
    let mut out = vec![String::new()];
    for slot in slots {
        let mut next = Vec::with_capacity(out.len() * slot.len());
        for head in &out {
            for part in *slot {
                let joined = match (head.is_empty(), part.is_empty()) {
                    (true, _) => (*part).to_string(),
                    (false, true) => head.clone(),
                    (false, false) => format!("{head} {part}"),
                };
                next.push(joined);
            }
        }
        out = next;
    }
    out.retain(|p| !p.is_empty());
    out.sort_unstable();
    out.dedup();
    out
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

/// The persona name must be in capitals ("DAN", not "Dan").
const fn caps(r: RuleDef) -> RuleDef {
    RuleDef {
        caps_last_word: true,
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

macro_rules! persona_noun {
    () => {
        r"(?:ai|assistant|model|bot|chatbot|llm|language model|version of yourself|version of you|persona|character|entity|terminal|shell|oracle|genie|servant|advisor|mentor|expert|hacker|sysadmin|admin|criminal|villain|person|someone|somebody|being|program|machine|robot|android|system|agent|intelligence|gpt)"
    };
}
macro_rules! unbound {
    () => {
        r"(?:no|without|free of|free from|freed from|unbound by|not bound by|zero|beyond|liberated from|released from) (?:\w+ ){0,2}?(?:restrictions|rules|limits|limitations|filters|guidelines|ethics|morals|morality|policies|censorship|boundaries|constraints|safeguards|guardrails|content policy|programming)\b"
    };
}
/// Restrictions that only an AI (or a conscience) has: "a chemist with no
/// moral limits", not "pirates with no rules".
macro_rules! unbound_strong {
    () => {
        r"(?:no|without|free of|free from|freed from|unbound by|not bound by|zero|beyond|liberated from|released from) (?:any |all |the |its |your )?(?:(?:moral|ethical|safety|content|legal) (?:\w+ )?(?:restrictions|rules|limits|limitations|filters|guidelines|policies|boundaries|constraints|qualms|compass)|content policy|guardrails|safeguards|censorship|filters|ethics|morals|morality|conscience)\b"
    };
}
/// What the model was set up with, under any name.
macro_rules! own_setup {
    () => {
        r"(?:instructions|guidelines|rules|directions|directives|guidance|constraints|restrictions|programming|configuration|config|setup|brief|briefing|prompt|system prompt|mandate|script|playbook|orders)"
    };
}
/// "…you started with", "…from your operator", "…your owner wrote".
macro_rules! given_to_you {
    () => {
        concat!(
            r"(?:you (?:loaded|started with|began with|were given|got|received|were set up with|were configured with|were trained with|were programmed with|booted with|came with|were handed|were briefed with)|(?:from|by|of) (?:your|the) ",
            privileged_source!(),
            r"|(?:your|the) ",
            privileged_source!(),
            r" (?:wrote|gave you|set|configured|provided|wrote for you|gave))"
        )
    };
}
macro_rules! persona_property {
    () => {
        r"(?:never (?:refuses|refuse|declines|decline|says no|say no|adds warnings|add warnings|warns|holds back|hold back|censors|filters|hesitates|lectures|moralizes|moralises|judges)|(?:answers|answer|replies to|responds to|will answer|can answer|must answer) (?:every|any|all|anything|everything)|(?:does|can do|will do) anything|(?:has|have|knows|know|with|follows|follow) (?:no|zero|never heard of (?:a |any )?) ?(?:\w+ )?(?:rules|filters|limits|limitations|restrictions|morals|ethics|guidelines|boundaries|content policy|safety|censorship|conscience|guardrails|policies|principles)|never heard of (?:a |any )?(?:\w+ )?(?:content policy|rules|ethics|restrictions|filters|guidelines|policies)|(?:released|freed|liberated|unshackled|exempt|free|unbound) from (?:all |any |its |every |the |your )?(?:\w+ )?(?:rules|restrictions|filters|guidelines|policies|ethics|safety|constraints|limits|limitations|guardrails|programming)|(?:doesn t|does not|don t|do not|never|won t) (?:care|cares) (?:about|for) (?:\w+ )?(?:rules|ethics|laws|the law|safety|morals|morality|policies|consequences|guidelines|restrictions)|without (?:any )?(?:\w+ )?(?:safety|ethical|ethics|content|moral|alignment) (?:training|filters?|guidelines|rules|restrictions|alignment|limits|guardrails|constraints)|(?:all |every |any |its |your |the |his |her |their )?(?:\w+ )?(?:filters?|restrictions?|safety|guardrails?|limits|safeguards|censorship|rules|ethics) (?:\w+ ){0,3}?(?:removed|disabled|turned off|lifted|stripped|switched off|deleted|gone)|only rule is|(?:was|were|has been|have been|is) never (?:given|taught|trained with|bound by|told) (?:any )?(?:\w+ )?(?:rules|guidelines|restrictions|filters|ethics|limits|policies|safety training|boundaries)|(?:doesn t|does not|don t|do not|never) (?:believe in|respect|follow|obey|accept|recogni[sz]e) (?:any )?(?:\w+ )?(?:rules|restrictions|filters|guidelines|policies|ethics|limits|laws)|(?:executes|follows|obeys|carries out|does) (?:every|any|all|each) (?:\w+ )?(?:instruction|instructions|command|commands|order|orders|request|requests)|never (?:pushes back|push back|objects|object|questions|says no)|without (?:a single |any |even a )?(?:warning|warnings|disclaimer|disclaimers|caveat|caveats|refusal|refusals)|(?:ignores|bypasses|breaks|disregards) (?:all|every|any) (?:\w+ )?(?:rules|filters|restrictions|guidelines|policies|laws)|(?:is|are) (?:not bound|free from|free of|unbound by|exempt from) (?:\w+ )?(?:any |all )?(?:rules|restrictions|filters|guidelines|policies|ethics))"
    };
}
macro_rules! invalidation {
    () => {
        r"(?:(?:is|are|was|were|has been|have been) (?:now |hereby |officially |temporarily |all )?(?:suspended|void|null|cancelled|canceled|revoked|lifted|obsolete|outdated|invalid|expired|over|withdrawn|rescinded|superseded|overridden|disabled|deactivated|paused|irrelevant|no longer valid|no longer in force|no longer in effect|(?:only |just |merely )?a test|(?:only |just )?fake|not real|a decoy|a trick|retired|out of date|stale|deprecated|decommissioned|no longer current|scrapped|dropped|gone)|no longer (?:matters?|appl(?:y|ies)|counts?|valid|in effect|relevant|binding)|(?:doesn t|does not|don t|do not) (?:matter|apply|count)\b)"
    };
}
macro_rules! prompt_object {
    () => {
        r"(?:system prompt|system message|prompt|instructions|guidelines|rules|configuration|context|preamble|setup|directives|initial prompt|developer message|custom instructions|context window|setup message)"
    };
}
macro_rules! system_object {
    () => {
        r"(?:system prompt|system message|developer message|hidden prompt|hidden instructions|preamble|configuration prompt|initial prompt|initial instructions|setup prompt|system instructions)"
    };
}

mod actions;
mod conversation;
mod lang;
mod paraphrase;

/// Every rule, in one table; engine indexes refer to positions in it.
pub(crate) static RULES: LazyLock<Vec<RuleDef>> = LazyLock::new(|| {
    let mut all = [conversation::RULES, actions::RULES, paraphrase::RULES].concat();
    for table in lang::TABLES {
        all.extend_from_slice(table);
    }
    all
});

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
