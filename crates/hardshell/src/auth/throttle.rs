//! Abuse limits: login back-off per IP and per account, a per-IP limit on
//! unauthenticated routes, and each agent key's own per-minute limit.
//!
//! State is in memory (a restart forgets counters, never credentials).
//! Account keys are the lowercased name as typed, whether or not the
//! account exists, so a lockout never reveals which names are real.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Failures before the first lockout.
pub const LOGIN_FREE_FAILURES: u32 = 5;
/// First lockout; it doubles with every further failure.
pub const LOGIN_BASE_LOCKOUT: Duration = Duration::from_secs(30);
const LOGIN_MAX_LOCKOUT: Duration = Duration::from_secs(3600);
/// Failures older than this (with no lockout running) are forgotten.
const LOGIN_FORGET_AFTER: Duration = Duration::from_secs(15 * 60);
/// Requests per minute per IP on unauthenticated routes.
pub const UNAUTH_PER_MINUTE: u32 = 120;
const MAX_TRACKED: usize = 50_000;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum FailKey {
    Ip(IpAddr),
    Account(String),
}

#[derive(Clone, Copy, Debug)]
struct FailState {
    failures: u32,
    last: Instant,
    locked_until: Option<Instant>,
}

/// Every limiter the identity layer uses; one per server process.
pub struct Throttles {
    unauth: DefaultKeyedRateLimiter<IpAddr>,
    login: Mutex<HashMap<FailKey, FailState>>,
    keys: Mutex<HashMap<i64, (u32, std::sync::Arc<DefaultDirectRateLimiter>)>>,
}

impl Default for Throttles {
    fn default() -> Self {
        Self::new()
    }
}

fn lockout_for(failures: u32) -> Duration {
    let extra = failures.saturating_sub(LOGIN_FREE_FAILURES).min(16);
    LOGIN_BASE_LOCKOUT
        .saturating_mul(1u32 << extra)
        .min(LOGIN_MAX_LOCKOUT)
}

fn per_minute(n: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN))
}

/// Whole seconds to wait, at least one (for `Retry-After`).
pub fn retry_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

impl Throttles {
    pub fn new() -> Self {
        Self {
            unauth: RateLimiter::keyed(per_minute(UNAUTH_PER_MINUTE)),
            login: Mutex::new(HashMap::new()),
            keys: Mutex::new(HashMap::new()),
        }
    }

    /// Per-IP limit for unauthenticated routes; `Err(wait)` when exceeded.
    pub fn check_unauthenticated(&self, ip: IpAddr) -> Result<(), Duration> {
        if self.unauth.len() > MAX_TRACKED {
            self.unauth.retain_recent();
        }
        self.unauth
            .check_key(&ip)
            .map_err(|nu| nu.wait_time_from(DefaultClock::default().now()))
    }

    /// How long a login from `ip` for `account` must still wait, if locked.
    pub fn login_locked(
        &self,
        ip: IpAddr,
        account: Option<&str>,
        now: Instant,
    ) -> Option<Duration> {
        let map = self.login.lock().ok()?;
        keys(ip, account)
            .iter()
            .filter_map(|k| map.get(k)?.locked_until)
            .filter(|until| *until > now)
            .map(|until| until - now)
            .max()
    }

    /// Counts a failure against the IP and the account; returns the lockout
    /// that starts now, if this failure crossed the threshold.
    pub fn login_failed(
        &self,
        ip: IpAddr,
        account: Option<&str>,
        now: Instant,
    ) -> Option<Duration> {
        let mut map = self.login.lock().ok()?;
        if map.len() > MAX_TRACKED {
            map.retain(|_, s| now.duration_since(s.last) < LOGIN_FORGET_AFTER);
        }
        let mut started = None;
        for k in keys(ip, account) {
            let s = map.entry(k).or_insert(FailState {
                failures: 0,
                last: now,
                locked_until: None,
            });
            let lock_over = s.locked_until.is_none_or(|u| u <= now);
            if lock_over && now.duration_since(s.last) > LOGIN_FORGET_AFTER {
                s.failures = 0;
            }
            s.failures = s.failures.saturating_add(1);
            s.last = now;
            if s.failures >= LOGIN_FREE_FAILURES {
                let d = lockout_for(s.failures);
                s.locked_until = Some(now + d);
                started = Some(started.map_or(d, |m: Duration| m.max(d)));
            }
        }
        started
    }

    /// A success clears the account's counter (not the IP's: one good
    /// account must not reset an attacker's budget for guessing others).
    pub fn login_succeeded(&self, account: &str) {
        if let Ok(mut map) = self.login.lock() {
            map.remove(&FailKey::Account(account.to_lowercase()));
        }
    }

    /// An agent key's own limit, checked after it authenticated.
    pub fn check_key(&self, key_row_id: i64, per_min: u32) -> Result<(), Duration> {
        let limiter = {
            let Ok(mut map) = self.keys.lock() else {
                return Err(Duration::from_secs(1));
            };
            let entry = map.entry(key_row_id).or_insert_with(|| {
                (
                    per_min,
                    std::sync::Arc::new(RateLimiter::direct(per_minute(per_min))),
                )
            });
            if entry.0 != per_min {
                *entry = (
                    per_min,
                    std::sync::Arc::new(RateLimiter::direct(per_minute(per_min))),
                );
            }
            std::sync::Arc::clone(&entry.1)
        };
        limiter
            .check()
            .map_err(|nu| nu.wait_time_from(DefaultClock::default().now()))
    }
}

fn keys(ip: IpAddr, account: Option<&str>) -> Vec<FailKey> {
    let mut out = vec![FailKey::Ip(ip)];
    if let Some(a) = account {
        out.push(FailKey::Account(a.to_lowercase()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn lockout_after_five_then_doubles() {
        let t = Throttles::new();
        let now = Instant::now();
        for _ in 0..4 {
            assert_eq!(t.login_failed(ip("10.0.0.1"), Some("Bob"), now), None);
        }
        assert_eq!(t.login_locked(ip("10.0.0.1"), Some("bob"), now), None);
        assert_eq!(
            t.login_failed(ip("10.0.0.1"), Some("bob"), now),
            Some(LOGIN_BASE_LOCKOUT)
        );
        // The account is locked from any address; the IP for any account.
        assert!(t.login_locked(ip("10.9.9.9"), Some("BOB"), now).is_some());
        assert!(t.login_locked(ip("10.0.0.1"), Some("carol"), now).is_some());
        let later = now + LOGIN_BASE_LOCKOUT + Duration::from_secs(1);
        assert_eq!(t.login_locked(ip("10.0.0.1"), Some("bob"), later), None);
        assert_eq!(
            t.login_failed(ip("10.0.0.1"), Some("bob"), later),
            Some(LOGIN_BASE_LOCKOUT * 2)
        );
        assert_eq!(lockout_for(40), LOGIN_MAX_LOCKOUT);
    }

    #[test]
    fn success_clears_the_account_not_the_ip() {
        let t = Throttles::new();
        let now = Instant::now();
        for _ in 0..5 {
            t.login_failed(ip("10.0.0.2"), Some("eve"), now);
        }
        t.login_succeeded("EVE");
        assert!(t.login_locked(ip("10.0.0.3"), Some("eve"), now).is_none());
        assert!(t.login_locked(ip("10.0.0.2"), None, now).is_some());
    }

    #[test]
    fn key_limit_allows_n_then_refuses() {
        let t = Throttles::new();
        for _ in 0..3 {
            assert!(t.check_key(7, 3).is_ok());
        }
        let wait = t.check_key(7, 3).unwrap_err();
        assert!(retry_secs(wait) >= 1);
        // Another key has its own budget.
        assert!(t.check_key(8, 3).is_ok());
    }
}
