//! `application/grpc-web-text`: the call's bytes in base64 (standard alphabet,
//! padded). Request bodies may arrive cut anywhere and may be several padded
//! pieces one after another; each response frame is encoded on its own, padded,
//! so every message reaches the page as soon as it is sent.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Buf, Bytes, BytesMut};

use crate::base::body::{BoxBody, StdError};
use crate::base::status::Status;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// `bytes` in padded base64.
pub(super) fn encode(bytes: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        let sextet = |shift: u32| ALPHABET[(n >> shift & 63) as usize];
        out.push(sextet(18));
        out.push(sextet(12));
        out.push(if chunk.len() > 1 { sextet(6) } else { b'=' });
        out.push(if chunk.len() > 2 { sextet(0) } else { b'=' });
    }
    Bytes::from(out)
}

/// Base64 that is not: a byte outside the alphabet, padding in the wrong place,
/// or a lone character at the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Malformed;

/// Decodes base64 that arrives in pieces cut anywhere.
#[derive(Debug, Default)]
pub(super) struct Decoder {
    quad: [u8; 4],
    len: usize,
}

impl Decoder {
    /// Decodes every whole group of four characters in what came so far.
    pub(super) fn push(&mut self, input: &[u8], out: &mut BytesMut) -> Result<(), Malformed> {
        for &c in input {
            self.quad[self.len] = c;
            self.len += 1;
            if self.len == 4 {
                self.len = 0;
                decode_quad(self.quad, out)?;
            }
        }
        Ok(())
    }

    /// Decodes an unpadded tail of two or three characters at the end.
    pub(super) fn finish(&mut self, out: &mut BytesMut) -> Result<(), Malformed> {
        let len = std::mem::take(&mut self.len);
        match len {
            0 => Ok(()),
            1 => Err(Malformed),
            _ => {
                let mut quad = [b'='; 4];
                quad[..len].copy_from_slice(&self.quad[..len]);
                decode_quad(quad, out)
            }
        }
    }
}

fn value(c: u8) -> Result<u32, Malformed> {
    Ok(match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return Err(Malformed),
    }
    .into())
}

fn decode_quad(quad: [u8; 4], out: &mut BytesMut) -> Result<(), Malformed> {
    let bytes = match quad {
        [_, _, b'=', b'='] => 1,
        [_, _, c, b'='] if c != b'=' => 2,
        _ => 3,
    };
    let mut n = 0;
    for &c in &quad[..bytes + 1] {
        n = n << 6 | value(c)?;
    }
    n <<= 6 * (3 - bytes);
    let decoded = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
    out.extend_from_slice(&decoded[..bytes]);
    Ok(())
}

/// The status of a `grpc-web-text` request whose body is not base64.
pub(super) fn malformed() -> Status {
    Status::invalid_argument("the grpc-web-text request body is not base64")
}

pin_project_lite::pin_project! {
    /// A `grpc-web-text` request body, decoded.
    pub(super) struct DecodeBody {
        #[pin]
        inner: BoxBody,
        decoder: Decoder,
        done: bool,
    }
}

impl DecodeBody {
    pub(super) fn new(inner: BoxBody) -> Self {
        Self {
            inner,
            decoder: Decoder::default(),
            done: false,
        }
    }
}

impl http_body::Body for DecodeBody {
    type Data = Bytes;
    type Error = StdError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, StdError>>> {
        let mut this = self.project();
        loop {
            if *this.done {
                return Poll::Ready(None);
            }
            let mut out = BytesMut::new();
            let result = match ready!(this.inner.as_mut().poll_frame(cx)) {
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(mut data) => {
                        let result = this.decoder.push(data.chunk(), &mut out);
                        data.advance(data.remaining());
                        result
                    }
                    // Trailers have no place in a gRPC-Web request: skip them.
                    Err(_) => Ok(()),
                },
                Some(Err(err)) => return Poll::Ready(Some(Err(err.into()))),
                None => {
                    *this.done = true;
                    this.decoder.finish(&mut out)
                }
            };
            if result.is_err() {
                *this.done = true;
                return Poll::Ready(Some(Err(malformed().into())));
            }
            if !out.is_empty() {
                return Poll::Ready(Some(Ok(http_body::Frame::data(out.freeze()))));
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(pieces: &[&[u8]]) -> Result<Vec<u8>, Malformed> {
        let mut decoder = Decoder::default();
        let mut out = BytesMut::new();
        for piece in pieces {
            decoder.push(piece, &mut out)?;
        }
        decoder.finish(&mut out)?;
        Ok(out.to_vec())
    }

    #[test]
    fn encodes_with_padding() {
        assert_eq!(&encode(b"")[..], b"");
        assert_eq!(&encode(b"f")[..], b"Zg==");
        assert_eq!(&encode(b"fo")[..], b"Zm8=");
        assert_eq!(&encode(b"foo")[..], b"Zm9v");
        assert_eq!(&encode(b"foob")[..], b"Zm9vYg==");
        assert_eq!(&encode(&[0xff, 0xfe, 0x00])[..], b"//4A");
    }

    #[test]
    fn decodes_what_it_encodes_cut_anywhere() {
        let bytes: Vec<u8> = (0..=255).collect();
        let text = encode(&bytes);
        for cut in 0..text.len() {
            assert_eq!(
                decode(&[&text[..cut], &text[cut..]]).unwrap(),
                bytes,
                "cut {cut}"
            );
        }
    }

    #[test]
    fn decodes_padded_pieces_one_after_another() {
        assert_eq!(decode(&[b"Zg==Zm8=Zm9v"]).unwrap(), b"ffofoo");
    }

    #[test]
    fn decodes_an_unpadded_tail() {
        assert_eq!(decode(&[b"Zm9vYg"]).unwrap(), b"foob");
        assert_eq!(decode(&[b"Zm8"]).unwrap(), b"fo");
    }

    #[test]
    fn refuses_what_is_not_base64() {
        assert_eq!(decode(&[b"Zm9v!A=="]), Err(Malformed));
        assert_eq!(decode(&[b"Z"]), Err(Malformed));
        assert_eq!(decode(&[b"Z==="]), Err(Malformed));
        assert_eq!(decode(&[b"Zg=v"]), Err(Malformed));
        assert_eq!(decode(&[b"Zm9v\n"]), Err(Malformed));
    }
}
