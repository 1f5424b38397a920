//! Async interceptors for servers and clients: code that runs before every call,
//! sees its method and metadata, and can reject it, add metadata, or hand values
//! to the handler through the request's extensions.
//!
//! An [`Interceptor`] is an async function from `Request<()>` (metadata and
//! extensions, no message) to the same request or a [`Status`]. [`layer`] makes a
//! tower layer of it (layers chain, outermost first), and the generated
//! `FooClient::with_interceptor` and `FooServer::with_interceptor` take one too.
//! A synchronous check is an async block that does not await.
//!
//! ```no_run
//! use rust_grpc::interceptor::{self, Method};
//! use rust_grpc::{Request, Status};
//!
//! #[derive(Clone)]
//! struct User(String);
//!
//! async fn authenticate(mut request: Request<()>) -> Result<Request<()>, Status> {
//!     let method = request.extensions().get::<Method>().map(|m| m.path().to_owned());
//!     let token = request.metadata().get("authorization").and_then(|v| v.to_str().ok());
//!     match token {
//!         Some("Bearer let-me-in") => {
//!             request.extensions_mut().insert(User("ada".into()));
//!             Ok(request)
//!         }
//!         _ => Err(Status::unauthenticated(format!("{method:?} needs a token"))),
//!     }
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! # let (_, health) = rust_grpc::health::health_service();
//! rust_grpc::Server::builder()
//!     .layer(interceptor::layer(authenticate))
//!     .add_service(health)
//!     .serve("127.0.0.1:50051".parse()?)
//!     .await?;
//! # Ok(())
//! # }
//! ```
//!
//! On a client, the generated `with_interceptor` wraps the channel; it runs before
//! the request is sent, and a rejection is the call's status:
//!
//! ```
//! use rust_grpc::{Request, Status};
//!
//! // What `GreeterClient::with_interceptor(channel, add_token)` takes.
//! fn add_token(mut request: Request<()>) -> std::future::Ready<Result<Request<()>, Status>> {
//!     request.metadata_mut().insert("authorization", "Bearer let-me-in".parse().unwrap());
//!     std::future::ready(Ok(request))
//! }
//! # fn takes<F: rust_grpc::Interceptor>(_: F) {}
//! # takes(add_token);
//! ```

use std::future::Future;
use std::task::{Context, Poll};

pub use tower::Layer;

use crate::base::body::BoxFuture;
use crate::base::call::Request;
use crate::base::metadata::MetadataMap;
use crate::base::status::Status;

/// The method a call is for, in every intercepted request's extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Method(String);

impl Method {
    /// The full path, `/package.Service/Method`.
    pub fn path(&self) -> &str {
        &self.0
    }

    /// The service part, `package.Service`.
    pub fn service(&self) -> &str {
        self.split().0
    }

    /// The method part, `Method`.
    pub fn method(&self) -> &str {
        self.split().1
    }

    fn split(&self) -> (&str, &str) {
        let path = self.0.strip_prefix('/').unwrap_or(&self.0);
        path.rsplit_once('/').unwrap_or((path, ""))
    }
}

/// Code that runs before every call: an async function from the call's
/// metadata and extensions (`Request<()>`) to the same, changed or not, or to the
/// [`Status`] that refuses the call. Every `Fn(Request<()>) -> impl Future` that is
/// `Clone + Send + Sync` is one.
pub trait Interceptor: Clone + Send + Sync + 'static {
    /// What [`intercept`](Self::intercept) returns.
    type Future: Future<Output = Result<Request<()>, Status>> + Send + 'static;

    /// Looks at one call before it goes on.
    fn intercept(&self, request: Request<()>) -> Self::Future;
}

impl<F, Fut> Interceptor for F
where
    F: Fn(Request<()>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<Request<()>, Status>> + Send + 'static,
{
    type Future = Fut;

    fn intercept(&self, request: Request<()>) -> Fut {
        self(request)
    }
}

/// A tower layer running `interceptor` before every call; see the module docs.
pub fn layer<F: Interceptor>(interceptor: F) -> InterceptorLayer<F> {
    InterceptorLayer { interceptor }
}

/// The layer [`layer`] returns.
#[derive(Debug, Clone)]
pub struct InterceptorLayer<F> {
    interceptor: F,
}

impl<S, F: Clone> tower::Layer<S> for InterceptorLayer<F> {
    type Service = Intercepted<S, F>;

    fn layer(&self, inner: S) -> Self::Service {
        Intercepted {
            inner,
            interceptor: self.interceptor.clone(),
        }
    }
}

/// A service (a server, or a client's channel) behind an interceptor.
#[derive(Debug, Clone)]
pub struct Intercepted<S, F> {
    inner: S,
    interceptor: F,
}

impl<S, F> Intercepted<S, F> {
    /// `inner`, with `interceptor` running before every call.
    pub fn new(inner: S, interceptor: F) -> Self {
        Self { inner, interceptor }
    }
}

impl<S: tonic::server::NamedService, F> tonic::server::NamedService for Intercepted<S, F> {
    const NAME: &'static str = S::NAME;
}

impl<S, F, B, R> tower::Service<http::Request<B>> for Intercepted<S, F>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    F: Interceptor,
    B: Send + 'static,
    R: Default + Send + 'static,
{
    type Response = http::Response<R>;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        // The ready service takes this call; the clone waits for the next.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let interceptor = self.interceptor.clone();
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            let mut extensions = std::mem::take(&mut parts.extensions);
            extensions.insert(Method(parts.uri.path().to_owned()));
            let headers = std::mem::take(&mut parts.headers);
            let intercepted =
                Request::from_parts(MetadataMap::from_headers(headers), extensions, ());
            match interceptor.intercept(intercepted).await {
                Ok(request) => {
                    let (metadata, extensions, ()) = request.into_parts();
                    parts.headers = metadata.into_headers();
                    parts.extensions = extensions;
                    inner.call(http::Request::from_parts(parts, body)).await
                }
                Err(mut status) => {
                    crate::base::metadata::strip_status(&mut status);
                    Ok(status.into_http())
                }
            }
        })
    }
}
