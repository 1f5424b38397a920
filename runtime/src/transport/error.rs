//! [`ServeError`]: why a server could not start or stopped serving.

use crate::base::body::StdError;

/// The error that ends [`Router::serve`](crate::Router::serve) and its kin, or
/// refuses a TLS setting. It says what failed; [`source`](std::error::Error::source)
/// gives the cause (an I/O or rustls error).
#[derive(Debug)]
pub struct ServeError {
    kind: Kind,
    what: String,
    source: Option<StdError>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// The address could not be listened on.
    Bind,
    /// The TLS configuration could not be used.
    Tls,
}

impl ServeError {
    pub(crate) fn new(kind: Kind, what: impl Into<String>, source: impl Into<StdError>) -> Self {
        Self {
            kind,
            what: what.into(),
            source: Some(source.into()),
        }
    }

    /// Whether the server could not listen on its address (in use, or not
    /// allowed).
    pub fn is_bind(&self) -> bool {
        self.kind == Kind::Bind
    }

    /// Whether the TLS configuration could not be used (a certificate, key or
    /// client CA that does not read or does not fit).
    pub fn is_tls(&self) -> bool {
        self.kind == Kind::Tls
    }
}

impl std::fmt::Display for ServeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.what)
    }
}

impl std::error::Error for ServeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|source| source as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cause_is_the_source_not_part_of_the_message() {
        let err = ServeError::new(Kind::Bind, "cannot listen on 127.0.0.1:1", "in use");
        assert!(err.is_bind() && !err.is_tls());
        assert_eq!(err.to_string(), "cannot listen on 127.0.0.1:1");
        let source = std::error::Error::source(&err).expect("a source");
        assert_eq!(source.to_string(), "in use");
    }
}
