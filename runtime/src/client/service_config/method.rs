//! One `methodConfig` entry: the methods it names and the settings their calls
//! get (timeout, wait-for-ready, message size limits, retry or hedging).

use std::time::Duration;

use crate::client::service_config::error::ServiceConfigError;
use crate::client::service_config::json::Node;
use crate::client::service_config::policy::{HedgingPolicy, RetryPolicy};

/// The settings a service config gives the calls of some methods.
///
/// Every setting is optional: an absent one leaves the channel's or the
/// call's own. Made from JSON by [`ServiceConfig`](super::ServiceConfig), or in
/// code with [`MethodConfig::new`] and the `with_` methods.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MethodConfig {
    timeout: Option<Duration>,
    wait_for_ready: Option<bool>,
    max_request_message_bytes: Option<usize>,
    max_response_message_bytes: Option<usize>,
    attempts: Option<Attempts>,
}

/// Retry and hedging exclude each other.
#[derive(Debug, Clone, PartialEq)]
enum Attempts {
    Retry(RetryPolicy),
    Hedging(HedgingPolicy),
}

/// A name a `methodConfig` entry applies to: a method of a service, a whole
/// service (empty method), or every method (both empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Name {
    pub(crate) service: String,
    pub(crate) method: String,
}

impl MethodConfig {
    /// A config that sets nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the calls' timeout; a call's own shorter deadline still wins.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Sets whether calls wait for a ready connection instead of failing fast.
    pub fn with_wait_for_ready(mut self, wait_for_ready: bool) -> Self {
        self.wait_for_ready = Some(wait_for_ready);
        self
    }

    /// Sets the largest request message the calls may send, in bytes.
    pub fn with_max_request_message_bytes(mut self, bytes: usize) -> Self {
        self.max_request_message_bytes = Some(bytes);
        self
    }

    /// Sets the largest response message the calls may receive, in bytes.
    pub fn with_max_response_message_bytes(mut self, bytes: usize) -> Self {
        self.max_response_message_bytes = Some(bytes);
        self
    }

    /// Retries the calls with `policy`, replacing any hedging policy.
    pub fn with_retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.attempts = Some(Attempts::Retry(policy));
        self
    }

    /// Hedges the calls with `policy`, replacing any retry policy.
    pub fn with_hedging_policy(mut self, policy: HedgingPolicy) -> Self {
        self.attempts = Some(Attempts::Hedging(policy));
        self
    }

    /// The calls' timeout, if set.
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// Whether the calls wait for a ready connection, if set.
    pub fn wait_for_ready(&self) -> Option<bool> {
        self.wait_for_ready
    }

    /// The largest request message, in bytes, if set.
    pub fn max_request_message_bytes(&self) -> Option<usize> {
        self.max_request_message_bytes
    }

    /// The largest response message, in bytes, if set.
    pub fn max_response_message_bytes(&self) -> Option<usize> {
        self.max_response_message_bytes
    }

    /// How failed calls are retried, if they are.
    pub fn retry_policy(&self) -> Option<&RetryPolicy> {
        match &self.attempts {
            Some(Attempts::Retry(policy)) => Some(policy),
            _ => None,
        }
    }

    /// How calls are hedged, if they are.
    pub fn hedging_policy(&self) -> Option<&HedgingPolicy> {
        match &self.attempts {
            Some(Attempts::Hedging(policy)) => Some(policy),
            _ => None,
        }
    }

    /// Reads one `methodConfig` entry: the names it applies to (each with its
    /// path, for errors about duplicates) and its settings.
    pub(crate) fn from_json(
        node: &Node<'_>,
    ) -> Result<(Vec<(Name, String)>, Self), ServiceConfigError> {
        let names = match node.get("name")? {
            Some(names) => names
                .items()?
                .iter()
                .map(|name| Ok((read_name(name)?, name.path().to_owned())))
                .collect::<Result<_, ServiceConfigError>>()?,
            None => Vec::new(),
        };
        let size = |field: &str| -> Result<Option<usize>, ServiceConfigError> {
            match node.get(field)? {
                Some(bytes) => Ok(Some(bytes.integer(0, u32::MAX.into())? as usize)),
                None => Ok(None),
            }
        };
        let retry = node.get("retryPolicy")?;
        let hedging = node.get("hedgingPolicy")?;
        let attempts = match (retry, hedging) {
            (Some(_), Some(hedging)) => {
                return Err(hedging
                    .error("a method config may have a retryPolicy or a hedgingPolicy, not both"));
            }
            (Some(retry), None) => Some(Attempts::Retry(RetryPolicy::from_json(&retry)?)),
            (None, Some(hedging)) => Some(Attempts::Hedging(HedgingPolicy::from_json(&hedging)?)),
            (None, None) => None,
        };
        let config = Self {
            timeout: node.get("timeout")?.map(|t| t.duration()).transpose()?,
            wait_for_ready: node.get("waitForReady")?.map(|w| w.bool()).transpose()?,
            max_request_message_bytes: size("maxRequestMessageBytes")?,
            max_response_message_bytes: size("maxResponseMessageBytes")?,
            attempts,
        };
        Ok((names, config))
    }
}

fn read_name(node: &Node<'_>) -> Result<Name, ServiceConfigError> {
    let text = |field: &str| -> Result<String, ServiceConfigError> {
        Ok(match node.get(field)? {
            Some(value) => value.string()?.to_owned(),
            None => String::new(),
        })
    };
    let name = Name {
        service: text("service")?,
        method: text("method")?,
    };
    if name.service.is_empty() && !name.method.is_empty() {
        return Err(node.error("a name with a method must name its service"));
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: serde_json::Value) -> Result<(Vec<(Name, String)>, MethodConfig), String> {
        let root = serde_json::json!({ "methodConfig": [json] });
        let entries = Node::root(&root).get("methodConfig").unwrap().unwrap();
        MethodConfig::from_json(&entries.items().unwrap()[0]).map_err(|e| e.to_string())
    }

    #[test]
    fn every_setting_is_read() {
        let (names, config) = parse(serde_json::json!({
            "name": [{"service": "pkg.S", "method": "M"}, {"service": "pkg.T"}, {}],
            "timeout": "1.5s",
            "waitForReady": true,
            "maxRequestMessageBytes": 1024,
            "maxResponseMessageBytes": "2048",
            "retryPolicy": {
                "maxAttempts": 2, "initialBackoff": "1s", "maxBackoff": "1s",
                "backoffMultiplier": 1, "retryableStatusCodes": ["ABORTED"],
            },
        }))
        .unwrap();
        let names: Vec<(&str, &str, &str)> = names
            .iter()
            .map(|(n, path)| (n.service.as_str(), n.method.as_str(), path.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("pkg.S", "M", "methodConfig[0].name[0]"),
                ("pkg.T", "", "methodConfig[0].name[1]"),
                ("", "", "methodConfig[0].name[2]"),
            ]
        );
        assert_eq!(config.timeout(), Some(Duration::from_millis(1500)));
        assert_eq!(config.wait_for_ready(), Some(true));
        assert_eq!(config.max_request_message_bytes(), Some(1024));
        assert_eq!(config.max_response_message_bytes(), Some(2048));
        assert_eq!(config.retry_policy().unwrap().max_attempts(), 2);
        assert!(config.hedging_policy().is_none());
    }

    #[test]
    fn absent_settings_stay_unset() {
        let (names, config) = parse(serde_json::json!({})).unwrap();
        assert!(names.is_empty());
        assert_eq!(config, MethodConfig::new());
    }

    #[test]
    fn retry_and_hedging_together_are_rejected() {
        let err = parse(serde_json::json!({
            "retryPolicy": {}, "hedgingPolicy": {"maxAttempts": 2},
        }))
        .unwrap_err();
        assert_eq!(
            err,
            "methodConfig[0].hedgingPolicy: a method config may have a retryPolicy or a hedgingPolicy, not both"
        );
    }

    #[test]
    fn a_method_without_a_service_is_rejected() {
        let err = parse(serde_json::json!({"name": [{"method": "M"}]})).unwrap_err();
        assert_eq!(
            err,
            "methodConfig[0].name[0]: a name with a method must name its service"
        );
        let err = parse(serde_json::json!({"name": [{"service": "", "method": "M"}]})).unwrap_err();
        assert!(err.starts_with("methodConfig[0].name[0]: "), "{err}");
    }

    #[test]
    fn bad_setting_values_are_rejected_with_their_path() {
        let cases = [
            (
                serde_json::json!({"timeout": "soon"}),
                "methodConfig[0].timeout: ",
            ),
            (
                serde_json::json!({"timeout": "-1s"}),
                "methodConfig[0].timeout: ",
            ),
            (
                serde_json::json!({"waitForReady": "yes"}),
                "methodConfig[0].waitForReady: ",
            ),
            (
                serde_json::json!({"maxRequestMessageBytes": -1}),
                "methodConfig[0].maxRequestMessageBytes: ",
            ),
            (
                serde_json::json!({"maxResponseMessageBytes": 4294967296u64}),
                "methodConfig[0].maxResponseMessageBytes: ",
            ),
            (
                serde_json::json!({"name": {}}),
                "methodConfig[0].name: must be an array",
            ),
            (
                serde_json::json!({"name": [{"service": 1}]}),
                "methodConfig[0].name[0].service: ",
            ),
        ];
        for (json, prefix) in cases {
            let err = parse(json.clone()).unwrap_err();
            assert!(err.starts_with(prefix), "{json}: {err}");
        }
    }

    #[test]
    fn setting_one_attempt_policy_replaces_the_other() {
        let second = Duration::from_secs(1);
        let retry = RetryPolicy::new(
            2,
            second,
            second,
            1.0,
            [crate::base::status::Code::Unavailable],
        )
        .unwrap();
        let hedging = HedgingPolicy::new(2, second, []).unwrap();
        let config = MethodConfig::new()
            .with_hedging_policy(hedging)
            .with_retry_policy(retry.clone());
        assert_eq!(config.retry_policy(), Some(&retry));
        assert!(config.hedging_policy().is_none());
    }
}
