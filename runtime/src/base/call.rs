//! The request and response of one call: tonic's types, so a tonic user feels
//! at home and tonic's transports carry our calls.
//!
//! Re-exported items show their own (tonic's) documentation after ours, where
//! `tonic::` reads `rust_grpc::`; rustdoc cannot replace it, so ours comes first.

/// The request of one call: a message (or, for client-streaming calls, a
/// [`Streaming`](crate::Streaming) of them) with its metadata and extensions.
///
/// A client passes a message, or a `Request` around it to set metadata or a
/// deadline; a handler receives one. Per-call settings (compression, message
/// limits, wait-for-ready, cancellation) are on [`RequestExt`](crate::RequestExt).
///
/// ```
/// use std::time::Duration;
/// use rust_grpc::Request;
///
/// let mut request = Request::new("ping".to_owned());
/// request.metadata_mut().insert("x-request-id", "42".parse().unwrap());
/// // The whole call, streamed responses included, must end within 2 s.
/// request.set_timeout(Duration::from_secs(2));
/// assert_eq!(request.metadata().get("grpc-timeout").unwrap(), "2000000u");
/// assert_eq!(request.into_inner(), "ping");
/// ```
///
/// Handlers are plain `async fn`s of the generated trait (no `#[async_trait]`)
/// and read what interceptors put in [`extensions`](Request::extensions).
/// Below, the type's own documentation, written for tonic.
pub use tonic::Request;

/// The response of one call: a message (or, for server-streaming calls, a
/// [`BoxStream`](crate::BoxStream) or [`Streaming`](crate::Streaming) of them)
/// with its metadata. Trailers on an OK call and per-call settings are on
/// [`ResponseExt`](crate::ResponseExt).
///
/// ```
/// use rust_grpc::{Response, Status};
///
/// fn answer() -> Result<Response<String>, Status> {
///     let mut response = Response::new("pong".to_owned());
///     response.metadata_mut().insert("x-served-by", "a".parse().unwrap());
///     Ok(response)
/// }
/// assert_eq!(answer().unwrap().into_inner(), "pong");
/// ```
///
/// Below, the type's own documentation, written for tonic.
pub use tonic::Response;

/// Values a call carries beside its messages: interceptors insert them into a
/// request, handlers read them (`request.extensions().get::<T>()`).
///
/// Below, the type's own documentation, written for tonic.
pub use tonic::Extensions;

/// What a generated client's unary or server-streaming method takes: a
/// message, or a [`Request`] around one. Implemented for you; you never
/// implement or call it.
///
/// Below, its own documentation, written for tonic.
pub use tonic::IntoRequest;

/// What a generated client's client-streaming or bidirectional method takes:
/// any stream of messages (such as [`stream::iter`](crate::stream::iter)), or a
/// [`Request`] around one. Implemented for you; you never implement or call
/// it.
///
/// Below, its own documentation, written for tonic.
pub use tonic::IntoStreamingRequest;
