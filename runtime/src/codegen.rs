//! The API that generated code calls.
//!
//! Code written by `protoc-gen-rust-grpc` names only items from this module and
//! the crate root, so the transport underneath can change without regenerating
//! user code. Hand-written code should not need anything here.
//!
//! # Version handshake
//!
//! Every generated file starts with
//! `const _: () = ::rust_grpc::codegen::require_codegen_version::<N>();`.
//! A runtime that does not implement codegen API version `N` rejects the file at
//! compile time with a message that says what to do:
//!
//! ```compile_fail,E0277
//! const _: () = rust_grpc::codegen::require_codegen_version::<999>();
//! ```
//!
//! ```
//! const _: () = rust_grpc::codegen::require_codegen_version::<1>();
//! ```

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::uri::PathAndQuery;
use tonic::codec::EnabledCompressionEncodings;
use tonic::codegen::Bytes;

use crate::call::{self, Call};
use crate::compression::{self, Codec, MarkBody, ReceivedCompression, ScanBody, SendCompression};
use crate::deadline::{self, DeadlineBody};
use crate::limits::{self, CallLimits};
use crate::reserved;
use crate::{BoxStream, CompressionEncoding, Request, Response, Status, Streaming};

pub use http;
pub use tonic::body::Body as BoxBody;
pub use tonic::server::NamedService;
pub use tonic::service::interceptor::InterceptedService;
pub use tower_service::Service;

/// The codegen API version this runtime speaks; generated code asks for it.
pub const CODEGEN_VERSION: u32 = 1;

/// A boxed error, as the transport passes them around.
pub type StdError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The future a generated server returns for one call.
pub type BoxFuture<T, E> = std::pin::Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'static>>;

/// The marker type that carries the codegen API versions this runtime supports.
#[derive(Debug)]
pub struct Runtime;

/// Implemented by [`Runtime`] for each codegen API version it supports.
#[diagnostic::on_unimplemented(
    message = "this generated code needs rust-grpc codegen API version {V}, which this version of the rust-grpc crate does not provide",
    label = "generated code and the rust-grpc runtime do not match",
    note = "either upgrade the `rust-grpc` dependency to the release that matches your protoc-gen-rust-grpc / rust-grpc-build, or regenerate this code with the generator of the same release as your `rust-grpc`"
)]
pub trait SupportsCodegenVersion<const V: u32> {}

impl SupportsCodegenVersion<1> for Runtime {}

/// Fails to compile unless this runtime supports codegen API version `V`.
pub const fn require_codegen_version<const V: u32>()
where
    Runtime: SupportsCodegenVersion<V>,
{
}

/// A transport a generated client can call through: a [`crate::Channel`], or a
/// channel wrapped in interceptors or tower layers.
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

/// A request body a generated server can read.
pub trait RequestBody: http_body::Body<Error: Into<StdError> + Send> + Send + 'static {}

impl<B> RequestBody for B where B: http_body::Body<Error: Into<StdError> + Send> + Send + 'static {}

/// A protobuf message a generated client or server can send and receive.
pub trait Message: prost::Message + Default + Send + Sync + 'static {}

impl<M> Message for M where M: prost::Message + Default + Send + Sync + 'static {}

/// Connects a channel to `dst`, for the generated clients' `connect`.
///
/// # Errors
///
/// Returns an error if `dst` is not a valid URI or the connection fails.
pub async fn connect<D>(dst: D) -> Result<crate::Channel, crate::Error>
where
    D: TryInto<crate::Endpoint>,
    D::Error: Into<StdError>,
{
    crate::Endpoint::new(dst)?.connect().await
}

/// The shared half of every generated client: the transport plus its per-client
/// settings. Calls take `&self`; each call works on a cheap clone of the transport.
#[derive(Debug, Clone)]
pub struct Client<T> {
    inner: tonic::client::Grpc<CallTransport<T>>,
    send: Option<CompressionEncoding>,
    limits: CallLimits,
}

impl<T> Client<T> {
    /// Wraps a transport.
    pub fn new(inner: T) -> Self {
        Self {
            inner: tonic::client::Grpc::new(CallTransport { inner }),
            send: None,
            limits: CallLimits::new(),
        }
    }

    /// Wraps a transport, sending every call to `origin` (scheme and authority).
    pub fn with_origin(inner: T, origin: http::Uri) -> Self {
        Self {
            inner: tonic::client::Grpc::with_origin(CallTransport { inner }, origin),
            send: None,
            limits: CallLimits::new(),
        }
    }

    /// Compresses requests with `encoding` (gzip, or zstd with the `zstd` feature;
    /// requests stay uncompressed with any other). A [`SendCompression`] in a
    /// request's extensions chooses per message.
    pub fn send_compressed(self, encoding: CompressionEncoding) -> Self {
        Self {
            send: compression::supported(encoding).then_some(encoding),
            ..self
        }
    }

    /// Accepts responses compressed with `encoding`.
    pub fn accept_compressed(self, encoding: CompressionEncoding) -> Self {
        Self {
            inner: self.inner.accept_compressed(encoding),
            ..self
        }
    }

    /// Limits the size of a received response message (4 MiB unless set); a
    /// larger one ends the call with RESOURCE_EXHAUSTED. A
    /// [`CallLimits`] in a request's extensions
    /// overrides it for that call.
    pub fn max_decoding_message_size(self, limit: usize) -> Self {
        Self {
            limits: self.limits.max_receive(limit),
            ..self
        }
    }

    /// Limits the size of a request message to send (unlimited unless set); a
    /// larger one ends the call with RESOURCE_EXHAUSTED. A
    /// [`CallLimits`] in a request's extensions
    /// overrides it for that call.
    pub fn max_encoding_message_size(self, limit: usize) -> Self {
        Self {
            limits: self.limits.max_send(limit),
            ..self
        }
    }
}

impl<T: Transport> Client<T> {
    async fn ready(
        &self,
        limits: CallLimits,
    ) -> Result<tonic::client::Grpc<CallTransport<T>>, Status> {
        let mut grpc = self.inner.clone();
        grpc.ready().await.map_err(|err| {
            let err: StdError = err.into();
            Status::unavailable(format!("the channel is not ready: {err}"))
        })?;
        // Checked first, as RESOURCE_EXHAUSTED, by the call's body and codec; the
        // transport's own check stays as the backstop after decompression.
        Ok(grpc.max_decoding_message_size(limits.receive_limit()))
    }

    /// The limits of a call: the request's own, else the client's.
    fn limits<M>(&self, request: &Request<M>) -> Result<CallLimits, Status> {
        reserved::check_request(request.metadata())?;
        Ok(self.limits_unchecked(request))
    }

    fn limits_unchecked<M>(&self, request: &Request<M>) -> CallLimits {
        request
            .extensions()
            .get::<CallLimits>()
            .copied()
            .unwrap_or_default()
            .or(self.limits)
    }

    /// Prepares one call: tags the request with its method and sets up the call's
    /// codec, per-message compression and message limits.
    fn begin<M, Req, Resp>(
        &self,
        mut request: Request<M>,
        path: &'static str,
        limits: CallLimits,
    ) -> (
        Request<M>,
        Codec<Req, Resp>,
        ReceivedCompression,
        limits::Oversized,
    ) {
        let (service, method) = split_path(path);
        request
            .extensions_mut()
            .insert(tonic::GrpcMethod::new(service, method));
        let outgoing = self.send.map(compression::Outgoing::new);
        if let (Some(outgoing), Some(choice)) = (
            &outgoing,
            request.extensions().get::<SendCompression>().cloned(),
        ) {
            outgoing.follow(choice);
        }
        let received = ReceivedCompression::new();
        request.extensions_mut().insert(CallContext {
            outgoing: outgoing.clone(),
            received: received.clone(),
            receive_limit: limits.receive_limit(),
        });
        let codec = Codec::new(outgoing, received.clone(), limits.send());
        let oversized = codec.oversized();
        (request, codec, received, oversized)
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
        let limits = self.limits(&request)?;
        let mut grpc = self.ready(limits).await?;
        let deadline = request_deadline(&request);
        let (request, codec, received, oversized) = self.begin(request, path, limits);
        grpc.unary(request, PathAndQuery::from_static(path), codec)
            .await
            .map(|response| with_received(response, received))
            .map_err(|status| oversized.fix(deadline_exceeded(status, deadline)))
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
        let limits = self.limits(&request)?;
        let mut grpc = self.ready(limits).await?;
        let deadline = request_deadline(&request);
        let (request, codec, received, oversized) = self.begin(request, path, limits);
        grpc.server_streaming(request, PathAndQuery::from_static(path), codec)
            .await
            .map(|response| with_received(response, received))
            .map_err(|status| oversized.fix(deadline_exceeded(status, deadline)))
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
        let limits = self.limits(&request)?;
        let mut grpc = self.ready(limits).await?;
        let deadline = request_deadline(&request);
        let (request, codec, received, oversized) = self.begin(request, path, limits);
        grpc.client_streaming(request, PathAndQuery::from_static(path), codec)
            .await
            .map(|response| with_received(response, received))
            .map_err(|status| oversized.fix(deadline_exceeded(status, deadline)))
    }

    /// Makes a bidirectional streaming call to `path`.
    ///
    /// # Errors
    ///
    /// Returns the call's status when it fails before the response headers.
    pub async fn streaming<S, Req: Message, Resp: Message>(
        &self,
        request: Request<S>,
        path: &'static str,
    ) -> Result<Response<Streaming<Resp>>, Status>
    where
        S: futures_core::Stream<Item = Req> + Send + 'static,
    {
        let limits = self.limits(&request)?;
        let mut grpc = self.ready(limits).await?;
        let deadline = request_deadline(&request);
        let (request, codec, received, oversized) = self.begin(request, path, limits);
        grpc.streaming(request, PathAndQuery::from_static(path), codec)
            .await
            .map(|response| with_received(response, received))
            .map_err(|status| oversized.fix(deadline_exceeded(status, deadline)))
    }
}

fn with_received<M>(mut response: Response<M>, received: ReceivedCompression) -> Response<M> {
    response.extensions_mut().insert(received);
    response
}

/// What [`CallTransport`] needs to know about one call, passed in the request's
/// extensions.
#[derive(Clone)]
struct CallContext {
    outgoing: Option<Arc<compression::Outgoing>>,
    received: ReceivedCompression,
    receive_limit: usize,
}

/// The transport under a [`Client`]: marks compressed request messages, records
/// which response messages arrived compressed and holds the call to its deadline
/// until the last byte of the response.
#[derive(Debug, Clone)]
struct CallTransport<T> {
    inner: T,
}

/// The response body of a call made through a [`CallTransport`].
type CallBody<B> = DeadlineBody<ScanBody<B>>;

impl<T: Transport> Service<http::Request<BoxBody>> for CallTransport<T> {
    type Response = http::Response<CallBody<T::ResponseBody>>;
    type Error = T::Error;
    type Future = CallFuture<T::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        tonic::client::GrpcService::poll_ready(&mut self.inner, cx)
    }

    fn call(&mut self, mut request: http::Request<BoxBody>) -> Self::Future {
        let deadline = request
            .headers()
            .get("grpc-timeout")
            .and_then(deadline::parse_grpc_timeout)
            .and_then(|timeout| tokio::time::Instant::now().checked_add(timeout));
        let call = request.extensions_mut().remove::<CallContext>();
        let (received, limit) = match call {
            Some(CallContext {
                outgoing: Some(outgoing),
                received,
                receive_limit,
            }) => {
                request
                    .headers_mut()
                    .insert("grpc-encoding", outgoing.header_value());
                request = request.map(|body| BoxBody::new(MarkBody::new(body, outgoing)));
                (received, receive_limit)
            }
            Some(CallContext {
                received,
                receive_limit,
                ..
            }) => (received, receive_limit),
            None => (ReceivedCompression::new(), limits::DEFAULT_MAX_RECEIVE),
        };
        CallFuture {
            inner: Box::pin(tonic::client::GrpcService::call(&mut self.inner, request)),
            call: Some((received, limit, deadline)),
        }
    }
}

/// The future of one call through a [`CallTransport`].
struct CallFuture<F> {
    inner: Pin<Box<F>>,
    call: Option<(ReceivedCompression, usize, Option<tokio::time::Instant>)>,
}

impl<F, B, E> Future for CallFuture<F>
where
    F: Future<Output = Result<http::Response<B>, E>>,
{
    type Output = Result<http::Response<CallBody<B>>, E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let response = std::task::ready!(self.inner.as_mut().poll(cx))?;
        let (received, limit, deadline) = self
            .call
            .take()
            .expect("a call future is polled to completion once");
        if response
            .headers()
            .get("grpc-encoding")
            .is_none_or(|encoding| encoding == "identity")
        {
            received.set_plain();
        }
        Poll::Ready(Ok(response.map(|body| {
            DeadlineBody::new(ScanBody::new(body, received, limit), deadline)
        })))
    }
}

/// The transport reports its own expired deadline as CANCELLED; gRPC says
/// DEADLINE_EXCEEDED, and that is what grpc-go's callers see.
///
/// A server may also reset the call at its deadline (grpc-go does) a moment
/// before the client's own timer fires: a call cancelled after its deadline
/// passed is DEADLINE_EXCEEDED too.
fn deadline_exceeded(status: Status, deadline: Option<tokio::time::Instant>) -> Status {
    if status.code() == crate::Code::Cancelled
        && deadline.is_some_and(|deadline| tokio::time::Instant::now() >= deadline)
    {
        return Status::deadline_exceeded("the deadline expired before the server answered");
    }
    let mut source = std::error::Error::source(&status);
    while let Some(error) = source {
        if error.is::<tonic::TimeoutExpired>() {
            return Status::deadline_exceeded("the deadline expired before the server answered");
        }
        source = error.source();
    }
    status
}

/// When a client call must have ended, from the timeout its request carries.
fn request_deadline<M>(request: &Request<M>) -> Option<tokio::time::Instant> {
    let timeout = request.metadata().get("grpc-timeout").and_then(|value| {
        deadline::parse_grpc_timeout(&http::HeaderValue::from_bytes(value.as_bytes()).ok()?)
    })?;
    tokio::time::Instant::now().checked_add(timeout)
}

fn split_path(path: &'static str) -> (&'static str, &'static str) {
    let path = path.strip_prefix('/').unwrap_or(path);
    path.rsplit_once('/').unwrap_or((path, ""))
}

/// The per-server settings of a generated server: compression and message limits.
#[derive(Debug, Clone, Copy, Default)]
pub struct ServerConfig {
    accept: EnabledCompressionEncodings,
    send: EnabledCompressionEncodings,
    max_decoding_message_size: Option<usize>,
    max_encoding_message_size: Option<usize>,
}

impl ServerConfig {
    /// Accepts requests compressed with `encoding`.
    pub fn accept_compressed(&mut self, encoding: CompressionEncoding) {
        self.accept.enable(encoding);
    }

    /// Compresses responses with `encoding` when the client accepts it (gzip, or
    /// zstd with the `zstd` feature). A [`SendCompression`] in a response's
    /// extensions chooses per message.
    pub fn send_compressed(&mut self, encoding: CompressionEncoding) {
        self.send.enable(encoding);
    }

    /// Limits the size of a received request message (4 MiB unless set); a
    /// larger one ends the call with RESOURCE_EXHAUSTED.
    /// [`MethodLimits`](crate::limits::MethodLimits) sets limits per method.
    pub fn max_decoding_message_size(&mut self, limit: usize) {
        self.max_decoding_message_size = Some(limit);
    }

    /// Limits the size of a response message to send (unlimited unless set); a
    /// larger one ends the call with RESOURCE_EXHAUSTED.
    pub fn max_encoding_message_size(&mut self, limit: usize) {
        self.max_encoding_message_size = Some(limit);
    }

    fn limits(&self) -> CallLimits {
        CallLimits {
            receive: self.max_decoding_message_size,
            send: self.max_encoding_message_size,
        }
    }

    /// Starts one call, or answers it at once when its head is refused.
    fn start<B>(&self, request: &mut http::Request<B>) -> Result<Call, ResponseFuture> {
        Call::start(request, self.accept, self.send, self.limits()).map_err(
            |status| -> ResponseFuture { Box::pin(std::future::ready(Ok(status.into_http()))) },
        )
    }

    /// Serves one unary call with `handler`.
    pub fn unary<B, Req, Resp, F, Fut>(
        &self,
        mut request: http::Request<B>,
        handler: F,
    ) -> BoxFuture<http::Response<BoxBody>, Infallible>
    where
        B: RequestBody,
        Req: Message,
        Resp: Message,
        F: FnOnce(Request<Req>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<Response<Resp>, Status>> + Send + 'static,
    {
        let call = match self.start(&mut request) {
            Ok(call) => call,
            Err(answered) => return answered,
        };
        let (head, body) = request.into_parts();
        Box::pin(async move {
            let work = async {
                let (message, received) = call::read_one::<B, Req>(body, &call).await?;
                let response = handler(call::request(head, message, received)).await;
                call.answer_one(response)
            };
            Ok(call.run(std::pin::pin!(work)).await)
        })
    }

    /// Serves one server-streaming call with `handler`.
    pub fn server_streaming<B, Req, Resp, F, Fut>(
        &self,
        mut request: http::Request<B>,
        handler: F,
    ) -> BoxFuture<http::Response<BoxBody>, Infallible>
    where
        B: RequestBody,
        Req: Message,
        Resp: Message,
        F: FnOnce(Request<Req>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<Response<BoxStream<Resp>>, Status>> + Send + 'static,
    {
        let call = match self.start(&mut request) {
            Ok(call) => call,
            Err(answered) => return answered,
        };
        let (head, body) = request.into_parts();
        Box::pin(async move {
            let work = async {
                let (message, received) = call::read_one::<B, Req>(body, &call).await?;
                let response = handler(call::request(head, message, received)).await;
                call.answer_stream(response)
            };
            Ok(call.run(std::pin::pin!(work)).await)
        })
    }

    /// Serves one client-streaming call with `handler`.
    pub fn client_streaming<B, Req, Resp, F, Fut>(
        &self,
        mut request: http::Request<B>,
        handler: F,
    ) -> BoxFuture<http::Response<BoxBody>, Infallible>
    where
        B: RequestBody,
        Req: Message,
        Resp: Message,
        F: FnOnce(Request<Streaming<Req>>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<Response<Resp>, Status>> + Send + 'static,
    {
        let call = match self.start(&mut request) {
            Ok(call) => call,
            Err(answered) => return answered,
        };
        let (head, body) = request.into_parts();
        Box::pin(async move {
            let work = async {
                let (messages, received) = request_stream::<B, Req>(body, &call);
                let response = handler(call::request(head, messages, received)).await;
                call.answer_one(response)
            };
            Ok(call.run(std::pin::pin!(work)).await)
        })
    }

    /// Serves one bidirectional streaming call with `handler`.
    pub fn streaming<B, Req, Resp, F, Fut>(
        &self,
        mut request: http::Request<B>,
        handler: F,
    ) -> BoxFuture<http::Response<BoxBody>, Infallible>
    where
        B: RequestBody,
        Req: Message,
        Resp: Message,
        F: FnOnce(Request<Streaming<Req>>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<Response<BoxStream<Resp>>, Status>> + Send + 'static,
    {
        let call = match self.start(&mut request) {
            Ok(call) => call,
            Err(answered) => return answered,
        };
        let (head, body) = request.into_parts();
        Box::pin(async move {
            let work = async {
                let (messages, received) = request_stream::<B, Req>(body, &call);
                let response = handler(call::request(head, messages, received)).await;
                call.answer_stream(response)
            };
            Ok(call.run(std::pin::pin!(work)).await)
        })
    }
}

/// The future of a served call.
type ResponseFuture = BoxFuture<http::Response<BoxBody>, Infallible>;

/// The stream of request messages of a client-streaming or bidirectional call.
fn request_stream<B: RequestBody, M: Message>(
    body: B,
    call: &Call,
) -> (Streaming<M>, ReceivedCompression) {
    let received = match call.receive_encoding() {
        Some(_) => ReceivedCompression::new(),
        None => ReceivedCompression::plain(),
    };
    let limit = call.receive_limit();
    let messages = Streaming::new_request(
        compression::decoder::<M>(received.clone()),
        ScanBody::new(body, received.clone(), limit),
        call.receive_encoding(),
        Some(limit),
    );
    (messages, received)
}

/// Trailers a handler set with [`crate::ResponseExt::trailers_mut`].
#[derive(Debug, Clone, Default)]
pub struct Trailers(pub(crate) crate::metadata::MetadataMap);

/// Answers a call to a method this server does not have with UNIMPLEMENTED.
pub fn unimplemented<B>(
    request: http::Request<B>,
) -> BoxFuture<http::Response<BoxBody>, Infallible> {
    let status = Status::unimplemented(format!("unknown method {}", request.uri().path()));
    Box::pin(std::future::ready(Ok(status.into_http())))
}

/// The default body of a method the server trait leaves unimplemented.
pub fn unimplemented_method<T>(method: &str) -> std::future::Ready<Result<T, Status>> {
    std::future::ready(Err(Status::unimplemented(format!(
        "method {method} is not implemented by this server"
    ))))
}

#[cfg(test)]
mod tests {
    use super::{deadline_exceeded, split_path};
    use crate::{Code, Status};

    #[tokio::test]
    async fn a_call_cancelled_after_its_deadline_is_deadline_exceeded() {
        let now = tokio::time::Instant::now();
        let past = Some(now);
        let future = Some(now + std::time::Duration::from_secs(60));

        let code = |status: Status, deadline| deadline_exceeded(status, deadline).code();

        assert_eq!(
            code(Status::cancelled("reset"), past),
            Code::DeadlineExceeded
        );
        assert_eq!(code(Status::cancelled("reset"), future), Code::Cancelled);
        assert_eq!(code(Status::cancelled("reset"), None), Code::Cancelled);
        assert_eq!(code(Status::not_found("gone"), past), Code::NotFound);
    }

    #[test]
    fn method_path_splits_into_service_and_method() {
        assert_eq!(split_path("/pkg.Svc/Call"), ("pkg.Svc", "Call"));
        assert_eq!(split_path("/a.b.C/D"), ("a.b.C", "D"));
    }
}
