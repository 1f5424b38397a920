//! The server: a builder with safe defaults, the routes of its services and the
//! accept loop that serves each connection with hyper's HTTP/2 server.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use futures_core::Stream;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;
use tokio::time::{Instant, Sleep};
use tonic::transport::server::Connected;
use tower::layer::util::{Identity, Stack};

use crate::base::status::Status;
use tonic::server::NamedService;
use tower::Service;

use crate::base::body::{BoxBody, StdError};
use crate::server::call::ServerTimeout;
use crate::server::trace::TraceLayer;
use crate::transport::error::ServeError;
use crate::transport::gather;
use crate::transport::keepalive::{self, PingWatch};

/// The most streams (calls) a client may have open at once on one connection.
pub const DEFAULT_MAX_CONCURRENT_STREAMS: u32 = 1024;

/// The largest header block (request metadata included) a client may send.
pub const DEFAULT_MAX_HEADER_LIST_SIZE: u32 = 64 * 1024;

/// How many streams a server may reset for a client's protocol errors before it
/// closes the connection (the HTTP/2 reset flood guard, RUSTSEC-2024-0003).
pub const DEFAULT_MAX_LOCAL_ERROR_RESET_STREAMS: usize = 1024;

/// How many streams a client may open and reset before the server accepts them
/// before it closes the connection (the "rapid reset" guard, CVE-2023-44487).
pub const DEFAULT_MAX_PENDING_ACCEPT_RESET_STREAMS: usize = 20;

/// How often a client may ping unless the server allows more (grpc-go's
/// default): a client that pings more often is sent GOAWAY `too_many_pings`.
pub const DEFAULT_KEEPALIVE_MIN_TIME: Duration = Duration::from_secs(5 * 60);

/// How long a TLS handshake may take before the connection is dropped.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Builds servers: `Server::builder().add_service(..).serve(addr)`.
///
/// The server speaks HTTP/2 (hyper's server) and starts with limits that keep
/// it safe from misbehaving clients, each of which can be changed:
///
/// | setting | default |
/// |---|---|
/// | concurrent streams per connection | [`DEFAULT_MAX_CONCURRENT_STREAMS`] |
/// | header list size | [`DEFAULT_MAX_HEADER_LIST_SIZE`] bytes |
/// | streams reset for the client's errors, per connection | [`DEFAULT_MAX_LOCAL_ERROR_RESET_STREAMS`] (tonic turns this guard off) |
/// | streams reset by the client before being accepted | [`DEFAULT_MAX_PENDING_ACCEPT_RESET_STREAMS`] |
/// | client pings | at most one per [`DEFAULT_KEEPALIVE_MIN_TIME`], and none without a call in flight (grpc-go's policy) |
/// | `TCP_NODELAY` on accepted connections ([`serve`](Router::serve)) | on |
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// # let (_, health) = rust_grpc::health::health_service();
/// rust_grpc::Server::builder()
///     .max_concurrent_streams(256) // tighter than the default
///     .add_service(health)
///     .serve("127.0.0.1:50051".parse()?)
///     .await?;
/// # Ok(())
/// # }
/// ```
///
/// Keepalive, as a grpc-go server sets it up:
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// # let (_, health) = rust_grpc::health::health_service();
/// use std::time::Duration;
///
/// rust_grpc::Server::builder()
///     // Ping quiet clients every 30 s; drop them if no answer comes in 10 s.
///     .http2_keepalive_interval(Some(Duration::from_secs(30)))
///     .http2_keepalive_timeout(Some(Duration::from_secs(10)))
///     // Clients may ping every 10 s, also between calls; faster gets GOAWAY too_many_pings.
///     .keepalive_min_ping_interval(Some(Duration::from_secs(10)))
///     .keepalive_permit_without_calls(true)
///     // GOAWAY after 5 idle minutes, and after 30 minutes in any case (with 1 minute to finish).
///     .max_connection_idle(Duration::from_secs(300))
///     .max_connection_age(Duration::from_secs(1800))
///     .max_connection_age_grace(Duration::from_secs(60))
///     .add_service(health)
///     .serve("127.0.0.1:50051".parse()?)
///     .await?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Server<L = Stack<TraceLayer, Identity>> {
    settings: Settings,
    layer: L,
}

#[derive(Clone)]
struct Settings {
    http2: hyper::server::conn::http2::Builder<TokioExecutor>,
    ping_policy: Option<keepalive::Policy>,
    max_connection_age: Option<Duration>,
    max_connection_age_grace: Option<Duration>,
    max_connection_idle: Option<Duration>,
    timeout: Option<Duration>,
    tcp_nodelay: bool,
    #[cfg(feature = "tls")]
    tls: Option<tokio_rustls::TlsAcceptor>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").finish_non_exhaustive()
    }
}

impl Server {
    /// A builder with rust-grpc's safe defaults, tracing each call
    /// ([`crate::trace`]).
    pub fn builder() -> Server<Stack<TraceLayer, Identity>> {
        let mut http2 = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
        http2
            .timer(TokioTimer::new())
            .max_concurrent_streams(DEFAULT_MAX_CONCURRENT_STREAMS)
            .max_header_list_size(DEFAULT_MAX_HEADER_LIST_SIZE)
            .max_local_error_reset_streams(Some(DEFAULT_MAX_LOCAL_ERROR_RESET_STREAMS))
            .max_pending_accept_reset_streams(Some(DEFAULT_MAX_PENDING_ACCEPT_RESET_STREAMS));
        Server {
            settings: Settings {
                http2,
                ping_policy: Some(keepalive::Policy::default()),
                max_connection_age: None,
                max_connection_age_grace: None,
                max_connection_idle: None,
                timeout: None,
                tcp_nodelay: true,
                #[cfg(feature = "tls")]
                tls: None,
            },
            layer: Stack::new(TraceLayer, Identity::new()),
        }
    }
}

impl<L> Server<L> {
    fn http2(
        mut self,
        set: impl FnOnce(&mut hyper::server::conn::http2::Builder<TokioExecutor>),
    ) -> Self {
        set(&mut self.settings.http2);
        self
    }

    /// The most streams (calls) a client may have open at once on one connection.
    #[must_use]
    pub fn max_concurrent_streams(self, max: impl Into<Option<u32>>) -> Self {
        let max = max.into();
        self.http2(|http2| {
            http2.max_concurrent_streams(max);
        })
    }

    /// The largest header block a client may send, in bytes.
    #[must_use]
    pub fn http2_max_header_list_size(self, max: impl Into<Option<u32>>) -> Self {
        let max = max.into().unwrap_or(DEFAULT_MAX_HEADER_LIST_SIZE);
        self.http2(|http2| {
            http2.max_header_list_size(max);
        })
    }

    /// How many streams the server may reset for a client's protocol errors
    /// before it closes the connection; `None` turns the guard off.
    #[must_use]
    pub fn http2_max_local_error_reset_streams(self, max: Option<usize>) -> Self {
        self.http2(|http2| {
            http2.max_local_error_reset_streams(max);
        })
    }

    /// How many streams a client may open and reset before the server accepts
    /// them before the connection is closed; `None` turns the guard off.
    #[must_use]
    pub fn http2_max_pending_accept_reset_streams(self, max: Option<usize>) -> Self {
        self.http2(|http2| {
            http2.max_pending_accept_reset_streams(max);
        })
    }

    /// Pings each client this often when the connection is quiet, and closes the
    /// connection when an answer does not come within the keepalive timeout.
    #[must_use]
    pub fn http2_keepalive_interval(self, interval: Option<Duration>) -> Self {
        self.http2(|http2| {
            http2.keep_alive_interval(interval);
        })
    }

    /// How long to wait for the answer to a keepalive ping (20 s unless set).
    #[must_use]
    pub fn http2_keepalive_timeout(self, timeout: Option<Duration>) -> Self {
        let timeout = timeout.unwrap_or(Duration::from_secs(20));
        self.http2(|http2| {
            http2.keep_alive_timeout(timeout);
        })
    }

    /// The HTTP/2 flow-control window of each stream, in bytes.
    #[must_use]
    pub fn initial_stream_window_size(self, size: impl Into<Option<u32>>) -> Self {
        let size = size.into();
        self.http2(|http2| {
            http2.initial_stream_window_size(size);
        })
    }

    /// The HTTP/2 flow-control window of each connection, in bytes.
    #[must_use]
    pub fn initial_connection_window_size(self, size: impl Into<Option<u32>>) -> Self {
        let size = size.into();
        self.http2(|http2| {
            http2.initial_connection_window_size(size);
        })
    }

    /// Sizes the flow-control windows from the measured bandwidth-delay product.
    #[must_use]
    pub fn http2_adaptive_window(self, enabled: Option<bool>) -> Self {
        self.http2(|http2| {
            http2.adaptive_window(enabled.unwrap_or(false));
        })
    }

    /// The largest HTTP/2 frame payload the server accepts, in bytes.
    #[must_use]
    pub fn max_frame_size(self, size: impl Into<Option<u32>>) -> Self {
        let size = size.into();
        self.http2(|http2| {
            http2.max_frame_size(size);
        })
    }

    /// The least time a client must leave between its pings (grpc-go's
    /// `EnforcementPolicy.MinTime`, [`DEFAULT_KEEPALIVE_MIN_TIME`] unless set).
    /// A client that pings more often three times over is sent GOAWAY with
    /// ENHANCE_YOUR_CALM and `too_many_pings`, and its connection is closed;
    /// `None` lets clients ping as often as they like.
    #[must_use]
    pub fn keepalive_min_ping_interval(mut self, min: Option<Duration>) -> Self {
        self.settings.ping_policy = min.map(|min_time| keepalive::Policy {
            min_time,
            ..self.settings.ping_policy.unwrap_or_default()
        });
        self
    }

    /// Whether clients may ping while they have no call in flight (grpc-go's
    /// `EnforcementPolicy.PermitWithoutStream`, off unless set).
    #[must_use]
    pub fn keepalive_permit_without_calls(mut self, permit: bool) -> Self {
        if let Some(policy) = &mut self.settings.ping_policy {
            policy.permit_without_stream = permit;
        }
        self
    }

    /// Closes each connection gracefully (GOAWAY, then running calls finish)
    /// once it is this old, so clients spread over new servers.
    #[must_use]
    pub fn max_connection_age(mut self, age: Duration) -> Self {
        self.settings.max_connection_age = Some(age);
        self
    }

    /// How long calls may run on a connection past its maximum age before the
    /// connection is closed under them (forever unless set).
    #[must_use]
    pub fn max_connection_age_grace(mut self, grace: Duration) -> Self {
        self.settings.max_connection_age_grace = Some(grace);
        self
    }

    /// Closes a connection gracefully (GOAWAY) once it has had no call in flight
    /// for this long (grpc-go's `MaxConnectionIdle`).
    #[must_use]
    pub fn max_connection_idle(mut self, idle: Duration) -> Self {
        self.settings.max_connection_idle = Some(idle);
        self
    }

    /// A deadline for every call: a call still running after `timeout` (or after
    /// its own `grpc-timeout`, when that is sooner) ends with DEADLINE_EXCEEDED.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.settings.timeout = Some(timeout);
        self
    }

    /// Sets `TCP_NODELAY` on the connections [`serve`](Router::serve) accepts
    /// (on unless set).
    #[must_use]
    pub fn tcp_nodelay(mut self, enabled: bool) -> Self {
        self.settings.tcp_nodelay = enabled;
        self
    }

    /// Serves over TLS (rustls), offering HTTP/2 by ALPN.
    ///
    /// # Errors
    ///
    /// Returns an error when the identity or the client CA cannot be read.
    #[cfg(feature = "tls")]
    pub fn tls_config(
        mut self,
        tls: crate::transport::tls::ServerTlsConfig,
    ) -> Result<Self, ServeError> {
        self.settings.tls = Some(tls.acceptor()?);
        Ok(self)
    }

    /// Wraps every call in `layer` (a tower layer), inside the layers added
    /// before it.
    pub fn layer<N>(self, layer: N) -> Server<Stack<N, L>> {
        Server {
            settings: self.settings,
            layer: Stack::new(layer, self.layer),
        }
    }

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
    server: Server<L>,
    routes: Routes,
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
    /// accepting, sends every client GOAWAY and waits for running calls.
    ///
    /// # Errors
    ///
    /// Returns an error when `addr` cannot be bound.
    pub async fn serve_with_shutdown<F>(self, addr: SocketAddr, signal: F) -> Result<(), ServeError>
    where
        F: Future<Output = ()>,
    {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|err| ServeError::new(format!("cannot listen on {addr}"), err))?;
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
    /// resolves, then sends every client GOAWAY and waits for running calls.
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
        F: Future<Output = ()>,
    {
        let service = self.server.layer.layer(self.routes);
        let settings = Arc::new(self.server.settings);
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

/// Serves one connection: TLS first if configured, then HTTP/2 until the
/// client leaves, the server stops, or the connection's age or idleness ends it.
async fn connection<IO, S, B>(
    io: IO,
    service: S,
    settings: Arc<Settings>,
    stopping: watch::Receiver<bool>,
) where
    IO: AsyncRead + AsyncWrite + Connected + Unpin + Send + 'static,
    IO::ConnectInfo: Clone + Send + Sync + 'static,
    S: Service<http::Request<BoxBody>, Response = http::Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<StdError> + Send,
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<StdError>,
{
    #[cfg(feature = "tls")]
    if let Some(acceptor) = &settings.tls {
        let tls = match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(io)).await {
            Ok(Ok(tls)) => tls,
            Ok(Err(err)) => {
                tracing::debug!(error = %err, "TLS handshake failed");
                return;
            }
            Err(_) => {
                tracing::debug!("TLS handshake timed out");
                return;
            }
        };
        let info = tls.connect_info();
        return http2(tls, info, service, &settings, stopping).await;
    }
    let info = io.connect_info();
    http2(io, info, service, &settings, stopping).await;
}

async fn http2<IO, I, S, B>(
    io: IO,
    info: I,
    service: S,
    settings: &Settings,
    mut stopping: watch::Receiver<bool>,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    I: Clone + Send + Sync + 'static,
    S: Service<http::Request<BoxBody>, Response = http::Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<StdError> + Send,
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<StdError>,
{
    let state = Arc::new(ConnState::new());
    let service = ConnService {
        inner: service,
        info,
        state: Arc::clone(&state),
        timeout: settings.timeout,
    };
    // Without a policy, any ping rate is within bounds.
    let policy = settings.ping_policy.unwrap_or(keepalive::Policy {
        min_time: Duration::ZERO,
        permit_without_stream: true,
    });
    let (io, drain) = gather::gather(io);
    let io = PingWatch::new(io, policy, Arc::clone(&state.active));
    let watch = io.handle();
    let connection = settings.http2.serve_connection(TokioIo::new(io), service);
    let mut connection = std::pin::pin!(connection);
    let mut ended = None;
    let mut age = settings
        .max_connection_age
        .map(|age| Box::pin(tokio::time::sleep(age)));
    let mut idle = settings
        .max_connection_idle
        .map(|idle| Box::pin(idle_for(Arc::clone(&state), idle)));
    let mut grace: Option<Pin<Box<Sleep>>> = None;
    let mut closing = false;
    if *stopping.borrow_and_update() {
        closing = true;
        connection.as_mut().graceful_shutdown();
    }
    loop {
        tokio::select! {
            result = std::future::poll_fn(|cx| poll_and_drain(connection.as_mut(), &drain, &mut ended, cx)) => {
                if let Err(err) = result {
                    tracing::debug!(error = %err, "connection ended with an error");
                }
                break;
            }
            _ = stopping.changed(), if !closing => {
                closing = true;
                connection.as_mut().graceful_shutdown();
            }
            () = wait(&mut age), if !closing && age.is_some() => {
                closing = true;
                connection.as_mut().graceful_shutdown();
                grace = settings
                    .max_connection_age_grace
                    .map(|grace| Box::pin(tokio::time::sleep(grace)));
            }
            () = wait(&mut idle), if !closing && idle.is_some() => {
                closing = true;
                connection.as_mut().graceful_shutdown();
            }
            // The grace period is over: drop the connection and its calls.
            () = wait(&mut grace), if grace.is_some() => break,
        }
    }
    if watch.closed_for_too_many_pings() {
        tracing::debug!("connection closed: the client pinged too often");
    }
}

/// Polls the connection, then writes what it gathered (see [`gather`]); once
/// the connection has ended, finishes writing before saying so.
fn poll_and_drain<C, IO>(
    connection: Pin<&mut C>,
    drain: &gather::Drain<IO>,
    ended: &mut Option<Result<(), StdError>>,
    cx: &mut Context<'_>,
) -> Poll<Result<(), StdError>>
where
    C: Future<Output = Result<(), hyper::Error>>,
    IO: AsyncWrite + Unpin,
{
    if ended.is_none()
        && let Poll::Ready(result) = connection.poll(cx)
    {
        *ended = Some(result.map_err(Into::into));
    }
    match drain.poll_drain(cx) {
        Poll::Ready(Err(err)) => Poll::Ready(Err(err.into())),
        Poll::Ready(Ok(())) => ended.take().map_or(Poll::Pending, Poll::Ready),
        Poll::Pending => Poll::Pending,
    }
}

/// Waits for `future`, or forever when there is none.
async fn wait<F: Future<Output = ()>>(future: &mut Option<Pin<Box<F>>>) {
    match future {
        Some(future) => future.as_mut().await,
        None => std::future::pending().await,
    }
}

/// Resolves once the connection has had no call in flight for `idle`.
async fn idle_for(state: Arc<ConnState>, idle: Duration) {
    let mut until = state.epoch + idle;
    loop {
        tokio::time::sleep_until(until).await;
        if state.active.load(Ordering::Acquire) > 0 {
            until = Instant::now() + idle;
            continue;
        }
        let since =
            state.epoch + Duration::from_millis(state.idle_since_ms.load(Ordering::Acquire));
        if Instant::now() >= since + idle {
            return;
        }
        until = since + idle;
    }
}

/// What a connection's calls share: how many are in flight and since when
/// none has been.
struct ConnState {
    active: Arc<AtomicUsize>,
    epoch: Instant,
    idle_since_ms: AtomicU64,
}

impl ConnState {
    fn new() -> Self {
        Self {
            active: Arc::new(AtomicUsize::new(0)),
            epoch: Instant::now(),
            idle_since_ms: AtomicU64::new(0),
        }
    }
}

/// Counts one call in flight until its response body is gone.
struct InFlight(Arc<ConnState>);

impl InFlight {
    fn new(state: &Arc<ConnState>) -> Self {
        state.active.fetch_add(1, Ordering::AcqRel);
        Self(Arc::clone(state))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.0.active.fetch_sub(1, Ordering::AcqRel) == 1 {
            let since = u64::try_from(self.0.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
            self.0.idle_since_ms.store(since, Ordering::Release);
        }
    }
}

/// The service hyper calls for each request on one connection.
struct ConnService<S, I> {
    inner: S,
    info: I,
    state: Arc<ConnState>,
    timeout: Option<Duration>,
}

impl<S, I, B> hyper::service::Service<http::Request<hyper::body::Incoming>> for ConnService<S, I>
where
    S: Service<http::Request<BoxBody>, Response = http::Response<B>> + Clone,
    S::Error: Into<StdError>,
    I: Clone + Send + Sync + 'static,
{
    type Response = http::Response<CallBody<B>>;
    type Error = Infallible;
    type Future = CallFuture<S, http::Request<BoxBody>>;

    fn call(&self, request: http::Request<hyper::body::Incoming>) -> Self::Future {
        let mut request = request.map(BoxBody::new);
        request.extensions_mut().insert(self.info.clone());
        if let Some(timeout) = self.timeout {
            request.extensions_mut().insert(ServerTimeout(timeout));
        }
        CallFuture {
            state: CallState::Ready {
                service: self.inner.clone(),
                request: Some(request),
            },
            in_flight: Some(InFlight::new(&self.state)),
        }
    }
}

pin_project_lite::pin_project! {
    /// One call: waits for the service to be ready, then for its response.
    struct CallFuture<S: Service<R>, R> {
        #[pin]
        state: CallState<S, R>,
        in_flight: Option<InFlight>,
    }
}

pin_project_lite::pin_project! {
    #[project = CallStateProj]
    enum CallState<S: Service<R>, R> {
        Ready { service: S, request: Option<R> },
        Calling { #[pin] future: S::Future },
    }
}

impl<S, B> Future for CallFuture<S, http::Request<BoxBody>>
where
    S: Service<http::Request<BoxBody>, Response = http::Response<B>>,
    S::Error: Into<StdError>,
{
    type Output = Result<http::Response<CallBody<B>>, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            let response = match this.state.as_mut().project() {
                CallStateProj::Ready { service, request } => match ready!(service.poll_ready(cx)) {
                    Ok(()) => {
                        let request = request.take().expect("a call is sent once");
                        let future = service.call(request);
                        this.state.set(CallState::Calling { future });
                        continue;
                    }
                    Err(err) => Err(err),
                },
                CallStateProj::Calling { future } => ready!(future.poll(cx)),
            };
            let in_flight = this.in_flight.take();
            return Poll::Ready(Ok(match response {
                Ok(response) => response.map(|body| CallBody {
                    inner: Some(body),
                    _in_flight: in_flight,
                }),
                Err(err) => Status::from_error(err.into())
                    .into_http()
                    .map(|()| CallBody {
                        inner: None,
                        _in_flight: in_flight,
                    }),
            }));
        }
    }
}

pin_project_lite::pin_project! {
    /// A call's response body; the call stays in flight until it is gone.
    struct CallBody<B> {
        #[pin]
        inner: Option<B>,
        _in_flight: Option<InFlight>,
    }
}

impl<B> http_body::Body for CallBody<B>
where
    B: http_body::Body,
{
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<B::Data>, B::Error>>> {
        match self.project().inner.as_pin_mut() {
            Some(inner) => inner.poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner
            .as_ref()
            .is_none_or(http_body::Body::is_end_stream)
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.as_ref().map_or_else(
            || http_body::SizeHint::with_exact(0),
            http_body::Body::size_hint,
        )
    }
}

/// The services of a server, by name. Layers added with [`Server::layer`] wrap
/// it.
#[derive(Clone, Default)]
pub struct Routes {
    routes: Arc<Vec<(&'static str, Arc<dyn Route>)>>,
}

impl std::fmt::Debug for Routes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.names()).finish()
    }
}

impl Routes {
    fn add<S>(&mut self, name: &'static str, service: S)
    where
        S: Service<http::Request<BoxBody>, Response = http::Response<BoxBody>, Error = Infallible>
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        let routes = Arc::make_mut(&mut self.routes);
        routes.retain(|(existing, _)| *existing != name);
        routes.push((name, Arc::new(ServiceRoute(service))));
    }

    fn names(&self) -> Vec<&'static str> {
        self.routes.iter().map(|(name, _)| *name).collect()
    }
}

/// The names of the services a server serves, for reflection's list.
#[derive(Debug, Clone)]
pub(crate) struct ServedServices(pub(crate) Arc<[&'static str]>);

/// The future of a routed call.
type RouteFuture = crate::base::body::BoxFuture<http::Response<BoxBody>, Infallible>;

impl Service<http::Request<BoxBody>> for Routes {
    type Response = http::Response<BoxBody>;
    type Error = Infallible;
    type Future = RouteFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut request: http::Request<BoxBody>) -> RouteFuture {
        let service = service_name(request.uri().path());
        let found = service.and_then(|service| {
            let at = self.routes.iter().position(|(name, _)| *name == service)?;
            Some((at, service.starts_with("grpc.reflection.")))
        });
        let Some((at, reflection)) = found else {
            let path = request.uri().path();
            let status = Status::unimplemented(match service_name(path) {
                Some(service) => format!("unknown service {service}"),
                None => format!("malformed method path {path:?}"),
            });
            return Box::pin(std::future::ready(Ok(status.into_http())));
        };
        if reflection {
            // Reflection lists what this server serves.
            request
                .extensions_mut()
                .insert(ServedServices(self.names().into()));
        }
        self.routes[at].1.call(request)
    }
}

/// The service part of a `/package.Service/Method` path.
fn service_name(path: &str) -> Option<&str> {
    let (service, _) = path.strip_prefix('/')?.split_once('/')?;
    Some(service)
}

/// A service of any type behind one interface.
trait Route: Send + Sync {
    fn call(&self, request: http::Request<BoxBody>) -> RouteFuture;
}

struct ServiceRoute<S>(S);

impl<S> Route for ServiceRoute<S>
where
    S: Service<http::Request<BoxBody>, Response = http::Response<BoxBody>, Error = Infallible>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    fn call(&self, request: http::Request<BoxBody>) -> RouteFuture {
        let mut service = self.0.clone();
        // Generated services are always ready: call them at once, and pass their
        // boxed future on without boxing it again.
        let mut cx = Context::from_waker(std::task::Waker::noop());
        if let Poll::Ready(Ok(())) = service.poll_ready(&mut cx) {
            let mut future = Some(service.call(request));
            if let Some(boxed) =
                (&mut future as &mut dyn std::any::Any).downcast_mut::<Option<RouteFuture>>()
            {
                return boxed.take().expect("just set");
            }
            return Box::pin(future.expect("just set"));
        }
        Box::pin(async move {
            std::future::poll_fn(|cx| service.poll_ready(cx)).await?;
            service.call(request).await
        })
    }
}
