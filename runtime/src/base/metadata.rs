//! Header names the gRPC protocol reserves: metadata may not use them.
//!
//! `content-type`, `te`, `grpc-status`, `grpc-message`, `grpc-encoding` and the
//! other names in [`RESERVED`] carry the protocol itself; HTTP/2 forbids the
//! connection-specific ones (`connection`, `transfer-encoding`, ...). Metadata
//! that sets one of them would corrupt the call, so the runtime refuses it with
//! INTERNAL and a message naming the key: a client call fails before it is sent,
//! and a handler's response (its initial metadata or its trailers) is replaced by
//! that status. `grpc-timeout` is set with [`Request::set_timeout`](crate::Request::set_timeout),
//! so a client may send it. A handler's initial metadata may hold the names in
//! [`REPLACED`], because a response passed on from another call does: the runtime
//! drops them and sets its own. The metadata of an error [`Status`] (from a
//! handler or an interceptor) loses its reserved names the same way, because a
//! status passed on from another call carries that call's. To pass on other
//! metadata that came with a call (a proxy sending a request's metadata along),
//! [`strip`] it first.
//!
//! ```
//! use rust_grpc::reserved::is_reserved;
//!
//! assert!(is_reserved("grpc-status"));
//! assert!(is_reserved("Content-Type"));
//! assert!(!is_reserved("x-request-id"));
//! assert!(!is_reserved("grpc-trace-bin")); // only the names the protocol uses
//! ```

pub(crate) use tonic::metadata::{AsciiMetadataValue, KeyRef, MetadataMap};

use crate::base::call::Response;
use crate::base::status::Status;

/// The header names metadata may not use.
pub const RESERVED: &[&str] = &[
    "content-type",
    "te",
    "grpc-status",
    "grpc-message",
    "grpc-status-details-bin",
    "grpc-encoding",
    "grpc-accept-encoding",
    "grpc-message-type",
    "grpc-timeout",
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
];

/// The reserved names a handler's initial metadata may hold: the runtime drops
/// them and sets its own.
pub const REPLACED: &[&str] = &[
    "content-type",
    "grpc-encoding",
    "grpc-accept-encoding",
    "grpc-status",
    "grpc-message",
    "grpc-status-details-bin",
];

/// Removes every reserved name from `metadata`, for metadata received with one
/// call and sent with another.
///
/// ```
/// use rust_grpc::metadata::MetadataMap;
///
/// let mut metadata = MetadataMap::new();
/// metadata.insert("content-type", "application/grpc".parse().unwrap());
/// metadata.insert("x-request-id", "42".parse().unwrap());
/// metadata.insert_bin("grpc-status-details-bin", rust_grpc::metadata::MetadataValue::from_bytes(b"x"));
/// rust_grpc::reserved::strip(&mut metadata);
/// assert_eq!(metadata.len(), 1);
/// assert!(metadata.get("x-request-id").is_some());
/// ```
pub fn strip(metadata: &mut MetadataMap) {
    remove(metadata, RESERVED);
}

fn remove(metadata: &mut MetadataMap, names: &[&str]) {
    for name in names {
        if name.ends_with("-bin") {
            metadata.remove_bin(*name);
        } else {
            metadata.remove(*name);
        }
    }
}

/// Drops the reserved keys from an error status's own metadata before it is
/// sent: a status passed on from another call carries that call's protocol
/// headers, which are not this call's (and refusing them would turn every
/// passed-on error into INTERNAL).
pub(crate) fn strip_status(status: &mut Status) {
    if !status.metadata().is_empty() {
        strip(status.metadata_mut());
    }
}

/// Whether metadata may not use `key` (compared without regard to case).
pub fn is_reserved(key: &str) -> bool {
    RESERVED.iter().any(|name| name.eq_ignore_ascii_case(key))
}

/// The first reserved key in `metadata`, except `allowed`.
fn first_reserved<'a>(metadata: &'a MetadataMap, allowed: &[&str]) -> Option<&'a str> {
    metadata.keys().find_map(|key| {
        let name = match key {
            KeyRef::Ascii(key) => key.as_str(),
            KeyRef::Binary(key) => key.as_str(),
        };
        (is_reserved(name) && !allowed.contains(&name)).then_some(name)
    })
}

fn refused(key: &str, what: &str) -> Status {
    Status::internal(format!(
        "{what} sets the metadata key {key:?}, which the gRPC protocol reserves: use another name, or rust_grpc::reserved::strip metadata passed on from another call"
    ))
}

/// Refuses a client request whose metadata uses a reserved key.
pub(crate) fn check_request(metadata: &MetadataMap) -> Result<(), Status> {
    match first_reserved(metadata, &["grpc-timeout"]) {
        Some(key) => Err(refused(key, "the request")),
        None => Ok(()),
    }
}

/// Refuses a handler's response whose metadata or trailers use a reserved key.
pub(crate) fn check_response<T>(response: &mut Response<T>) -> Result<(), Status> {
    if response.metadata().is_empty() && response.extensions().get::<Trailers>().is_none() {
        return Ok(());
    }
    remove(response.metadata_mut(), REPLACED);
    if let Some(key) = first_reserved(response.metadata(), &[]) {
        return Err(refused(key, "the handler's response"));
    }
    if let Some(Trailers(trailers)) = response.extensions().get()
        && let Some(key) = first_reserved(trailers, &[])
    {
        return Err(refused(key, "the handler's trailers"));
    }
    Ok(())
}
/// The trailers a client received with a unary or client-streaming response,
/// for [`ResponseExt::trailers`](crate::ResponseExt::trailers); apart from
/// [`Trailers`], so a response passed on by a handler sends none of them.
#[derive(Debug, Clone, Default)]
pub(crate) struct ReceivedTrailers(pub(crate) MetadataMap);

/// Trailers a handler set with [`ResponseExt::trailers_mut`](crate::ResponseExt::trailers_mut).
#[derive(Debug, Clone, Default)]
pub(crate) struct Trailers(pub(crate) MetadataMap);
