//! Async interceptors for servers and clients: code that runs before every call,
//! sees its method and metadata, and can reject it, add metadata, or hand values
//! to the handler through the request's extensions.
//!
//! An interceptor is an async function from `Request<()>` (metadata and
//! extensions, no message) to the same request or a [`Status`]. [`layer`] makes a
//! tower layer of it; layers chain, outermost first.
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
//! On a client, wrap the channel: `Client::new(interceptor::layer(f).layer(channel))`,
//! with [`Layer`] in scope.

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

/// A tower layer running `interceptor` before every call; see the module docs.
pub fn layer<F, Fut>(interceptor: F) -> InterceptorLayer<F>
where
    F: Fn(Request<()>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<Request<()>, Status>> + Send + 'static,
{
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

/// A service behind an interceptor.
#[derive(Debug, Clone)]
pub struct Intercepted<S, F> {
    inner: S,
    interceptor: F,
}

impl<S, F, Fut, B, R> tower_service::Service<http::Request<B>> for Intercepted<S, F>
where
    S: tower_service::Service<http::Request<B>, Response = http::Response<R>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    F: Fn(Request<()>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<Request<()>, Status>> + Send + 'static,
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
            match interceptor(intercepted).await {
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
