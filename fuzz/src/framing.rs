//! The message decoder (runtime/src/codec/decode.rs): a structured stream of
//! frames (well-formed, compressed, lying about their length, or raw bytes) cut
//! into arbitrary chunks must decode exactly as a one-pass reference reading of
//! the whole stream says, and no message may exceed the receive limit.

use arbitrary::{Arbitrary, Unstructured};
use bytes::Bytes;
use rust_grpc::__fuzz::{Decoder, compress, decompress};
use rust_grpc::{Code, CompressionEncoding};

#[derive(Arbitrary, Debug)]
enum Piece {
    /// A message with a correct prefix, compressed with the call's encoding
    /// when `compress` is set and the call has one.
    Message { payload: Vec<u8>, compress: bool },
    /// A prefix with any flag and length, then whatever bytes.
    Prefix { flag: u8, len: u32, bytes: Vec<u8> },
    /// Raw bytes.
    Raw(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
struct Input {
    encoding: u8,
    limit: u16,
    pieces: Vec<Piece>,
    /// Chunk sizes, used in turn (0 means an empty chunk).
    cuts: Vec<u8>,
}

#[derive(Debug, PartialEq)]
enum Outcome {
    Messages(Vec<(Vec<u8>, bool)>, Option<Code>, bool),
}

pub fn run(data: &[u8]) {
    let Ok(input) = Input::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let encoding = match input.encoding % 3 {
        0 => None,
        1 => Some(CompressionEncoding::Gzip),
        _ => Some(CompressionEncoding::Zstd),
    };
    let limit = usize::from(input.limit);
    let mut stream = Vec::new();
    for piece in &input.pieces {
        match piece {
            Piece::Message {
                payload,
                compress: c,
            } => match encoding {
                Some(encoding) if *c => {
                    let packed = compress(encoding, payload).expect("compressing in memory");
                    stream.push(1);
                    stream.extend_from_slice(&(packed.len() as u32).to_be_bytes());
                    stream.extend_from_slice(&packed);
                }
                _ => {
                    stream.push(0);
                    stream.extend_from_slice(&(payload.len() as u32).to_be_bytes());
                    stream.extend_from_slice(payload);
                }
            },
            Piece::Prefix { flag, len, bytes } => {
                stream.push(*flag);
                stream.extend_from_slice(&len.to_be_bytes());
                stream.extend_from_slice(bytes);
            }
            Piece::Raw(bytes) => stream.extend_from_slice(bytes),
        }
    }

    let expected = reference(&stream, encoding, limit);

    let mut decoder = Decoder::new(encoding, limit);
    let mut messages = Vec::new();
    let mut error = None;
    let mut rest = &stream[..];
    let mut cuts = input.cuts.iter().cycle();
    'feed: while !rest.is_empty() {
        let size = if input.cuts.is_empty() {
            rest.len()
        } else {
            let cut = usize::from(*cuts.next().expect("cycle"));
            if cut == 0 {
                decoder.push(Bytes::new());
            }
            cut.clamp(1, rest.len())
        };
        let (chunk, tail) = rest.split_at(size);
        rest = tail;
        decoder.push(Bytes::copy_from_slice(chunk));
        loop {
            match decoder.next_message() {
                Ok(Some((bytes, compressed))) => {
                    assert!(bytes.len() <= limit, "a message over the limit got through");
                    messages.push((bytes.to_vec(), compressed));
                }
                Ok(None) => break,
                Err(status) => {
                    error = Some(status.code());
                    break 'feed;
                }
            }
        }
    }
    let partial = error.is_none() && decoder.is_partial();
    assert_eq!(Outcome::Messages(messages, error, partial), expected);
}

/// Reads the whole stream in one pass, as gRPC's framing says.
fn reference(mut stream: &[u8], encoding: Option<CompressionEncoding>, limit: usize) -> Outcome {
    let mut messages = Vec::new();
    loop {
        if stream.is_empty() {
            return Outcome::Messages(messages, None, false);
        }
        if stream.len() < 5 {
            return Outcome::Messages(messages, None, true);
        }
        let flag = stream[0];
        let len = u32::from_be_bytes([stream[1], stream[2], stream[3], stream[4]]) as usize;
        if flag > 1 {
            return Outcome::Messages(messages, Some(Code::Internal), false);
        }
        if len > limit {
            return Outcome::Messages(messages, Some(Code::ResourceExhausted), false);
        }
        if flag == 1 && encoding.is_none() {
            return Outcome::Messages(messages, Some(Code::Internal), false);
        }
        if stream.len() - 5 < len {
            return Outcome::Messages(messages, None, true);
        }
        let body = &stream[5..5 + len];
        stream = &stream[5 + len..];
        match encoding {
            Some(encoding) if flag == 1 => match decompress(encoding, body, limit) {
                Ok(plain) => messages.push((plain.to_vec(), true)),
                Err(status) => return Outcome::Messages(messages, Some(status.code()), false),
            },
            _ => messages.push((body.to_vec(), false)),
        }
    }
}
