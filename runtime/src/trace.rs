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

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use tonic::codegen::Bytes;
use tracing::Span;

use crate::codegen::{BoxBody, BoxFuture, StdError};
use crate::{Code, Status};

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

impl<S, B, R> tower_service::Service<http::Request<B>> for Traced<S>
where
    S: tower_service::Service<http::Request<B>, Response = http::Response<R>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    R: http_body::Body<Data = Bytes> + Send + Unpin + 'static,
    R::Error: Into<StdError>,
{
    type Response = http::Response<BoxBody>;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, Self::Error>;

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
        let peer = request
            .extensions()
            .get::<tonic::transport::server::TcpConnectInfo>()
            .and_then(|info| info.remote_addr());
        if let Some(peer) = peer.filter(|_| !span.is_disabled()) {
            span.record("peer", tracing::field::display(peer));
        }
        let started = Instant::now();
        let call = {
            let _entered = span.enter();
            self.inner.call(request)
        };
        Box::pin(async move {
            let response = call.await?;
            // A trailers-only answer carries its status in the headers.
            let code = response
                .headers()
                .get("grpc-status")
                .map(|value| Code::from_bytes(value.as_bytes()));
            let mut body = TracedBody {
                inner: None,
                span,
                started,
                done: false,
            };
            if let Some(code) = code {
                body.finish(code);
            }
            Ok(response.map(|inner| {
                body.inner = Some(inner);
                BoxBody::new(body)
            }))
        })
    }
}

struct TracedBody<R> {
    inner: Option<R>,
    span: Span,
    started: Instant,
    done: bool,
}

impl<R> TracedBody<R> {
    fn finish(&mut self, code: Code) {
        if !self.done {
            self.done = true;
            self.span.record("code", tracing::field::debug(code));
            self.span
                .record("duration_ms", self.started.elapsed().as_secs_f64() * 1000.0);
        }
    }
}

impl<R> Drop for TracedBody<R> {
    fn drop(&mut self) {
        // The client went away before the status was sent.
        self.finish(Code::Cancelled);
    }
}

impl<R> http_body::Body for TracedBody<R>
where
    R: http_body::Body<Data = Bytes> + Unpin,
    R::Error: Into<StdError>,
{
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Status>>> {
        let Some(inner) = self.inner.as_mut() else {
            return Poll::Ready(None);
        };
        let frame = std::task::ready!(Pin::new(inner).poll_frame(cx));
        match &frame {
            Some(Ok(frame)) => {
                if let Some(code) = frame
                    .trailers_ref()
                    .and_then(|trailers| trailers.get("grpc-status"))
                    .map(|value| Code::from_bytes(value.as_bytes()))
                {
                    self.finish(code);
                }
            }
            Some(Err(_)) => self.finish(Code::Internal),
            None => {}
        }
        Poll::Ready(frame.map(|frame| frame.map_err(|error| Status::from_error(error.into()))))
    }

    // Forwarded so that an error status with no messages still goes out as one
    // HEADERS frame that ends the stream (grpc-go and C-core reject an empty DATA).
    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(R::is_end_stream)
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner
            .as_ref()
            .map_or_else(|| http_body::SizeHint::with_exact(0), R::size_hint)
    }
}
