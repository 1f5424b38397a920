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
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::watch;
use tokio_stream::StreamExt as _;
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
        match statuses.get(service) {
            Some(sender) => {
                sender.send_if_modified(|current| {
                    let changed = *current != status;
                    *current = status;
                    changed
                });
            }
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

    fn subscribe(&self, service: &str) -> watch::Receiver<ServingStatus> {
        let mut statuses = self.statuses.lock().unwrap_or_else(PoisonError::into_inner);
        statuses
            .entry(service.to_owned())
            .or_insert_with(|| watch::Sender::new(ServingStatus::ServiceUnknown))
            .subscribe()
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
        let receiver = self.reporter.subscribe(&request.get_ref().service);
        let updates = WatchStream::new(receiver).map(|status| Ok(response(status)));
        Ok(Response::new(Box::pin(updates)))
    }
}
