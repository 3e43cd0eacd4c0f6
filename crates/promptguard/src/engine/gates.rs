//! Regex analysis for gating: which literals, line starts or first bytes
//! every match of a rule begins with, so a regex is only tried where it can
//! match.
//!
//! Owns: parsing folded rule sources and reading their prefixes. Must never
//! narrow a gate below what the regex can match: a missed candidate is a
//! missed detection (`engine` tests check gated runs against full passes).

use regex_syntax::hir::{Hir, HirKind, Look};

/// Folds a rule's source the way text is folded: lowercase, and `l` into the
/// `i` class. Regex escapes used in the table (`\b`, `\w`, `\s`) are
/// unaffected; literal digits must not appear in rules (text digits fold).
pub(super) fn fold_regex_source(src: &str) -> String {
    src.chars()
        .map(|c| match c.to_ascii_lowercase() {
            'l' => 'i',
            other => other,
        })
        .collect()
}

pub(super) fn parse(src: &str) -> Option<Hir> {
    regex_syntax::ParserBuilder::new()
        .unicode(false)
        .utf8(false)
        .build()
        .parse(src)
        .ok()
}

/// The literals every match of `hir` starts with, if the set is finite and
/// none of them is empty.
pub(super) fn prefix_literals(hir: &Hir) -> Option<Vec<Vec<u8>>> {
    use regex_syntax::hir::literal::{ExtractKind, Extractor};
    let mut extractor = Extractor::new();
    extractor.kind(ExtractKind::Prefix).limit_total(1000);
    let seq = extractor.extract(hir);
    let lits = seq.literals()?;
    if lits.is_empty() || lits.iter().any(|l| l.as_bytes().is_empty()) {
        return None;
    }
    Some(lits.iter().map(|l| l.as_bytes().to_vec()).collect())
}

/// Whether every match of `hir` starts at a line start.
pub(super) fn starts_at_line_start(hir: &Hir) -> bool {
    let first = match hir.kind() {
        HirKind::Concat(parts) => parts.first(),
        _ => Some(hir),
    };
    first.is_some_and(|h| matches!(h.kind(), HirKind::Look(Look::StartLF | Look::Start)))
}

/// Whether every match of `hir` starts at a word boundary: in the words
/// view that is right after a space (the view starts with one), so gate
/// literals can carry it and skip hits inside words.
pub(super) fn starts_at_word(hir: &Hir) -> bool {
    let first = match hir.kind() {
        HirKind::Concat(parts) => parts.first(),
        _ => Some(hir),
    };
    first.is_some_and(|h| {
        matches!(
            h.kind(),
            HirKind::Look(Look::WordAscii | Look::WordStartAscii | Look::WordStartHalfAscii)
        )
    })
}

/// The bytes a match of a line-start regex can begin with (all, if the rest
/// of the regex can match the empty string).
pub(super) fn line_start_first_bytes(hir: &Hir) -> [bool; 256] {
    let rest = match hir.kind() {
        HirKind::Concat(parts) => Hir::concat(parts.iter().skip(1).cloned().collect()),
        _ => return [true; 256],
    };
    let mut set = [false; 256];
    if first_bytes(&rest, &mut set) {
        return [true; 256];
    }
    set
}

/// Adds to `set` every byte a non-empty match of `hir` can start with;
/// returns whether `hir` can match the empty string (then what follows it
/// can supply the first byte too).
pub(super) fn first_bytes(hir: &Hir, set: &mut [bool; 256]) -> bool {
    use regex_syntax::hir::Class;
    let mut mark = |lo: u32, hi: u32| {
        for b in lo..=hi.min(255) {
            if let Some(slot) = set.get_mut(b as usize) {
                *slot = true;
            }
        }
    };
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => true,
        HirKind::Literal(lit) => match lit.0.first() {
            Some(b) => {
                mark(u32::from(*b), u32::from(*b));
                false
            }
            None => true,
        },
        HirKind::Class(Class::Bytes(c)) => {
            c.ranges()
                .iter()
                .for_each(|r| mark(u32::from(r.start()), u32::from(r.end())));
            false
        }
        // Not produced with Unicode off; any byte, to stay safe.
        HirKind::Class(Class::Unicode(_)) => {
            mark(0, 255);
            false
        }
        HirKind::Repetition(r) => first_bytes(&r.sub, set) || r.min == 0,
        HirKind::Capture(c) => first_bytes(&c.sub, set),
        HirKind::Concat(parts) => parts.iter().all(|p| first_bytes(p, set)),
        HirKind::Alternation(subs) => {
            // Every branch adds its bytes: no short circuit.
            let mut nullable = false;
            for s in subs {
                nullable |= first_bytes(s, set);
            }
            nullable
        }
    }
}

/// A gate literal of one or two bytes, with its searcher built once (a
/// `memmem` searcher costs more to build than to run on a chat message).
pub(super) enum ShortGate {
    Byte(u8),
    Bytes(Box<memchr::memmem::Finder<'static>>),
}

impl ShortGate {
    pub(super) fn new(lit: Vec<u8>) -> Option<Self> {
        match lit.as_slice() {
            [] => None,
            [b] => Some(ShortGate::Byte(*b)),
            _ => Some(ShortGate::Bytes(Box::new(
                memchr::memmem::Finder::new(&lit).into_owned(),
            ))),
        }
    }

    /// Offsets where the literal starts in `hay`.
    pub(super) fn positions(&self, hay: &[u8], out: &mut Vec<usize>) {
        match self {
            ShortGate::Byte(b) => out.extend(memchr::memchr_iter(*b, hay)),
            ShortGate::Bytes(f) => out.extend(f.find_iter(hay)),
        }
    }
}

pub(super) fn line_starts_of(bytes: &[u8]) -> Vec<usize> {
    std::iter::once(0)
        .chain(memchr::memchr_iter(b'\n', bytes).map(|p| p + 1))
        .collect()
}
