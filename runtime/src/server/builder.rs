//! The server builder: safe defaults, HTTP/2 and keepalive settings, TLS,
//! layers, and the services it serves.

use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::TokioTimer;

use crate::transport::executor::Boxing;
use tower::layer::util::{Identity, Stack};

use crate::server::trace::TraceLayer;
use crate::server::web::{self, GrpcWeb};
#[cfg(feature = "tls")]
use crate::transport::error::ServeError;
use crate::transport::keepalive;

/// The most streams (calls) a client may have open at once on one connection.
pub const DEFAULT_MAX_CONCURRENT_STREAMS: u32 = 1024;

/// The largest header list (request metadata included) a client may send:
/// 64 KiB, four times hyper's (and tonic's) 16 KiB and gRPC C++'s hard limit,
/// where grpc-go's 16 MiB would let each of 1,024 streams hold that much.
/// See [`Server::http2_max_header_list_size`].
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
/// | `TCP_NODELAY` on accepted connections ([`serve`](crate::Router::serve), [`serve_with_listener`](crate::Router::serve_with_listener)) | on |
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
/// The options follow one rule: a setting that can be switched off takes an
/// `Option`, and `None` switches it off; every other setting takes its value,
/// and leaving it unset keeps the default the table gives.
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
///     .http2_keepalive_timeout(Duration::from_secs(10))
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
    pub(crate) settings: Settings,
    pub(crate) layer: L,
}

#[derive(Clone)]
pub(crate) struct Settings {
    pub(crate) http2: hyper::server::conn::http2::Builder<Boxing>,
    pub(crate) ping_policy: Option<keepalive::Policy>,
    pub(crate) max_connection_age: Option<Duration>,
    pub(crate) max_connection_age_grace: Option<Duration>,
    pub(crate) max_connection_idle: Option<Duration>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) tcp_nodelay: bool,
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<tokio_rustls::TlsAcceptor>,
    pub(crate) web: Option<Arc<web::Prepared>>,
    #[cfg(feature = "opentelemetry")]
    pub(crate) metrics: Option<Arc<crate::telemetry::ServerMetrics>>,
}

impl Settings {
    /// The settings as connections use them: with gRPC-Web on, TLS offers
    /// HTTP/1.1 after HTTP/2 (ALPN), so clients that speak only HTTP/1.1 can
    /// connect.
    pub(crate) fn for_serving(self) -> Self {
        #[cfg(feature = "tls")]
        if self.web.is_some()
            && let Some(tls) = &self.tls
        {
            let mut config = tokio_rustls::rustls::ServerConfig::clone(tls.config());
            config.alpn_protocols.push(b"http/1.1".to_vec());
            let tls = Some(tokio_rustls::TlsAcceptor::from(Arc::new(config)));
            return Self { tls, ..self };
        }
        self
    }
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
        let mut http2 = hyper::server::conn::http2::Builder::new(Boxing);
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
                web: None,
                #[cfg(feature = "opentelemetry")]
                metrics: None,
            },
            layer: Stack::new(TraceLayer, Identity::new()),
        }
    }
}

impl<L> Server<L> {
    fn http2(mut self, set: impl FnOnce(&mut hyper::server::conn::http2::Builder<Boxing>)) -> Self {
        set(&mut self.settings.http2);
        self
    }

    /// The most streams (calls) a client may have open at once on one connection
    /// ([`DEFAULT_MAX_CONCURRENT_STREAMS`] unless set); `None` sets no limit.
    #[must_use]
    pub fn max_concurrent_streams(self, max: impl Into<Option<u32>>) -> Self {
        let max = max.into();
        self.http2(|http2| {
            http2.max_concurrent_streams(max);
        })
    }

    /// The largest header list (request metadata and HTTP/2 headers, counted as
    /// RFC 9113 does: name, value and 32 bytes per field) a client may send
    /// ([`DEFAULT_MAX_HEADER_LIST_SIZE`] unless set). The server advertises it in
    /// SETTINGS_MAX_HEADER_LIST_SIZE.
    ///
    /// A call over it fails alone: its stream is answered HTTP 431 and reset,
    /// which a gRPC client reports as UNKNOWN, and the connection's other calls
    /// carry on. Only a header block cut into more CONTINUATION frames than the
    /// limit could need (a quarter more than `max / max_frame_size`, and at
    /// least 5) closes the connection, with GOAWAY ENHANCE_YOUR_CALM: that is
    /// the CONTINUATION flood (CVE-2024-27316), not a large header list.
    #[must_use]
    pub fn http2_max_header_list_size(self, max: u32) -> Self {
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
    pub fn http2_keepalive_timeout(self, timeout: Duration) -> Self {
        self.http2(|http2| {
            http2.keep_alive_timeout(timeout);
        })
    }

    /// The HTTP/2 flow-control window of each stream, in bytes.
    #[must_use]
    pub fn initial_stream_window_size(self, size: u32) -> Self {
        self.http2(|http2| {
            http2.initial_stream_window_size(size);
        })
    }

    /// The HTTP/2 flow-control window of each connection, in bytes.
    #[must_use]
    pub fn initial_connection_window_size(self, size: u32) -> Self {
        self.http2(|http2| {
            http2.initial_connection_window_size(size);
        })
    }

    /// Sizes the flow-control windows from the measured bandwidth-delay product
    /// (off unless set).
    #[must_use]
    pub fn http2_adaptive_window(self, enabled: bool) -> Self {
        self.http2(|http2| {
            http2.adaptive_window(enabled);
        })
    }

    /// The largest HTTP/2 frame payload the server accepts, in bytes.
    #[must_use]
    pub fn max_frame_size(self, size: u32) -> Self {
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

    /// Sets `TCP_NODELAY` on the connections [`serve`](crate::Router::serve) and
    /// [`serve_with_listener`](crate::Router::serve_with_listener) accept (on
    /// unless set).
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

    /// Records the server metrics of gRFC A66 (`grpc.server.call.*`) with
    /// a meter from `provider`; see [`crate::telemetry`] for the instruments.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// # let (_, health) = rust_grpc::health::health_service();
    /// # let provider = rust_grpc::telemetry::opentelemetry::metrics::noop::NoopMeterProvider::new();
    /// // provider: an opentelemetry_sdk SdkMeterProvider, say, with a Prometheus reader.
    /// rust_grpc::Server::builder()
    ///     .metrics(&provider)
    ///     .add_service(health)
    ///     .serve("127.0.0.1:50051".parse()?)
    ///     .await?;
    /// # Ok(())
    /// # }
    /// ```
    #[cfg(feature = "opentelemetry")]
    #[must_use]
    pub fn metrics(mut self, provider: &impl opentelemetry::metrics::MeterProvider) -> Self {
        self.settings.metrics = Some(Arc::new(crate::telemetry::ServerMetrics::new(provider)));
        self
    }

    /// Serves gRPC-Web too, on the same port: browser clients (grpc-web,
    /// Connect's `createGrpcWebTransport`) call every service with
    /// `application/grpc-web[+proto]` or `application/grpc-web-text[+proto]`,
    /// over HTTP/1.1 or HTTP/2, and CORS preflights are answered as `web` says.
    ///
    /// Off unless set, because it opens the port to HTTP/1.1 and to pages in
    /// browsers, which a server for gRPC clients alone should not offer; with it
    /// off, connections and calls take the HTTP/2-only path and pay nothing for
    /// it. Unary and server-streaming calls work from any browser client;
    /// client and bidirectional streaming need HTTP/2 and a client that streams
    /// request bodies. Over TLS the server offers HTTP/2 first and HTTP/1.1
    /// after it (ALPN `h2`, `http/1.1`); without gRPC-Web, HTTP/2 alone.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// # let (_, health) = rust_grpc::health::health_service();
    /// use rust_grpc::server::GrpcWeb;
    ///
    /// rust_grpc::Server::builder()
    ///     .accept_grpc_web(GrpcWeb::default().allow_origin("https://app.example"))
    ///     .add_service(health)
    ///     .serve("127.0.0.1:8080".parse()?)
    ///     .await?;
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn accept_grpc_web(mut self, web: GrpcWeb) -> Self {
        self.settings.web = Some(web.prepare());
        self
    }

    /// Wraps every call in `layer` (a tower layer), inside the layers added
    /// before it.
    pub fn layer<N>(self, layer: N) -> Server<Stack<N, L>> {
        Server {
            settings: self.settings,
            layer: Stack::new(layer, self.layer),
        }
    }
}
