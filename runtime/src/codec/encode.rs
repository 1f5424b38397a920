//! Messages into frames: each message is checked against the send limit, then
//! compressed or not as the call chooses at that moment, behind its prefix.
//! Streams of messages are gathered into DATA frames of up to [`GATHER`] bytes
//! while the source has them ready.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{BufMut as _, Bytes, BytesMut};

use crate::base::body::Message;
use crate::base::status::Status;
use crate::codec::compression::{self, CompressionEncoding, SendCompression};
use crate::codec::frame::{PREFIX_LEN, Prefix};
use crate::codec::limits;

/// Messages are gathered into one DATA frame up to about this many bytes while
/// the stream has them ready.
pub(crate) const GATHER: usize = 32 * 1024;

/// A stream keeps a second allocation for its frames only up to this size, so
/// an idle stream that once sent a large message does not hold it twice.
const SPARE_MAX: usize = 2 * GATHER;

/// How one call encodes the messages it sends.
#[derive(Debug, Clone, Default)]
pub(crate) struct Encoder {
    /// The call's encoding (`grpc-encoding`), if it compresses.
    encoding: Option<CompressionEncoding>,
    /// The caller's or handler's message-by-message choice.
    choice: Option<SendCompression>,
    limit: Option<usize>,
}

impl Encoder {
    pub(crate) fn new(
        encoding: Option<CompressionEncoding>,
        choice: Option<SendCompression>,
        limit: Option<usize>,
    ) -> Self {
        Self {
            encoding,
            choice,
            limit,
        }
    }

    /// The encoding the next message is compressed with, if it is.
    fn next_encoding(&self) -> Option<CompressionEncoding> {
        let encoding = self.encoding?;
        match &self.choice {
            Some(choice) if choice.get() == Some(false) => None,
            _ => Some(encoding),
        }
    }

    /// Appends `message`, prefixed, to `buf`.
    pub(crate) fn encode<M: Message>(&self, message: &M, buf: &mut BytesMut) -> Result<(), Status> {
        self.encode_sized(message, message.encoded_len(), buf)
    }

    /// Like [`encode`](Self::encode); `len` is the message's encoded length.
    fn encode_sized<M: Message>(
        &self,
        message: &M,
        len: usize,
        buf: &mut BytesMut,
    ) -> Result<(), Status> {
        limits::check_send(len, self.limit)?;
        let encoding_error = |err: prost::EncodeError| Status::internal(format!("encoding: {err}"));
        match self.next_encoding() {
            None => {
                let prefix = Prefix {
                    compressed: false,
                    len,
                };
                let prefix = prefix.to_bytes()?;
                buf.reserve(PREFIX_LEN + len);
                buf.put_slice(&prefix);
                message.encode(buf).map_err(encoding_error)
            }
            Some(encoding) => {
                let plain = message.encode_to_vec();
                let start = buf.len();
                buf.put_bytes(0, PREFIX_LEN);
                compression::compress_into(encoding, &plain, &mut *buf)
                    .map_err(|err| Status::internal(format!("compressing: {err}")))?;
                let prefix = Prefix {
                    compressed: true,
                    len: buf.len() - start - PREFIX_LEN,
                };
                let prefix = prefix.to_bytes().inspect_err(|_| buf.truncate(start))?;
                buf[start..start + PREFIX_LEN].copy_from_slice(&prefix);
                Ok(())
            }
        }
    }

    /// One message, prefixed, as the whole of a body's data.
    pub(crate) fn encode_one<M: Message>(&self, message: &M) -> Result<Bytes, Status> {
        let mut buf = BytesMut::new();
        self.encode(message, &mut buf)?;
        Ok(buf.freeze())
    }
}

/// A stream of messages encoded into gathered frames.
pub(crate) struct EncodeStream<S, M> {
    messages: S,
    encoder: Encoder,
    /// Where frames are encoded; its space is reused once h2 has sent a frame.
    buf: BytesMut,
    /// The allocation of the frame before, for when h2 still holds the last.
    spare: BytesMut,
    /// The length of the last frame.
    sent: usize,
    /// A message taken from the stream that did not fit in the last frame.
    next: Option<M>,
    /// How the messages ended, kept while the frame before it goes out.
    ended: Option<Encoded>,
}

impl<S, M> EncodeStream<S, M> {
    pub(crate) fn new(messages: S, encoder: Encoder) -> Self {
        Self {
            messages,
            encoder,
            buf: BytesMut::new(),
            spare: BytesMut::new(),
            sent: 0,
            next: None,
            ended: None,
        }
    }
}

// Nothing in it is pinned structurally: `messages` is Unpin, `next` only moved.
impl<S: Unpin, M> Unpin for EncodeStream<S, M> {}

/// What [`EncodeStream::poll_data`] found.
#[derive(Debug)]
pub(crate) enum Encoded {
    /// Frames to send.
    Data(Bytes),
    /// The messages ended.
    End,
    /// The stream yielded an error, or a message could not be encoded.
    Error(Status),
}

impl<S, M> EncodeStream<S, M>
where
    S: futures_core::Stream<Item = Result<M, Status>> + Unpin,
    M: Message,
{
    /// Gathers the messages ready now into one frame. `Pending` only when none
    /// is ready; messages encoded before an end or error are sent first, and the
    /// end or error comes at the next poll. Not polled again after an end or
    /// error.
    pub(crate) fn poll_data(&mut self, cx: &mut Context<'_>) -> Poll<Encoded> {
        if let Some(ended) = self.ended.take() {
            return Poll::Ready(ended);
        }
        loop {
            let polled = match self.next.take() {
                Some(message) => Poll::Ready(Some(Ok(message))),
                None => Pin::new(&mut self.messages).poll_next(cx),
            };
            match polled {
                Poll::Ready(Some(Ok(message))) => {
                    let len = message.encoded_len();
                    // A message that would take the frame past GATHER starts the
                    // next one, so a large message is never copied to grow a buffer.
                    if !self.buf.is_empty() && self.buf.len() + PREFIX_LEN + len > GATHER {
                        self.next = Some(message);
                        break;
                    }
                    if self.buf.is_empty() {
                        self.make_room(PREFIX_LEN + len);
                    }
                    if let Err(status) = self.encoder.encode_sized(&message, len, &mut self.buf) {
                        self.ended = Some(Encoded::Error(status));
                        break;
                    }
                    if self.buf.len() >= GATHER {
                        break;
                    }
                }
                Poll::Ready(Some(Err(status))) => {
                    self.ended = Some(Encoded::Error(status));
                    break;
                }
                Poll::Ready(None) => {
                    self.ended = Some(Encoded::End);
                    break;
                }
                Poll::Pending if self.buf.is_empty() => return Poll::Pending,
                Poll::Pending => break,
            }
        }
        if self.buf.is_empty() {
            return Poll::Ready(self.ended.take().unwrap_or(Encoded::End));
        }
        let frame = self.buf.split().freeze();
        self.sent = frame.len();
        Poll::Ready(Encoded::Data(frame))
    }

    /// Makes room for a frame of `need` bytes in the last frame's allocation,
    /// or the one's before, if h2 has let go of it. Frames h2 holds a while
    /// (large ones, behind flow control) would otherwise each take a new
    /// allocation, which glibc gives back to the kernel and faults in again.
    fn make_room(&mut self, need: usize) {
        if self.buf.try_reclaim(need) {
            return;
        }
        if self.spare.try_reclaim(need) {
            std::mem::swap(&mut self.buf, &mut self.spare);
        } else if self.sent <= SPARE_MAX {
            // The encode allocates anew; the last frame's allocation waits.
            self.spare = std::mem::take(&mut self.buf);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use bytes::Buf as _;

    use super::*;

    /// Every message ready at once.
    struct Ready(VecDeque<Result<Vec<u8>, Status>>);

    impl futures_core::Stream for Ready {
        type Item = Result<Vec<u8>, Status>;

        fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
            Poll::Ready(self.0.pop_front())
        }
    }

    /// A stream of `sizes`-byte messages, all ready at once.
    fn stream(sizes: &[usize], limit: Option<usize>) -> EncodeStream<Ready, Vec<u8>> {
        // `Vec<u8>` is prost's google.protobuf.BytesValue.
        let messages = Ready(sizes.iter().map(|&size| Ok(vec![7; size])).collect());
        EncodeStream::new(messages, Encoder::new(None, None, limit))
    }

    /// The frames of a stream of `sizes`-byte messages, all ready at once.
    fn frames(sizes: &[usize], limit: Option<usize>) -> (Vec<Bytes>, Encoded) {
        let mut stream = stream(sizes, limit);
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        let mut frames = Vec::new();
        loop {
            match stream.poll_data(&mut cx) {
                Poll::Ready(Encoded::Data(bytes)) => frames.push(bytes),
                Poll::Ready(ended) => return (frames, ended),
                Poll::Pending => unreachable!("every message is ready"),
            }
        }
    }

    fn next_frame(stream: &mut EncodeStream<Ready, Vec<u8>>) -> Bytes {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        match stream.poll_data(&mut cx) {
            Poll::Ready(Encoded::Data(frame)) => frame,
            other => panic!("{other:?}"),
        }
    }

    /// The lengths of the messages in one frame.
    fn message_lengths(mut frame: Bytes) -> Vec<usize> {
        let mut lengths = Vec::new();
        while !frame.is_empty() {
            assert_eq!(frame.get_u8(), 0, "uncompressed");
            let len = frame.get_u32() as usize;
            frame.advance(len);
            lengths.push(len);
        }
        lengths
    }

    #[test]
    fn small_messages_are_gathered_into_frames_of_at_most_32_kib() {
        let (frames, ended) = frames(&[100; 1000], None);
        assert!(matches!(ended, Encoded::End));
        assert!(frames.len() > 1 && frames.len() < 10, "{}", frames.len());
        let mut total = 0;
        for frame in frames {
            assert!(frame.len() <= GATHER, "{}", frame.len());
            total += message_lengths(frame).len();
        }
        assert_eq!(total, 1000);
    }

    #[test]
    fn a_message_that_would_overfill_a_frame_starts_the_next() {
        let (frames, _) = frames(&[20_000, 20_000, 100, 40_000], None);
        let lengths: Vec<Vec<usize>> = frames.into_iter().map(message_lengths).collect();
        // BytesValue adds a tag byte and the value's length (a varint).
        assert_eq!(lengths, vec![vec![20_004], vec![20_004, 102], vec![40_004]]);
    }

    #[test]
    fn a_frame_reuses_the_allocation_of_one_h2_has_let_go() {
        let mut stream = stream(&[20_000; 4], None);
        let first = next_frame(&mut stream);
        let second = next_frame(&mut stream);
        let first_at = first.as_ptr();
        drop(first);
        // Had the first frame's allocation been freed, this would likely take it.
        let other = Vec::<u8>::with_capacity(20_005);
        let third = next_frame(&mut stream);
        assert_eq!(third.as_ptr(), first_at, "the first frame's allocation");
        // The second and third are still held: the fourth has one of its own.
        let fourth = next_frame(&mut stream);
        assert!(fourth.as_ptr() != second.as_ptr() && fourth.as_ptr() != third.as_ptr());
        for frame in [second, third, fourth] {
            assert_eq!(message_lengths(frame.clone()), vec![20_004]);
            // The prefix, a tag and a 3-byte length come before the value.
            assert!(frame[9..].iter().all(|&b| b == 7), "intact");
        }
        drop(other);
    }

    #[test]
    fn a_large_frame_is_not_kept_as_the_spare() {
        let mut stream = stream(&[3 * GATHER; 3], None);
        let first = next_frame(&mut stream);
        let _second = next_frame(&mut stream);
        let first_at = first.as_ptr();
        drop(first);
        let _other = Vec::<u8>::with_capacity(3 * GATHER + 8);
        assert_ne!(next_frame(&mut stream).as_ptr(), first_at);
    }

    #[test]
    fn a_message_over_the_send_limit_ends_the_stream_after_the_ones_before_it() {
        let (frames, ended) = frames(&[10, 2000, 10], Some(1000));
        assert_eq!(frames.len(), 1);
        assert_eq!(message_lengths(frames[0].clone()), vec![12]);
        let Encoded::Error(status) = ended else {
            panic!("{ended:?}")
        };
        assert_eq!(status.code(), crate::base::status::Code::ResourceExhausted);
    }

    #[test]
    fn compression_follows_the_choice_message_by_message() {
        let choice = SendCompression::new();
        let encoder = Encoder::new(Some(CompressionEncoding::Gzip), Some(choice.clone()), None);
        let message = vec![1u8; 1000];
        let mut buf = BytesMut::new();
        encoder.encode(&message, &mut buf).unwrap();
        assert_eq!(buf[0], 1, "compressed by default");
        choice.set(false);
        let plain = encoder.encode_one(&message).unwrap();
        assert_eq!(plain[0], 0);
        assert_eq!(plain.len(), 5 + 1003);
    }
}
