//! Deadlines: how long a call may take, on both sides of it.
//!
//! A client sets a call's timeout with [`Request::set_timeout`]; it travels to the
//! server as the `grpc-timeout` header and covers the whole call, the response
//! messages and trailers as well as the response headers. When it passes, the
//! client sees DEADLINE_EXCEEDED.
//!
//! On the server, a call with a `grpc-timeout` runs under a [`Deadline`]: the
//! handler reads it from its request ([`Deadline::of`]), and when it passes the
//! handler's future (and its response stream) is dropped and the client is answered
//! DEADLINE_EXCEEDED. A `grpc-timeout` that is not up to 8 digits and a unit
//! (`H`, `M`, `S`, `m`, `u`, `n`) is answered INTERNAL, as grpc-go does.
//!
//! A handler that calls other services passes its deadline on with
//! [`Deadline::propagate`], so the calls it makes end no later than its own.
//!
//! ```
//! use rust_grpc::deadline::Deadline;
//! use rust_grpc::{Request, Response, Status};
//!
//! async fn handle(request: Request<String>) -> Result<Response<String>, Status> {
//!     let deadline = Deadline::of(&request);
//!     if let Some(deadline) = deadline {
//!         if deadline.remaining() < std::time::Duration::from_millis(10) {
//!             return Err(Status::deadline_exceeded("not enough time left to try"));
//!         }
//!     }
//!     // An outgoing call made here ends no later than this one:
//!     // backend.lookup(Deadline::propagate(&request, LookupRequest { .. })).await?;
//!     let outgoing: Request<u32> = Deadline::propagate(&request, 7);
//!     assert_eq!(deadline.is_some(), outgoing.metadata().get("grpc-timeout").is_some());
//!     Ok(Response::new(request.into_inner()))
//! }
//! ```
//!
//! # The client side
//!
//! The transport enforces a request's timeout only until the response headers
//! arrive; a server that answers with headers and then sends nothing would leave a
//! streaming call hanging past its deadline. The response body of every client
//! call with a timeout is wrapped in a `DeadlineBody` that ends the call with
//! DEADLINE_EXCEEDED when the time is up, and dropping the call then resets the
//! stream, so the server learns of it too.

use std::time::Duration;

use tokio::time::Instant;

use crate::base::call::{IntoRequest, Request};
use crate::base::status::Status;

/// When a call must have ended.
///
/// On a server, the runtime puts the deadline of every call that has one (the
/// client sent `grpc-timeout`) into the handler's request; read it with
/// [`Deadline::of`]. See the [module docs](self) for an example.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Deadline {
    pub(crate) at: Instant,
}

impl Deadline {
    /// The deadline `timeout` from now.
    pub fn after(timeout: Duration) -> Self {
        let now = Instant::now();
        Self {
            at: now.checked_add(timeout).unwrap_or(now + FAR_FUTURE),
        }
    }

    /// The deadline of the call `request` belongs to, if it has one.
    pub fn of<T>(request: &Request<T>) -> Option<Self> {
        request.extensions().get::<Self>().copied()
    }

    /// The instant the call must have ended by.
    pub fn instant(&self) -> Instant {
        self.at
    }

    /// The time left before the deadline; zero once it has passed.
    pub fn remaining(&self) -> Duration {
        self.at.saturating_duration_since(Instant::now())
    }

    /// Whether the deadline has passed.
    pub fn is_expired(&self) -> bool {
        Instant::now() >= self.at
    }

    /// Sets `request`'s timeout to the time left before this deadline, so an
    /// outgoing call ends no later than the call this deadline belongs to.
    pub fn apply<T>(&self, request: &mut Request<T>) {
        request.set_timeout(self.remaining());
    }

    /// Makes an outgoing request, made while handling `incoming`, that carries
    /// `incoming`'s deadline (if it has one): the outgoing call ends no later than
    /// the incoming one.
    ///
    /// ```
    /// use rust_grpc::deadline::Deadline;
    /// use rust_grpc::Request;
    ///
    /// let incoming = Request::new("from the client");
    /// let outgoing = Deadline::propagate(&incoming, "to a backend");
    /// // No deadline came in, so none goes out.
    /// assert!(outgoing.metadata().get("grpc-timeout").is_none());
    /// ```
    pub fn propagate<A, T>(incoming: &Request<A>, outgoing: impl IntoRequest<T>) -> Request<T> {
        let mut outgoing = outgoing.into_request();
        if let Some(deadline) = Self::of(incoming) {
            deadline.apply(&mut outgoing);
        }
        outgoing
    }
}

/// Far enough to be never, near enough not to overflow an `Instant`.
const FAR_FUTURE: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

pub(crate) const GRPC_TIMEOUT: http::HeaderName = http::HeaderName::from_static("grpc-timeout");

/// The deadline of a call a server received, from its `grpc-timeout` header.
///
/// # Errors
///
/// A malformed header is answered with INTERNAL, as grpc-go answers it.
pub(crate) fn server_deadline(headers: &http::HeaderMap) -> Result<Option<Deadline>, Status> {
    let Some(value) = headers.get(GRPC_TIMEOUT) else {
        return Ok(None);
    };
    let timeout = parse_grpc_timeout(value).ok_or_else(|| {
        Status::internal(format!(
            "malformed grpc-timeout header {value:?}: expected 1 to 8 digits and a unit (H, M, S, m, u or n)"
        ))
    })?;
    Ok(Some(Deadline::after(timeout)))
}

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

/// The `grpc-timeout` value for `timeout`: the finest unit whose count fits
/// in 8 digits (rounded up, so the server never ends a call early).
pub(crate) fn encode_grpc_timeout(timeout: Duration) -> http::HeaderValue {
    const MAX: u128 = 99_999_999;
    let nanos = timeout.as_nanos().max(1);
    let units: [(u128, &str); 6] = [
        (1, "n"),
        (1_000, "u"),
        (1_000_000, "m"),
        (1_000_000_000, "S"),
        (60_000_000_000, "M"),
        (3_600_000_000_000, "H"),
    ];
    for (size, unit) in units {
        let count = nanos.div_ceil(size);
        if count <= MAX {
            return http::HeaderValue::try_from(format!("{count}{unit}"))
                .unwrap_or_else(|_| http::HeaderValue::from_static("99999999H"));
        }
    }
    http::HeaderValue::from_static("99999999H")
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{encode_grpc_timeout, parse_grpc_timeout};

    #[test]
    fn grpc_timeouts_encode_in_the_finest_unit_that_fits() {
        let cases = [
            (Duration::from_nanos(5), "5n"),
            (Duration::from_millis(100), "100000u"),
            (Duration::from_millis(1500), "1500000u"),
            (Duration::from_secs(100), "100000m"),
            (Duration::from_secs(1_000_000), "1000000S"),
            (Duration::from_secs(200_000_000), "3333334M"),
            (Duration::from_secs(u64::MAX), "99999999H"),
            (Duration::ZERO, "1n"),
            (Duration::from_nanos(99_999_999), "99999999n"),
            (Duration::from_secs(1), "1000000u"),
            (Duration::from_secs(100_000), "100000S"),
            (Duration::from_secs(100_000_000), "1666667M"),
            (Duration::new(100, 1), "100001m"),
            (Duration::MAX, "99999999H"),
        ];
        for (timeout, want) in cases {
            let value = encode_grpc_timeout(timeout);
            assert_eq!(value, want, "{timeout:?}");
            assert!(
                parse_grpc_timeout(&value).unwrap()
                    >= timeout.min(Duration::from_secs(99_999_999 * 3600))
            );
        }
    }

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
