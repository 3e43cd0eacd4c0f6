//! Wire-level pieces shared by the three providers: a Server-Sent Events
//! parser, an NDJSON line splitter and the tool-call fragment assembler.
//! They work on bytes exactly as they arrive, so an event, a line or a UTF-8
//! character split across TCP reads comes out whole. They never interpret
//! provider JSON; that is each provider's job.

use std::collections::BTreeMap;

use super::ToolCall;

/// One dispatched SSE event. `event` is `message` when the stream named none.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SseEvent {
    pub event: String,
    pub data: String,
}

/// The largest SSE event (its lines together) a provider may send. A
/// provider streams small deltas; an event past this is refused rather
/// than buffered without bound.
pub const MAX_SSE_EVENT_BYTES: usize = 1 << 20;

/// An event over [`MAX_SSE_EVENT_BYTES`].
#[derive(Debug, thiserror::Error)]
#[error("a stream event is over {MAX_SSE_EVENT_BYTES} bytes")]
pub struct SseOverflow;

/// Incremental SSE parsing (the WHATWG `text/event-stream` rules) by the
/// `sse-parse` crate, with a cap on how much one event may buffer. One
/// difference from a browser, kept on purpose: at the end of the stream a
/// last event without its blank line still counts (some servers close
/// right after `data: [DONE]`).
#[derive(Debug)]
pub struct SseParser {
    inner: sse_parse::SseParser,
}

impl Default for SseParser {
    fn default() -> Self {
        Self::new()
    }
}

impl SseParser {
    pub fn new() -> Self {
        SseParser {
            inner: sse_parse::SseParser::new().max_buffer(MAX_SSE_EVENT_BYTES),
        }
    }

    pub fn feed(&mut self, bytes: &[u8], out: &mut Vec<SseEvent>) -> Result<(), SseOverflow> {
        self.inner.feed(bytes);
        self.drain(out)
    }

    /// End of stream: dispatches an event whose blank line never came.
    pub fn finish(&mut self, out: &mut Vec<SseEvent>) -> Result<(), SseOverflow> {
        self.inner.feed(b"\n\n");
        self.inner.finish();
        self.drain(out)
    }

    fn drain(&mut self, out: &mut Vec<SseEvent>) -> Result<(), SseOverflow> {
        if self.inner.overflows() > 0 {
            return Err(SseOverflow);
        }
        while let Some(e) = self.inner.next_event() {
            out.push(SseEvent {
                event: e.event,
                data: e.data,
            });
        }
        Ok(())
    }
}

/// A too-large event as the providers report it.
pub fn protocol(e: SseOverflow) -> super::ProviderError {
    super::ProviderError::Protocol(e.to_string())
}

/// Splits newline-delimited JSON into lines; CRLF and blank lines are fine.
#[derive(Debug, Default)]
pub struct NdjsonSplitter {
    line: Vec<u8>,
}

impl NdjsonSplitter {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn feed(&mut self, bytes: &[u8], out: &mut Vec<String>) {
        for &b in bytes {
            if b == b'\n' {
                self.line_done(out);
            } else {
                self.line.push(b);
            }
        }
    }

    /// End of stream: a last line without its newline still counts.
    pub fn finish(&mut self, out: &mut Vec<String>) {
        self.line_done(out);
    }

    fn line_done(&mut self, out: &mut Vec<String>) {
        let raw = std::mem::take(&mut self.line);
        let line = String::from_utf8_lossy(&raw);
        let line = line.trim();
        if !line.is_empty() {
            out.push(line.to_owned());
        }
    }
}

#[derive(Debug, Default)]
struct Partial {
    id: String,
    name: String,
    arguments: String,
}

/// Assembles streamed tool calls from fragments keyed by the provider's
/// index: the id and name arrive once, the argument text in pieces.
#[derive(Debug, Default)]
pub struct ToolCallAssembler {
    calls: BTreeMap<u64, Partial>,
}

impl ToolCallAssembler {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(
        &mut self,
        index: u64,
        id: Option<&str>,
        name: Option<&str>,
        fragment: Option<&str>,
    ) {
        let call = self.calls.entry(index).or_default();
        if let Some(id) = id.filter(|s| !s.is_empty())
            && call.id.is_empty()
        {
            id.clone_into(&mut call.id);
        }
        if let Some(name) = name.filter(|s| !s.is_empty())
            && call.name.is_empty()
        {
            name.clone_into(&mut call.name);
        }
        if let Some(fragment) = fragment {
            call.arguments.push_str(fragment);
        }
    }

    pub fn contains(&self, index: u64) -> bool {
        self.calls.contains_key(&index)
    }

    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }

    /// The finished call at `index`, if any.
    pub fn take(&mut self, index: u64) -> Option<ToolCall> {
        self.calls.remove(&index).map(complete)
    }

    /// Every call still held, in index order.
    pub fn take_all(&mut self) -> Vec<ToolCall> {
        std::mem::take(&mut self.calls)
            .into_values()
            .map(complete)
            .collect()
    }
}

fn complete(p: Partial) -> ToolCall {
    ToolCall {
        id: if p.id.is_empty() {
            synth_call_id()
        } else {
            p.id
        },
        name: p.name,
        // A call without arguments streams none; `{}` is what it means.
        arguments: if p.arguments.trim().is_empty() {
            "{}".to_owned()
        } else {
            p.arguments
        },
    }
}

/// An id for a call whose provider gave none (Ollama).
pub fn synth_call_id() -> String {
    format!("call_{:016x}", rand::random::<u64>())
}

/// Collapses whitespace and shortens to `max` characters.
pub fn shorten(text: &str, max: usize) -> String {
    let mut out = String::new();
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    if out.chars().count() > max {
        let mut cut: String = out.chars().take(max).collect();
        cut.push('…');
        cut
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sse_all(chunks: &[&[u8]]) -> Vec<SseEvent> {
        let mut p = SseParser::new();
        let mut out = Vec::new();
        for c in chunks {
            p.feed(c, &mut out).unwrap();
        }
        p.finish(&mut out).unwrap();
        out
    }

    #[test]
    fn sse_handles_comments_multiline_data_and_line_endings() {
        let raw = b": keep-alive\r\nevent: a\r\ndata: one\r\ndata:two\r\n\r\nid: 3\rdata: x\r\rretry: 5\ndata\n\ndata: [DONE]";
        let got = sse_all(&[raw]);
        assert_eq!(
            got,
            vec![
                SseEvent {
                    event: "a".into(),
                    data: "one\ntwo".into()
                },
                SseEvent {
                    event: "message".into(),
                    data: "x".into()
                },
                SseEvent {
                    event: "message".into(),
                    data: "".into()
                },
                SseEvent {
                    event: "message".into(),
                    data: "[DONE]".into()
                },
            ]
        );
    }

    #[test]
    fn sse_joins_a_crlf_and_a_utf8_character_split_across_reads() {
        let raw = "data: héllo\r\n\r\n".as_bytes();
        let i = raw.iter().position(|&b| b >= 0x80).unwrap() + 1;
        let cr = raw.len() - 3; // between \r and \n
        let got = sse_all(&[&raw[..i], &raw[i..cr], &raw[cr..]]);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].data, "héllo");
    }

    #[test]
    fn an_event_over_the_cap_is_refused_not_buffered() {
        let mut p = SseParser::new();
        let mut out = Vec::new();
        let chunk = vec![b'x'; 64 * 1024];
        p.feed(b"data: ", &mut out).unwrap();
        let mut refused = false;
        for _ in 0..(MAX_SSE_EVENT_BYTES / chunk.len() + 2) {
            if p.feed(&chunk, &mut out).is_err() {
                refused = true;
                break;
            }
        }
        assert!(refused, "an endless line was buffered");
        assert!(out.is_empty());
    }

    #[test]
    fn an_event_with_no_data_is_not_dispatched() {
        assert!(sse_all(&[b"event: ping\n\n: c\n\n"]).is_empty());
    }

    #[test]
    fn ndjson_splits_lines_and_skips_blanks() {
        let mut s = NdjsonSplitter::new();
        let mut out = Vec::new();
        s.feed(b"{\"a\":1}\r\n\n  \n{\"b\"", &mut out);
        s.feed(b":2}\n{\"c\":3}", &mut out);
        s.finish(&mut out);
        assert_eq!(out, vec![r#"{"a":1}"#, r#"{"b":2}"#, r#"{"c":3}"#]);
    }

    #[test]
    fn assembler_orders_by_index_and_fills_gaps() {
        let mut a = ToolCallAssembler::new();
        a.push(1, Some("b1"), Some("second"), Some(""));
        a.push(0, None, Some("first"), Some("{\"x\":"));
        a.push(0, None, None, Some("1}"));
        a.push(1, None, Some("ignored"), None);
        let calls = a.take_all();
        assert_eq!(calls[0].name, "first");
        assert_eq!(calls[0].arguments, "{\"x\":1}");
        assert!(calls[0].id.starts_with("call_"));
        assert_eq!(calls[1].id, "b1");
        assert_eq!(calls[1].name, "second");
        assert_eq!(calls[1].arguments, "{}");
        assert!(a.is_empty());
    }

    #[test]
    fn shorten_collapses_and_cuts() {
        assert_eq!(shorten(" a \n\t b ", 10), "a b");
        assert_eq!(shorten("abcdef", 3), "abc…");
    }

    /// Cuts `bytes` at the given (sorted, deduplicated) offsets.
    fn split_at<'a>(bytes: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
        let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
        points.sort_unstable();
        points.dedup();
        let mut out = Vec::new();
        let mut last = 0;
        for p in points {
            out.push(&bytes[last..p]);
            last = p;
        }
        out.push(&bytes[last..]);
        out
    }

    fn ending() -> impl Strategy<Value = &'static str> {
        prop_oneof![Just("\n"), Just("\r\n"), Just("\r")]
    }

    proptest! {
        #[test]
        fn sse_events_do_not_depend_on_how_the_stream_is_split(
            events in proptest::collection::vec(
                ("[a-z_]{0,8}", proptest::collection::vec("[^\r\n]{0,12}", 1..4), any::<bool>()),
                0..6,
            ),
            eol in ending(),
            cuts in proptest::collection::vec(any::<usize>(), 0..12),
        ) {
            let mut raw = String::new();
            let mut want = Vec::new();
            for (name, lines, comment) in &events {
                if *comment {
                    raw.push_str(": comment");
                    raw.push_str(eol);
                }
                if !name.is_empty() {
                    raw.push_str(&format!("event: {name}{eol}"));
                }
                for l in lines {
                    raw.push_str(&format!("data: {l}{eol}"));
                }
                raw.push_str(eol);
                want.push(SseEvent {
                    event: if name.is_empty() { "message".into() } else { name.clone() },
                    data: lines.join("\n"),
                });
            }
            let bytes = raw.as_bytes();
            prop_assert_eq!(sse_all(&split_at(bytes, &cuts)), want.clone());
            // One byte at a time, the hardest split.
            let singles: Vec<&[u8]> = bytes.chunks(1).collect();
            prop_assert_eq!(sse_all(&singles), want);
        }

        #[test]
        fn ndjson_lines_do_not_depend_on_how_the_stream_is_split(
            lines in proptest::collection::vec("[^\r\n]{1,20}", 0..8),
            crlf in any::<bool>(),
            cuts in proptest::collection::vec(any::<usize>(), 0..12),
        ) {
            let eol = if crlf { "\r\n" } else { "\n" };
            let raw: String = lines.iter().map(|l| format!("{l}{eol}")).collect();
            let want: Vec<String> = lines
                .iter()
                .map(|l| l.trim().to_owned())
                .filter(|l| !l.is_empty())
                .collect();
            let mut s = NdjsonSplitter::new();
            let mut out = Vec::new();
            for piece in split_at(raw.as_bytes(), &cuts) {
                s.feed(piece, &mut out);
            }
            s.finish(&mut out);
            prop_assert_eq!(out, want);
        }

        #[test]
        fn tool_call_assembly_does_not_depend_on_fragmenting(
            args in proptest::collection::vec("[ -~]{0,40}", 1..4),
            cuts in proptest::collection::vec(any::<usize>(), 0..8),
            interleave in any::<bool>(),
        ) {
            let mut a = ToolCallAssembler::new();
            let pieces: Vec<Vec<&[u8]>> = args
                .iter()
                .map(|s| split_at(s.as_bytes(), &cuts))
                .collect();
            for (i, _) in args.iter().enumerate() {
                a.push(i as u64, Some(&format!("id{i}")), Some(&format!("tool{i}")), None);
            }
            let longest = pieces.iter().map(Vec::len).max().unwrap_or(0);
            if interleave {
                for step in 0..longest {
                    for (i, p) in pieces.iter().enumerate() {
                        if let Some(frag) = p.get(step) {
                            a.push(i as u64, None, None, Some(std::str::from_utf8(frag).unwrap()));
                        }
                    }
                }
            } else {
                for (i, p) in pieces.iter().enumerate() {
                    for frag in p {
                        a.push(i as u64, None, None, Some(std::str::from_utf8(frag).unwrap()));
                    }
                }
            }
            let calls = a.take_all();
            prop_assert_eq!(calls.len(), args.len());
            for (i, call) in calls.iter().enumerate() {
                let want = if args[i].trim().is_empty() { "{}" } else { args[i].as_str() };
                prop_assert_eq!(&call.arguments, want);
                prop_assert_eq!(&call.name, &format!("tool{i}"));
                prop_assert_eq!(&call.id, &format!("id{i}"));
            }
        }
    }
}
