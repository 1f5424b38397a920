//! One async interceptor kind on both sides: the generated
//! `with_interceptor` of a client and of a server take the same function.

use rust_grpc::health::{
    Health, HealthCheckRequest, HealthCheckResponse, HealthClient, HealthListRequest,
    HealthListResponse, HealthServer, ServingStatus,
};
use rust_grpc::{BoxStream, Code, Request, Response, Server, Status};

/// A health service that is always serving.
struct Up;

impl Health for Up {
    async fn check(
        &self,
        _: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckResponse>, Status> {
        Ok(Response::new(HealthCheckResponse {
            status: ServingStatus::Serving.into(),
        }))
    }

    async fn list(
        &self,
        _: Request<HealthListRequest>,
    ) -> Result<Response<HealthListResponse>, Status> {
        Ok(Response::new(HealthListResponse::default()))
    }

    async fn watch(
        &self,
        _: Request<HealthCheckRequest>,
    ) -> Result<Response<BoxStream<HealthCheckResponse>>, Status> {
        Err(Status::unimplemented("not watched here"))
    }
}

async fn require_token(request: Request<()>) -> Result<Request<()>, Status> {
    match request.metadata().get("authorization") {
        Some(token) if token == "Bearer let-me-in" => Ok(request),
        _ => Err(Status::unauthenticated("no token")),
    }
}

async fn add_token(mut request: Request<()>) -> Result<Request<()>, Status> {
    // Awaits, as an interceptor that fetches a token would.
    tokio::task::yield_now().await;
    request
        .metadata_mut()
        .insert("authorization", "Bearer let-me-in".parse().unwrap());
    Ok(request)
}

fn guarded_channel() -> rust_grpc::Channel {
    let service = HealthServer::with_interceptor(Up, require_token);
    rust_grpc::in_process::channel(Server::builder().add_service(service))
}

fn check() -> HealthCheckRequest {
    HealthCheckRequest {
        service: String::new(),
    }
}

#[tokio::test]
async fn a_server_interceptor_refuses_a_call_without_a_token() {
    let client = HealthClient::new(guarded_channel());
    let status = client.check(check()).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert_eq!(status.message(), "no token");
}

#[tokio::test]
async fn a_client_interceptor_adds_what_the_server_interceptor_wants() {
    let client = HealthClient::with_interceptor(guarded_channel(), add_token);
    assert!(client.check(check()).await.is_ok());
}

#[tokio::test]
async fn a_client_interceptor_that_refuses_ends_the_call_with_its_status() {
    let refuse = |_: Request<()>| async {
        Err::<Request<()>, _>(Status::permission_denied("not from here"))
    };
    let client = HealthClient::with_interceptor(guarded_channel(), refuse);
    let status = client.check(check()).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
}
