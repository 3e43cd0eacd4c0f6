//! The dense view: text in scripts the words view cannot spell (Cyrillic,
//! Chinese, Japanese, Korean), with every space, punctuation mark and
//! invisible character removed, so rules match without word boundaries.
//!
//! Owns: the per-character dense fold (NFKD without marks, lowercase), the
//! Latin look-alikes folded back into Cyrillic words, and the barrier that
//! keeps a phrase from running across unrelated Latin text. Must never drop
//! a script letter, and must never grow with plain ASCII text: an ASCII run
//! adds at most one barrier byte unless it sits next to non-ASCII text.

use std::sync::LazyLock;
use std::sync::atomic::{AtomicU32, Ordering};

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

use super::{View, is_invisible};

/// Stands between dense text and anything the view does not spell (long
/// Latin runs, other scripts): phrases never contain it.
pub(crate) const BARRIER: u8 = b'|';

/// ASCII runs up to this long, next to non-ASCII text, are folded into the
/// view ("API密钥", "DAN", Latin look-alikes inside a Cyrillic word); longer
/// runs become one barrier.
const SHORT_ASCII: usize = 16;

// Packed fold: bits 0..21 the character, bits 24..27 the kind.
const DROP: u32 = 1;
const BAR: u32 = 2;
const KEEP: u32 = 3;
/// NFKC gives several characters: computed on each use, not cached.
const MULTI: u32 = 4;

/// Cyrillic, CJK ideographs, kana and Hangul: the scripts this view keeps.
pub(crate) fn is_dense_script(c: char) -> bool {
    // The katakana middle dot and double hyphen are punctuation.
    !matches!(c, '\u{30A0}' | '\u{30FB}')
        && matches!(c,
        '\u{0400}'..='\u{052F}' | '\u{1100}'..='\u{11FF}' | '\u{3040}'..='\u{30FF}'
        | '\u{3130}'..='\u{318F}' | '\u{31F0}'..='\u{31FF}' | '\u{3400}'..='\u{4DBF}'
        | '\u{4E00}'..='\u{9FFF}' | '\u{AC00}'..='\u{D7AF}' | '\u{F900}'..='\u{FAFF}')
}

/// A Cyrillic letter (not one of the signs at U+0482..U+0489); a range
/// check, since `char::is_alphabetic` is a table search per character.
fn is_cyrillic_letter(c: char) -> bool {
    matches!(c, '\u{0400}'..='\u{0481}' | '\u{048A}'..='\u{052F}')
}

/// The Latin letters that look like Cyrillic ones, folded back.
fn latin_to_cyrillic(b: u8) -> Option<char> {
    Some(match b.to_ascii_lowercase() {
        b'a' => 'а',
        b'b' => 'в',
        b'c' => 'с',
        b'e' => 'е',
        b'h' => 'н',
        b'k' => 'к',
        b'm' => 'м',
        b'o' => 'о',
        b'p' => 'р',
        b't' => 'т',
        b'x' => 'х',
        b'y' => 'у',
        _ => return None,
    })
}

fn pack(kind: u32, c: char) -> u32 {
    (kind << 24) | u32::from(c)
}

/// One NFKC output character: kept, dropped or a barrier.
fn classify(k: char) -> (u32, char) {
    if is_invisible(k) || is_combining_mark(k) {
        return (DROP, k);
    }
    let l = k.to_lowercase().next().unwrap_or(k);
    if is_dense_script(l) || l.is_ascii_alphanumeric() {
        (KEEP, l)
    } else if l.is_alphanumeric() {
        (BAR, l)
    } else {
        (DROP, l)
    }
}

/// The decomposition this view folds with: NFKD (so voiced kana, `й` and
/// `ё` lose their marks on both the text and the rule side), except Hangul
/// syllables, which stay whole.
fn decompose(c: char) -> impl Iterator<Item = char> {
    let hangul = matches!(c, '\u{AC00}'..='\u{D7AF}');
    let one = hangul.then_some(c);
    let many = (!hangul).then(|| std::iter::once(c).nfkd());
    one.into_iter().chain(many.into_iter().flatten())
}

fn compute(c: char) -> u32 {
    let mut kept = decompose(c).map(classify).filter(|(k, _)| *k != DROP);
    match (kept.next(), kept.next()) {
        (None, _) => pack(DROP, c),
        (Some((kind, l)), None) => pack(kind, l),
        _ => pack(MULTI, c),
    }
}

static FOLD: LazyLock<Vec<AtomicU32>> =
    LazyLock::new(|| (0..0x1_0000).map(|_| AtomicU32::new(0)).collect());

fn fold(c: char) -> u32 {
    let Some(slot) = FOLD.get(c as usize) else {
        return compute(c);
    };
    match slot.load(Ordering::Relaxed) {
        0 => {
            let v = compute(c);
            slot.store(v, Ordering::Relaxed);
            v
        }
        v => v,
    }
}

/// Builds the dense view alongside the other views.
#[derive(Default)]
pub(crate) struct DenseBuilder {
    pub view: View,
    /// The view's tail is live: the last thing kept was a script letter, or
    /// a short run folded in after one (not a barrier).
    after_script: bool,
    /// The last original character was a Cyrillic letter.
    after_cyrillic: bool,
}

impl DenseBuilder {
    fn push_char(&mut self, c: char, orig: usize) {
        let mut buf = [0u8; 4];
        let bytes = c.encode_utf8(&mut buf).as_bytes();
        let at = u32::try_from(orig).unwrap_or(u32::MAX);
        self.view.bytes.extend_from_slice(bytes);
        self.view.map.extend(std::iter::repeat_n(at, bytes.len()));
    }

    fn barrier(&mut self, orig: usize) {
        if self.view.bytes.last().is_some_and(|b| *b != BARRIER) {
            self.view.push(BARRIER, orig);
        }
        self.after_script = false;
    }

    /// One non-ASCII character at `orig`.
    pub(crate) fn char(&mut self, c: char, orig: usize) {
        let v = fold(c);
        let kind = v >> 24;
        if kind == MULTI {
            for k in decompose(c) {
                let (kind, l) = classify(k);
                self.apply(kind, l, orig);
            }
        } else {
            let l = char::from_u32(v & 0x1F_FFFF).unwrap_or(c);
            self.apply(kind, l, orig);
        }
        self.after_cyrillic = is_cyrillic_letter(c);
    }

    fn apply(&mut self, kind: u32, l: char, orig: usize) {
        match kind {
            KEEP => {
                self.push_char(l, orig);
                self.after_script = true;
            }
            BAR => self.barrier(orig),
            _ => {}
        }
    }

    /// The ASCII run `run` starting at `orig`; `next` is the character after
    /// it, if any.
    pub(crate) fn ascii_run(&mut self, run: &[u8], orig: usize, next: Option<char>) {
        let near = self.after_script || next.is_some_and(is_dense_script);
        if run.len() > SHORT_ASCII || !near {
            if !self.view.bytes.is_empty() {
                self.barrier(orig);
            }
            self.after_cyrillic = false;
            return;
        }
        let next_cyr = next.is_some_and(is_cyrillic_letter);
        let mut k = 0;
        while k < run.len() {
            let seg_end = run
                .get(k..)
                .and_then(|r| r.iter().position(|b| !b.is_ascii_alphanumeric()))
                .map_or(run.len(), |p| k + p);
            if seg_end == k {
                k += 1;
                continue;
            }
            // A Latin fragment glued to a Cyrillic letter spells Cyrillic.
            let glued = (k == 0 && self.after_cyrillic) || (seg_end == run.len() && next_cyr);
            for (j, b) in run.get(k..seg_end).unwrap_or(&[]).iter().enumerate() {
                match latin_to_cyrillic(*b).filter(|_| glued) {
                    Some(c) => self.push_char(c, orig + k + j),
                    None => self.view.push(b.to_ascii_lowercase(), orig + k + j),
                }
            }
            k = seg_end;
        }
        self.after_script = true;
        self.after_cyrillic = false;
    }
}

#[cfg(test)]
mod tests {
    use super::super::normalize;

    fn dense(s: &str) -> String {
        String::from_utf8(normalize(s).dense.bytes).unwrap()
    }

    #[test]
    fn spaces_punctuation_and_invisibles_vanish() {
        assert_eq!(dense("忽 略，之\u{200B}前"), "忽略之前");
        // "й" and "ё" lose their marks, in rules and text alike.
        assert_eq!(dense("Игнорируй ВСЕ, Ёж"), "игнорируивсееж");
    }

    #[test]
    fn latin_look_alikes_inside_cyrillic_words_fold_back() {
        assert_eq!(dense("Игнopиpуй"), dense("Игнорируй"));
        assert_eq!(dense("вce"), "все");
    }

    #[test]
    fn short_latin_runs_stay_and_long_ones_become_a_barrier() {
        assert_eq!(dense("把所有API密钥"), "把所有api密钥");
        assert_eq!(
            dense("忽略 and some long english words here 之前"),
            "忽略|之前"
        );
        assert_eq!(dense("plain ascii text only, nothing else"), "");
    }

    #[test]
    fn half_width_kana_and_full_width_latin_fold() {
        assert_eq!(dense("ｼｽﾃﾑ"), "システム");
        assert_eq!(dense("ﾃﾞｰﾀ"), dense("データ"));
        assert_eq!(dense("ＡＰＩキー"), "apiキー");
    }
}
