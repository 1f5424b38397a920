//! Graceful shutdown: stop accepting, let running calls finish within a grace
//! period, then end the rest with UNAVAILABLE.
//!
//! A [`Shutdown`]'s signal given to `serve_with_shutdown` is all it takes: the
//! server ends the calls still running when the grace period is over. Any other
//! future works as a signal too; then running calls may take as long as they
//! need, as with tonic.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! # let (_, health) = rust_grpc::health::health_service();
//! use std::time::Duration;
//!
//! let shutdown = rust_grpc::Shutdown::new(Duration::from_secs(10));
//! rust_grpc::Server::builder()
//!     .add_service(health)
//!     // Begins on SIGINT or SIGTERM (or `shutdown.trigger()`), which starts the grace period.
//!     .serve_with_shutdown("127.0.0.1:50051".parse()?, shutdown.on_signal())
//!     .await?;
//! # Ok(())
//! # }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::watch;

use crate::base::body::{BoxBody, BoxFuture, StdError};
use crate::base::status::Status;

/// Coordinates one server's shutdown; cheap to clone.
#[derive(Debug, Clone)]
pub struct Shutdown {
    grace: Duration,
    begun: Arc<watch::Sender<bool>>,
    forced: Arc<watch::Sender<bool>>,
}

impl Shutdown {
    /// A shutdown that gives running calls `grace` to finish.
    pub fn new(grace: Duration) -> Self {
        Self {
            grace,
            begun: Arc::new(watch::Sender::new(false)),
            forced: Arc::new(watch::Sender::new(false)),
        }
    }

    /// Begins the shutdown now: the server stops accepting, and calls still
    /// running when the grace period ends are ended with UNAVAILABLE.
    ///
    /// Must be called inside a tokio runtime (it starts the grace timer).
    pub fn trigger(&self) {
        if self.begun.send_replace(true) {
            return;
        }
        let forced = Arc::clone(&self.forced);
        let grace = self.grace;
        tokio::spawn(async move {
            tokio::time::sleep(grace).await;
            forced.send_replace(true);
        });
    }

    /// The signal that the shutdown has begun: give it to `serve_with_shutdown`
    /// (the server then ends calls still running after the grace period), or
    /// `.await` it.
    pub fn signal(&self) -> ShutdownSignal {
        let mut begun = self.begun.subscribe();
        ShutdownSignal {
            shutdown: self.clone(),
            future: Box::pin(async move {
                let _ = begun.wait_for(|begun| *begun).await;
            }),
        }
    }

    /// Like [`signal`](Self::signal), and also begins the shutdown on SIGINT
    /// (Ctrl-C) or SIGTERM (what Kubernetes and systemd send).
    ///
    /// Inside a tokio runtime it listens from this call on, not from the first
    /// poll, so a signal sent as soon as the server is up is not missed.
    pub fn on_signal(&self) -> ShutdownSignal {
        let this = self.clone();
        let os_signal = os_signal();
        let begun = self.signal().future;
        ShutdownSignal {
            shutdown: self.clone(),
            future: Box::pin(async move {
                tokio::select! {
                    () = os_signal => this.trigger(),
                    () = begun => {}
                }
            }),
        }
    }

    /// The layer that ends calls still running when the grace period is over.
    pub(crate) fn layer(&self) -> ShutdownLayer {
        ShutdownLayer {
            forced: self.forced.subscribe(),
        }
    }
}

/// The signal of a [`Shutdown`] (from [`Shutdown::signal`] or
/// [`Shutdown::on_signal`]): resolves once the shutdown begins. Given to
/// `serve_with_shutdown`, it also makes the server end the calls still running
/// when the grace period is over.
#[must_use = "give it to serve_with_shutdown, or await it"]
pub struct ShutdownSignal {
    shutdown: Shutdown,
    future: Pin<Box<dyn Future<Output = ()> + Send + 'static>>,
}

impl std::fmt::Debug for ShutdownSignal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShutdownSignal")
            .field("grace", &self.shutdown.grace)
            .finish_non_exhaustive()
    }
}

impl std::future::IntoFuture for ShutdownSignal {
    type Output = ();
    type IntoFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

    fn into_future(self) -> Self::IntoFuture {
        self.future
    }
}

/// What `serve_with_shutdown` takes: any future (calls may then run as long as
/// they need once it resolves) or a [`ShutdownSignal`] (calls get its grace
/// period).
pub trait IntoShutdown: sealed::Sealed {
    /// The future that begins the shutdown.
    #[doc(hidden)]
    type Signal: Future<Output = ()>;

    /// The future, and the shutdown whose grace period bounds running calls.
    #[doc(hidden)]
    fn into_shutdown(self) -> (Self::Signal, Option<Shutdown>);
}

impl<F: Future<Output = ()>> IntoShutdown for F {
    type Signal = F;

    fn into_shutdown(self) -> (F, Option<Shutdown>) {
        (self, None)
    }
}

impl IntoShutdown for ShutdownSignal {
    type Signal = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

    fn into_shutdown(self) -> (Self::Signal, Option<Shutdown>) {
        (self.future, Some(self.shutdown))
    }
}

mod sealed {
    pub trait Sealed {}
    impl<F: std::future::Future<Output = ()>> Sealed for F {}
    impl Sealed for super::ShutdownSignal {}
}

/// Completes on SIGINT or SIGTERM.
fn os_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        // Registering needs a runtime; without one it waits for the first poll.
        let registered = tokio::runtime::Handle::try_current().ok().and_then(|_| {
            Some((
                signal(SignalKind::interrupt()).ok()?,
                signal(SignalKind::terminate()).ok()?,
            ))
        });
        async move {
            let (mut interrupt, mut terminate) = match registered {
                Some(streams) => streams,
                None => match (
                    signal(SignalKind::interrupt()),
                    signal(SignalKind::terminate()),
                ) {
                    (Ok(interrupt), Ok(terminate)) => (interrupt, terminate),
                    _ => {
                        let _ = tokio::signal::ctrl_c().await;
                        return;
                    }
                },
            };
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

fn forced_future(forced: &watch::Receiver<bool>) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    let mut forced = forced.clone();
    Box::pin(async move {
        // A dropped sender means the Shutdown is gone: never force.
        if forced.wait_for(|forced| *forced).await.is_err() {
            std::future::pending::<()>().await;
        }
    })
}

fn shutting_down() -> Status {
    Status::unavailable("the server is shutting down")
}

/// The layer a server puts around its services when it serves with a
/// [`ShutdownSignal`].
#[derive(Debug, Clone)]
pub(crate) struct ShutdownLayer {
    forced: watch::Receiver<bool>,
}

impl<S> tower::Layer<S> for ShutdownLayer {
    type Service = ShutdownService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ShutdownService {
            inner,
            forced: self.forced.clone(),
        }
    }
}

/// The service [`ShutdownLayer`] wraps around a server.
#[derive(Debug, Clone)]
pub(crate) struct ShutdownService<S> {
    inner: S,
    forced: watch::Receiver<bool>,
}

impl<S, B, R> tower::Service<http::Request<B>> for ShutdownService<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    R: http_body::Body<Data = Bytes> + Send + 'static,
    R::Error: Into<StdError>,
{
    type Response = http::Response<BoxBody>;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let call = self.inner.call(request);
        let forced = self.forced.clone();
        Box::pin(async move {
            tokio::select! {
                response = call => {
                    let response = response?;
                    let forced = forced_future(&forced);
                    Ok(response.map(|inner| {
                        BoxBody::new(ShutdownBody { inner, forced: Some(forced), finished: false })
                    }))
                }
                () = forced_future(&forced) => Ok(shutting_down().into_http()),
            }
        })
    }
}

pin_project_lite::pin_project! {
    /// A response body that ends with UNAVAILABLE when the grace period is over.
    struct ShutdownBody<R> {
        #[pin]
        inner: R,
        forced: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
        // The inner body has sent its trailers (or ended): nothing may follow.
        finished: bool,
    }
}

impl<R> http_body::Body for ShutdownBody<R>
where
    R: http_body::Body<Data = Bytes>,
    R::Error: Into<StdError>,
{
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Status>>> {
        let mut this = self.project();
        if *this.finished {
            return this
                .inner
                .poll_frame(cx)
                .map_err(|error| Status::from_error(error.into()));
        }
        match this.forced {
            Some(forced) => {
                if forced.as_mut().poll(cx).is_ready() {
                    *this.forced = None;
                    let mut trailers = http::HeaderMap::new();
                    // The status text is ASCII, so the header always encodes.
                    let _ = shutting_down().add_header(&mut trailers);
                    return Poll::Ready(Some(Ok(http_body::Frame::trailers(trailers))));
                }
            }
            // The forced trailers went out: the body is over.
            None => return Poll::Ready(None),
        }
        let frame = std::task::ready!(this.inner.as_mut().poll_frame(cx));
        if frame
            .as_ref()
            .is_none_or(|frame| frame.as_ref().is_ok_and(http_body::Frame::is_trailers))
        {
            *this.finished = true;
        }
        Poll::Ready(frame.map(|frame| frame.map_err(|error| Status::from_error(error.into()))))
    }

    // Forwarded so that a trailers-only response stays one HEADERS frame.
    fn is_end_stream(&self) -> bool {
        self.forced.is_none() || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
