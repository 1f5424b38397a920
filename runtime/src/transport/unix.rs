//! Unix domain socket listeners, for servers on one machine with their
//! clients (sidecars, local daemons).

use std::path::Path;

use tokio::net::UnixListener;
use tokio_stream::wrappers::UnixListenerStream;

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
