//! The per-server settings of a generated server, and the entry points its
//! `call` uses to serve each kind of method.

use std::convert::Infallible;
use std::future::Future;

use crate::base::body::{BoxBody, BoxFuture, BoxStream, Message, RequestBody};
use crate::base::call::{Request, Response};
use crate::base::status::Status;
use crate::codec::compression::{CompressionEncoding, Encodings};
use crate::codec::limits::CallLimits;
use crate::codec::streaming::Streaming;
use crate::server::call::{self, Call};

/// The per-server settings of a generated server: compression and message limits.
#[derive(Debug, Clone, Copy, Default)]
pub struct ServerConfig {
    accept: Encodings,
    send: Encodings,
    max_decoding_message_size: Option<usize>,
    max_encoding_message_size: Option<usize>,
}

impl ServerConfig {
    /// Accepts requests compressed with `encoding`.
    pub fn accept_compressed(&mut self, encoding: CompressionEncoding) {
        self.accept.enable(encoding);
    }

    /// Compresses responses with `encoding` when the client accepts it (gzip, or
    /// zstd with the `zstd` feature).
    /// [`ResponseExt::set_send_compression`](crate::ResponseExt::set_send_compression)
    /// chooses per message.
    pub fn send_compressed(&mut self, encoding: CompressionEncoding) {
        self.send.enable(encoding);
    }

    /// Limits the size of a received request message (4 MiB unless set); a
    /// larger one ends the call with RESOURCE_EXHAUSTED.
    /// [`MethodLimits`](crate::server::MethodLimits) sets limits per method.
    pub fn max_decoding_message_size(&mut self, limit: usize) {
        self.max_decoding_message_size = Some(limit);
    }

    /// Limits the size of a response message to send (unlimited unless set); a
    /// larger one ends the call with RESOURCE_EXHAUSTED.
    pub fn max_encoding_message_size(&mut self, limit: usize) {
        self.max_encoding_message_size = Some(limit);
    }

    fn limits(&self) -> CallLimits {
        let mut limits = CallLimits::new();
        if let Some(limit) = self.max_decoding_message_size {
            limits = limits.max_decoding_message_size(limit);
        }
        if let Some(limit) = self.max_encoding_message_size {
            limits = limits.max_encoding_message_size(limit);
        }
        limits
    }

    /// Starts one call, or answers it at once when its head is refused.
    fn start<B>(&self, request: &mut http::Request<B>) -> Result<Call, ResponseFuture> {
        #[cfg(feature = "opentelemetry")]
        if let Some(measured) = request
            .extensions()
            .get::<crate::telemetry::server::Measured>()
        {
            measured.start(request.uri().path());
        }
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
                let (messages, received) = call::request_stream::<B, Req>(body, &call);
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
                let (messages, received) = call::request_stream::<B, Req>(body, &call);
                let response = handler(call::request(head, messages, received)).await;
                call.answer_stream(response)
            };
            Ok(call.run(std::pin::pin!(work)).await)
        })
    }
}

/// The future of a served call.
type ResponseFuture = BoxFuture<http::Response<BoxBody>, Infallible>;

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
