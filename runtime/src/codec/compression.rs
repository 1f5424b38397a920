//! Per-message compression: see which received messages arrived compressed, and
//! choose message by message whether to compress the ones you send.
//!
//! gRPC compresses message by message. A call names one encoding (`grpc-encoding`,
//! such as `gzip`), and the 5-byte prefix of every message carries a flag saying
//! whether that message is compressed with it. A client built with
//! `send_compressed(..)`, and a server built with `send_compressed(..)` answering a
//! client that accepts that encoding, compress every message they send unless a
//! call says otherwise with a [`SendCompression`]. Every call also records, in a
//! [`ReceivedCompression`], whether the messages it read arrived compressed.
//!
//! The runtime compresses with gzip (crate feature `gzip`, on by default) and zstd
//! (feature `zstd`).
//!
//! # In a server
//!
//! ```
//! use rust_grpc::compression::SendCompression;
//! use rust_grpc::{Request, RequestExt as _, Response, ResponseExt as _, Status};
//!
//! // A unary handler: was the request compressed? Compress the response or not.
//! fn handle(request: Request<String>) -> Result<Response<String>, Status> {
//!     if request.last_message_compressed() != Some(true) {
//!         return Err(Status::invalid_argument("send this compressed"));
//!     }
//!     let mut response = Response::new(request.into_inner());
//!     response.set_send_compression(SendCompression::fixed(false));
//!     Ok(response)
//! }
//! ```
//!
//! For a stream of responses, give the response a [`SendCompression`] and set it
//! as each message is yielded: the setting applies to the messages yielded after it.
//!
//! ```
//! use rust_grpc::compression::SendCompression;
//! use rust_grpc::{BoxStream, Response, ResponseExt as _, stream};
//!
//! // Compress the first message and not the second.
//! let choice = SendCompression::new();
//! let setter = choice.clone();
//! // The iterator's `map` runs as the stream yields each message.
//! let messages = [("first", true), ("second", false)]
//!     .into_iter()
//!     .map(move |(message, compress)| {
//!         setter.set(compress);
//!         message.to_owned()
//!     });
//! let mut response: Response<BoxStream<String>> =
//!     Response::new(stream::boxed(stream::iter(messages)));
//! response.set_send_compression(choice);
//! ```
//!
//! # In a client
//!
//! The same types, the other way round: a request takes a [`SendCompression`] (set
//! it as each request message is yielded), and a response tells whether its
//! messages arrived compressed. A client compresses only when it was built with
//! `send_compressed(..)`.
//!
//! ```
//! use rust_grpc::compression::SendCompression;
//! use rust_grpc::{Request, RequestExt as _, stream};
//!
//! let choice = SendCompression::new();
//! let setter = choice.clone();
//! let requests = [("compressed", true), ("plain", false)]
//!     .into_iter()
//!     .map(move |(message, compress)| {
//!         setter.set(compress);
//!         message.to_owned()
//!     });
//! let mut request = Request::new(stream::iter(requests));
//! request.set_send_compression(choice);
//! // client.client_streaming_method(request).await
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use bytes::Bytes;

use crate::base::status::Status;
use crate::codec::limits;

/// A compression encoding of gRPC messages, as named in `grpc-encoding`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CompressionEncoding {
    /// `gzip` (crate feature `gzip`, on by default).
    Gzip,
    /// `zstd` (crate feature `zstd`).
    Zstd,
}

impl CompressionEncoding {
    /// The encoding's name in `grpc-encoding` and `grpc-accept-encoding`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Gzip => "gzip",
            Self::Zstd => "zstd",
        }
    }

    /// Whether this build of the runtime can compress and decompress it.
    pub fn is_supported(self) -> bool {
        SUPPORTED.contains(&self)
    }

    /// The supported encoding called `name`.
    pub(crate) fn from_name(name: &[u8]) -> Option<Self> {
        SUPPORTED
            .iter()
            .copied()
            .find(|encoding| encoding.as_str().as_bytes() == name)
    }

    pub(crate) fn header_value(self) -> http::HeaderValue {
        http::HeaderValue::from_static(self.as_str())
    }

    const fn bit(self) -> u8 {
        match self {
            Self::Gzip => 1,
            Self::Zstd => 2,
        }
    }
}

impl std::fmt::Display for CompressionEncoding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The encodings this runtime compresses with itself, in order of preference.
const SUPPORTED: &[CompressionEncoding] = &[
    #[cfg(feature = "gzip")]
    CompressionEncoding::Gzip,
    #[cfg(feature = "zstd")]
    CompressionEncoding::Zstd,
];

/// A set of encodings a client or server has enabled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Encodings(u8);

impl Encodings {
    /// Adds `encoding` if this build supports it.
    pub(crate) fn enable(&mut self, encoding: CompressionEncoding) {
        if encoding.is_supported() {
            self.0 |= encoding.bit();
        }
    }

    pub(crate) fn is_enabled(self, encoding: CompressionEncoding) -> bool {
        self.0 & encoding.bit() != 0
    }

    /// The enabled encodings, in order of preference.
    pub(crate) fn iter(self) -> impl Iterator<Item = CompressionEncoding> {
        SUPPORTED
            .iter()
            .copied()
            .filter(move |encoding| self.is_enabled(*encoding))
    }

    /// The `grpc-accept-encoding` value that lists them, if any.
    pub(crate) fn header_value(self) -> Option<http::HeaderValue> {
        let names: Vec<&str> = self.iter().map(CompressionEncoding::as_str).collect();
        if names.is_empty() {
            return None;
        }
        http::HeaderValue::try_from(names.join(",")).ok()
    }

    /// The first encoding of a `grpc-accept-encoding` value that is enabled here.
    pub(crate) fn negotiate(self, accepted: &http::HeaderValue) -> Option<CompressionEncoding> {
        let accepted = accepted.to_str().ok()?;
        accepted.split(',').map(str::trim).find_map(|name| {
            CompressionEncoding::from_name(name.as_bytes())
                .filter(|encoding| self.is_enabled(*encoding))
        })
    }
}

/// Chooses, message by message, whether the messages a call sends are compressed.
///
/// Give it to the [`Request`](crate::Request) a client sends or to the
/// [`Response`](crate::Response) a handler returns, with
/// [`RequestExt::set_send_compression`](crate::RequestExt::set_send_compression) or
/// [`ResponseExt::set_send_compression`](crate::ResponseExt::set_send_compression).
/// Each message is compressed according to the setting at the moment it is
/// encoded, which is the moment the message stream yields it: set the choice just
/// before yielding a message (for example in a `map` over the stream, as the
/// [module docs](crate::compression) show). When messages come from a channel, send
/// the choice along with each message and set it on the receiving side.
///
/// A message is compressed only when the call has an encoding: the client was
/// built with `send_compressed(..)`, or the server was and the client accepts that
/// encoding. Until [`set`](Self::set) is called, messages follow that setting.
/// Clones share one setting.
#[derive(Debug, Clone, Default)]
pub struct SendCompression {
    choice: Arc<AtomicU8>,
}

// The choice is 0 while it follows the call's setting.
const PLAIN: u8 = 1;
const COMPRESS: u8 = 2;

impl SendCompression {
    /// A choice that follows the call's setting until [`set`](Self::set).
    pub fn new() -> Self {
        Self::default()
    }

    /// A choice set to `compress`, for a call whose messages are all treated alike
    /// (a unary response, for example).
    pub fn fixed(compress: bool) -> Self {
        let choice = Self::new();
        choice.set(compress);
        choice
    }

    /// Compresses (`true`) or does not compress (`false`) the messages encoded from
    /// now on.
    pub fn set(&self, compress: bool) {
        let value = if compress { COMPRESS } else { PLAIN };
        self.choice.store(value, Ordering::Release);
    }

    /// The current choice; `None` while it follows the call's setting.
    pub fn get(&self) -> Option<bool> {
        match self.choice.load(Ordering::Acquire) {
            PLAIN => Some(false),
            COMPRESS => Some(true),
            _ => None,
        }
    }
}

/// Whether the messages a call received arrived compressed.
///
/// The runtime gives one to the [`Request`](crate::Request) a handler receives and
/// to the [`Response`](crate::Response) a client receives; read it with
/// [`RequestExt::last_message_compressed`](crate::RequestExt::last_message_compressed)
/// or [`ResponseExt::last_message_compressed`](crate::ResponseExt::last_message_compressed).
/// Clones share the same record; for a stream, read it after each message.
#[derive(Debug, Clone)]
pub struct ReceivedCompression {
    last: Last,
}

#[derive(Debug, Clone)]
enum Last {
    /// A call that received one message: nothing to share, nothing to allocate.
    One(bool),
    /// A stream: the flag of the message decoded last, `NONE`, `PLAIN_MESSAGE`
    /// or `COMPRESSED_MESSAGE`.
    Stream(Arc<AtomicU8>),
}

impl Default for ReceivedCompression {
    fn default() -> Self {
        Self {
            last: Last::Stream(Arc::default()),
        }
    }
}

const PLAIN_MESSAGE: u8 = 1;
const COMPRESSED_MESSAGE: u8 = 2;

impl ReceivedCompression {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Whether the message read most recently from this call arrived compressed
    /// (its prefix's compressed flag was set); `None` before the first message.
    ///
    /// For a unary request or response this is the one message.
    pub fn last_message_compressed(&self) -> Option<bool> {
        match &self.last {
            Last::One(compressed) => Some(*compressed),
            Last::Stream(last) => match last.load(Ordering::Acquire) {
                PLAIN_MESSAGE => Some(false),
                COMPRESSED_MESSAGE => Some(true),
                _ => None,
            },
        }
    }

    /// The record of a call that received one message, compressed or not.
    pub(crate) fn of_one(compressed: bool) -> Self {
        Self {
            last: Last::One(compressed),
        }
    }

    /// A message that arrived compressed or plain has been decoded.
    pub(crate) fn decoded(&self, compressed: bool) {
        let Last::Stream(last) = &self.last else {
            return;
        };
        let value = if compressed {
            COMPRESSED_MESSAGE
        } else {
            PLAIN_MESSAGE
        };
        // Most streams never change; a load spares the cache line a write.
        if last.load(Ordering::Relaxed) != value {
            last.store(value, Ordering::Release);
        }
    }
}

/// Decompresses one message compressed with `encoding`; a result over `limit`
/// bytes is refused with RESOURCE_EXHAUSTED before it is all inflated.
#[cfg_attr(
    not(any(feature = "gzip", feature = "zstd")),
    allow(unreachable_code, unused_imports)
)]
pub(crate) fn decompress(
    encoding: CompressionEncoding,
    input: &[u8],
    limit: usize,
) -> Result<Bytes, Status> {
    use std::io::Read as _;
    let bad = |err: std::io::Error| {
        Status::internal(format!("decompressing a {encoding} message: {err}"))
    };
    let bound = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    let mut out = Vec::new();
    match encoding {
        #[cfg(feature = "gzip")]
        CompressionEncoding::Gzip => {
            flate2::read::GzDecoder::new(input)
                .take(bound)
                .read_to_end(&mut out)
                .map_err(bad)?;
        }
        #[cfg(feature = "zstd")]
        CompressionEncoding::Zstd => {
            zstd::stream::read::Decoder::new(input)
                .map_err(bad)?
                .take(bound)
                .read_to_end(&mut out)
                .map_err(bad)?;
        }
        #[allow(unreachable_patterns)]
        _ => {
            let _ = (input, bound, &mut out, bad);
            return Err(Status::unimplemented(format!(
                "rust-grpc cannot decompress {encoding}"
            )));
        }
    }
    if out.len() > limit {
        return Err(limits::decompressed_too_large(limit));
    }
    Ok(Bytes::from(out))
}

/// Compresses `input` with `encoding`, appending to `out`.
pub(crate) fn compress_into(
    encoding: CompressionEncoding,
    input: &[u8],
    out: impl bytes::BufMut,
) -> std::io::Result<()> {
    match encoding {
        #[cfg(feature = "gzip")]
        CompressionEncoding::Gzip => {
            use std::io::Write as _;
            let mut gzip = flate2::write::GzEncoder::new(
                bytes::BufMut::writer(out),
                flate2::Compression::new(6),
            );
            gzip.write_all(input)?;
            gzip.finish().map(drop)
        }
        #[cfg(feature = "zstd")]
        CompressionEncoding::Zstd => zstd::stream::copy_encode(
            input,
            bytes::BufMut::writer(out),
            zstd::DEFAULT_COMPRESSION_LEVEL,
        ),
        #[allow(unreachable_patterns)]
        _ => {
            let _ = (input, out);
            Err(std::io::Error::other(format!(
                "rust-grpc cannot compress with {encoding}"
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_over_the_limit_after_inflating_is_resource_exhausted() {
        let mut compressed = Vec::new();
        compress_into(CompressionEncoding::Gzip, &[0; 10_000], &mut compressed).unwrap();
        assert!(compressed.len() < 1000);
        let status = decompress(CompressionEncoding::Gzip, &compressed, 1000).unwrap_err();
        assert_eq!(status.code(), crate::base::status::Code::ResourceExhausted);
        let plain = decompress(CompressionEncoding::Gzip, &compressed, 10_000).unwrap();
        assert_eq!(plain.len(), 10_000);
    }

    #[test]
    fn negotiation_takes_the_peers_first_enabled_choice() {
        let mut enabled = Encodings::default();
        assert_eq!(enabled.header_value(), None);
        enabled.enable(CompressionEncoding::Gzip);
        let pick = |value: &'static str| enabled.negotiate(&http::HeaderValue::from_static(value));
        assert_eq!(pick("gzip"), Some(CompressionEncoding::Gzip));
        assert_eq!(pick("br, gzip"), Some(CompressionEncoding::Gzip));
        assert_eq!(pick("identity"), None);
        assert_eq!(enabled.header_value().unwrap(), "gzip");
    }

    #[test]
    fn received_compression_records_the_last_message() {
        let received = ReceivedCompression::new();
        assert_eq!(received.last_message_compressed(), None);
        received.decoded(true);
        assert_eq!(received.last_message_compressed(), Some(true));
        received.decoded(false);
        assert_eq!(received.last_message_compressed(), Some(false));
    }
}
