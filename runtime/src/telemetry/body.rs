//! The response body of a measured call: counts its message bytes and ends
//! the call's record with the status of its trailers.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Buf, Bytes};

use crate::base::status::Code;
use crate::telemetry::size::MessageBytes;

const GRPC_STATUS: http::HeaderName = http::HeaderName::from_static("grpc-status");

/// What a measured call or attempt records when it ends. Only the first end
/// counts; a record dropped before it ends records CANCELLED.
pub(crate) trait Record {
    /// The call ended with `code`, its response messages `response_bytes` long.
    fn end(&mut self, code: Code, response_bytes: u64);
}

/// The status a response head carries (a Trailers-Only response).
pub(crate) fn head_status(headers: &http::HeaderMap) -> Option<Code> {
    headers
        .get(GRPC_STATUS)
        .map(|code| Code::from_bytes(code.as_bytes()))
}

/// A response body that records its call when its status arrives.
pub(crate) struct Recorded<B, R: Record> {
    inner: B,
    bytes: MessageBytes,
    /// `None` when nothing is measured: the body only passes frames on.
    record: Option<R>,
    /// The code of a body that fails or ends without a status.
    broken: Code,
}

impl<B, R: Record> Recorded<B, R> {
    pub(crate) fn new(inner: B, record: Option<R>, broken: Code) -> Self {
        Self {
            inner,
            bytes: MessageBytes::default(),
            record,
            broken,
        }
    }

    /// The record, to add to (`None` when nothing is measured).
    pub(crate) fn record_mut(&mut self) -> &mut Option<R> {
        &mut self.record
    }

    fn end(&mut self, code: Code) {
        if let Some(mut record) = self.record.take() {
            record.end(code, self.bytes.total());
        }
    }
}

impl<B, R> http_body::Body for Recorded<B, R>
where
    B: http_body::Body<Data = Bytes> + Unpin,
    R: Record + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, B::Error>>> {
        let this = &mut *self;
        let frame = ready!(Pin::new(&mut this.inner).poll_frame(cx));
        if this.record.is_some() {
            match &frame {
                Some(Ok(frame)) => {
                    if let Some(data) = frame.data_ref() {
                        this.bytes.feed(data.chunk());
                    } else if let Some(trailers) = frame.trailers_ref() {
                        let code = head_status(trailers).unwrap_or(this.broken);
                        this.end(code);
                    }
                }
                Some(Err(_)) | None => {
                    let broken = this.broken;
                    this.end(broken);
                }
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

impl<B, R: Record> Drop for Recorded<B, R> {
    fn drop(&mut self) {
        // Dropped before its status: the reader gave up on the call.
        self.end(Code::Cancelled);
    }
}
