//! The gRPC service config: how a channel balances load and how each method's
//! calls behave (timeouts, wait-for-ready, message limits, retries, hedging).
//!
//! A config is JSON in the proto3 form of gRPC's `service_config.proto`:
//! camelCase keys (the .proto's snake_case names are accepted too), durations
//! as strings of seconds (`"1.5s"`), status codes by name in any case or by
//! number. Validation follows gRFCs A6 and A21: a known field with a bad value
//! rejects the whole config, naming the field; unknown fields are ignored.
//!
//! ```json
//! {
//!   "loadBalancingConfig": [{"round_robin": {}}],
//!   "methodConfig": [{
//!     "name": [{"service": "helloworld.Greeter"}],
//!     "timeout": "2s",
//!     "retryPolicy": {
//!       "maxAttempts": 3, "initialBackoff": "0.1s", "maxBackoff": "1s",
//!       "backoffMultiplier": 2, "retryableStatusCodes": ["UNAVAILABLE"]
//!     }
//!   }],
//!   "retryThrottling": {"maxTokens": 10, "tokenRatio": 0.1}
//! }
//! ```

mod error;
mod json;
mod method;
mod policy;

use std::collections::HashMap;
use std::str::FromStr;

use serde_json::Value;

pub use error::ServiceConfigError;
pub use method::MethodConfig;
pub use policy::{HedgingPolicy, RetryPolicy, RetryThrottling};

use json::Node;
use method::Name;

/// The load-balancing policies every gRPC channel has, which
/// [`ServiceConfig::load_balancing`] chooses among.
const BUILT_IN_POLICIES: [&str; 2] = ["pick_first", "round_robin"];

/// A parsed, validated service config.
///
/// Read from JSON with [`ServiceConfig::from_json`] (or `str::parse`); the
/// default is the empty config, which sets nothing.
///
/// ```
/// use rust_grpc::channel::ServiceConfig;
///
/// let config: ServiceConfig = r#"{
///     "methodConfig": [
///         {"name": [{"service": "pkg.Echo"}], "timeout": "1s"},
///         {"name": [{"service": "pkg.Echo", "method": "Slow"}], "timeout": "10s"}
///     ]
/// }"#.parse()?;
/// let slow = config.method_config("/pkg.Echo/Slow").unwrap();
/// assert_eq!(slow.timeout(), Some(std::time::Duration::from_secs(10)));
/// let other = config.method_config("/pkg.Echo/Fast").unwrap();
/// assert_eq!(other.timeout(), Some(std::time::Duration::from_secs(1)));
/// assert!(config.method_config("/pkg.Other/Any").is_none());
/// # Ok::<(), rust_grpc::channel::ServiceConfigError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServiceConfig {
    /// Policies in order of preference: name and its config.
    load_balancing: Vec<(String, Value)>,
    method_configs: Vec<MethodConfig>,
    /// Index into `method_configs` of the config for every method.
    default_method: Option<usize>,
    services: HashMap<String, ServiceNames>,
    retry_throttling: Option<RetryThrottling>,
    health_check_service_name: Option<String>,
}

/// Which method config a service's calls get.
#[derive(Debug, Clone, Default, PartialEq)]
struct ServiceNames {
    whole: Option<usize>,
    methods: HashMap<String, usize>,
}

impl ServiceConfig {
    /// Parses and validates a service config.
    ///
    /// # Errors
    ///
    /// Malformed JSON (with its line and column), or a known field with a bad
    /// value (with the field's path): the whole config is rejected.
    pub fn from_json(text: &str) -> Result<Self, ServiceConfigError> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| ServiceConfigError::syntax(&e))?;
        let root = Node::root(&value);
        root.object()?;
        let mut config = Self {
            load_balancing: load_balancing(&root)?,
            retry_throttling: root
                .get("retryThrottling")?
                .map(|node| RetryThrottling::from_json(&node))
                .transpose()?,
            health_check_service_name: match root.get("healthCheckConfig")? {
                Some(health) => Some(match health.get("serviceName")? {
                    Some(name) => name.string()?.to_owned(),
                    None => String::new(),
                }),
                None => None,
            },
            ..Self::default()
        };
        if let Some(entries) = root.get("methodConfig")? {
            for entry in entries.items()? {
                let (names, method_config) = MethodConfig::from_json(&entry)?;
                let index = config.method_configs.len();
                config.method_configs.push(method_config);
                for (name, path) in names {
                    if !config.insert(&name, index) {
                        return Err(ServiceConfigError::field(
                            path,
                            "names a method that an earlier name already names",
                        ));
                    }
                }
            }
        }
        Ok(config)
    }

    /// Points `name` at method config `index`; false if an earlier name
    /// already claimed it.
    fn insert(&mut self, name: &Name, index: usize) -> bool {
        if name.service.is_empty() {
            return self.default_method.replace(index).is_none();
        }
        let names = self.services.entry(name.service.clone()).or_default();
        if name.method.is_empty() {
            names.whole.replace(index).is_none()
        } else {
            names.methods.insert(name.method.clone(), index).is_none()
        }
    }

    /// The config for calls to `path` (`/package.Service/Method`): the one
    /// naming that method, else the one naming its service, else the default
    /// (a name with neither), else none.
    pub fn method_config(&self, path: &str) -> Option<&MethodConfig> {
        let path = path.strip_prefix('/').unwrap_or(path);
        let (service, method) = path.split_once('/').unwrap_or((path, ""));
        let index = self
            .services
            .get(service)
            .and_then(|names| names.methods.get(method).copied().or(names.whole))
            .or(self.default_method)?;
        self.method_configs.get(index)
    }

    /// The first policy of `loadBalancingConfig` for which `supported` is true,
    /// with its config; or the deprecated `loadBalancingPolicy` (lowercased,
    /// with an empty config) when there is no `loadBalancingConfig`.
    ///
    /// `None` if the config names no policy (the channel uses pick_first), or
    /// names only unsupported ones, which gRFC A21 counts as an invalid
    /// config: tell the two apart with [`Self::load_balancing_configs`].
    pub fn choose_load_balancing(
        &self,
        supported: impl Fn(&str) -> bool,
    ) -> Option<(&str, &Value)> {
        self.load_balancing_configs()
            .find(|(name, _)| supported(name))
    }

    /// The policy chosen among the built-in `pick_first` and `round_robin`, as
    /// [`Self::choose_load_balancing`] chooses.
    pub fn load_balancing(&self) -> Option<(&str, &Value)> {
        self.choose_load_balancing(|name| BUILT_IN_POLICIES.contains(&name))
    }

    /// Every policy the config names, in order of preference, with its config.
    pub fn load_balancing_configs(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.load_balancing
            .iter()
            .map(|(name, config)| (name.as_str(), config))
    }

    /// The retry throttling of the channel's calls, if set.
    pub fn retry_throttling(&self) -> Option<&RetryThrottling> {
        self.retry_throttling.as_ref()
    }

    /// The service whose health the channel checks (`healthCheckConfig`), if
    /// set; empty for the server as a whole.
    pub fn health_check_service_name(&self) -> Option<&str> {
        self.health_check_service_name.as_deref()
    }
}

impl FromStr for ServiceConfig {
    type Err = ServiceConfigError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::from_json(text)
    }
}

/// `loadBalancingConfig`, or the deprecated `loadBalancingPolicy` when it is
/// absent.
fn load_balancing(root: &Node<'_>) -> Result<Vec<(String, Value)>, ServiceConfigError> {
    if let Some(list) = root.get("loadBalancingConfig")? {
        let mut policies = Vec::new();
        for entry in list.items()? {
            let object = entry.object()?;
            let mut fields = object.iter();
            let (Some((name, config)), None) = (fields.next(), fields.next()) else {
                return Err(entry.error(format!(
                    "must name exactly one policy, not {}",
                    object.len()
                )));
            };
            if !config.is_object() {
                let path = format!("{}.{name}", entry.path());
                return Err(ServiceConfigError::field(
                    path,
                    "a policy's config must be an object",
                ));
            }
            policies.push((name.clone(), config.clone()));
        }
        return Ok(policies);
    }
    Ok(match root.get("loadBalancingPolicy")? {
        Some(policy) => {
            let name = policy.string()?.to_ascii_lowercase();
            if name.is_empty() || name == "unspecified" {
                Vec::new()
            } else {
                vec![(name, Value::Object(serde_json::Map::new()))]
            }
        }
        None => Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::base::status::Code;

    fn parse(json: serde_json::Value) -> Result<ServiceConfig, String> {
        ServiceConfig::from_json(&json.to_string()).map_err(|e| e.to_string())
    }

    fn timeouts(json: serde_json::Value) -> ServiceConfig {
        parse(json).unwrap()
    }

    fn timeout_of(config: &ServiceConfig, path: &str) -> Option<Duration> {
        config.method_config(path).and_then(MethodConfig::timeout)
    }

    #[test]
    fn a_method_name_beats_its_service_which_beats_the_default() {
        let config = timeouts(serde_json::json!({"methodConfig": [
            {"name": [{}], "timeout": "1s"},
            {"name": [{"service": "pkg.S"}], "timeout": "2s"},
            {"name": [{"service": "pkg.S", "method": "M"}], "timeout": "3s"},
        ]}));
        assert_eq!(
            timeout_of(&config, "/pkg.S/M"),
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            timeout_of(&config, "/pkg.S/Other"),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            timeout_of(&config, "/pkg.T/M"),
            Some(Duration::from_secs(1))
        );
        assert_eq!(
            timeout_of(&config, "not a path"),
            Some(Duration::from_secs(1))
        );
    }

    #[test]
    fn without_a_default_unnamed_methods_get_no_config() {
        let config = timeouts(serde_json::json!({"methodConfig": [
            {"name": [{"service": "pkg.S", "method": "M"}], "timeout": "3s"},
        ]}));
        assert_eq!(
            timeout_of(&config, "/pkg.S/M"),
            Some(Duration::from_secs(3))
        );
        assert!(config.method_config("/pkg.S/N").is_none());
        assert!(config.method_config("/pkg.T/M").is_none());
        assert!(config.method_config("").is_none());
    }

    #[test]
    fn an_empty_service_or_method_name_means_absent() {
        let config = timeouts(serde_json::json!({"methodConfig": [
            {"name": [{"service": ""}], "timeout": "1s"},
            {"name": [{"service": "pkg.S", "method": ""}], "timeout": "2s"},
        ]}));
        assert_eq!(
            timeout_of(&config, "/pkg.T/M"),
            Some(Duration::from_secs(1))
        );
        assert_eq!(
            timeout_of(&config, "/pkg.S/M"),
            Some(Duration::from_secs(2))
        );
    }

    #[test]
    fn an_entry_with_no_names_applies_to_nothing() {
        let config = timeouts(serde_json::json!({"methodConfig": [
            {"name": [], "timeout": "1s"},
            {"timeout": "2s"},
        ]}));
        assert!(config.method_config("/pkg.S/M").is_none());
    }

    #[test]
    fn an_entry_with_no_names_is_still_validated() {
        let err = parse(serde_json::json!({"methodConfig": [{"name": [], "timeout": "x"}]}));
        assert!(err.unwrap_err().starts_with("methodConfig[0].timeout: "));
    }

    #[test]
    fn a_name_given_twice_rejects_the_config() {
        let cases = [
            serde_json::json!([{"name": [{}]}, {"name": [{"service": ""}]}]),
            serde_json::json!([{"name": [{"service": "a"}]}, {"name": [{"service": "a"}]}]),
            serde_json::json!([{"name": [{"service": "a", "method": "m"}, {"service": "a", "method": "m"}]}]),
        ];
        for (i, method_config) in cases.into_iter().enumerate() {
            let err = ServiceConfig::from_json(
                &serde_json::json!({ "methodConfig": method_config }).to_string(),
            )
            .unwrap_err();
            let expected = if i == 2 {
                "methodConfig[0].name[1]"
            } else {
                "methodConfig[1].name[0]"
            };
            assert_eq!(err.path(), Some(expected), "{err}");
            assert!(err.message().contains("already"), "{err}");
        }
        // The same method under two services is two names.
        assert!(
            parse(serde_json::json!({"methodConfig": [
                {"name": [{"service": "a", "method": "m"}, {"service": "b", "method": "m"}]},
            ]}))
            .is_ok()
        );
    }

    #[test]
    fn malformed_json_is_rejected_with_its_line_and_column() {
        let err = ServiceConfig::from_json("{\n  \"methodConfig\": [\n    {,\n  ]\n}").unwrap_err();
        assert_eq!(err.line_column(), Some((3, 6)));
        assert_eq!(err.path(), None);
        let text = err.to_string();
        assert!(
            text.starts_with("service config is not valid JSON: line 3 column 6: "),
            "{text}"
        );
        assert!(!text.contains(" at line "), "{text}");
    }

    #[test]
    fn a_config_that_is_not_an_object_is_rejected() {
        for text in ["[]", "1", "\"x\"", "null"] {
            let err = ServiceConfig::from_json(text).unwrap_err();
            assert_eq!(err.path(), Some(""), "{text}");
            assert!(
                err.to_string()
                    .starts_with("service config: must be an object"),
                "{err}"
            );
        }
    }

    #[test]
    fn unknown_fields_are_ignored_at_every_level() {
        let config = parse(serde_json::json!({
            "futureThing": {"x": 1},
            "methodConfig": [{
                "name": [{"service": "s", "color": "red"}],
                "timeout": "1s",
                "newKnob": true,
                "retryPolicy": {
                    "maxAttempts": 2, "initialBackoff": "1s", "maxBackoff": "1s",
                    "backoffMultiplier": 1, "retryableStatusCodes": [14], "jitter": 0.5,
                },
            }],
            "retryThrottling": {"maxTokens": 1, "tokenRatio": 1, "burst": 3},
            "healthCheckConfig": {"serviceName": "s", "interval": "1s"},
        }))
        .unwrap();
        let method = config.method_config("/s/m").unwrap();
        assert_eq!(method.timeout(), Some(Duration::from_secs(1)));
        assert!(
            method
                .retry_policy()
                .unwrap()
                .is_retryable(Code::Unavailable)
        );
    }

    #[test]
    fn the_proto_field_names_are_accepted_too() {
        let config = parse(serde_json::json!({
            "method_config": [{"name": [{"service": "s"}], "wait_for_ready": true}],
        }))
        .unwrap();
        assert_eq!(
            config.method_config("/s/m").unwrap().wait_for_ready(),
            Some(true)
        );
    }

    #[test]
    fn a_bad_field_deep_inside_rejects_the_whole_config_naming_its_path() {
        let err = parse(serde_json::json!({"methodConfig": [
            {"name": [{"service": "a"}]},
            {"name": [{"service": "b"}], "retryPolicy": {
                "maxAttempts": 1, "initialBackoff": "1s", "maxBackoff": "1s",
                "backoffMultiplier": 1, "retryableStatusCodes": ["UNAVAILABLE"],
            }},
        ]}))
        .unwrap_err();
        assert_eq!(
            err,
            "methodConfig[1].retryPolicy.maxAttempts: must be greater than 1"
        );
    }

    #[test]
    fn the_first_supported_load_balancing_policy_wins() {
        let config = parse(serde_json::json!({"loadBalancingConfig": [
            {"grpclb": {}},
            {"round_robin": {}},
            {"pick_first": {"shuffleAddressList": true}},
        ]}))
        .unwrap();
        let chosen = config
            .choose_load_balancing(|name| name == "pick_first")
            .unwrap();
        assert_eq!(chosen.0, "pick_first");
        assert_eq!(chosen.1["shuffleAddressList"], true);
        assert_eq!(config.load_balancing().unwrap().0, "round_robin");
        assert!(config.choose_load_balancing(|_| false).is_none());
        assert_eq!(config.load_balancing_configs().count(), 3);
    }

    #[test]
    fn load_balancing_entries_must_name_one_policy_with_an_object() {
        let err = parse(serde_json::json!({"loadBalancingConfig": [
            {"round_robin": {}, "pick_first": {}},
        ]}))
        .unwrap_err();
        assert_eq!(
            err,
            "loadBalancingConfig[0]: must name exactly one policy, not 2"
        );
        let err = parse(serde_json::json!({"loadBalancingConfig": [{}]})).unwrap_err();
        assert_eq!(
            err,
            "loadBalancingConfig[0]: must name exactly one policy, not 0"
        );
        let err =
            parse(serde_json::json!({"loadBalancingConfig": [{"round_robin": 1}]})).unwrap_err();
        assert_eq!(
            err,
            "loadBalancingConfig[0].round_robin: a policy's config must be an object"
        );
        let err =
            parse(serde_json::json!({"loadBalancingConfig": {"round_robin": {}}})).unwrap_err();
        assert_eq!(err, "loadBalancingConfig: must be an array, not an object");
    }

    #[test]
    fn the_deprecated_policy_name_counts_only_without_a_config_list() {
        let config = parse(serde_json::json!({"loadBalancingPolicy": "ROUND_ROBIN"})).unwrap();
        let (name, policy_config) = config.load_balancing().unwrap();
        assert_eq!(name, "round_robin");
        assert_eq!(policy_config, &serde_json::json!({}));
        let config = parse(serde_json::json!({
            "loadBalancingPolicy": "round_robin",
            "loadBalancingConfig": [{"pick_first": {}}],
        }))
        .unwrap();
        assert_eq!(
            config
                .load_balancing_configs()
                .map(|(n, _)| n)
                .collect::<Vec<_>>(),
            ["pick_first"]
        );
        assert!(
            parse(serde_json::json!({}))
                .unwrap()
                .load_balancing()
                .is_none()
        );
        assert!(parse(serde_json::json!({"loadBalancingPolicy": 1})).is_err());
    }

    #[test]
    fn the_health_check_service_name_is_read_and_defaults_to_the_whole_server() {
        let name = |json| {
            parse(json)
                .unwrap()
                .health_check_service_name()
                .map(str::to_owned)
        };
        assert_eq!(
            name(serde_json::json!({"healthCheckConfig": {"serviceName": "pkg.S"}})).as_deref(),
            Some("pkg.S")
        );
        assert_eq!(
            name(serde_json::json!({"healthCheckConfig": {}})).as_deref(),
            Some("")
        );
        assert_eq!(name(serde_json::json!({})), None);
        assert!(parse(serde_json::json!({"healthCheckConfig": {"serviceName": 3}})).is_err());
    }

    #[test]
    fn retry_throttling_is_read() {
        let config =
            parse(serde_json::json!({"retryThrottling": {"maxTokens": 10, "tokenRatio": "0.5"}}));
        let throttling = *config.unwrap().retry_throttling().unwrap();
        assert_eq!(
            (throttling.max_tokens(), throttling.token_ratio()),
            (10, 0.5)
        );
        assert!(
            parse(serde_json::json!({}))
                .unwrap()
                .retry_throttling()
                .is_none()
        );
    }

    #[test]
    fn null_fields_are_the_same_as_absent_ones() {
        let config = parse(serde_json::json!({
            "methodConfig": null, "retryThrottling": null, "loadBalancingConfig": null,
            "healthCheckConfig": null,
        }))
        .unwrap();
        assert_eq!(config, ServiceConfig::default());
    }

    #[test]
    fn it_parses_through_from_str() {
        let config: ServiceConfig = r#"{"methodConfig": [{"name": [{}], "waitForReady": false}]}"#
            .parse()
            .unwrap();
        assert_eq!(
            config.method_config("/a/b").unwrap().wait_for_ready(),
            Some(false)
        );
        assert!("{".parse::<ServiceConfig>().is_err());
    }

    #[test]
    fn no_input_makes_parsing_panic() {
        let valid = serde_json::json!({
            "loadBalancingConfig": [{"round_robin": {}}],
            "methodConfig": [{
                "name": [{"service": "s", "method": "m"}],
                "timeout": "1.5s", "maxRequestMessageBytes": 10,
                "hedgingPolicy": {"maxAttempts": 3, "hedgingDelay": "0.1s", "nonFatalStatusCodes": [14]},
            }],
            "retryThrottling": {"maxTokens": 10, "tokenRatio": 0.1},
        })
        .to_string();
        // Every prefix, and every byte swapped for characters JSON cares about.
        for end in 0..valid.len() {
            let _ = ServiceConfig::from_json(&valid[..end]);
        }
        for at in 0..valid.len() {
            for c in [
                '"', '{', '[', '-', '9', 'e', '.', ']', '}', ',', ':', 'n', 's',
            ] {
                let mut text = valid.clone().into_bytes();
                text[at] = c as u8;
                if let Ok(text) = String::from_utf8(text) {
                    let _ = ServiceConfig::from_json(&text);
                }
            }
        }
        let deep = "[".repeat(100_000);
        assert!(ServiceConfig::from_json(&deep).is_err());
        assert!(
            ServiceConfig::from_json(r#"{"methodConfig":[{"timeout":"99999999999999999999s"}]}"#)
                .is_err()
        );
        assert!(
            ServiceConfig::from_json(r#"{"methodConfig":[{"maxRequestMessageBytes":1e999}]}"#)
                .is_err()
        );
    }
}
