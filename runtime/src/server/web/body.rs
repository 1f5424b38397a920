//! The response body of a gRPC-Web call: the call's messages as they are, then
//! its trailers as one more frame in the body (flag 0x80, an HTTP/1 header
//! block), all in base64 for `grpc-web-text`.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{BufMut, Bytes, BytesMut};
use http_body::Frame;

use crate::server::web::drain::Leftover;
use crate::server::web::text;

/// The flag of the frame that carries the trailers.
const TRAILERS_FLAG: u8 = 0x80;

/// How the body goes out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    /// Not a gRPC-Web call: the body as it is, trailers and all.
    Native,
    /// `application/grpc-web`: trailers in the body.
    Binary,
    /// `application/grpc-web-text`: trailers in the body, all in base64.
    Text,
}

pin_project_lite::pin_project! {
    /// A call's response body, as its [`Mode`] sends it.
    pub(crate) struct WebBody<B> {
        #[pin]
        inner: Option<B>,
        mode: Mode,
        // An HTTP/1.1 request's unread rest, read before the body ends.
        leftover: Option<Leftover>,
        ended: bool,
    }
}

impl<B> WebBody<B> {
    pub(super) fn new(inner: B, mode: Mode) -> Self {
        Self {
            inner: Some(inner),
            mode,
            leftover: None,
            ended: false,
        }
    }

    /// This body, ending only once `leftover` has been read.
    pub(super) fn draining(mut self, leftover: Leftover) -> Self {
        self.leftover = Some(leftover);
        self
    }

    /// A body with nothing in it (a preflight's).
    pub(super) fn empty() -> Self {
        Self {
            inner: None,
            mode: Mode::Native,
            leftover: None,
            ended: true,
        }
    }
}

impl<B> http_body::Body for WebBody<B>
where
    B: http_body::Body<Data = Bytes>,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = self.project();
        let mode = *this.mode;
        let frame = match this.inner.as_pin_mut() {
            Some(inner) if !*this.ended => ready!(inner.poll_frame(cx)),
            _ => None,
        };
        let frame = match frame {
            None => {
                *this.ended = true;
                if let Some(leftover) = this.leftover {
                    ready!(leftover.poll_drain(cx));
                    *this.leftover = None;
                }
                return Poll::Ready(None);
            }
            Some(Ok(frame)) if mode != Mode::Native => frame,
            other => return Poll::Ready(other),
        };
        let data = match frame.into_data() {
            Ok(data) => data,
            Err(frame) => match frame.into_trailers() {
                Ok(trailers) => trailers_frame(&trailers),
                Err(_) => return Poll::Ready(Some(Ok(Frame::data(Bytes::new())))),
            },
        };
        let data = match mode {
            Mode::Text => text::encode(&data),
            Mode::Binary | Mode::Native => data,
        };
        Poll::Ready(Some(Ok(Frame::data(data))))
    }

    fn is_end_stream(&self) -> bool {
        self.leftover.is_none()
            && (self.ended
                || self
                    .inner
                    .as_ref()
                    .is_none_or(http_body::Body::is_end_stream))
    }

    fn size_hint(&self) -> http_body::SizeHint {
        match (&self.inner, self.mode) {
            (None, _) if self.leftover.is_none() => http_body::SizeHint::with_exact(0),
            (None, _) => http_body::SizeHint::default(),
            (Some(inner), Mode::Native) => inner.size_hint(),
            // The trailers and base64 change the length.
            (Some(_), Mode::Binary | Mode::Text) => http_body::SizeHint::default(),
        }
    }
}

/// `trailers` as the body frame gRPC-Web sends them in: flag 0x80, a 4-byte
/// big-endian length, then `name: value\r\n` lines with lower-case names.
pub(super) fn trailers_frame(trailers: &http::HeaderMap) -> Bytes {
    let mut block = BytesMut::new();
    for (name, value) in trailers {
        block.put_slice(name.as_str().as_bytes());
        block.put_slice(b": ");
        block.put_slice(value.as_bytes());
        block.put_slice(b"\r\n");
    }
    let mut frame = BytesMut::with_capacity(5 + block.len());
    frame.put_u8(TRAILERS_FLAG);
    // Header blocks are far below 4 GiB: the server's header list limit.
    frame.put_u32(u32::try_from(block.len()).unwrap_or(u32::MAX));
    frame.put_slice(&block);
    frame.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailers_are_a_flagged_frame_of_header_lines() {
        let mut trailers = http::HeaderMap::new();
        trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
        trailers.insert("x-trace", http::HeaderValue::from_static("a b"));
        let frame = trailers_frame(&trailers);
        let block = b"grpc-status: 0\r\nx-trace: a b\r\n";
        assert_eq!(frame[0], 0x80);
        assert_eq!(&frame[1..5], &(block.len() as u32).to_be_bytes());
        assert_eq!(&frame[5..], block);
    }
}
