//! Message size limits: how large a message a call may receive and send.
//!
//! The defaults are grpc-go's: a received message may be at most
//! [`DEFAULT_MAX_RECEIVE`] (4 MiB), a sent one is not limited. Set them
//!
//! - per server: `FooServer::new(..).max_decoding_message_size(n)` and
//!   `.max_encoding_message_size(n)`;
//! - per client: `FooClient::connect(..).await?.max_decoding_message_size(n)` and
//!   `.max_encoding_message_size(n)`;
//! - per method or per call: a [`CallLimits`] in the extensions of a client's
//!   request, or [`MethodLimits`], a layer that gives chosen methods of a server
//!   their own limits.
//!
//! A message over a limit ends the call with RESOURCE_EXHAUSTED, as the gRPC spec
//! and grpc-go say (tonic says OUT_OF_RANGE). A received message is checked as it
//! arrives, from its length prefix, and a compressed one again after
//! decompression, so a small message that inflates past the limit is refused too.
//!
//! ```
//! use rust_grpc::limits::{CallLimits, MethodLimits};
//! use rust_grpc::Request;
//!
//! // A client call that may receive up to 64 MiB and send up to 1 MiB.
//! let mut request = Request::new(());
//! request
//!     .extensions_mut()
//!     .insert(CallLimits::new().max_receive(64 << 20).max_send(1 << 20));
//!
//! // A server whose Upload method takes messages up to 32 MiB.
//! let layer = MethodLimits::new()
//!     .method("/files.Files/Upload", CallLimits::new().max_receive(32 << 20));
//! // rust_grpc::Server::builder().layer(layer).add_service(..)
//! # let _ = layer;
//! ```

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use crate::Status;

/// The most bytes a received message may have unless a limit says otherwise
/// (grpc-go's default): 4 MiB.
pub const DEFAULT_MAX_RECEIVE: usize = 4 * 1024 * 1024;

/// Limits for one call, or for every call of one method, that take the place of
/// the client's or server's own.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallLimits {
    pub(crate) receive: Option<usize>,
    pub(crate) send: Option<usize>,
}

impl CallLimits {
    /// No limits of its own: the client's or server's apply.
    pub fn new() -> Self {
        Self::default()
    }

    /// Received messages may have at most `bytes` bytes (after decompression).
    #[must_use]
    pub fn max_receive(self, bytes: usize) -> Self {
        Self {
            receive: Some(bytes),
            ..self
        }
    }

    /// Sent messages may have at most `bytes` bytes (before compression).
    #[must_use]
    pub fn max_send(self, bytes: usize) -> Self {
        Self {
            send: Some(bytes),
            ..self
        }
    }

    /// The receive limit this sets, if any.
    pub fn receive(&self) -> Option<usize> {
        self.receive
    }

    /// The send limit this sets, if any.
    pub fn send(&self) -> Option<usize> {
        self.send
    }

    /// These limits where set, `fallback`'s elsewhere.
    pub(crate) fn or(self, fallback: Self) -> Self {
        Self {
            receive: self.receive.or(fallback.receive),
            send: self.send.or(fallback.send),
        }
    }

    /// The receive limit in force.
    pub(crate) fn receive_limit(&self) -> usize {
        self.receive.unwrap_or(DEFAULT_MAX_RECEIVE)
    }
}

/// The status of a received message over its limit.
pub(crate) fn received_too_large(len: usize, limit: usize) -> Status {
    Status::resource_exhausted(format!(
        "received message larger than max ({len} vs. {limit} bytes)"
    ))
}

/// The record of a message a call refused to send for its size: the transport
/// reports encoder errors as INTERNAL (and a client's as a reset stream), so the
/// runtime puts the call's RESOURCE_EXHAUSTED back from this record.
#[derive(Debug, Clone, Default)]
pub(crate) struct Oversized(Arc<OnceLock<String>>);

impl Oversized {
    /// Records a message of `len` bytes over `limit`, and returns its status.
    pub(crate) fn record(&self, len: usize, limit: usize) -> Status {
        let message = format!("trying to send message larger than max ({len} vs. {limit} bytes)");
        let _ = self.0.set(message.clone());
        Status::resource_exhausted(message)
    }

    /// The status of the refused message, if one was refused.
    pub(crate) fn status(&self) -> Option<Status> {
        self.0
            .get()
            .map(|message| Status::resource_exhausted(message.clone()))
    }

    /// `status`, or RESOURCE_EXHAUSTED if a message was refused.
    pub(crate) fn fix(&self, status: Status) -> Status {
        self.status().unwrap_or(status)
    }
}

/// A server layer that gives chosen methods their own message size limits,
/// in place of the limits their server was built with.
///
/// ```no_run
/// use rust_grpc::limits::{CallLimits, MethodLimits};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// # let (_, health) = rust_grpc::health::health_service();
/// rust_grpc::Server::builder()
///     .layer(MethodLimits::new().method(
///         "/grpc.health.v1.Health/Check",
///         CallLimits::new().max_receive(1024),
///     ))
///     .add_service(health)
///     .serve("127.0.0.1:50051".parse()?)
///     .await?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct MethodLimits {
    methods: Arc<HashMap<String, CallLimits>>,
}

impl MethodLimits {
    /// No method has limits of its own yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Calls to `path` (`/package.Service/Method`, as the generated
    /// `<service>_methods` constants spell it) get `limits`.
    #[must_use]
    pub fn method(mut self, path: impl Into<String>, limits: CallLimits) -> Self {
        Arc::make_mut(&mut self.methods).insert(path.into(), limits);
        self
    }
}

impl<S> tower::Layer<S> for MethodLimits {
    type Service = MethodLimitsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        MethodLimitsService {
            inner,
            methods: Arc::clone(&self.methods),
        }
    }
}

/// The service [`MethodLimits`] wraps a server in.
#[derive(Debug, Clone)]
pub struct MethodLimitsService<S> {
    inner: S,
    methods: Arc<HashMap<String, CallLimits>>,
}

impl<S, B> tower_service::Service<http::Request<B>> for MethodLimitsService<S>
where
    S: tower_service::Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> S::Future {
        if let Some(limits) = self.methods.get(request.uri().path()) {
            request.extensions_mut().insert(*limits);
        }
        self.inner.call(request)
    }
}
