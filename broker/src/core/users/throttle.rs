//! Failed-login throttling per client address: each address may fail
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
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Failed logins an address may make at once.
pub const LOGIN_FAILURES_BURST: u32 = 10;
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
    /// The allowance at `now`, refilled by one per `refill` passed since `at`.
    fn refilled(self, now: Instant, refill: Duration) -> Self {
        let earned = now.saturating_duration_since(self.at).as_millis() / refill.as_millis();
        let earned = u32::try_from(earned).unwrap_or(u32::MAX);
        if earned == 0 {
            return self;
        }
        let left = self.left.saturating_add(earned).min(LOGIN_FAILURES_BURST);
        let at = if left == LOGIN_FAILURES_BURST {
            now
        } else {
            self.at + refill * earned
        };
        Self { left, at }
    }
}

/// Failed-login allowances by client address.
#[derive(Debug)]
pub struct LoginThrottle {
    addresses: Mutex<HashMap<IpAddr, Allowance>>,
    /// One more failure is allowed per this much time.
    refill: Duration,
}

impl Default for LoginThrottle {
    fn default() -> Self {
        Self::with_refill(Duration::from_millis(LOGIN_FAILURE_REFILL_MS))
    }
}

impl LoginThrottle {
    /// A throttle that allows one more failure per `refill`.
    pub fn with_refill(refill: Duration) -> Self {
        Self {
            addresses: Mutex::default(),
            refill,
        }
    }

    /// Whether `address` may try a login now.
    pub fn allows(&self, address: IpAddr) -> bool {
        let now = Instant::now();
        let addresses = self
            .addresses
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        addresses
            .get(&address)
            .is_none_or(|allowance| allowance.refilled(now, self.refill).left > 0)
    }

    /// Counts a failed login from `address`.
    pub fn failed(&self, address: IpAddr) {
        let now = Instant::now();
        let mut addresses = self
            .addresses
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if addresses.len() >= LOGIN_THROTTLE_ADDRESSES_MAX && !addresses.contains_key(&address) {
            addresses.retain(|_, allowance| {
                allowance.refilled(now, self.refill).left < LOGIN_FAILURES_BURST
            });
            if addresses.len() >= LOGIN_THROTTLE_ADDRESSES_MAX {
                addresses.clear();
            }
        }
        let allowance = addresses.entry(address).or_insert(Allowance {
            left: LOGIN_FAILURES_BURST,
            at: now,
        });
        let current = allowance.refilled(now, self.refill);
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
            assert!(throttle.allows(address));
            throttle.failed(address);
        }
        assert!(!throttle.allows(address));
        assert!(throttle.allows(other), "other addresses are not affected");
        let start = Instant::now();
        let spent = Allowance { left: 0, at: start };
        let refill = Duration::from_millis(LOGIN_FAILURE_REFILL_MS);
        let later = spent.refilled(start + refill * 3, refill);
        assert_eq!(later.left, 3);
        let much_later = spent.refilled(start + Duration::from_secs(3600), refill);
        assert_eq!(much_later.left, LOGIN_FAILURES_BURST);
    }
}
