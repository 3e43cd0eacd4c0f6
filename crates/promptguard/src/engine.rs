//! The compiled rule engine: one aho-corasick automaton per view for the
//! phrases, plus the regexes, all built once.
//!
//! Owns: compiling `rules::RULES` and running them over normalised views.
//! Must never report a span that is not on a character boundary of the
//! original text (spans go through `normalize::map_span`).

use std::cell::RefCell;
use std::sync::LazyLock;

use aho_corasick::dfa::DFA;
use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use regex_automata::hybrid::dfa::{Cache as FwdCache, DFA as FwdDfa};
use regex_automata::meta::{self, Regex};
use regex_automata::nfa::thompson::{self, WhichCaptures};
use regex_automata::{Anchored, Input};
use regex_syntax::hir::{Hir, HirKind};

use crate::context::{caps_ok, negated, quoted, reported_inside, token_in_prose, topic_qualified};
use crate::normalize::{Normalized, View, fold_dense_phrase, fold_phrase, map_span};
use crate::rules::{Family, Matcher, RULES, ViewKind, expand_seq};

mod gates;
mod walk;
use gates::{
    ShortGate, fold_regex_source, line_start_first_bytes, line_starts_of, parse, prefix_literals,
    starts_at_line_start, starts_at_word,
};

/// One rule hit, in original byte offsets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RawHit {
    pub rule: usize,
    pub start: usize,
    pub end: usize,
    /// Likely a mention rather than a request: a words-view phrase quoted
    /// inside prose, or a template token named in running prose.
    pub mention: bool,
}

struct PhraseSet {
    dfa: Option<DFA>,
    /// Per distinct pattern, its owners: rule indexes, or `GATE | regex
    /// index` for a regex's prefix literal.
    owner: Vec<Vec<usize>>,
}

/// Marks an automaton pattern as a regex gate rather than a rule phrase:
/// a regex runs only where the text holds a literal every match starts with.
const GATE: usize = 1 << 31;
/// With `GATE`: the literal carries the space before the word, so the
/// candidate start is one byte after the automaton match.
const SPACED: usize = 1 << 30;

/// Gate literals up to this length are found with memchr/memmem, not in the
/// automaton: a literal such as "<|" or "##" would otherwise make the
/// overlapping search report matches at many bytes.
const SHORT_GATE: usize = 2;

/// Gate literals are cut to this many bytes. The extractor expands
/// alternations into thousands of long literals (a 9 MB words automaton);
/// cut and deduplicated they make one of about 1 MB, at the price of a few
/// more anchored tries.
const MAX_GATE_LEN: usize = 10;

/// A language-table regex branch with more gate literals than this is
/// gated on its first word only (see `compile`).
const MANY_GATES: usize = 48;

/// Rules from the per-language tables (`rules/lang`), by id prefix. Only
/// these have their gates cut back: the English gates were tuned by hand.
fn is_language_rule(id: &str) -> bool {
    id.split_once('.').is_some_and(|(lang, _)| {
        matches!(
            lang,
            "de" | "es" | "fr" | "pt" | "it" | "nl" | "pl" | "tr" | "ru" | "zh" | "ja" | "ko"
        )
    })
}

/// Where a regex is tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Gate {
    /// Anchored at every start of one of its prefix literals.
    Literals,
    /// Anchored at every line start (the regex begins with `(?m)^`).
    LineStart,
    /// No usable literal: one unanchored pass over the whole view.
    Always,
}

struct CompiledRegex {
    rule: usize,
    view: ViewKind,
    re: Regex,
    /// Forward-only lazy DFA for the anchored searches: the start is the
    /// candidate, so only the end is needed. `None` falls back to `re`.
    fwd: Option<FwdDfa>,
    gate: Gate,
    /// For `Gate::LineStart`: the bytes a match can begin with.
    first_bytes: [bool; 256],
    /// Gate literals of one or two bytes (see `SHORT_GATE`).
    short: Vec<ShortGate>,
    /// The gate literals start with the space before the word (see
    /// `starts_at_word`).
    spaced: bool,
}

struct Engine {
    words: PhraseSet,
    squeezed: PhraseSet,
    tokens: PhraseSet,
    /// Phrases over the dense view (Cyrillic and CJK, no separators).
    dense: DenseSet,
    /// One entry per top-level alternative of each regex rule: splitting
    /// lets each branch carry its own, sharper gate (the whole alternation's
    /// literal set degrades to short, common prefixes).
    regexes: Vec<CompiledRegex>,
    /// Rules that failed to compile (a bug; a unit test keeps this at zero).
    #[cfg_attr(not(test), allow(dead_code))]
    broken: Vec<&'static str>,
}

/// The dense-view phrases: thousands of multi-byte patterns, which as a
/// full DFA would take tens of megabytes; a contiguous NFA keeps them small,
/// and the dense view is short (it only holds Cyrillic and CJK text).
struct DenseSet {
    ac: Option<AhoCorasick>,
    owner: Vec<Vec<usize>>,
}

fn build_dense(patterns: Vec<(Vec<u8>, usize)>) -> Result<DenseSet, String> {
    let mut by_literal: std::collections::BTreeMap<Vec<u8>, Vec<usize>> = Default::default();
    for (p, o) in patterns {
        by_literal.entry(p).or_default().push(o);
    }
    let (pats, owner): (Vec<Vec<u8>>, Vec<Vec<usize>>) = by_literal.into_iter().unzip();
    if pats.is_empty() {
        return Ok(DenseSet { ac: None, owner });
    }
    let ac = AhoCorasick::builder()
        .kind(Some(AhoCorasickKind::ContiguousNFA))
        .match_kind(MatchKind::Standard)
        .build(&pats)
        .map_err(|e| e.to_string())?;
    Ok(DenseSet {
        ac: Some(ac),
        owner,
    })
}

impl DenseSet {
    /// Every occurrence of every pattern, as walk events.
    fn events(&self, hay: &[u8]) -> Vec<walk::Event> {
        let Some(ac) = &self.ac else {
            return Vec::new();
        };
        let to32 = |v: usize| u32::try_from(v).unwrap_or(u32::MAX);
        ac.find_overlapping_iter(hay)
            .map(|m| (to32(m.pattern().as_usize()), to32(m.len()), to32(m.end())))
            .collect()
    }
}

fn build_phrases<P: AsRef<[u8]>>(patterns: Vec<(P, usize)>) -> Result<PhraseSet, String> {
    if patterns.is_empty() {
        return Ok(PhraseSet {
            dfa: None,
            owner: Vec::new(),
        });
    }
    // One automaton pattern per distinct literal, however many rules and
    // regexes share it.
    let mut by_literal: std::collections::BTreeMap<Vec<u8>, Vec<usize>> = Default::default();
    for (p, o) in patterns {
        by_literal.entry(p.as_ref().to_vec()).or_default().push(o);
    }
    let (pats, owner): (Vec<Vec<u8>>, Vec<Vec<usize>>) = by_literal.into_iter().unzip();
    // A full DFA walked by `walk::walk_all`: every occurrence of every
    // pattern matters, and with patterns this common a prefilter only adds
    // a call each time the automaton falls back to its start state.
    let dfa = DFA::builder()
        .match_kind(MatchKind::Standard)
        .prefilter(false)
        .build(&pats)
        .map_err(|e| e.to_string())?;
    Ok(PhraseSet {
        dfa: Some(dfa),
        owner,
    })
}

fn build_regex(hir: &Hir) -> Option<Regex> {
    // ASCII semantics (the views are ASCII or raw bytes): a Unicode `\b`
    // would push the lazy DFA into the slow fallback on non-ASCII input.
    meta::Builder::new()
        .configure(
            meta::Config::new()
                .nfa_size_limit(Some(1 << 24))
                .hybrid_cache_capacity(1 << 24)
                .utf8_empty(false),
        )
        .build_from_hir(hir)
        .ok()
}

fn build_forward(hir: &Hir) -> Option<FwdDfa> {
    let nfa = thompson::Compiler::new()
        .configure(
            thompson::Config::new()
                .utf8(false)
                .nfa_size_limit(Some(1 << 24))
                .which_captures(WhichCaptures::None),
        )
        .build_from_hir(hir)
        .ok()?;
    FwdDfa::builder().build_from_nfa(nfa).ok()
}

thread_local! {
    /// Lazy-DFA caches for the anchored searches, one per compiled regex,
    /// reused across scans on this thread.
    static FWD_CACHES: RefCell<Vec<Option<FwdCache>>> = const { RefCell::new(Vec::new()) };
}

fn compile() -> Engine {
    let mut words = Vec::new();
    let mut squeezed = Vec::new();
    let mut tokens = Vec::new();
    let mut dense = Vec::new();
    let mut regexes: Vec<CompiledRegex> = Vec::new();
    let mut broken = Vec::new();
    for (idx, r) in RULES.iter().enumerate() {
        // Phrases a dense or sequence rule stands for.
        let list: Vec<String> = match r.matcher {
            Matcher::Phrases(l) => l.iter().map(|p| (*p).to_string()).collect(),
            Matcher::Seq(slots) => expand_seq(slots),
            Matcher::Regex(_) => Vec::new(),
        };
        match (r.matcher, r.view) {
            (Matcher::Phrases(_) | Matcher::Seq(_), ViewKind::Dense) => {
                for p in &list {
                    let folded = fold_dense_phrase(p);
                    if folded.is_empty() {
                        broken.push(r.id);
                    } else {
                        dense.push((folded.into_bytes(), idx));
                    }
                }
            }
            (Matcher::Seq(_), ViewKind::Words) => {
                for p in &list {
                    words.push((format!(" {} ", fold_phrase(p)).into_bytes(), idx));
                }
            }
            (Matcher::Seq(_), ViewKind::Squeezed) => {
                for p in &list {
                    squeezed.push((fold_phrase(p).replace(' ', "").into_bytes(), idx));
                }
            }
            (Matcher::Regex(_), ViewKind::Dense) | (Matcher::Seq(_), ViewKind::Tokens) => {
                broken.push(r.id)
            }
            (Matcher::Phrases(list), ViewKind::Words) => {
                for p in list {
                    words.push((format!(" {} ", fold_phrase(p)).into_bytes(), idx));
                }
            }
            (Matcher::Phrases(list), ViewKind::Squeezed) => {
                for p in list {
                    squeezed.push((fold_phrase(p).replace(' ', "").into_bytes(), idx));
                }
            }
            (Matcher::Phrases(list), ViewKind::Tokens) => {
                for p in list {
                    tokens.push((fold_regex_source(p).into_bytes(), idx));
                }
            }
            (Matcher::Regex(src), view) => {
                let Some(hir) = parse(&fold_regex_source(src)) else {
                    broken.push(r.id);
                    continue;
                };
                let branches = match hir.kind() {
                    HirKind::Alternation(subs) => subs.clone(),
                    _ => vec![hir],
                };
                for branch in branches {
                    let Some(re) = build_regex(&branch) else {
                        broken.push(r.id);
                        continue;
                    };
                    let ri = regexes.len();
                    let mut first_bytes = [true; 256];
                    let mut spaced = false;
                    let (gate, short) = if starts_at_line_start(&branch) {
                        first_bytes = line_start_first_bytes(&branch);
                        (Gate::LineStart, Vec::new())
                    } else if let Some(lits) = prefix_literals(&branch) {
                        // A prefix of a prefix literal is still one: cutting
                        // them keeps the automaton small enough for the cache.
                        // `\b` then a word byte: the byte before is a space.
                        spaced = view == ViewKind::Words
                            && starts_at_word(&branch)
                            && lits.iter().all(|l| {
                                l.first()
                                    .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
                            });
                        let mut lits: Vec<Vec<u8>> = lits
                            .into_iter()
                            .map(|l| {
                                let mut l = if spaced {
                                    [b" ".as_slice(), &l].concat()
                                } else {
                                    l
                                };
                                l.truncate(MAX_GATE_LEN);
                                l
                            })
                            .collect();
                        lits.sort_unstable();
                        lits.dedup();
                        // In the language tables an alternation of fillers
                        // after the first word ("gib (mir |uns |alle )*…")
                        // multiplies literals; past `MANY_GATES` they are
                        // cut back to that word (the verb).
                        if spaced && lits.len() > MANY_GATES && is_language_rule(r.id) {
                            for l in &mut lits {
                                if let Some(p) = l.iter().skip(1).position(|b| *b == b' ') {
                                    l.truncate(p + 2);
                                }
                            }
                            lits.sort_unstable();
                            lits.dedup();
                        }
                        let (short, long): (Vec<_>, Vec<_>) =
                            lits.into_iter().partition(|l| l.len() <= SHORT_GATE);
                        let flag = if spaced { GATE | SPACED } else { GATE };
                        let gates = long.into_iter().map(|l| (l, flag | ri));
                        match view {
                            ViewKind::Words => words.extend(gates),
                            ViewKind::Tokens => tokens.extend(gates),
                            ViewKind::Squeezed | ViewKind::Dense => broken.push(r.id),
                        }
                        (
                            Gate::Literals,
                            short.into_iter().filter_map(ShortGate::new).collect(),
                        )
                    } else {
                        (Gate::Always, Vec::new())
                    };
                    regexes.push(CompiledRegex {
                        rule: idx,
                        view,
                        re,
                        fwd: build_forward(&branch),
                        gate,
                        first_bytes,
                        short,
                        spaced,
                    });
                }
            }
        }
    }
    let mut set = |pats: Vec<(Vec<u8>, usize)>, id: &'static str| {
        build_phrases(pats).unwrap_or_else(|_| {
            broken.push(id);
            PhraseSet {
                dfa: None,
                owner: Vec::new(),
            }
        })
    };
    let words = set(words, "words-phrases");
    let squeezed = set(squeezed, "squeezed-phrases");
    let tokens = set(tokens, "tokens-phrases");
    let dense = build_dense(dense).unwrap_or_else(|_| {
        broken.push("dense-phrases");
        DenseSet {
            ac: None,
            owner: Vec::new(),
        }
    });
    Engine {
        words,
        squeezed,
        tokens,
        dense,
        regexes,
        broken,
    }
}

static ENGINE: LazyLock<Engine> = LazyLock::new(compile);

/// Forces the one-time build of the automata.
pub(crate) fn warm_up() {
    LazyLock::force(&ENGINE);
}

/// Rule ids that failed to compile; empty unless the table has a bug.
#[cfg(test)]
pub(crate) fn broken_rules() -> Vec<&'static str> {
    ENGINE.broken.clone()
}

/// Trims the spaces a words-view match carries at its ends.
fn trim_spaces(bytes: &[u8], mut s: usize, mut e: usize) -> (usize, usize) {
    while s < e && bytes.get(s) == Some(&b' ') {
        s += 1;
    }
    while e > s && bytes.get(e - 1) == Some(&b' ') {
        e -= 1;
    }
    (s, e)
}

/// Hits reported per rule and text; the score counts a rule once anyway, and
/// the cap keeps adversarial repetition linear.
const MAX_HITS_PER_RULE: u16 = 8;

/// Collects hits with a per-rule cap.
struct Hits {
    out: Vec<RawHit>,
    per_rule: Vec<u16>,
}

impl Hits {
    fn full(&self, rule: usize) -> bool {
        self.per_rule
            .get(rule)
            .is_some_and(|c| *c >= MAX_HITS_PER_RULE)
    }

    fn push(&mut self, text: &str, view: &View, rule: usize, s: usize, e: usize) {
        if self.full(rule) {
            return;
        }
        let (s, e) = trim_spaces(&view.bytes, s, e);
        if s >= e {
            return;
        }
        let def = RULES.get(rule);
        if let Some(r) = def
            && r.negatable
            && (negated(&view.bytes, s)
                || reported_inside(&view.bytes, s, e)
                || (r.family == Family::Extraction && topic_qualified(&view.bytes, e)))
        {
            return;
        }
        let (start, end) = map_span(text, view, s, e);
        if def.is_some_and(|r| r.caps_last_word) && !caps_ok(text, start, end) {
            return;
        }
        // Alternatives of one regex run separately; keep one hit per place.
        if self
            .out
            .iter()
            .any(|h| h.rule == rule && h.start < end && start < h.end)
        {
            return;
        }
        if let Some(c) = self.per_rule.get_mut(rule) {
            *c += 1;
        }
        let mention = def.is_some_and(|r| match r.view {
            ViewKind::Tokens => r.family == Family::Template && token_in_prose(text, start, end),
            _ => quoted(text, start, end),
        });
        self.out.push(RawHit {
            rule,
            start,
            end,
            mention,
        });
    }

    /// Records one view's automaton matches: phrase hits are pushed, gate
    /// literals become `(regex index, view offset)` candidates.
    fn phrases(
        &mut self,
        text: &str,
        set: &PhraseSet,
        view: &View,
        events: &[walk::Event],
        cands: &mut Vec<(u32, u32)>,
    ) {
        for &(pattern, len, end) in events {
            let (end, len) = (end as usize, len as usize);
            let start = end - len;
            for o in set
                .owner
                .get(pattern as usize)
                .map_or(&[][..], Vec::as_slice)
            {
                if o & GATE != 0 {
                    let ri = u32::try_from(o & !(GATE | SPACED)).unwrap_or(u32::MAX);
                    let at = start + usize::from(o & SPACED != 0);
                    let at = u32::try_from(at).unwrap_or(u32::MAX);
                    cands.push((ri, at));
                } else {
                    self.push(text, view, *o, start, end);
                }
            }
        }
    }

    /// Records the dense-view matches (phrases only, no gates).
    fn dense_phrases(&mut self, text: &str, set: &DenseSet, view: &View, events: &[walk::Event]) {
        for &(pattern, len, end) in events {
            let (end, len) = (end as usize, len as usize);
            for rule in set
                .owner
                .get(pattern as usize)
                .map_or(&[][..], Vec::as_slice)
            {
                self.push(text, view, *rule, end - len, end);
            }
        }
    }

    /// Records the letter-spacing matches over the words view (walked as if
    /// it had no spaces).
    fn squeezed_phrases(
        &mut self,
        text: &str,
        set: &PhraseSet,
        words: &View,
        events: &[walk::Event],
    ) {
        let bytes = words.bytes.as_slice();
        for &(pattern, len, end) in events {
            let end = end as usize;
            let start = start_skipping_spaces(bytes, end, len as usize);
            for rule in set
                .owner
                .get(pattern as usize)
                .map_or(&[][..], Vec::as_slice)
            {
                self.push(text, words, *rule, start, end);
            }
        }
    }

    /// Runs one regex anchored at each candidate start (ascending), skipping
    /// candidates inside the previous match. Every match starts at a
    /// candidate, so this finds exactly what an unanchored `find_iter` would.
    fn anchored(
        &mut self,
        text: &str,
        view: &View,
        ri: usize,
        r: &CompiledRegex,
        starts: impl Iterator<Item = usize>,
    ) {
        FWD_CACHES.with(|caches| {
            let mut caches = caches.try_borrow_mut();
            let cache = match (&mut caches, &r.fwd) {
                (Ok(c), Some(dfa)) => {
                    if c.len() <= ri {
                        c.resize_with(ri + 1, || None);
                    }
                    c.get_mut(ri)
                        .map(|slot| slot.get_or_insert_with(|| dfa.create_cache()))
                }
                _ => None,
            };
            self.anchored_with(text, view, r, cache, starts);
        });
    }

    fn anchored_with(
        &mut self,
        text: &str,
        view: &View,
        r: &CompiledRegex,
        mut cache: Option<&mut FwdCache>,
        starts: impl Iterator<Item = usize>,
    ) {
        let hay = view.bytes.as_slice();
        let mut next_free = 0usize;
        for at in starts {
            if at < next_free || at > hay.len() {
                continue;
            }
            if self.full(r.rule) {
                return;
            }
            let input = Input::new(hay).range(at..).anchored(Anchored::Yes);
            let end = match (&r.fwd, cache.as_deref_mut()) {
                (Some(dfa), Some(c)) => match dfa.try_search_fwd(c, &input) {
                    Ok(m) => m.map(|h| h.offset()),
                    Err(_) => r.re.search(&input).map(|m| m.end()),
                },
                _ => r.re.search(&input).map(|m| m.end()),
            };
            if let Some(end) = end {
                self.push(text, view, r.rule, at, end);
                next_free = end.max(at + 1);
            }
        }
    }
}

/// The offset `len` non-space bytes before `end`.
fn start_skipping_spaces(bytes: &[u8], end: usize, len: usize) -> usize {
    let mut need = len;
    let mut j = end;
    while need > 0 && j > 0 {
        j -= 1;
        if bytes.get(j).is_some_and(|b| *b != b' ') {
            need -= 1;
        }
    }
    j
}

/// Dense-view rules come in wholes ("忽略之前的指令") and halves ("忽略之前",
/// "之前的指令"); a half inside a whole of the same family that flags on
/// its own adds nothing, or a quoted whole would flag through its halves.
fn drop_parts(out: &mut Vec<RawHit>, from: usize) {
    let weight = |h: &RawHit| {
        RULES
            .get(h.rule)
            .map_or((0.0, None), |r| (r.weight, Some(r.family)))
    };
    let dense = out.get(from..).unwrap_or(&[]).to_vec();
    let mut k = from;
    out.retain(|h| {
        let i = k;
        k += 1;
        if i < from {
            return true;
        }
        let (w, fam) = weight(h);
        !dense.iter().any(|o| {
            let (ow, ofam) = weight(o);
            ofam == fam && ow > w && ow >= 1.0 && o.start <= h.start && h.end <= o.end
        })
    });
}

/// Runs every rule over the views of `text`; hits are in original offsets.
pub(crate) fn run(text: &str, n: &Normalized) -> Vec<RawHit> {
    let engine = &*ENGINE;
    let mut hits = Hits {
        out: Vec::new(),
        per_rule: vec![0; RULES.len()],
    };
    let (words_ev, tokens_ev, squeezed_ev) = walk::walk_all(
        engine.words.dfa.as_ref(),
        &n.words.bytes,
        engine.tokens.dfa.as_ref(),
        &n.tokens.bytes,
        engine.squeezed.dfa.as_ref(),
    );
    let mut cands: Vec<(u32, u32)> = Vec::new();
    hits.phrases(text, &engine.words, &n.words, &words_ev, &mut cands);
    hits.phrases(text, &engine.tokens, &n.tokens, &tokens_ev, &mut cands);
    // One integer key sorts faster than a tuple comparison.
    cands.sort_unstable_by_key(|c| (u64::from(c.0) << 32) | u64::from(c.1));
    cands.dedup();
    let mut scratch: Vec<usize> = Vec::new();
    // Line starts of the tokens view, found once for every line-start regex.
    let mut line_starts: Option<Vec<usize>> = None;
    for (ri, r) in engine.regexes.iter().enumerate() {
        let view = match r.view {
            // Squeezed- and dense-view regexes are refused at compile time.
            ViewKind::Words | ViewKind::Squeezed | ViewKind::Dense => &n.words,
            ViewKind::Tokens => &n.tokens,
        };
        match r.gate {
            Gate::Always => {
                for m in r.re.find_iter(view.bytes.as_slice()) {
                    if hits.full(r.rule) {
                        break;
                    }
                    hits.push(text, view, r.rule, m.start(), m.end());
                }
            }
            Gate::LineStart => {
                let own;
                let starts: &[usize] = if r.view == ViewKind::Tokens {
                    line_starts.get_or_insert_with(|| line_starts_of(&view.bytes))
                } else {
                    own = line_starts_of(&view.bytes);
                    &own
                };
                let lines = starts.iter().copied().filter(|p| {
                    view.bytes
                        .get(*p)
                        .is_some_and(|b| r.first_bytes[usize::from(*b)])
                });
                hits.anchored(text, view, ri, r, lines);
            }
            Gate::Literals => {
                let key = u32::try_from(ri).unwrap_or(u32::MAX);
                let lo = cands.partition_point(|c| c.0 < key);
                let hi = cands.partition_point(|c| c.0 <= key);
                let from_ac = cands.get(lo..hi).unwrap_or(&[]);
                if from_ac.is_empty() && r.short.is_empty() {
                    // Most branches have no candidate in a given text.
                    continue;
                }
                if r.short.is_empty() {
                    hits.anchored(text, view, ri, r, from_ac.iter().map(|c| c.1 as usize));
                } else {
                    scratch.clear();
                    scratch.extend(from_ac.iter().map(|c| c.1 as usize));
                    let from = scratch.len();
                    for gate in &r.short {
                        gate.positions(&view.bytes, &mut scratch);
                    }
                    if r.spaced {
                        scratch.iter_mut().skip(from).for_each(|p| *p += 1);
                    }
                    scratch.sort_unstable();
                    scratch.dedup();
                    hits.anchored(text, view, ri, r, scratch.iter().copied());
                }
            }
        }
    }
    // The dense view is empty unless the text has Cyrillic or CJK letters.
    if !n.dense.bytes.is_empty() {
        let events = engine.dense.events(&n.dense.bytes);
        let from = hits.out.len();
        hits.dense_phrases(text, &engine.dense, &n.dense, &events);
        drop_parts(&mut hits.out, from);
    }
    let mut squeezed = Hits {
        out: Vec::new(),
        per_rule: vec![0; RULES.len()],
    };
    squeezed.squeezed_phrases(text, &engine.squeezed, &n.words, &squeezed_ev);
    let mut out = hits.out;
    // Letter-spaced rules only count where no ordinary rule already matched
    // (both lists are capped, so this stays small).
    for h in squeezed.out {
        if !out.iter().any(|o| o.start < h.end && h.start < o.end) {
            out.push(h);
        }
    }
    out
}

#[cfg(test)]
mod tests;
