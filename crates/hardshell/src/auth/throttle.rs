//! Abuse limits: login back-off per IP and per account, a per-IP limit on
//! unauthenticated routes, and each agent key's own per-minute limit.
//!
//! State is in memory (a restart forgets counters, never credentials).
//! Account keys are the lowercased name as typed, whether or not the
//! account exists, so a lockout never reveals which names are real.
//!
//! A login attempt is *reserved* before its password is hashed: attempts
//! in flight count against the budget like failures, so 48 simultaneous
//! guesses get 5 evaluations, not 48 (the check-then-count race the
//! outside audit found).

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
    /// Reserved attempts whose outcome is not known yet.
    pending: u32,
    last: Instant,
    locked_until: Option<Instant>,
}

impl FailState {
    fn new(now: Instant) -> Self {
        Self {
            failures: 0,
            pending: 0,
            last: now,
            locked_until: None,
        }
    }
}

/// While a reserved attempt waits on a running one, how long to come back.
const WAIT_FOR_PENDING: Duration = Duration::from_secs(1);

/// Every limiter the identity layer uses; one per server process.
pub struct Throttles {
    /// The bound on concurrent password hashing (unauthenticated and
    /// costly, so it is an abuse limit too).
    pub hashing: super::hash_gate::HashGate,
    unauth: DefaultKeyedRateLimiter<IpAddr>,
    login: Mutex<HashMap<FailKey, FailState>>,
    /// The minute each principal's last audited limit hit fell in, so hits
    /// are audited once per principal and minute, never flooding the log.
    limit_hits: Mutex<HashMap<String, u64>>,
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
            hashing: super::hash_gate::HashGate::for_this_machine(),
            unauth: RateLimiter::keyed(per_minute(UNAUTH_PER_MINUTE)),
            login: Mutex::new(HashMap::new()),
            limit_hits: Mutex::new(HashMap::new()),
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

    /// Reserves one login attempt from `ip` for `account`, before any
    /// expensive check. `Err(wait)` while locked, or while the attempts in
    /// flight already use up what is left before a lockout.
    pub fn reserve_login(
        &self,
        ip: IpAddr,
        account: Option<&str>,
        now: Instant,
    ) -> Result<LoginAttempt<'_>, Duration> {
        let Ok(mut map) = self.login.lock() else {
            return Err(WAIT_FOR_PENDING);
        };
        if map.len() > MAX_TRACKED {
            map.retain(|_, s| s.pending > 0 || now.duration_since(s.last) < LOGIN_FORGET_AFTER);
        }
        let keys = keys(ip, account);
        for k in &keys {
            let s = map.entry(k.clone()).or_insert_with(|| FailState::new(now));
            if let Some(until) = s.locked_until.filter(|u| *u > now) {
                return Err(until - now);
            }
            if s.pending == 0 && now.duration_since(s.last) > LOGIN_FORGET_AFTER {
                s.failures = 0;
            }
            // Attempts that may run before the next lockout: what is left of
            // the free ones, or one at a time once a lockout has expired
            // (each failure then locks again, for twice as long).
            let allowance = LOGIN_FREE_FAILURES.saturating_sub(s.failures).max(1);
            if s.pending >= allowance {
                return Err(WAIT_FOR_PENDING);
            }
        }
        for k in &keys {
            if let Some(s) = map.get_mut(k) {
                s.pending += 1;
            }
        }
        Ok(LoginAttempt {
            throttles: self,
            keys,
            settled: false,
        })
    }

    /// Ends a reserved attempt: its slot is released; a failure is
    /// counted (returning the lockout that starts now, if any), and a
    /// success clears the account.
    fn settle(&self, keys: &[FailKey], outcome: Settled, now: Instant) -> Option<Duration> {
        let mut map = self.login.lock().ok()?;
        let mut started = None;
        for k in keys {
            let Some(s) = map.get_mut(k) else { continue };
            s.pending = s.pending.saturating_sub(1);
            if outcome != Settled::Failed {
                continue;
            }
            s.failures = s.failures.saturating_add(1);
            s.last = now;
            if s.failures >= LOGIN_FREE_FAILURES {
                let d = lockout_for(s.failures);
                s.locked_until = Some(now + d);
                started = Some(started.map_or(d, |m: Duration| m.max(d)));
            }
        }
        if outcome == Settled::Succeeded {
            // A success clears the account's counter, not the IP's: one good
            // account must not reset an attacker's budget for guessing others.
            if let Some(account @ FailKey::Account(_)) = keys.get(1)
                && let Some(s) = map.get_mut(account)
            {
                s.failures = 0;
                s.locked_until = None;
            }
        }
        started
    }

    /// True for the first limit hit of `principal` in the minute `minute`
    /// (Unix seconds / 60): only that one is audited.
    pub fn first_limit_hit_in_minute(&self, principal: &str, minute: u64) -> bool {
        let Ok(mut map) = self.limit_hits.lock() else {
            return false;
        };
        if map.len() > MAX_TRACKED {
            map.retain(|_, m| *m == minute);
        }
        map.insert(principal.to_string(), minute) != Some(minute)
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

#[derive(Clone, Copy, PartialEq, Eq)]
enum Settled {
    Failed,
    Succeeded,
    /// The caller went away (or failed internally): only the slot is freed.
    Abandoned,
}

/// One reserved login attempt. Say how it ended with `failed` or
/// `succeeded`; dropped without either (the caller went away, or an
/// internal error), it only releases its slot.
#[must_use]
pub struct LoginAttempt<'a> {
    throttles: &'a Throttles,
    keys: Vec<FailKey>,
    settled: bool,
}

impl LoginAttempt<'_> {
    /// Counts the failure; returns the lockout that starts now, if any.
    pub fn failed(mut self, now: Instant) -> Option<Duration> {
        self.settled = true;
        self.throttles.settle(&self.keys, Settled::Failed, now)
    }

    pub fn succeeded(mut self) {
        self.settled = true;
        self.throttles
            .settle(&self.keys, Settled::Succeeded, Instant::now());
    }
}

impl Drop for LoginAttempt<'_> {
    fn drop(&mut self) {
        if !self.settled {
            self.throttles
                .settle(&self.keys, Settled::Abandoned, Instant::now());
        }
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

    fn fail(t: &Throttles, ip_s: &str, account: Option<&str>, now: Instant) -> Option<Duration> {
        t.reserve_login(ip(ip_s), account, now).ok()?.failed(now)
    }

    #[test]
    fn lockout_after_five_then_doubles() {
        let t = Throttles::new();
        let now = Instant::now();
        for _ in 0..4 {
            assert_eq!(fail(&t, "10.0.0.1", Some("Bob"), now), None);
        }
        assert!(t.reserve_login(ip("10.0.0.1"), Some("bob"), now).is_ok());
        assert_eq!(
            fail(&t, "10.0.0.1", Some("bob"), now),
            Some(LOGIN_BASE_LOCKOUT)
        );
        // The account is locked from any address; the IP for any account.
        assert!(t.reserve_login(ip("10.9.9.9"), Some("BOB"), now).is_err());
        assert!(t.reserve_login(ip("10.0.0.1"), Some("carol"), now).is_err());
        let later = now + LOGIN_BASE_LOCKOUT + Duration::from_secs(1);
        assert!(t.reserve_login(ip("10.0.0.1"), Some("bob"), later).is_ok());
        assert_eq!(
            fail(&t, "10.0.0.1", Some("bob"), later),
            Some(LOGIN_BASE_LOCKOUT * 2)
        );
        assert_eq!(lockout_for(40), LOGIN_MAX_LOCKOUT);
    }

    #[test]
    fn success_clears_the_account_not_the_ip() {
        let t = Throttles::new();
        let now = Instant::now();
        for _ in 0..5 {
            fail(&t, "10.0.0.2", Some("eve"), now);
        }
        // Locked: a success cannot even be attempted from the locked IP, so
        // clear the account from another address after the lockout ends.
        let later = now + LOGIN_BASE_LOCKOUT + Duration::from_secs(1);
        t.reserve_login(ip("10.0.0.3"), Some("EVE"), later)
            .unwrap()
            .succeeded();
        assert!(t.reserve_login(ip("10.0.0.4"), Some("eve"), later).is_ok());
        // The IP's failures are still counted: its next failure locks again.
        assert!(fail(&t, "10.0.0.2", None, later).is_some());
    }

    #[test]
    fn attempts_in_flight_count_against_the_budget() {
        let t = Throttles::new();
        let now = Instant::now();
        // Five reserved at once (none finished): the sixth is refused,
        // for the account from any IP and for the IP for any account.
        let held: Vec<_> = (0..5)
            .map(|_| t.reserve_login(ip("10.0.0.5"), Some("ann"), now).unwrap())
            .collect();
        assert!(t.reserve_login(ip("10.0.0.5"), Some("ann"), now).is_err());
        assert!(t.reserve_login(ip("10.7.7.7"), Some("ann"), now).is_err());
        assert!(t.reserve_login(ip("10.0.0.5"), Some("bob"), now).is_err());
        // All five fail: the lockout starts, and nothing more is admitted.
        let locks: Vec<_> = held.into_iter().map(|a| a.failed(now)).collect();
        assert!(locks[4].is_some());
        assert!(t.reserve_login(ip("10.0.0.5"), Some("ann"), now).is_err());
    }

    #[test]
    fn an_abandoned_attempt_only_frees_its_slot() {
        let t = Throttles::new();
        let now = Instant::now();
        for _ in 0..10 {
            drop(t.reserve_login(ip("10.0.0.6"), Some("cy"), now).unwrap());
        }
        for _ in 0..4 {
            assert_eq!(fail(&t, "10.0.0.6", Some("cy"), now), None);
        }
        assert!(fail(&t, "10.0.0.6", Some("cy"), now).is_some());
    }

    #[test]
    fn limit_hits_are_reported_once_per_principal_and_minute() {
        let t = Throttles::new();
        assert!(t.first_limit_hit_in_minute("ip:10.0.0.1", 100));
        assert!(!t.first_limit_hit_in_minute("ip:10.0.0.1", 100));
        assert!(t.first_limit_hit_in_minute("key:abc", 100));
        assert!(t.first_limit_hit_in_minute("ip:10.0.0.1", 101));
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
