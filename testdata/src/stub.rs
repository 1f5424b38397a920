//! A stub `corpus.echo.Echo` server for the behaviour tests, after grpc-go's
//! `internal/stubserver`: each method is a closure, a method without one
//! answers UNIMPLEMENTED, and [`StubServer::start`] hands back a connected
//! client.
//!
//! ```no_run
//! # async fn run() {
//! use rust_grpc::Response;
//! use rust_grpc_testdata::stub::{self, StubServer};
//!
//! let client = StubServer::new()
//!     .unary(|request| async move { Ok(Response::new(stub::reply(request.into_inner().message))) })
//!     .start();
//! let reply = client.unary(stub::request("hi", 0)).await.unwrap();
//! # let _ = reply;
//! # }
//! ```
//!
//! [`StubServer::start`] serves through the in-process channel, which is the
//! whole gRPC path without a socket; [`StubServer::start_tcp`] and
//! [`StubServer::serve_tcp`] serve on a port of 127.0.0.1 for tests whose
//! subject is the network (TCP, TLS, keepalive, shutdown, the bytes on the wire).

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use rust_grpc::{BoxStream, Channel, Code, Request, Response, Router, Server, Status, Streaming};
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;

use crate::default::corpus::echo::echo_client::EchoClient;
use crate::default::corpus::echo::echo_server::{Echo, EchoServer};
use crate::default::corpus::echo::{EchoReply, EchoRequest, FailRequest, SleepRequest};

/// What a handler's future resolves to.
type Answer<T> = Pin<Box<dyn Future<Output = Result<Response<T>, Status>> + Send>>;

/// One method's handler, boxed.
type Handler<In, Out> = Arc<dyn Fn(Request<In>) -> Answer<Out> + Send + Sync>;

fn boxed<In, Out, F, Fut>(handler: F) -> Option<Handler<In, Out>>
where
    F: Fn(Request<In>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Response<Out>, Status>> + Send + 'static,
{
    Some(Arc::new(move |request| Box::pin(handler(request))))
}

/// The `Echo` implementation a [`StubServer`] serves: its closures.
#[derive(Clone, Default)]
pub struct Handlers {
    unary: Option<Handler<EchoRequest, EchoReply>>,
    server_stream: Option<Handler<EchoRequest, BoxStream<EchoReply>>>,
    client_stream: Option<Handler<Streaming<EchoRequest>, EchoReply>>,
    bidi: Option<Handler<Streaming<EchoRequest>, BoxStream<EchoReply>>>,
    sleep: Option<Handler<SleepRequest, EchoReply>>,
    fail: Option<Handler<FailRequest, EchoReply>>,
}

impl std::fmt::Debug for Handlers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handlers")
            .field("unary", &self.unary.is_some())
            .field("server_stream", &self.server_stream.is_some())
            .field("client_stream", &self.client_stream.is_some())
            .field("bidi", &self.bidi.is_some())
            .field("sleep", &self.sleep.is_some())
            .field("fail", &self.fail.is_some())
            .finish()
    }
}

fn call<In, Out: Send + 'static>(
    handler: Option<&Handler<In, Out>>,
    request: Request<In>,
    method: &str,
) -> Answer<Out> {
    match handler {
        Some(handler) => handler(request),
        None => {
            let status = Status::unimplemented(format!("the stub server has no {method} handler"));
            Box::pin(std::future::ready(Err(status)))
        }
    }
}

impl Echo for Handlers {
    fn unary(
        &self,
        request: Request<EchoRequest>,
    ) -> impl Future<Output = Result<Response<EchoReply>, Status>> + Send {
        call(self.unary.as_ref(), request, "Unary")
    }

    fn server_stream(
        &self,
        request: Request<EchoRequest>,
    ) -> impl Future<Output = Result<Response<BoxStream<EchoReply>>, Status>> + Send {
        call(self.server_stream.as_ref(), request, "ServerStream")
    }

    fn client_stream(
        &self,
        request: Request<Streaming<EchoRequest>>,
    ) -> impl Future<Output = Result<Response<EchoReply>, Status>> + Send {
        call(self.client_stream.as_ref(), request, "ClientStream")
    }

    fn bidi(
        &self,
        request: Request<Streaming<EchoRequest>>,
    ) -> impl Future<Output = Result<Response<BoxStream<EchoReply>>, Status>> + Send {
        call(self.bidi.as_ref(), request, "Bidi")
    }

    fn sleep(
        &self,
        request: Request<SleepRequest>,
    ) -> impl Future<Output = Result<Response<EchoReply>, Status>> + Send {
        call(self.sleep.as_ref(), request, "Sleep")
    }

    fn fail(
        &self,
        request: Request<FailRequest>,
    ) -> impl Future<Output = Result<Response<EchoReply>, Status>> + Send {
        call(self.fail.as_ref(), request, "Fail")
    }
}

type Tweak<T> = Box<dyn FnOnce(T) -> T + Send>;

/// A `corpus.echo.Echo` server made of closures, plus how to serve it.
pub struct StubServer {
    handlers: Handlers,
    echo_server: Vec<Tweak<EchoServer<Handlers>>>,
    server: Vec<Tweak<Server>>,
    router: Vec<Tweak<Router>>,
}

impl std::fmt::Debug for StubServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StubServer")
            .field("handlers", &self.handlers)
            .finish_non_exhaustive()
    }
}

impl Default for StubServer {
    fn default() -> Self {
        Self::new()
    }
}

impl StubServer {
    /// A server with no handlers: every method answers UNIMPLEMENTED.
    pub fn new() -> Self {
        Self {
            handlers: Handlers::default(),
            echo_server: Vec::new(),
            server: Vec::new(),
            router: Vec::new(),
        }
    }

    /// Handles `Unary`.
    #[must_use]
    pub fn unary<F, Fut>(mut self, handler: F) -> Self
    where
        F: Fn(Request<EchoRequest>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Response<EchoReply>, Status>> + Send + 'static,
    {
        self.handlers.unary = boxed(handler);
        self
    }

    /// Handles `ServerStream`.
    #[must_use]
    pub fn server_stream<F, Fut>(mut self, handler: F) -> Self
    where
        F: Fn(Request<EchoRequest>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Response<BoxStream<EchoReply>>, Status>> + Send + 'static,
    {
        self.handlers.server_stream = boxed(handler);
        self
    }

    /// Handles `ClientStream`.
    #[must_use]
    pub fn client_stream<F, Fut>(mut self, handler: F) -> Self
    where
        F: Fn(Request<Streaming<EchoRequest>>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Response<EchoReply>, Status>> + Send + 'static,
    {
        self.handlers.client_stream = boxed(handler);
        self
    }

    /// Handles `Bidi`.
    #[must_use]
    pub fn bidi<F, Fut>(mut self, handler: F) -> Self
    where
        F: Fn(Request<Streaming<EchoRequest>>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Response<BoxStream<EchoReply>>, Status>> + Send + 'static,
    {
        self.handlers.bidi = boxed(handler);
        self
    }

    /// Handles `Sleep`.
    #[must_use]
    pub fn sleep<F, Fut>(mut self, handler: F) -> Self
    where
        F: Fn(Request<SleepRequest>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Response<EchoReply>, Status>> + Send + 'static,
    {
        self.handlers.sleep = boxed(handler);
        self
    }

    /// Handles `Fail`.
    #[must_use]
    pub fn fail<F, Fut>(mut self, handler: F) -> Self
    where
        F: Fn(Request<FailRequest>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Response<EchoReply>, Status>> + Send + 'static,
    {
        self.handlers.fail = boxed(handler);
        self
    }

    /// Sets options of the generated service (compression, message limits).
    #[must_use]
    pub fn echo_server(
        mut self,
        tweak: impl FnOnce(EchoServer<Handlers>) -> EchoServer<Handlers> + Send + 'static,
    ) -> Self {
        self.echo_server.push(Box::new(tweak));
        self
    }

    /// Sets options of the server builder (timeouts, keepalive, TLS). A
    /// server with a `layer` cannot be made here: build it from
    /// [`Self::into_service`].
    #[must_use]
    pub fn server(mut self, tweak: impl FnOnce(Server) -> Server + Send + 'static) -> Self {
        self.server.push(Box::new(tweak));
        self
    }

    /// Serves more services beside `corpus.echo.Echo` (health, reflection).
    #[must_use]
    pub fn router(mut self, tweak: impl FnOnce(Router) -> Router + Send + 'static) -> Self {
        self.router.push(Box::new(tweak));
        self
    }

    /// The generated service over the handlers, for a server built by hand.
    pub fn into_service(self) -> EchoServer<Handlers> {
        self.echo_server
            .into_iter()
            .fold(EchoServer::new(self.handlers), |service, tweak| {
                tweak(service)
            })
    }

    /// The server with every option and service, ready to serve.
    pub fn into_router(mut self) -> Router {
        let server = std::mem::take(&mut self.server)
            .into_iter()
            .fold(Server::builder(), |server, tweak| tweak(server));
        let tweaks = std::mem::take(&mut self.router);
        let router = server.add_service(self.into_service());
        tweaks
            .into_iter()
            .fold(router, |router, tweak| tweak(router))
    }

    /// Serves in this process and returns a channel to the server, which
    /// stops when the channel and its clones are gone. Needs a tokio runtime.
    pub fn channel(self) -> Channel {
        rust_grpc::in_process::channel(self.into_router())
    }

    /// Serves in this process and returns a client of the server. Needs a
    /// tokio runtime.
    pub fn start(self) -> EchoClient {
        EchoClient::new(self.channel())
    }

    /// Serves on a fresh port of 127.0.0.1 until the test's runtime ends and
    /// returns the address.
    pub async fn serve_tcp(self) -> SocketAddr {
        let router = self.into_router();
        let (incoming, addr) = listen().await;
        tokio::spawn(async move {
            router
                .serve_with_incoming(incoming)
                .await
                .expect("the stub server failed");
        });
        addr
    }

    /// Serves on a fresh port of 127.0.0.1 and returns a client connected to it.
    pub async fn start_tcp(self) -> EchoClient {
        connect(self.serve_tcp().await).await
    }
}

/// A listener on a fresh port of 127.0.0.1, for a server built by hand.
pub async fn listen() -> (TcpListenerStream, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("the listener's address");
    (TcpListenerStream::new(listener), addr)
}

/// `http://` and `addr`.
pub fn url(addr: SocketAddr) -> String {
    format!("http://{addr}")
}

/// A client connected to the plaintext server at `addr`.
pub async fn connect(addr: SocketAddr) -> EchoClient {
    EchoClient::connect(url(addr))
        .await
        .expect("connect to the stub server")
}

/// A request with `message` and `count`.
pub fn request(message: &str, count: i32) -> EchoRequest {
    EchoRequest {
        message: message.to_owned(),
        count,
    }
}

/// A reply with `message` and no metadata.
pub fn reply(message: impl Into<String>) -> EchoReply {
    EchoReply {
        message: message.into(),
        metadata: Vec::new(),
    }
}

/// A `Unary` handler that answers with the request's message.
pub async fn echo(request: Request<EchoRequest>) -> Result<Response<EchoReply>, Status> {
    Ok(Response::new(reply(request.into_inner().message)))
}

/// A `Sleep` handler that answers "slept" after the requested milliseconds.
pub async fn sleep(request: Request<SleepRequest>) -> Result<Response<EchoReply>, Status> {
    let millis = u64::try_from(request.get_ref().millis).unwrap_or(0);
    tokio::time::sleep(Duration::from_millis(millis)).await;
    Ok(Response::new(reply("slept")))
}

/// A `Fail` handler that fails with the requested code and message.
pub async fn fail(request: Request<FailRequest>) -> Result<Response<EchoReply>, Status> {
    let FailRequest { code, message } = request.into_inner();
    Err(Status::new(Code::from_i32(code), message))
}
