//! The retry, hedging and throttling policies of gRFC A6, validated as A6 and
//! service_config.proto say, whether read from JSON or made in code.

use std::time::Duration;

use crate::base::status::Code;
use crate::client::service_config::error::ServiceConfigError;
use crate::client::service_config::json::Node;

/// More attempts than this are cut to it, as A6 says (not an error).
const MAX_ATTEMPTS_CAP: u32 = 5;

/// A rule broken: which field, and how.
type Broken = (&'static str, &'static str);

/// A set of status codes (each code is one bit).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Codes(u32);

impl Codes {
    fn from_codes(codes: impl IntoIterator<Item = Code>) -> Self {
        Self(codes.into_iter().fold(0, |set, code| set | bit(code)))
    }

    fn contains(self, code: Code) -> bool {
        self.0 & bit(code) != 0
    }

    fn iter(self) -> impl Iterator<Item = Code> {
        (0..32)
            .filter(move |i| self.0 & (1 << i) != 0)
            .map(Code::from)
    }

    fn read(node: &Node<'_>) -> Result<Self, ServiceConfigError> {
        let mut codes = Vec::new();
        for item in node.items()? {
            codes.push(item.code()?);
        }
        Ok(Self::from_codes(codes))
    }
}

fn bit(code: Code) -> u32 {
    // Codes outside 0..=16 (none come from configs) share the top bit.
    1 << (code as i32).clamp(0, 31)
}

/// How a method's failed calls are retried (gRFC A6 `retryPolicy`): an attempt
/// that fails with one of the retryable codes is tried again after an
/// exponential, jittered backoff, up to `max_attempts` attempts in all.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    max_attempts: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
    backoff_multiplier: f64,
    retryable: Codes,
}

impl RetryPolicy {
    /// A retry policy, validated as a service config's would be: `max_attempts`
    /// above 1 (more than 5 is cut to 5), both backoffs and the multiplier
    /// above 0, at least one retryable code.
    ///
    /// # Errors
    ///
    /// A value out of range, named as `retryPolicy.<field>`.
    pub fn new(
        max_attempts: u32,
        initial_backoff: Duration,
        max_backoff: Duration,
        backoff_multiplier: f64,
        retryable_status_codes: impl IntoIterator<Item = Code>,
    ) -> Result<Self, ServiceConfigError> {
        Self::validated(
            i64::from(max_attempts),
            initial_backoff,
            max_backoff,
            backoff_multiplier,
            Codes::from_codes(retryable_status_codes),
        )
        .map_err(|(field, message)| {
            ServiceConfigError::field(format!("retryPolicy.{field}"), message)
        })
    }

    fn validated(
        max_attempts: i64,
        initial_backoff: Duration,
        max_backoff: Duration,
        backoff_multiplier: f64,
        retryable: Codes,
    ) -> Result<Self, Broken> {
        let max_attempts = attempts(max_attempts)?;
        if initial_backoff.is_zero() {
            return Err(("initialBackoff", "must be greater than 0"));
        }
        if max_backoff.is_zero() {
            return Err(("maxBackoff", "must be greater than 0"));
        }
        if !(backoff_multiplier.is_finite() && backoff_multiplier > 0.0) {
            return Err(("backoffMultiplier", "must be greater than 0"));
        }
        if retryable.0 == 0 {
            return Err(("retryableStatusCodes", "must name at least one status code"));
        }
        Ok(Self {
            max_attempts,
            initial_backoff,
            max_backoff,
            backoff_multiplier,
            retryable,
        })
    }

    pub(crate) fn from_json(node: &Node<'_>) -> Result<Self, ServiceConfigError> {
        let max_attempts =
            required(node, "maxAttempts")?.integer(i32::MIN.into(), i32::MAX.into())?;
        let initial_backoff = required(node, "initialBackoff")?.duration()?;
        let max_backoff = required(node, "maxBackoff")?.duration()?;
        let backoff_multiplier = required(node, "backoffMultiplier")?.number()?;
        let retryable = Codes::read(&required(node, "retryableStatusCodes")?)?;
        Self::validated(
            max_attempts,
            initial_backoff,
            max_backoff,
            backoff_multiplier,
            retryable,
        )
        .map_err(|broken| at(node, broken))
    }

    /// How many attempts a call may make in all, the first one included (2 to 5).
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The backoff before the first retry, before jitter.
    pub fn initial_backoff(&self) -> Duration {
        self.initial_backoff
    }

    /// The longest backoff, before jitter.
    pub fn max_backoff(&self) -> Duration {
        self.max_backoff
    }

    /// What each backoff is multiplied by for the next one.
    pub fn backoff_multiplier(&self) -> f64 {
        self.backoff_multiplier
    }

    /// The status codes a failed attempt is retried on.
    pub fn retryable_status_codes(&self) -> impl Iterator<Item = Code> + '_ {
        self.retryable.iter()
    }

    /// Whether an attempt that failed with `code` may be retried.
    pub fn is_retryable(&self, code: Code) -> bool {
        self.retryable.contains(code)
    }
}

/// How a method's calls are hedged (gRFC A6 `hedgingPolicy`): further attempts
/// are sent every `hedging_delay` while none has answered, up to `max_attempts`
/// in all; the first to answer wins.
#[derive(Debug, Clone, PartialEq)]
pub struct HedgingPolicy {
    max_attempts: u32,
    hedging_delay: Duration,
    non_fatal: Codes,
}

impl HedgingPolicy {
    /// A hedging policy, validated as a service config's would be:
    /// `max_attempts` above 1 (more than 5 is cut to 5). A zero delay sends
    /// every attempt at once; a non-fatal code from one attempt sends the next
    /// at once instead of ending the call.
    ///
    /// # Errors
    ///
    /// A value out of range, named as `hedgingPolicy.<field>`.
    pub fn new(
        max_attempts: u32,
        hedging_delay: Duration,
        non_fatal_status_codes: impl IntoIterator<Item = Code>,
    ) -> Result<Self, ServiceConfigError> {
        Ok(Self {
            max_attempts: attempts(max_attempts.into()).map_err(|(field, message)| {
                ServiceConfigError::field(format!("hedgingPolicy.{field}"), message)
            })?,
            hedging_delay,
            non_fatal: Codes::from_codes(non_fatal_status_codes),
        })
    }

    pub(crate) fn from_json(node: &Node<'_>) -> Result<Self, ServiceConfigError> {
        let max_attempts =
            required(node, "maxAttempts")?.integer(i32::MIN.into(), i32::MAX.into())?;
        let max_attempts = attempts(max_attempts).map_err(|broken| at(node, broken))?;
        let hedging_delay = match node.get("hedgingDelay")? {
            Some(delay) => delay.duration()?,
            None => Duration::ZERO,
        };
        let non_fatal = match node.get("nonFatalStatusCodes")? {
            Some(codes) => Codes::read(&codes)?,
            None => Codes::default(),
        };
        Ok(Self {
            max_attempts,
            hedging_delay,
            non_fatal,
        })
    }

    /// How many attempts a call may send in all, the first one included (2 to 5).
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The time between one hedged attempt and the next; zero sends all at once.
    pub fn hedging_delay(&self) -> Duration {
        self.hedging_delay
    }

    /// The status codes that do not end a hedged call: another attempt is sent.
    pub fn non_fatal_status_codes(&self) -> impl Iterator<Item = Code> + '_ {
        self.non_fatal.iter()
    }

    /// Whether an attempt that failed with `code` lets the call go on.
    pub fn is_non_fatal(&self, code: Code) -> bool {
        self.non_fatal.contains(code)
    }
}

/// Retry throttling (gRFC A6 `retryThrottling`): a token bucket per channel
/// that stops retries and hedges while too many calls fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryThrottling {
    max_tokens: u32,
    token_ratio_thousandths: u32,
}

impl RetryThrottling {
    /// Throttling with a bucket of `max_tokens` (1 to 1000) that each
    /// successful call refills by `token_ratio` (above 0; three decimals are
    /// kept, as A6 says).
    ///
    /// # Errors
    ///
    /// A value out of range, named as `retryThrottling.<field>`.
    pub fn new(max_tokens: u32, token_ratio: f64) -> Result<Self, ServiceConfigError> {
        Self::validated(max_tokens.into(), token_ratio).map_err(|(field, message)| {
            ServiceConfigError::field(format!("retryThrottling.{field}"), message)
        })
    }

    fn validated(max_tokens: i64, token_ratio: f64) -> Result<Self, Broken> {
        if !(1..=1000).contains(&max_tokens) {
            return Err(("maxTokens", "must be greater than 0 and at most 1000"));
        }
        if !(token_ratio.is_finite() && token_ratio > 0.0) {
            return Err(("tokenRatio", "must be greater than 0"));
        }
        Ok(Self {
            max_tokens: max_tokens as u32,
            // Float to int casts saturate: a huge ratio just refills at once.
            token_ratio_thousandths: (token_ratio * 1000.0).floor() as u32,
        })
    }

    pub(crate) fn from_json(node: &Node<'_>) -> Result<Self, ServiceConfigError> {
        let max_tokens = required(node, "maxTokens")?.integer(0, u32::MAX.into())?;
        let token_ratio = required(node, "tokenRatio")?.number()?;
        Self::validated(max_tokens, token_ratio).map_err(|broken| at(node, broken))
    }

    /// The size of the bucket, which starts full.
    pub fn max_tokens(&self) -> u32 {
        self.max_tokens
    }

    /// What each successful call adds to the bucket, to three decimals.
    pub fn token_ratio(&self) -> f64 {
        f64::from(self.token_ratio_thousandths) / 1000.0
    }
}

fn attempts(max_attempts: i64) -> Result<u32, Broken> {
    if max_attempts <= 1 {
        return Err(("maxAttempts", "must be greater than 1"));
    }
    Ok(max_attempts.min(MAX_ATTEMPTS_CAP.into()) as u32)
}

fn required<'a>(node: &Node<'a>, name: &str) -> Result<Node<'a>, ServiceConfigError> {
    node.get(name)?.ok_or_else(|| {
        let path = if node.path().is_empty() {
            name.to_owned()
        } else {
            format!("{}.{name}", node.path())
        };
        ServiceConfigError::field(path, "is required")
    })
}

fn at(node: &Node<'_>, (field, message): Broken) -> ServiceConfigError {
    ServiceConfigError::field(format!("{}.{field}", node.path()), message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn retry(json: serde_json::Value) -> Result<RetryPolicy, String> {
        let root = serde_json::json!({ "retryPolicy": json });
        let node = Node::root(&root).get("retryPolicy").unwrap().unwrap();
        RetryPolicy::from_json(&node).map_err(|e| e.to_string())
    }

    fn good_retry() -> serde_json::Value {
        serde_json::json!({
            "maxAttempts": 3,
            "initialBackoff": "0.1s",
            "maxBackoff": "1s",
            "backoffMultiplier": 2,
            "retryableStatusCodes": ["UNAVAILABLE"],
        })
    }

    fn with(mut json: serde_json::Value, key: &str, value: serde_json::Value) -> serde_json::Value {
        json[key] = value;
        json
    }

    #[test]
    fn a_retry_policy_reads_every_field() {
        let policy = retry(good_retry()).unwrap();
        assert_eq!(policy.max_attempts(), 3);
        assert_eq!(policy.initial_backoff(), Duration::from_millis(100));
        assert_eq!(policy.max_backoff(), Duration::from_secs(1));
        assert_eq!(policy.backoff_multiplier(), 2.0);
        assert_eq!(
            policy.retryable_status_codes().collect::<Vec<_>>(),
            [Code::Unavailable]
        );
        assert!(policy.is_retryable(Code::Unavailable));
        assert!(!policy.is_retryable(Code::Internal));
    }

    #[test]
    fn retry_max_attempts_must_exceed_one_and_is_capped_at_five() {
        for bad in [1, 0, -3] {
            assert_eq!(
                retry(with(good_retry(), "maxAttempts", bad.into())).unwrap_err(),
                "retryPolicy.maxAttempts: must be greater than 1"
            );
        }
        let capped = retry(with(good_retry(), "maxAttempts", 9.into())).unwrap();
        assert_eq!(capped.max_attempts(), 5);
    }

    #[test]
    fn retry_backoffs_and_multiplier_must_be_positive() {
        let cases = [
            (
                "initialBackoff",
                "0s".into(),
                "retryPolicy.initialBackoff: must be greater than 0",
            ),
            (
                "maxBackoff",
                "0s".into(),
                "retryPolicy.maxBackoff: must be greater than 0",
            ),
            (
                "backoffMultiplier",
                0.into(),
                "retryPolicy.backoffMultiplier: must be greater than 0",
            ),
            (
                "backoffMultiplier",
                (-1.5).into(),
                "retryPolicy.backoffMultiplier: must be greater than 0",
            ),
        ];
        for (key, value, expected) in cases {
            assert_eq!(retry(with(good_retry(), key, value)).unwrap_err(), expected);
        }
        let negative = retry(with(good_retry(), "initialBackoff", "-1s".into())).unwrap_err();
        assert!(
            negative.starts_with("retryPolicy.initialBackoff: "),
            "{negative}"
        );
    }

    #[test]
    fn retry_codes_must_not_be_empty() {
        assert_eq!(
            retry(with(
                good_retry(),
                "retryableStatusCodes",
                serde_json::json!([])
            ))
            .unwrap_err(),
            "retryPolicy.retryableStatusCodes: must name at least one status code"
        );
        let bad = retry(with(
            good_retry(),
            "retryableStatusCodes",
            serde_json::json!(["NOPE"]),
        ));
        assert_eq!(
            bad.unwrap_err(),
            "retryPolicy.retryableStatusCodes[0]: unknown status code \"NOPE\""
        );
    }

    #[test]
    fn every_retry_field_is_required() {
        for key in [
            "maxAttempts",
            "initialBackoff",
            "maxBackoff",
            "backoffMultiplier",
            "retryableStatusCodes",
        ] {
            let mut json = good_retry();
            json.as_object_mut().unwrap().remove(key);
            assert_eq!(
                retry(json).unwrap_err(),
                format!("retryPolicy.{key}: is required")
            );
        }
    }

    #[test]
    fn policies_made_in_code_are_validated_alike() {
        let codes = [Code::Unavailable];
        let second = Duration::from_secs(1);
        assert!(RetryPolicy::new(2, second, second, 1.5, codes).is_ok());
        let err = RetryPolicy::new(1, second, second, 1.5, codes).unwrap_err();
        assert_eq!(err.path(), Some("retryPolicy.maxAttempts"));
        let err = RetryPolicy::new(2, second, second, f64::NAN, codes).unwrap_err();
        assert_eq!(err.path(), Some("retryPolicy.backoffMultiplier"));
        assert_eq!(HedgingPolicy::new(7, second, []).unwrap().max_attempts(), 5);
        let err = HedgingPolicy::new(1, second, []).unwrap_err();
        assert_eq!(
            err.to_string(),
            "hedgingPolicy.maxAttempts: must be greater than 1"
        );
        let err = RetryThrottling::new(0, 1.0).unwrap_err();
        assert_eq!(err.path(), Some("retryThrottling.maxTokens"));
    }

    fn hedging(json: serde_json::Value) -> Result<HedgingPolicy, String> {
        let root = serde_json::json!({ "hedgingPolicy": json });
        let node = Node::root(&root).get("hedgingPolicy").unwrap().unwrap();
        HedgingPolicy::from_json(&node).map_err(|e| e.to_string())
    }

    #[test]
    fn a_hedging_policy_defaults_its_delay_to_zero_and_its_codes_to_none() {
        let policy = hedging(serde_json::json!({"maxAttempts": 3})).unwrap();
        assert_eq!(policy.max_attempts(), 3);
        assert_eq!(policy.hedging_delay(), Duration::ZERO);
        assert_eq!(policy.non_fatal_status_codes().count(), 0);
        let policy = hedging(serde_json::json!({
            "maxAttempts": 10,
            "hedgingDelay": "0.25s",
            "nonFatalStatusCodes": ["unavailable", 13],
        }))
        .unwrap();
        assert_eq!(policy.max_attempts(), 5);
        assert_eq!(policy.hedging_delay(), Duration::from_millis(250));
        assert!(policy.is_non_fatal(Code::Unavailable) && policy.is_non_fatal(Code::Internal));
        assert!(!policy.is_non_fatal(Code::Ok));
    }

    #[test]
    fn hedging_max_attempts_is_required_and_must_exceed_one() {
        assert_eq!(
            hedging(serde_json::json!({})).unwrap_err(),
            "hedgingPolicy.maxAttempts: is required"
        );
        assert_eq!(
            hedging(serde_json::json!({"maxAttempts": 1})).unwrap_err(),
            "hedgingPolicy.maxAttempts: must be greater than 1"
        );
        let negative = hedging(serde_json::json!({"maxAttempts": 2, "hedgingDelay": "-1s"}));
        assert!(
            negative
                .unwrap_err()
                .starts_with("hedgingPolicy.hedgingDelay: ")
        );
    }

    fn throttling(json: serde_json::Value) -> Result<RetryThrottling, String> {
        let root = serde_json::json!({ "retryThrottling": json });
        let node = Node::root(&root).get("retryThrottling").unwrap().unwrap();
        RetryThrottling::from_json(&node).map_err(|e| e.to_string())
    }

    #[test]
    fn throttling_keeps_three_decimals_of_its_ratio() {
        let throttling = throttling(serde_json::json!({"maxTokens": 10, "tokenRatio": 0.12345}));
        let throttling = throttling.unwrap();
        assert_eq!(throttling.max_tokens(), 10);
        assert_eq!(throttling.token_ratio(), 0.123);
    }

    #[test]
    fn throttling_tokens_must_be_in_range_and_ratio_positive() {
        for bad in [0, 1001] {
            assert_eq!(
                throttling(serde_json::json!({"maxTokens": bad, "tokenRatio": 1})).unwrap_err(),
                "retryThrottling.maxTokens: must be greater than 0 and at most 1000"
            );
        }
        assert!(throttling(serde_json::json!({"maxTokens": 1000, "tokenRatio": 1})).is_ok());
        assert_eq!(
            throttling(serde_json::json!({"maxTokens": 10, "tokenRatio": 0})).unwrap_err(),
            "retryThrottling.tokenRatio: must be greater than 0"
        );
        assert_eq!(
            throttling(serde_json::json!({"tokenRatio": 1})).unwrap_err(),
            "retryThrottling.maxTokens: is required"
        );
    }
}
