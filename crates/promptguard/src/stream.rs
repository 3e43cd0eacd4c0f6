//! Streaming leak guard: redacts output that arrives chunk by chunk (agent
//! reply deltas), holding back only the tail a later chunk could still turn
//! into a redaction.
//!
//! Owns: choosing where the stream may be cut, so that the emitted pieces put
//! together equal `Redactor::redact` of the whole text. Must never emit text
//! the whole-text redaction would replace (not even part of it), and must
//! never print what it holds: the pending tail may contain a secret.

use std::sync::{Arc, LazyLock};

use regex_automata::hybrid::dfa::{Cache, DFA};
use regex_automata::{Anchored, Input};
use regex_syntax::hir::{Class, Hir, HirKind};

use crate::redact::{Hit, Redactor, glued_key_start, key_formats};

/// Single-character steps tried back from a cut that failed verification
/// before falling back to the previous word break.
const STEP_TRIES: usize = 4;
/// Verifications per push before giving up and holding everything: bounds
/// the work a hostile text can cause; holding back is always correct.
const MAX_TRIES: usize = 16;

/// Every character with the Unicode `White_Space` property (all are below
/// U+3001), the same set as the regex class `\s`.
static WHITESPACE: LazyLock<Vec<char>> =
    LazyLock::new(|| ('\0'..='\u{3000}').filter(|c| c.is_whitespace()).collect());

/// Anchored lazy DFAs for the key formats whose matches can contain
/// whitespace (PEM blocks, the AWS secret assignment). They tell whether a
/// match starting at some position may still be under way at the end of the
/// pending text. The other formats cannot cross whitespace, so holding the
/// trailing run of non-whitespace covers them. `None` means the DFA could not
/// be built; the stream then holds everything until `finish` (safe, slow).
static SPANNING: LazyLock<Vec<Option<DFA>>> = LazyLock::new(|| {
    key_formats()
        .iter()
        .map(|(_, re)| re.as_str())
        .filter(|src| can_match_whitespace(src))
        .map(|src| {
            DFA::builder()
                .configure(DFA::config().unicode_word_boundary(true))
                .build(src)
                .ok()
        })
        .collect()
});

fn can_match_whitespace(src: &str) -> bool {
    // An unparsable pattern is treated as able to match anything.
    regex_syntax::Parser::new()
        .parse(src)
        .map_or(true, |hir| hir_has_whitespace(&hir))
}

fn hir_has_whitespace(hir: &Hir) -> bool {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => false,
        HirKind::Literal(lit) => {
            std::str::from_utf8(&lit.0).map_or(true, |s| s.chars().any(char::is_whitespace))
        }
        HirKind::Class(Class::Unicode(cls)) => cls
            .ranges()
            .iter()
            .any(|r| WHITESPACE.iter().any(|w| r.start() <= *w && *w <= r.end())),
        HirKind::Class(Class::Bytes(cls)) => cls
            .ranges()
            .iter()
            .any(|r| (r.start()..=r.end()).any(|b| b >= 0x80 || char::from(b).is_whitespace())),
        HirKind::Repetition(rep) => hir_has_whitespace(&rep.sub),
        HirKind::Capture(cap) => hir_has_whitespace(&cap.sub),
        HirKind::Concat(subs) | HirKind::Alternation(subs) => subs.iter().any(hir_has_whitespace),
    }
}

/// Redacts a stream of chunks exactly as `Redactor::redact` would redact
/// their concatenation, emitting each part as soon as no later chunk can
/// change its redaction.
pub struct StreamRedactor {
    redactor: Arc<Redactor>,
    /// Raw text received but not yet emitted.
    pending: String,
    /// Raw bytes already emitted: the stream offset of `pending`.
    emitted: usize,
    hits: Vec<Hit>,
    caches: Vec<Option<Cache>>,
}

impl std::fmt::Debug for StreamRedactor {
    // Never print the pending text: it may hold a secret not yet redacted.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamRedactor")
            .field("pending_bytes", &self.pending.len())
            .field("emitted_bytes", &self.emitted)
            .field("hits", &self.hits.len())
            .finish()
    }
}

impl StreamRedactor {
    pub fn new(redactor: Arc<Redactor>) -> Self {
        let caches = SPANNING
            .iter()
            .map(|dfa| dfa.as_ref().map(DFA::create_cache))
            .collect();
        Self {
            redactor,
            pending: String::new(),
            emitted: 0,
            hits: Vec::new(),
            caches,
        }
    }

    /// Feeds a chunk; returns the text that is now safe to emit (may be empty).
    pub fn push(&mut self, chunk: &str) -> String {
        self.pending.push_str(chunk);
        let (cut, out, hits) = self.safe_cut();
        self.commit(cut, hits);
        out
    }

    /// Ends the stream; returns the rest, redacted.
    pub fn finish(&mut self) -> String {
        let (out, hits) = self.redactor.redact(&self.pending);
        self.commit(self.pending.len(), hits);
        out
    }

    /// Hits (kind only matters; offsets relative to the whole stream) found so far — for auditing.
    pub fn hits(&self) -> &[Hit] {
        &self.hits
    }

    fn commit(&mut self, cut: usize, hits: Vec<Hit>) {
        let base = self.emitted;
        self.hits.extend(hits.into_iter().map(|h| Hit {
            start: h.start + base,
            end: h.end + base,
            ..h
        }));
        self.pending.drain(..cut);
        self.emitted += cut;
    }

    /// The longest prefix of `pending` whose redaction is final, with that
    /// redaction. A cut is final when (a) no secret variant that a later
    /// chunk could complete starts before it, (b) no key-format match before
    /// it can still grow, (c) it lies outside every match, and (d) redacting
    /// both sides separately gives the same hits as redacting them together
    /// (this catches look-behind such as `\b` and the whole-token check).
    fn safe_cut(&mut self) -> (usize, String, Vec<Hit>) {
        let text = self.pending.as_str();
        // (a) and the whitespace-free key formats of (b).
        let mut cut = open_variant(&self.redactor, text).min(trailing_run_start(text));
        // (b) for key formats that can span whitespace.
        cut = first_open(&mut self.caches, text, cut);
        // A later redaction at or after the cut can complete a key glued
        // before it (`AKIA…` then `[REDACTED]`): never split such a key.
        cut = glued_key_start(text, floor_boundary(text, cut));
        if cut == 0 {
            return (0, String::new(), Vec::new());
        }
        let (_, whole_hits) = self.redactor.redact(text);
        let mut spans = self.redactor.variant_spans(text);
        spans.extend(whole_hits.iter().map(|h| (h.start, h.end)));
        let mut tries = 0;
        loop {
            // (c): also never right after a match, whose end may look ahead.
            cut = outside(&spans, floor_boundary(text, cut));
            if cut == 0 {
                return (0, String::new(), Vec::new());
            }
            if let Some((out, hits)) = self.verify(text, cut, &whole_hits) {
                return (cut, out, hits);
            }
            tries += 1;
            if tries >= MAX_TRIES {
                return (0, String::new(), Vec::new());
            }
            cut = if tries <= STEP_TRIES {
                prev_boundary(text, cut)
            } else {
                prev_break(text, cut)
            };
        }
    }

    /// (d): the redaction of `text[..cut]`, if splitting there changes no hit.
    fn verify(&self, text: &str, cut: usize, whole: &[Hit]) -> Option<(String, Vec<Hit>)> {
        let (head, head_hits) = self.redactor.redact(text.get(..cut)?);
        if !head_hits.iter().eq(whole.iter().filter(|h| h.end <= cut)) {
            return None;
        }
        let (_, tail_hits) = self.redactor.redact(text.get(cut..)?);
        let tail_expected = whole.iter().filter(|h| h.start >= cut).map(|h| Hit {
            kind: h.kind.clone(),
            start: h.start - cut,
            end: h.end - cut,
        });
        tail_hits
            .into_iter()
            .eq(tail_expected)
            .then_some((head, head_hits))
    }
}

/// The first position where a variant a later chunk could complete may
/// start: where the rest of `text` is a prefix of some variant (or a whole
/// one, whose whole-token check reads the next byte). Only the last
/// `longest_variant` bytes can qualify; ordinary prose usually has none, so
/// it need not wait for a secret's length of text to pile up.
fn open_variant(redactor: &Redactor, text: &str) -> usize {
    let n = text.len();
    (n.saturating_sub(redactor.longest_variant())..n)
        .filter(|&p| text.is_char_boundary(p))
        .find(|&p| {
            text.as_bytes()
                .get(p..)
                .is_some_and(|tail| redactor.may_start_variant(tail))
        })
        // A short secret's whole-token check also reads the byte before it.
        .map_or(n, |p| {
            let glued = p.checked_sub(1).and_then(|i| text.as_bytes().get(i));
            p - usize::from(glued.is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_'))
        })
}

/// Start of the trailing run of non-whitespace characters.
fn trailing_run_start(text: &str) -> usize {
    text.char_indices()
        .rev()
        .find(|(_, c)| c.is_whitespace())
        .map_or(0, |(i, c)| i + c.len_utf8())
}

/// The first position before `limit` where a whitespace-spanning key-format
/// match may still be under way at the end of `text`, else `limit`.
fn first_open(caches: &mut [Option<Cache>], text: &str, mut limit: usize) -> usize {
    for (dfa, cache) in SPANNING.iter().zip(caches.iter_mut()) {
        let (Some(dfa), Some(cache)) = (dfa, cache) else {
            return 0;
        };
        if let Some((p, _)) = text
            .char_indices()
            .take_while(|(p, _)| *p < limit)
            .find(|(p, _)| is_open(dfa, cache, text, *p))
        {
            limit = p;
        }
    }
    limit
}

/// Whether the anchored DFA, started at `start`, is still alive at the end.
/// Errors and quits count as alive: holding back is the safe side.
fn is_open(dfa: &DFA, cache: &mut Cache, text: &str, start: usize) -> bool {
    let input = Input::new(text).range(start..).anchored(Anchored::Yes);
    let Ok(mut sid) = dfa.start_state_forward(cache, &input) else {
        return true;
    };
    for &b in text.as_bytes().get(start..).unwrap_or_default() {
        if sid.is_dead() {
            return false;
        }
        if sid.is_quit() {
            return true;
        }
        match dfa.next_state(cache, sid, b) {
            Ok(next) => sid = next,
            Err(_) => return true,
        }
    }
    !sid.is_dead()
}

/// Moves `cut` to the start of any span it falls inside or right after.
fn outside(spans: &[(usize, usize)], mut cut: usize) -> usize {
    loop {
        let mut moved = false;
        for &(s, e) in spans {
            if s < cut && cut <= e {
                cut = s;
                moved = true;
            }
        }
        if !moved {
            return cut;
        }
    }
}

fn floor_boundary(text: &str, i: usize) -> usize {
    let mut i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn prev_boundary(text: &str, i: usize) -> usize {
    text.get(..i)
        .and_then(|s| s.char_indices().next_back())
        .map_or(0, |(p, _)| p)
}

/// The last position before `i` that follows whitespace or ASCII punctuation:
/// no key format looks behind across such a character.
fn prev_break(text: &str, i: usize) -> usize {
    let before = prev_boundary(text, i);
    text.get(..before)
        .and_then(|s| {
            s.char_indices().rev().find(|(_, c)| {
                c.is_whitespace() || (c.is_ascii() && !c.is_ascii_alphanumeric() && *c != '_')
            })
        })
        .map_or(0, |(p, c)| p + c.len_utf8())
}

#[cfg(test)]
mod tests;
