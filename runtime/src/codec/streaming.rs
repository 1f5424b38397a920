//! [`Streaming`]: the messages of a stream a call receives, decoded as they
//! arrive; on a client, the status in the trailers ends it.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use crate::base::body::{BoxBody, Message, StatusBody, status_body};
use crate::base::metadata::MetadataMap;
use crate::base::status::{self, Code, Status};
use crate::codec::compression::ReceivedCompression;
use crate::codec::decode::{BodyDecoder, Decoder};

/// A stream of received messages: a server's request stream, or a client's
/// response stream.
///
/// Read it with [`message`](Self::message), or as a
/// [`Stream`](futures_core::Stream) of `Result<T, Status>`. On a client the stream
/// ends with the call's status: `Ok(None)` (or the end of the `Stream`) when the
/// server ended the call with OK, the error status otherwise. After an error it
/// yields nothing more.
pub struct Streaming<T> {
    decoder: BodyDecoder<StatusBody>,
    received: ReceivedCompression,
    side: Side,
    state: State,
    /// On a client: the response headers, once they arrived.
    headers: Option<MetadataMap>,
    /// On a client whose call was handed back before the response headers:
    /// the rest of the call's start, which gives the real stream.
    head: Option<Head<T>>,
    _message: PhantomData<fn() -> T>,
}

/// The start of a call still under way: the response headers and the stream.
pub(crate) type Head<T> =
    Pin<Box<dyn Future<Output = Result<(MetadataMap, Streaming<T>), Status>> + Send>>;

/// Which end of a call reads the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    /// A server reading requests: the body's end is the stream's end.
    Server,
    /// A client reading responses: the trailers say how the call ended.
    Client,
}

#[derive(Debug)]
enum State {
    Open,
    /// Ended OK, with these trailers.
    Ended(Option<MetadataMap>),
    /// Ended with an error already returned.
    Failed,
}

impl<T> std::fmt::Debug for Streaming<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Streaming")
            .field("side", &self.side)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl<T> Streaming<T> {
    /// A server's stream of request messages.
    pub(crate) fn request(
        body: StatusBody,
        decoder: Decoder,
        received: ReceivedCompression,
    ) -> Self {
        Self::new(body, decoder, received, Side::Server, State::Open)
    }

    /// A client's stream of response messages, ended by the trailers' status.
    pub(crate) fn response(
        body: StatusBody,
        decoder: Decoder,
        received: ReceivedCompression,
    ) -> Self {
        Self::new(body, decoder, received, Side::Client, State::Open)
    }

    /// Takes `headers` as the trailers if the body ends with no message and
    /// no trailers of its own (see [`BodyDecoder::fallback_trailers`]).
    pub(crate) fn with_fallback_trailers(mut self, headers: http::HeaderMap) -> Self {
        self.decoder.fallback_trailers(headers);
        self
    }

    /// A client's response stream that ended OK in its headers (a trailers-only
    /// response): no messages.
    pub(crate) fn ended(body: StatusBody, trailers: MetadataMap) -> Self {
        Self::new(
            body,
            Decoder::new(None, 0),
            ReceivedCompression::new(),
            Side::Client,
            State::Ended(Some(trailers)),
        )
    }

    fn new(
        body: StatusBody,
        decoder: Decoder,
        received: ReceivedCompression,
        side: Side,
        state: State,
    ) -> Self {
        Self {
            decoder: BodyDecoder::new(body, decoder),
            received,
            side,
            state,
            headers: None,
            head: None,
            _message: PhantomData,
        }
    }

    /// A client's stream whose response headers have not arrived yet: `head`
    /// gives them and the stream.
    pub(crate) fn deferred(head: Head<T>) -> Self {
        let mut stream = Self::new(
            status_body(BoxBody::empty()),
            Decoder::new(None, 0),
            ReceivedCompression::new(),
            Side::Client,
            State::Open,
        );
        stream.head = Some(head);
        stream
    }

    /// Keeps the response headers, for [`headers`](Self::headers).
    pub(crate) fn with_headers(mut self, headers: MetadataMap) -> Self {
        self.headers = Some(headers);
        self
    }

    /// On a client: the response headers, once they have arrived (a
    /// bidirectional call may be handed back before they do; reading a
    /// message waits for them).
    pub fn headers(&self) -> Option<&MetadataMap> {
        self.headers.as_ref()
    }

    /// The record of which messages arrived compressed.
    pub(crate) fn received(&self) -> ReceivedCompression {
        self.received.clone()
    }
}

impl<T: Message> Streaming<T> {
    /// The next message; `None` once the stream ended OK.
    ///
    /// # Errors
    ///
    /// The call's error status: from the server's trailers, a malformed or
    /// oversized message, or a broken connection.
    pub async fn message(&mut self) -> Result<Option<T>, Status> {
        std::future::poll_fn(|cx| self.poll_message(cx)).await
    }

    /// The trailing metadata, once every message has been read; messages not
    /// read yet are read and dropped. `None` on a server (clients send none) or
    /// when the call failed.
    ///
    /// # Errors
    ///
    /// The call's error status, as [`message`](Self::message) gives it.
    pub async fn trailers(&mut self) -> Result<Option<MetadataMap>, Status> {
        while self.message().await?.is_some() {}
        Ok(match &mut self.state {
            State::Ended(trailers) => trailers.take(),
            State::Open | State::Failed => None,
        })
    }

    fn poll_message(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<T>, Status>> {
        if let Some(head) = self.head.as_mut() {
            let started = ready!(head.as_mut().poll(cx));
            self.head = None;
            match started {
                Ok((headers, stream)) => {
                    // The record handed out with the response stays the one.
                    let received = self.received.clone();
                    *self = stream.with_headers(headers);
                    self.received = received;
                }
                Err(status) => return Poll::Ready(self.fail(status)),
            }
        }
        if !matches!(self.state, State::Open) {
            return Poll::Ready(Ok(None));
        }
        let polled = ready!(self.decoder.poll_message(cx));
        Poll::Ready(match polled {
            Ok(Some(decoded)) => match T::decode(decoded.bytes) {
                Ok(message) => {
                    self.received.decoded(decoded.compressed);
                    Ok(Some(message))
                }
                Err(err) => self.fail(Status::internal(format!("decoding a message: {err}"))),
            },
            Ok(None) => self.end(),
            Err(status) => self.fail(status),
        })
    }

    fn fail(&mut self, status: Status) -> Result<Option<T>, Status> {
        self.state = State::Failed;
        Err(status)
    }

    /// The body ended after its last message.
    fn end(&mut self) -> Result<Option<T>, Status> {
        let trailers = self.decoder.take_trailers();
        if self.side == Side::Server {
            self.state = State::Ended(trailers.map(MetadataMap::from_headers));
            return Ok(None);
        }
        let Some(trailers) = trailers else {
            return self.fail(Status::internal(
                "the server closed the stream without sending trailers",
            ));
        };
        match status::from_headers(&trailers) {
            Some(status) if status.code() == Code::Ok => {
                self.state = State::Ended(Some(MetadataMap::from_headers(trailers)));
                Ok(None)
            }
            Some(status) => self.fail(status),
            None => self.fail(Status::internal(
                "protocol error: the server's trailers carry no grpc-status",
            )),
        }
    }
}

impl<T: Message> futures_core::Stream for Streaming<T> {
    type Item = Result<T, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.poll_message(cx).map(Result::transpose)
    }
}

// Nothing in it is pinned structurally: the body is boxed.
impl<T> Unpin for Streaming<T> {}
