//! The request bodies a client sends: one encoded message, or a stream of
//! messages encoded as they come.

use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use bytes::Bytes;

use crate::base::body::Message;
use crate::base::status::Status;
use crate::codec::encode::{EncodeStream, Encoded, Encoder};

/// The body of a unary or server-streaming request: one encoded message.
pub(crate) struct Unary(Option<Bytes>);

impl Unary {
    pub(crate) fn new(data: Bytes) -> Self {
        Self(Some(data))
    }
}

impl http_body::Body for Unary {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Status>>> {
        Poll::Ready(self.0.take().map(|data| Ok(http_body::Frame::data(data))))
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_none()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(self.0.as_ref().map_or(0, |data| data.len() as u64))
    }
}

/// Why a streaming request stopped early: a message was over the send limit or
/// could not be encoded. The transport only sees a reset stream; the call
/// reports this status instead.
#[derive(Debug, Clone, Default)]
pub(crate) struct SendFailure(Arc<OnceLock<Status>>);

impl SendFailure {
    /// The status the call ends with, if sending failed.
    pub(crate) fn take(&self) -> Option<Status> {
        self.0.get().map(|status| {
            Status::with_metadata(status.code(), status.message(), status.metadata().clone())
        })
    }

    /// `status`, or the send failure that caused it.
    pub(crate) fn or(&self, status: Status) -> Status {
        self.take().unwrap_or(status)
    }
}

/// The messages a caller's stream yields, as results.
pub(crate) struct Oks<S>(Pin<Box<S>>);

impl<S: futures_core::Stream> futures_core::Stream for Oks<S> {
    type Item = Result<S::Item, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0.as_mut().poll_next(cx).map(|item| item.map(Ok))
    }
}

/// The body of a client-streaming or bidirectional request.
pub(crate) struct Streaming<S: futures_core::Stream> {
    messages: EncodeStream<Oks<S>, S::Item>,
    failure: SendFailure,
    /// Told when the caller's stream has nothing to send yet.
    waiting: Option<Arc<tokio::sync::Notify>>,
    done: bool,
}

impl<S: futures_core::Stream> Streaming<S> {
    pub(crate) fn new(
        messages: S,
        encoder: Encoder,
        failure: SendFailure,
        waiting: Option<Arc<tokio::sync::Notify>>,
    ) -> Self {
        Self {
            messages: EncodeStream::new(Oks(Box::pin(messages)), encoder),
            failure,
            waiting,
            done: false,
        }
    }
}

// The caller's stream is boxed; nothing else is pinned.
impl<S: futures_core::Stream> Unpin for Streaming<S> {}

impl<S> http_body::Body for Streaming<S>
where
    S: futures_core::Stream<Item: Message>,
{
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Status>>> {
        if self.done {
            return Poll::Ready(None);
        }
        let polled = self.messages.poll_data(cx);
        if polled.is_pending()
            && let Some(waiting) = &self.waiting
        {
            waiting.notify_one();
        }
        Poll::Ready(match std::task::ready!(polled) {
            Encoded::Data(data) => Some(Ok(http_body::Frame::data(data))),
            Encoded::End => {
                self.done = true;
                None
            }
            Encoded::Error(status) => {
                self.done = true;
                let _ = self
                    .failure
                    .0
                    .set(Status::new(status.code(), status.message()));
                Some(Err(status))
            }
        })
    }

    fn is_end_stream(&self) -> bool {
        self.done
    }
}
