//! Why a served call ended early: the client cancelled it or its deadline passed.
//!
//! When a client cancels a call (drops it, or its connection goes away) or the
//! call's [deadline](crate::deadline) passes, the server stops the handler by
//! dropping its future and its response stream. A handler that needs to know why,
//! to log it or to undo work, takes the [`Cancellation`] from its request before
//! starting: it says how the call ended, and is already set when the handler's
//! future is dropped.
//!
//! ```
//! use rust_grpc::cancel::{Cancellation, Reason};
//! use rust_grpc::{Request, Response, Status};
//!
//! async fn handle(request: Request<String>) -> Result<Response<String>, Status> {
//!     if let Some(cancellation) = Cancellation::of(&request) {
//!         // Runs whether the handler finishes or is dropped part-way.
//!         tokio::spawn(async move {
//!             match cancellation.ended().await {
//!                 None => {} // answered
//!                 Some(Reason::ClientCancelled) => eprintln!("the client gave up"),
//!                 Some(Reason::DeadlineExceeded) => eprintln!("out of time"),
//!                 Some(_) => {}
//!             }
//!         });
//!     }
//!     Ok(Response::new(request.into_inner()))
//! }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::sync::Notify;
use tokio::time::Sleep;

use crate::codegen::BoxBody;
use crate::deadline::Deadline;
use crate::{Request, Status};

/// Why a call ended before the server answered it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reason {
    /// The client cancelled the call: it reset the stream, dropped the call or
    /// lost its connection.
    ClientCancelled,
    /// The call's deadline passed; the client was answered DEADLINE_EXCEEDED.
    DeadlineExceeded,
}

/// How a served call ended, shared between the runtime and the handler; clones
/// share it. The runtime puts one into every handler's request.
#[derive(Debug, Clone)]
pub struct Cancellation {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// `Some(None)` once the call was answered, `Some(Some(reason))` once it was
    /// cut short.
    ended: OnceLock<Option<Reason>>,
    notify: Notify,
}

impl Cancellation {
    pub(crate) fn new() -> Self {
        Self {
            inner: Arc::default(),
        }
    }

    /// The cancellation of the call `request` belongs to.
    pub fn of<T>(request: &Request<T>) -> Option<Self> {
        request.extensions().get::<Self>().cloned()
    }

    /// Why the call was cut short; `None` while it runs and when it was answered.
    pub fn reason(&self) -> Option<Reason> {
        self.inner.ended.get().copied().flatten()
    }

    /// Whether the call was cut short.
    pub fn is_cancelled(&self) -> bool {
        self.reason().is_some()
    }

    /// Waits until the call ends: `None` when the server answered it completely,
    /// or why it was cut short.
    pub async fn ended(&self) -> Option<Reason> {
        loop {
            let notified = self.inner.notify.notified();
            if let Some(ended) = self.inner.ended.get() {
                return *ended;
            }
            notified.await;
        }
    }

    /// Records how the call ended; the first record wins.
    pub(crate) fn end(&self, reason: Option<Reason>) {
        if self.inner.ended.set(reason).is_ok() {
            self.inner.notify.notify_waiters();
        }
    }
}

/// One served call, until its response head: ends with DEADLINE_EXCEEDED when the
/// deadline passes first, and records a cancellation when dropped unfinished.
pub(crate) struct ServedCall<F> {
    call: Option<Pin<Box<F>>>,
    deadline: Option<(Deadline, Pin<Box<Sleep>>)>,
    cancellation: Cancellation,
}

impl<F> ServedCall<F> {
    pub(crate) fn new(call: F, deadline: Option<Deadline>, cancellation: Cancellation) -> Self {
        Self {
            call: Some(Box::pin(call)),
            deadline: deadline
                .map(|deadline| (deadline, Box::pin(tokio::time::sleep_until(deadline.at)))),
            cancellation,
        }
    }
}

fn deadline_exceeded() -> Status {
    Status::deadline_exceeded("the deadline expired before the call ended")
}

impl<F: Future<Output = http::Response<BoxBody>>> Future for ServedCall<F> {
    type Output = http::Response<BoxBody>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Some(call) = &mut self.call else {
            return Poll::Ready(deadline_exceeded().into_http());
        };
        if let Poll::Ready(response) = call.as_mut().poll(cx) {
            self.call = None;
            let deadline = self.deadline.take().map(|(deadline, _)| deadline);
            let cancellation = self.cancellation.clone();
            if response.headers().contains_key("grpc-status") {
                // Trailers-only: the call is over.
                cancellation.end(None);
                return Poll::Ready(response);
            }
            return Poll::Ready(
                response.map(|inner| BoxBody::new(ServedBody::new(inner, deadline, cancellation))),
            );
        }
        if let Some((_, sleep)) = &mut self.deadline
            && sleep.as_mut().poll(cx).is_ready()
        {
            self.cancellation.end(Some(Reason::DeadlineExceeded));
            self.call = None;
            return Poll::Ready(deadline_exceeded().into_http());
        }
        Poll::Pending
    }
}

impl<F> Drop for ServedCall<F> {
    fn drop(&mut self) {
        // Before the handler's future is dropped, so the handler sees why.
        if self.call.is_some() {
            self.cancellation.end(Some(Reason::ClientCancelled));
        }
    }
}

/// A served call's response body: when the deadline passes before the body ends,
/// drops the rest of the response (the handler's stream) and ends the call with
/// DEADLINE_EXCEEDED in the trailers; records a cancellation when dropped
/// unfinished.
struct ServedBody {
    inner: Option<BoxBody>,
    deadline: Option<Pin<Box<Sleep>>>,
    cancellation: Cancellation,
}

impl ServedBody {
    fn new(inner: BoxBody, deadline: Option<Deadline>, cancellation: Cancellation) -> Self {
        Self {
            inner: Some(inner),
            deadline: deadline.map(|deadline| Box::pin(tokio::time::sleep_until(deadline.at))),
            cancellation,
        }
    }
}

impl http_body::Body for ServedBody {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Status>>> {
        let Some(inner) = &mut self.inner else {
            return Poll::Ready(None);
        };
        if let Poll::Ready(frame) = Pin::new(inner).poll_frame(cx) {
            let ended = match &frame {
                None => true,
                Some(Ok(frame)) => frame.is_trailers(),
                Some(Err(_)) => true,
            };
            if ended {
                self.inner = None;
                self.cancellation.end(None);
            }
            return Poll::Ready(frame);
        }
        let expired = match &mut self.deadline {
            Some(sleep) => sleep.as_mut().poll(cx).is_ready(),
            None => false,
        };
        if !expired {
            return Poll::Pending;
        }
        self.cancellation.end(Some(Reason::DeadlineExceeded));
        self.inner = None;
        let status = deadline_exceeded();
        let mut trailers = http::HeaderMap::new();
        Poll::Ready(Some(match status.add_header(&mut trailers) {
            Ok(()) => Ok(http_body::Frame::trailers(trailers)),
            Err(status) => Err(status),
        }))
    }

    fn is_end_stream(&self) -> bool {
        self.inner
            .as_ref()
            .is_none_or(http_body::Body::is_end_stream)
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.as_ref().map_or_else(
            || http_body::SizeHint::with_exact(0),
            http_body::Body::size_hint,
        )
    }
}

impl Drop for ServedBody {
    fn drop(&mut self) {
        if self.inner.is_some() {
            self.cancellation.end(Some(Reason::ClientCancelled));
        }
    }
}
