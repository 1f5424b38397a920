//! [`ServeError`]: why a server could not start or stopped serving.

use crate::base::body::StdError;

/// The error that ends [`Router::serve`](crate::Router::serve) and its kin, or refuses a TLS setting.
#[derive(Debug)]
pub struct ServeError {
    what: String,
    source: Option<StdError>,
}

impl ServeError {
    pub(crate) fn new(what: impl Into<String>, source: impl Into<StdError>) -> Self {
        Self {
            what: what.into(),
            source: Some(source.into()),
        }
    }
}

impl std::fmt::Display for ServeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.source {
            Some(source) => write!(f, "{}: {source}", self.what),
            None => f.write_str(&self.what),
        }
    }
}

impl std::error::Error for ServeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|source| source as &(dyn std::error::Error + 'static))
    }
}
