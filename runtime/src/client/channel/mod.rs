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
use crate::client::state::ConnectivityState;
use crate::codec::settings::WaitForReady;

pub use body::Body;
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
    pickers: watch::Receiver<Arc<dyn Picker>>,
    state: watch::Receiver<ConnectivityState>,
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

    async fn call(
        self,
        mut request: http::Request<BoxBody>,
    ) -> Result<http::Response<Body>, Status> {
        self.complete(&mut request);
        let wait_for_ready = request
            .extensions()
            .get::<WaitForReady>()
            .is_some_and(|w| w.0);
        let deadline = self.deadline(&mut request);
        let guard = self.shared.activity.start();
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
                            Ok(response) => return Ok(response.map(|b| Body::new(b, guard))),
                            Err(mut err) => match err.take_message() {
                                // Never sent: the connection closed under us.
                                Some(back) => {
                                    request = back;
                                    continue;
                                }
                                None => return Err(status::from_transport_error(err.into_error())),
                            },
                        }
                    }
                }
                Pick::Queue => self.exit_idle(),
                Pick::Fail(status) if !wait_for_ready => return Err(status),
                Pick::Fail(_) => {}
            }
            // Wait for the policy's next picker.
            let changed = pickers.changed();
            let changed = match deadline {
                Some(at) => match tokio::time::timeout_at(at, changed).await {
                    Ok(changed) => changed,
                    Err(_) => {
                        return Err(Status::deadline_exceeded(
                            "the deadline passed while the call waited for a connection",
                        ));
                    }
                },
                None => changed.await,
            };
            if changed.is_err() {
                return Err(Status::unavailable("the channel is shut down"));
            }
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

    /// The call's deadline: its own `grpc-timeout`, or the channel's timeout
    /// (which it then sends as `grpc-timeout`).
    fn deadline(&self, request: &mut http::Request<BoxBody>) -> Option<Instant> {
        let own = request
            .headers()
            .get(deadline::GRPC_TIMEOUT)
            .and_then(deadline::parse_grpc_timeout);
        let timeout = match (own, self.shared.timeout) {
            (Some(own), Some(channel)) if channel < own => Some(channel),
            (Some(own), _) => return Instant::now().checked_add(own),
            (None, channel) => channel,
        }?;
        request.headers_mut().insert(
            deadline::GRPC_TIMEOUT,
            deadline::encode_grpc_timeout(timeout),
        );
        Instant::now().checked_add(timeout)
    }
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
