//! gRPC statuses: tonic's [`Status`] and [`Code`], and how a client reads a
//! status off an HTTP response that carries none.

use std::sync::Arc;

/// How a call ended: a [`Code`], a message for people, and metadata sent as
/// trailers. A handler returns one as its error; a client gets one for every
/// call that did not end OK.
///
/// ```
/// use rust_grpc::{Code, Status};
///
/// fn find(name: &str) -> Result<String, Status> {
///     Err(Status::not_found(format!("no user {name:?}")))
/// }
/// let status = find("ada").unwrap_err();
/// assert_eq!(status.code(), Code::NotFound);
/// assert_eq!(status.message(), "no user \"ada\"");
/// ```
///
/// Rich error details (`google.rpc.ErrorInfo`, `RetryInfo`, ...) are in
/// [`errors`](crate::errors). Below, the type's own documentation, written for
/// tonic (whose type this is, so tonic's clients and servers read it too).
pub use tonic::Status;

/// The gRPC status codes, `Ok` to `Unauthenticated` (0 to 16), as every gRPC
/// implementation numbers them.
///
/// ```
/// use rust_grpc::Code;
///
/// assert_eq!(Code::from_i32(5), Code::NotFound);
/// assert_eq!(Code::DeadlineExceeded.to_string(), "Deadline expired before operation could complete");
/// ```
///
/// Below, the type's own documentation, written for tonic.
pub use tonic::Code;

/// The status of a response with HTTP status `status` and no `grpc-status`, as
/// gRPC's HTTP-to-gRPC mapping gives it.
pub(crate) fn from_http_status(status: http::StatusCode) -> Status {
    let code = match status.as_u16() {
        400 => Code::Internal,
        401 => Code::Unauthenticated,
        403 => Code::PermissionDenied,
        404 => Code::Unimplemented,
        429 | 502 | 503 | 504 => Code::Unavailable,
        _ => Code::Unknown,
    };
    let mut message = format!("the server answered HTTP {status} without a gRPC status");
    if status == http::StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE {
        // The one a caller can fix: h2 servers answer it to a header list
        // over their SETTINGS_MAX_HEADER_LIST_SIZE.
        message.push_str(": the call's metadata is larger than the server accepts");
    }
    Status::new(code, message)
}

/// The status of a transport or body error: the error's own if it carries one.
pub(crate) fn from_error(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Status {
    Status::from_error(error.into())
}

/// The status of an error a client's transport gave: the error's own if it
/// carries one, else UNAVAILABLE, as gRPC says a failed connection is (so
/// "retry on UNAVAILABLE" sees a lost connection).
pub(crate) fn from_transport_error(
    error: impl Into<Box<dyn std::error::Error + Send + Sync>>,
) -> Status {
    let error: Box<dyn std::error::Error + Send + Sync> = error.into();
    // A transport that answers with a status (our channel) means it as is,
    // UNKNOWN included.
    let error = match error.downcast::<Status>() {
        Ok(status) => return *status,
        Err(error) => error,
    };
    let error: Arc<dyn std::error::Error + Send + Sync> = Arc::from(error);
    let status = Status::from_error(Box::new(Shared(error.clone())));
    if status.code() != Code::Unknown {
        return status;
    }
    // The whole error stays the source, so its chain (a TLS alert, an I/O
    // error) is still there for the caller to read.
    let mut unavailable =
        Status::unavailable(format!("the connection failed: {}", describe(&*error)));
    unavailable.set_source(error);
    unavailable
}

/// An error and its sources as one line, each text once (I/O errors wrapped
/// by hyper and h2 repeat their cause's words).
pub(crate) fn describe(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(err) = source {
        let more = err.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = err.source();
    }
    text
}

/// An error shared with the status that carries it: reads as the error itself,
/// whose chain it hands on.
#[derive(Debug)]
struct Shared(Arc<dyn std::error::Error + Send + Sync>);

impl std::fmt::Display for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for Shared {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.0)
    }
}

/// The status a response's headers or trailers carry, if they have
/// `grpc-status`: its code, its percent-decoded `grpc-message`, its
/// `grpc-status-details-bin` and the other entries as metadata. Malformed parts
/// never panic: a bad message is kept as sent, bad details are dropped.
pub(crate) fn from_headers(headers: &http::HeaderMap) -> Option<Status> {
    let code = headers.get(GRPC_STATUS)?;
    let code = match std::str::from_utf8(code.as_bytes())
        .ok()
        .and_then(|c| c.parse::<i32>().ok())
    {
        // No caller reads an OK status's message or metadata (OK trailers
        // are read as metadata), so it is not built.
        Some(0) => return Some(Status::new(Code::Ok, "")),
        Some(code) => Code::from(code),
        None => {
            return Some(Status::unknown(format!(
                "the peer sent a malformed grpc-status {:?}",
                String::from_utf8_lossy(code.as_bytes())
            )));
        }
    };
    let message = headers
        .get(GRPC_MESSAGE)
        .map(|value| percent_decode(value.as_bytes()))
        .unwrap_or_default();
    let details = headers
        .get(GRPC_STATUS_DETAILS)
        .and_then(|value| base64_decode(value.as_bytes()))
        .unwrap_or_default();
    let mut metadata = headers.clone();
    for name in [GRPC_STATUS, GRPC_MESSAGE, GRPC_STATUS_DETAILS] {
        metadata.remove(name);
    }
    Some(Status::with_details_and_metadata(
        code,
        message,
        details.into(),
        tonic::metadata::MetadataMap::from_headers(metadata),
    ))
}

const GRPC_STATUS: http::HeaderName = http::HeaderName::from_static("grpc-status");
const GRPC_MESSAGE: http::HeaderName = http::HeaderName::from_static("grpc-message");
const GRPC_STATUS_DETAILS: http::HeaderName =
    http::HeaderName::from_static("grpc-status-details-bin");

/// Decodes `grpc-message`'s percent-encoding; bytes that are not valid escapes
/// or UTF-8 are kept as they came.
pub(crate) fn percent_decode(bytes: &[u8]) -> String {
    let hex = |b: u8| char::from(b).to_digit(16);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((hi * 16 + lo) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Decodes base64 (standard alphabet, padding optional), as `-bin` metadata
/// carries it; `None` if it is not base64.
pub(crate) fn base64_decode(bytes: &[u8]) -> Option<Vec<u8>> {
    let value = |b: u8| -> Option<u32> {
        Some(match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let trimmed = match bytes {
        [rest @ .., b'=', b'='] if bytes.len().is_multiple_of(4) => rest,
        [rest @ .., b'='] if bytes.len().is_multiple_of(4) => rest,
        _ => bytes,
    };
    if trimmed.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(trimmed.len() / 4 * 3 + 2);
    for chunk in trimmed.chunks(4) {
        let mut acc = 0u32;
        for (i, &b) in chunk.iter().enumerate() {
            acc |= value(b)? << (18 - 6 * i);
        }
        let [_, a, b, c] = acc.to_be_bytes();
        out.extend_from_slice(&[a, b, c][..chunk.len() - 1]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_statuses_map_as_grpc_says() {
        let code =
            |status: u16| from_http_status(http::StatusCode::from_u16(status).unwrap()).code();
        assert_eq!(code(400), Code::Internal);
        assert_eq!(code(401), Code::Unauthenticated);
        assert_eq!(code(403), Code::PermissionDenied);
        assert_eq!(code(404), Code::Unimplemented);
        for status in [429, 502, 503, 504] {
            assert_eq!(code(status), Code::Unavailable);
        }
        assert_eq!(code(200), Code::Unknown);
        assert_eq!(code(500), Code::Unknown);
    }

    #[test]
    fn statuses_in_headers_decode_without_panicking_on_bad_parts() {
        let mut headers = http::HeaderMap::new();
        headers.insert("grpc-status", "5".parse().unwrap());
        headers.insert("grpc-message", "not%20found%2".parse().unwrap());
        headers.insert("grpc-status-details-bin", "!!!".parse().unwrap());
        headers.insert("x-extra", "1".parse().unwrap());
        let status = from_headers(&headers).unwrap();
        assert_eq!(status.code(), Code::NotFound);
        assert_eq!(status.message(), "not found%2");
        assert!(status.details().is_empty());
        assert_eq!(status.metadata().get("x-extra").unwrap(), "1");

        headers.insert("grpc-status", "x".parse().unwrap());
        assert_eq!(from_headers(&headers).unwrap().code(), Code::Unknown);
        assert!(from_headers(&http::HeaderMap::new()).is_none());
    }

    #[test]
    fn base64_decodes_with_and_without_padding() {
        assert_eq!(base64_decode(b"aGVsbG8=").unwrap(), b"hello");
        assert_eq!(base64_decode(b"aGVsbG8").unwrap(), b"hello");
        assert_eq!(base64_decode(b"aGVsbG8h").unwrap(), b"hello!");
        assert_eq!(base64_decode(b"").unwrap(), b"");
        assert!(base64_decode(b"a").is_none());
        assert!(base64_decode(b"a*==").is_none());
    }
}
