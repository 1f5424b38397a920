//! OpenTelemetry for calls (the `opentelemetry` feature): the metrics of gRFC
//! A66 and W3C trace context on the calls' `tracing` spans.
//!
//! Metrics are on once a meter provider is given:
//! [`Server::metrics`](crate::Server::metrics) for a server,
//! [`Endpoint::metrics`](crate::Endpoint::metrics) for a channel. Without
//! one nothing is recorded. The instruments come from the meter
//! [`METER_NAME`]:
//!
//! | instrument | kind | unit | attributes |
//! |---|---|---|---|
//! | `grpc.server.call.started` | counter | `{call}` | `grpc.method` |
//! | `grpc.server.call.duration` | histogram | `s` | `grpc.method`, `grpc.status` |
//! | `grpc.server.call.sent_total_compressed_message_size` | histogram | `By` | `grpc.method`, `grpc.status` |
//! | `grpc.server.call.rcvd_total_compressed_message_size` | histogram | `By` | `grpc.method`, `grpc.status` |
//! | `grpc.client.attempt.started` | counter | `{attempt}` | `grpc.method`, `grpc.target` |
//! | `grpc.client.attempt.duration` | histogram | `s` | `grpc.method`, `grpc.target`, `grpc.status` |
//! | `grpc.client.attempt.sent_total_compressed_message_size` | histogram | `By` | `grpc.method`, `grpc.target`, `grpc.status` |
//! | `grpc.client.attempt.rcvd_total_compressed_message_size` | histogram | `By` | `grpc.method`, `grpc.target`, `grpc.status` |
//! | `grpc.client.call.duration` | histogram | `s` | `grpc.method`, `grpc.target`, `grpc.status` |
//!
//! `grpc.method` is `package.Service/Method` for the methods of generated
//! services and generated clients, and `other` for any other path (so that
//! callers cannot grow the metrics without bound); `grpc.status` is the
//! code's name (`OK`, `UNAVAILABLE`); `grpc.target` is the channel's
//! target. Sizes count message bytes as sent (compressed, if they were),
//! without the 5-byte prefix of each message. Every attempt of a call counts,
//! retries and hedges included; an attempt dropped before its status arrives
//! (a losing hedge, a deadline) ends as `CANCELLED`.
//!
//! Trace context: each call on a [`Channel`](crate::Channel) opens a
//! `grpc.client.call` span and sends its context as `traceparent` (and
//! `tracestate`) metadata; a server's `grpc.call` span ([`crate::trace`])
//! takes the context it receives as its parent. With
//! `tracing-opentelemetry`'s layer in the subscriber, a call between two
//! processes is then one trace. Nothing is sent when no subscriber records
//! OpenTelemetry spans.

pub(crate) mod body;
pub(crate) mod client;
mod metrics;
pub(crate) mod server;
pub(crate) mod size;
pub(crate) mod trace_context;

pub(crate) use metrics::{ClientMetrics, ServerMetrics};
pub use metrics::{LATENCY_BUCKETS, METER_NAME, SIZE_BUCKETS};
/// The OpenTelemetry API this runtime records with (its meter providers are
/// the ones [`Server::metrics`](crate::Server::metrics) takes).
pub use opentelemetry;
