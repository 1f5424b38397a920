//! Message sizes as A66 counts them: the bytes of each length-prefixed
//! message as it crossed the wire, without its 5-byte prefix.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, ready};

use bytes::{Buf, Bytes};

/// Follows the gRPC framing of a body's data, summing message bytes.
#[derive(Debug, Default)]
pub(crate) struct MessageBytes {
    /// Bytes of the current prefix seen so far (0..5).
    prefix_seen: u8,
    /// The length field of the current prefix, as far as it is read.
    length: u32,
    /// Message bytes still to come of the current message.
    remaining: u64,
    total: u64,
}

impl MessageBytes {
    /// Takes the next chunk of the body's data.
    pub(crate) fn feed(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            if self.remaining > 0 {
                let take = self.remaining.min(data.len() as u64);
                self.total += take;
                self.remaining -= take;
                // `take` is at most data.len().
                data = &data[take as usize..];
                continue;
            }
            // Prefix byte 0 is the compressed flag, 1..5 the big-endian length.
            if self.prefix_seen > 0 {
                self.length = (self.length << 8) | u32::from(data[0]);
            }
            self.prefix_seen += 1;
            data = &data[1..];
            if self.prefix_seen == 5 {
                self.remaining = u64::from(self.length);
                self.prefix_seen = 0;
                self.length = 0;
            }
        }
    }

    /// The message bytes seen so far.
    pub(crate) fn total(&self) -> u64 {
        self.total
    }
}

pin_project_lite::pin_project! {
    /// A body that adds its message bytes to a shared count as it is read
    /// (a request body, whose count the call's record reads at its end).
    pub(crate) struct Counted<B> {
        #[pin]
        inner: B,
        bytes: MessageBytes,
        shared: Arc<AtomicU64>,
    }
}

impl<B> Counted<B> {
    pub(crate) fn new(inner: B, shared: Arc<AtomicU64>) -> Self {
        Self {
            inner,
            bytes: MessageBytes::default(),
            shared,
        }
    }
}

impl<B> http_body::Body for Counted<B>
where
    B: http_body::Body<Data = Bytes>,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, B::Error>>> {
        let this = self.project();
        let frame = ready!(this.inner.poll_frame(cx));
        if let Some(Ok(frame)) = &frame
            && let Some(data) = frame.data_ref()
        {
            let before = this.bytes.total();
            this.bytes.feed(data.chunk());
            this.shared
                .fetch_add(this.bytes.total() - before, Ordering::Relaxed);
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(messages: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for message in messages {
            out.push(0);
            out.extend_from_slice(&(message.len() as u32).to_be_bytes());
            out.extend_from_slice(message);
        }
        out
    }

    #[test]
    fn message_bytes_leave_out_each_prefix() {
        let mut bytes = MessageBytes::default();
        bytes.feed(&framed(&[b"hello", b"", b"world!"]));
        assert_eq!(bytes.total(), 11);
    }

    #[test]
    fn message_bytes_follow_prefixes_split_across_chunks() {
        let data = framed(&[&[7u8; 300], b"abc"]);
        let mut bytes = MessageBytes::default();
        for chunk in data.chunks(2) {
            bytes.feed(chunk);
        }
        assert_eq!(bytes.total(), 303);
    }
}
