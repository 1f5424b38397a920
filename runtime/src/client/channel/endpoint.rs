//! [`Endpoint`]: a channel's target and settings, and the calls that make
//! the channel.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use crate::base::status::Status;
use crate::client::backoff::BackoffConfig;
use crate::client::balancer::{self, LoadBalancerBuilder, Picker, QueuePicker};
use crate::client::channel::worker::{self, Activity, Applied, Setup, Wiring};
use crate::client::channel::{Channel, Shared};
use crate::client::connection::{Connector, Dialer};
use crate::client::credentials::CallCredentials;
use crate::client::error::Error;
use crate::client::resolver::{self, Resolver};
use crate::client::service_config::ServiceConfig;
use crate::client::state::ConnectivityState;
use crate::client::target::{Target, TargetError};

/// A target and the settings of the channel to it.
///
/// ```no_run
/// # async fn run() -> Result<(), rust_grpc::Error> {
/// use std::time::Duration;
///
/// let channel = rust_grpc::Endpoint::from_static("dns:///localhost:50051")
///     .connect_timeout(Duration::from_secs(5))
///     .load_balancing_policy("round_robin")?
///     .connect()
///     .await?;
/// # let _ = channel;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Endpoint {
    target: Target,
    origin: Option<http::Uri>,
    user_agent: Option<http::HeaderValue>,
    timeout: Option<Duration>,
    connector: Connector,
    #[cfg(feature = "tls")]
    tls: Option<crate::transport::tls::ClientTlsConfig>,
    backoff: BackoffConfig,
    idle_timeout: Option<Duration>,
    resolver: Option<Arc<dyn Resolver>>,
    policies: Vec<Arc<dyn LoadBalancerBuilder>>,
    policy: &'static str,
    default_config: Option<ServiceConfig>,
    credentials: Option<Arc<dyn CallCredentials>>,
    #[cfg(feature = "opentelemetry")]
    metrics: Option<Arc<crate::telemetry::ClientMetrics>>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("target", &self.target)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// The idle timeout of gRFC A62 (grpc-go's default).
const IDLE_TIMEOUT: Duration = Duration::from_secs(30 * 60);

impl Endpoint {
    fn with_target(target: Target) -> Self {
        Self {
            target,
            origin: None,
            user_agent: None,
            timeout: None,
            connector: Connector::default(),
            #[cfg(feature = "tls")]
            tls: None,
            backoff: BackoffConfig::default(),
            idle_timeout: Some(IDLE_TIMEOUT),
            resolver: None,
            policies: balancer::builtin(),
            policy: "pick_first",
            default_config: None,
            credentials: None,
            #[cfg(feature = "opentelemetry")]
            metrics: None,
        }
    }

    /// An endpoint for `dst`: a target string (`host:port`, `dns:///host:port`,
    /// `http://host:port`, `unix:/path`, `ipv4:a:p,b:p`, ...) or a URI.
    ///
    /// # Errors
    ///
    /// When `dst` is not a target.
    pub fn new<D>(dst: D) -> Result<Self, Error>
    where
        D: TryInto<Self>,
        D::Error: Into<crate::base::body::StdError>,
    {
        dst.try_into().map_err(Error::invalid_target)
    }

    /// An endpoint for a target known when the program is written.
    ///
    /// # Panics
    ///
    /// When `target` is not a target.
    pub fn from_static(target: &'static str) -> Self {
        match Target::parse(target) {
            Ok(target) => Self::with_target(target),
            Err(err) => panic!("{err}"),
        }
    }

    /// An endpoint for a target given as text.
    ///
    /// # Errors
    ///
    /// When `target` is not a target.
    pub fn from_shared(target: impl AsRef<str>) -> Result<Self, TargetError> {
        Target::parse(target.as_ref()).map(Self::with_target)
    }

    /// The target.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Sends calls with this scheme and `:authority` (as when the server is
    /// reached through an address other than its name).
    #[must_use]
    pub fn origin(self, origin: http::Uri) -> Self {
        Self {
            origin: Some(origin),
            ..self
        }
    }

    /// The `user-agent` of every call (default `grpc-rust-grpc/VERSION`).
    ///
    /// # Errors
    ///
    /// When `user_agent` is not a valid header value.
    pub fn user_agent(self, user_agent: impl AsRef<str>) -> Result<Self, Error> {
        let value =
            http::HeaderValue::try_from(user_agent.as_ref()).map_err(Error::invalid_config)?;
        Ok(Self {
            user_agent: Some(value),
            ..self
        })
    }

    /// A timeout for every call that has none shorter of its own, sent to the
    /// server as `grpc-timeout`.
    #[must_use]
    pub fn timeout(self, timeout: Duration) -> Self {
        Self {
            timeout: Some(timeout),
            ..self
        }
    }

    /// The longest one connection attempt may take (default 20 s, as gRPC's
    /// connection backoff has it).
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.backoff.min_connect_timeout = timeout;
        self
    }

    /// Connection backoff: the first delay after a failed attempt, its growth
    /// factor, the jitter (0.2 = ±20%) and the longest delay (defaults 1 s,
    /// 1.6, 0.2, 120 s, as gRPC's connection-backoff spec gives).
    #[must_use]
    pub fn connect_backoff(
        mut self,
        initial: Duration,
        multiplier: f64,
        jitter: f64,
        max: Duration,
    ) -> Self {
        self.backoff.initial = initial;
        self.backoff.multiplier = multiplier.max(1.0);
        self.backoff.jitter = jitter.clamp(0.0, 1.0);
        self.backoff.max = max.max(initial);
        self
    }

    /// Drops the channel's connections after this long without calls, until
    /// the next call (default 30 min); `None` keeps them forever.
    #[must_use]
    pub fn idle_timeout(self, timeout: Option<Duration>) -> Self {
        Self {
            idle_timeout: timeout,
            ..self
        }
    }

    /// TLS for the channel's connections.
    ///
    /// # Errors
    ///
    /// Never today; kept so settings can be checked here.
    #[cfg(feature = "tls")]
    pub fn tls_config(self, tls: crate::transport::tls::ClientTlsConfig) -> Result<Self, Error> {
        Ok(Self {
            tls: Some(tls),
            ..self
        })
    }

    /// Sends an HTTP/2 PING this often, and drops a connection whose PING
    /// goes unanswered for [`keep_alive_timeout`](Self::keep_alive_timeout).
    #[must_use]
    pub fn http2_keep_alive_interval(mut self, interval: Duration) -> Self {
        self.connector.http2.keep_alive_interval = Some(interval);
        self
    }

    /// How long to wait for a PING's answer (default 20 s).
    #[must_use]
    pub fn keep_alive_timeout(mut self, timeout: Duration) -> Self {
        self.connector.http2.keep_alive_timeout = timeout;
        self
    }

    /// Whether PINGs go out while no call is in flight (default false).
    #[must_use]
    pub fn keep_alive_while_idle(mut self, enabled: bool) -> Self {
        self.connector.http2.keep_alive_while_idle = enabled;
        self
    }

    /// The HTTP/2 flow-control window of each call.
    #[must_use]
    pub fn initial_stream_window_size(mut self, size: u32) -> Self {
        self.connector.http2.initial_stream_window_size = Some(size);
        self
    }

    /// The HTTP/2 flow-control window of each connection.
    #[must_use]
    pub fn initial_connection_window_size(mut self, size: u32) -> Self {
        self.connector.http2.initial_connection_window_size = Some(size);
        self
    }

    /// Sizes flow-control windows from measured bandwidth and latency
    /// (overrides the fixed window sizes).
    #[must_use]
    pub fn http2_adaptive_window(mut self, enabled: bool) -> Self {
        self.connector.http2.adaptive_window = enabled;
        self
    }

    /// The largest HTTP/2 frame this client accepts.
    #[must_use]
    pub fn http2_max_frame_size(mut self, size: u32) -> Self {
        self.connector.http2.max_frame_size = Some(size);
        self
    }

    /// The largest header list this client accepts.
    #[must_use]
    pub fn http2_max_header_list_size(mut self, size: u32) -> Self {
        self.connector.http2.max_header_list_size = Some(size);
        self
    }

    /// Whether TCP sends small writes at once (default true).
    #[must_use]
    pub fn tcp_nodelay(mut self, enabled: bool) -> Self {
        self.connector.http2.tcp_nodelay = enabled;
        self
    }

    /// Finds the target's addresses with `resolver` instead of the one its
    /// scheme names.
    #[must_use]
    pub fn resolver(self, resolver: impl Resolver) -> Self {
        Self {
            resolver: Some(Arc::new(resolver)),
            ..self
        }
    }

    /// Adds a load-balancing policy that
    /// [`load_balancing_policy`](Self::load_balancing_policy) and service
    /// configs can then name.
    #[must_use]
    pub fn add_load_balancer(mut self, builder: impl LoadBalancerBuilder) -> Self {
        self.policies.push(Arc::new(builder));
        self
    }

    /// Chooses the load-balancing policy: `pick_first` (the default),
    /// `round_robin`, or one added with
    /// [`add_load_balancer`](Self::add_load_balancer).
    ///
    /// # Errors
    ///
    /// When no policy has that name.
    pub fn load_balancing_policy(mut self, name: &str) -> Result<Self, Error> {
        let policy = self.builder(name).ok_or_else(|| {
            let known: Vec<&str> = self.policies.iter().map(|p| p.name()).collect();
            Error::invalid_config(format!(
                "no load-balancing policy is called {name:?} (known: {})",
                known.join(", ")
            ))
        })?;
        self.policy = policy.name();
        Ok(self)
    }

    /// The service config to use when the resolver gives none (gRPC's
    /// JSON: `loadBalancingConfig`, `methodConfig` with timeouts,
    /// wait-for-ready, message size limits, retry or hedging policies, and
    /// `retryThrottling`).
    ///
    /// ```
    /// let endpoint = rust_grpc::Endpoint::from_static("dns:///localhost:50051")
    ///     .default_service_config(r#"{
    ///         "loadBalancingConfig": [{"round_robin": {}}],
    ///         "methodConfig": [{
    ///             "name": [{"service": "helloworld.Greeter"}],
    ///             "retryPolicy": {
    ///                 "maxAttempts": 3,
    ///                 "initialBackoff": "0.1s",
    ///                 "maxBackoff": "1s",
    ///                 "backoffMultiplier": 2,
    ///                 "retryableStatusCodes": ["UNAVAILABLE"]
    ///             }
    ///         }]
    ///     }"#)
    ///     .unwrap();
    /// # let _ = endpoint;
    /// ```
    ///
    /// # Errors
    ///
    /// When `json` is not a valid service config; the error names the field.
    pub fn default_service_config(self, json: &str) -> Result<Self, Error> {
        let config = ServiceConfig::from_json(json).map_err(Error::invalid_config)?;
        Ok(self.service_config(config))
    }

    /// The service config to use when the resolver gives none.
    #[must_use]
    pub fn service_config(self, config: ServiceConfig) -> Self {
        Self {
            default_config: Some(config),
            ..self
        }
    }

    /// Records the client metrics of gRFC A66 (`grpc.client.attempt.*`,
    /// `grpc.client.call.duration`) for every call on the channel, with a
    /// meter from `provider`; see [`crate::telemetry`] for the instruments.
    #[cfg(feature = "opentelemetry")]
    #[must_use]
    pub fn metrics(self, provider: &impl opentelemetry::metrics::MeterProvider) -> Self {
        Self {
            metrics: Some(Arc::new(crate::telemetry::ClientMetrics::new(provider))),
            ..self
        }
    }

    /// Adds `credentials`' metadata to every call (fetched per call, so a
    /// token can be refreshed); refused over plaintext unless the credentials
    /// allow it.
    #[must_use]
    pub fn call_credentials(self, credentials: impl CallCredentials) -> Self {
        Self {
            credentials: Some(Arc::new(credentials)),
            ..self
        }
    }

    fn builder(&self, name: &str) -> Option<Arc<dyn LoadBalancerBuilder>> {
        self.policies
            .iter()
            .rev()
            .find(|p| p.name() == name)
            .cloned()
    }

    /// Dials with `dialer` instead of a socket (in-process channels).
    pub(crate) fn dialer(mut self, dialer: Dialer) -> Self {
        self.connector.dialer = Some(dialer);
        self
    }

    /// Makes the channel and connects: waits until it is READY, or fails when
    /// the first attempt to every address has failed.
    ///
    /// # Errors
    ///
    /// When the channel cannot be set up or no address could be reached.
    pub async fn connect(&self) -> Result<Channel, Error> {
        let channel = self.build(true)?;
        let mut state = channel.watch_state();
        let activity = Arc::clone(&channel.shared.activity);
        let settled = state
            .wait_for(|s| match s {
                ConnectivityState::Ready
                | ConnectivityState::TransientFailure
                | ConnectivityState::Shutdown => true,
                // READY came and went before this task looked.
                ConnectivityState::Idle | ConnectivityState::Connecting => activity.was_ready(),
            })
            .await
            .map(|s| *s);
        match settled {
            Ok(ConnectivityState::Ready) => Ok(channel),
            Ok(ConnectivityState::Idle | ConnectivityState::Connecting) => Ok(channel),
            _ => {
                let picker = Arc::clone(&channel.shared.pickers.borrow());
                let status = match picker.pick(&balancer::PickInfo { path: "/" }) {
                    balancer::Pick::Fail(status) => status,
                    _ => Status::unavailable("the channel could not connect"),
                };
                Err(Error::connect(status))
            }
        }
    }

    /// Makes the channel without connecting: the first call connects.
    ///
    /// # Errors
    ///
    /// When the channel cannot be set up (bad TLS settings).
    pub fn connect_lazy(&self) -> Result<Channel, Error> {
        self.build(false)
    }

    fn build(&self, start: bool) -> Result<Channel, Error> {
        #[cfg_attr(not(feature = "tls"), allow(unused_mut))]
        let mut connector = self.connector.clone();
        #[cfg(feature = "tls")]
        {
            let host = self
                .origin
                .as_ref()
                .and_then(http::Uri::host)
                .unwrap_or(self.target.host());
            let host = host.trim_start_matches('[').trim_end_matches(']');
            connector.tls = match &self.tls {
                Some(tls) => Some(tls.connector(host).map_err(Error::connect)?),
                None if self.target.is_tls() => {
                    return Err(Error::connect(
                        "an https:// target needs Endpoint::tls_config with the CA to trust",
                    ));
                }
                None => None,
            };
        }
        let tls = connector_is_tls(&connector);
        let scheme = match &self.origin {
            Some(origin) => origin.scheme().cloned(),
            None => None,
        }
        .unwrap_or(if tls {
            http::uri::Scheme::HTTPS
        } else {
            http::uri::Scheme::HTTP
        });
        let authority = self
            .origin
            .as_ref()
            .and_then(|o| o.authority().cloned())
            .unwrap_or_else(|| self.target.authority().clone());
        let policy = self
            .builder(self.policy)
            .ok_or_else(|| Error::invalid_config("no load-balancing policy"))?;
        let initial: Arc<dyn Picker> = Arc::new(QueuePicker);
        let (pickers_tx, pickers) = watch::channel(initial);
        let (state_tx, state) = watch::channel(ConnectivityState::Idle);
        let (config_tx, config) = watch::channel(Arc::new(Applied::new(
            self.default_config.clone().unwrap_or_default(),
        )));
        let (control_tx, control) = mpsc::unbounded_channel();
        let exiting_idle = Arc::new(AtomicBool::new(false));
        let activity = Activity::new();
        let setup = Setup {
            resolver: self
                .resolver
                .clone()
                .unwrap_or_else(|| resolver::for_target(&self.target)),
            target: self.target.clone(),
            policies: self.policies.clone(),
            policy,
            default_config: self.default_config.clone(),
            connector: Arc::new(connector),
            backoff: self.backoff,
            origin: http::Uri::builder()
                .scheme(scheme.clone())
                .authority(authority.clone())
                .path_and_query("/")
                .build()
                .map_err(|err| Error::invalid_config(format!("the channel's origin: {err}")))?,
            idle_timeout: self.idle_timeout,
        };
        let wiring = Wiring {
            pickers: pickers_tx,
            state: state_tx,
            config: config_tx,
            control,
            exiting_idle: Arc::clone(&exiting_idle),
            activity: Arc::clone(&activity),
        };
        tokio::spawn(worker::run(setup, wiring, start));
        Ok(Channel {
            shared: Arc::new(Shared {
                target: self.target.to_string(),
                scheme,
                authority,
                user_agent: self.user_agent.clone().unwrap_or_else(|| {
                    http::HeaderValue::from_static(concat!(
                        "grpc-rust-grpc/",
                        env!("CARGO_PKG_VERSION")
                    ))
                }),
                timeout: self.timeout,
                tls,
                credentials: self.credentials.clone(),
                #[cfg(feature = "opentelemetry")]
                metrics: self.metrics.as_ref().map(|instruments| {
                    Arc::new(crate::telemetry::client::ChannelMetrics::new(
                        Arc::clone(instruments),
                        &self.target.to_string(),
                    ))
                }),
                pickers,
                state,
                config,
                control: control_tx,
                exiting_idle,
                activity,
            }),
        })
    }
}

#[cfg(feature = "tls")]
fn connector_is_tls(connector: &Connector) -> bool {
    connector.tls.is_some()
}

#[cfg(not(feature = "tls"))]
fn connector_is_tls(_: &Connector) -> bool {
    false
}

impl TryFrom<&str> for Endpoint {
    type Error = TargetError;

    fn try_from(target: &str) -> Result<Self, TargetError> {
        Self::from_shared(target)
    }
}

impl TryFrom<String> for Endpoint {
    type Error = TargetError;

    fn try_from(target: String) -> Result<Self, TargetError> {
        Self::from_shared(target)
    }
}

impl TryFrom<&String> for Endpoint {
    type Error = TargetError;

    fn try_from(target: &String) -> Result<Self, TargetError> {
        Self::from_shared(target)
    }
}

impl TryFrom<http::Uri> for Endpoint {
    type Error = TargetError;

    fn try_from(uri: http::Uri) -> Result<Self, TargetError> {
        Self::from_shared(uri.to_string())
    }
}

impl From<Target> for Endpoint {
    fn from(target: Target) -> Self {
        Self::with_target(target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_service_config_is_an_error_naming_the_field() {
        let err = Endpoint::from_static("localhost:1")
            .default_service_config(
                r#"{"methodConfig": [{"name": [{"service": "s"}], "timeout": "soon"}]}"#,
            )
            .unwrap_err();
        assert!(err.is_invalid_config(), "{err:?}");
        let cause = std::error::Error::source(&err).unwrap().to_string();
        assert!(cause.contains("methodConfig[0].timeout"), "{cause}");

        let err = Endpoint::from_static("localhost:1")
            .default_service_config("{\"methodConfig\": [")
            .unwrap_err();
        let cause = std::error::Error::source(&err).unwrap().to_string();
        assert!(cause.contains("line 1 column"), "{cause}");
    }

    #[test]
    fn an_unknown_policy_name_lists_the_known_ones() {
        let err = Endpoint::from_static("localhost:1")
            .load_balancing_policy("least_request")
            .unwrap_err();
        let cause = std::error::Error::source(&err).unwrap().to_string();
        assert!(cause.contains("pick_first, round_robin"), "{cause}");
    }
}
