//! The wrong-PIN counter for sealed mode, persisted next to `seal.hss`.
//!
//! After n wrong PINs the next attempt is refused until 2^(n-1) seconds
//! (capped at 5 minutes) have passed since the last failure. Time comes from
//! an injectable [`Clock`] so tests never sleep. Never stores the PIN.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::atomic::write_atomic;
use crate::error::VaultError;

/// Longest enforced delay between PIN attempts.
pub const MAX_PIN_DELAY: Duration = Duration::from_secs(300);
/// Failure count assumed when the counter file is unreadable (fail closed).
const CORRUPT_FAILURES: u32 = 16;
const FILE_TAG: &str = "hardshell-pin-attempts v1";

/// Source of the current time for rate limiting.
pub trait Clock {
    fn now(&self) -> SystemTime;
}

/// The real wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// Required wait after `failures` consecutive wrong PINs.
pub fn pin_delay(failures: u32) -> Duration {
    if failures == 0 {
        return Duration::ZERO;
    }
    let exp = (failures - 1).min(16);
    Duration::from_secs(1u64 << exp).min(MAX_PIN_DELAY)
}

/// Path of the counter file for `seal_path` (e.g. `seal.hss.attempts`).
pub fn attempts_path(seal_path: &Path) -> PathBuf {
    let mut name = seal_path.as_os_str().to_owned();
    name.push(".attempts");
    PathBuf::from(name)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Attempts {
    pub(crate) failures: u32,
    /// Unix seconds of the last failure.
    pub(crate) last_failure: u64,
}

fn unix_secs(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Attempts {
    pub(crate) fn load(path: &Path) -> Result<Attempts, VaultError> {
        match fs::read_to_string(path) {
            Ok(text) => Ok(Attempts::parse(&text).unwrap_or(Attempts {
                failures: CORRUPT_FAILURES,
                last_failure: 0,
            })),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(Attempts {
                failures: 0,
                last_failure: 0,
            }),
            // Invalid UTF-8 is corruption too: fail closed.
            Err(err) if err.kind() == io::ErrorKind::InvalidData => Ok(Attempts {
                failures: CORRUPT_FAILURES,
                last_failure: 0,
            }),
            Err(err) => Err(VaultError::io(format!("reading {}", path.display()), err)),
        }
    }

    fn parse(text: &str) -> Option<Attempts> {
        let mut lines = text.lines();
        if lines.next()? != FILE_TAG {
            return None;
        }
        let failures = lines.next()?.strip_prefix("failures ")?.parse().ok()?;
        let last_failure = lines.next()?.strip_prefix("last_failure ")?.parse().ok()?;
        Some(Attempts {
            failures,
            last_failure,
        })
    }

    /// How long the caller must still wait, if at all. If the clock moved
    /// back, a small skew extends the wait; a large jump cannot lock the owner
    /// out indefinitely (changing the clock needs root, who could delete the
    /// counter anyway).
    pub(crate) fn retry_after(&self, now: SystemTime) -> Option<Duration> {
        let required = pin_delay(self.failures);
        if required.is_zero() {
            return None;
        }
        let now = unix_secs(now);
        if self.last_failure > now {
            let ahead = self.last_failure - now;
            return (ahead <= MAX_PIN_DELAY.as_secs())
                .then(|| required + Duration::from_secs(ahead));
        }
        let remaining = required.saturating_sub(Duration::from_secs(now - self.last_failure));
        (!remaining.is_zero()).then_some(remaining)
    }

    pub(crate) fn record_failure(&self, path: &Path, now: SystemTime) -> Result<(), VaultError> {
        let next = Attempts {
            failures: self.failures.saturating_add(1),
            last_failure: unix_secs(now),
        };
        let text = format!(
            "{FILE_TAG}\nfailures {}\nlast_failure {}\n",
            next.failures, next.last_failure
        );
        write_atomic(path, text.as_bytes(), 0o600)
            .map_err(|err| VaultError::io(format!("writing {}", path.display()), err))
    }

    pub(crate) fn reset(path: &Path) -> Result<(), VaultError> {
        match fs::remove_file(path) {
            Ok(()) => Ok(()),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(err) => Err(VaultError::io(format!("removing {}", path.display()), err)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delay_doubles_and_caps() {
        let secs: Vec<u64> = (0..12).map(|n| pin_delay(n).as_secs()).collect();
        assert_eq!(secs, [0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
        assert_eq!(pin_delay(u32::MAX), MAX_PIN_DELAY);
    }

    #[test]
    fn counter_round_trips_and_corruption_fails_closed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("seal.hss.attempts");
        let t0 = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let none = Attempts::load(&path).unwrap();
        assert_eq!(none.failures, 0);
        assert_eq!(none.retry_after(t0), None);
        none.record_failure(&path, t0).unwrap();
        let one = Attempts::load(&path).unwrap();
        assert_eq!(one.failures, 1);
        assert_eq!(one.retry_after(t0), Some(Duration::from_secs(1)));
        assert_eq!(one.retry_after(t0 + Duration::from_secs(1)), None);
        fs::write(&path, "garbage").unwrap();
        let corrupt = Attempts::load(&path).unwrap();
        assert_eq!(pin_delay(corrupt.failures), MAX_PIN_DELAY);
        Attempts::reset(&path).unwrap();
        assert!(!path.exists());
    }

    #[test]
    fn clock_moved_back_keeps_the_wait_bounded() {
        let attempts = Attempts {
            failures: 3,
            last_failure: 10_000,
        };
        let skewed = UNIX_EPOCH + Duration::from_secs(9_990);
        assert_eq!(attempts.retry_after(skewed), Some(Duration::from_secs(14)));
        let far_back = UNIX_EPOCH + Duration::from_secs(5);
        assert_eq!(attempts.retry_after(far_back), None);
    }

    #[test]
    fn attempts_path_is_beside_the_seal() {
        assert_eq!(
            attempts_path(Path::new("/d/seal.hss")),
            PathBuf::from("/d/seal.hss.attempts")
        );
    }
}
