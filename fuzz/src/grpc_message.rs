//! `grpc-message` percent-decoding (runtime/src/base/status.rs): any bytes
//! decode without panicking, bytes without `%` come through as they are, and
//! any text percent-encoded as the spec says decodes back to itself.

use rust_grpc::__fuzz::percent_decode;

pub fn run(data: &[u8]) {
    let decoded = percent_decode(data);
    if !data.contains(&b'%') {
        assert_eq!(decoded, String::from_utf8_lossy(data));
    }
    let text = String::from_utf8_lossy(data);
    let encoded = encode(text.as_bytes());
    assert_eq!(percent_decode(encoded.as_bytes()), text, "{encoded}");
}

/// The spec's encoding: bytes outside printable ASCII, and `%`, as `%XX`.
fn encode(bytes: &[u8]) -> String {
    let mut out = String::new();
    for &b in bytes {
        if (0x20..=0x7e).contains(&b) && b != b'%' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
