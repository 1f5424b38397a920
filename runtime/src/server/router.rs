//! A server with its services: listening, accepting connections and stopping.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use futures_core::Stream;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;
use tonic::transport::server::Connected;
use tower::layer::util::{Identity, Stack};

use tonic::server::NamedService;
use tower::Service;

use crate::base::body::{BoxBody, StdError};
use crate::server::builder::Server;
use crate::server::builder::Settings;
use crate::server::connection::connection;
use crate::server::routes::Routes;
use crate::server::shutdown::IntoShutdown;
use crate::server::trace::TraceLayer;
use crate::server::web::WebService;
use crate::transport::error::{Kind, ServeError};

impl<L> Server<L> {
    /// Adds a service, routed by its name.
    pub fn add_service<S>(self, service: S) -> Router<L>
    where
        S: Service<http::Request<BoxBody>, Response = http::Response<BoxBody>, Error = Infallible>
            + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        Router {
            server: self,
            routes: Routes::default(),
        }
        .add_service(service)
    }

    /// Adds a service if there is one.
    pub fn add_optional_service<S>(self, service: Option<S>) -> Router<L>
    where
        S: Service<http::Request<BoxBody>, Response = http::Response<BoxBody>, Error = Infallible>
            + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        Router {
            server: self,
            routes: Routes::default(),
        }
        .add_optional_service(service)
    }
}

/// A server with its services, ready to serve; what
/// [`Server::add_service`] returns.
pub struct Router<L = Stack<TraceLayer, Identity>> {
    pub(crate) server: Server<L>,
    pub(crate) routes: Routes,
}

impl<L> std::fmt::Debug for Router<L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router")
            .field("services", &self.routes.names())
            .finish_non_exhaustive()
    }
}

impl<L> Router<L> {
    /// Adds a service, routed by its name.
    pub fn add_service<S>(mut self, service: S) -> Self
    where
        S: Service<http::Request<BoxBody>, Response = http::Response<BoxBody>, Error = Infallible>
            + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        self.routes.add(S::NAME, service);
        self
    }

    /// Adds a service if there is one.
    pub fn add_optional_service<S>(self, service: Option<S>) -> Self
    where
        S: Service<http::Request<BoxBody>, Response = http::Response<BoxBody>, Error = Infallible>
            + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        match service {
            Some(service) => self.add_service(service),
            None => self,
        }
    }
}

impl<L, S, B> Router<L>
where
    L: tower::Layer<Routes, Service = S>,
    S: Service<http::Request<BoxBody>, Response = http::Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<StdError> + Send,
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<StdError>,
{
    /// Listens on `addr` and serves until the process ends.
    ///
    /// # Errors
    ///
    /// Returns an error when `addr` cannot be bound.
    pub async fn serve(self, addr: SocketAddr) -> Result<(), ServeError> {
        self.serve_with_shutdown(addr, std::future::pending()).await
    }

    /// Listens on `addr` and serves until `signal` resolves, then stops
    /// accepting, sends every client GOAWAY and waits for running calls: for
    /// the grace period of a [`Shutdown`](crate::Shutdown)'s signal, after which
    /// calls still running end with UNAVAILABLE, or as long as they take when
    /// `signal` is any other future.
    ///
    /// # Errors
    ///
    /// Returns an error when `addr` cannot be bound.
    pub async fn serve_with_shutdown<F>(self, addr: SocketAddr, signal: F) -> Result<(), ServeError>
    where
        F: IntoShutdown,
    {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|err| ServeError::new(Kind::Bind, format!("cannot listen on {addr}"), err))?;
        self.serve_with_listener_shutdown(listener, signal).await
    }

    /// Serves on a TCP listener already bound (to port 0 for a free port, say,
    /// whose address [`local_addr`](tokio::net::TcpListener::local_addr) tells)
    /// until the process ends.
    ///
    /// # Errors
    ///
    /// Never at present; the result leaves room for errors of the listener.
    pub async fn serve_with_listener(
        self,
        listener: tokio::net::TcpListener,
    ) -> Result<(), ServeError> {
        self.serve_with_listener_shutdown(listener, std::future::pending())
            .await
    }

    /// Serves on a TCP listener already bound until `signal` resolves, then
    /// stops as [`serve_with_shutdown`](Self::serve_with_shutdown) does.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// # let (_, health) = rust_grpc::health::health_service();
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    /// println!("listening on {}", listener.local_addr()?);
    /// let shutdown = rust_grpc::Shutdown::new(std::time::Duration::from_secs(5));
    /// rust_grpc::Server::builder()
    ///     .add_service(health)
    ///     .serve_with_listener_shutdown(listener, shutdown.on_signal())
    ///     .await?;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// Never at present; the result leaves room for errors of the listener.
    pub async fn serve_with_listener_shutdown<F>(
        self,
        listener: tokio::net::TcpListener,
        signal: F,
    ) -> Result<(), ServeError>
    where
        F: IntoShutdown,
    {
        let nodelay = self.server.settings.tcp_nodelay;
        let incoming = Accept { listener, nodelay };
        self.serve_with_incoming_shutdown(incoming, signal).await
    }

    /// Serves the connections `incoming` yields (TCP, Unix sockets, in-memory
    /// pipes) until it ends.
    ///
    /// # Errors
    ///
    /// Never at present; the result leaves room for errors of the listener.
    pub async fn serve_with_incoming<I, IO, IE>(self, incoming: I) -> Result<(), ServeError>
    where
        I: Stream<Item = Result<IO, IE>>,
        IO: AsyncRead + AsyncWrite + Connected + Unpin + Send + 'static,
        IO::ConnectInfo: Clone + Send + Sync + 'static,
        IE: Into<StdError>,
    {
        self.serve_with_incoming_shutdown(incoming, std::future::pending())
            .await
    }

    /// Serves the connections `incoming` yields until it ends or `signal`
    /// resolves, then sends every client GOAWAY and waits for running calls, as
    /// [`serve_with_shutdown`](Self::serve_with_shutdown) does.
    ///
    /// # Errors
    ///
    /// Never at present; the result leaves room for errors of the listener.
    pub async fn serve_with_incoming_shutdown<I, IO, IE, F>(
        self,
        incoming: I,
        signal: F,
    ) -> Result<(), ServeError>
    where
        I: Stream<Item = Result<IO, IE>>,
        IO: AsyncRead + AsyncWrite + Connected + Unpin + Send + 'static,
        IO::ConnectInfo: Clone + Send + Sync + 'static,
        IE: Into<StdError>,
        F: IntoShutdown,
    {
        let routes = self.routes;
        #[cfg(feature = "opentelemetry")]
        let routes = routes.with_metrics(self.server.settings.metrics.clone());
        let service = self.server.layer.layer(routes);
        let settings = Arc::new(self.server.settings.for_serving());
        let (signal, shutdown) = signal.into_shutdown();
        match shutdown {
            // Only a server with a grace period pays for enforcing it.
            Some(shutdown) => {
                let service = tower::Layer::layer(&shutdown.layer(), service);
                accept_web(incoming, signal, service, settings).await
            }
            None => accept_web(incoming, signal, service, settings).await,
        }
    }
}

/// [`accept_loop`], in front of gRPC-Web when it is on: only a server that
/// serves gRPC-Web pays for telling its requests apart.
async fn accept_web<I, IO, IE, F, S, B>(
    incoming: I,
    signal: F,
    service: S,
    settings: Arc<Settings>,
) -> Result<(), ServeError>
where
    I: Stream<Item = Result<IO, IE>>,
    IO: AsyncRead + AsyncWrite + Connected + Unpin + Send + 'static,
    IO::ConnectInfo: Clone + Send + Sync + 'static,
    IE: Into<StdError>,
    F: Future<Output = ()>,
    S: Service<http::Request<BoxBody>, Response = http::Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<StdError> + Send,
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<StdError>,
{
    match settings.web.clone() {
        Some(web) => {
            let service = WebService::new(service, web);
            accept_loop(incoming, signal, service, settings).await
        }
        None => accept_loop(incoming, signal, service, settings).await,
    }
}

/// Serves `incoming` with `service` until it ends or `signal` resolves, then
/// waits for every connection to finish.
async fn accept_loop<I, IO, IE, F, S, B>(
    incoming: I,
    signal: F,
    service: S,
    settings: Arc<Settings>,
) -> Result<(), ServeError>
where
    I: Stream<Item = Result<IO, IE>>,
    IO: AsyncRead + AsyncWrite + Connected + Unpin + Send + 'static,
    IO::ConnectInfo: Clone + Send + Sync + 'static,
    IE: Into<StdError>,
    F: Future<Output = ()>,
    S: Service<http::Request<BoxBody>, Response = http::Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<StdError> + Send,
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<StdError>,
{
    let (stop, stopping) = watch::channel(false);
    let mut incoming = std::pin::pin!(incoming);
    let mut signal = std::pin::pin!(signal);
    loop {
        let next = std::future::poll_fn(|cx| {
            if signal.as_mut().poll(cx).is_ready() {
                return Poll::Ready(None);
            }
            incoming.as_mut().poll_next(cx).map(Some)
        })
        .await;
        let io = match next {
            None | Some(None) => break,
            Some(Some(Ok(io))) => io,
            Some(Some(Err(err))) => {
                let err: StdError = err.into();
                tracing::warn!(error = %err, "accepting a connection failed");
                // Out of file descriptors, say: give the process a moment.
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        tokio::spawn(connection(
            io,
            service.clone(),
            Arc::clone(&settings),
            stopping.clone(),
        ));
    }
    drop(stopping);
    stop.send_replace(true);
    // Resolves once every connection task has dropped its receiver.
    stop.closed().await;
    Ok(())
}

/// Accepts TCP connections, setting `TCP_NODELAY` on each.
struct Accept {
    listener: tokio::net::TcpListener,
    nodelay: bool,
}

impl Stream for Accept {
    type Item = std::io::Result<tokio::net::TcpStream>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let (stream, _) = ready!(self.listener.poll_accept(cx))?;
        if self.nodelay {
            let _ = stream.set_nodelay(true);
        }
        Poll::Ready(Some(Ok(stream)))
    }
}
