//! Client metrics and spans: one record per call and one per attempt.
//!
//! A call on a channel starts a [`ClientCall`] (its `grpc.client.call` span,
//! whose context goes out as `traceparent`, and the start of its duration).
//! Each attempt the channel sends (retries, hedges and transparent retries
//! too) is counted and timed by [`measure`] until its response's status
//! arrives; the committed attempt's response body then ends the call as well.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Instant;

use opentelemetry::KeyValue;

use crate::base::body::BoxBody;
use crate::base::status::Code;
use crate::telemetry::ClientMetrics;
use crate::telemetry::body::{Record, Recorded, head_status};
use crate::telemetry::metrics::{METHOD, OTHER, STATUS, TARGET, status_name};
use crate::telemetry::size::Counted;
use crate::telemetry::trace_context;

/// A channel's instruments and its `grpc.target`.
pub(crate) struct ChannelMetrics {
    instruments: Arc<ClientMetrics>,
    target: KeyValue,
}

impl ChannelMetrics {
    pub(crate) fn new(instruments: Arc<ClientMetrics>, target: &str) -> Self {
        Self {
            instruments,
            target: KeyValue::new(TARGET, Arc::<str>::from(target)),
        }
    }
}

/// One call on a channel, while it runs.
pub(crate) struct ClientCall {
    /// `grpc.client.call`, closed when the call ends.
    _span: tracing::Span,
    metrics: Option<CallMetrics>,
}

struct CallMetrics {
    channel: Arc<ChannelMetrics>,
    method: KeyValue,
    started: Instant,
    ended: bool,
}

impl ClientCall {
    /// Starts a call of `request`: opens its span and sends the span's
    /// context in the request's metadata. `None` when neither metrics nor a
    /// span are recorded.
    pub(crate) fn start(
        metrics: Option<&Arc<ChannelMetrics>>,
        request: &mut http::Request<BoxBody>,
    ) -> Option<Self> {
        let span = tracing::info_span!("grpc.client.call", method = request.uri().path());
        if !span.is_disabled() {
            trace_context::inject(&span, request.headers_mut());
        }
        let metrics = metrics.map(|channel| CallMetrics {
            channel: Arc::clone(channel),
            method: KeyValue::new(METHOD, method(request)),
            started: Instant::now(),
            ended: false,
        });
        if span.is_disabled() && metrics.is_none() {
            return None;
        }
        Some(Self {
            _span: span,
            metrics,
        })
    }

    /// Starts an attempt of the call: counts it and wraps its body to count
    /// the bytes sent.
    pub(crate) fn attempt(
        call: Option<&Self>,
        request: http::Request<BoxBody>,
    ) -> (http::Request<BoxBody>, Option<AttemptRecord>) {
        let Some(metrics) = call.and_then(|call| call.metrics.as_ref()) else {
            return (request, None);
        };
        let attributes = [metrics.method.clone(), metrics.channel.target.clone()];
        metrics
            .channel
            .instruments
            .attempt_started
            .add(1, &attributes);
        let sent = Arc::new(AtomicU64::new(0));
        let request = request.map(|body| BoxBody::new(Counted::new(body, Arc::clone(&sent))));
        let record = AttemptRecord {
            channel: Arc::clone(&metrics.channel),
            attributes,
            started: Instant::now(),
            sent,
            ended: false,
        };
        (request, Some(record))
    }

    /// Ends the call with `code` (its span closes when it is dropped).
    pub(crate) fn end(&mut self, code: Code) {
        if let Some(metrics) = &mut self.metrics
            && !std::mem::replace(&mut metrics.ended, true)
        {
            let attributes = [
                metrics.method.clone(),
                metrics.channel.target.clone(),
                KeyValue::new(STATUS, status_name(code)),
            ];
            metrics
                .channel
                .instruments
                .call_duration
                .record(metrics.started.elapsed().as_secs_f64(), &attributes);
        }
    }
}

impl Drop for ClientCall {
    fn drop(&mut self) {
        // The caller dropped the call (or its response) before its status.
        self.end(Code::Cancelled);
    }
}

/// The `grpc.method` of a call: the full name of a generated client's
/// method, `other` for any other path.
fn method(request: &http::Request<BoxBody>) -> opentelemetry::Value {
    match request.extensions().get::<tonic::GrpcMethod<'static>>() {
        Some(method) => format!("{}/{}", method.service(), method.method()).into(),
        None => OTHER.into(),
    }
}

/// One attempt being measured.
pub(crate) struct AttemptRecord {
    channel: Arc<ChannelMetrics>,
    /// `grpc.method`, `grpc.target`.
    attributes: [KeyValue; 2],
    started: Instant,
    sent: Arc<AtomicU64>,
    ended: bool,
}

impl Record for AttemptRecord {
    fn end(&mut self, code: Code, response_bytes: u64) {
        if std::mem::replace(&mut self.ended, true) {
            return;
        }
        let [method, target] = self.attributes.clone();
        let attributes = [method, target, KeyValue::new(STATUS, status_name(code))];
        let instruments = &self.channel.instruments;
        instruments
            .attempt_duration
            .record(self.started.elapsed().as_secs_f64(), &attributes);
        instruments
            .attempt_sent
            .record(self.sent.load(Ordering::Relaxed), &attributes);
        instruments
            .attempt_received
            .record(response_bytes, &attributes);
    }
}

impl Drop for AttemptRecord {
    fn drop(&mut self) {
        // A losing hedge, or the call's deadline.
        self.end(Code::Cancelled, 0);
    }
}

/// What a measured response body ends: its attempt, and the call once the
/// attempt is committed.
#[derive(Default)]
pub(crate) struct ResponseRecord {
    attempt: Option<AttemptRecord>,
    call: Option<ClientCall>,
}

impl Record for ResponseRecord {
    fn end(&mut self, code: Code, response_bytes: u64) {
        if let Some(attempt) = &mut self.attempt {
            attempt.end(code, response_bytes);
        }
        if let Some(call) = &mut self.call {
            call.end(code);
        }
    }
}

/// A measured attempt's response body.
pub(crate) type AttemptBody<B> = Recorded<B, ResponseRecord>;

pin_project_lite::pin_project! {
    /// One attempt, ending its record with its status: at once for an
    /// error or a Trailers-Only response, else when its body's trailers
    /// arrive. A plain struct, not an `async fn`, so that the attempt's
    /// future is stored once (the call's future is moved per call).
    pub(crate) struct Measure<F, E> {
        #[pin]
        attempt: F,
        record: Option<AttemptRecord>,
        code_of: fn(&E) -> Code,
    }
}

/// Measures `attempt` with `record`.
pub(crate) fn measure<F, E>(
    record: Option<AttemptRecord>,
    attempt: F,
    code_of: fn(&E) -> Code,
) -> Measure<F, E> {
    Measure {
        attempt,
        record,
        code_of,
    }
}

impl<F, B, E> Future for Measure<F, E>
where
    F: Future<Output = Result<http::Response<B>, E>>,
{
    type Output = Result<http::Response<AttemptBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let response = match ready!(this.attempt.poll(cx)) {
            Ok(response) => response,
            Err(err) => {
                if let Some(record) = this.record {
                    record.end((this.code_of)(&err), 0);
                }
                return Poll::Ready(Err(err));
            }
        };
        let mut record = this.record.take();
        if let Some(code) = head_status(response.headers())
            && let Some(mut record) = record.take()
        {
            record.end(code, 0);
        }
        let record = record.map(|attempt| ResponseRecord {
            attempt: Some(attempt),
            call: None,
        });
        Poll::Ready(Ok(
            response.map(|body| Recorded::new(body, record, Code::Internal))
        ))
    }
}

/// Ends `call` with the outcome of its attempts: at once for a status or a
/// Trailers-Only response, else when the committed response's body ends.
pub(crate) fn finish<B>(
    call: Option<ClientCall>,
    result: &mut Result<http::Response<AttemptBody<B>>, crate::base::status::Status>,
) {
    let Some(mut call) = call else { return };
    match result {
        Err(status) => call.end(status.code()),
        Ok(response) => {
            if let Some(code) = head_status(response.headers()) {
                call.end(code);
                return;
            }
            response
                .body_mut()
                .record_or(ResponseRecord::default, Code::Internal)
                .call = Some(call);
        }
    }
}
