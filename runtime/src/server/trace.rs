//! One `tracing` span per call, on every server [`crate::Server::builder`] makes:
//! `grpc.call` with the method, the peer, the status code and the duration.
//! Nothing is recorded unless a `tracing` subscriber listens.
//!
//! With `tracing-subscriber`, logging each call as it ends is one line:
//!
//! ```ignore
//! tracing_subscriber::fmt()
//!     .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
//!     .init();
//! // INFO grpc.call{method=/helloworld.Greeter/SayHello peer=127.0.0.1:50412
//! //   code=Ok duration_ms=0.41}: close time.busy=.. time.idle=..
//! ```
//!
//! Servers built on tonic's own builder can add it with `.layer(TraceLayer)`.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use tracing::Span;

use crate::base::status::Code;

const GRPC_STATUS: http::HeaderName = http::HeaderName::from_static("grpc-status");

/// The layer that opens a span per call.
#[derive(Debug, Clone, Copy, Default)]
pub struct TraceLayer;

impl<S> tower::Layer<S> for TraceLayer {
    type Service = Traced<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Traced { inner }
    }
}

/// A service whose calls are traced.
#[derive(Debug, Clone)]
pub struct Traced<S> {
    inner: S,
}

impl<S, B, R> tower::Service<http::Request<B>> for Traced<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>>,
{
    type Response = http::Response<TracedBody<R>>;
    type Error = S::Error;
    type Future = TracedFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let span = tracing::info_span!(
            "grpc.call",
            method = request.uri().path(),
            peer = tracing::field::Empty,
            code = tracing::field::Empty,
            duration_ms = tracing::field::Empty,
        );
        if span.is_disabled() {
            // Nobody listens: no clock, no span to carry.
            return TracedFuture {
                inner: self.inner.call(request),
                trace: None,
            };
        }
        let peer = request
            .extensions()
            .get::<tonic::transport::server::TcpConnectInfo>()
            .and_then(|info| info.remote_addr());
        if let Some(peer) = peer {
            span.record("peer", tracing::field::display(peer));
        }
        #[cfg(feature = "opentelemetry")]
        crate::telemetry::trace_context::adopt(&span, request.headers());
        let started = Instant::now();
        let inner = {
            let _entered = span.enter();
            self.inner.call(request)
        };
        TracedFuture {
            inner,
            trace: Some(Trace {
                span,
                started,
                done: false,
            }),
        }
    }
}

/// The span of one call until its status is known.
struct Trace {
    span: Span,
    started: Instant,
    done: bool,
}

impl Trace {
    fn finish(&mut self, code: Code) {
        if !self.done {
            self.done = true;
            self.span.record("code", tracing::field::debug(code));
            self.span
                .record("duration_ms", self.started.elapsed().as_secs_f64() * 1000.0);
        }
    }
}

impl Drop for Trace {
    fn drop(&mut self) {
        // The client went away before the status was sent.
        self.finish(Code::Cancelled);
    }
}

pin_project_lite::pin_project! {
    /// The future of a traced call.
    pub struct TracedFuture<F> {
        #[pin]
        inner: F,
        trace: Option<Trace>,
    }
}

impl<F, R, E> Future for TracedFuture<F>
where
    F: Future<Output = Result<http::Response<R>, E>>,
{
    type Output = Result<http::Response<TracedBody<R>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let response = ready!(this.inner.poll(cx))?;
        let mut trace = this.trace.take();
        if let Some(trace) = &mut trace
            // A trailers-only answer carries its status in the headers.
            && let Some(code) = response.headers().get(GRPC_STATUS)
        {
            trace.finish(Code::from_bytes(code.as_bytes()));
        }
        Poll::Ready(Ok(response.map(|inner| TracedBody { inner, trace })))
    }
}

pin_project_lite::pin_project! {
    /// The response body of a traced call: records the status from its trailers.
    pub struct TracedBody<R> {
        #[pin]
        inner: R,
        trace: Option<Trace>,
    }
}

impl<R> http_body::Body for TracedBody<R>
where
    R: http_body::Body,
{
    type Data = R::Data;
    type Error = R::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<R::Data>, R::Error>>> {
        let this = self.project();
        let frame = ready!(this.inner.poll_frame(cx));
        if let Some(trace) = this.trace {
            match &frame {
                Some(Ok(frame)) => {
                    if let Some(code) = frame
                        .trailers_ref()
                        .and_then(|trailers| trailers.get(GRPC_STATUS))
                    {
                        trace.finish(Code::from_bytes(code.as_bytes()));
                    }
                }
                Some(Err(_)) => trace.finish(Code::Internal),
                None => {}
            }
        }
        Poll::Ready(frame)
    }

    // Forwarded so that an error status with no messages still goes out as one
    // HEADERS frame that ends the stream (grpc-go and C-core reject an empty DATA).
    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
