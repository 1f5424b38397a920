//! Bodies, messages and boxed futures and streams, as every layer names them.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf as _, Bytes};

use crate::base::status::{self, Status};

/// A boxed error, as the transport passes them around.
pub type StdError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The boxed HTTP body calls are sent with (tonic's, so tonic's channels carry
/// our calls).
pub type BoxBody = tonic::body::Body;

/// The future a generated server returns for one call.
pub type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'static>>;

/// The stream a server-streaming or bidirectional handler returns: any `Send`
/// stream of messages or errors, boxed: [`stream::boxed`](crate::stream::boxed)
/// (or `Box::pin`) around any stream, or the stream of a
/// [`stream::channel`](crate::stream::channel).
///
/// The stream ends the call with OK when it ends; an `Err` item ends the call
/// with that status.
pub type BoxStream<T> =
    Pin<Box<dyn futures_core::Stream<Item = Result<T, Status>> + Send + 'static>>;

/// A request body a generated server can read.
pub trait RequestBody: http_body::Body<Error: Into<StdError> + Send> + Send + 'static {}

impl<B> RequestBody for B where B: http_body::Body<Error: Into<StdError> + Send> + Send + 'static {}

/// A protobuf message a generated client or server can send and receive.
pub trait Message: prost::Message + Default + Send + Sync + 'static {}

impl<M> Message for M where M: prost::Message + Default + Send + Sync + 'static {}

/// A received body whose errors are already statuses, as the codec reads it.
pub(crate) type StatusBody =
    Pin<Box<dyn http_body::Body<Data = Bytes, Error = Status> + Send + 'static>>;

/// Boxes `body` as a [`StatusBody`].
pub(crate) fn status_body<B: RequestBody>(body: B) -> StatusBody {
    Box::pin(ToStatus { inner: body })
}

pin_project_lite::pin_project! {
    /// A body whose errors become statuses and whose chunks become [`Bytes`].
    struct ToStatus<B> {
        #[pin]
        inner: B,
    }
}

impl<B: RequestBody> http_body::Body for ToStatus<B> {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Status>>> {
        self.project().inner.poll_frame(cx).map(|frame| {
            frame.map(|frame| {
                frame
                    .map(|frame| frame.map_data(|mut data| data.copy_to_bytes(data.remaining())))
                    .map_err(status::from_error)
            })
        })
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
