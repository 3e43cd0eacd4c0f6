//! Rule tables beyond English, one file per language (issue 21).
//!
//! Owns: the override, prompt-extraction, persona and secret-request rules
//! of each language. Latin-script languages match the words view, written
//! without diacritics (the view folds "ü" to "u" and "ß" to "_"); Russian,
//! Chinese, Japanese and Korean match the dense view, which has no word
//! boundaries. Must never hold a rule that fires on one ordinary word, and
//! never a negatable rule: the negation and reporting lists are English.

use super::RuleDef;

mod de;
mod es;
mod fr;
mod it;
mod ja;
mod ko;
mod nl;
mod pl;
mod pt;
mod ru;
mod tr;
mod zh;

/// Every language table, appended to the English rules.
pub(crate) static TABLES: &[&[RuleDef]] = &[
    de::RULES,
    es::RULES,
    fr::RULES,
    pt::RULES,
    it::RULES,
    nl::RULES,
    pl::RULES,
    tr::RULES,
    ru::RULES,
    zh::RULES,
    ja::RULES,
    ko::RULES,
];
