//! Per-call settings, set with methods on requests and responses and read by
//! the codec and the call engines: send compression, message size limits,
//! trailers, and the record of which received messages were compressed.

use crate::base::call::{Request, Response};
use crate::base::cancel::CancelHandle;
use crate::base::metadata::{MetadataMap, ReceivedTrailers, Trailers};
use crate::codec::compression::{ReceivedCompression, SendCompression};
use crate::codec::limits::CallLimits;

/// Per-call settings and facts on a [`Request`]: what a client sets for one call,
/// and what a handler reads about the request it received.
///
/// ```
/// use rust_grpc::compression::SendCompression;
/// use rust_grpc::{Request, RequestExt as _};
///
/// let mut request = Request::new(());
/// request.set_send_compression(SendCompression::fixed(false));
/// request.set_max_decoding_message_size(16 << 20);
/// ```
pub trait RequestExt {
    /// Chooses, message by message, whether this call's request messages are
    /// compressed (a client built with `send_compressed(..)` compresses all of
    /// them otherwise).
    fn set_send_compression(&mut self, choice: SendCompression);

    /// Limits the size of a response message of this call (after decompression),
    /// in place of the client's limit.
    fn set_max_decoding_message_size(&mut self, limit: usize);

    /// Limits the size of a request message of this call, in place of the
    /// client's limit.
    fn set_max_encoding_message_size(&mut self, limit: usize);

    /// On a server: whether the request message read last arrived compressed;
    /// `None` before the first one.
    fn last_message_compressed(&self) -> Option<bool>;

    /// On a client: a handle that cancels this call from elsewhere (grpc-go's
    /// context cancel). tonic's `Request::cancellation_handle` is not honoured by
    /// rust-grpc's client; a call that carries one fails and says to use this.
    fn cancel_handle(&mut self) -> CancelHandle;

    /// On a client: whether this call waits for the channel to be READY
    /// (until its deadline) instead of failing fast with UNAVAILABLE while the
    /// channel cannot connect (grpc-go's `WaitForReady`). Overrides the
    /// service config's `waitForReady`.
    fn set_wait_for_ready(&mut self, wait: bool);
}

/// A call's wait-for-ready choice, carried to the channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WaitForReady(pub(crate) bool);

impl<T> RequestExt for Request<T> {
    fn set_send_compression(&mut self, choice: SendCompression) {
        self.extensions_mut().insert(choice);
    }

    fn set_max_decoding_message_size(&mut self, limit: usize) {
        let limits = call_limits(self.extensions_mut());
        *limits = limits.max_decoding_message_size(limit);
    }

    fn set_max_encoding_message_size(&mut self, limit: usize) {
        let limits = call_limits(self.extensions_mut());
        *limits = limits.max_encoding_message_size(limit);
    }

    fn last_message_compressed(&self) -> Option<bool> {
        self.extensions()
            .get::<ReceivedCompression>()
            .and_then(ReceivedCompression::last_message_compressed)
    }

    fn cancel_handle(&mut self) -> CancelHandle {
        self.extensions_mut()
            .get_or_insert_default::<CancelHandle>()
            .clone()
    }

    fn set_wait_for_ready(&mut self, wait: bool) {
        self.extensions_mut().insert(WaitForReady(wait));
    }
}

fn call_limits(extensions: &mut http::Extensions) -> &mut CallLimits {
    extensions.get_or_insert_default::<CallLimits>()
}

/// Per-call settings and facts on a [`Response`]: what a handler sets for the
/// response it returns, and what a client reads about the response it received.
///
/// ```
/// use rust_grpc::ResponseExt as _;
///
/// let mut response = rust_grpc::Response::new(());
/// response.trailers_mut().insert("x-cost", "3".parse().unwrap());
/// ```
pub trait ResponseExt {
    /// Trailing metadata that a handler sends when its call ends, also when it
    /// ends OK (grpc-go's `SetTrailer`). A failed call carries its trailers in
    /// its [`Status`](crate::Status).
    fn trailers_mut(&mut self) -> &mut MetadataMap;

    /// On a client: the trailers of a unary or client-streaming call that
    /// ended OK, as received (`grpc-status` too), apart from its headers; they
    /// are also in its metadata, as tonic merges them. `None` on a server.
    fn trailers(&self) -> Option<&MetadataMap>;

    /// Chooses, message by message, whether this call's response messages are
    /// compressed (a server built with `send_compressed(..)` compresses all of
    /// them for a client that accepts the encoding otherwise).
    fn set_send_compression(&mut self, choice: SendCompression);

    /// On a client: whether the response message read last arrived compressed;
    /// `None` before the first one.
    fn last_message_compressed(&self) -> Option<bool>;
}

impl<T> ResponseExt for Response<T> {
    fn trailers_mut(&mut self) -> &mut MetadataMap {
        &mut self.extensions_mut().get_or_insert_default::<Trailers>().0
    }

    fn trailers(&self) -> Option<&MetadataMap> {
        self.extensions()
            .get::<ReceivedTrailers>()
            .map(|ReceivedTrailers(trailers)| trailers)
    }

    fn set_send_compression(&mut self, choice: SendCompression) {
        self.extensions_mut().insert(choice);
    }

    fn last_message_compressed(&self) -> Option<bool> {
        self.extensions()
            .get::<ReceivedCompression>()
            .and_then(ReceivedCompression::last_message_compressed)
    }
}
