//! Server metrics: one record per call, from its request head to its
//! trailers.
//!
//! A call counts under its method's name only once a generated service's
//! call path takes it ([`Measured::start`], found in the request's
//! extensions); a call no generated method takes (an unknown service or
//! method, a request that is not gRPC, a call an interceptor refused) counts
//! as `other` when it ends. Attributes thus never carry a name a client made
//! up.

use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use opentelemetry::KeyValue;

use crate::base::body::{BoxBody, BoxFuture};
use crate::base::status::Code;
use crate::telemetry::ServerMetrics;
use crate::telemetry::body::{Record, Recorded, head_status};
use crate::telemetry::metrics::{METHOD, OTHER, STATUS, method_name, status_name};
use crate::telemetry::size::Counted;

/// A measured call, in its request's extensions.
#[derive(Clone)]
pub(crate) struct Measured(Arc<Shared>);

struct Shared {
    metrics: Arc<ServerMetrics>,
    /// `grpc.method`, once a generated method took the call.
    method: OnceLock<KeyValue>,
}

impl Measured {
    /// The call at `path` is a generated method's: it counts as started
    /// under that method's name.
    pub(crate) fn start(&self, path: &str) {
        let method = KeyValue::new(METHOD, method_name(path));
        let metrics = &self.0.metrics;
        if self.0.method.set(method.clone()).is_ok() {
            metrics.started.add(1, &[method]);
        }
    }

    /// The call's `grpc.method`; a call no generated method took counts as
    /// started now, as `other`.
    fn method(&self) -> KeyValue {
        if let Some(method) = self.0.method.get() {
            return method.clone();
        }
        let other = KeyValue::new(METHOD, OTHER);
        self.0.metrics.started.add(1, std::slice::from_ref(&other));
        other
    }
}

type RouteFuture = BoxFuture<http::Response<BoxBody>, Infallible>;

/// Routes `request` with `route`, recording the call in `metrics`.
pub(crate) fn serve(
    metrics: &Arc<ServerMetrics>,
    mut request: http::Request<BoxBody>,
    route: impl FnOnce(http::Request<BoxBody>) -> RouteFuture,
) -> RouteFuture {
    let started = Instant::now();
    let received = Arc::new(AtomicU64::new(0));
    let measured = Measured(Arc::new(Shared {
        metrics: Arc::clone(metrics),
        method: OnceLock::new(),
    }));
    request.extensions_mut().insert(measured.clone());
    let request = request.map(|body| BoxBody::new(Counted::new(body, Arc::clone(&received))));
    let future = route(request);
    let mut call = ServerCall {
        measured,
        started,
        received,
        ended: false,
    };
    Box::pin(async move {
        let response = future.await?;
        if let Some(code) = head_status(response.headers()) {
            // Trailers-Only: the call is over.
            call.end(code, 0);
            return Ok(response);
        }
        Ok(response.map(|body| BoxBody::new(Recorded::new(body, Some(call), Code::Internal))))
    })
}

/// One call being measured.
struct ServerCall {
    measured: Measured,
    started: Instant,
    received: Arc<AtomicU64>,
    ended: bool,
}

impl Record for ServerCall {
    fn end(&mut self, code: Code, response_bytes: u64) {
        if std::mem::replace(&mut self.ended, true) {
            return;
        }
        let attributes = [
            self.measured.method(),
            KeyValue::new(STATUS, status_name(code)),
        ];
        let metrics = &self.measured.0.metrics;
        metrics
            .duration
            .record(self.started.elapsed().as_secs_f64(), &attributes);
        metrics.sent.record(response_bytes, &attributes);
        metrics
            .received
            .record(self.received.load(Ordering::Relaxed), &attributes);
    }
}

impl Drop for ServerCall {
    fn drop(&mut self) {
        // The client went away before the call answered.
        self.end(Code::Cancelled, 0);
    }
}
