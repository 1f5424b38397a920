//! One HTTP/2 connection to one address: dial (TCP, Unix socket, or a
//! caller's own dialer), TLS when asked, and hyper's HTTP/2 client handshake
//! with the channel's settings. We never write HTTP/2 ourselves.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use hyper::client::conn::http2;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::base::body::BoxBody;
use crate::client::resolver::{Address, Inner};
use crate::transport::coalesce::Coalesce;

/// A byte stream a connection can run over.
pub(crate) trait Io: AsyncRead + AsyncWrite + Send + Unpin + 'static {}

impl<T> Io for T where T: AsyncRead + AsyncWrite + Send + Unpin + 'static {}

/// A dial on its way.
pub(crate) type Dialing = Pin<Box<dyn Future<Output = std::io::Result<Box<dyn Io>>> + Send>>;

/// Opens a byte stream to an address, in place of a socket (in-process
/// channels, tests).
pub(crate) type Dialer = Arc<dyn Fn(&Address) -> Dialing + Send + Sync>;

/// The HTTP/2 settings of a channel's connections.
#[derive(Debug, Clone)]
pub(crate) struct Http2Settings {
    pub(crate) keep_alive_interval: Option<Duration>,
    pub(crate) keep_alive_timeout: Duration,
    pub(crate) keep_alive_while_idle: bool,
    pub(crate) initial_stream_window_size: Option<u32>,
    pub(crate) initial_connection_window_size: Option<u32>,
    pub(crate) adaptive_window: bool,
    pub(crate) max_frame_size: Option<u32>,
    pub(crate) max_header_list_size: Option<u32>,
    pub(crate) tcp_nodelay: bool,
}

impl Default for Http2Settings {
    fn default() -> Self {
        Self {
            keep_alive_interval: None,
            keep_alive_timeout: Duration::from_secs(20),
            keep_alive_while_idle: false,
            initial_stream_window_size: None,
            initial_connection_window_size: None,
            adaptive_window: false,
            max_frame_size: None,
            max_header_list_size: None,
            tcp_nodelay: true,
        }
    }
}

/// How a channel's connections are made.
#[derive(Clone, Default)]
pub(crate) struct Connector {
    pub(crate) http2: Http2Settings,
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<crate::transport::tls::Connector>,
    pub(crate) dialer: Option<Dialer>,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector")
            .field("http2", &self.http2)
            .field("dialer", &self.dialer.is_some())
            .finish_non_exhaustive()
    }
}

/// A connection's request half: cheap to clone, one per call.
pub(crate) type Sender = http2::SendRequest<BoxBody>;

/// The part that runs the connection; it ends when the connection can take
/// no new calls (closed, failed, or GOAWAY from the server, while calls
/// already on it go on).
pub(crate) type Driver = Pin<Box<dyn Future<Output = Result<(), hyper::Error>> + Send>>;

impl Connector {
    /// Connects to `address` and runs the HTTP/2 handshake.
    pub(crate) async fn connect(&self, address: &Address) -> std::io::Result<(Sender, Driver)> {
        let io = self.dial(address).await?;
        #[cfg(feature = "tls")]
        if let Some(tls) = &self.tls {
            let io = tls.connect(io).await?;
            return self.handshake(Box::new(io)).await;
        }
        self.handshake(io).await
    }

    async fn dial(&self, address: &Address) -> std::io::Result<Box<dyn Io>> {
        if let Some(dialer) = &self.dialer {
            return dialer(address).await;
        }
        match &address.0 {
            Inner::Tcp(addr) => {
                let tcp = tokio::net::TcpStream::connect(addr).await?;
                tcp.set_nodelay(self.http2.tcp_nodelay)?;
                Ok(Box::new(tcp))
            }
            Inner::Name(name) => {
                let tcp = tokio::net::TcpStream::connect(name.as_str()).await?;
                tcp.set_nodelay(self.http2.tcp_nodelay)?;
                Ok(Box::new(tcp))
            }
            Inner::Unix(path) => Ok(Box::new(tokio::net::UnixStream::connect(path).await?)),
            Inner::UnixAbstract(name) => abstract_socket(name),
        }
    }

    async fn handshake(&self, io: Box<dyn Io>) -> std::io::Result<(Sender, Driver)> {
        let settings = &self.http2;
        let mut builder = http2::Builder::new(crate::transport::executor::Boxing);
        builder.timer(TokioTimer::new());
        if let Some(interval) = settings.keep_alive_interval {
            builder
                .keep_alive_interval(interval)
                .keep_alive_timeout(settings.keep_alive_timeout)
                .keep_alive_while_idle(settings.keep_alive_while_idle);
        }
        if settings.adaptive_window {
            builder.adaptive_window(true);
        } else {
            builder
                .initial_stream_window_size(settings.initial_stream_window_size)
                .initial_connection_window_size(settings.initial_connection_window_size);
        }
        if let Some(size) = settings.max_frame_size {
            builder.max_frame_size(size);
        }
        if let Some(size) = settings.max_header_list_size {
            builder.max_header_list_size(size);
        }
        let (heard, first_read) = tokio::sync::oneshot::channel();
        let io = FirstRead {
            inner: io,
            heard: Some(heard),
        };
        let (sender, connection) = builder
            .handshake(TokioIo::new(Coalesce::new(io)))
            .await
            .map_err(std::io::Error::other)?;
        let mut driver: Driver = Box::pin(connection);
        // READY only once the server has spoken (its SETTINGS), as grpc-go
        // has it: a server that refuses us (a TLS alert, a closed socket) is
        // a failed connection attempt, not a failed call.
        tokio::select! {
            ended = &mut driver => Err(match ended {
                Err(err) => std::io::Error::other(err),
                Ok(()) => std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the server closed the connection before speaking HTTP/2",
                ),
            }),
            // A dropped sender means the connection went away unheard: the
            // driver's end says why.
            Ok(()) = first_read => Ok((sender, driver)),
        }
    }
}

pin_project_lite::pin_project! {
    /// A byte stream that reports its first successful read.
    struct FirstRead {
        #[pin]
        inner: Box<dyn Io>,
        heard: Option<tokio::sync::oneshot::Sender<()>>,
    }
}

impl AsyncRead for FirstRead {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let this = self.project();
        let before = buf.filled().len();
        let result = this.inner.poll_read(cx, buf);
        if matches!(result, std::task::Poll::Ready(Ok(())))
            && buf.filled().len() > before
            && let Some(heard) = this.heard.take()
        {
            let _ = heard.send(());
        }
        result
    }
}

impl AsyncWrite for FirstRead {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.project().inner.poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.project().inner.poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(
        self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        self.project().inner.poll_flush(cx)
    }

    fn poll_shutdown(
        self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        self.project().inner.poll_shutdown(cx)
    }
}

#[cfg(target_os = "linux")]
fn abstract_socket(name: &[u8]) -> std::io::Result<Box<dyn Io>> {
    use std::os::linux::net::SocketAddrExt as _;
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
    let stream = std::os::unix::net::UnixStream::connect_addr(&addr)?;
    stream.set_nonblocking(true)?;
    Ok(Box::new(tokio::net::UnixStream::from_std(stream)?))
}

#[cfg(not(target_os = "linux"))]
fn abstract_socket(_: &[u8]) -> std::io::Result<Box<dyn Io>> {
    Err(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        "abstract Unix sockets exist only on Linux",
    ))
}
