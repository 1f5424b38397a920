//! Message size limits: how large a message a call may receive and send.
//!
//! The defaults are grpc-go's: a received message may be at most
//! [`DEFAULT_MAX_DECODING_MESSAGE_SIZE`] (4 MiB), a sent one is not limited. The
//! same two words set them everywhere:
//!
//! - per server: `FooServer::new(..).max_decoding_message_size(n)` and
//!   `.max_encoding_message_size(n)`;
//! - per client: `FooClient::connect(..).await?.max_decoding_message_size(n)` and
//!   `.max_encoding_message_size(n)`;
//! - per call: [`RequestExt::set_max_decoding_message_size`](crate::RequestExt::set_max_decoding_message_size)
//!   and [`set_max_encoding_message_size`](crate::RequestExt::set_max_encoding_message_size)
//!   on a client's request;
//! - per method of a server: [`MethodLimits`](crate::server::MethodLimits), a
//!   layer that gives chosen methods their own [`CallLimits`].
//!
//! A message over a limit ends the call with RESOURCE_EXHAUSTED, as the gRPC spec
//! and grpc-go say (tonic says OUT_OF_RANGE). A received message is checked as it
//! arrives, from its length prefix, and a compressed one again after
//! decompression, so a small message that inflates past the limit is refused too.
//! The codec is the one place that checks them.
//!
//! ```
//! use rust_grpc::limits::CallLimits;
//! use rust_grpc::server::MethodLimits;
//! use rust_grpc::{Request, RequestExt as _};
//!
//! // A client call that may receive up to 64 MiB and send up to 1 MiB.
//! let mut request = Request::new(());
//! request.set_max_decoding_message_size(64 << 20);
//! request.set_max_encoding_message_size(1 << 20);
//!
//! // A server whose Upload method takes messages up to 32 MiB.
//! let layer = MethodLimits::new().method(
//!     "/files.Files/Upload",
//!     CallLimits::new().max_decoding_message_size(32 << 20),
//! );
//! // rust_grpc::Server::builder().layer(layer).add_service(..)
//! # let _ = layer;
//! ```

use crate::base::status::Status;

/// The most bytes a received message may have unless a limit says otherwise
/// (grpc-go's default): 4 MiB.
pub const DEFAULT_MAX_DECODING_MESSAGE_SIZE: usize = 4 * 1024 * 1024;

/// Message size limits for one call, or for every call of one method, that take
/// the place of the client's or server's own where set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallLimits {
    decoding: Option<usize>,
    encoding: Option<usize>,
}

impl CallLimits {
    /// No limits of its own: the client's or server's apply.
    pub fn new() -> Self {
        Self::default()
    }

    /// Received messages may have at most `bytes` bytes (after decompression).
    #[must_use]
    pub fn max_decoding_message_size(self, bytes: usize) -> Self {
        Self {
            decoding: Some(bytes),
            ..self
        }
    }

    /// Sent messages may have at most `bytes` bytes (before compression).
    #[must_use]
    pub fn max_encoding_message_size(self, bytes: usize) -> Self {
        Self {
            encoding: Some(bytes),
            ..self
        }
    }

    /// The receive limit this sets, if any.
    pub fn decoding(&self) -> Option<usize> {
        self.decoding
    }

    /// The send limit this sets, if any.
    pub fn encoding(&self) -> Option<usize> {
        self.encoding
    }

    /// These limits where set, `fallback`'s elsewhere.
    pub(crate) fn or(self, fallback: Self) -> Self {
        Self {
            decoding: self.decoding.or(fallback.decoding),
            encoding: self.encoding.or(fallback.encoding),
        }
    }

    /// The receive limit in force.
    pub(crate) fn decoding_limit(&self) -> usize {
        self.decoding.unwrap_or(DEFAULT_MAX_DECODING_MESSAGE_SIZE)
    }
}

/// The status of a received message whose prefix says it is over its limit.
pub(crate) fn received_too_large(len: usize, limit: usize) -> Status {
    Status::resource_exhausted(format!(
        "received message larger than max ({len} vs. {limit} bytes)"
    ))
}

/// The status of a received message that inflated past its limit.
pub(crate) fn decompressed_too_large(limit: usize) -> Status {
    Status::resource_exhausted(format!(
        "received message larger than max after decompression (over {limit} bytes)"
    ))
}

/// Checks a message of `len` bytes about to be sent against `limit`.
pub(crate) fn check_send(len: usize, limit: Option<usize>) -> Result<(), Status> {
    match limit {
        Some(limit) if len > limit => Err(Status::resource_exhausted(format!(
            "trying to send message larger than max ({len} vs. {limit} bytes)"
        ))),
        _ => Ok(()),
    }
}

/// A response size limit the channel's service config sets for one call;
/// the client's decoder takes the smaller of it and its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MaxResponseBytes(pub(crate) usize);
