//! The gRPC health checking protocol (`grpc.health.v1.Health`), with a serving
//! status per service, as load balancers, Kubernetes probes and
//! `grpc-health-probe` expect it.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let (reporter, health) = rust_grpc::health::health_service();
//! reporter.set_serving("helloworld.Greeter");
//! rust_grpc::Server::builder()
//!     .add_service(health)
//!     .serve("127.0.0.1:50051".parse()?)
//!     .await?;
//! # Ok(())
//! # }
//! ```
//!
//! The empty service name stands for the whole server and starts SERVING.
//! [`HealthReporter::shutdown`] marks everything NOT_SERVING, for a server that is
//! about to stop.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use futures_core::Stream;
use tokio::sync::watch;
use tokio_stream::wrappers::WatchStream;

pub use crate::generated::grpc::health::v1::health_check_response::ServingStatus;
pub use crate::generated::grpc::health::v1::health_client::HealthClient;
pub use crate::generated::grpc::health::v1::health_server::{Health, HealthServer};
pub use crate::generated::grpc::health::v1::{
    FILE_DESCRIPTOR_SET, HealthCheckRequest, HealthCheckResponse, HealthListRequest,
    HealthListResponse,
};

use crate::base::body::BoxStream;
use crate::base::call::{Request, Response};
use crate::base::status::Status;
use tonic::server::NamedService;

/// A health service and the handle that sets its statuses.
pub fn health_service() -> (HealthReporter, HealthServer<HealthService>) {
    let reporter = HealthReporter::default();
    reporter.set_serving("");
    let service = HealthService {
        reporter: reporter.clone(),
    };
    (reporter, HealthServer::new(service))
}

/// Sets the serving status of services; cheap to clone, shared with the service.
#[derive(Debug, Clone, Default)]
pub struct HealthReporter {
    // A SERVICE_UNKNOWN entry lives only while someone watches it, so clients
    // naming services cannot grow this map.
    statuses: Arc<Mutex<BTreeMap<String, watch::Sender<ServingStatus>>>>,
}

impl HealthReporter {
    /// Marks `service` (its full name, such as `helloworld.Greeter`) SERVING.
    pub fn set_serving(&self, service: &str) {
        self.set_status(service, ServingStatus::Serving);
    }

    /// Marks `service` NOT_SERVING.
    pub fn set_not_serving(&self, service: &str) {
        self.set_status(service, ServingStatus::NotServing);
    }

    /// Marks a generated server's service SERVING, by its type.
    pub fn set_serving_for<S: NamedService>(&self) {
        self.set_serving(S::NAME);
    }

    /// Sets `service`'s status; watchers see the change, once.
    pub fn set_status(&self, service: &str, status: ServingStatus) {
        let mut statuses = self.statuses.lock().unwrap_or_else(PoisonError::into_inner);
        let unknown = status == ServingStatus::ServiceUnknown;
        match statuses.get(service) {
            Some(sender) => {
                sender.send_if_modified(|current| {
                    let changed = *current != status;
                    *current = status;
                    changed
                });
                if unknown && sender.receiver_count() == 0 {
                    statuses.remove(service);
                }
            }
            None if unknown => {}
            None => {
                statuses.insert(service.to_owned(), watch::Sender::new(status));
            }
        }
    }

    /// Forgets `service`: Check answers NOT_FOUND and watchers see SERVICE_UNKNOWN.
    pub fn clear(&self, service: &str) {
        self.set_status(service, ServingStatus::ServiceUnknown);
    }

    /// Marks every service, and the server, NOT_SERVING, for a server about to stop.
    pub fn shutdown(&self) {
        let statuses = self.statuses.lock().unwrap_or_else(PoisonError::into_inner);
        for sender in statuses.values() {
            sender.send_if_modified(|current| {
                // Services only watched, never set, stay unknown (as in grpc-go).
                if *current == ServingStatus::ServiceUnknown {
                    return false;
                }
                let changed = *current != ServingStatus::NotServing;
                *current = ServingStatus::NotServing;
                changed
            });
        }
    }

    /// `service`'s current status, or `None` when it is unknown.
    pub fn status(&self, service: &str) -> Option<ServingStatus> {
        let statuses = self.statuses.lock().unwrap_or_else(PoisonError::into_inner);
        statuses
            .get(service)
            .map(|sender| *sender.borrow())
            .filter(|status| *status != ServingStatus::ServiceUnknown)
    }

    fn watch(&self, service: &str) -> Updates {
        let mut statuses = self.statuses.lock().unwrap_or_else(PoisonError::into_inner);
        let receiver = statuses
            .entry(service.to_owned())
            .or_insert_with(|| watch::Sender::new(ServingStatus::ServiceUnknown))
            .subscribe();
        Updates {
            statuses: Some(WatchStream::new(receiver)),
            reporter: self.clone(),
            service: service.to_owned(),
        }
    }

    /// Removes `service` if it is unknown and nobody watches it any more.
    fn forget_if_unwatched(&self, service: &str) {
        let mut statuses = self.statuses.lock().unwrap_or_else(PoisonError::into_inner);
        let unwatched = statuses.get(service).is_some_and(|sender| {
            sender.receiver_count() == 0 && *sender.borrow() == ServingStatus::ServiceUnknown
        });
        if unwatched {
            statuses.remove(service);
        }
    }
}

/// One Watch call's updates: the current status, then each change.
struct Updates {
    statuses: Option<WatchStream<ServingStatus>>,
    reporter: HealthReporter,
    service: String,
}

impl Stream for Updates {
    type Item = Result<HealthCheckResponse, Status>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match &mut self.get_mut().statuses {
            Some(statuses) => Pin::new(statuses)
                .poll_next(cx)
                .map(|status| status.map(|status| Ok(response(status)))),
            None => Poll::Ready(None),
        }
    }
}

impl Drop for Updates {
    fn drop(&mut self) {
        // The receiver goes first, so the count shows whether others still watch.
        self.statuses = None;
        self.reporter.forget_if_unwatched(&self.service);
    }
}

/// The `grpc.health.v1.Health` implementation behind [`health_service`].
#[derive(Debug)]
pub struct HealthService {
    reporter: HealthReporter,
}

fn response(status: ServingStatus) -> HealthCheckResponse {
    HealthCheckResponse {
        status: status.into(),
    }
}

impl Health for HealthService {
    async fn check(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckResponse>, Status> {
        let service = &request.get_ref().service;
        match self.reporter.status(service) {
            Some(status) => Ok(Response::new(response(status))),
            None => Err(Status::not_found(format!("unknown service {service:?}"))),
        }
    }

    async fn list(
        &self,
        _request: Request<HealthListRequest>,
    ) -> Result<Response<HealthListResponse>, Status> {
        let statuses = self
            .reporter
            .statuses
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let statuses = statuses
            .iter()
            .map(|(name, sender)| (name.clone(), *sender.borrow()))
            .filter(|(_, status)| *status != ServingStatus::ServiceUnknown)
            .map(|(name, status)| (name, response(status)))
            .collect();
        Ok(Response::new(HealthListResponse { statuses }))
    }

    async fn watch(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<BoxStream<HealthCheckResponse>>, Status> {
        let updates = self.reporter.watch(&request.get_ref().service);
        Ok(Response::new(Box::pin(updates)))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn watch_request(service: &str) -> Request<HealthCheckRequest> {
        Request::new(HealthCheckRequest {
            service: service.to_owned(),
        })
    }

    fn entries(reporter: &HealthReporter) -> usize {
        reporter
            .statuses
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    async fn next(updates: &mut BoxStream<HealthCheckResponse>) -> ServingStatus {
        let next = std::future::poll_fn(|cx| updates.as_mut().poll_next(cx));
        tokio::time::timeout(Duration::from_secs(5), next)
            .await
            .expect("a health update within 5 s")
            .expect("the watch stream stays open")
            .unwrap()
            .status()
    }

    async fn watch(service: &HealthService, name: &str) -> BoxStream<HealthCheckResponse> {
        service
            .watch(watch_request(name))
            .await
            .unwrap()
            .into_inner()
    }

    fn service() -> (HealthReporter, HealthService) {
        let (reporter, _) = health_service();
        let service = HealthService {
            reporter: reporter.clone(),
        };
        (reporter, service)
    }

    #[tokio::test]
    async fn ended_watches_of_unknown_services_leave_no_state() {
        let (reporter, service) = service();
        let before = entries(&reporter);
        for i in 0..10_000 {
            let mut updates = watch(&service, &format!("no.Such{i}")).await;
            assert_eq!(next(&mut updates).await, ServingStatus::ServiceUnknown);
        }
        assert_eq!(entries(&reporter), before);
    }

    #[tokio::test]
    async fn watcher_of_an_unset_service_sees_it_set() {
        let (reporter, service) = service();
        let mut updates = watch(&service, "pkg.Later").await;
        assert_eq!(next(&mut updates).await, ServingStatus::ServiceUnknown);
        reporter.set_serving("pkg.Later");
        assert_eq!(next(&mut updates).await, ServingStatus::Serving);
    }

    #[tokio::test]
    async fn unknown_service_state_lasts_until_its_last_watcher_ends() {
        let (reporter, service) = service();
        let before = entries(&reporter);
        let mut first = watch(&service, "pkg.Later").await;
        assert_eq!(next(&mut first).await, ServingStatus::ServiceUnknown);
        let second = watch(&service, "pkg.Later").await;
        drop(second);
        reporter.set_serving("pkg.Later");
        assert_eq!(next(&mut first).await, ServingStatus::Serving);
        drop(first);
        assert_eq!(entries(&reporter), before + 1, "a set service stays");
    }

    #[tokio::test]
    async fn shutdown_leaves_watched_unknown_services_unknown() {
        let (reporter, service) = service();
        let before = entries(&reporter);
        let mut updates = watch(&service, "no.Such").await;
        assert_eq!(next(&mut updates).await, ServingStatus::ServiceUnknown);
        reporter.shutdown();
        assert_eq!(reporter.status("no.Such"), None);
        drop(updates);
        assert_eq!(entries(&reporter), before);
    }

    #[tokio::test]
    async fn cleared_service_is_forgotten_once_unwatched() {
        let (reporter, service) = service();
        let before = entries(&reporter);
        reporter.set_serving("pkg.Gone");
        let mut updates = watch(&service, "pkg.Gone").await;
        assert_eq!(next(&mut updates).await, ServingStatus::Serving);
        reporter.clear("pkg.Gone");
        assert_eq!(next(&mut updates).await, ServingStatus::ServiceUnknown);
        drop(updates);
        assert_eq!(entries(&reporter), before);
        reporter.set_not_serving("pkg.Gone");
        reporter.clear("pkg.Gone");
        assert_eq!(entries(&reporter), before);
    }
}
