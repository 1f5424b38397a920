//! The generator's error: what went wrong, where (when a .proto file is to blame),
//! and the underlying error as its `source()`.

use std::error::Error as StdError;
use std::fmt;

type Cause = Box<dyn StdError + Send + Sync>;

/// Why generation failed.
///
/// `Display` says what went wrong, starting with `file:line:column:` where the
/// problem has a place; [`source`](StdError::source) gives the underlying error
/// (an [`OptionsError`](crate::OptionsError), an I/O error), and `Debug` prints
/// the whole chain on one line, which is what a `build.rs` returning it shows.
pub struct Error {
    inner: Box<Inner>,
}

struct Inner {
    kind: Kind,
    message: String,
    file: Option<String>,
    position: Option<(u32, u32)>,
    cause: Option<Cause>,
    /// Display and source are the cause's own (it says everything already).
    transparent: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A generator option was rejected.
    Options,
    /// A .proto file could not be read, parsed or resolved.
    Parse,
    /// protoc could not be run, or rejected the files.
    Protoc,
    /// A descriptor names something that does not exist, or is malformed.
    Descriptor,
    /// prost-build could not generate the messages.
    Messages,
    /// Generated code would name a package that is neither generated nor mapped.
    MissingPackage,
    /// Reading or writing a file failed.
    Io,
}

impl Error {
    pub(crate) fn new(kind: Kind, message: impl Into<String>) -> Self {
        Self {
            inner: Box::new(Inner {
                kind,
                message: message.into(),
                file: None,
                position: None,
                cause: None,
                transparent: false,
            }),
        }
    }

    /// An error that is `cause` itself, kept reachable by type.
    pub(crate) fn transparent(kind: Kind, cause: impl Into<Cause>) -> Self {
        let mut error = Self::new(kind, String::new()).with_cause(cause);
        error.inner.transparent = true;
        error
    }

    pub(crate) fn with_cause(mut self, cause: impl Into<Cause>) -> Self {
        self.inner.cause = Some(cause.into());
        self
    }

    pub(crate) fn with_file(mut self, file: impl Into<String>) -> Self {
        self.inner.file = Some(file.into());
        self
    }

    pub(crate) fn with_position(mut self, line: u32, column: u32) -> Self {
        self.inner.position = Some((line, column));
        self
    }

    /// A generator option was rejected; [`options_error`](Self::options_error)
    /// says which and why.
    pub fn is_options(&self) -> bool {
        self.inner.kind == Kind::Options
    }

    /// The rejected option, for an options error.
    pub fn options_error(&self) -> Option<&crate::OptionsError> {
        self.inner.cause.as_deref()?.downcast_ref()
    }

    /// A .proto file could not be read, parsed or resolved (a syntax error, an
    /// unknown type, a missing import).
    pub fn is_parse(&self) -> bool {
        self.inner.kind == Kind::Parse
    }

    /// protoc could not be run, or rejected the files (its message is included).
    pub fn is_protoc(&self) -> bool {
        self.inner.kind == Kind::Protoc
    }

    /// A descriptor names a type that does not exist, or is malformed (possible
    /// only for descriptors that neither protoc nor protox made).
    pub fn is_invalid_descriptor(&self) -> bool {
        self.inner.kind == Kind::Descriptor
    }

    /// prost-build could not generate the messages.
    pub fn is_messages(&self) -> bool {
        self.inner.kind == Kind::Messages
    }

    /// The generated code would refer to types of a file that is neither among
    /// the files to generate nor mapped with `extern_path`; the message names the
    /// .proto files to add.
    pub fn is_missing_package(&self) -> bool {
        self.inner.kind == Kind::MissingPackage
    }

    /// Reading or writing a file failed; the source is the I/O error.
    pub fn is_io(&self) -> bool {
        self.inner.kind == Kind::Io
    }

    /// The file the problem is in, where known: a .proto file's name as imported
    /// (`helloworld/helloworld.proto`), or the path that could not be written.
    pub fn file(&self) -> Option<&str> {
        self.inner.file.as_deref()
    }

    /// The 1-based line in [`file`](Self::file), where known.
    pub fn line(&self) -> Option<u32> {
        self.inner.position.map(|(line, _)| line)
    }

    /// The 1-based column in [`file`](Self::file), where known.
    pub fn column(&self) -> Option<u32> {
        self.inner.position.map(|(_, column)| column)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner.cause {
            Some(cause) if self.inner.transparent => fmt::Display::fmt(cause, f),
            _ => f.write_str(&self.inner.message),
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_chain(self, f)
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        let cause = self.inner.cause.as_deref()?;
        if self.inner.transparent {
            cause.source()
        } else {
            Some(cause)
        }
    }
}

/// `error: source: source of source ...`, for one-line reports (protoc's response,
/// stderr, a build script's `Debug`).
pub(crate) fn write_chain(error: &dyn StdError, f: &mut impl fmt::Write) -> fmt::Result {
    write!(f, "{error}")?;
    let mut next = error.source();
    while let Some(cause) = next {
        write!(f, ": {cause}")?;
        next = cause.source();
    }
    Ok(())
}

/// [`write_chain`] into a new string.
pub(crate) fn chain(error: &dyn StdError) -> String {
    let mut out = String::new();
    let _ = write_chain(error, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_the_whole_chain_and_display_only_the_top() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let error = Error::new(Kind::Io, "cannot write out/a.rs")
            .with_file("out/a.rs")
            .with_cause(io);
        assert_eq!(error.to_string(), "cannot write out/a.rs");
        assert_eq!(format!("{error:?}"), "cannot write out/a.rs: no such file");
        assert_eq!(error.source().unwrap().to_string(), "no such file");
        assert!(error.is_io() && !error.is_parse());
        assert_eq!(error.file(), Some("out/a.rs"));
        assert_eq!(error.line(), None);
    }

    #[test]
    fn an_options_error_is_shown_once_and_reachable_by_type() {
        let options = crate::Options::parse("clinet").unwrap_err();
        let error = Error::transparent(Kind::Options, options.clone());
        assert_eq!(error.to_string(), options.to_string());
        assert_eq!(format!("{error:?}"), options.to_string());
        assert!(error.source().is_none());
        assert_eq!(error.options_error(), Some(&options));
        assert!(error.is_options());
    }
}
