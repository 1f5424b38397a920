//! Decompression (runtime/src/codec/compression.rs): whatever the compressed
//! bytes, the output stops at the receive limit (a bomb is RESOURCE_EXHAUSTED,
//! not inflated), and what is returned is exactly what the stream holds.

use std::io::Read as _;

use rust_grpc::__fuzz::decompress;
use rust_grpc::{Code, CompressionEncoding};

/// Receive limits to try, from none at all to the default 4 MiB.
const LIMITS: [usize; 8] = [0, 1, 7, 100, 1000, 4096, 65_535, 4 << 20];

pub fn run(data: &[u8]) {
    let [selector, input @ ..] = data else {
        return;
    };
    let encoding = if selector & 1 == 0 {
        CompressionEncoding::Gzip
    } else {
        CompressionEncoding::Zstd
    };
    let limit = LIMITS[usize::from(selector >> 1) % LIMITS.len()];
    let result = decompress(encoding, input, limit);
    if let Ok(out) = &result {
        assert!(out.len() <= limit, "{} bytes out, limit {limit}", out.len());
    }

    // The reference: inflate one byte past the limit, enough to tell a stream
    // over it (a cap below the limit took a bomb for a valid message).
    let cap = limit as u64 + 1;
    let mut reference = Vec::new();
    let read = match encoding {
        CompressionEncoding::Gzip => flate2::read::GzDecoder::new(input)
            .take(cap)
            .read_to_end(&mut reference),
        _ => match zstd::stream::read::Decoder::new(input) {
            Ok(decoder) => decoder.take(cap).read_to_end(&mut reference),
            Err(err) => Err(err),
        },
    };
    if reference.len() > limit {
        // Past the limit before any error: refused for size, whatever follows.
        let status = result.expect_err("a message that inflates past the limit was accepted");
        assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
        return;
    }
    match (read, result) {
        (Ok(_), Ok(out)) => assert_eq!(&out[..], &reference[..]),
        (Err(_), Err(status)) => assert_eq!(status.code(), Code::Internal, "{status:?}"),
        (Ok(_), Err(status)) => panic!("refused a valid stream within the limit: {status:?}"),
        (Err(err), Ok(_)) => panic!("accepted a stream the reference refuses: {err}"),
    }
}
