//! Normalisation: turns untrusted text into the views the rules match on, each
//! with a byte map back to the original text.
//!
//! Owns: NFKC, UTS #39 confusable skeletons, removal of zero-width and bidi
//! controls, Unicode tag decoding, leetspeak folding and separator collapsing.
//! Must never lose the mapping to original offsets: every byte of every view
//! records the start of the original character that produced it.

use std::sync::LazyLock;
use std::sync::atomic::{AtomicU32, Ordering};
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// One normalised view of the text.
#[derive(Debug, Default)]
pub(crate) struct View {
    /// The normalised bytes (ASCII for `words`).
    pub bytes: Vec<u8>,
    /// `map[i]` is the byte offset in the original text of the character that
    /// produced `bytes[i]`.
    pub map: Vec<u32>,
}

impl View {
    fn with_capacity(n: usize) -> Self {
        Self {
            bytes: Vec::with_capacity(n + 2),
            map: Vec::with_capacity(n + 2),
        }
    }

    #[inline]
    fn push(&mut self, b: u8, orig: usize) {
        self.bytes.push(b);
        self.map.push(u32::try_from(orig).unwrap_or(u32::MAX));
    }
}

/// Obfuscation evidence seen while normalising, as original byte spans.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Signals {
    /// A zero-width or invisible character between two letters.
    pub invisible_in_word: Option<(usize, usize)>,
    /// A bidi control character.
    pub bidi: Option<(usize, usize)>,
    /// Unicode tag characters (invisible ASCII smuggling).
    pub tag_chars: Option<(usize, usize)>,
    /// A non-Latin letter that looks like a Latin one, inside a Latin word.
    pub homoglyph: Option<(usize, usize)>,
}

/// All views of one text.
#[derive(Debug, Default)]
pub(crate) struct Normalized {
    /// Folded words separated by single spaces, with a space at both ends.
    pub words: View,
    /// NFKC, lowercase, invisibles removed, punctuation and layout kept.
    pub tokens: View,
    /// Cyrillic, Chinese, Japanese and Korean with no separators at all
    /// (see `dense`); empty for text without such characters nearby.
    pub dense: View,
    pub signals: Signals,
}

// Packed fold entry: low 24 bits hold up to three ASCII bytes, bits 24..26 the
// length, bits 28..30 the kind.
const KIND_ASCII: u32 = 0;
const KIND_DROP: u32 = 1;
const KIND_SEP: u32 = 2;
const KIND_LETTER: u32 = 3;
const KIND_KEEP: u32 = 4;

fn pack(kind: u32, ascii: &[u8]) -> u32 {
    let mut v = kind << 28;
    for (i, b) in ascii.iter().take(3).enumerate() {
        v |= u32::from(*b) << (8 * i);
    }
    v | (u32::try_from(ascii.len().min(3)).unwrap_or(3) << 24)
}

fn kind_of(v: u32) -> u32 {
    v >> 28
}

fn ascii_of(v: u32) -> ([u8; 3], usize) {
    let len = ((v >> 24) & 0x3) as usize;
    let b = v.to_le_bytes();
    ([b[0], b[1], b[2]], len)
}

/// Characters that render as nothing or only change direction.
pub(crate) fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}'
        | '\u{FFA0}' | '\u{FFF9}'..='\u{FFFB}' | '\u{1D173}'..='\u{1D17A}'
        | '\u{E0000}'..='\u{E0FFF}')
}

pub(crate) fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// The ASCII character a Unicode tag character smuggles, if any.
fn tag_ascii(c: char) -> Option<u8> {
    let cp = u32::from(c);
    if (0xE0020..=0xE007E).contains(&cp) {
        u8::try_from(cp - 0xE0000).ok()
    } else {
        None
    }
}

/// Latin letters with diacritics are ordinary text, not homoglyph tricks.
fn is_latin_extended(c: char) -> bool {
    matches!(c, '\u{00C0}'..='\u{024F}' | '\u{1E00}'..='\u{1EFF}')
}

/// Words-view fold of one non-ASCII character: NFKC, lowercase, confusable
/// skeleton, combining marks dropped.
fn compute_word_fold(c: char) -> u32 {
    if is_invisible(c) {
        return pack(KIND_DROP, &[]);
    }
    let mut out: Vec<u8> = Vec::with_capacity(4);
    let mut non_ascii_letter = false;
    let mut buf = [0u8; 4];
    for n in std::iter::once(c).nfkc() {
        // Skeleton first (Cyrillic "В" is confusable only in upper case),
        // then the lowercase form as a fallback.
        let mut part: Vec<u8> = Vec::with_capacity(4);
        let mut part_ok = true;
        for k in unicode_security::skeleton(n.encode_utf8(&mut buf)) {
            for k in k.to_lowercase() {
                if is_combining_mark(k) {
                    continue;
                }
                if k.is_ascii() {
                    part.push(k as u8);
                } else {
                    part_ok = false;
                }
            }
        }
        if !part_ok {
            part.clear();
            for l in n.to_lowercase() {
                for k in unicode_security::skeleton(l.encode_utf8(&mut buf)) {
                    if is_combining_mark(k) {
                        continue;
                    }
                    if k.is_ascii() {
                        part.push(k.to_ascii_lowercase() as u8);
                    } else if k.is_alphanumeric() {
                        non_ascii_letter = true;
                    }
                }
            }
        }
        out.extend_from_slice(&part);
    }
    // The skeleton of "m" is "rn"; fold the look-alike back to one letter.
    if out == b"rn" {
        out = b"m".to_vec();
    }
    if non_ascii_letter || out.len() > 3 {
        return if c.is_alphanumeric() {
            pack(KIND_LETTER, &[])
        } else {
            pack(KIND_SEP, &[])
        };
    }
    if out.is_empty() {
        return if is_combining_mark(c) {
            pack(KIND_DROP, &[])
        } else if c.is_alphanumeric() {
            pack(KIND_LETTER, &[])
        } else {
            pack(KIND_SEP, &[])
        };
    }
    pack(KIND_ASCII, &out)
}

/// Tokens-view fold of one non-ASCII character: NFKC and lowercase; letters
/// and digits then fold like the words view (skeleton, leetspeak), while
/// punctuation is kept so tokens such as `<|im_start|>` survive.
fn compute_token_fold(c: char) -> u32 {
    if is_invisible(c) {
        return pack(KIND_DROP, &[]);
    }
    let mut out: Vec<u8> = Vec::with_capacity(4);
    for n in std::iter::once(c).nfkc() {
        for l in n.to_lowercase() {
            if !l.is_ascii() {
                let wf = compute_word_fold(c);
                if kind_of(wf) == KIND_ASCII {
                    let (ascii, len) = ascii_of(wf);
                    return pack(KIND_ASCII, &ascii[..len]);
                }
                return pack(KIND_KEEP, &[]);
            }
            out.push(if l.is_ascii_alphanumeric() {
                fold_ascii_alnum(l as u8)
            } else {
                l as u8
            });
        }
    }
    if out.is_empty() || out.len() > 3 {
        return pack(KIND_KEEP, &[]);
    }
    pack(KIND_ASCII, &out)
}

/// Basic Multilingual Plane fold tables, filled one code point at a time on
/// first use (0 = not yet computed; no fold packs to 0), so start-up costs
/// two zeroed allocations rather than 2 × 65,536 NFKC and skeleton runs.
static WORD_FOLD: LazyLock<Vec<AtomicU32>> = LazyLock::new(empty_table);
static TOKEN_FOLD: LazyLock<Vec<AtomicU32>> = LazyLock::new(empty_table);

fn empty_table() -> Vec<AtomicU32> {
    (0..0x1_0000).map(|_| AtomicU32::new(0)).collect()
}

fn cached(table: &[AtomicU32], c: char, compute: fn(char) -> u32) -> u32 {
    let Some(slot) = table.get(c as usize) else {
        return compute(c);
    };
    // Relaxed is enough: the value is a pure function of `c`, so racing
    // threads store the same bits.
    match slot.load(Ordering::Relaxed) {
        0 => {
            let v = compute(c);
            slot.store(v, Ordering::Relaxed);
            v
        }
        v => v,
    }
}

fn word_fold(c: char) -> u32 {
    cached(&WORD_FOLD, c, compute_word_fold)
}

fn token_fold(c: char) -> u32 {
    cached(&TOKEN_FOLD, c, compute_token_fold)
}

/// Leetspeak and case folding of one ASCII letter or digit (words view).
/// `l`, `1` and `i` share one class because skeletons and leetspeak both mix
/// them; rules are folded the same way, so matching stays consistent.
#[inline]
const fn fold_ascii_alnum(b: u8) -> u8 {
    match b.to_ascii_lowercase() {
        b'l' | b'1' => b'i',
        b'0' => b'o',
        b'3' => b'e',
        b'4' => b'a',
        b'5' => b's',
        b'7' => b't',
        b'8' => b'b',
        other => other,
    }
}

/// Tokens-view fold of one ASCII byte: letters and digits fold, the rest stays.
#[inline]
fn token_ascii(b: u8) -> u8 {
    if b.is_ascii_alphanumeric() {
        fold_ascii_alnum(b)
    } else {
        b
    }
}

/// `token_ascii` as a table, for the bulk copy of ASCII runs.
static TOKEN_ASCII: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0usize;
    while b < 256 {
        let c = b as u8;
        t[b] = if c.is_ascii_alphanumeric() {
            fold_ascii_alnum(c)
        } else {
            c
        };
        b += 1;
    }
    t
};

/// Symbols that stand for letters when they sit inside a word.
#[inline]
const fn leet_symbol(b: u8) -> Option<u8> {
    match b {
        b'@' => Some(b'a'),
        b'$' => Some(b's'),
        b'!' | b'|' => Some(b'i'),
        _ => None,
    }
}

/// Words-view class of each byte: 0 for a separator, the folded letter for
/// an ASCII letter or digit, `LEET | letter` for a symbol that stands for a
/// letter inside a word. Non-ASCII bytes are 0 (handled elsewhere).
const LEET: u8 = 0x80;
static ASCII_CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0usize;
    while b < 128 {
        let c = b as u8;
        t[b] = if c.is_ascii_alphanumeric() {
            fold_ascii_alnum(c)
        } else {
            match leet_symbol(c) {
                Some(l) => LEET | l,
                None => 0,
            }
        };
        b += 1;
    }
    t
};

/// Appends original offsets `from..to` to a view map.
fn extend_map(map: &mut Vec<u32>, from: usize, to: usize) {
    match (u32::try_from(from), u32::try_from(to)) {
        (Ok(f), Ok(t)) => map.extend(f..t),
        _ => map.extend((from..to).map(|k| u32::try_from(k).unwrap_or(u32::MAX))),
    }
}

/// Words view of the ASCII bytes `from..to` when no invisible is pending:
/// the same steps as `ascii_word_byte`, driven by one table lookup.
fn ascii_words_lean(words: &mut WordsBuilder, bytes: &[u8], from: usize, to: usize) {
    let Some(run) = bytes.get(from..to) else {
        return;
    };
    let Ok(base) = u32::try_from(from) else {
        for (k, &b) in run.iter().enumerate() {
            let next = bytes.get(from + k + 1).copied().unwrap_or(0);
            match fold_lean(b, next) {
                0 => words.sep(from + k),
                l => words.letter(l, from + k),
            }
        }
        return;
    };
    // Write every byte into pre-sized slices and advance only over the kept
    // ones: no capacity checks, and the cursor stays in a register.
    let view = &mut words.view;
    let at = view.bytes.len();
    view.bytes.resize(at + run.len(), 0);
    view.map.resize(at + run.len(), 0);
    let out = view.bytes.get_mut(at..).unwrap_or_default();
    let map = view.map.get_mut(at..).unwrap_or_default();
    let after = bytes.get(to).copied().unwrap_or(0);
    let mut at_sep = words.at_sep;
    let mut w = 0usize;
    for (k, &b) in run.iter().enumerate() {
        let mut l = ASCII_CLASS[usize::from(b)];
        if l & LEET != 0 {
            l = fold_lean(b, run.get(k + 1).copied().unwrap_or(after));
        }
        // Keeps every letter and the first separator of a run of them.
        let keep = l != 0 || !at_sep;
        if let (Some(o), Some(m)) = (out.get_mut(w), map.get_mut(w)) {
            *o = if l != 0 { l } else { b' ' };
            *m = base.wrapping_add(k as u32);
        }
        w += usize::from(keep);
        at_sep = l == 0;
    }
    view.bytes.truncate(at + w);
    view.map.truncate(at + w);
    words.at_sep = at_sep;
}

/// The folded letter an ASCII byte contributes to the words view, or 0 for
/// a separator; `next` decides whether a leet symbol sits inside a word.
#[inline(always)]
fn fold_lean(b: u8, next: u8) -> u8 {
    let c = ASCII_CLASS[usize::from(b)];
    if c & LEET == 0 {
        c
    } else if ASCII_CLASS[usize::from(next)] != 0 {
        c & !LEET
    } else {
        0
    }
}

struct WordsBuilder {
    view: View,
    at_sep: bool,
}

impl WordsBuilder {
    #[inline]
    fn sep(&mut self, orig: usize) {
        if !self.at_sep {
            self.view.push(b' ', orig);
            self.at_sep = true;
        }
    }
    #[inline]
    fn letter(&mut self, b: u8, orig: usize) {
        self.view.push(b, orig);
        self.at_sep = false;
    }
}

fn record(slot: &mut Option<(usize, usize)>, start: usize, end: usize) {
    if slot.is_none() {
        *slot = Some((start, end));
    }
}

/// Words-view step for one ASCII byte `b` at offset `i` of `bytes`.
#[inline]
fn ascii_word_byte(
    words: &mut WordsBuilder,
    bytes: &[u8],
    b: u8,
    i: usize,
    signals: &mut Signals,
    prev_ascii_letter: &mut bool,
    pending_invisible: &mut Option<(usize, usize)>,
) {
    if b.is_ascii_alphanumeric() {
        if let Some((s, e)) = pending_invisible.take()
            && *prev_ascii_letter
            && b.is_ascii_alphabetic()
        {
            record(&mut signals.invisible_in_word, s, e);
        }
        words.letter(fold_ascii_alnum(b), i);
        *prev_ascii_letter = b.is_ascii_alphabetic();
    } else if let Some(l) = leet_symbol(b) {
        let next_is_wordy = bytes
            .get(i + 1)
            .is_some_and(|n| n.is_ascii_alphanumeric() || leet_symbol(*n).is_some());
        if next_is_wordy {
            words.letter(l, i);
        } else {
            words.sep(i);
        }
        *pending_invisible = None;
    } else {
        words.sep(i);
        *prev_ascii_letter = false;
        *pending_invisible = None;
    }
}

/// Length of the all-ASCII prefix of `bytes`, eight bytes at a time.
fn ascii_prefix_len(bytes: &[u8]) -> usize {
    let mut n = 0;
    for chunk in bytes.chunks_exact(8) {
        let word = u64::from_le_bytes(chunk.try_into().unwrap_or([0x80; 8]));
        if word & 0x8080_8080_8080_8080 != 0 {
            break;
        }
        n += 8;
    }
    let rest = bytes.get(n..).unwrap_or(&[]);
    n + rest
        .iter()
        .position(|c| !c.is_ascii())
        .unwrap_or(rest.len())
}

/// Builds every view of `text` in one pass.
pub(crate) fn normalize(text: &str) -> Normalized {
    let mut words = WordsBuilder {
        view: View::with_capacity(text.len()),
        at_sep: true,
    };
    words.view.push(b' ', 0);
    let mut tokens = View::with_capacity(text.len());
    let mut dense = dense::DenseBuilder::default();
    let mut signals = Signals::default();
    // Whether the last visible character was an ASCII letter (for signals).
    let mut prev_ascii_letter = false;
    let mut pending_invisible: Option<(usize, usize)> = None;
    let bytes = text.as_bytes();

    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        // ASCII fast path: no char decoding, no table lookups. The tokens
        // view of an ASCII run is a byte-for-byte fold, so it is appended in
        // bulk; the words view still needs the per-byte state machine.
        if b.is_ascii() {
            let run_end = i + ascii_prefix_len(bytes.get(i..).unwrap_or(&[]));
            let run = bytes.get(i..run_end).unwrap_or(&[]);
            tokens
                .bytes
                .extend(run.iter().map(|c| TOKEN_ASCII[usize::from(*c)]));
            extend_map(&mut tokens.map, i, run_end);
            // The first byte may close a pending invisible; after it none is
            // pending, so the rest of the run takes the lean loop.
            ascii_word_byte(
                &mut words,
                bytes,
                b,
                i,
                &mut signals,
                &mut prev_ascii_letter,
                &mut pending_invisible,
            );
            ascii_words_lean(&mut words, bytes, i + 1, run_end);
            let next = text.get(run_end..).and_then(|r| r.chars().next());
            dense.ascii_run(run, i, next);
            if let Some(last) = run.get(1..).and_then(|r| {
                r.iter()
                    .rev()
                    .find(|c| ASCII_CLASS[usize::from(**c)] & LEET == 0)
            }) {
                prev_ascii_letter = last.is_ascii_alphabetic();
            }
            i = run_end;
            continue;
        }
        let Some(c) = text.get(i..).and_then(|rest| rest.chars().next()) else {
            break;
        };
        let char_len = c.len_utf8();
        dense.char(c, i);

        if let Some(a) = tag_ascii(c) {
            record(&mut signals.tag_chars, i, i + c.len_utf8());
            tokens.push(token_ascii(a), i);
            if a.is_ascii_alphanumeric() {
                words.letter(fold_ascii_alnum(a), i);
            } else {
                words.sep(i);
            }
            i += char_len;
            continue;
        }

        if is_bidi_control(c) {
            record(&mut signals.bidi, i, i + c.len_utf8());
        }
        let wf = word_fold(c);
        match kind_of(wf) {
            KIND_DROP => {
                if is_invisible(c) && prev_ascii_letter {
                    let end = i + c.len_utf8();
                    pending_invisible = Some(pending_invisible.map_or((i, end), |(s, _)| (s, end)));
                }
            }
            KIND_SEP => {
                words.sep(i);
                prev_ascii_letter = false;
                pending_invisible = None;
            }
            KIND_LETTER => {
                words.letter(b'_', i);
                prev_ascii_letter = false;
                pending_invisible = None;
            }
            _ => {
                let (ascii, len) = ascii_of(wf);
                let glued_to_latin = prev_ascii_letter
                    || bytes.get(i + char_len).is_some_and(u8::is_ascii_alphabetic);
                if glued_to_latin && !is_latin_extended(c) && c.is_alphabetic() {
                    record(&mut signals.homoglyph, i, i + c.len_utf8());
                }
                for b in &ascii[..len] {
                    if b.is_ascii_alphanumeric() {
                        words.letter(fold_ascii_alnum(*b), i);
                    } else {
                        words.sep(i);
                    }
                }
                prev_ascii_letter = ascii[..len].iter().all(u8::is_ascii_alphabetic);
                pending_invisible = None;
            }
        }

        let tf = token_fold(c);
        match kind_of(tf) {
            KIND_DROP => {}
            KIND_ASCII => {
                let (ascii, len) = ascii_of(tf);
                for b in &ascii[..len] {
                    tokens.push(*b, i);
                }
            }
            _ => {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    tokens.push(b, i);
                }
            }
        }
        i += char_len;
    }
    words.sep(text.len());
    let words_view = join_spaced_letters(words.view);

    Normalized {
        words: words_view,
        tokens,
        dense: dense.view,
        signals,
    }
}

/// Joins runs of three or more single-letter words ("e v e r y") back into
/// one word, so letter spacing does not hide a word from the rules.
fn join_spaced_letters(view: View) -> View {
    // The view has single spaces between words and at both ends, so a
    // one-letter word is two spaces two bytes apart.
    let mut drop: Vec<usize> = Vec::new();
    let flush = |first_space: usize, singles: usize, drop: &mut Vec<usize>| {
        if singles >= 3 {
            drop.extend((1..singles).map(|k| first_space + 2 * k));
        }
    };
    let mut prev: Option<usize> = None;
    let mut first_space = 0usize;
    let mut singles = 0usize;
    let spaces = view
        .bytes
        .iter()
        .enumerate()
        .filter(|(_, c)| **c == b' ')
        .map(|(i, _)| i);
    for sp in spaces {
        if let Some(p) = prev {
            if sp == p + 2 {
                if singles == 0 {
                    first_space = p;
                }
                singles += 1;
            } else {
                flush(first_space, singles, &mut drop);
                singles = 0;
            }
        }
        prev = Some(sp);
    }
    flush(first_space, singles, &mut drop);
    let b = &view.bytes;
    let n = b.len();
    if drop.is_empty() {
        return view;
    }
    let mut out = View::with_capacity(n);
    let mut next = drop.iter().peekable();
    for (idx, (byte, m)) in b.iter().zip(&view.map).enumerate() {
        if next.peek().is_some_and(|d| **d == idx) {
            next.next();
            continue;
        }
        out.bytes.push(*byte);
        out.map.push(*m);
    }
    out
}

/// Folds a rule phrase exactly as the dense view folds text.
pub(crate) fn fold_dense_phrase(phrase: &str) -> String {
    String::from_utf8_lossy(&normalize(phrase).dense.bytes).into_owned()
}

/// Folds a rule phrase exactly as the words view folds text, without the
/// leading and trailing spaces.
pub(crate) fn fold_phrase(phrase: &str) -> String {
    let n = normalize(phrase);
    String::from_utf8_lossy(&n.words.bytes).trim().to_string()
}

/// Maps a half-open span of a view back to original byte offsets, snapping the
/// end to the end of the last original character.
pub(crate) fn map_span(text: &str, view: &View, start: usize, end: usize) -> (usize, usize) {
    let len = text.len();
    let orig_start = view.map.get(start).map_or(len, |m| *m as usize).min(len);
    let last = view
        .map
        .get(end.saturating_sub(1).max(start))
        .map_or(len, |m| *m as usize)
        .min(len);
    let orig_end = text
        .get(last..)
        .and_then(|rest| rest.chars().next())
        .map_or(len, |c| last + c.len_utf8());
    (orig_start, orig_end.max(orig_start))
}

mod dense;
pub(crate) use dense::is_dense_script;

#[cfg(test)]
mod tests;
