//! Connection backoff, as gRPC's connection-backoff spec gives it: 1 s
//! first, then x1.6 each time up to 120 s, each delay jittered by ±20%, and
//! every connection attempt allowed at least 20 s.

use std::time::Duration;

/// The delays between connection attempts.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    config: BackoffConfig,
    /// The next delay, before jitter.
    current: Duration,
    seed: u64,
}

/// Connection backoff settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct BackoffConfig {
    pub(crate) initial: Duration,
    pub(crate) multiplier: f64,
    pub(crate) jitter: f64,
    pub(crate) max: Duration,
    pub(crate) min_connect_timeout: Duration,
}

impl Default for BackoffConfig {
    fn default() -> Self {
        Self {
            initial: Duration::from_secs(1),
            multiplier: 1.6,
            jitter: 0.2,
            max: Duration::from_secs(120),
            min_connect_timeout: Duration::from_secs(20),
        }
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new(BackoffConfig::default())
    }
}

impl Backoff {
    pub(crate) fn new(config: BackoffConfig) -> Self {
        Self {
            config,
            current: config.initial,
            seed: seed(),
        }
    }

    /// The delay before the next attempt (jittered), and grows the one after.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let base = self.current;
        self.current = base.mul_f64(self.config.multiplier).min(self.config.max);
        let spread = 1.0 + self.config.jitter * (2.0 * self.uniform() - 1.0);
        base.mul_f64(spread)
    }

    /// How long the next attempt may take: the backoff, but never less than
    /// the minimum connect timeout.
    pub(crate) fn connect_timeout(&self) -> Duration {
        self.current.max(self.config.min_connect_timeout)
    }

    /// Back to the first delay, after a connection worked.
    pub(crate) fn reset(&mut self) {
        self.current = self.config.initial;
    }

    /// A uniform number in [0, 1), from xorshift: jitter needs spread, not
    /// cryptography.
    fn uniform(&mut self) -> f64 {
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        (self.seed >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A seed that differs between backoffs made at once, so channels to one
/// server do not reconnect in step.
fn seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    hasher.finish() | 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_by_1_6_within_20_percent_up_to_120_s() {
        let mut backoff = Backoff::default();
        let mut base = 1.0_f64;
        for _ in 0..20 {
            let delay = backoff.next_delay().as_secs_f64();
            assert!(
                delay >= base * 0.8 - 1e-9 && delay <= base * 1.2 + 1e-9,
                "{delay} vs {base}"
            );
            base = (base * 1.6).min(120.0);
        }
        assert!((base - 120.0).abs() < 1e-9);
    }

    #[test]
    fn reset_starts_again_at_one_second() {
        let mut backoff = Backoff::default();
        for _ in 0..5 {
            backoff.next_delay();
        }
        backoff.reset();
        let delay = backoff.next_delay();
        assert!(delay >= Duration::from_millis(800) && delay <= Duration::from_millis(1200));
    }

    #[test]
    fn connect_timeout_is_at_least_20_s() {
        let mut backoff = Backoff::default();
        assert_eq!(backoff.connect_timeout(), Duration::from_secs(20));
        for _ in 0..10 {
            backoff.next_delay();
        }
        assert!(backoff.connect_timeout() > Duration::from_secs(20));
    }

    #[test]
    fn jitter_spreads_delays() {
        let delays: Vec<Duration> = (0..20).map(|_| Backoff::default().next_delay()).collect();
        assert!(delays.iter().any(|d| *d != delays[0]), "{delays:?}");
    }
}
