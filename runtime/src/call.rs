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

use bytes::{Buf as _, BufMut as _, Bytes, BytesMut};
use tokio::time::Sleep;
use tonic::codec::EnabledCompressionEncodings;

use crate::cancel::{Cancellation, Reason};
use crate::codegen::{BoxBody, Message, RequestBody, Trailers};
use crate::compression::{self, ReceivedCompression, SendCompression};
use crate::deadline::{self, Deadline};
use crate::limits::{self, CallLimits};
use crate::server::ServerTimeout;
use crate::{BoxStream, CompressionEncoding, Request, Response, Status, reserved};

/// Response messages are gathered into one DATA frame up to about this many
/// bytes while the handler's stream has them ready.
const GATHER: usize = 32 * 1024;

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
        accept: EnabledCompressionEncodings,
        send: EnabledCompressionEncodings,
        server_limits: CallLimits,
    ) -> Result<Self, Status> {
        let mut deadline = deadline::server_deadline(request.headers())?;
        if let Some(ServerTimeout(timeout)) = request.extensions().get().copied() {
            let server = Deadline::after(timeout);
            deadline = Some(deadline.map_or(server, |own| own.min(server)));
        }
        let receive_encoding = receive_encoding(request.headers(), accept)?;
        let send_encoding = compression::negotiate(request.headers(), send);
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
            receive_limit: limits.receive_limit(),
            send_limit: limits.send(),
        })
    }

    pub(crate) fn receive_encoding(&self) -> Option<CompressionEncoding> {
        self.receive_encoding
    }

    pub(crate) fn receive_limit(&self) -> usize {
        self.receive_limit
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
        let encoding = self.send_encoding.filter(|_| choice.get().unwrap_or(true));
        let data = encode(&message, encoding, self.send_limit)?;
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
            messages: Some(messages),
            trailers: Some(trailers),
            send_encoding: self.send_encoding,
            choice,
            send_limit: self.send_limit,
            deadline: self
                .deadline
                .map(|deadline| Box::pin(tokio::time::sleep_until(deadline.at))),
            cancellation: Some(self.cancellation.clone()),
            buf: BytesMut::new(),
            next: None,
        };
        Ok(Answer::Stream(self.head(head, BoxBody::new(body))))
    }

    fn head(&self, mut head: http::response::Parts, body: BoxBody) -> http::Response<BoxBody> {
        head.headers
            .insert(http::header::CONTENT_TYPE, GRPC_CONTENT_TYPE.clone());
        if let Some(encoding) = self.send_encoding {
            head.headers
                .insert(GRPC_ENCODING, header_value(encoding.to_string()));
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

static GRPC_CONTENT_TYPE: http::HeaderValue = http::HeaderValue::from_static("application/grpc");

fn header_value(value: String) -> http::HeaderValue {
    http::HeaderValue::try_from(value).expect("encoding names are valid header values")
}

fn deadline_exceeded() -> Status {
    Status::deadline_exceeded("the deadline expired before the call ended")
}

/// The encoding of the request's compressed messages; an encoding this server
/// does not accept is answered with UNIMPLEMENTED and the ones it does accept.
fn receive_encoding(
    headers: &http::HeaderMap,
    accept: EnabledCompressionEncodings,
) -> Result<Option<CompressionEncoding>, Status> {
    let Some(value) = headers.get(GRPC_ENCODING) else {
        return Ok(None);
    };
    if value.as_bytes() == b"identity" {
        return Ok(None);
    }
    let accepted = compression::accepted(accept);
    if let Some(encoding) = accepted
        .iter()
        .copied()
        .find(|encoding| encoding.to_string().as_bytes() == value.as_bytes())
    {
        return Ok(Some(encoding));
    }
    let names: Vec<String> = accepted.iter().map(ToString::to_string).collect();
    let mut status = Status::unimplemented(format!(
        "this server does not accept messages compressed with {:?}; it accepts: {}",
        String::from_utf8_lossy(value.as_bytes()),
        if names.is_empty() {
            "identity (uncompressed) only".to_owned()
        } else {
            names.join(", ")
        }
    ));
    let list = if names.is_empty() {
        "identity".to_owned()
    } else {
        names.join(",")
    };
    if let Ok(list) = list.parse() {
        status.metadata_mut().insert("grpc-accept-encoding", list);
    }
    Err(status)
}

/// Reads the one request message of a unary or server-streaming call.
pub(crate) async fn read_one<B: RequestBody, M: Message>(
    body: B,
    call: &Call,
) -> Result<(M, ReceivedCompression), Status> {
    let (payload, compressed) = read_payload(body, call).await?;
    let message =
        M::decode(payload).map_err(|err| Status::internal(format!("decoding request: {err}")))?;
    Ok((message, ReceivedCompression::of_one(compressed)))
}

/// Reads the one framed request message and returns its bytes, decompressed,
/// and whether it arrived compressed. Generic over the body only, which is the
/// same type for every method of a server.
async fn read_payload<B: RequestBody>(body: B, call: &Call) -> Result<(Bytes, bool), Status> {
    let mut body = std::pin::pin!(body);
    let limit = call.receive_limit;
    // The common case, one DATA frame holding the whole message, is not copied.
    let mut first: Option<Bytes> = None;
    let mut joined = BytesMut::new();
    let mut want: Option<usize> = None;
    while let Some(frame) = std::future::poll_fn(|cx| body.as_mut().poll_frame(cx)).await {
        let frame = frame.map_err(|err| Status::from_error(err.into()))?;
        let Ok(mut data) = frame.into_data() else {
            continue;
        };
        let chunk = data.copy_to_bytes(data.remaining());
        if chunk.is_empty() {
            continue;
        }
        match first.take() {
            None if joined.is_empty() => first = Some(chunk),
            None => joined.extend_from_slice(&chunk),
            Some(earlier) => {
                joined.extend_from_slice(&earlier);
                joined.extend_from_slice(&chunk);
            }
        }
        let have = first.as_ref().map_or(&joined[..], |first| &first[..]);
        if want.is_none() && have.len() >= 5 {
            let len = u32::from_be_bytes([have[1], have[2], have[3], have[4]]) as usize;
            if len > limit {
                return Err(limits::received_too_large(len, limit));
            }
            want = Some(5 + len);
        }
        if want.is_some_and(|want| have.len() > want) {
            return Err(Status::internal(
                "a unary request carried more than one message",
            ));
        }
    }
    let framed = first.unwrap_or_else(|| joined.freeze());
    if want != Some(framed.len()) {
        return Err(Status::internal(if framed.is_empty() {
            "the request carried no message"
        } else {
            "the request ended in the middle of a message"
        }));
    }
    let flag = framed[0];
    let payload = framed.slice(5..);
    let payload = match flag {
        0 => payload,
        1 => {
            let Some(encoding) = call.receive_encoding else {
                return Err(Status::internal(
                    "protocol error: a request message is marked compressed but the call names no grpc-encoding",
                ));
            };
            compression::decompress(encoding, &payload, limit)?
        }
        other => {
            return Err(Status::internal(format!(
                "protocol error: invalid compressed flag {other} in a request message (only 0 and 1 are valid)"
            )));
        }
    };
    Ok((payload, flag == 1))
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
) -> Result<(http::response::Parts, T, http::HeaderMap, SendCompression), Status> {
    reserved::check_response(&mut response)?;
    let (metadata, message, mut extensions) = response.into_parts();
    let trailers = extensions
        .remove::<Trailers>()
        .map(|Trailers(trailers)| trailers.into_headers())
        .unwrap_or_default();
    let choice = extensions.remove::<SendCompression>().unwrap_or_default();
    let (mut head, ()) = http::Response::new(()).into_parts();
    head.headers = metadata.into_headers();
    head.extensions = extensions;
    Ok((head, message, trailers, choice))
}

/// Encodes one message with its 5-byte prefix, compressed with `encoding` if
/// given.
fn encode<M: Message>(
    message: &M,
    encoding: Option<CompressionEncoding>,
    limit: Option<usize>,
) -> Result<Bytes, Status> {
    let mut buf = BytesMut::new();
    encode_into(message, message.encoded_len(), encoding, limit, &mut buf)?;
    Ok(buf.freeze())
}

/// Like [`encode`], appending to `buf`; `len` is the message's encoded length.
fn encode_into<M: Message>(
    message: &M,
    len: usize,
    encoding: Option<CompressionEncoding>,
    limit: Option<usize>,
    buf: &mut BytesMut,
) -> Result<(), Status> {
    if let Some(limit) = limit
        && len > limit
    {
        return Err(Status::resource_exhausted(format!(
            "trying to send message larger than max ({len} vs. {limit} bytes)"
        )));
    }
    let start = buf.len();
    match encoding {
        None => {
            buf.reserve(5 + len);
            buf.put_u8(0);
            buf.put_u32(prefix_len(len)?);
            message
                .encode(buf)
                .map_err(|err| Status::internal(format!("encoding response: {err}")))?;
        }
        Some(encoding) => {
            let plain = message.encode_to_vec();
            buf.put_bytes(0, 5);
            compression::compress_into(encoding, &plain, &mut *buf)
                .map_err(|err| Status::internal(format!("compressing response: {err}")))?;
            let len = prefix_len(buf.len() - start - 5)?;
            buf[start] = 1;
            buf[start + 1..start + 5].copy_from_slice(&len.to_be_bytes());
        }
    }
    Ok(())
}

fn prefix_len(len: usize) -> Result<u32, Status> {
    u32::try_from(len).map_err(|_| {
        Status::resource_exhausted(format!("a message of {len} bytes is too large for gRPC"))
    })
}

/// The trailers of a call that ended OK, with the handler's own.
fn ok_trailers(mut trailers: http::HeaderMap) -> http::HeaderMap {
    trailers.insert(GRPC_STATUS, http::HeaderValue::from_static("0"));
    trailers
}

/// The trailers of a call that ended with `status`, with the handler's own.
fn status_trailers(mut status: Status, mut trailers: http::HeaderMap) -> http::HeaderMap {
    reserved::strip_status(&mut status);
    if let Err(status) = status.add_header(&mut trailers) {
        let _ = Status::internal(status.message().to_owned()).add_header(&mut trailers);
    }
    trailers
}

/// A trailers-only response for a call that failed before any message.
fn error_response(mut status: Status) -> http::Response<BoxBody> {
    reserved::strip_status(&mut status);
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
    /// The handler's messages still to come.
    messages: Option<BoxStream<M>>,
    /// The trailers to send last; before the end of the messages, the ones the
    /// handler set.
    trailers: Option<http::HeaderMap>,
    send_encoding: Option<CompressionEncoding>,
    choice: SendCompression,
    send_limit: Option<usize>,
    deadline: Option<Pin<Box<Sleep>>>,
    /// Told how the call ended; `None` once told.
    cancellation: Option<Cancellation>,
    /// Where frames are encoded; its space is reused once h2 has sent a frame.
    buf: BytesMut,
    /// A message taken from the stream that did not fit in the last frame.
    next: Option<M>,
}

// Nothing in it is pinned structurally: `next` is only moved, never polled.
impl<M> Unpin for Encoded<M> {}

impl<M> Encoded<M> {
    /// Ends the messages with `trailers` (the status and the handler's own).
    fn finish(&mut self, status: Option<Status>, reason: Option<Reason>) {
        self.messages = None;
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
        let Some(messages) = &mut this.messages else {
            return Poll::Ready(
                this.trailers
                    .take()
                    .map(|t| Ok(http_body::Frame::trailers(t))),
            );
        };
        loop {
            let polled = match this.next.take() {
                Some(message) => Poll::Ready(Some(Ok(message))),
                None => messages.as_mut().poll_next(cx),
            };
            match polled {
                Poll::Ready(Some(Ok(message))) => {
                    let len = message.encoded_len();
                    // A message that would take the frame past GATHER starts the
                    // next one, so a large message is never copied to grow a buffer.
                    if !this.buf.is_empty() && this.buf.len() + 5 + len > GATHER {
                        this.next = Some(message);
                        break;
                    }
                    let encoding = this
                        .send_encoding
                        .filter(|_| this.choice.get().unwrap_or(true));
                    if let Err(status) =
                        encode_into(&message, len, encoding, this.send_limit, &mut this.buf)
                    {
                        this.finish(Some(status), None);
                        break;
                    }
                    if this.buf.len() >= GATHER {
                        break;
                    }
                }
                Poll::Ready(Some(Err(status))) => {
                    this.finish(Some(status), None);
                    break;
                }
                Poll::Ready(None) => {
                    this.finish(None, None);
                    break;
                }
                Poll::Pending => {
                    if this.buf.is_empty()
                        && let Some(deadline) = &mut this.deadline
                    {
                        ready!(deadline.as_mut().poll(cx));
                        this.finish(Some(deadline_exceeded()), Some(Reason::DeadlineExceeded));
                        break;
                    }
                    if this.buf.is_empty() {
                        return Poll::Pending;
                    }
                    break;
                }
            }
        }
        if !this.buf.is_empty() {
            return Poll::Ready(Some(Ok(http_body::Frame::data(this.buf.split().freeze()))));
        }
        Poll::Ready(
            this.trailers
                .take()
                .map(|t| Ok(http_body::Frame::trailers(t))),
        )
    }

    fn is_end_stream(&self) -> bool {
        self.messages.is_none() && self.trailers.is_none()
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
    use std::collections::VecDeque;

    use http_body::Body as _;

    use super::*;

    /// Every message ready at once (tokio-stream's `iter` pauses every 32).
    struct Ready(VecDeque<Result<Vec<u8>, Status>>);

    impl futures_core::Stream for Ready {
        type Item = Result<Vec<u8>, Status>;

        fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
            Poll::Ready(self.0.pop_front())
        }
    }

    /// The DATA frames of a response stream of `sizes`-byte messages, all
    /// ready at once, and its trailers.
    async fn frames(sizes: &[usize]) -> (Vec<Bytes>, http::HeaderMap) {
        // `Vec<u8>` is prost's google.protobuf.BytesValue.
        let messages = Ready(sizes.iter().map(|&size| Ok(vec![7; size])).collect());
        let mut body = Encoded {
            messages: Some(Box::pin(messages)),
            trailers: Some(http::HeaderMap::new()),
            send_encoding: None,
            choice: SendCompression::default(),
            send_limit: None,
            deadline: None,
            cancellation: Some(Cancellation::new()),
            buf: BytesMut::new(),
            next: None,
        };
        let mut data = Vec::new();
        let mut trailers = None;
        while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await
        {
            let frame = frame.unwrap();
            match frame.into_data() {
                Ok(bytes) => data.push(bytes),
                Err(frame) => trailers = frame.into_trailers().ok(),
            }
        }
        (data, trailers.expect("trailers"))
    }

    /// The lengths of the messages in one DATA frame.
    fn message_lengths(mut frame: Bytes) -> Vec<usize> {
        let mut lengths = Vec::new();
        while !frame.is_empty() {
            assert_eq!(frame.get_u8(), 0, "uncompressed");
            let len = frame.get_u32() as usize;
            frame.advance(len);
            lengths.push(len);
        }
        lengths
    }

    #[tokio::test]
    async fn small_messages_are_gathered_into_frames_of_at_most_32_kib() {
        let (frames, trailers) = frames(&[100; 1000]).await;
        assert!(frames.len() > 1 && frames.len() < 10, "{}", frames.len());
        let mut total = 0;
        for frame in frames {
            assert!(frame.len() <= GATHER, "{}", frame.len());
            total += message_lengths(frame).len();
        }
        assert_eq!(total, 1000);
        assert_eq!(trailers.get("grpc-status").unwrap(), "0");
    }

    #[tokio::test]
    async fn a_message_that_would_overfill_a_frame_starts_the_next() {
        let (frames, _) = frames(&[20_000, 20_000, 100, 40_000]).await;
        let lengths: Vec<Vec<usize>> = frames.into_iter().map(message_lengths).collect();
        // BytesValue adds a tag byte and the value's length (a varint).
        assert_eq!(lengths, vec![vec![20_004], vec![20_004, 102], vec![40_004]]);
    }
}
