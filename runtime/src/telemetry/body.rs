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
    /// `None` when nothing is measured: the body only passes frames on.
    /// Boxed, so that an unmeasured body stays as small as `B` plus a
    /// pointer (response bodies are moved several times per call).
    recording: Option<Box<Recording<R>>>,
}

struct Recording<R> {
    bytes: MessageBytes,
    record: R,
    /// The code of a body that fails or ends without a status.
    broken: Code,
}

impl<B, R: Record> Recorded<B, R> {
    pub(crate) fn new(inner: B, record: Option<R>, broken: Code) -> Self {
        Self {
            inner,
            recording: record.map(|record| {
                Box::new(Recording {
                    bytes: MessageBytes::default(),
                    record,
                    broken,
                })
            }),
        }
    }

    /// The record, to add to; made with `make` if nothing was measured.
    pub(crate) fn record_or(&mut self, make: impl FnOnce() -> R, broken: Code) -> &mut R {
        &mut self
            .recording
            .get_or_insert_with(|| {
                Box::new(Recording {
                    bytes: MessageBytes::default(),
                    record: make(),
                    broken,
                })
            })
            .record
    }

    fn end(&mut self, code: Code) {
        if let Some(mut recording) = self.recording.take() {
            let total = recording.bytes.total();
            recording.record.end(code, total);
        }
    }
}

impl<B, R> http_body::Body for Recorded<B, R>
where
    B: http_body::Body<Data = Bytes> + Unpin,
    R: Record,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, B::Error>>> {
        let this = &mut *self;
        let frame = ready!(Pin::new(&mut this.inner).poll_frame(cx));
        if let Some(recording) = &mut this.recording {
            let broken = recording.broken;
            match &frame {
                Some(Ok(frame)) => {
                    if let Some(data) = frame.data_ref() {
                        recording.bytes.feed(data.chunk());
                    } else if let Some(trailers) = frame.trailers_ref() {
                        this.end(head_status(trailers).unwrap_or(broken));
                    }
                }
                Some(Err(_)) | None => this.end(broken),
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
