//! Client-side health checking (gRFC A17): on a subchannel whose channel's
//! service config has `healthCheckConfig`, a `grpc.health.v1.Health/Watch`
//! call on the subchannel's own connection decides whether the subchannel is
//! READY (SERVING) or TRANSIENT_FAILURE (anything else), while the connection
//! stays up.
//!
//! A server without the health service (UNIMPLEMENTED) is taken as healthy,
//! and the check stops; a watch that fails otherwise is made again after the
//! connection backoff, which every received message resets.

use std::task::{Context, Poll};

use crate::base::body::{BoxBody, BoxFuture};
use crate::base::call::Request;
use crate::base::status::{Code, Status};
use crate::client::backoff::{Backoff, BackoffConfig};
use crate::client::call::Client;
use crate::client::connection::Sender;

const WATCH: &str = "/grpc.health.v1.Health/Watch";
/// `ServingStatus.SERVING` in grpc.health.v1.
const SERVING: i32 = 1;

// The two messages of grpc.health.v1 the check uses. Declared here because
// the generated health types sit above the client in the crate's layers.
#[derive(Clone, PartialEq, prost::Message)]
struct HealthCheckRequest {
    #[prost(string, tag = "1")]
    service: String,
}

#[derive(Clone, PartialEq, prost::Message)]
struct HealthCheckResponse {
    #[prost(int32, tag = "1")]
    status: i32,
}

/// What the check found, for the subchannel's state.
#[derive(Debug)]
pub(crate) enum Report {
    /// A watch is starting: CONNECTING until it answers.
    Starting,
    /// SERVING: READY.
    Serving,
    /// Not SERVING, or the watch failed: TRANSIENT_FAILURE, for this reason.
    Unhealthy(String),
    /// The server has no health service: READY, and no more checking.
    Unimplemented,
}

/// Sends calls straight on one connection.
#[derive(Clone)]
struct Direct(Sender);

impl tower::Service<http::Request<BoxBody>> for Direct {
    type Response = http::Response<hyper::body::Incoming>;
    type Error = hyper::Error;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), hyper::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<BoxBody>) -> Self::Future {
        Box::pin(self.0.send_request(request))
    }
}

/// Checks the health of `service` on the connection `sender` (calls going to
/// `origin`), telling `report` each finding; runs until the server turns out
/// to have no health service, or until dropped (the connection ended).
pub(crate) async fn check(
    sender: Sender,
    origin: http::Uri,
    service: String,
    backoff: BackoffConfig,
    mut report: impl FnMut(Report),
) {
    let client = Client::with_origin(Direct(sender), origin);
    let mut backoff = Backoff::new(backoff);
    loop {
        report(Report::Starting);
        let failure = match watch(&client, &service, &mut backoff, &mut report).await {
            Ok(()) => Status::unavailable("the health watch ended"),
            Err(status) if status.code() == Code::Unimplemented => {
                tracing::error!(
                    service = %service,
                    "the server has no health service (grpc.health.v1.Health); health checking is off for this connection"
                );
                report(Report::Unimplemented);
                return;
            }
            Err(status) => status,
        };
        report(Report::Unhealthy(format!(
            "the health check of {service:?} failed: {}",
            failure.message()
        )));
        tokio::time::sleep(backoff.next_delay()).await;
    }
}

/// One Watch call, reporting each status it streams.
async fn watch(
    client: &Client<Direct>,
    service: &str,
    backoff: &mut Backoff,
    report: &mut impl FnMut(Report),
) -> Result<(), Status> {
    let request = Request::new(HealthCheckRequest {
        service: service.to_owned(),
    });
    let mut updates = client
        .server_streaming::<_, HealthCheckResponse>(request, WATCH)
        .await?
        .into_inner();
    while let Some(update) = updates.message().await? {
        backoff.reset();
        report(if update.status == SERVING {
            Report::Serving
        } else {
            Report::Unhealthy(format!(
                "the server reports {service:?} as {}",
                status_name(update.status)
            ))
        });
    }
    Ok(())
}

fn status_name(status: i32) -> String {
    match status {
        0 => "UNKNOWN".to_owned(),
        1 => "SERVING".to_owned(),
        2 => "NOT_SERVING".to_owned(),
        3 => "SERVICE_UNKNOWN".to_owned(),
        other => format!("status {other}"),
    }
}
