//! Channels to Unix domain sockets.

use std::path::PathBuf;

use crate::client::channel::{Channel, Endpoint};
use crate::client::target::Target;

/// A channel that connects to the socket at `path` (lazily, on first call, and
/// again after the connection drops).
///
/// Must be called inside a tokio runtime.
pub fn channel(path: impl Into<PathBuf>) -> Channel {
    Endpoint::from(Target::unix(path.into()))
        .connect_lazy()
        .unwrap_or_else(|err| unreachable!("a plaintext channel always builds: {err}"))
}
