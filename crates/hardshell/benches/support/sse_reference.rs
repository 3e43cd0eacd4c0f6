//! The hand-written SSE parser that `sse-parse` replaced in
//! `agents/providers/wire.rs`, kept only as the reference the `sse`
//! benchmark measures the crate against. Not used by the server.

/// One dispatched SSE event. `event` is `message` when the stream named none.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SseEvent {
    pub event: String,
    pub data: String,
}

/// Incremental SSE parser (the WHATWG `text/event-stream` rules): lines end
/// in LF, CRLF or CR; `:` lines are comments; several `data:` lines join with
/// LF; a blank line dispatches; `id` and `retry` are ignored.
#[derive(Debug, Default)]
pub struct SseParser {
    line: Vec<u8>,
    after_cr: bool,
    event: String,
    data: String,
}

impl SseParser {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn feed(&mut self, bytes: &[u8], out: &mut Vec<SseEvent>) {
        for &b in bytes {
            if std::mem::take(&mut self.after_cr) && b == b'\n' {
                continue; // the LF of a CRLF split across reads
            }
            match b {
                b'\r' => {
                    self.after_cr = true;
                    self.line_done(out);
                }
                b'\n' => self.line_done(out),
                _ => self.line.push(b),
            }
        }
    }

    /// End of stream: a last event without its blank line still counts
    /// (some servers close right after `data: [DONE]`).
    pub fn finish(&mut self, out: &mut Vec<SseEvent>) {
        if !self.line.is_empty() {
            self.line_done(out);
        }
        self.dispatch(out);
    }

    fn line_done(&mut self, out: &mut Vec<SseEvent>) {
        let raw = std::mem::take(&mut self.line);
        if raw.is_empty() {
            self.dispatch(out);
            return;
        }
        let line = String::from_utf8_lossy(&raw);
        if line.starts_with(':') {
            return;
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line.as_ref(), ""),
        };
        match field {
            "event" => value.clone_into(&mut self.event),
            "data" => {
                self.data.push_str(value);
                self.data.push('\n');
            }
            _ => {}
        }
    }

    fn dispatch(&mut self, out: &mut Vec<SseEvent>) {
        let event = std::mem::take(&mut self.event);
        if self.data.is_empty() {
            return;
        }
        let mut data = std::mem::take(&mut self.data);
        data.pop(); // the LF after the last data line
        out.push(SseEvent {
            event: if event.is_empty() {
                "message".to_owned()
            } else {
                event
            },
            data,
        });
    }
}
