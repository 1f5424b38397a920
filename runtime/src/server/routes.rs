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

    fn call(&mut self, mut request: http::Request<BoxBody>) -> RouteFuture {
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
