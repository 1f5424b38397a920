//! The status a client reads from trailers (runtime/src/base/status.rs:
//! `grpc-status`, percent-encoded `grpc-message`, base64
//! `grpc-status-details-bin`), then its rich error details
//! (runtime/src/errors.rs): any status a server writes reads back as written,
//! and any header values, however malformed, read without a panic.

use arbitrary::{Arbitrary, Unstructured};
use rust_grpc::__fuzz::status_from_headers;
use rust_grpc::errors::StatusExt as _;
use rust_grpc::metadata::{MetadataMap, MetadataValue};
use rust_grpc::{Code, Status};

#[derive(Arbitrary, Debug)]
struct Input {
    code: i32,
    message: String,
    details: Vec<u8>,
    metadata: Vec<(String, String)>,
    /// Raw values for grpc-status, grpc-message, grpc-status-details-bin.
    raw: [Option<Vec<u8>>; 3],
}

pub fn run(data: &[u8]) {
    let Ok(input) = Input::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };

    // What a server writes (tonic's `add_header`, as our server calls it)
    // reads back the same.
    let mut metadata = MetadataMap::new();
    for (key, value) in &input.metadata {
        if let (Ok(key), Ok(value)) = (
            key.parse::<rust_grpc::metadata::AsciiMetadataKey>(),
            value.parse::<MetadataValue<_>>(),
        ) {
            metadata.insert(key, value);
        }
    }
    let code = Code::from(input.code);
    let sent = Status::with_details_and_metadata(
        code,
        input.message.clone(),
        input.details.clone().into(),
        metadata,
    );
    let mut headers = http::HeaderMap::new();
    if sent.add_header(&mut headers).is_ok() {
        let read = status_from_headers(&headers).expect("grpc-status was written");
        assert_eq!(read.code(), code);
        if code != Code::Ok {
            assert_eq!(read.message(), input.message);
            assert_eq!(read.details(), &input.details[..]);
        }
        let _ = read.error_details();
    }

    // Whatever the peer puts in the three headers.
    let names = ["grpc-status", "grpc-message", "grpc-status-details-bin"];
    let mut headers = http::HeaderMap::new();
    for (name, value) in names.iter().zip(&input.raw) {
        if let Some(Ok(value)) = value.as_deref().map(http::HeaderValue::from_bytes) {
            headers.insert(*name, value);
        }
    }
    if let Some(status) = status_from_headers(&headers) {
        let _ = status.error_details();
        let _ = status.to_string();
    }
}
