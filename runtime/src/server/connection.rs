//! One connection's lifetime: TLS, HTTP/2 until the client leaves or the server
//! stops, age and idle limits, and the calls in flight on it. With gRPC-Web on,
//! HTTP/1.1 too.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;
use tokio::time::{Instant, Sleep};
use tonic::transport::server::Connected;

use crate::base::status::Status;
use tower::Service;

use crate::base::body::{BoxBody, StdError};
use crate::server::builder::Settings;
use crate::server::call::ServerTimeout;
use crate::server::web::{self, Protocol};
use crate::transport::gather;
use crate::transport::keepalive::{self, PingWatch};

/// How long a TLS handshake may take before the connection is dropped.
#[cfg(feature = "tls")]
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves one connection: TLS first if configured, then HTTP/2 until the
/// client leaves, the server stops, or the connection's age or idleness ends it.
pub(crate) async fn connection<IO, S, B>(
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
    // Boxed: inline, the TLS handshake and stream would size every
    // connection's task, plaintext ones too (by about 2.5 KiB each).
    #[cfg(feature = "tls")]
    if let Some(acceptor) = settings.tls.clone() {
        return Box::pin(async move {
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
            serve(tls, info, service, &settings, stopping).await;
        })
        .await;
    }
    let info = io.connect_info();
    serve(io, info, service, &settings, stopping).await;
}

/// How long a connection may take to show whether it speaks HTTP/2 or
/// HTTP/1.1 (with gRPC-Web on).
const SNIFF_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves HTTP/2, or with gRPC-Web on whichever of HTTP/2 and HTTP/1.1 the
/// client speaks.
async fn serve<IO, I, S, B>(
    io: IO,
    info: I,
    service: S,
    settings: &Settings,
    stopping: watch::Receiver<bool>,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    I: Clone + Send + Sync + 'static,
    S: Service<http::Request<BoxBody>, Response = http::Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<StdError> + Send,
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<StdError>,
{
    if settings.web.is_none() {
        return http2(io, info, service, settings, stopping).await;
    }
    // Boxed, as TLS is: inline, the sniffing and HTTP/1.1 states would size
    // every connection's task, with gRPC-Web off too.
    Box::pin(async move {
        match tokio::time::timeout(SNIFF_TIMEOUT, web::sniff(io)).await {
            Ok(Some((Protocol::Http2, io))) => http2(io, info, service, settings, stopping).await,
            Ok(Some((Protocol::Http1, io))) => {
                let state = Arc::new(ConnState::new());
                let service = ConnService::new(service, info, &state, settings);
                http1(io, service, state, settings, stopping).await;
            }
            Ok(None) | Err(_) => tracing::debug!("connection ended before its protocol showed"),
        }
    })
    .await;
}

async fn http2<IO, I, S, B>(
    io: IO,
    info: I,
    service: S,
    settings: &Settings,
    stopping: watch::Receiver<bool>,
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
    let service = ConnService::new(service, info, &state, settings);
    // Without a policy, any ping rate is within bounds.
    let policy = settings.ping_policy.unwrap_or(keepalive::Policy {
        min_time: Duration::ZERO,
        permit_without_stream: true,
    });
    let (io, drain) = gather::gather(io);
    let io = PingWatch::new(io, policy, Arc::clone(&state.active));
    let watch = io.handle();
    let connection = settings.http2.serve_connection(TokioIo::new(io), service);
    let mut ended = None;
    drive(
        std::pin::pin!(connection),
        |connection, cx| poll_and_drain(connection, &drain, &mut ended, cx),
        |connection| connection.graceful_shutdown(),
        state,
        settings,
        stopping,
    )
    .await;
    if watch.closed_for_too_many_pings() {
        tracing::debug!("connection closed: the client pinged too often");
    }
}

/// How long a client may take to send a request's head.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves HTTP/1.1 on `io` with `service` (gRPC-Web's, from browsers that do
/// not speak HTTP/2 to the server) until the client leaves, the server stops,
/// or the connection's age or idleness ends it.
async fn http1<IO, I, S, B>(
    io: IO,
    service: ConnService<S, I>,
    state: Arc<ConnState>,
    settings: &Settings,
    stopping: watch::Receiver<bool>,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    I: Clone + Send + Sync + 'static,
    S: Service<http::Request<BoxBody>, Response = http::Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<StdError> + Send,
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<StdError>,
{
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .serve_connection(TokioIo::new(io), service);
    drive(
        std::pin::pin!(connection),
        |connection, cx| connection.poll(cx).map_err(Into::into),
        |connection| connection.graceful_shutdown(),
        state,
        settings,
        stopping,
    )
    .await;
}

/// Runs a connection (`poll` drives it) until it ends. When the server stops,
/// or the connection reaches its maximum age or idle time, `shutdown` asks it
/// to finish its calls and close; past the age's grace period it is dropped
/// with whatever calls are left.
async fn drive<C>(
    mut connection: Pin<&mut C>,
    mut poll: impl FnMut(Pin<&mut C>, &mut Context<'_>) -> Poll<Result<(), StdError>>,
    shutdown: impl Fn(Pin<&mut C>),
    state: Arc<ConnState>,
    settings: &Settings,
    mut stopping: watch::Receiver<bool>,
) {
    let mut age = settings
        .max_connection_age
        .map(|age| Box::pin(tokio::time::sleep(age)));
    let mut idle = settings
        .max_connection_idle
        .map(|idle| Box::pin(idle_for(state, idle)));
    let mut grace: Option<Pin<Box<Sleep>>> = None;
    let mut closing = false;
    if *stopping.borrow_and_update() {
        closing = true;
        shutdown(connection.as_mut());
    }
    loop {
        tokio::select! {
            result = std::future::poll_fn(|cx| poll(connection.as_mut(), cx)) => {
                if let Err(err) = result {
                    tracing::debug!(error = %err, "connection ended with an error");
                }
                break;
            }
            _ = stopping.changed(), if !closing => {
                closing = true;
                shutdown(connection.as_mut());
            }
            () = wait(&mut age), if !closing && age.is_some() => {
                closing = true;
                shutdown(connection.as_mut());
                grace = settings
                    .max_connection_age_grace
                    .map(|grace| Box::pin(tokio::time::sleep(grace)));
            }
            () = wait(&mut idle), if !closing && idle.is_some() => {
                closing = true;
                shutdown(connection.as_mut());
            }
            // The grace period is over: drop the connection and its calls.
            () = wait(&mut grace), if grace.is_some() => break,
        }
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

impl<S, I> ConnService<S, I> {
    fn new(inner: S, info: I, state: &Arc<ConnState>, settings: &Settings) -> Self {
        Self {
            inner,
            info,
            state: Arc::clone(state),
            timeout: settings.timeout,
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn service() -> impl Service<
        http::Request<BoxBody>,
        Response = http::Response<BoxBody>,
        Error = Infallible,
        Future = impl Send,
    > + Clone
    + Send
    + 'static {
        tower::service_fn(|_: http::Request<BoxBody>| async {
            Ok::<_, Infallible>(http::Response::new(BoxBody::empty()))
        })
    }

    /// Every idle connection holds its task: the TLS handshake's and
    /// gRPC-Web's states must not size the task of a plaintext HTTP/2 one (TLS
    /// alone made it 2.5 KiB bigger, a tenth of a connection's memory,
    /// benches/conn-memory.sh).
    #[tokio::test]
    async fn a_plaintext_connection_task_is_no_bigger_than_its_http2_part() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (client, server) = tokio::join!(tokio::net::TcpStream::connect(addr), async {
            listener.accept().await.unwrap().0
        });
        let _client = client.unwrap();
        let settings = Arc::new(crate::server::Server::builder().settings);
        let (_stop, stopping) = watch::channel(false);
        let info = server.connect_info();
        let plain_http2 =
            std::mem::size_of_val(&http2(server, info, service(), &settings, stopping.clone()));
        let (_, server) = tokio::join!(tokio::net::TcpStream::connect(addr), async {
            listener.accept().await.unwrap().0
        });
        let task = std::mem::size_of_val(&connection(server, service(), settings, stopping));
        // Above the HTTP/2 future: two async levels' arguments (the IO,
        // service, settings and watch), about 260 bytes. TLS inline was 2.4 KiB.
        assert!(
            task <= plain_http2 + 512,
            "a plaintext connection's future is {task} bytes, its HTTP/2 part {plain_http2}"
        );
    }
}
