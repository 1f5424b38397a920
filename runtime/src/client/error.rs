//! [`Error`]: why a client could not get a channel to its server.

use crate::base::body::StdError;

/// Why `FooClient::connect` failed: the target is not one the client can use,
/// or the connection could not be made. [`source`](std::error::Error::source)
/// gives the cause.
#[derive(Debug)]
pub struct Error {
    kind: Kind,
    source: StdError,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    InvalidTarget,
    InvalidConfig,
    Connect,
}

impl Error {
    pub(crate) fn invalid_target(source: impl Into<StdError>) -> Self {
        Self {
            kind: Kind::InvalidTarget,
            source: source.into(),
        }
    }

    pub(crate) fn invalid_config(source: impl Into<StdError>) -> Self {
        Self {
            kind: Kind::InvalidConfig,
            source: source.into(),
        }
    }

    pub(crate) fn connect(source: impl Into<StdError>) -> Self {
        Self {
            kind: Kind::Connect,
            source: source.into(),
        }
    }

    /// Whether the target is not a URI the client can connect to (it needs a
    /// scheme and authority, such as `http://localhost:50051`).
    pub fn is_invalid_target(&self) -> bool {
        self.kind == Kind::InvalidTarget
    }

    /// Whether a setting (a service config, a policy name) is not valid.
    pub fn is_invalid_config(&self) -> bool {
        self.kind == Kind::InvalidConfig
    }

    /// Whether connecting failed (nothing listening, refused, DNS or TLS
    /// failure).
    pub fn is_connect(&self) -> bool {
        self.kind == Kind::Connect
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.kind {
            Kind::InvalidTarget => "the target is not a URI a client can connect to",
            Kind::InvalidConfig => "a channel setting is not valid",
            Kind::Connect => "cannot connect to the server",
        })
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.source)
    }
}
