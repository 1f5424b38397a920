//! Base64 of `-bin` metadata and `grpc-status-details-bin`
//! (runtime/src/base/status.rs): decodes exactly what a standard decoder that
//! accepts padded and unpadded input decodes, and round-trips any bytes.

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use rust_grpc::__fuzz::base64_decode;

/// grpc-go's reading: padded when the length is a multiple of 4, unpadded
/// otherwise; bits past the last byte are ignored.
fn reference(data: &[u8]) -> Option<Vec<u8>> {
    let padding = if data.len() % 4 == 0 {
        DecodePaddingMode::Indifferent
    } else {
        DecodePaddingMode::RequireNone
    };
    let engine = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_padding_mode(padding)
            .with_decode_allow_trailing_bits(true),
    );
    engine.decode(data).ok()
}

pub fn run(data: &[u8]) {
    let ours = base64_decode(data);
    let reference = reference(data);
    assert_eq!(ours, reference, "{:?}", String::from_utf8_lossy(data));
    for engine in [
        base64::engine::general_purpose::STANDARD,
        base64::engine::general_purpose::STANDARD_NO_PAD,
    ] {
        let encoded = engine.encode(data);
        assert_eq!(base64_decode(encoded.as_bytes()).as_deref(), Some(data));
    }
}
