//! The response body of a call on a channel: hyper's body, plus the mark
//! that the call is still going (so the channel does not go idle under it).

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;

use crate::client::channel::worker::Active;

/// The response body of one attempt: hyper's, measured with the
/// `opentelemetry` feature.
#[cfg(feature = "opentelemetry")]
pub(crate) type AttemptBody = crate::telemetry::client::AttemptBody<hyper::body::Incoming>;
#[cfg(not(feature = "opentelemetry"))]
pub(crate) type AttemptBody = hyper::body::Incoming;

/// A response body from a [`Channel`](crate::Channel).
#[derive(Default)]
pub struct Body {
    /// `None` for the empty body of a call refused before it was sent.
    inner: Option<AttemptBody>,
    active: Option<Active>,
}

impl Body {
    pub(crate) fn new(inner: AttemptBody, active: Active) -> Self {
        Self {
            inner: Some(inner),
            active: Some(active),
        }
    }
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Body").finish_non_exhaustive()
    }
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, hyper::Error>>> {
        let Some(inner) = self.inner.as_mut() else {
            return Poll::Ready(None);
        };
        let frame = Pin::new(inner).poll_frame(cx);
        if matches!(frame, Poll::Ready(None | Some(Err(_)))) {
            // The call is over.
            self.active.take();
        }
        frame
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
