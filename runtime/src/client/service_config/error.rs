//! Why a service config was rejected: where (a field path, or a line and
//! column of the JSON) and what is wrong.

use std::fmt;

/// A service config that was rejected, as a whole: its JSON was malformed, or a
/// field gRPC knows had a bad value.
///
/// Its message names the field (`methodConfig[0].retryPolicy.maxAttempts: must
/// be greater than 1`) or, for malformed JSON, the line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceConfigError {
    kind: Kind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Syntax {
        line: usize,
        column: usize,
        message: String,
    },
    Field {
        path: String,
        message: String,
    },
}

impl ServiceConfigError {
    pub(crate) fn syntax(error: &serde_json::Error) -> Self {
        let (line, column) = (error.line(), error.column());
        let text = error.to_string();
        // serde_json ends its message with the position, which we print our way.
        let suffix = format!(" at line {line} column {column}");
        let message = text.strip_suffix(&suffix).unwrap_or(&text).to_owned();
        Self {
            kind: Kind::Syntax {
                line,
                column,
                message,
            },
        }
    }

    pub(crate) fn field(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            kind: Kind::Field {
                path: path.into(),
                message: message.into(),
            },
        }
    }

    /// The path of the rejected field (`methodConfig[0].timeout`; empty for the
    /// config as a whole), or `None` if the JSON itself was malformed.
    pub fn path(&self) -> Option<&str> {
        match &self.kind {
            Kind::Field { path, .. } => Some(path),
            Kind::Syntax { .. } => None,
        }
    }

    /// The line and column (both from 1) where malformed JSON went wrong, or
    /// `None` if the JSON was well formed and a field was rejected.
    pub fn line_column(&self) -> Option<(usize, usize)> {
        match &self.kind {
            Kind::Syntax { line, column, .. } => Some((*line, *column)),
            Kind::Field { .. } => None,
        }
    }

    /// What is wrong, without the field path or position.
    pub fn message(&self) -> &str {
        match &self.kind {
            Kind::Syntax { message, .. } | Kind::Field { message, .. } => message,
        }
    }
}

impl fmt::Display for ServiceConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Syntax {
                line,
                column,
                message,
            } => write!(
                f,
                "service config is not valid JSON: line {line} column {column}: {message}"
            ),
            Kind::Field { path, message } if path.is_empty() => {
                write!(f, "service config: {message}")
            }
            Kind::Field { path, message } => write!(f, "{path}: {message}"),
        }
    }
}

impl std::error::Error for ServiceConfigError {}
