//! The rest of a gRPC-Web request over HTTP/1.1, read before its response ends.
//! HTTP/1.1 can end a request early only by closing the connection, and a close
//! with request bytes unread is a TCP reset, which a client still sending (a
//! message over the size limit, a call to an unknown method) meets as a broken
//! pipe before it reads the response it was sent.

use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use http_body::{Body, Frame};

use crate::base::body::{BoxBody, StdError};

/// How much of a request's unread rest is read; past it the connection closes.
const DRAIN_LIMIT: usize = 4 * 1024 * 1024;

/// Where a request body the call dropped unfinished waits to be read.
#[derive(Default)]
pub(super) struct Leftover {
    slot: Arc<Mutex<Option<BoxBody>>>,
    draining: Option<(BoxBody, usize)>,
}

impl Leftover {
    /// `body`, handing its unread rest to this slot when dropped.
    pub(super) fn track(&self, body: BoxBody) -> BoxBody {
        BoxBody::new(Tracked {
            body: Some(body),
            slot: Arc::clone(&self.slot),
        })
    }

    /// Reads what the call left of its request, up to [`DRAIN_LIMIT`].
    pub(super) fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.draining.is_none() {
            let left = self
                .slot
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            match left {
                Some(body) => self.draining = Some((body, 0)),
                None => return Poll::Ready(()),
            }
        }
        let Some((body, read)) = &mut self.draining else {
            return Poll::Ready(());
        };
        while *read <= DRAIN_LIMIT {
            match Pin::new(&mut *body).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(frame))) => {
                    *read += frame.data_ref().map_or(0, Buf::remaining);
                }
                Poll::Ready(Some(Err(_)) | None) => break,
            }
        }
        self.draining = None;
        Poll::Ready(())
    }
}

/// A request body that gives its unread rest to a [`Leftover`] when dropped.
struct Tracked {
    body: Option<BoxBody>,
    slot: Arc<Mutex<Option<BoxBody>>>,
}

impl Body for Tracked {
    type Data = Bytes;
    type Error = StdError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, StdError>>> {
        let Some(body) = self.body.as_mut() else {
            return Poll::Ready(None);
        };
        let frame = std::task::ready!(Pin::new(body).poll_frame(cx));
        if !matches!(frame, Some(Ok(_))) {
            self.body = None;
        }
        Poll::Ready(frame.map(|frame| frame.map_err(Into::into)))
    }

    fn is_end_stream(&self) -> bool {
        self.body.as_ref().is_none_or(Body::is_end_stream)
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body
            .as_ref()
            .map_or_else(|| http_body::SizeHint::with_exact(0), Body::size_hint)
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        if let Some(body) = self.body.take().filter(|body| !body.is_end_stream()) {
            *self.slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(body);
        }
    }
}
