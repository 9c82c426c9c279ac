//! Bounded, jittered exponential backoff (shared by `update` and `watch`).

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, Instant};

/// A bounded, jittered exponential backoff: before retry `n` (n = 1, 2, ...) the client sleeps
/// a random duration in `[0, min(max_backoff, initial_backoff * multiplier^(n-1))]` ("full
/// jitter"), which spreads out writers that collided.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Total attempts, the first included (>= 1).
    pub max_attempts: u32,
    /// Cap of the first sleep.
    pub initial_backoff: Duration,
    /// Cap of every sleep.
    pub max_backoff: Duration,
    /// Growth of the cap after each retry (>= 1).
    pub multiplier: f64,
}

impl RetryPolicy {
    /// The default of [`Client::update`](crate::Client::update): 20 attempts, sleeps capped at
    /// 10 ms doubling up to 1 s.
    pub const UPDATE: RetryPolicy = RetryPolicy {
        max_attempts: 20,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_secs(1),
        multiplier: 2.0,
    };

    /// The default of [`Client::watch`](crate::Client::watch)'s resumption: 12 reconnections in
    /// a row without progress, sleeps capped at 100 ms doubling up to 5 s. Every version
    /// received resets the budget.
    pub const WATCH: RetryPolicy = RetryPolicy {
        max_attempts: 12,
        initial_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_secs(5),
        multiplier: 2.0,
    };

    /// No retries at all.
    pub const NONE: RetryPolicy = RetryPolicy {
        max_attempts: 1,
        initial_backoff: Duration::ZERO,
        max_backoff: Duration::ZERO,
        multiplier: 1.0,
    };
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy::UPDATE
    }
}

/// The sleeps of one retry loop.
#[derive(Debug)]
pub(crate) struct Backoff {
    policy: RetryPolicy,
    retries: u32,
    cap: Duration,
}

impl Backoff {
    pub(crate) fn new(policy: RetryPolicy) -> Self {
        Backoff {
            policy,
            retries: 0,
            cap: policy.initial_backoff,
        }
    }

    /// The sleep before the next retry, or `None` when the attempts are used up.
    pub(crate) fn next_delay(&mut self) -> Option<Duration> {
        if self.retries + 1 >= self.policy.max_attempts.max(1) {
            return None;
        }
        self.retries += 1;
        let cap = self.cap.min(self.policy.max_backoff);
        self.cap = self
            .cap
            .mul_f64(self.policy.multiplier.max(1.0))
            .min(self.policy.max_backoff);
        Some(cap.mul_f64(random_unit()))
    }

    /// Progress was made: the next failure gets the full budget again.
    pub(crate) fn reset(&mut self) {
        self.retries = 0;
        self.cap = self.policy.initial_backoff;
    }
}

/// A random number in [0, 1]. std's `RandomState` is randomly keyed per process and per
/// instance, which is plenty for jitter and saves a dependency.
fn random_unit() -> f64 {
    (random_u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// 64 random bits (the same source as [`random_unit`]; also names workers).
pub(crate) fn random_u64() -> u64 {
    let mut h = RandomState::new().build_hasher();
    h.write_u128(Instant::now().elapsed().as_nanos());
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_and_capped() {
        let mut b = Backoff::new(RetryPolicy {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(15),
            multiplier: 2.0,
        });
        let delays: Vec<_> = std::iter::from_fn(|| b.next_delay()).collect();
        assert_eq!(delays.len(), 3);
        assert!(delays[0] <= Duration::from_millis(10));
        assert!(delays.iter().all(|d| *d <= Duration::from_millis(15)));
        b.reset();
        assert!(b.next_delay().is_some());
        assert!(Backoff::new(RetryPolicy::NONE).next_delay().is_none());
    }

    #[test]
    fn jitter_varies() {
        let xs: Vec<f64> = (0..16).map(|_| random_unit()).collect();
        assert!(xs.iter().all(|x| (0.0..=1.0).contains(x)));
        assert!(xs.windows(2).any(|w| w[0] != w[1]));
    }
}
