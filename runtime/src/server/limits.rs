//! [`MethodLimits`]: a server layer that gives chosen methods their own message
//! size limits.

use std::collections::HashMap;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::codec::limits::CallLimits;

/// A server layer that gives chosen methods their own message size limits,
/// in place of the limits their server was built with.
///
/// ```no_run
/// use rust_grpc::limits::CallLimits;
/// use rust_grpc::server::MethodLimits;
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// # let (_, health) = rust_grpc::health::health_service();
/// rust_grpc::Server::builder()
///     .layer(MethodLimits::new().method(
///         "/grpc.health.v1.Health/Check",
///         CallLimits::new().max_decoding_message_size(1024),
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

impl<S, B> tower::Service<http::Request<B>> for MethodLimitsService<S>
where
    S: tower::Service<http::Request<B>>,
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
