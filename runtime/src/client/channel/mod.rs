//! The channel: what generated clients call through when they connect.
//!
//! A channel resolves its target into addresses (`resolver/`), keeps a
//! subchannel per address (`subchannel.rs`, each with its own connection and
//! backoff), lets a load-balancing policy (`balancer/`) choose which to use,
//! and sends each call on the subchannel the policy's picker gives. The
//! policy and resolver run in one background task per channel (`worker.rs`);
//! calls only read the current picker, so the call path takes no lock of the
//! channel's.

mod body;
mod endpoint;
mod worker;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::base::body::{BoxBody, BoxFuture};
use crate::base::deadline;
use crate::base::status::{self, Status};
use crate::client::balancer::{Pick, PickInfo, Picker};
use crate::client::credentials::{self, CallCredentials};
use crate::client::retry::{self, AttemptError, Policy};
use crate::client::service_config::MethodConfig;
use crate::client::state::ConnectivityState;
use crate::codec::limits::MaxResponseBytes;
use crate::codec::settings::WaitForReady;

pub(crate) use body::AttemptBody;
pub use body::Body;

#[cfg(feature = "opentelemetry")]
use crate::telemetry::client::ClientCall;
/// Nothing to measure without the `opentelemetry` feature.
#[cfg(not(feature = "opentelemetry"))]
type ClientCall = std::convert::Infallible;
pub use endpoint::Endpoint;

/// A channel to one target: cheap to clone (clones share the connections),
/// usable from many tasks at once. The connections close when the last clone
/// is dropped.
#[derive(Clone)]
pub struct Channel {
    shared: Arc<Shared>,
}

struct Shared {
    target: String,
    scheme: http::uri::Scheme,
    authority: http::uri::Authority,
    user_agent: http::HeaderValue,
    timeout: Option<Duration>,
    tls: bool,
    credentials: Option<Arc<dyn CallCredentials>>,
    #[cfg(feature = "opentelemetry")]
    metrics: Option<Arc<crate::telemetry::client::ChannelMetrics>>,
    pickers: watch::Receiver<Arc<dyn Picker>>,
    state: watch::Receiver<ConnectivityState>,
    config: watch::Receiver<Arc<worker::Applied>>,
    control: mpsc::UnboundedSender<worker::Control>,
    /// Set while an exit-idle request is on its way, so calls send one.
    exiting_idle: Arc<AtomicBool>,
    activity: Arc<worker::Activity>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        let _ = self.control.send(worker::Control::Close);
    }
}

impl std::fmt::Debug for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Channel")
            .field("target", &self.shared.target)
            .field("state", &self.state())
            .finish()
    }
}

impl Channel {
    /// The channel's connectivity state now.
    pub fn state(&self) -> ConnectivityState {
        *self.shared.state.borrow()
    }

    /// A receiver of the channel's state: `changed().await` wakes on every
    /// change.
    pub fn watch_state(&self) -> watch::Receiver<ConnectivityState> {
        self.shared.state.clone()
    }

    /// Starts connecting if the channel is IDLE (a call does this too).
    pub fn connect_now(&self) {
        self.exit_idle();
    }

    /// Waits until the channel is READY, or fails with the status a call
    /// would get if the channel is shut down or `timeout` passes.
    ///
    /// # Errors
    ///
    /// UNAVAILABLE if the channel shut down, DEADLINE_EXCEEDED on timeout.
    pub async fn ready(&self, timeout: Duration) -> Result<(), Status> {
        self.exit_idle();
        let mut state = self.watch_state();
        let wait =
            state.wait_for(|s| matches!(s, ConnectivityState::Ready | ConnectivityState::Shutdown));
        match tokio::time::timeout(timeout, wait).await {
            Ok(Ok(s)) if *s == ConnectivityState::Ready => Ok(()),
            Ok(_) => Err(Status::unavailable("the channel is shut down")),
            Err(_) => Err(Status::deadline_exceeded(format!(
                "the channel was not READY within {timeout:?}"
            ))),
        }
    }

    fn exit_idle(&self) {
        if *self.shared.state.borrow() == ConnectivityState::Idle
            && !self.shared.exiting_idle.swap(true, Ordering::AcqRel)
        {
            let _ = self.shared.control.send(worker::Control::ExitIdle);
        }
    }

    /// A call: starts its telemetry at once (not an `async fn`, so that
    /// its future is the measured call's alone, not a second copy of it).
    fn call(
        self,
        request: http::Request<BoxBody>,
    ) -> impl Future<Output = Result<http::Response<Body>, Status>> + Send {
        #[cfg(feature = "opentelemetry")]
        let (request, telemetry) = {
            let mut request = request;
            let telemetry = ClientCall::start(self.shared.metrics.as_ref(), &mut request);
            (request, telemetry)
        };
        #[cfg(not(feature = "opentelemetry"))]
        let telemetry = None;
        self.call_measured(request, telemetry)
    }

    async fn call_measured(
        self,
        mut request: http::Request<BoxBody>,
        telemetry: Option<ClientCall>,
    ) -> Result<http::Response<Body>, Status> {
        self.complete(&mut request);
        if let Some(credentials) = &self.shared.credentials {
            credentials::apply(&**credentials, self.shared.tls, &mut request).await?;
        }
        let applied = Arc::clone(&self.shared.config.borrow());
        let method = applied.config.method_config(request.uri().path());
        let wait_for_ready = request
            .extensions()
            .get::<WaitForReady>()
            .map(|w| w.0)
            .or_else(|| method.and_then(MethodConfig::wait_for_ready))
            .unwrap_or(false);
        let deadline = self.deadline(&mut request, method.and_then(MethodConfig::timeout));
        if let Some(max) = method.and_then(MethodConfig::max_request_message_bytes)
            && let Some(size) = http_body::Body::size_hint(request.body()).exact()
            && size.saturating_sub(5) > max as u64
        {
            return Err(Status::resource_exhausted(format!(
                "the request message is {} bytes, over the service config's maxRequestMessageBytes of {max}",
                size - 5
            )));
        }
        let policy = match method {
            Some(method) => match (method.retry_policy(), method.hedging_policy()) {
                (Some(retry), _) => Policy::Retry(retry),
                (None, Some(hedging)) => Policy::Hedging(hedging),
                (None, None) => Policy::None,
            },
            None => Policy::None,
        };
        let guard = self.shared.activity.start();
        let result = retry::call(
            policy,
            applied.throttle.as_ref(),
            deadline,
            retry::DEFAULT_BUFFER_LIMIT,
            request,
            |request| {
                self.clone()
                    .measured_attempt(request, wait_for_ready, deadline, telemetry.as_ref())
            },
        )
        .await;
        #[cfg(feature = "opentelemetry")]
        let result = {
            let mut result = result;
            crate::telemetry::client::finish(telemetry, &mut result);
            result
        };
        let response = result?;
        let mut response = response.map(|body| Body::new(body, guard));
        if let Some(max) = method.and_then(MethodConfig::max_response_message_bytes) {
            response.extensions_mut().insert(MaxResponseBytes(max));
        }
        Ok(response)
    }

    /// One attempt of a call, measured if the call is.
    fn measured_attempt(
        self,
        request: http::Request<BoxBody>,
        wait_for_ready: bool,
        deadline: Option<Instant>,
        telemetry: Option<&ClientCall>,
    ) -> impl Future<Output = Result<http::Response<AttemptBody>, AttemptError>> + Send {
        #[cfg(feature = "opentelemetry")]
        {
            let (request, record) = ClientCall::attempt(telemetry, request);
            crate::telemetry::client::measure(
                record,
                self.attempt(request, wait_for_ready, deadline),
                AttemptError::code,
            )
        }
        #[cfg(not(feature = "opentelemetry"))]
        {
            let _ = telemetry;
            self.attempt(request, wait_for_ready, deadline)
        }
    }

    /// One attempt of a call: waits for a subchannel as the picker says, and
    /// sends the request on it.
    async fn attempt(
        self,
        mut request: http::Request<BoxBody>,
        wait_for_ready: bool,
        deadline: Option<Instant>,
    ) -> Result<http::Response<hyper::body::Incoming>, AttemptError> {
        let mut pickers = self.shared.pickers.clone();
        loop {
            let picker = Arc::clone(&pickers.borrow_and_update());
            let pick = picker.pick(&PickInfo {
                path: request.uri().path(),
            });
            match pick {
                Pick::Ready(subchannel) => {
                    if let Some(mut sender) = subchannel.sender() {
                        match sender.try_send_request(request).await {
                            Ok(response) => return Ok(response),
                            Err(mut err) => match err.take_message() {
                                // Never sent: the connection closed under us.
                                Some(back) => {
                                    request = back;
                                    continue;
                                }
                                None => {
                                    return Err(Box::pin(failed(err.into_error(), pickers)).await);
                                }
                            },
                        }
                    }
                }
                Pick::Queue => self.exit_idle(),
                Pick::Fail(status) if !wait_for_ready => return Err(AttemptError::Failed(status)),
                Pick::Fail(_) => {}
            }
            // Boxed: the call's future stays small for the usual ready pick.
            Box::pin(next_picker(&mut pickers, deadline)).await?;
        }
    }

    /// Fills in what the call's URI and headers need from the channel.
    fn complete(&self, request: &mut http::Request<BoxBody>) {
        let uri = request.uri();
        if uri.scheme().is_none() || uri.authority().is_none() {
            let mut parts = std::mem::take(request.uri_mut()).into_parts();
            parts.scheme = Some(self.shared.scheme.clone());
            parts.authority = Some(self.shared.authority.clone());
            if parts.path_and_query.is_none() {
                parts.path_and_query = Some(http::uri::PathAndQuery::from_static("/"));
            }
            if let Ok(uri) = http::Uri::from_parts(parts) {
                *request.uri_mut() = uri;
            }
        }
        request
            .headers_mut()
            .entry(http::header::USER_AGENT)
            .or_insert_with(|| self.shared.user_agent.clone());
    }

    /// The call's deadline: the shortest of its own `grpc-timeout`, the
    /// service config's timeout and the channel's (sent as `grpc-timeout`).
    fn deadline(
        &self,
        request: &mut http::Request<BoxBody>,
        configured: Option<Duration>,
    ) -> Option<Instant> {
        let own = request
            .headers()
            .get(deadline::GRPC_TIMEOUT)
            .and_then(deadline::parse_grpc_timeout);
        let others = match (configured, self.shared.timeout) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let timeout = match (own, others) {
            (Some(own), Some(other)) if other < own => other,
            (Some(own), _) => return Instant::now().checked_add(own),
            (None, other) => other?,
        };
        request.headers_mut().insert(
            deadline::GRPC_TIMEOUT,
            deadline::encode_grpc_timeout(timeout),
        );
        Instant::now().checked_add(timeout)
    }
}

/// Waits for the policy's next picker, until `deadline`.
async fn next_picker(
    pickers: &mut watch::Receiver<Arc<dyn Picker>>,
    deadline: Option<Instant>,
) -> Result<(), AttemptError> {
    let changed = pickers.changed();
    let changed = match deadline {
        Some(at) => match tokio::time::timeout_at(at, changed).await {
            Ok(changed) => changed,
            Err(_) => {
                return Err(AttemptError::Failed(Status::deadline_exceeded(
                    "the deadline passed while the call waited for a connection",
                )));
            }
        },
        None => changed.await,
    };
    changed.map_err(|_| AttemptError::Failed(Status::unavailable("the channel is shut down")))
}

/// The attempt error of a request hyper failed to send or answer.
async fn failed(
    error: hyper::Error,
    mut pickers: watch::Receiver<Arc<dyn Picker>>,
) -> AttemptError {
    if never_sent(&error) {
        // Its connection is closing: let the policy move on before the retry.
        let wait = Duration::from_secs(1);
        let _ = tokio::time::timeout(wait, pickers.changed()).await;
        return AttemptError::Unprocessed(Status::unavailable(format!(
            "the connection closed before the call was sent: {error}"
        )));
    }
    classify(error)
}

/// The attempt error of a request that was sent: one the server's
/// application never saw (refused, or above a graceful GOAWAY's last stream)
/// may be sent again at once.
fn classify(error: hyper::Error) -> AttemptError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&error);
    while let Some(err) = source {
        if let Some(h2) = err.downcast_ref::<h2::Error>() {
            let refused = h2.reason() == Some(h2::Reason::REFUSED_STREAM)
                || (h2.is_go_away() && h2.is_remote() && h2.reason() == Some(h2::Reason::NO_ERROR));
            if refused {
                return AttemptError::Unprocessed(Status::unavailable(format!(
                    "the server did not take the call: {h2}"
                )));
            }
            break;
        }
        source = err.source();
    }
    AttemptError::Failed(status::from_transport_error(error))
}

/// Whether hyper dropped a request it had queued but never sent (its
/// connection closed, as after a GOAWAY, while the stream waited for a slot).
fn never_sent(error: &hyper::Error) -> bool {
    error.is_canceled() || (error.is_user() && error.to_string().contains("dispatch task is gone"))
}

impl tower::Service<http::Request<BoxBody>> for Channel {
    type Response = http::Response<Body>;
    type Error = Status;
    type Future = BoxFuture<http::Response<Body>, Status>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Status>> {
        // Calls wait for a connection inside `call`, where the deadline is known.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<BoxBody>) -> Self::Future {
        Box::pin(self.clone().call(request))
    }
}
