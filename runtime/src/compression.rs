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
//! use rust_grpc::compression::{ReceivedCompression, SendCompression};
//! use rust_grpc::{Request, Response, Status};
//!
//! // A unary handler: was the request compressed? Compress the response or not.
//! fn handle(request: Request<String>) -> Result<Response<String>, Status> {
//!     let compressed = request
//!         .extensions()
//!         .get::<ReceivedCompression>()
//!         .and_then(ReceivedCompression::last_message_compressed);
//!     if compressed != Some(true) {
//!         return Err(Status::invalid_argument("send this compressed"));
//!     }
//!     let mut response = Response::new(request.into_inner());
//!     response.extensions_mut().insert(SendCompression::fixed(false));
//!     Ok(response)
//! }
//! ```
//!
//! For a stream of responses, put a [`SendCompression`] in the response and set it
//! as each message is yielded: the setting applies to the messages yielded after it.
//!
//! ```
//! use rust_grpc::compression::SendCompression;
//! use rust_grpc::{BoxStream, Response};
//! use tokio_stream::StreamExt as _;
//!
//! // Compress the first message and not the second.
//! let choice = SendCompression::new();
//! let setter = choice.clone();
//! let messages = tokio_stream::iter([("first", true), ("second", false)]).map(
//!     move |(message, compress)| {
//!         setter.set(compress);
//!         Ok(message.to_owned())
//!     },
//! );
//! let mut response: Response<BoxStream<String>> = Response::new(Box::pin(messages));
//! response.extensions_mut().insert(choice);
//! ```
//!
//! # In a client
//!
//! The same types, the other way round: a [`SendCompression`] goes into the
//! request's extensions (set it as each request message is yielded), and the
//! response's extensions hold a [`ReceivedCompression`] for the response messages.
//! A client compresses only when it was built with `send_compressed(..)`.
//!
//! ```
//! use rust_grpc::compression::SendCompression;
//! use rust_grpc::Request;
//! use tokio_stream::StreamExt as _;
//!
//! let choice = SendCompression::new();
//! let setter = choice.clone();
//! let requests = tokio_stream::iter([("compressed", true), ("plain", false)]).map(
//!     move |(message, compress)| {
//!         setter.set(compress);
//!         message.to_owned()
//!     },
//! );
//! let mut request = Request::new(requests);
//! request.extensions_mut().insert(choice);
//! // client.client_streaming_method(request).await
//! ```

use std::collections::VecDeque;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::task::{Context, Poll, ready};

use bytes::{Buf, Bytes, BytesMut};
use tonic::codec::{DecodeBuf, EnabledCompressionEncodings, EncodeBuf};

use crate::codegen::{BoxBody, Message, StdError};
use crate::{CompressionEncoding, Status, limits};

/// Chooses, message by message, whether the messages a call sends are compressed.
///
/// Insert it into the extensions of the [`Request`](crate::Request) a client sends
/// or of the [`Response`](crate::Response) a handler returns. Each message is
/// compressed according to the setting at the moment it is encoded, which is the
/// moment the message stream yields it: set the choice just before yielding a
/// message (for example in a `map` over the stream, as the [module
/// docs](crate::compression) show). When messages come from a channel, send the
/// choice along with each message and set it on the receiving side.
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
/// The runtime puts one into the extensions of the [`Request`](crate::Request) a
/// handler receives and of the [`Response`](crate::Response) a client receives.
/// Clones share the same record; for a stream, read it after each message.
#[derive(Debug, Clone)]
pub struct ReceivedCompression {
    state: Arc<Received>,
}

#[derive(Debug, Default)]
struct Received {
    /// The call has no encoding, so every message arrives plain: no flags to
    /// queue (a compressed one fails the call).
    plain: AtomicBool,
    /// Flags of messages that arrived but are not decoded yet, oldest first.
    arrived: Mutex<VecDeque<bool>>,
    /// The flag of the message decoded last: `NONE`, `PLAIN_MESSAGE` or
    /// `COMPRESSED_MESSAGE`.
    last: AtomicU8,
}

const NONE: u8 = 0;
const PLAIN_MESSAGE: u8 = 1;
const COMPRESSED_MESSAGE: u8 = 2;

impl ReceivedCompression {
    pub(crate) fn new() -> Self {
        Self {
            state: Arc::default(),
        }
    }

    /// The record of a call without an encoding, whose messages all arrive plain.
    pub(crate) fn plain() -> Self {
        Self {
            state: Arc::new(Received {
                plain: AtomicBool::new(true),
                ..Received::default()
            }),
        }
    }

    /// Whether the message read most recently from this call arrived compressed
    /// (its prefix's compressed flag was set); `None` before the first message.
    ///
    /// For a unary request or response this is the one message.
    pub fn last_message_compressed(&self) -> Option<bool> {
        match self.state.last.load(Ordering::Acquire) {
            PLAIN_MESSAGE => Some(false),
            COMPRESSED_MESSAGE => Some(true),
            _ => None,
        }
    }

    /// The record of a call that received one message, compressed or not.
    pub(crate) fn of_one(compressed: bool) -> Self {
        let received = Self::plain();
        received.set_last(Some(compressed));
        received
    }

    /// Marks the call as one without an encoding, before its first message.
    pub(crate) fn set_plain(&self) {
        self.state.plain.store(true, Ordering::Release);
    }

    fn is_plain(&self) -> bool {
        self.state.plain.load(Ordering::Acquire)
    }

    fn set_last(&self, compressed: Option<bool>) {
        let value = match compressed {
            None => NONE,
            Some(false) => PLAIN_MESSAGE,
            Some(true) => COMPRESSED_MESSAGE,
        };
        self.state.last.store(value, Ordering::Release);
    }

    fn queue(&self) -> std::sync::MutexGuard<'_, VecDeque<bool>> {
        self.state
            .arrived
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// A message with this flag started arriving.
    fn arrived(&self, flag: u8) {
        if !self.is_plain() {
            self.queue().push_back(flag & 1 == 1);
        }
    }

    /// The oldest message that arrived has been decoded.
    fn decoded(&self) {
        if self.is_plain() {
            self.set_last(Some(false));
        } else {
            let next = self.queue().pop_front();
            self.set_last(next);
        }
    }
}

/// The encodings this runtime compresses with itself.
const SUPPORTED: &[CompressionEncoding] = &[
    #[cfg(feature = "gzip")]
    CompressionEncoding::Gzip,
    #[cfg(feature = "zstd")]
    CompressionEncoding::Zstd,
];

/// Whether the runtime can compress messages with `encoding`.
pub(crate) fn supported(encoding: CompressionEncoding) -> bool {
    SUPPORTED.contains(&encoding)
}

/// The encodings of `enabled` the runtime can decompress, for a server's
/// `grpc-encoding` check.
pub(crate) fn accepted(enabled: EnabledCompressionEncodings) -> Vec<CompressionEncoding> {
    SUPPORTED
        .iter()
        .copied()
        .filter(|encoding| enabled.is_enabled(*encoding))
        .collect()
}

/// Decompresses one message compressed with `encoding`; a result over `limit`
/// bytes is refused with RESOURCE_EXHAUSTED before it is all inflated.
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
        _ => {
            let _ = (input, bound, &mut out);
            return Err(Status::unimplemented(format!(
                "rust-grpc cannot decompress {encoding}"
            )));
        }
    }
    if out.len() > limit {
        return Err(Status::resource_exhausted(format!(
            "received message larger than max after decompression (over {limit} bytes)"
        )));
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
        _ => {
            let _ = (input, out);
            Err(std::io::Error::other(format!(
                "rust-grpc cannot compress with {encoding}"
            )))
        }
    }
}

const GRPC_ACCEPT_ENCODING: http::HeaderName =
    http::HeaderName::from_static("grpc-accept-encoding");

/// The encoding a server compresses its responses with: the first one in the
/// client's `grpc-accept-encoding` that the server enabled.
pub(crate) fn negotiate(
    headers: &http::HeaderMap,
    enabled: EnabledCompressionEncodings,
) -> Option<CompressionEncoding> {
    let accepted = headers.get(GRPC_ACCEPT_ENCODING)?.to_str().ok()?;
    accepted.split(',').map(str::trim).find_map(|name| {
        SUPPORTED
            .iter()
            .copied()
            .find(|encoding| encoding.to_string() == name && enabled.is_enabled(*encoding))
    })
}

/// The sending half of one call that has an encoding: what the handler or caller
/// chose, and which encoded messages were compressed, in order, for [`MarkBody`].
#[derive(Debug)]
pub(crate) struct Outgoing {
    encoding: CompressionEncoding,
    choice: OnceLock<SendCompression>,
    compressed: Mutex<VecDeque<bool>>,
}

impl Outgoing {
    pub(crate) fn new(encoding: CompressionEncoding) -> Arc<Self> {
        Arc::new(Self {
            encoding,
            choice: OnceLock::new(),
            compressed: Mutex::default(),
        })
    }

    /// Lets `choice` decide for the messages of this call.
    pub(crate) fn follow(&self, choice: SendCompression) {
        let _ = self.choice.set(choice);
    }

    /// The value of the call's `grpc-encoding` header.
    pub(crate) fn header_value(&self) -> http::HeaderValue {
        http::HeaderValue::try_from(self.encoding.to_string())
            .expect("encoding names are valid header values")
    }

    fn compress_next(&self) -> bool {
        self.choice
            .get()
            .and_then(SendCompression::get)
            .unwrap_or(true)
    }

    fn queue(&self) -> std::sync::MutexGuard<'_, VecDeque<bool>> {
        self.compressed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// The protobuf codec of one call, with per-message compression and a record of
/// which received messages were compressed.
pub(crate) struct Codec<E, D> {
    outgoing: Option<Arc<Outgoing>>,
    received: ReceivedCompression,
    send_limit: Option<usize>,
    oversized: limits::Oversized,
    _messages: PhantomData<fn(E) -> D>,
}

impl<E, D> Codec<E, D> {
    pub(crate) fn new(
        outgoing: Option<Arc<Outgoing>>,
        received: ReceivedCompression,
        send_limit: Option<usize>,
    ) -> Self {
        Self {
            outgoing,
            received,
            send_limit,
            oversized: limits::Oversized::default(),
            _messages: PhantomData,
        }
    }

    /// Where the encoder records a message refused for its size.
    pub(crate) fn oversized(&self) -> limits::Oversized {
        self.oversized.clone()
    }
}

impl<E: Message, D: Message> tonic::codec::Codec for Codec<E, D> {
    type Encode = E;
    type Decode = D;
    type Encoder = Encoder<E>;
    type Decoder = Decoder<D>;

    fn encoder(&mut self) -> Encoder<E> {
        Encoder {
            outgoing: self.outgoing.clone(),
            limit: self.send_limit,
            oversized: self.oversized.clone(),
            scratch: Vec::new(),
            _message: PhantomData,
        }
    }

    fn decoder(&mut self) -> Decoder<D> {
        Decoder {
            received: self.received.clone(),
            _message: PhantomData,
        }
    }
}

/// Encodes messages, compressing those the call chooses to.
pub(crate) struct Encoder<E> {
    outgoing: Option<Arc<Outgoing>>,
    limit: Option<usize>,
    oversized: limits::Oversized,
    scratch: Vec<u8>,
    _message: PhantomData<fn(E)>,
}

impl<E: Message> tonic::codec::Encoder for Encoder<E> {
    type Item = E;
    type Error = Status;

    fn encode(&mut self, item: E, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        let encode_error = |err: prost::EncodeError| Status::internal(format!("encoding: {err}"));
        if let Some(limit) = self.limit {
            let len = item.encoded_len();
            if len > limit {
                // The transport reports encoder errors as INTERNAL; the call's
                // status is fixed up from this record.
                return Err(self.oversized.record(len, limit));
            }
        }
        let Some(outgoing) = &self.outgoing else {
            return item.encode(dst).map_err(encode_error);
        };
        let compressed = outgoing.compress_next();
        if compressed {
            self.scratch.clear();
            item.encode(&mut self.scratch).map_err(encode_error)?;
            compress_into(outgoing.encoding, &self.scratch, dst)
                .map_err(|err| Status::internal(format!("compressing: {err}")))?;
        } else {
            item.encode(dst).map_err(encode_error)?;
        }
        outgoing.queue().push_back(compressed);
        Ok(())
    }
}

/// Decodes messages, recording that one more message was read.
pub(crate) struct Decoder<D> {
    received: ReceivedCompression,
    _message: PhantomData<fn() -> D>,
}

impl<D: Message> tonic::codec::Decoder for Decoder<D> {
    type Item = D;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<D>, Status> {
        self.received.decoded();
        D::decode(src)
            .map(Some)
            .map_err(|err| Status::internal(err.to_string()))
    }
}

/// The decoder of a server's request stream, recording into `received`.
pub(crate) fn decoder<D>(received: ReceivedCompression) -> Decoder<D> {
    Decoder {
        received,
        _message: PhantomData,
    }
}

/// Finds the start of each message in a stream of gRPC-framed bytes
/// (1 flag byte, 4 length bytes, then the message), across chunk boundaries.
#[derive(Debug, Default)]
struct FrameScanner {
    state: Scan,
}

#[derive(Debug, Default, Clone, Copy)]
enum Scan {
    /// The next byte is a message's flag byte.
    #[default]
    Start,
    /// `left` length bytes still to read; `len` holds the ones read so far.
    Length { left: u8, len: u32 },
    /// `left` message bytes still to skip.
    Message { left: u32 },
}

impl FrameScanner {
    /// Calls `on_message(offset, flag)` for every message whose flag byte is in
    /// `chunk`, with the offset of that byte, and `on_length(len)` for every
    /// message whose length prefix ends in `chunk`.
    fn scan(
        &mut self,
        chunk: &[u8],
        mut on_message: impl FnMut(usize, u8),
        mut on_length: impl FnMut(u32),
    ) {
        let mut at = 0;
        while at < chunk.len() {
            self.state = match self.state {
                Scan::Start => {
                    on_message(at, chunk[at]);
                    at += 1;
                    Scan::Length { left: 4, len: 0 }
                }
                Scan::Length { left, len } => {
                    let len = (len << 8) | u32::from(chunk[at]);
                    at += 1;
                    if left == 1 {
                        on_length(len);
                    }
                    match (left, len) {
                        (1, 0) => Scan::Start,
                        (1, len) => Scan::Message { left: len },
                        (left, len) => Scan::Length {
                            left: left - 1,
                            len,
                        },
                    }
                }
                Scan::Message { left } => {
                    let available = u32::try_from(chunk.len() - at).unwrap_or(u32::MAX);
                    let skip = left.min(available);
                    at += skip as usize;
                    match left - skip {
                        0 => Scan::Start,
                        left => Scan::Message { left },
                    }
                }
            };
        }
    }
}

/// An outgoing body that sets the compressed flag of the messages the
/// [`Encoder`] compressed (the transport's framing writes every flag as 0).
pub(crate) struct MarkBody {
    inner: BoxBody,
    scanner: FrameScanner,
    outgoing: Arc<Outgoing>,
}

impl MarkBody {
    pub(crate) fn new(inner: BoxBody, outgoing: Arc<Outgoing>) -> Self {
        Self {
            inner,
            scanner: FrameScanner::default(),
            outgoing,
        }
    }

    fn mark(&mut self, data: Bytes) -> Bytes {
        let mut marked: Option<BytesMut> = None;
        let mut compressed = self.outgoing.queue();
        self.scanner.scan(
            &data,
            |at, _| {
                if compressed.pop_front() == Some(true) {
                    marked.get_or_insert_with(|| BytesMut::from(&data[..]))[at] = 1;
                }
            },
            |_| {},
        );
        marked.map_or(data, BytesMut::freeze)
    }
}

impl http_body::Body for MarkBody {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Status>>> {
        let frame = ready!(Pin::new(&mut self.inner).poll_frame(cx));
        Poll::Ready(frame.map(|frame| {
            frame.map(|frame| match frame.into_data() {
                Ok(data) => http_body::Frame::data(self.mark(data)),
                Err(frame) => frame,
            })
        }))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// An incoming body that records each message's compressed flag in a
/// [`ReceivedCompression`] as the bytes go by, and fails with RESOURCE_EXHAUSTED
/// at the length prefix of a message over the receive limit (before the bytes of
/// that message are read).
pub(crate) struct ScanBody<B> {
    inner: Pin<Box<B>>,
    scanner: FrameScanner,
    received: ReceivedCompression,
    limit: usize,
    failed: bool,
}

impl<B> ScanBody<B> {
    pub(crate) fn new(inner: B, received: ReceivedCompression, limit: usize) -> Self {
        Self {
            inner: Box::pin(inner),
            scanner: FrameScanner::default(),
            received,
            limit,
            failed: false,
        }
    }
}

impl<B> http_body::Body for ScanBody<B>
where
    B: http_body::Body<Error: Into<StdError>>,
{
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Status>>> {
        if self.failed {
            return Poll::Ready(None);
        }
        let frame = match ready!(self.inner.as_mut().poll_frame(cx)) {
            None => return Poll::Ready(None),
            Some(Err(err)) => return Poll::Ready(Some(Err(Status::from_error(err.into())))),
            Some(Ok(frame)) => frame,
        };
        let frame = frame.map_data(|mut data| data.copy_to_bytes(data.remaining()));
        if let Some(data) = frame.data_ref() {
            let this = &mut *self;
            let (received, limit) = (&this.received, this.limit);
            let mut oversized = None;
            this.scanner.scan(
                data,
                |_, flag| received.arrived(flag),
                |len| {
                    let len = len as usize;
                    if len > limit && oversized.is_none() {
                        oversized = Some(len);
                    }
                },
            );
            if let Some(len) = oversized {
                self.failed = true;
                return Poll::Ready(Some(Err(limits::received_too_large(len, limit))));
            }
        }
        Poll::Ready(Some(Ok(frame)))
    }

    fn is_end_stream(&self) -> bool {
        self.failed || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::{FrameScanner, ReceivedCompression, SendCompression};

    /// Two messages: a compressed 3-byte one and a plain empty one, then a plain
    /// 2-byte one.
    const FRAMES: &[u8] = &[1, 0, 0, 0, 3, 7, 7, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 9, 9];

    fn starts(chunks: &[&[u8]]) -> Vec<(usize, usize, u8)> {
        let mut scanner = FrameScanner::default();
        let mut found = Vec::new();
        for (index, chunk) in chunks.iter().enumerate() {
            scanner.scan(chunk, |at, flag| found.push((index, at, flag)), |_| {});
        }
        found
    }

    #[test]
    fn scanner_finds_each_message_in_one_chunk() {
        assert_eq!(starts(&[FRAMES]), [(0, 0, 1), (0, 8, 0), (0, 13, 0)]);
    }

    #[test]
    fn scanner_finds_messages_split_across_chunks() {
        // Split inside a length prefix, inside a message and right before a flag.
        let (a, rest) = FRAMES.split_at(3);
        let (b, rest) = rest.split_at(3);
        let (c, d) = rest.split_at(7);
        assert_eq!(starts(&[a, b, c, d]), [(0, 0, 1), (2, 2, 0), (3, 0, 0)]);
    }

    #[test]
    fn scanner_handles_byte_by_byte_input() {
        let chunks: Vec<&[u8]> = FRAMES.chunks(1).collect();
        let found: Vec<usize> = starts(&chunks).iter().map(|(index, _, _)| *index).collect();
        assert_eq!(found, [0, 8, 13]);
    }

    #[test]
    fn received_reports_the_flag_of_the_message_decoded_last() {
        let received = ReceivedCompression::new();
        assert_eq!(received.last_message_compressed(), None);
        received.arrived(1);
        received.arrived(0);
        received.decoded();
        assert_eq!(received.last_message_compressed(), Some(true));
        received.decoded();
        assert_eq!(received.last_message_compressed(), Some(false));
    }

    #[test]
    fn send_choice_follows_the_call_until_set() {
        let choice = SendCompression::new();
        assert_eq!(choice.get(), None);
        choice.clone().set(false);
        assert_eq!(choice.get(), Some(false));
        assert_eq!(SendCompression::fixed(true).get(), Some(true));
    }
}
