//! Leak guard: replaces secret values (and their encoded forms) and
//! well-known key formats with `[REDACTED]`.
//!
//! Owns: the secret variants, their matcher and the key-format patterns. Must never
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

//!
//! Secret memory: every variant lives only in a buffer the `Redactor` owns,
//! allocated once at its final size (a growing buffer would leave an unwiped
//! copy behind) and wiped when the `Redactor` drops. So the matcher is built
//! here rather than taken from a library automaton, which keeps its own
//! copies of the patterns that nothing can wipe: a filter over each
//! variant's first `WINDOW` bytes (a bit set of their hashes), then a binary
//! search among the variants sorted by bytes and a direct comparison.

use std::sync::LazyLock;

#[cfg(test)]
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use regex::Regex;
use regex_automata::hybrid::dfa::{Cache, DFA};
use regex_automata::{Anchored, Input};
use regex_syntax::hir::{Hir, HirKind};
use serde::Serialize;
use zeroize::Zeroizing;

/// The replacement for every redacted span.
pub const REDACTED: &str = "[REDACTED]";
/// Secrets shorter than this are not redacted at all.
pub const MIN_SECRET_LEN: usize = 4;
/// Secrets at least this long are redacted in every encoded form.
pub const FULL_VARIANTS_MIN_LEN: usize = 8;

/// Bytes of a variant the filter looks at: every variant is at least this
/// long, since the shortest is a `MIN_SECRET_LEN` secret in plain form.
const WINDOW: usize = 4;
const _: () = assert!(MIN_SECRET_LEN >= WINDOW);
/// The filter's size in bits (8 KiB): with 50 secrets (~750 variants)
/// about one window in a hundred needs the binary search.
const FILTER_BITS: u32 = 16;

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

/// One secret variant in a buffer wiped on drop (moving a `Variant` moves
/// only the buffer's pointer, never its bytes).
struct Variant {
    bytes: Zeroizing<Vec<u8>>,
    kind: VariantKind,
}

/// A buffer that will hold at most `cap` bytes: allocated once, so that
/// writing into it never reallocates and leaves no copy behind.
fn buffer(cap: usize) -> Zeroizing<Vec<u8>> {
    Zeroizing::new(Vec::with_capacity(cap))
}

/// Redacts a fixed set of secrets; build once, reuse for every message.
pub struct Redactor {
    /// Every variant, sorted by bytes and deduplicated.
    variants: Vec<Variant>,
    /// `window_key` of each variant's first `WINDOW` bytes, in the same
    /// order (big-endian, so this order is the variants' order).
    keys: Zeroizing<Vec<u32>>,
    /// Bit `filter_slot(key)` is set for every key in `keys`.
    filter: Zeroizing<Vec<u64>>,
    /// Bit `b0 << 8 | b1` is set for the first two bytes of every variant,
    /// and bit `b0` of `first_bytes` for its first byte: most stream tails
    /// begin no variant, and these say so without a search.
    first_pairs: Zeroizing<Vec<u64>>,
    first_bytes: Zeroizing<Vec<u64>>,
    longest: usize,
    skipped: usize,
}

impl std::fmt::Debug for Redactor {
    // Never print the patterns: they are the secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redactor")
            .field("variants", &self.variants.len())
            .field("skipped", &self.skipped)
            .finish()
    }
}

fn window_key(w: &[u8]) -> Option<u32> {
    let w: [u8; WINDOW] = w.get(..WINDOW)?.try_into().ok()?;
    Some(u32::from_be_bytes(w))
}

fn set_bit(bits: &mut [u64], i: usize) {
    if let Some(word) = bits.get_mut(i / 64) {
        *word |= 1u64 << (i % 64);
    }
}

fn bit(bits: &[u64], i: usize) -> bool {
    bits.get(i / 64)
        .is_some_and(|word| word & (1u64 << (i % 64)) != 0)
}

fn filter_slot(key: u32) -> usize {
    // Fibonacci hashing: the top bits of the product mix all key bytes.
    (key.wrapping_mul(0x9E37_79B1) >> (32 - FILTER_BITS)) as usize
}

/// Base64 fragments of `secret` that appear whatever its alignment inside a
/// larger encoded blob (e.g. `user:secret` in a Basic auth header).
fn base64_fragments(secret: &[u8], engine: &impl base64::Engine, out: &mut Vec<Variant>) {
    for shift in 0..3usize {
        let mut buf = buffer(shift + secret.len());
        buf.resize(shift, 0);
        buf.extend_from_slice(secret);
        let enc = base64_encode(&buf, engine);
        let first = (shift * 8).div_ceil(6);
        let last = (buf.len() * 8) / 6;
        if let Some(frag) = enc.get(first..last)
            && frag.len() >= FULL_VARIANTS_MIN_LEN
        {
            let mut v = buffer(frag.len());
            v.extend_from_slice(frag);
            out.push(Variant {
                bytes: v,
                kind: VariantKind::Base64,
            });
        }
    }
}

fn base64_encode(secret: &[u8], engine: &impl base64::Engine) -> Zeroizing<Vec<u8>> {
    let cap = base64::encoded_len(secret.len(), true).unwrap_or(0);
    let mut out = Zeroizing::new(vec![0u8; cap]);
    // Cannot fail: the buffer is as long as the padded encoding.
    let n = engine.encode_slice(secret, &mut out).unwrap_or(0);
    out.truncate(n);
    out
}

const HEX_LOWER: &[u8; 16] = b"0123456789abcdef";
const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

fn push_hex(out: &mut Vec<u8>, b: u8, upper: bool) {
    let digits = if upper { HEX_UPPER } else { HEX_LOWER };
    out.push(digits[usize::from(b >> 4)]);
    out.push(digits[usize::from(b & 0xF)]);
}

/// Percent-encoding: of every byte (`all`) or of all but the unreserved
/// ones; `plus` writes a space as `+` (form encoding).
fn percent_encoded(secret: &[u8], all: bool, upper: bool, plus: bool) -> Zeroizing<Vec<u8>> {
    let mut s = buffer(secret.len() * 3);
    for &b in secret {
        let unreserved = b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~');
        if unreserved && !all {
            s.push(b);
        } else if plus && b == b' ' {
            s.push(b'+');
        } else {
            s.push(b'%');
            push_hex(&mut s, b, upper);
        }
    }
    s
}

fn hex_encoded(secret: &[u8], upper: bool) -> Zeroizing<Vec<u8>> {
    let mut s = buffer(secret.len() * 2);
    for &b in secret {
        push_hex(&mut s, b, upper);
    }
    s
}

/// JSON string escaping as serializers write it (every escape replaces one
/// byte by two, so the buffer is at most twice the secret).
fn json_escaped(secret: &[u8]) -> Zeroizing<Vec<u8>> {
    let mut s = buffer(secret.len() * 2);
    for &b in secret {
        match b {
            b'"' | b'\\' | b'/' => s.extend_from_slice(&[b'\\', b]),
            b'\n' => s.extend_from_slice(b"\\n"),
            b'\r' => s.extend_from_slice(b"\\r"),
            b'\t' => s.extend_from_slice(b"\\t"),
            b => s.push(b),
        }
    }
    s
}

/// Every form of one secret, sorted and without duplicates (a removed
/// duplicate wipes itself as it drops).
fn secret_variants(secret: &str) -> Vec<Variant> {
    let bytes = secret.as_bytes();
    let mut v = Vec::with_capacity(20);
    let mut push = |bytes: Zeroizing<Vec<u8>>, kind| v.push(Variant { bytes, kind });
    let mut plain = buffer(bytes.len());
    plain.extend_from_slice(bytes);
    push(plain, VariantKind::Plain);
    for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
        push(base64_encode(bytes, engine), VariantKind::Base64);
    }
    push(hex_encoded(bytes, false), VariantKind::Hex);
    push(hex_encoded(bytes, true), VariantKind::Hex);
    for (all, upper) in [(false, true), (false, false), (true, true), (true, false)] {
        push(percent_encoded(bytes, all, upper, false), VariantKind::Url);
    }
    push(percent_encoded(bytes, false, true, true), VariantKind::Url);
    push(json_escaped(bytes), VariantKind::Json);
    base64_fragments(bytes, &STANDARD_NO_PAD, &mut v);
    base64_fragments(bytes, &URL_SAFE_NO_PAD, &mut v);
    v.sort_by(|a, b| a.bytes.cmp(&b.bytes).then(a.kind.cmp(&b.kind)));
    v.dedup_by(|a, b| a.bytes == b.bytes);
    v
}

/// The variants of one secret as strings, for tests that build texts.
#[cfg(test)]
fn variants(secret: &str) -> Vec<(String, VariantKind)> {
    secret_variants(secret)
        .into_iter()
        .map(|v| (String::from_utf8_lossy(&v.bytes).into_owned(), v.kind))
        .collect()
}

#[cfg(test)]
fn hex_encode(secret: &[u8], upper: bool) -> String {
    String::from_utf8_lossy(&hex_encoded(secret, upper)).into_owned()
}

#[cfg(test)]
fn percent_encode(secret: &[u8], all: bool, upper: bool) -> String {
    String::from_utf8_lossy(&percent_encoded(secret, all, upper, false)).into_owned()
}

impl Redactor {
    /// Precomputes every variant of every secret and the filter over them.
    pub fn new(secrets: impl IntoIterator<Item = impl AsRef<str>>) -> Self {
        let mut variants: Vec<Variant> = Vec::new();
        let mut skipped = 0;
        for s in secrets {
            let s = s.as_ref();
            if s.len() < MIN_SECRET_LEN {
                skipped += usize::from(!s.is_empty());
                continue;
            }
            if s.len() < FULL_VARIANTS_MIN_LEN {
                let mut plain = buffer(s.len());
                plain.extend_from_slice(s.as_bytes());
                variants.push(Variant {
                    bytes: plain,
                    kind: VariantKind::PlainWholeToken,
                });
            } else {
                variants.extend(secret_variants(s));
            }
        }
        // Equal variants of different secrets collapse to the first one's
        // kind (stable sort); then sorted by bytes for the lookups.
        variants.sort_by(|a, b| {
            b.bytes
                .len()
                .cmp(&a.bytes.len())
                .then(a.bytes.cmp(&b.bytes))
        });
        variants.dedup_by(|a, b| a.bytes == b.bytes);
        variants.sort_by(|a, b| a.bytes.cmp(&b.bytes));
        let mut keys = Zeroizing::new(Vec::with_capacity(variants.len()));
        // No variants, no tables (an empty redactor answers from `variants`).
        let words = |bits: usize| if variants.is_empty() { 0 } else { bits / 64 };
        let mut filter = Zeroizing::new(vec![0u64; words(1 << FILTER_BITS)]);
        let mut first_pairs = Zeroizing::new(vec![0u64; words(1 << 16)]);
        let mut first_bytes = Zeroizing::new(vec![0u64; words(256)]);
        for v in &variants {
            if let [b0, b1, ..] = v.bytes.as_slice() {
                set_bit(&mut first_pairs, usize::from(*b0) << 8 | usize::from(*b1));
                set_bit(&mut first_bytes, usize::from(*b0));
            }
            // Every variant has a window (see `WINDOW`).
            let key = window_key(&v.bytes).unwrap_or(0);
            keys.push(key);
            set_bit(&mut filter, filter_slot(key));
        }
        let longest = variants.iter().map(|v| v.bytes.len()).max().unwrap_or(0);
        Self {
            variants,
            keys,
            filter,
            first_pairs,
            first_bytes,
            longest,
            skipped,
        }
    }

    /// How many non-empty secrets were too short to redact.
    pub fn skipped(&self) -> usize {
        self.skipped
    }

    /// Byte length of the longest secret variant (0 without secrets): a
    /// stream must hold back this much before a variant match is certain.
    pub(crate) fn longest_variant(&self) -> usize {
        self.longest
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

    /// All occurrences of all variants, in order of their start. A
    /// leftmost-longest scan would jump over a secret that starts inside
    /// another (or inside a skipped whole-token match), so every position
    /// is tried against every variant.
    fn occurrences(&self, text: &str) -> Vec<(usize, usize, VariantKind)> {
        let mut out = Vec::new();
        if self.variants.is_empty() {
            return out;
        }
        let bytes = text.as_bytes();
        for (i, w) in bytes.windows(WINDOW).enumerate() {
            let Some(key) = window_key(w) else { continue };
            if !bit(&self.filter, filter_slot(key)) {
                continue;
            }
            let rest = bytes.get(i..).unwrap_or_default();
            let first = self.keys.partition_point(|&k| k < key);
            let same = self.keys.get(first..).unwrap_or_default();
            let n = same.partition_point(|&k| k == key);
            for v in self.variants.iter().skip(first).take(n) {
                if rest.starts_with(&v.bytes) {
                    out.push((i, i + v.bytes.len(), v.kind));
                }
            }
        }
        out
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
    /// secret. The first variant not below `tail` starts with it if any does.
    pub(crate) fn may_start_variant(&self, tail: &[u8]) -> bool {
        let known = match tail {
            [] => true,
            [b0] => bit(&self.first_bytes, usize::from(*b0)),
            [b0, b1, ..] => bit(&self.first_pairs, usize::from(*b0) << 8 | usize::from(*b1)),
        };
        if !known {
            return false;
        }
        let first = self.variants.partition_point(|v| v.bytes.as_slice() < tail);
        self.variants
            .get(first)
            .is_some_and(|v| v.bytes.starts_with(tail))
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

/// For the benchmark that compares this matcher with a library automaton:
/// the variants of `secrets` as the `Redactor` holds them, and how many
/// occurrences it finds. Not an API.
#[doc(hidden)]
pub mod bench_support {
    use super::{Redactor, Zeroizing};

    pub fn variants(secrets: &[&str]) -> Vec<Zeroizing<Vec<u8>>> {
        Redactor::new(secrets)
            .variants
            .into_iter()
            .map(|v| v.bytes)
            .collect()
    }

    pub fn occurrences(redactor: &Redactor, text: &str) -> usize {
        redactor.occurrences(text).len()
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
