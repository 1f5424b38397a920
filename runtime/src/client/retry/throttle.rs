//! Retry throttling (gRFC A6): a channel-wide token bucket that stops retries
//! and hedges while too many calls fail, so retries cannot pile onto a server
//! that is already failing.

use std::sync::atomic::{AtomicU32, Ordering};

use crate::client::service_config::RetryThrottling;

/// The bucket: starts full; a failure takes a token, a success gives back
/// `tokenRatio`; retries and hedges go out only while more than half is left.
///
/// Counted in thousandths of a token, since the ratio has three decimals, so
/// it is one lock-free integer.
#[derive(Debug)]
pub(crate) struct RetryThrottle {
    max: u32,
    ratio: u32,
    tokens: AtomicU32,
}

/// One token, in thousandths.
const TOKEN: u32 = 1000;

impl RetryThrottle {
    pub(crate) fn new(config: &RetryThrottling) -> Self {
        let max = config.max_tokens() * TOKEN;
        Self {
            max,
            // Exact: the ratio was cut to three decimals.
            ratio: (config.token_ratio() * f64::from(TOKEN)).round() as u32,
            tokens: AtomicU32::new(max),
        }
    }

    /// Whether a retry or hedge may go out now.
    pub(crate) fn allows(&self) -> bool {
        self.above_threshold(self.tokens.load(Ordering::Acquire))
    }

    /// Counts a failed attempt (a retryable or non-fatal code, or a pushback
    /// that says not to retry); returns whether retries may still go out.
    pub(crate) fn record_failure(&self) -> bool {
        let before = self.update(|tokens| tokens.saturating_sub(TOKEN));
        self.above_threshold(before.saturating_sub(TOKEN))
    }

    /// Counts a successful call.
    pub(crate) fn record_success(&self) {
        self.update(|tokens| tokens.saturating_add(self.ratio).min(self.max));
    }

    fn above_threshold(&self, tokens: u32) -> bool {
        u64::from(tokens) * 2 > u64::from(self.max)
    }

    /// Applies `change` atomically; returns the tokens before it.
    fn update(&self, change: impl Fn(u32) -> u32) -> u32 {
        match self
            .tokens
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |t| Some(change(t)))
        {
            Ok(before) | Err(before) => before,
        }
    }

    #[cfg(test)]
    pub(crate) fn tokens(&self) -> f64 {
        f64::from(self.tokens.load(Ordering::Acquire)) / f64::from(TOKEN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle(max_tokens: u32, token_ratio: f64) -> RetryThrottle {
        RetryThrottle::new(&RetryThrottling::new(max_tokens, token_ratio).unwrap())
    }

    #[test]
    fn the_bucket_starts_full_and_allows_retries() {
        let throttle = throttle(10, 0.5);
        assert_eq!(throttle.tokens(), 10.0);
        assert!(throttle.allows());
    }

    #[test]
    fn retries_stop_once_half_the_bucket_or_less_is_left() {
        let throttle = throttle(10, 0.5);
        for left in (6..10).rev() {
            assert!(throttle.record_failure(), "{left} tokens left");
        }
        // 5 of 10 is not more than half.
        assert!(!throttle.record_failure());
        assert_eq!(throttle.tokens(), 5.0);
        assert!(!throttle.allows());
    }

    #[test]
    fn successes_refill_by_the_ratio_up_to_the_maximum() {
        let throttle = throttle(10, 0.5);
        for _ in 0..5 {
            throttle.record_failure();
        }
        assert!(!throttle.allows());
        throttle.record_success();
        assert_eq!(throttle.tokens(), 5.5);
        assert!(throttle.allows());
        for _ in 0..100 {
            throttle.record_success();
        }
        assert_eq!(throttle.tokens(), 10.0);
    }

    #[test]
    fn the_bucket_never_goes_below_empty() {
        let throttle = throttle(2, 1.0);
        for _ in 0..5 {
            throttle.record_failure();
        }
        assert_eq!(throttle.tokens(), 0.0);
        throttle.record_success();
        throttle.record_success();
        assert_eq!(throttle.tokens(), 2.0);
        assert!(throttle.allows());
    }
}
