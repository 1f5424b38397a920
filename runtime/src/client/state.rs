//! Connectivity states, as gRPC defines them for channels and subchannels.

/// Where a channel or subchannel stands with its connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnectivityState {
    /// No connection and none being made: the next call starts one.
    Idle,
    /// Connecting.
    Connecting,
    /// Connected: calls go out at once.
    Ready,
    /// Connecting failed; the channel waits (backoff) before trying again.
    /// Calls fail fast unless they wait for ready.
    TransientFailure,
    /// Closed for good.
    Shutdown,
}

impl std::fmt::Display for ConnectivityState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Idle => "IDLE",
            Self::Connecting => "CONNECTING",
            Self::Ready => "READY",
            Self::TransientFailure => "TRANSIENT_FAILURE",
            Self::Shutdown => "SHUTDOWN",
        })
    }
}
