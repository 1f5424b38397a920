//! A client call's deadline and cancellation: the whole call, the response messages and trailers
//! as well as the response headers, ends at the request's timeout.
//!
//! The transport enforces a request's timeout only until the response headers
//! arrive; a server that answers with headers and then sends nothing would leave
//! a streaming call hanging past its deadline. The response body of every call
//! with a timeout is wrapped in a [`DeadlineBody`] that ends the call with
//! DEADLINE_EXCEEDED when the time is up, and dropping the call then resets the
//! stream, so the server learns of it too.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::time::{Instant, Sleep};

use crate::base::body::StdError;
use crate::base::call::Request;
use crate::base::cancel::CancelHandle;
use crate::base::deadline;
use crate::base::status::{self, Code, Status};

/// When a client call must have ended, from the timeout its request carries.
pub(crate) fn of_request<M>(request: &Request<M>) -> Option<Instant> {
    let timeout = request.metadata().get("grpc-timeout").and_then(|value| {
        deadline::parse_grpc_timeout(&http::HeaderValue::from_bytes(value.as_bytes()).ok()?)
    })?;
    Instant::now().checked_add(timeout)
}

/// The status of a call whose deadline passed.
pub(crate) fn exceeded() -> Status {
    Status::deadline_exceeded("the deadline expired before the call ended")
}

/// Runs `call` until `deadline` (then DEADLINE_EXCEEDED) or until `cancel` is
/// cancelled (then CANCELLED).
pub(crate) fn run<T, F>(
    deadline: Option<Instant>,
    cancel: Option<CancelHandle>,
    call: F,
) -> Bounded<F>
where
    F: Future<Output = Result<T, Status>>,
{
    Bounded {
        call,
        sleep: deadline.map(tokio::time::sleep_until),
        cancelled: cancel.map(cancelled_future),
        deadline,
    }
}

/// Runs `call` until `deadline`, then gives DEADLINE_EXCEEDED.
pub(crate) fn within<T, F>(deadline: Option<Instant>, call: F) -> Bounded<F>
where
    F: Future<Output = Result<T, Status>>,
{
    run(deadline, None, call)
}

pin_project_lite::pin_project! {
    /// A call bounded by its deadline and its caller's cancellation. A plain
    /// future, not `select!` or `timeout_at` in match arms, which would give
    /// the call's future several slots in the caller's.
    pub(crate) struct Bounded<F> {
        #[pin]
        call: F,
        #[pin]
        sleep: Option<Sleep>,
        cancelled: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
        deadline: Option<Instant>,
    }
}

impl<T, F> Future for Bounded<F>
where
    F: Future<Output = Result<T, Status>>,
{
    type Output = Result<T, Status>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Some(cancelled) = this.cancelled
            && cancelled.as_mut().poll(cx).is_ready()
        {
            return Poll::Ready(Err(self::cancelled()));
        }
        if let Poll::Ready(result) = this.call.poll(cx) {
            return Poll::Ready(result.map_err(|status| fix(status, *this.deadline)));
        }
        if let Some(sleep) = this.sleep.as_pin_mut()
            && sleep.poll(cx).is_ready()
        {
            return Poll::Ready(Err(exceeded()));
        }
        Poll::Pending
    }
}

/// A future that ends when `cancel` is cancelled, owning the handle.
fn cancelled_future(cancel: CancelHandle) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async move { cancel.cancelled().await })
}

/// The status of a call its caller cancelled.
pub(crate) fn cancelled() -> Status {
    Status::cancelled("the call was cancelled by its caller")
}

/// A server may reset the call at its deadline (grpc-go does) a moment before
/// the client's own timer fires, and tonic's channel reports its own expired
/// timeout as an error: both are DEADLINE_EXCEEDED, as grpc-go's callers see.
pub(crate) fn fix(status: Status, deadline: Option<Instant>) -> Status {
    if status.code() == Code::Cancelled && deadline.is_some_and(|at| Instant::now() >= at) {
        return exceeded();
    }
    let mut source = std::error::Error::source(&status);
    while let Some(error) = source {
        if error.is::<tonic::TimeoutExpired>() {
            return exceeded();
        }
        source = error.source();
    }
    status
}

pin_project_lite::pin_project! {
    /// A response body that fails with DEADLINE_EXCEEDED once its call's
    /// deadline passes, unless it ended before; its errors are statuses.
    pub(crate) struct DeadlineBody<B> {
        #[pin]
        inner: B,
        deadline: Option<Pin<Box<Sleep>>>,
        cancelled: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
        expired: bool,
    }
}

impl<B> DeadlineBody<B> {
    /// Wraps `inner`; `deadline` is when the call must have ended, if ever, and
    /// `cancel` ends it early.
    pub(crate) fn new(inner: B, deadline: Option<Instant>, cancel: Option<CancelHandle>) -> Self {
        Self {
            inner,
            deadline: deadline.map(|at| Box::pin(tokio::time::sleep_until(at))),
            cancelled: cancel.map(cancelled_future),
            expired: false,
        }
    }
}

impl<B> http_body::Body for DeadlineBody<B>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<StdError>,
{
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Status>>> {
        let this = self.project();
        if *this.expired {
            return Poll::Ready(None);
        }
        if let Some(deadline) = this.deadline
            && deadline.as_mut().poll(cx).is_ready()
        {
            *this.expired = true;
            return Poll::Ready(Some(Err(exceeded())));
        }
        if let Some(cancelled) = this.cancelled
            && cancelled.as_mut().poll(cx).is_ready()
        {
            *this.expired = true;
            return Poll::Ready(Some(Err(self::cancelled())));
        }
        let deadline = this.deadline.as_ref().map(|sleep| sleep.deadline());
        this.inner
            .poll_frame(cx)
            .map_err(|err| fix(status::from_transport_error(err), deadline))
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
    use super::*;

    #[tokio::test]
    async fn a_call_cancelled_after_its_deadline_is_deadline_exceeded() {
        let now = Instant::now();
        let past = Some(now);
        let future = Some(now + std::time::Duration::from_secs(60));

        let code = |status: Status, deadline| fix(status, deadline).code();

        assert_eq!(
            code(Status::cancelled("reset"), past),
            Code::DeadlineExceeded
        );
        assert_eq!(code(Status::cancelled("reset"), future), Code::Cancelled);
        assert_eq!(code(Status::cancelled("reset"), None), Code::Cancelled);
        assert_eq!(code(Status::not_found("gone"), past), Code::NotFound);
    }
}
