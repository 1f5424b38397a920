//! Unix domain sockets, for servers and clients on one machine (sidecars,
//! local daemons): no TCP, and file permissions decide who may connect.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! # let (_, health) = rust_grpc::health::health_service();
//! let incoming = rust_grpc::unix::incoming("/tmp/app.sock")?;
//! tokio::spawn(rust_grpc::Server::builder().add_service(health).serve_with_incoming(incoming));
//! let channel = rust_grpc::unix::channel("/tmp/app.sock");
//! let client = rust_grpc::health::HealthClient::new(channel);
//! # let _ = client;
//! # Ok(())
//! # }
//! ```

use std::path::{Path, PathBuf};

use hyper_util::rt::TokioIo;
use tokio::net::{UnixListener, UnixStream};
use tokio_stream::wrappers::UnixListenerStream;

use tonic::transport::{Channel, Endpoint};

/// Listens on the socket at `path`, for `serve_with_incoming`. A stale socket
/// file left by an earlier run is removed first.
///
/// # Errors
///
/// Returns the error of binding the socket, for example a missing directory.
pub fn incoming(path: impl AsRef<Path>) -> std::io::Result<UnixListenerStream> {
    let path = path.as_ref();
    if std::os::unix::net::UnixStream::connect(path).is_err() {
        // Nobody answers there: a leftover file, or nothing at all.
        let _ = std::fs::remove_file(path);
    }
    UnixListener::bind(path).map(UnixListenerStream::new)
}

/// A channel that connects to the socket at `path` (lazily, on first call, and
/// again after the connection drops).
pub fn channel(path: impl Into<PathBuf>) -> Channel {
    let path = path.into();
    Endpoint::from_static("http://unix.invalid").connect_with_connector_lazy(tower::service_fn(
        move |_: http::Uri| {
            let path = path.clone();
            async move { UnixStream::connect(path).await.map(TokioIo::new) }
        },
    ))
}
