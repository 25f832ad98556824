//! Failed-login throttling, kept per client address and per username (a [`LoginThrottle`] is
//! keyed by either): each address, and each name, may fail
//! [`LOGIN_FAILURES_BURST`] logins at once, then one more every [`LOGIN_FAILURE_REFILL_MS`].
//! A throttled address is refused before any password is checked, so guessing from one address
//! runs at about one try per second however fast the client sends, and a flood of logins
//! cannot keep the password-hashing threads busy. A successful login does not reset the count
//! (one known account must not unlock guessing at others).
//!
//! The table is bounded: at [`LOGIN_THROTTLE_ADDRESSES_MAX`] addresses, those that have earned
//! back their whole allowance are forgotten first, then the table is cleared (throttling is a
//! brake on guessing, not an account lockout, so losing it under a flood of addresses only
//! lets those addresses try again).

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Failed logins an address may make at once.
pub const LOGIN_FAILURES_BURST: u32 = 10;
/// Failed logins one username may get at once, from all addresses together: more than one
/// address's, so one guessing address never locks the user out for the others.
pub const USER_LOGIN_FAILURES_BURST: u32 = 3 * LOGIN_FAILURES_BURST;
/// One more failed login is allowed per this many milliseconds.
pub const LOGIN_FAILURE_REFILL_MS: u64 = 1_000;
/// Most addresses remembered.
pub const LOGIN_THROTTLE_ADDRESSES_MAX: usize = 65_536;

/// An address's remaining allowance.
#[derive(Debug, Clone, Copy)]
struct Allowance {
    /// Failures still allowed as of `at`.
    left: u32,
    at: Instant,
}

impl Allowance {
    /// The allowance at `now`, refilled by one per `refill` passed since `at`, up to `burst`.
    fn refilled(self, now: Instant, refill: Duration, burst: u32) -> Self {
        let earned = now.saturating_duration_since(self.at).as_millis() / refill.as_millis();
        let earned = u32::try_from(earned).unwrap_or(u32::MAX);
        if earned == 0 {
            return self;
        }
        let left = self.left.saturating_add(earned).min(burst);
        let at = if left == burst {
            now
        } else {
            self.at + refill * earned
        };
        Self { left, at }
    }
}

/// Failed-login allowances by client address (the default) or by username.
#[derive(Debug)]
pub struct LoginThrottle<K = IpAddr> {
    addresses: Mutex<HashMap<K, Allowance>>,
    /// One more failure is allowed per this much time.
    refill: Duration,
    /// Failures allowed at once.
    burst: u32,
}

impl<K: Hash + Eq> Default for LoginThrottle<K> {
    fn default() -> Self {
        Self::with_refill(Duration::from_millis(LOGIN_FAILURE_REFILL_MS))
    }
}

impl<K: Hash + Eq> LoginThrottle<K> {
    /// A throttle that allows [`LOGIN_FAILURES_BURST`] failures, then one more per `refill`.
    pub fn with_refill(refill: Duration) -> Self {
        Self::with_limits(LOGIN_FAILURES_BURST, refill)
    }

    /// A throttle that allows `burst` failures, then one more per `refill`.
    pub fn with_limits(burst: u32, refill: Duration) -> Self {
        Self {
            addresses: Mutex::default(),
            refill,
            burst,
        }
    }

    /// Whether `address` may try a login now.
    pub fn allows<Q>(&self, address: &Q) -> bool
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let now = Instant::now();
        let addresses = self
            .addresses
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        addresses
            .get(address)
            .is_none_or(|allowance| allowance.refilled(now, self.refill, self.burst).left > 0)
    }

    /// Counts a failed login from `address`.
    pub fn failed(&self, address: K) {
        let now = Instant::now();
        let mut addresses = self
            .addresses
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if addresses.len() >= LOGIN_THROTTLE_ADDRESSES_MAX && !addresses.contains_key(&address) {
            addresses.retain(|_, allowance| {
                allowance.refilled(now, self.refill, self.burst).left < self.burst
            });
            if addresses.len() >= LOGIN_THROTTLE_ADDRESSES_MAX {
                addresses.clear();
            }
        }
        let allowance = addresses.entry(address).or_insert(Allowance {
            left: self.burst,
            at: now,
        });
        let current = allowance.refilled(now, self.refill, self.burst);
        *allowance = Allowance {
            left: current.left.saturating_sub(1),
            at: current.at,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_one_per_refill_period() {
        let throttle = LoginThrottle::default();
        let address: IpAddr = [10, 0, 0, 1].into();
        let other: IpAddr = [10, 0, 0, 2].into();
        for _ in 0..LOGIN_FAILURES_BURST {
            assert!(throttle.allows(&address));
            throttle.failed(address);
        }
        assert!(!throttle.allows(&address));
        assert!(throttle.allows(&other), "other addresses are not affected");
        let names: LoginThrottle<String> = LoginThrottle::with_limits(3, Duration::from_secs(3600));
        for _ in 0..3 {
            names.failed("alice".to_string());
        }
        assert!(!names.allows("alice") && names.allows("bob"));
        let start = Instant::now();
        let spent = Allowance { left: 0, at: start };
        let refill = Duration::from_millis(LOGIN_FAILURE_REFILL_MS);
        let later = spent.refilled(start + refill * 3, refill, LOGIN_FAILURES_BURST);
        assert_eq!(later.left, 3);
        let burst = LOGIN_FAILURES_BURST;
        let much_later = spent.refilled(start + Duration::from_secs(3600), refill, burst);
        assert_eq!(much_later.left, LOGIN_FAILURES_BURST);
    }
}
