//! A client call's deadline covers the whole call: the response messages and
//! trailers as well as the response headers.
//!
//! The transport enforces a request's timeout (`grpc-timeout`) only until the
//! response headers arrive; a server that answers with headers and then sends
//! nothing would leave a streaming call hanging past its deadline. The response
//! body of every client call with a timeout is wrapped in a [`DeadlineBody`] that
//! ends the call with DEADLINE_EXCEEDED when the time is up, and dropping the call
//! then resets the stream, so the server learns of it too.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use tokio::time::{Instant, Sleep};

use crate::Status;
use crate::codegen::StdError;

/// The timeout a `grpc-timeout` header value asks for: at most 8 digits and a
/// unit (`H`, `M`, `S`, `m`, `u`, `n`).
pub(crate) fn parse_grpc_timeout(value: &http::HeaderValue) -> Option<Duration> {
    let value = value.to_str().ok()?;
    let (digits, unit) = value.split_at(value.len().checked_sub(1)?);
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let amount: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(amount * 3600),
        "M" => Duration::from_secs(amount * 60),
        "S" => Duration::from_secs(amount),
        "m" => Duration::from_millis(amount),
        "u" => Duration::from_micros(amount),
        "n" => Duration::from_nanos(amount),
        _ => return None,
    })
}

/// A response body that fails with DEADLINE_EXCEEDED once its call's deadline
/// passes, unless it ended before.
pub(crate) struct DeadlineBody<B> {
    inner: B,
    deadline: Option<Pin<Box<Sleep>>>,
    expired: bool,
}

impl<B> DeadlineBody<B> {
    /// Wraps `inner`; `deadline` is when the call must have ended, if ever.
    pub(crate) fn new(inner: B, deadline: Option<Instant>) -> Self {
        Self {
            inner,
            deadline: deadline.map(|at| Box::pin(tokio::time::sleep_until(at))),
            expired: false,
        }
    }
}

impl<B> http_body::Body for DeadlineBody<B>
where
    B: http_body::Body<Data = Bytes> + Unpin,
    B::Error: Into<StdError>,
{
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Status>>> {
        if self.expired {
            return Poll::Ready(None);
        }
        if let Some(deadline) = &mut self.deadline
            && deadline.as_mut().poll(cx).is_ready()
        {
            self.expired = true;
            return Poll::Ready(Some(Err(Status::deadline_exceeded(
                "the deadline expired before the call ended",
            ))));
        }
        Pin::new(&mut self.inner)
            .poll_frame(cx)
            .map_err(|err| Status::from_error(err.into()))
    }

    fn is_end_stream(&self) -> bool {
        self.expired || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::parse_grpc_timeout;

    fn parse(value: &'static str) -> Option<Duration> {
        parse_grpc_timeout(&http::HeaderValue::from_static(value))
    }

    #[test]
    fn grpc_timeout_units_parse() {
        assert_eq!(parse("2H"), Some(Duration::from_secs(7200)));
        assert_eq!(parse("3M"), Some(Duration::from_secs(180)));
        assert_eq!(parse("4S"), Some(Duration::from_secs(4)));
        assert_eq!(parse("1m"), Some(Duration::from_millis(1)));
        assert_eq!(parse("999u"), Some(Duration::from_micros(999)));
        assert_eq!(parse("99999999n"), Some(Duration::from_nanos(99_999_999)));
    }

    #[test]
    fn malformed_grpc_timeouts_are_ignored() {
        for value in ["", "m", "10", "10x", "123456789S", "-1S", "1.5S"] {
            assert_eq!(parse(value), None, "{value:?}");
        }
    }
}
