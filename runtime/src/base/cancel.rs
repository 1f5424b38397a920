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

use std::sync::{Arc, OnceLock};

use tokio::sync::Notify;

use crate::base::call::Request;

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
/// Cancels a client call from elsewhere: the call ends with CANCELLED and its
/// stream is reset, so the server learns of it. Get one from a request with
/// [`RequestExt::cancel_handle`](crate::RequestExt::cancel_handle) before making
/// the call; clones cancel the same call. Dropping the call's future (or its
/// response stream) cancels it too.
#[derive(Debug, Clone, Default)]
pub struct CancelHandle {
    inner: Arc<CancelState>,
}

#[derive(Debug, Default)]
struct CancelState {
    cancelled: std::sync::atomic::AtomicBool,
    notify: Notify,
}

impl CancelHandle {
    /// Cancels the call.
    pub fn cancel(self) {
        self.inner
            .cancelled
            .store(true, std::sync::atomic::Ordering::Release);
        self.inner.notify.notify_waiters();
    }

    /// Whether the call was cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.inner
            .cancelled
            .load(std::sync::atomic::Ordering::Acquire)
    }

    /// Resolves once the call is cancelled.
    pub(crate) async fn cancelled(&self) {
        loop {
            let notified = self.inner.notify.notified();
            let mut notified = std::pin::pin!(notified);
            notified.as_mut().enable();
            if self.is_cancelled() {
                return;
            }
            notified.await;
        }
    }
}
