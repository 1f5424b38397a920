//! grpc.health.v1 over loopback: Check, List and Watch as a client sees them.

use std::time::Duration;

use rust_grpc::health::{
    HealthCheckRequest, HealthCheckResponse, HealthClient, HealthListRequest, ServingStatus,
    health_service,
};
use rust_grpc::{Code, Server};
use tokio::net::TcpListener;

async fn serve() -> (rust_grpc::health::HealthReporter, HealthClient) {
    let (reporter, service) = health_service();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(
        Server::builder()
            .add_service(service)
            .serve_with_listener(listener),
    );
    let client = HealthClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    (reporter, client)
}

fn check(service: &str) -> HealthCheckRequest {
    HealthCheckRequest {
        service: service.to_owned(),
    }
}

#[tokio::test]
async fn whole_server_starts_serving() {
    let (_reporter, client) = serve().await;
    let response = client.check(check("")).await.unwrap().into_inner();
    assert_eq!(response.status(), ServingStatus::Serving);
}

#[tokio::test]
async fn unknown_service_answers_not_found() {
    let (_reporter, client) = serve().await;
    let status = client.check(check("no.Such")).await.unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
}

#[tokio::test]
async fn check_sees_each_status_set() {
    let (reporter, client) = serve().await;
    reporter.set_serving("pkg.Svc");
    assert_eq!(
        client
            .check(check("pkg.Svc"))
            .await
            .unwrap()
            .get_ref()
            .status(),
        ServingStatus::Serving
    );
    reporter.set_not_serving("pkg.Svc");
    assert_eq!(
        client
            .check(check("pkg.Svc"))
            .await
            .unwrap()
            .get_ref()
            .status(),
        ServingStatus::NotServing
    );
    reporter.clear("pkg.Svc");
    assert_eq!(
        client.check(check("pkg.Svc")).await.unwrap_err().code(),
        Code::NotFound
    );
}

#[tokio::test]
async fn list_names_every_known_service() {
    let (reporter, client) = serve().await;
    reporter.set_serving("a.A");
    reporter.set_not_serving("b.B");
    let statuses = client
        .list(HealthListRequest {})
        .await
        .unwrap()
        .into_inner()
        .statuses;
    let mut seen: Vec<(String, ServingStatus)> =
        statuses.into_iter().map(|(k, v)| (k, v.status())).collect();
    seen.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        seen,
        [
            (String::new(), ServingStatus::Serving),
            ("a.A".to_owned(), ServingStatus::Serving),
            ("b.B".to_owned(), ServingStatus::NotServing)
        ]
    );
}

async fn next(updates: &mut rust_grpc::Streaming<HealthCheckResponse>) -> ServingStatus {
    let message = tokio::time::timeout(Duration::from_secs(5), updates.message())
        .await
        .expect("a health update within 5 s")
        .unwrap();
    message.expect("the watch stream stays open").status()
}

#[tokio::test]
async fn watch_streams_the_current_status_then_each_change() {
    let (reporter, client) = serve().await;
    let mut updates = client.watch(check("pkg.Later")).await.unwrap().into_inner();
    assert_eq!(next(&mut updates).await, ServingStatus::ServiceUnknown);
    reporter.set_serving("pkg.Later");
    assert_eq!(next(&mut updates).await, ServingStatus::Serving);
    reporter.set_serving("pkg.Later"); // no change: nothing sent
    reporter.shutdown();
    assert_eq!(next(&mut updates).await, ServingStatus::NotServing);
}

#[tokio::test]
async fn list_omits_services_only_watched() {
    let (reporter, client) = serve().await;
    let mut updates = client.watch(check("no.Such")).await.unwrap().into_inner();
    assert_eq!(next(&mut updates).await, ServingStatus::ServiceUnknown);
    reporter.shutdown();
    let statuses = client
        .list(HealthListRequest {})
        .await
        .unwrap()
        .into_inner()
        .statuses;
    assert!(!statuses.contains_key("no.Such"), "{statuses:?}");
}
