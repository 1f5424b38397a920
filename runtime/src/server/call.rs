//! The server half of one call, from the request head to the trailers.
//!
//! Generated servers hand each call to [`ServerConfig`](crate::codegen::ServerConfig),
//! which runs it here. A unary or server-streaming request is read whole and
//! decoded in one step; response messages are encoded straight into the frames
//! the transport sends, and the status goes into the trailers of that same body.
//! One body type carries the call's deadline, its cancellation record, its
//! message limits and its per-message compression, so a call costs one boxed
//! future and one boxed body however many of those features it uses.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use tokio::time::Sleep;

use crate::base::body::{BoxBody, BoxStream, Message, RequestBody};
use crate::base::call::{Request, Response};
use crate::base::cancel::{Cancellation, Reason};
use crate::base::deadline::{self, Deadline};
use crate::base::metadata::{self, Trailers};
use crate::base::status::Status;
use crate::codec::compression::{
    CompressionEncoding, Encodings, ReceivedCompression, SendCompression,
};
use crate::codec::decode::{BodyDecoder, Decoded, Decoder};
use crate::codec::encode::{EncodeStream, Encoded as Frames, Encoder};
use crate::codec::limits::CallLimits;
use crate::codec::streaming::Streaming;

/// A server-wide limit on how long a call may take (`Server::timeout`), in the
/// request's extensions.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ServerTimeout(pub(crate) std::time::Duration);

/// What a call agreed on before its handler runs.
pub(crate) struct Call {
    deadline: Option<Deadline>,
    cancellation: Cancellation,
    /// The encoding of compressed request messages (`grpc-encoding`).
    receive_encoding: Option<CompressionEncoding>,
    /// The encoding of compressed response messages, from `grpc-accept-encoding`.
    send_encoding: Option<CompressionEncoding>,
    receive_limit: usize,
    send_limit: Option<usize>,
}

impl Call {
    /// Reads the call's settings from its request head and puts its
    /// [`Cancellation`] and [`Deadline`] into the request's extensions.
    pub(crate) fn start<B>(
        request: &mut http::Request<B>,
        accept: Encodings,
        send: Encodings,
        server_limits: CallLimits,
    ) -> Result<Self, Status> {
        let mut deadline = deadline::server_deadline(request.headers())?;
        if let Some(ServerTimeout(timeout)) = request.extensions().get().copied() {
            let server = Deadline::after(timeout);
            deadline = Some(deadline.map_or(server, |own| own.min(server)));
        }
        let receive_encoding = receive_encoding(request.headers(), accept)?;
        let send_encoding = request
            .headers()
            .get(GRPC_ACCEPT_ENCODING)
            .and_then(|accepted| send.negotiate(accepted));
        let limits = request
            .extensions()
            .get::<CallLimits>()
            .copied()
            .unwrap_or_default()
            .or(server_limits);
        let cancellation = Cancellation::new();
        request.extensions_mut().insert(cancellation.clone());
        if let Some(deadline) = deadline {
            request.extensions_mut().insert(deadline);
        }
        Ok(Self {
            deadline,
            cancellation,
            receive_encoding,
            send_encoding,
            receive_limit: limits.decoding_limit(),
            send_limit: limits.encoding(),
        })
    }

    fn decoder(&self) -> Decoder {
        Decoder::new(self.receive_encoding, self.receive_limit)
    }

    fn encoder(&self, choice: Option<SendCompression>) -> Encoder {
        Encoder::new(self.send_encoding, choice, self.send_limit)
    }

    /// Runs `work` (reading the request, the handler, building the response head)
    /// under the call's deadline, recording a cancellation if it is dropped first.
    ///
    /// The work comes as a trait object so that this runs as one function for
    /// every method, not one copy per method.
    pub(crate) async fn run(
        &self,
        work: Pin<&mut (dyn Future<Output = Result<Answer, Status>> + Send)>,
    ) -> http::Response<BoxBody> {
        let guard = Unanswered(Some(self.cancellation.clone()));
        let answer = match self.deadline {
            Some(deadline) => match tokio::time::timeout_at(deadline.at, work).await {
                Ok(answer) => answer,
                Err(_) => {
                    guard.end(Some(Reason::DeadlineExceeded));
                    return deadline_exceeded().into_http();
                }
            },
            None => work.await,
        };
        match answer {
            Ok(Answer::One(response)) => {
                guard.end(None);
                response
            }
            Ok(Answer::Stream(response)) => {
                // The body records how the call ends from here on.
                guard.hand_over();
                response
            }
            Err(status) => {
                guard.end(None);
                error_response(status)
            }
        }
    }

    /// The response to a unary or client-streaming handler's answer.
    pub(crate) fn answer_one<M: Message>(
        &self,
        response: Result<Response<M>, Status>,
    ) -> Result<Answer, Status> {
        let (head, message, trailers, choice) = split(response?)?;
        let data = self.encoder(choice).encode_one(&message)?;
        let body = Single {
            data: Some(data),
            trailers: Some(ok_trailers(trailers)),
        };
        Ok(Answer::One(self.head(head, BoxBody::new(body))))
    }

    /// The response to a server-streaming or bidirectional handler's answer.
    pub(crate) fn answer_stream<M: Message>(
        &self,
        response: Result<Response<BoxStream<M>>, Status>,
    ) -> Result<Answer, Status> {
        let (head, messages, trailers, choice) = split(response?)?;
        let body = Encoded {
            messages: EncodeStream::new(messages, self.encoder(choice)),
            open: true,
            trailers: Some(trailers),
            deadline: self
                .deadline
                .map(|deadline| Box::pin(tokio::time::sleep_until(deadline.instant()))),
            cancellation: Some(self.cancellation.clone()),
        };
        Ok(Answer::Stream(self.head(head, BoxBody::new(body))))
    }

    fn head(&self, mut head: http::response::Parts, body: BoxBody) -> http::Response<BoxBody> {
        head.headers
            .insert(http::header::CONTENT_TYPE, GRPC_CONTENT_TYPE.clone());
        if let Some(encoding) = self.send_encoding {
            head.headers.insert(GRPC_ENCODING, encoding.header_value());
        }
        http::Response::from_parts(head, body)
    }
}

/// A handler's answer, ready to send.
pub(crate) enum Answer {
    /// A single response message: the call is over once the response exists.
    One(http::Response<BoxBody>),
    /// A stream of response messages: the body ends the call.
    Stream(http::Response<BoxBody>),
}

/// Records a cancellation if the call's future is dropped before it answers.
struct Unanswered(Option<Cancellation>);

impl Unanswered {
    fn end(mut self, reason: Option<Reason>) {
        if let Some(cancellation) = self.0.take() {
            cancellation.end(reason);
        }
    }

    fn hand_over(mut self) {
        self.0 = None;
    }
}

impl Drop for Unanswered {
    fn drop(&mut self) {
        if let Some(cancellation) = self.0.take() {
            cancellation.end(Some(Reason::ClientCancelled));
        }
    }
}

const GRPC_ENCODING: http::HeaderName = http::HeaderName::from_static("grpc-encoding");
const GRPC_STATUS: http::HeaderName = http::HeaderName::from_static("grpc-status");
const GRPC_ACCEPT_ENCODING: http::HeaderName =
    http::HeaderName::from_static("grpc-accept-encoding");

static GRPC_CONTENT_TYPE: http::HeaderValue = http::HeaderValue::from_static("application/grpc");

fn deadline_exceeded() -> Status {
    Status::deadline_exceeded("the deadline expired before the call ended")
}

/// The encoding of the request's compressed messages; an encoding this server
/// does not accept is answered with UNIMPLEMENTED and the ones it does accept.
fn receive_encoding(
    headers: &http::HeaderMap,
    accept: Encodings,
) -> Result<Option<CompressionEncoding>, Status> {
    let Some(value) = headers.get(GRPC_ENCODING) else {
        return Ok(None);
    };
    if value.as_bytes() == b"identity" {
        return Ok(None);
    }
    if let Some(encoding) = CompressionEncoding::from_name(value.as_bytes())
        && accept.is_enabled(encoding)
    {
        return Ok(Some(encoding));
    }
    let names: Vec<&str> = accept.iter().map(CompressionEncoding::as_str).collect();
    let mut status = Status::unimplemented(format!(
        "this server does not accept messages compressed with {:?}; it accepts: {}",
        String::from_utf8_lossy(value.as_bytes()),
        if names.is_empty() {
            "identity (uncompressed) only".to_owned()
        } else {
            names.join(", ")
        }
    ));
    let list = accept
        .header_value()
        .unwrap_or(http::HeaderValue::from_static("identity"));
    if let Ok(list) = crate::base::metadata::AsciiMetadataValue::try_from(list.as_bytes()) {
        status.metadata_mut().insert("grpc-accept-encoding", list);
    }
    Err(status)
}

/// Reads the one request message of a unary or server-streaming call.
pub(crate) async fn read_one<B: RequestBody, M: Message>(
    body: B,
    call: &Call,
) -> Result<(M, ReceivedCompression), Status> {
    let decoded = read_payload(body, call).await?;
    let message = M::decode(decoded.bytes)
        .map_err(|err| Status::internal(format!("decoding request: {err}")))?;
    Ok((message, ReceivedCompression::of_one(decoded.compressed)))
}

/// Reads the one framed request message, decompressed. Generic over the body
/// only, which is the same type for every method of a server. Zero or two
/// messages is a cardinality violation: UNIMPLEMENTED, as gRPC's status code
/// table says.
async fn read_payload<B: RequestBody>(body: B, call: &Call) -> Result<Decoded, Status> {
    let body = std::pin::pin!(body);
    let mut messages = BodyDecoder::new(body, call.decoder());
    let Some(message) = std::future::poll_fn(|cx| messages.poll_message(cx)).await? else {
        return Err(Status::unimplemented(
            "the request carried no message; this method takes exactly one",
        ));
    };
    if std::future::poll_fn(|cx| messages.poll_message(cx))
        .await?
        .is_some()
    {
        return Err(Status::unimplemented(
            "the request carried more than one message; this method takes exactly one",
        ));
    }
    Ok(message)
}

/// The stream of request messages of a client-streaming or bidirectional call.
pub(crate) fn request_stream<B: RequestBody, M: Message>(
    body: B,
    call: &Call,
) -> (Streaming<M>, ReceivedCompression) {
    let messages = Streaming::request(
        crate::base::body::status_body(body),
        call.decoder(),
        ReceivedCompression::new(),
    );
    let received = messages.received();
    (messages, received)
}

/// Turns a decoded request message into the handler's request.
pub(crate) fn request<M>(
    head: http::request::Parts,
    message: M,
    received: ReceivedCompression,
) -> Request<M> {
    let mut request = Request::from_http(http::Request::from_parts(head, message));
    request.extensions_mut().insert(received);
    request
}

/// Splits a handler's response into its head, message(s), the trailers the
/// handler set and its compression choice, refusing reserved metadata.
fn split<T>(
    mut response: Response<T>,
) -> Result<
    (
        http::response::Parts,
        T,
        http::HeaderMap,
        Option<SendCompression>,
    ),
    Status,
> {
    metadata::check_response(&mut response)?;
    let (metadata, message, mut extensions) = response.into_parts();
    let trailers = extensions
        .remove::<Trailers>()
        .map(|Trailers(trailers)| trailers.into_headers())
        .unwrap_or_default();
    let choice = extensions.remove::<SendCompression>();
    let (mut head, ()) = http::Response::new(()).into_parts();
    head.headers = metadata.into_headers();
    head.extensions = extensions;
    Ok((head, message, trailers, choice))
}

/// The trailers of a call that ended OK, with the handler's own.
fn ok_trailers(mut trailers: http::HeaderMap) -> http::HeaderMap {
    trailers.insert(GRPC_STATUS, http::HeaderValue::from_static("0"));
    trailers
}

/// The trailers of a call that ended with `status`, with the handler's own.
fn status_trailers(mut status: Status, mut trailers: http::HeaderMap) -> http::HeaderMap {
    metadata::strip_status(&mut status);
    if let Err(status) = status.add_header(&mut trailers) {
        let _ = Status::internal(status.message().to_owned()).add_header(&mut trailers);
    }
    trailers
}

/// A trailers-only response for a call that failed before any message.
fn error_response(mut status: Status) -> http::Response<BoxBody> {
    metadata::strip_status(&mut status);
    status.into_http()
}

/// The response body of a call with one response message: that message, then
/// the trailers.
struct Single {
    data: Option<Bytes>,
    trailers: Option<http::HeaderMap>,
}

impl http_body::Body for Single {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Status>>> {
        if let Some(data) = self.data.take() {
            return Poll::Ready(Some(Ok(http_body::Frame::data(data))));
        }
        Poll::Ready(
            self.trailers
                .take()
                .map(|t| Ok(http_body::Frame::trailers(t))),
        )
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_none() && self.trailers.is_none()
    }
}

/// A served call's response body: the encoded messages, then the trailers.
struct Encoded<M> {
    messages: EncodeStream<BoxStream<M>, M>,
    /// Messages may still come.
    open: bool,
    /// The trailers to send last; before the end of the messages, the ones the
    /// handler set.
    trailers: Option<http::HeaderMap>,
    deadline: Option<Pin<Box<Sleep>>>,
    /// Told how the call ended; `None` once told.
    cancellation: Option<Cancellation>,
}

impl<M> Unpin for Encoded<M> {}

impl<M> Encoded<M> {
    /// Ends the messages with `trailers` (the status and the handler's own).
    fn finish(&mut self, status: Option<Status>, reason: Option<Reason>) {
        self.open = false;
        self.deadline = None;
        let extra = self.trailers.take().unwrap_or_default();
        self.trailers = Some(match status {
            None => ok_trailers(extra),
            Some(status) => status_trailers(status, extra),
        });
        if let Some(cancellation) = self.cancellation.take() {
            cancellation.end(reason);
        }
    }
}

impl<M: Message> http_body::Body for Encoded<M> {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Status>>> {
        let this = &mut *self;
        if this.open {
            // Checked first, so a stream that is always ready still ends on time.
            if let Some(deadline) = &mut this.deadline
                && deadline.as_mut().poll(cx).is_ready()
            {
                this.finish(Some(deadline_exceeded()), Some(Reason::DeadlineExceeded));
            } else {
                match ready!(this.messages.poll_data(cx)) {
                    Frames::Data(data) => {
                        return Poll::Ready(Some(Ok(http_body::Frame::data(data))));
                    }
                    Frames::End => this.finish(None, None),
                    Frames::Error(status) => this.finish(Some(status), None),
                }
            }
        }
        Poll::Ready(
            this.trailers
                .take()
                .map(|t| Ok(http_body::Frame::trailers(t))),
        )
    }

    fn is_end_stream(&self) -> bool {
        !self.open && self.trailers.is_none()
    }
}

impl<M> Drop for Encoded<M> {
    fn drop(&mut self) {
        if let Some(cancellation) = self.cancellation.take() {
            cancellation.end(Some(Reason::ClientCancelled));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use http_body::Body as _;

    use super::*;

    /// A stream whose messages are always ready, forever.
    struct Endless;

    impl futures_core::Stream for Endless {
        type Item = Result<Vec<u8>, Status>;

        fn poll_next(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
            Poll::Ready(Some(Ok(vec![1; 100])))
        }
    }

    #[tokio::test]
    async fn an_always_ready_response_stream_still_ends_at_its_deadline() {
        let mut request = http::Request::new(());
        request
            .extensions_mut()
            .insert(ServerTimeout(Duration::from_millis(50)));
        let call = Call::start(
            &mut request,
            Encodings::default(),
            Encodings::default(),
            CallLimits::new(),
        )
        .unwrap();
        let stream: BoxStream<Vec<u8>> = Box::pin(Endless);
        let Ok(Answer::Stream(response)) = call.answer_stream(Ok(Response::new(stream))) else {
            panic!("a stream answer")
        };
        let mut body = response.into_body();
        let trailers = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                let frame = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx))
                    .await
                    .expect("a frame")
                    .expect("no error");
                if let Ok(trailers) = frame.into_trailers() {
                    break trailers;
                }
                // Yield as h2 would between frames.
                tokio::task::yield_now().await;
            }
        })
        .await
        .expect("the deadline ends the stream");
        assert_eq!(trailers.get("grpc-status").unwrap(), "4");
    }
}
