//! The routes of a server: its services by name, and the answer for a service
//! it does not have.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::base::status::Status;
use tower::Service;

use crate::base::body::BoxBody;

/// The services of a server, by name. Layers added with [`Server::layer`] wrap
/// it.
#[derive(Clone, Default)]
pub struct Routes {
    routes: Arc<Vec<(&'static str, Arc<dyn Route>)>>,
    /// Set as the server starts, if it records metrics.
    #[cfg(feature = "opentelemetry")]
    pub(crate) metrics: Option<Arc<crate::telemetry::ServerMetrics>>,
}

impl std::fmt::Debug for Routes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.names()).finish()
    }
}

impl Routes {
    pub(crate) fn add<S>(&mut self, name: &'static str, service: S)
    where
        S: Service<http::Request<BoxBody>, Response = http::Response<BoxBody>, Error = Infallible>
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        let routes = Arc::make_mut(&mut self.routes);
        routes.retain(|(existing, _)| *existing != name);
        routes.push((name, Arc::new(ServiceRoute(service))));
    }

    /// These routes, recording each call in `metrics` if set.
    #[cfg(feature = "opentelemetry")]
    pub(crate) fn with_metrics(
        self,
        metrics: Option<Arc<crate::telemetry::ServerMetrics>>,
    ) -> Self {
        Self { metrics, ..self }
    }

    pub(crate) fn names(&self) -> Vec<&'static str> {
        self.routes.iter().map(|(name, _)| *name).collect()
    }
}

/// The names of the services a server serves, for reflection's list.
#[derive(Debug, Clone)]
pub(crate) struct ServedServices(pub(crate) Arc<[&'static str]>);

/// The future of a routed call.
type RouteFuture = crate::base::body::BoxFuture<http::Response<BoxBody>, Infallible>;

impl Service<http::Request<BoxBody>> for Routes {
    type Response = http::Response<BoxBody>;
    type Error = Infallible;
    type Future = RouteFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<BoxBody>) -> RouteFuture {
        #[cfg(feature = "opentelemetry")]
        if let Some(metrics) = &self.metrics {
            return crate::telemetry::server::serve(metrics, request, |request| {
                self.route(request)
            });
        }
        self.route(request)
    }
}

impl Routes {
    fn route(&self, mut request: http::Request<BoxBody>) -> RouteFuture {
        if let Some(refused) = not_grpc(&request) {
            return Box::pin(after_body(request.into_body(), refused));
        }
        let service = service_name(request.uri().path());
        let found = service.and_then(|service| {
            let at = self.routes.iter().position(|(name, _)| *name == service)?;
            Some((at, service.starts_with("grpc.reflection.")))
        });
        let Some((at, reflection)) = found else {
            let path = request.uri().path();
            let status = Status::unimplemented(match service_name(path) {
                Some(service) => format!("unknown service {service}"),
                None => format!("malformed method path {path:?}"),
            });
            return Box::pin(std::future::ready(Ok(status.into_http())));
        };
        if reflection {
            // Reflection lists what this server serves.
            request
                .extensions_mut()
                .insert(ServedServices(self.names().into()));
        }
        self.routes[at].1.call(request)
    }
}

/// The answer to a request that is not a gRPC call, as grpc-go gives it: a
/// method other than POST is HTTP 405 with INTERNAL, a content-type other than
/// `application/grpc`, `application/grpc+<codec>` or `application/grpc;<params>`
/// is HTTP 415 (the gRPC HTTP/2 spec's answer) with INVALID_ARGUMENT. A codec
/// other than proto (`application/grpc+json`) is a gRPC call this server cannot
/// decode: UNIMPLEMENTED, as for a compression it does not support.
fn not_grpc(request: &http::Request<BoxBody>) -> Option<http::Response<BoxBody>> {
    let (code, status) = if request.method() != http::Method::POST {
        (
            http::StatusCode::METHOD_NOT_ALLOWED,
            Status::internal(format!(
                "the request's method is {}; gRPC calls are POST",
                request.method()
            )),
        )
    } else {
        let content_type = request.headers().get(http::header::CONTENT_TYPE);
        if let Some(value) = content_type.filter(|value| is_grpc(value.as_bytes())) {
            return codec_unknown(value.as_bytes()).map(Status::into_http);
        }
        (
            http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Status::invalid_argument(match content_type {
                Some(value) => format!(
                    "invalid gRPC request content-type {:?}",
                    String::from_utf8_lossy(value.as_bytes())
                ),
                None => "a gRPC request needs content-type application/grpc".to_owned(),
            }),
        )
    };
    let text = format!("{}\n", status.message());
    let mut response = status.into_http();
    *response.status_mut() = code;
    if code == http::StatusCode::METHOD_NOT_ALLOWED {
        // Not a gRPC client (those always POST): a browser or curl gets the
        // reason as text.
        response.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        *response.body_mut() = BoxBody::new(text);
    }
    Some(response)
}

/// The most of a refused request's body read before answering anyway.
const REFUSED_BODY_LIMIT: usize = 64 * 1024;

/// Answers a refused request once its body has ended, as for any HTTP request:
/// h2 then checks the body against its content-length, and the answer does
/// not close a stream the client is still sending on.
async fn after_body(
    mut body: BoxBody,
    answer: http::Response<BoxBody>,
) -> Result<http::Response<BoxBody>, Infallible> {
    use http_body::Body as _;
    let mut read = 0;
    while read <= REFUSED_BODY_LIMIT {
        match std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx)).await {
            Some(Ok(frame)) => read += frame.data_ref().map_or(0, bytes::Buf::remaining),
            Some(Err(_)) | None => break,
        }
    }
    Ok(answer)
}

fn is_grpc(content_type: &[u8]) -> bool {
    content_type
        .strip_prefix(b"application/grpc")
        .is_some_and(|rest| matches!(rest.first(), None | Some(b'+' | b';')))
}

/// UNIMPLEMENTED for a gRPC content-type whose codec (`+<codec>`) is not proto.
fn codec_unknown(content_type: &[u8]) -> Option<Status> {
    let rest = content_type.strip_prefix(b"application/grpc+")?;
    let codec = rest.split(|&b| b == b';').next().unwrap_or(rest);
    if codec.eq_ignore_ascii_case(b"proto") {
        return None;
    }
    Some(Status::unimplemented(format!(
        "this server decodes only proto messages, not {:?} (content-type {:?})",
        String::from_utf8_lossy(codec),
        String::from_utf8_lossy(content_type)
    )))
}

/// The service part of a `/package.Service/Method` path.
fn service_name(path: &str) -> Option<&str> {
    let (service, _) = path.strip_prefix('/')?.split_once('/')?;
    Some(service)
}

/// A service of any type behind one interface.
trait Route: Send + Sync {
    fn call(&self, request: http::Request<BoxBody>) -> RouteFuture;
}

struct ServiceRoute<S>(S);

impl<S> Route for ServiceRoute<S>
where
    S: Service<http::Request<BoxBody>, Response = http::Response<BoxBody>, Error = Infallible>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    fn call(&self, request: http::Request<BoxBody>) -> RouteFuture {
        let mut service = self.0.clone();
        // Generated services are always ready: call them at once, and pass their
        // boxed future on without boxing it again.
        let mut cx = Context::from_waker(std::task::Waker::noop());
        if let Poll::Ready(Ok(())) = service.poll_ready(&mut cx) {
            let mut future = Some(service.call(request));
            if let Some(boxed) =
                (&mut future as &mut dyn std::any::Any).downcast_mut::<Option<RouteFuture>>()
            {
                return boxed.take().expect("just set");
            }
            return Box::pin(future.expect("just set"));
        }
        Box::pin(async move {
            std::future::poll_fn(|cx| service.poll_ready(cx)).await?;
            service.call(request).await
        })
    }
}
