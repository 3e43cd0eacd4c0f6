//! Leak guard: replaces secret values (and their encoded forms) and
//! well-known key formats with `[REDACTED]`.
//!
//! Owns: the secret-variant automaton and the key-format patterns. Must never
//! leave in its output any registered secret (of at least
//! `FULL_VARIANTS_MIN_LEN` bytes) in plain, base64, hex, percent or
//! JSON-escaped form, any whole-token short secret, or any key-format match
//! (also none that a `[REDACTED]` marker completes); and must never log or
//! return secret values (hits carry only kind and span). A secret that is
//! itself part of the marker text (e.g. "REDACTED") cannot be kept out.
//!
//! Short-secret policy: values under `MIN_SECRET_LEN` (4) bytes are skipped
//! (they would redact ordinary words and cannot be protected by matching);
//! values of 4 to 7 bytes are redacted only in plain form and only where they
//! stand as a whole token, because their encodings are too short to match
//! without false hits. `Redactor::skipped` counts what was skipped so the
//! caller can refuse such secrets at registration.

use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use regex::Regex;
use regex_automata::hybrid::dfa::{Cache, DFA};
use regex_automata::{Anchored, Input};
use regex_syntax::hir::{Hir, HirKind};
use serde::Serialize;
use zeroize::Zeroize;

/// The replacement for every redacted span.
pub const REDACTED: &str = "[REDACTED]";
/// Secrets shorter than this are not redacted at all.
pub const MIN_SECRET_LEN: usize = 4;
/// Secrets at least this long are redacted in every encoded form.
pub const FULL_VARIANTS_MIN_LEN: usize = 8;

/// One redacted span of the input text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hit {
    /// `secret`, `secret_base64`, `secret_hex`, `secret_url`, `secret_json`,
    /// or a key format such as `openai_key`, `github_token`, `jwt`.
    pub kind: String,
    /// Byte offsets into the input text.
    pub start: usize,
    pub end: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum VariantKind {
    Plain,
    PlainWholeToken,
    Base64,
    Hex,
    Url,
    Json,
}

impl VariantKind {
    fn as_str(self) -> &'static str {
        match self {
            VariantKind::Plain | VariantKind::PlainWholeToken => "secret",
            VariantKind::Base64 => "secret_base64",
            VariantKind::Hex => "secret_hex",
            VariantKind::Url => "secret_url",
            VariantKind::Json => "secret_json",
        }
    }
}

/// Redacts a fixed set of secrets; build once, reuse for every message.
pub struct Redactor {
    automaton: Option<AhoCorasick>,
    kinds: Vec<VariantKind>,
    skipped: usize,
    /// The automaton could not be built: redact everything (fail closed).
    failed: bool,
    /// Anchored trie of the same variants, for `may_start_variant`.
    prefixes: Option<aho_corasick::nfa::contiguous::NFA>,
}

impl std::fmt::Debug for Redactor {
    // Never print the patterns: they are the secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redactor")
            .field("variants", &self.kinds.len())
            .field("skipped", &self.skipped)
            .finish()
    }
}

/// Base64 fragments of `secret` that appear whatever its alignment inside a
/// larger encoded blob (e.g. `user:secret` in a Basic auth header).
fn base64_fragments(secret: &[u8], engine: &impl base64::Engine) -> Vec<String> {
    let mut out = Vec::new();
    for shift in 0..3usize {
        let mut buf = vec![0u8; shift];
        buf.extend_from_slice(secret);
        let enc = engine.encode(&buf);
        let first = (shift * 8).div_ceil(6);
        let last = (buf.len() * 8) / 6;
        if let Some(frag) = enc.get(first..last)
            && frag.len() >= FULL_VARIANTS_MIN_LEN
        {
            out.push(frag.to_string());
        }
    }
    out
}

fn percent_encode(secret: &[u8], all: bool, upper: bool) -> String {
    let mut s = String::with_capacity(secret.len() * 3);
    for &b in secret {
        let unreserved = b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~');
        if unreserved && !all {
            s.push(char::from(b));
        } else if upper {
            s.push_str(&format!("%{b:02X}"));
        } else {
            s.push_str(&format!("%{b:02x}"));
        }
    }
    s
}

fn hex_encode(secret: &[u8], upper: bool) -> String {
    secret
        .iter()
        .map(|b| {
            if upper {
                format!("{b:02X}")
            } else {
                format!("{b:02x}")
            }
        })
        .collect()
}

fn json_escape(secret: &str) -> String {
    let mut s = String::with_capacity(secret.len() + 8);
    for c in secret.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '/' => s.push_str("\\/"),
            '\n' => s.push_str("\\n"),
            '\r' => s.push_str("\\r"),
            '\t' => s.push_str("\\t"),
            c => s.push(c),
        }
    }
    s
}

fn variants(secret: &str) -> Vec<(String, VariantKind)> {
    let bytes = secret.as_bytes();
    let mut v = vec![(secret.to_string(), VariantKind::Plain)];
    for enc in [
        STANDARD.encode(bytes),
        STANDARD_NO_PAD.encode(bytes),
        URL_SAFE.encode(bytes),
        URL_SAFE_NO_PAD.encode(bytes),
    ] {
        v.push((enc, VariantKind::Base64));
    }
    for frag in base64_fragments(bytes, &STANDARD_NO_PAD)
        .into_iter()
        .chain(base64_fragments(bytes, &URL_SAFE_NO_PAD))
    {
        v.push((frag, VariantKind::Base64));
    }
    v.push((hex_encode(bytes, false), VariantKind::Hex));
    v.push((hex_encode(bytes, true), VariantKind::Hex));
    for (all, upper) in [(false, true), (false, false), (true, true), (true, false)] {
        v.push((percent_encode(bytes, all, upper), VariantKind::Url));
    }
    let mut spaced = percent_encode(bytes, false, true);
    v.push((spaced.replace("%20", "+"), VariantKind::Url));
    spaced.zeroize();
    v.push((json_escape(secret), VariantKind::Json));
    v.sort();
    v.dedup_by(wipe_duplicate);
    v
}

/// `dedup_by` for secret variants: a removed duplicate is wiped first.
fn wipe_duplicate(a: &mut (String, VariantKind), b: &mut (String, VariantKind)) -> bool {
    let same = a.0 == b.0;
    if same {
        a.0.zeroize();
    }
    same
}

impl Redactor {
    /// Precomputes every variant of every secret into one automaton.
    pub fn new(secrets: impl IntoIterator<Item = impl AsRef<str>>) -> Self {
        let mut pats: Vec<(String, VariantKind)> = Vec::new();
        let mut skipped = 0;
        for s in secrets {
            let s = s.as_ref();
            if s.len() < MIN_SECRET_LEN {
                skipped += usize::from(!s.is_empty());
                continue;
            }
            if s.len() < FULL_VARIANTS_MIN_LEN {
                pats.push((s.to_string(), VariantKind::PlainWholeToken));
            } else {
                pats.extend(variants(s));
            }
        }
        // Sorted (longest first) only so that duplicates collapse; every
        // occurrence is reported, overlapping ones included.
        pats.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.0.cmp(&b.0)));
        pats.dedup_by(wipe_duplicate);
        let built = if pats.is_empty() {
            Ok(None)
        } else {
            AhoCorasickBuilder::new()
                .match_kind(MatchKind::Standard)
                .build(pats.iter().map(|p| p.0.as_bytes()))
                .map(Some)
        };
        let failed = built.is_err();
        let prefixes = aho_corasick::nfa::contiguous::NFA::new(pats.iter().map(|p| &p.0)).ok();
        let kinds = pats.iter().map(|p| p.1).collect();
        // The automata keep their own encoding of the patterns (aho-corasick
        // cannot wipe it); our plain copies go now.
        for p in &mut pats {
            p.0.zeroize();
        }
        Self {
            prefixes,
            automaton: built.ok().flatten(),
            kinds,
            skipped,
            failed,
        }
    }

    /// How many non-empty secrets were too short to redact.
    pub fn skipped(&self) -> usize {
        self.skipped
    }

    /// Byte length of the longest secret variant (0 without secrets): a
    /// stream must hold back this much before a variant match is certain.
    pub(crate) fn longest_variant(&self) -> usize {
        self.automaton
            .as_ref()
            .map_or(0, AhoCorasick::max_pattern_len)
    }

    /// Every variant occurrence `redact` considers, overlapping ones and
    /// whole-token candidates it may skip included; a stream may only be cut
    /// outside all of them. A candidate glued to a word byte before it
    /// starts at that byte: its check reads it, and a cut there would hide it.
    pub(crate) fn variant_spans(&self, text: &str) -> Vec<(usize, usize)> {
        let bytes = text.as_bytes();
        self.occurrences(text)
            .into_iter()
            .map(|(s, e, kind)| {
                let glued = kind == VariantKind::PlainWholeToken
                    && s.checked_sub(1)
                        .and_then(|i| bytes.get(i))
                        .is_some_and(|b| is_word_byte(*b));
                (s - usize::from(glued), e)
            })
            .collect()
    }

    /// All occurrences of all variants. A leftmost-longest scan would jump
    /// over a secret that starts inside another (or inside a skipped
    /// whole-token match), so the search is overlapping.
    fn occurrences(&self, text: &str) -> Vec<(usize, usize, VariantKind)> {
        // Fail closed: without a working automaton everything is secret.
        let everything = || vec![(0, text.len(), VariantKind::Plain)];
        if self.failed {
            return everything();
        }
        let Some(ac) = &self.automaton else {
            return Vec::new();
        };
        match ac.try_find_overlapping_iter(text) {
            Ok(iter) => iter
                .filter_map(|m| {
                    let kind = self.kinds.get(m.pattern().as_usize())?;
                    Some((m.start(), m.end(), *kind))
                })
                .collect(),
            // Cannot happen for an unanchored search with standard semantics.
            Err(_) => everything(),
        }
    }

    /// Replaces every secret variant and known key format with `[REDACTED]`.
    ///
    /// A replacement changes its neighbourhood: a short secret next to it
    /// becomes a whole token, and a key glued to it gains the word boundary
    /// its pattern needs (`[REDACTED]sk-…`). So the spans are grown until the
    /// output itself holds no whole-token secret and no key-format match.
    pub fn redact(&self, text: &str) -> (String, Vec<Hit>) {
        let mut spans: Vec<Span> = Vec::new();
        // Whole-token candidates not (yet) standing alone.
        let mut loose: Vec<(usize, usize)> = Vec::new();
        for (s, e, kind) in self.occurrences(text) {
            if kind == VariantKind::PlainWholeToken {
                loose.push((s, e));
            } else {
                spans.push((s, e, kind.as_str()));
            }
        }
        key_format_spans(text, &mut spans);
        if spans.is_empty() && loose.is_empty() {
            return (text.to_string(), Vec::new());
        }
        loop {
            let merged = settle_whole_tokens(text.as_bytes(), &mut loose, &mut spans);
            let (out, marks) = render(text, &merged);
            let grown: Vec<Span> = glued_key_spans(&out, &marks, &merged)
                .into_iter()
                .filter(|&(s, e, _)| !covered(&merged, s, e))
                .collect();
            // Each round covers more bytes, so this ends.
            if grown.is_empty() {
                let hits = merged
                    .into_iter()
                    .map(|(start, end, kind)| Hit {
                        kind: kind.to_string(),
                        start,
                        end,
                    })
                    .collect();
                return (out, hits);
            }
            spans.extend(grown);
        }
    }

    /// Whether some variant starts with `tail` (or is `tail`): a stream
    /// ending in `tail` must hold it, as the next chunk may complete a
    /// secret. Fails closed (true) when an automaton is missing.
    pub(crate) fn may_start_variant(&self, tail: &[u8]) -> bool {
        use aho_corasick::{Anchored, automaton::Automaton};
        if self.automaton.is_none() && !self.failed {
            return false;
        }
        let Some(trie) = self.prefixes.as_ref().filter(|_| !self.failed) else {
            return true;
        };
        let Ok(mut sid) = trie.start_state(Anchored::Yes) else {
            return true;
        };
        for &b in tail {
            sid = trie.next_state(Anchored::Yes, sid, b);
            if trie.is_dead(sid) {
                return false;
            }
        }
        true
    }
}

/// Well-known credential formats, most specific first.
static KEY_FORMATS: LazyLock<Vec<(&'static str, Regex)>> = LazyLock::new(|| {
    [
        (
            "private_key_pem",
            r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----(?:[\s\S]*?-----END [A-Z0-9 ]*PRIVATE KEY-----|[\s\S]*)",
        ),
        ("anthropic_key", r"\bsk-ant-[A-Za-z0-9_-]{20,}"),
        ("openai_key", r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}"),
        ("github_token", r"\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})"),
        ("aws_access_key", r"\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b"),
        (
            "aws_secret_key",
            r#"(?i)aws_?secret_?access_?key["']?\s*[:=]\s*["']?[A-Za-z0-9/+=]{40}"#,
        ),
        ("slack_token", r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),
        ("slack_webhook", r"https://hooks\.slack\.com/services/[A-Za-z0-9/_-]{20,}"),
        ("jwt", r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{10,}"),
    ]
    .into_iter()
    .filter_map(|(kind, src)| Regex::new(src).ok().map(|re| (kind, re)))
    .collect()
});

/// The compiled key-format patterns, for the streaming redactor's analysis
/// of matches that are still open at the end of a chunk.
pub(crate) fn key_formats() -> &'static [(&'static str, Regex)] {
    &KEY_FORMATS
}

/// The key formats with a look-around after their start (the AWS key id's
/// final `\b`), as lazy DFAs with their longest match: a `[REDACTED]` that
/// later follows such a key can complete its match. `None` if one cannot be
/// built; streams then hold every run of non-whitespace (safe, slower).
static LATE_LOOK: LazyLock<Option<Vec<(DFA, usize)>>> = LazyLock::new(|| {
    let mut out = Vec::new();
    for (_, re) in KEY_FORMATS.iter() {
        let hir = regex_syntax::Parser::new().parse(re.as_str()).ok()?;
        if late_look(&hir) {
            // ASCII `\b`: it is only tested at the start of a stream piece
            // and before a marker's `[`, where the key's own bytes decide.
            let dfa = DFA::builder()
                .syntax(regex_automata::util::syntax::Config::new().unicode(false))
                .build(re.as_str())
                .ok()?;
            out.push((dfa, hir.properties().maximum_len().unwrap_or(usize::MAX)));
        }
    }
    Some(out)
});

fn late_look(hir: &Hir) -> bool {
    let looks = |h: &Hir| !h.properties().look_set().is_empty();
    match hir.kind() {
        HirKind::Concat(subs) => subs
            .split_first()
            .is_some_and(|(first, rest)| late_look(first) || rest.iter().any(looks)),
        HirKind::Alternation(subs) => subs.iter().any(late_look),
        HirKind::Capture(cap) => late_look(&cap.sub),
        HirKind::Repetition(rep) => looks(&rep.sub),
        _ => false,
    }
}

/// Whether a late-look key starting at `start` (seen as the start of the
/// text, as a stream's next piece would) may end at or after `from` once a
/// marker follows it, or may still be growing at the end of `text`.
/// Errors and quits count as yes: holding back is the safe side.
fn may_complete(dfa: &DFA, cache: &mut Cache, text: &str, start: usize, from: usize) -> bool {
    let tail = text.as_bytes().get(start..).unwrap_or_default();
    let input = Input::new(tail).anchored(Anchored::Yes);
    let Ok(mut sid) = dfa.start_state_forward(cache, &input) else {
        return true;
    };
    for (i, &b) in tail.iter().enumerate() {
        if start + i >= from.max(start + 1) {
            // A marker here: its `[` shows whether a match ended right before.
            match dfa.next_state(cache, sid, b'[') {
                Ok(next) if next.is_match() || next.is_quit() => return true,
                Ok(_) => {}
                Err(_) => return true,
            }
        }
        match dfa.next_state(cache, sid, b) {
            Ok(next) if next.is_dead() => return false,
            Ok(next) if next.is_quit() => return true,
            Ok(next) => sid = next,
            Err(_) => return true,
        }
    }
    true
}

/// Where a stream cut at `cut` must move so that no late-look key (see
/// `LATE_LOOK`) that a later `[REDACTED]` at or after `cut` could complete
/// is split or loses the word before it (its leading `\b`).
pub(crate) fn glued_key_start(text: &str, cut: usize) -> usize {
    let Some(late) = LATE_LOOK.as_ref() else {
        return text.get(..cut).map_or(0, |head| {
            head.rfind(char::is_whitespace).map_or(0, |i| {
                i + head[i..].chars().next().map_or(1, char::len_utf8)
            })
        });
    };
    let mut out = cut;
    for (dfa, max_len) in late {
        let mut cache = dfa.create_cache();
        let first = (cut.saturating_sub(*max_len)..=cut)
            .filter(|&s| text.is_char_boundary(s))
            .find(|&s| may_complete(dfa, &mut cache, text, s, cut));
        if let Some(s) = first {
            let word_before = text.get(..s).and_then(|h| h.chars().next_back());
            let step = word_before.filter(|c| c.is_alphanumeric() || *c == '_');
            out = out.min(s - step.map_or(0, char::len_utf8));
        }
    }
    out
}

/// Number of key-format patterns that compiled (a test pins this).
#[cfg(test)]
pub(crate) fn key_format_count() -> usize {
    KEY_FORMATS.len()
}

fn key_format_spans(text: &str, spans: &mut Vec<Span>) {
    for (kind, re) in KEY_FORMATS.iter() {
        for m in re.find_iter(text) {
            spans.push((m.start(), m.end(), kind));
        }
    }
}

/// A span to redact: byte offsets into the input and the hit kind.
type Span = (usize, usize, &'static str);

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Sorts `spans` and merges the overlapping ones (touching spans stay
/// apart, each its own `[REDACTED]`).
fn merge(spans: &mut [Span]) -> Vec<Span> {
    spans.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
    let mut merged: Vec<Span> = Vec::new();
    for &(s, e, kind) in spans.iter() {
        match merged.last_mut() {
            Some(last) if s < last.1 => last.1 = last.1.max(e),
            _ => merged.push((s, e, kind)),
        }
    }
    merged
}

/// Whether the merged spans cover every byte of `start..end`.
fn covered(merged: &[Span], start: usize, end: usize) -> bool {
    let mut pos = start;
    let first = merged.partition_point(|m| m.1 <= start);
    for &(s, e, _) in merged.get(first..).unwrap_or_default() {
        if pos >= end || s > pos {
            break;
        }
        pos = pos.max(e);
    }
    pos >= end
}

/// Moves into `spans` every whole-token candidate that stands alone in the
/// output (each neighbour is a non-word byte, the text edge, or redacted,
/// which the output shows as a bracket), until none moves; returns the
/// merged spans.
fn settle_whole_tokens(
    bytes: &[u8],
    loose: &mut Vec<(usize, usize)>,
    spans: &mut Vec<Span>,
) -> Vec<Span> {
    loop {
        let merged = merge(spans);
        let before = spans.len();
        let free =
            |i: usize| bytes.get(i).is_none_or(|b| !is_word_byte(*b)) || covered(&merged, i, i + 1);
        loose.retain(|&(s, e)| {
            let alone = s.checked_sub(1).is_none_or(free) && free(e);
            if alone {
                spans.push((s, e, "secret"));
            }
            !alone
        });
        if spans.len() == before {
            return merged;
        }
    }
}

/// The redacted text and the output offset of each `[REDACTED]` marker.
fn render(text: &str, merged: &[Span]) -> (String, Vec<usize>) {
    let mut out = String::with_capacity(text.len());
    let mut marks = Vec::with_capacity(merged.len());
    let mut pos = 0;
    for &(s, e, _) in merged {
        out.push_str(text.get(pos..s).unwrap_or(""));
        marks.push(out.len());
        out.push_str(REDACTED);
        pos = e;
    }
    out.push_str(text.get(pos..).unwrap_or(""));
    (out, marks)
}

/// Key-format matches in the output that exist only because of a marker,
/// as input spans. Such a match touches a marker through a word boundary
/// (`\b` sees the bracket, not the redacted byte). Formats that use `\b`
/// never match whitespace, so scanning the whitespace-free run around each
/// marker finds them all; the others (PEM block, AWS secret assignment) have
/// no look-around and cannot match a bracket, so a match of theirs in the
/// output was already one in the input.
fn glued_key_spans(out: &str, marks: &[usize], merged: &[Span]) -> Vec<Span> {
    let mut spans = Vec::new();
    let mut scanned = 0;
    for &mark in marks {
        if mark < scanned {
            continue;
        }
        let after = mark + REDACTED.len();
        let start = out
            .get(..mark)
            .and_then(|s| s.char_indices().rev().find(|(_, c)| c.is_whitespace()))
            .map_or(0, |(i, c)| i + c.len_utf8());
        let end = out
            .get(after..)
            .and_then(|s| s.char_indices().find(|(_, c)| c.is_whitespace()))
            .map_or(out.len(), |(i, _)| after + i);
        if start == mark && end == after {
            continue;
        }
        scanned = end;
        let window = out.get(start..end).unwrap_or("");
        for (kind, re) in KEY_FORMATS.iter() {
            for m in re.find_iter(window) {
                let s = to_input(marks, merged, start + m.start(), false);
                let e = to_input(marks, merged, start + m.end(), true);
                spans.push((s, e, *kind));
            }
        }
    }
    spans
}

/// Maps an output offset back to the input. An offset inside a marker maps
/// to the marker's input start (for a match start) or end (for a match end),
/// so the whole redacted span is kept.
fn to_input(marks: &[usize], merged: &[Span], x: usize, is_end: bool) -> usize {
    let k = marks.partition_point(|&o| o < x);
    let Some(j) = k.checked_sub(1) else {
        return x;
    };
    let (Some(&o), Some(&(s, e, _))) = (marks.get(j), merged.get(j)) else {
        return x;
    };
    if x < o + REDACTED.len() {
        if is_end { e } else { s }
    } else {
        e + (x - o - REDACTED.len())
    }
}

/// One-off redaction; build a `Redactor` instead when scanning many texts.
pub fn redact(
    text: &str,
    secrets: impl IntoIterator<Item = impl AsRef<str>>,
) -> (String, Vec<Hit>) {
    Redactor::new(secrets).redact(text)
}

#[cfg(test)]
mod tests;
