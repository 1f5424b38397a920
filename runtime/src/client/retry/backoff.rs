//! When to retry: the jittered exponential backoff of gRFC A6, and the
//! server's `grpc-retry-pushback-ms`, which overrides it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::base::metadata::MetadataMap;
use crate::client::service_config::RetryPolicy;

/// The backoffs of one call's retries: `min(initial * multiplier^(n-1), max)`
/// times a uniform jitter in [0.8, 1.2), `n` counting retries since the last
/// pushback.
#[derive(Debug)]
pub(crate) struct Backoff {
    retries: u32,
    random: Random,
}

impl Backoff {
    pub(crate) fn new() -> Self {
        Self {
            retries: 0,
            random: Random::seeded(),
        }
    }

    /// The wait before the next retry.
    pub(crate) fn next(&mut self, policy: &RetryPolicy) -> Duration {
        self.retries = self.retries.saturating_add(1);
        unjittered(policy, self.retries).mul_f64(0.8 + 0.4 * self.random.unit())
    }

    /// Starts the sequence again, as a server's pushback does.
    pub(crate) fn reset(&mut self) {
        self.retries = 0;
    }
}

/// The backoff before retry `n` (from 1), before jitter.
fn unjittered(policy: &RetryPolicy, n: u32) -> Duration {
    let exponent = i32::try_from(n.saturating_sub(1)).unwrap_or(i32::MAX);
    let seconds =
        policy.initial_backoff().as_secs_f64() * policy.backoff_multiplier().powi(exponent);
    // Overflow to infinity falls to the maximum too.
    Duration::try_from_secs_f64(seconds.min(policy.max_backoff().as_secs_f64()))
        .unwrap_or(policy.max_backoff())
}

/// What the server said about retrying, in `grpc-retry-pushback-ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pushback {
    /// Nothing: the client's own backoff applies.
    None,
    /// Retry after exactly this long.
    After(Duration),
    /// Do not retry: a negative, malformed or repeated value.
    Stop,
}

const PUSHBACK: &str = "grpc-retry-pushback-ms";

/// The pushback in a failed attempt's trailers (a status's metadata).
pub(crate) fn pushback(metadata: &MetadataMap) -> Pushback {
    let mut values = metadata.get_all(PUSHBACK).iter();
    let Some(value) = values.next() else {
        return Pushback::None;
    };
    if values.next().is_some() {
        return Pushback::Stop;
    }
    // A6: an int32 of milliseconds.
    match value.to_str().ok().and_then(|v| v.parse::<i32>().ok()) {
        Some(ms) if ms >= 0 => Pushback::After(Duration::from_millis(ms.unsigned_abs().into())),
        _ => Pushback::Stop,
    }
}

/// A small xorshift generator for jitter: statistical quality is all it
/// needs, and it keeps the runtime free of a random-number dependency.
#[derive(Debug)]
struct Random(u64);

impl Random {
    /// Seeded from the clock and a counter, so calls that start together
    /// still spread their retries apart.
    fn seeded() -> Self {
        static CALLS: AtomicU64 = AtomicU64::new(0);
        let clock = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let call = CALLS.fetch_add(1, Ordering::Relaxed);
        // splitmix64 of the two: never zero, which xorshift cannot leave.
        let mut z = clock ^ call.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Self((z ^ (z >> 31)) | 1)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        (x >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::status::Code;

    fn policy() -> RetryPolicy {
        RetryPolicy::new(
            5,
            Duration::from_millis(100),
            Duration::from_millis(500),
            2.0,
            [Code::Unavailable],
        )
        .unwrap()
    }

    fn within_jitter(wait: Duration, base_ms: f64) -> bool {
        let ms = wait.as_secs_f64() * 1000.0;
        ms >= base_ms * 0.8 - 1e-6 && ms < base_ms * 1.2 + 1e-6
    }

    #[test]
    fn backoffs_grow_within_twenty_percent_jitter_up_to_the_maximum() {
        let policy = policy();
        let mut backoff = Backoff::new();
        for base in [100.0, 200.0, 400.0, 500.0, 500.0] {
            let wait = backoff.next(&policy);
            assert!(within_jitter(wait, base), "{wait:?} for {base}ms");
        }
    }

    #[test]
    fn unjittered_backoff_grows_by_the_multiplier_up_to_the_maximum() {
        let policy = policy();
        assert_eq!(unjittered(&policy, 1), Duration::from_millis(100));
        assert_eq!(unjittered(&policy, 2), Duration::from_millis(200));
        assert_eq!(unjittered(&policy, 3), Duration::from_millis(400));
        assert_eq!(unjittered(&policy, 4), Duration::from_millis(500));
        assert_eq!(unjittered(&policy, u32::MAX), Duration::from_millis(500));
    }

    #[test]
    fn a_reset_starts_the_backoffs_again() {
        let policy = policy();
        let mut backoff = Backoff::new();
        backoff.next(&policy);
        backoff.next(&policy);
        backoff.reset();
        assert!(within_jitter(backoff.next(&policy), 100.0));
    }

    #[test]
    fn jitter_spreads_over_its_range() {
        let mut random = Random::seeded();
        let samples: Vec<f64> = (0..1000).map(|_| random.unit()).collect();
        assert!(samples.iter().all(|x| (0.0..1.0).contains(x)));
        assert!(samples.iter().any(|x| *x < 0.1) && samples.iter().any(|x| *x > 0.9));
        assert_ne!(Random::seeded().unit(), Random::seeded().unit());
    }

    fn trailers(values: &[&'static str]) -> MetadataMap {
        let mut metadata = MetadataMap::new();
        for value in values {
            metadata.append(PUSHBACK, value.parse().unwrap());
        }
        metadata
    }

    #[test]
    fn pushback_is_read_as_milliseconds() {
        assert_eq!(pushback(&trailers(&[])), Pushback::None);
        assert_eq!(
            pushback(&trailers(&["250"])),
            Pushback::After(Duration::from_millis(250))
        );
        assert_eq!(pushback(&trailers(&["0"])), Pushback::After(Duration::ZERO));
    }

    #[test]
    fn negative_malformed_or_repeated_pushback_stops_retries() {
        for values in [
            &["-1"][..],
            &["soon"],
            &["1.5"],
            &["99999999999"],
            &["1", "2"],
        ] {
            assert_eq!(pushback(&trailers(values)), Pushback::Stop, "{values:?}");
        }
    }
}
