//! Capped capture of one output stream.
//!
//! Owns the cap: it keeps the first `cap` bytes, counts the rest and
//! discards them, so a flood neither blocks the writer nor grows memory. A
//! truncated stream ends with a visible marker; it must never silently drop
//! bytes.

/// What a run wrote to one stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Captured {
    /// The first bytes written, followed by a marker line when truncated.
    pub bytes: Vec<u8>,
    /// Whether more was written than kept.
    pub truncated: bool,
    /// Everything the stream carried, kept or not.
    pub total_bytes: u64,
}

impl Captured {
    /// The bytes as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }
}

pub(crate) struct CappedBuffer {
    kept: Vec<u8>,
    cap: usize,
    total: u64,
}

impl CappedBuffer {
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            kept: Vec::with_capacity(cap.min(8 * 1024)),
            cap,
            total: 0,
        }
    }

    pub(crate) fn push(&mut self, bytes: &[u8]) {
        self.total = self.total.saturating_add(bytes.len() as u64);
        let room = self.cap.saturating_sub(self.kept.len());
        self.kept.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    pub(crate) fn finish(self) -> Captured {
        let truncated = self.total > self.kept.len() as u64;
        let mut bytes = self.kept;
        if truncated {
            let marker = format!(
                "\n[output truncated: {} bytes written, first {} kept]\n",
                self.total, self.cap
            );
            bytes.extend_from_slice(marker.as_bytes());
        }
        Captured {
            bytes,
            truncated,
            total_bytes: self.total,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_head_counts_the_rest_and_marks_it() {
        let mut b = CappedBuffer::new(4);
        b.push(b"ab");
        b.push(b"cdef");
        b.push(b"gh");
        let c = b.finish();
        assert!(c.truncated);
        assert_eq!(c.total_bytes, 8);
        assert!(c.bytes.starts_with(b"abcd\n[output truncated: 8 bytes"));
    }

    #[test]
    fn short_output_is_untouched() {
        let mut b = CappedBuffer::new(4);
        b.push(b"abcd");
        let c = b.finish();
        assert!(!c.truncated);
        assert_eq!(c.bytes, b"abcd");
        assert_eq!(c.total_bytes, 4);
    }
}
