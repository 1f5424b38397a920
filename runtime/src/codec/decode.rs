//! Bytes into messages: one state machine reads prefixes and messages out of
//! a body's chunks, however the chunks split them, checks each message's size
//! against the receive limit before it is buffered and again after it is
//! decompressed. Client and server, unary and streaming, read through it.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Buf as _, Bytes, BytesMut};

use crate::base::body::StdError;
use crate::base::status::{self, Status};
use crate::codec::compression::{self, CompressionEncoding};
use crate::codec::frame::{PREFIX_LEN, Prefix};
use crate::codec::limits;

/// One received message: its bytes, decompressed, and whether it arrived
/// compressed.
#[derive(Debug)]
pub(crate) struct Decoded {
    pub(crate) bytes: Bytes,
    pub(crate) compressed: bool,
}

/// Where the decoder is in the byte stream.
#[derive(Debug, Clone, Copy)]
enum State {
    /// Waiting for a prefix.
    Prefix,
    /// Waiting for the rest of a message whose prefix was read.
    Message(Prefix),
}

/// The decoder of one call's received bytes.
#[derive(Debug)]
pub(crate) struct Decoder {
    state: State,
    /// Received bytes not decoded yet, as they came: the common case, a chunk
    /// holding whole messages, is sliced and never copied.
    chunk: Bytes,
    /// Received bytes not decoded yet, joined because a message spans chunks.
    /// At most one of `chunk` and `joined` holds bytes.
    joined: BytesMut,
    /// The encoding of compressed messages (`grpc-encoding`), if any.
    encoding: Option<CompressionEncoding>,
    limit: usize,
}

impl Decoder {
    pub(crate) fn new(encoding: Option<CompressionEncoding>, limit: usize) -> Self {
        Self {
            state: State::Prefix,
            chunk: Bytes::new(),
            joined: BytesMut::new(),
            encoding,
            limit,
        }
    }

    /// Adds received bytes.
    #[inline]
    pub(crate) fn push(&mut self, bytes: Bytes) {
        if bytes.is_empty() {
            return;
        }
        if self.joined.is_empty() && self.chunk.is_empty() {
            self.chunk = bytes;
            return;
        }
        if !self.chunk.is_empty() {
            let chunk = std::mem::take(&mut self.chunk);
            self.joined.extend_from_slice(&chunk);
        }
        if let State::Message(prefix) = self.state {
            // Room for the whole message at once, not doubling as it arrives.
            self.joined
                .reserve(prefix.len.saturating_sub(self.joined.len()));
        }
        self.joined.extend_from_slice(&bytes);
    }

    fn buffered(&self) -> usize {
        self.chunk.len() + self.joined.len()
    }

    fn take(&mut self, n: usize) -> Bytes {
        if self.joined.is_empty() {
            self.chunk.split_to(n)
        } else {
            self.joined.split_to(n).freeze()
        }
    }

    /// The next whole message, if it has arrived.
    ///
    /// # Errors
    ///
    /// A bad prefix or a compressed message without an encoding is INTERNAL; a
    /// message over the limit is RESOURCE_EXHAUSTED.
    #[inline]
    pub(crate) fn next(&mut self) -> Result<Option<Decoded>, Status> {
        if matches!(self.state, State::Prefix) && self.chunk.is_empty() && self.joined.is_empty() {
            return Ok(None);
        }
        self.next_buffered()
    }

    fn next_buffered(&mut self) -> Result<Option<Decoded>, Status> {
        if let State::Prefix = self.state {
            let buffered = if self.joined.is_empty() {
                &self.chunk[..]
            } else {
                &self.joined[..]
            };
            let Some(&[flag, a, b, c, d]) = buffered.first_chunk::<PREFIX_LEN>() else {
                return Ok(None);
            };
            if self.joined.is_empty() {
                self.chunk.advance(PREFIX_LEN);
            } else {
                self.joined.advance(PREFIX_LEN);
            }
            let prefix = Prefix::parse([flag, a, b, c, d])?;
            if prefix.len > self.limit {
                return Err(limits::received_too_large(prefix.len, self.limit));
            }
            if prefix.compressed && self.encoding.is_none() {
                return Err(Status::internal(
                    "protocol error: a message is marked compressed but the call names no grpc-encoding",
                ));
            }
            self.state = State::Message(prefix);
        }
        let State::Message(prefix) = self.state else {
            unreachable!("the prefix was read above")
        };
        if self.buffered() < prefix.len {
            return Ok(None);
        }
        self.state = State::Prefix;
        let bytes = self.take(prefix.len);
        let bytes = match (prefix.compressed, self.encoding) {
            (true, Some(encoding)) => compression::decompress(encoding, &bytes, self.limit)?,
            _ => bytes,
        };
        Ok(Some(Decoded {
            bytes,
            compressed: prefix.compressed,
        }))
    }

    /// Whether bytes of an unfinished message are buffered, which at the end of
    /// the body is an error.
    pub(crate) fn is_partial(&self) -> bool {
        matches!(self.state, State::Message(_)) || self.buffered() > 0
    }
}

/// The status of a body that ended in the middle of a message.
pub(crate) fn truncated() -> Status {
    Status::internal("protocol error: the stream ended in the middle of a message")
}

/// A body of gRPC frames, read message by message.
pub(crate) struct BodyDecoder<B> {
    body: B,
    decoder: Decoder,
    /// The body's trailers, once they came (boxed: a server's unary read,
    /// which never has them, keeps its future small).
    trailers: Option<Box<http::HeaderMap>>,
    /// The body ended (or failed); nothing more will come from it.
    done: bool,
}

impl<B> BodyDecoder<B>
where
    B: http_body::Body<Error: Into<StdError>> + Unpin,
{
    pub(crate) fn new(body: B, decoder: Decoder) -> Self {
        Self {
            body,
            decoder,
            trailers: None,
            done: false,
        }
    }

    /// Takes `headers` (a response head with a grpc-status) as the trailers
    /// if the body ends with no data and no trailers: a Trailers-Only answer
    /// whose server sent an empty DATA frame to end the stream.
    pub(crate) fn fallback_trailers(&mut self, headers: http::HeaderMap) {
        self.trailers = Some(Box::new(headers));
    }

    /// The next message, or `None` at the end of the body.
    pub(crate) fn poll_message(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Option<Decoded>, Status>> {
        loop {
            if let Some(message) = self.decoder.next()? {
                return Poll::Ready(Ok(Some(message)));
            }
            if self.done {
                if self.decoder.is_partial() {
                    return Poll::Ready(Err(truncated()));
                }
                return Poll::Ready(Ok(None));
            }
            match ready!(Pin::new(&mut self.body).poll_frame(cx)) {
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(mut data) => {
                        if data.has_remaining() {
                            // Data came: only real trailers end this body.
                            self.trailers = None;
                        }
                        let bytes = data.copy_to_bytes(data.remaining());
                        self.decoder.push(bytes);
                    }
                    Err(frame) => {
                        if let Ok(trailers) = frame.into_trailers() {
                            self.trailers = Some(Box::new(trailers));
                            self.done = true;
                        }
                    }
                },
                Some(Err(err)) => {
                    self.done = true;
                    return Poll::Ready(Err(status::from_error(err)));
                }
                None => self.done = true,
            }
        }
    }

    /// The trailers, once the body ended with them.
    pub(crate) fn take_trailers(&mut self) -> Option<http::HeaderMap> {
        self.trailers.take().map(|trailers| *trailers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::status::Code;

    fn framed(flag: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![flag];
        out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        out.extend_from_slice(payload);
        out
    }

    /// Decodes `bytes` fed in chunks of `size`.
    fn decode_in_chunks(bytes: &[u8], size: usize) -> Result<Vec<Bytes>, Status> {
        let mut decoder = Decoder::new(None, 1024);
        let mut out = Vec::new();
        for chunk in bytes.chunks(size) {
            decoder.push(Bytes::copy_from_slice(chunk));
            while let Some(message) = decoder.next()? {
                out.push(message.bytes);
            }
        }
        if decoder.is_partial() {
            return Err(truncated());
        }
        Ok(out)
    }

    #[test]
    fn messages_split_anywhere_decode_the_same() {
        let mut bytes = framed(0, b"hello");
        bytes.extend(framed(0, b""));
        bytes.extend(framed(0, &[9; 300]));
        for size in [1, 2, 4, 5, 6, 7, 64, 1000] {
            let messages = decode_in_chunks(&bytes, size).unwrap();
            assert_eq!(messages.len(), 3, "chunks of {size}");
            assert_eq!(&messages[0][..], b"hello");
            assert!(messages[1].is_empty());
            assert_eq!(&messages[2][..], &[9; 300][..]);
        }
    }

    #[test]
    fn a_message_in_one_chunk_is_not_copied() {
        let bytes = Bytes::from(framed(0, b"hello"));
        let start = bytes.as_ptr() as usize;
        let mut decoder = Decoder::new(None, 1024);
        decoder.push(bytes);
        let message = decoder.next().unwrap().unwrap();
        assert_eq!(message.bytes.as_ptr() as usize, start + 5);
    }

    #[test]
    fn a_prefix_over_the_limit_is_refused_before_the_message_arrives() {
        let mut decoder = Decoder::new(None, 1024);
        decoder.push(Bytes::from_static(&[0, 0xFF, 0xFF, 0xFF, 0xFF]));
        let status = decoder.next().unwrap_err();
        assert_eq!(status.code(), Code::ResourceExhausted);
    }

    #[test]
    fn a_compressed_message_without_an_encoding_is_internal() {
        let mut decoder = Decoder::new(None, 1024);
        decoder.push(Bytes::from(framed(1, b"x")));
        assert_eq!(decoder.next().unwrap_err().code(), Code::Internal);
    }

    #[test]
    fn a_bad_flag_is_internal() {
        assert_eq!(
            decode_in_chunks(&framed(7, b"x"), 100).unwrap_err().code(),
            Code::Internal
        );
    }

    #[test]
    fn a_body_that_stops_mid_message_is_truncated() {
        let bytes = framed(0, b"hello");
        for cut in 1..bytes.len() {
            let status = decode_in_chunks(&bytes[..cut], 100).unwrap_err();
            assert_eq!(status.code(), Code::Internal, "cut at {cut}");
        }
    }

    #[test]
    fn a_compressed_message_is_inflated_and_checked_again() {
        let mut compressed = Vec::new();
        compression::compress_into(CompressionEncoding::Gzip, &[3; 5000], &mut compressed).unwrap();
        let mut decoder = Decoder::new(Some(CompressionEncoding::Gzip), 5000);
        decoder.push(Bytes::from(framed(1, &compressed)));
        let message = decoder.next().unwrap().unwrap();
        assert!(message.compressed);
        assert_eq!(message.bytes.len(), 5000);

        let mut decoder = Decoder::new(Some(CompressionEncoding::Gzip), 4999);
        decoder.push(Bytes::from(framed(1, &compressed)));
        assert_eq!(decoder.next().unwrap_err().code(), Code::ResourceExhausted);
    }
}
