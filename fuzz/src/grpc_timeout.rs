//! `grpc-timeout` (runtime/src/base/deadline.rs): any header value parses as
//! the spec's grammar says (1 to 8 digits, then H, M, S, m, u or n) or is
//! refused, and every encoded timeout parses back to at least itself.

use std::time::Duration;

use rust_grpc::__fuzz::{encode_grpc_timeout, parse_grpc_timeout};

pub fn run(data: &[u8]) {
    if let Ok(value) = http::HeaderValue::from_bytes(data) {
        assert_eq!(parse_grpc_timeout(&value), reference(data), "{value:?}");
    }
    if let Some(bytes) = data.first_chunk::<12>() {
        let secs = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"));
        let nanos = u32::from_le_bytes(bytes[8..].try_into().expect("4 bytes")) % 1_000_000_000;
        let timeout = Duration::new(secs, nanos);
        let encoded = encode_grpc_timeout(timeout);
        let back = parse_grpc_timeout(&encoded).expect("an encoded timeout parses");
        let max = Duration::from_secs(99_999_999 * 3600);
        assert!(
            back >= timeout.min(max),
            "{timeout:?} -> {encoded:?} -> {back:?}"
        );
    }
}

fn reference(value: &[u8]) -> Option<Duration> {
    let (&unit, digits) = value.split_last()?;
    if digits.is_empty() || digits.len() > 8 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = digits
        .iter()
        .fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
    Some(match unit {
        b'H' => Duration::from_secs(n * 3600),
        b'M' => Duration::from_secs(n * 60),
        b'S' => Duration::from_secs(n),
        b'm' => Duration::from_millis(n),
        b'u' => Duration::from_micros(n),
        b'n' => Duration::from_nanos(n),
        _ => return None,
    })
}
