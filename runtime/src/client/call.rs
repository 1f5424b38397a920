//! The call engine generated clients use: it frames requests with the codec,
//! sends them through any transport, and reads the response head, messages and
//! trailers back into a [`Response`] or the call's [`Status`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::uri::PathAndQuery;
use tokio::time::Instant;

use crate::base::body::{BoxBody, Message, StdError, status_body};
use crate::base::call::{Request, Response};
use crate::base::cancel::CancelHandle;
use crate::base::metadata::{self, MetadataMap};
use crate::base::status::{self, Code, Status};
use crate::client::body::{self, SendFailure, Unary};
use crate::client::deadline::{self, DeadlineBody};
use crate::codec::compression::{
    CompressionEncoding, Encodings, ReceivedCompression, SendCompression,
};
use crate::codec::decode::Decoder;
use crate::codec::encode::Encoder;
use crate::codec::limits::{CallLimits, MaxResponseBytes};
use crate::codec::streaming::Streaming;

/// A transport a generated client can call through: a channel, or a channel
/// wrapped in interceptors or tower layers (tonic's `Channel` too).
pub trait Transport:
    tonic::client::GrpcService<
        BoxBody,
        ResponseBody: http_body::Body<Data = Bytes, Error: Into<StdError> + Send> + Send + 'static,
        Error: Into<StdError>,
        Future: Send,
    > + Clone
    + Send
    + Sync
    + 'static
{
}

impl<T> Transport for T where
    T: tonic::client::GrpcService<
            BoxBody,
            ResponseBody: http_body::Body<Data = Bytes, Error: Into<StdError> + Send>
                              + Send
                              + 'static,
            Error: Into<StdError>,
            Future: Send,
        > + Clone
        + Send
        + Sync
        + 'static
{
}

/// The shared half of every generated client: the transport plus its per-client
/// settings. Calls take `&self`; each call works on a cheap clone of the transport.
#[derive(Debug, Clone)]
pub struct Client<T> {
    transport: T,
    /// The scheme and authority of every call's URI, when not the transport's.
    origin: Option<http::Uri>,
    send: Option<CompressionEncoding>,
    accept: Encodings,
    limits: CallLimits,
}

impl<T> Client<T> {
    /// Wraps a transport.
    pub fn new(transport: T) -> Self {
        Self {
            transport,
            origin: None,
            send: None,
            accept: Encodings::default(),
            limits: CallLimits::new(),
        }
    }

    /// Wraps a transport, sending every call to `origin` (scheme and authority).
    pub fn with_origin(transport: T, origin: http::Uri) -> Self {
        Self {
            origin: Some(origin),
            ..Self::new(transport)
        }
    }

    /// Compresses requests with `encoding` (gzip, or zstd with the `zstd` feature;
    /// requests stay uncompressed with any other).
    /// [`RequestExt::set_send_compression`](crate::RequestExt::set_send_compression)
    /// chooses per message.
    pub fn send_compressed(self, encoding: CompressionEncoding) -> Self {
        Self {
            send: encoding.is_supported().then_some(encoding),
            ..self
        }
    }

    /// Tells servers this client accepts responses compressed with `encoding`.
    pub fn accept_compressed(mut self, encoding: CompressionEncoding) -> Self {
        self.accept.enable(encoding);
        self
    }

    /// Limits the size of a received response message (4 MiB unless set); a
    /// larger one ends the call with RESOURCE_EXHAUSTED.
    /// [`RequestExt::set_max_decoding_message_size`](crate::RequestExt::set_max_decoding_message_size)
    /// overrides it for one call.
    pub fn max_decoding_message_size(self, limit: usize) -> Self {
        Self {
            limits: self.limits.max_decoding_message_size(limit),
            ..self
        }
    }

    /// Limits the size of a request message to send (unlimited unless set); a
    /// larger one ends the call with RESOURCE_EXHAUSTED.
    /// [`RequestExt::set_max_encoding_message_size`](crate::RequestExt::set_max_encoding_message_size)
    /// overrides it for one call.
    pub fn max_encoding_message_size(self, limit: usize) -> Self {
        Self {
            limits: self.limits.max_encoding_message_size(limit),
            ..self
        }
    }
}

/// One call, ready to send.
struct Prepared {
    request: http::Request<BoxBody>,
    limits: CallLimits,
    cancel: Option<CancelHandle>,
}

/// A response whose head said the call goes on: its metadata, extensions and
/// message stream.
struct Answered<M> {
    metadata: MetadataMap,
    extensions: http::Extensions,
    messages: Streaming<M>,
}

impl<T: Transport> Client<T> {
    /// Turns a request into the HTTP request of a call to `path`, its message(s)
    /// encoded into a body by `encode`.
    fn prepare<M>(
        &self,
        request: Request<M>,
        path: &'static str,
        encode: impl FnOnce(M, Encoder) -> Result<BoxBody, Status>,
    ) -> Result<Prepared, Status> {
        metadata::check_request(request.metadata())?;
        let (metadata, mut extensions, message) = request.into_parts();
        if extensions.get::<tonic::CancellationHandle>().is_some() {
            return Err(Status::internal(
                "tonic's Request::cancellation_handle is not supported by the rust-grpc client: use rust_grpc::RequestExt::cancel_handle",
            ));
        }
        let cancel = extensions.remove::<CancelHandle>();
        let limits = extensions
            .remove::<CallLimits>()
            .unwrap_or_default()
            .or(self.limits);
        let choice = extensions.remove::<SendCompression>();
        let body = encode(message, Encoder::new(self.send, choice, limits.encoding()))?;

        let mut request = http::Request::new(body);
        *request.method_mut() = http::Method::POST;
        *request.version_mut() = http::Version::HTTP_2;
        *request.uri_mut() = self.uri(path);
        let mut headers = metadata.into_headers();
        headers.insert(http::header::TE, TRAILERS.clone());
        headers.insert(http::header::CONTENT_TYPE, GRPC.clone());
        if let Some(encoding) = self.send {
            headers.insert(GRPC_ENCODING, encoding.header_value());
        }
        if let Some(accept) = self.accept.header_value() {
            headers.insert(GRPC_ACCEPT_ENCODING, accept);
        }
        *request.headers_mut() = headers;
        let (service, method) = split_path(path);
        extensions.insert(tonic::GrpcMethod::new(service, method));
        *request.extensions_mut() = extensions;
        Ok(Prepared {
            request,
            limits,
            cancel,
        })
    }

    fn uri(&self, path: &'static str) -> http::Uri {
        let mut parts = http::uri::Parts::default();
        if let Some(origin) = &self.origin {
            parts.scheme = origin.scheme().cloned();
            parts.authority = origin.authority().cloned();
        }
        parts.path_and_query = Some(PathAndQuery::from_static(path));
        if let Some(prefix) = self.origin.as_ref().map(http::Uri::path)
            && prefix != "/"
            && let Ok(joined) =
                PathAndQuery::try_from(format!("{}{path}", prefix.trim_end_matches('/')))
        {
            // An origin with a path (behind a proxy that routes by prefix).
            parts.path_and_query = Some(joined);
        }
        http::Uri::from_parts(parts).unwrap_or_else(|_| http::Uri::from_static("/"))
    }

    /// Sends a prepared call and reads its response head.
    async fn send<M>(
        &self,
        prepared: Prepared,
        deadline: Option<Instant>,
    ) -> Result<Answered<M>, Status> {
        let mut transport = self.transport.clone();
        std::future::poll_fn(|cx: &mut Context<'_>| -> Poll<Result<(), Status>> {
            tonic::client::GrpcService::poll_ready(&mut transport, cx).map_err(|err| {
                let err: StdError = err.into();
                Status::unavailable(format!("the channel is not ready: {err}"))
            })
        })
        .await?;
        let response = tonic::client::GrpcService::call(&mut transport, prepared.request)
            .await
            .map_err(status::from_transport_error)?;
        let (head, body) = response.into_parts();
        // A grpc-status in the headers counts only in a Trailers-Only response,
        // whose HEADERS frame ends the stream; otherwise the trailers say.
        let header_status = head.headers.contains_key(GRPC_STATUS);
        let trailers_only = header_status && http_body::Body::is_end_stream(&body);
        let body = status_body(DeadlineBody::new(body, deadline, prepared.cancel));
        if let Some(status) = trailers_only
            .then(|| status::from_headers(&head.headers))
            .flatten()
        {
            if status.code() != Code::Ok {
                return Err(status);
            }
            // Trailers-only and OK: no messages.
            return Ok(Answered {
                metadata: MetadataMap::new(),
                extensions: head.extensions,
                messages: Streaming::ended(body, MetadataMap::from_headers(head.headers)),
            });
        }
        if head.status != http::StatusCode::OK {
            return Err(status::from_http_status(head.status));
        }
        if let Some(content_type) = head.headers.get(http::header::CONTENT_TYPE)
            && !is_grpc(content_type.as_bytes())
        {
            // Not a gRPC response: its status comes from HTTP's (200 is UNKNOWN).
            return Err(Status::new(
                status::from_http_status(head.status).code(),
                format!(
                    "the server answered with content-type {:?}, not application/grpc",
                    String::from_utf8_lossy(content_type.as_bytes())
                ),
            ));
        }
        let encoding = match head.headers.get(GRPC_ENCODING) {
            None => None,
            Some(name) if name.as_bytes() == b"identity" => None,
            Some(name) => Some(CompressionEncoding::from_name(name.as_bytes()).ok_or_else(
                || {
                    Status::internal(format!(
                        "the server compressed its response with {:?}, which this client cannot decompress",
                        String::from_utf8_lossy(name.as_bytes())
                    ))
                },
            )?),
        };
        let mut limit = prepared.limits.decoding_limit();
        if let Some(MaxResponseBytes(max)) = head.extensions.get::<MaxResponseBytes>() {
            limit = limit.min(*max);
        }
        let decoder = Decoder::new(encoding, limit);
        let mut messages = Streaming::response(body, decoder, ReceivedCompression::new());
        if header_status {
            // A grpc-status in headers that did not end the stream: it holds
            // only if the body then ends with no message and no trailers (an
            // empty DATA frame after the headers, as some servers send).
            messages = messages.with_fallback_trailers(head.headers.clone());
        }
        Ok(Answered {
            metadata: MetadataMap::from_headers(head.headers),
            extensions: head.extensions,
            messages,
        })
    }

    /// Reads the one response message and the trailers of a unary or
    /// client-streaming call.
    async fn one<Resp: Message>(answered: Answered<Resp>) -> Result<Response<Resp>, Status> {
        let Answered {
            metadata,
            mut extensions,
            mut messages,
        } = answered;
        // A failed call's status also carries the response headers, as tonic's does.
        let with_headers = |mut status: Status| {
            let mut merged = metadata.clone().into_headers();
            merged.extend(std::mem::take(status.metadata_mut()).into_headers());
            *status.metadata_mut() = MetadataMap::from_headers(merged);
            status
        };
        // Zero or two messages is a cardinality violation: UNIMPLEMENTED, as
        // gRPC's status code table says.
        let message = messages
            .message()
            .await
            .map_err(with_headers)?
            .ok_or_else(|| {
                Status::unimplemented("the server ended the call OK without a response message")
            })?;
        if messages.message().await.map_err(with_headers)?.is_some() {
            return Err(Status::unimplemented(
                "the server sent more than one response message to a call that takes one",
            ));
        }
        let trailers = messages.trailers().await.map_err(with_headers)?;
        let mut headers = metadata.into_headers();
        if let Some(trailers) = trailers {
            // The metadata has the trailers too (tonic's merge: a trailer
            // replaces a header of its name); the extension has them alone.
            let trailers = trailers.into_headers();
            for name in trailers.keys() {
                headers.remove(name);
            }
            for (name, value) in &trailers {
                headers.append(name.clone(), value.clone());
            }
            extensions.insert(metadata::ReceivedTrailers(MetadataMap::from_headers(
                trailers,
            )));
        }
        extensions.insert(messages.received());
        Ok(Response::from_parts(
            MetadataMap::from_headers(headers),
            message,
            extensions,
        ))
    }

    fn stream<Resp>(answered: Answered<Resp>) -> Response<Streaming<Resp>> {
        let mut extensions = answered.extensions;
        extensions.insert(answered.messages.received());
        let messages = answered.messages.with_headers(answered.metadata.clone());
        Response::from_parts(answered.metadata, messages, extensions)
    }

    /// Makes a unary call to `path` (`/package.Service/Method`).
    ///
    /// # Errors
    ///
    /// Returns the call's status when it does not end with OK.
    pub async fn unary<Req: Message, Resp: Message>(
        &self,
        request: Request<Req>,
        path: &'static str,
    ) -> Result<Response<Resp>, Status> {
        let deadline = deadline::of_request(&request);
        let cancel = request.extensions().get::<CancelHandle>().cloned();
        deadline::run(deadline, cancel, async {
            let prepared = self.prepare(request, path, encode_one)?;
            Self::one(self.send(prepared, deadline).await?).await
        })
        .await
    }

    /// Makes a server-streaming call to `path`.
    ///
    /// # Errors
    ///
    /// Returns the call's status when it fails before the response headers.
    pub async fn server_streaming<Req: Message, Resp: Message>(
        &self,
        request: Request<Req>,
        path: &'static str,
    ) -> Result<Response<Streaming<Resp>>, Status> {
        let deadline = deadline::of_request(&request);
        let cancel = request.extensions().get::<CancelHandle>().cloned();
        deadline::run(deadline, cancel, async {
            let prepared = self.prepare(request, path, encode_one)?;
            Ok(Self::stream(self.send(prepared, deadline).await?))
        })
        .await
    }

    /// Makes a client-streaming call to `path`.
    ///
    /// # Errors
    ///
    /// Returns the call's status when it does not end with OK.
    pub async fn client_streaming<S, Req: Message, Resp: Message>(
        &self,
        request: Request<S>,
        path: &'static str,
    ) -> Result<Response<Resp>, Status>
    where
        S: futures_core::Stream<Item = Req> + Send + 'static,
    {
        let deadline = deadline::of_request(&request);
        let cancel = request.extensions().get::<CancelHandle>().cloned();
        let failure = SendFailure::default();
        let call = deadline::run(deadline, cancel, async {
            let prepared = self.prepare(request, path, encode_stream(failure.clone(), None))?;
            Self::one(self.send(prepared, deadline).await?).await
        });
        call.await.map_err(|status| failure.or(status))
    }

    /// Makes a bidirectional streaming call to `path`.
    ///
    /// The call is handed back once the server's response headers arrive, or
    /// as soon as `request`'s stream has nothing to send yet, whichever is
    /// first: a server that sends its headers only with its first response
    /// (grpc-go's default, etcd's Watch) cannot deadlock a caller who sends
    /// after the call returns. Headers that arrive later are not in the
    /// response's metadata; [`Streaming::headers`] has them either way.
    ///
    /// # Errors
    ///
    /// Returns the call's status when it fails before it is handed back;
    /// later failures come from the stream.
    pub async fn streaming<S, Req: Message, Resp: Message>(
        &self,
        request: Request<S>,
        path: &'static str,
    ) -> Result<Response<Streaming<Resp>>, Status>
    where
        S: futures_core::Stream<Item = Req> + Send + 'static,
    {
        let deadline = deadline::of_request(&request);
        let cancel = request.extensions().get::<CancelHandle>().cloned();
        let failure = SendFailure::default();
        let waiting = Arc::new(tokio::sync::Notify::new());
        let prepared = match self.prepare(
            request,
            path,
            encode_stream(failure.clone(), Some(Arc::clone(&waiting))),
        ) {
            Ok(prepared) => prepared,
            Err(status) => return Err(failure.or(status)),
        };
        let this = self.clone();
        let head_failure = failure.clone();
        let mut head: Pin<Box<dyn Future<Output = Result<Answered<Resp>, Status>> + Send>> =
            Box::pin(async move {
                deadline::run(deadline, cancel, this.send(prepared, deadline))
                    .await
                    .map_err(|status| head_failure.or(status))
            });
        tokio::select! {
            biased;
            answered = &mut head => Ok(Self::stream(answered?)),
            () = waiting.notified() => {
                let rest = async move {
                    let answered = head.await?;
                    let metadata = answered.metadata.clone();
                    Ok((metadata, Self::stream(answered).into_inner()))
                };
                let messages = Streaming::deferred(Box::pin(rest));
                let mut response = Response::new(messages);
                let received = response.get_ref().received();
                response.extensions_mut().insert(received);
                Ok(response)
            }
        }
    }
}

fn encode_one<M: Message>(message: M, encoder: Encoder) -> Result<BoxBody, Status> {
    Ok(BoxBody::new(Unary::new(encoder.encode_one(&message)?)))
}

fn encode_stream<S>(
    failure: SendFailure,
    waiting: Option<Arc<tokio::sync::Notify>>,
) -> impl FnOnce(S, Encoder) -> Result<BoxBody, Status>
where
    S: futures_core::Stream<Item: Message> + Send + 'static,
{
    move |messages, encoder| {
        Ok(BoxBody::new(body::Streaming::new(
            messages, encoder, failure, waiting,
        )))
    }
}

const GRPC_ENCODING: http::HeaderName = http::HeaderName::from_static("grpc-encoding");
const GRPC_ACCEPT_ENCODING: http::HeaderName =
    http::HeaderName::from_static("grpc-accept-encoding");
const GRPC_STATUS: http::HeaderName = http::HeaderName::from_static("grpc-status");
static TRAILERS: http::HeaderValue = http::HeaderValue::from_static("trailers");

/// Whether a response content-type is gRPC's: `application/grpc`, alone or
/// followed by `+codec` or `;params`.
fn is_grpc(content_type: &[u8]) -> bool {
    content_type
        .strip_prefix(b"application/grpc")
        .is_some_and(|rest| matches!(rest.first(), None | Some(b'+' | b';')))
}
static GRPC: http::HeaderValue = http::HeaderValue::from_static("application/grpc");

fn split_path(path: &'static str) -> (&'static str, &'static str) {
    let path = path.strip_prefix('/').unwrap_or(path);
    path.rsplit_once('/').unwrap_or((path, ""))
}

#[cfg(test)]
mod tests {
    use super::split_path;

    #[test]
    fn method_path_splits_into_service_and_method() {
        assert_eq!(split_path("/pkg.Svc/Call"), ("pkg.Svc", "Call"));
        assert_eq!(split_path("/a.b.C/D"), ("a.b.C", "D"));
    }
}
