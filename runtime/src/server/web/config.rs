//! [`GrpcWeb`]: what turns gRPC-Web on, and whom browsers may let call.

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderName, HeaderValue};

/// How long browsers may cache a preflight answer unless set: two hours,
/// Chromium's own ceiling (it caps longer values there).
pub const DEFAULT_CORS_MAX_AGE: Duration = Duration::from_secs(2 * 60 * 60);

/// The request headers cross-origin pages may send unless more are allowed:
/// what gRPC-Web clients send themselves.
const DEFAULT_ALLOWED_HEADERS: &[&str] = &[
    "content-type",
    "x-grpc-web",
    "x-user-agent",
    "grpc-timeout",
    "grpc-accept-encoding",
];

/// The response headers cross-origin pages may read unless more are exposed:
/// the status of trailers-only responses.
const DEFAULT_EXPOSED_HEADERS: &[&str] =
    &["grpc-status", "grpc-message", "grpc-status-details-bin"];

/// gRPC-Web (the protocol of browser gRPC clients, PROTOCOL-WEB.md of
/// grpc/grpc) on the server's own port, and the CORS answers browsers need to
/// call it from pages of other origins. Turn it on with
/// [`Server::accept_grpc_web`](crate::Server::accept_grpc_web).
///
/// The defaults are safe: no other origin may call (same-origin pages can),
/// pages may send the headers gRPC-Web clients send and read the status
/// headers, and no credentials (cookies, HTTP authentication) go along.
///
/// | setting | default |
/// |---|---|
/// | origins whose pages may call | none besides the server's own ([`allow_origin`](Self::allow_origin), [`allow_any_origin`](Self::allow_any_origin)) |
/// | request headers they may send | `content-type`, `x-grpc-web`, `x-user-agent`, `grpc-timeout`, `grpc-accept-encoding` ([`allow_header`](Self::allow_header)) |
/// | response headers they may read | `grpc-status`, `grpc-message`, `grpc-status-details-bin` ([`expose_header`](Self::expose_header)) |
/// | how long a preflight answer is cached | [`DEFAULT_CORS_MAX_AGE`] ([`max_age`](Self::max_age)) |
/// | credentials | not allowed ([`allow_credentials`](Self::allow_credentials)) |
///
/// ```
/// use rust_grpc::codegen::http::HeaderName;
/// use rust_grpc::server::GrpcWeb;
///
/// let web = GrpcWeb::default()
///     .allow_origin("https://app.example")
///     .allow_header(HeaderName::from_static("x-token")) // metadata the page sends
///     .expose_header(HeaderName::from_static("x-trace-id")); // metadata it reads
/// ```
#[derive(Debug, Clone)]
pub struct GrpcWeb {
    pub(super) origins: Origins,
    allowed: Vec<HeaderName>,
    exposed: Vec<HeaderName>,
    pub(super) max_age: Option<Duration>,
    pub(super) credentials: bool,
}

/// The origins whose pages may call.
#[derive(Debug, Clone)]
pub(super) enum Origins {
    Listed(Vec<String>),
    Any,
}

impl Default for GrpcWeb {
    fn default() -> Self {
        Self {
            origins: Origins::Listed(Vec::new()),
            allowed: names(DEFAULT_ALLOWED_HEADERS),
            exposed: names(DEFAULT_EXPOSED_HEADERS),
            max_age: Some(DEFAULT_CORS_MAX_AGE),
            credentials: false,
        }
    }
}

fn names(names: &[&'static str]) -> Vec<HeaderName> {
    names
        .iter()
        .map(|name| HeaderName::from_static(name))
        .collect()
}

impl GrpcWeb {
    /// Lets pages of `origin` (`scheme://host[:port]`, as browsers send it in
    /// `Origin`, say `https://app.example`) call; call once per origin.
    #[must_use]
    pub fn allow_origin(mut self, origin: impl Into<String>) -> Self {
        let mut origin = origin.into();
        while origin.ends_with('/') {
            origin.pop();
        }
        match &mut self.origins {
            Origins::Listed(origins) => origins.push(origin),
            Origins::Any => self.origins = Origins::Listed(vec![origin]),
        }
        self
    }

    /// Lets pages of every origin call (`Access-Control-Allow-Origin: *`).
    /// Browsers then never send credentials, even with
    /// [`allow_credentials`](Self::allow_credentials): a wildcard with
    /// credentials would let any site act as its visitors.
    #[must_use]
    pub fn allow_any_origin(mut self) -> Self {
        self.origins = Origins::Any;
        self
    }

    /// Lets pages send `name` too (request metadata such as `authorization`
    /// or `x-token`).
    #[must_use]
    pub fn allow_header(mut self, name: HeaderName) -> Self {
        if !self.allowed.contains(&name) {
            self.allowed.push(name);
        }
        self
    }

    /// Lets pages read `name` too (response metadata, initial or trailing).
    #[must_use]
    pub fn expose_header(mut self, name: HeaderName) -> Self {
        if !self.exposed.contains(&name) {
            self.exposed.push(name);
        }
        self
    }

    /// How long browsers may cache a preflight answer ([`DEFAULT_CORS_MAX_AGE`]
    /// unless set); `None` sends no `Access-Control-Max-Age`.
    #[must_use]
    pub fn max_age(mut self, max_age: Option<Duration>) -> Self {
        self.max_age = max_age;
        self
    }

    /// Whether pages of the listed origins may call with credentials (cookies,
    /// HTTP authentication, client certificates); off unless set, and never
    /// for [`allow_any_origin`](Self::allow_any_origin).
    #[must_use]
    pub fn allow_credentials(mut self, allow: bool) -> Self {
        self.credentials = allow;
        self
    }

    /// The settings as the server uses them: header lists joined once.
    pub(crate) fn prepare(self) -> Arc<Prepared> {
        Arc::new(Prepared {
            allowed: join(&self.allowed),
            exposed: join(&self.exposed),
            max_age: self.max_age.map(|age| HeaderValue::from(age.as_secs())),
            config: self,
        })
    }
}

/// [`GrpcWeb`] with its header lists as header values.
#[derive(Debug)]
pub(crate) struct Prepared {
    pub(super) config: GrpcWeb,
    pub(super) allowed: HeaderValue,
    pub(super) exposed: HeaderValue,
    pub(super) max_age: Option<HeaderValue>,
}

fn join(names: &[HeaderName]) -> HeaderValue {
    let joined = names
        .iter()
        .map(HeaderName::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    HeaderValue::from_str(&joined).expect("header names are valid in a header value")
}
