//! Bounds on uploads in flight.
//!
//! An upload is held in memory while it is typed and encrypted (up to
//! `limits.upload_bytes` each), so parallel uploads add up: eight parallel
//! 20 MiB uploads once added 333 MiB. At most `PER_PRINCIPAL` uploads per
//! person or key, and `TOTAL` server-wide, may be in flight; a request over
//! either bound is refused at once, before its body is read. A slot is a
//! guard: it is released however the upload ends (stored, refused, or the
//! client gone).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Uploads one person or key may have in flight.
pub const PER_PRINCIPAL: usize = 2;
/// Uploads the whole server may have in flight.
pub const TOTAL: usize = 4;

#[derive(Default)]
struct Counts {
    total: usize,
    by_principal: HashMap<String, usize>,
}

/// The server's upload slots. Cheap to clone.
#[derive(Clone, Default)]
pub struct UploadSlots(Arc<Mutex<Counts>>);

/// One upload in flight; dropping it frees the slot.
pub struct UploadSlot {
    counts: Arc<Mutex<Counts>>,
    principal: String,
}

impl UploadSlots {
    /// A slot for `principal`, or `None` when either bound is reached.
    pub fn try_take(&self, principal: &str) -> Option<UploadSlot> {
        let mut c = self.0.lock().ok()?;
        let mine = c.by_principal.get(principal).copied().unwrap_or(0);
        if c.total >= TOTAL || mine >= PER_PRINCIPAL {
            return None;
        }
        c.total += 1;
        c.by_principal.insert(principal.to_string(), mine + 1);
        Some(UploadSlot {
            counts: Arc::clone(&self.0),
            principal: principal.to_string(),
        })
    }
}

impl Drop for UploadSlot {
    fn drop(&mut self) {
        let Ok(mut c) = self.counts.lock() else {
            return;
        };
        c.total = c.total.saturating_sub(1);
        if let Some(n) = c.by_principal.get_mut(&self.principal) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                c.by_principal.remove(&self.principal);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_per_principal_and_in_total_and_frees_on_drop() {
        let slots = UploadSlots::default();
        let a1 = slots.try_take("user:1").unwrap();
        let _a2 = slots.try_take("user:1").unwrap();
        assert!(slots.try_take("user:1").is_none());
        let _b1 = slots.try_take("user:2").unwrap();
        let _c1 = slots.try_take("key:x").unwrap();
        // Four in flight: nobody else gets one.
        assert!(slots.try_take("user:3").is_none());
        drop(a1);
        assert!(slots.try_take("user:1").is_some());
    }
}
