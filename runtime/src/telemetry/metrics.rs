//! The instruments of gRFC A66, made once per server or channel from the
//! user's meter provider.

use std::borrow::Cow;

use opentelemetry::InstrumentationScope;
use opentelemetry::metrics::{Counter, Histogram, Meter, MeterProvider};

use crate::base::status::Code;

/// The name of the meter every instrument comes from (A66: `grpc-<language>`).
pub const METER_NAME: &str = "grpc-rust";

/// The bucket boundaries of the latency histograms, in seconds (A66).
pub const LATENCY_BUCKETS: [f64; 41] = [
    0.0, 0.00001, 0.00005, 0.0001, 0.0003, 0.0006, 0.0008, 0.001, 0.002, 0.003, 0.004, 0.005,
    0.006, 0.008, 0.01, 0.013, 0.016, 0.02, 0.025, 0.03, 0.04, 0.05, 0.065, 0.08, 0.1, 0.13, 0.16,
    0.2, 0.25, 0.3, 0.4, 0.5, 0.65, 0.8, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0,
];

/// The bucket boundaries of the size histograms, in bytes (A66).
pub const SIZE_BUCKETS: [f64; 14] = [
    0.0,
    1024.0,
    2048.0,
    4096.0,
    16384.0,
    65536.0,
    262_144.0,
    1_048_576.0,
    4_194_304.0,
    16_777_216.0,
    67_108_864.0,
    268_435_456.0,
    1_073_741_824.0,
    4_294_967_296.0,
];

pub(crate) const METHOD: &str = "grpc.method";
pub(crate) const STATUS: &str = "grpc.status";
pub(crate) const TARGET: &str = "grpc.target";
/// The `grpc.method` of a call to a method nobody registered.
pub(crate) const OTHER: &str = "other";

fn meter(provider: &dyn MeterProvider) -> Meter {
    provider.meter_with_scope(
        InstrumentationScope::builder(METER_NAME)
            .with_version(env!("CARGO_PKG_VERSION"))
            .build(),
    )
}

fn latency(meter: &Meter, name: &'static str, description: &'static str) -> Histogram<f64> {
    meter
        .f64_histogram(name)
        .with_unit("s")
        .with_description(description)
        .with_boundaries(LATENCY_BUCKETS.to_vec())
        .build()
}

fn size(meter: &Meter, name: &'static str, description: &'static str) -> Histogram<u64> {
    meter
        .u64_histogram(name)
        .with_unit("By")
        .with_description(description)
        .with_boundaries(SIZE_BUCKETS.to_vec())
        .build()
}

/// A server's instruments.
pub(crate) struct ServerMetrics {
    pub(crate) started: Counter<u64>,
    pub(crate) duration: Histogram<f64>,
    pub(crate) sent: Histogram<u64>,
    pub(crate) received: Histogram<u64>,
}

impl ServerMetrics {
    pub(crate) fn new(provider: &dyn MeterProvider) -> Self {
        let meter = meter(provider);
        Self {
            started: meter
                .u64_counter("grpc.server.call.started")
                .with_unit("{call}")
                .with_description("The number of calls started, whatever their outcome.")
                .build(),
            duration: latency(
                &meter,
                "grpc.server.call.duration",
                "The time from the request's headers to the end of the response.",
            ),
            sent: size(
                &meter,
                "grpc.server.call.sent_total_compressed_message_size",
                "The bytes of the response messages of a call, as sent.",
            ),
            received: size(
                &meter,
                "grpc.server.call.rcvd_total_compressed_message_size",
                "The bytes of the request messages of a call, as received.",
            ),
        }
    }
}

/// A channel's instruments.
pub(crate) struct ClientMetrics {
    pub(crate) attempt_started: Counter<u64>,
    pub(crate) attempt_duration: Histogram<f64>,
    pub(crate) attempt_sent: Histogram<u64>,
    pub(crate) attempt_received: Histogram<u64>,
    pub(crate) call_duration: Histogram<f64>,
}

impl ClientMetrics {
    pub(crate) fn new(provider: &dyn MeterProvider) -> Self {
        let meter = meter(provider);
        Self {
            attempt_started: meter
                .u64_counter("grpc.client.attempt.started")
                .with_unit("{attempt}")
                .with_description("The number of attempts started, retries and hedges included.")
                .build(),
            attempt_duration: latency(
                &meter,
                "grpc.client.attempt.duration",
                "The time from the start of an attempt to its status.",
            ),
            attempt_sent: size(
                &meter,
                "grpc.client.attempt.sent_total_compressed_message_size",
                "The bytes of the request messages of an attempt, as sent.",
            ),
            attempt_received: size(
                &meter,
                "grpc.client.attempt.rcvd_total_compressed_message_size",
                "The bytes of the response messages of an attempt, as received.",
            ),
            call_duration: latency(
                &meter,
                "grpc.client.call.duration",
                "The time from the start of a call to its status, every attempt included.",
            ),
        }
    }
}

/// The `grpc.method` of a call to `path` (`/package.Service/Method`).
pub(crate) fn method_name(path: &str) -> Cow<'static, str> {
    Cow::Owned(path.strip_prefix('/').unwrap_or(path).to_owned())
}

/// A status code's name, as `grpc.status` gives it.
pub(crate) fn status_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_names_are_the_upper_case_code_names() {
        assert_eq!(status_name(Code::Ok), "OK");
        assert_eq!(status_name(Code::DeadlineExceeded), "DEADLINE_EXCEEDED");
        assert_eq!(status_name(Code::Unauthenticated), "UNAUTHENTICATED");
    }

    #[test]
    fn the_method_name_drops_the_leading_slash() {
        assert_eq!(method_name("/pkg.Svc/Call"), "pkg.Svc/Call");
    }
}
