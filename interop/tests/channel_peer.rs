//! The Go test peer (`channel-peer`, grpc-go v1.85.0) as the client channel's
//! tests will use it, driven by today's generated client. Without the binary
//! these tests skip with a loud message, except under `CI=true`, where they fail.

use std::time::Duration;

use interop::pb::test_service_client::TestServiceClient;
use interop::pb::{PayloadType, SimpleRequest, SimpleResponse};
use interop::peer::GoPeer;
use rust_grpc::metadata::{MetadataMap, MetadataValue};
use rust_grpc::{Code, Request, Status};

fn small_request() -> SimpleRequest {
    SimpleRequest {
        response_type: PayloadType::Compressable.into(),
        response_size: 8,
        ..SimpleRequest::default()
    }
}

fn with_call_id(id: &'static str) -> Request<SimpleRequest> {
    let mut request = Request::new(small_request());
    request
        .metadata_mut()
        .insert("x-call-id", MetadataValue::from_static(id));
    request
}

fn text<'a>(metadata: &'a MetadataMap, key: &str) -> Option<&'a str> {
    metadata.get(key).and_then(|value| value.to_str().ok())
}

async fn client(peer: &GoPeer) -> TestServiceClient {
    TestServiceClient::connect(peer.uri())
        .await
        .unwrap_or_else(|err| panic!("connect to {}: {err}\n{}", peer.uri(), peer.log()))
}

async fn unary(
    client: &TestServiceClient,
    request: Request<SimpleRequest>,
) -> Result<rust_grpc::Response<SimpleResponse>, Status> {
    client.unary_call(request).await
}

#[tokio::test]
async fn a_unary_call_names_the_server_that_answered() {
    let Some(peer) = GoPeer::start_or_skip(&["--server_id=peer-a"]) else {
        return;
    };
    let client = client(&peer).await;
    let response = unary(&client, Request::new(small_request()))
        .await
        .expect("UnaryCall");
    assert_eq!(response.get_ref().server_id, "peer-a");
    assert_eq!(response.get_ref().hostname, "peer-a");
    assert_eq!(text(response.metadata(), "x-server-id"), Some("peer-a"));
    let body = response.get_ref().payload.as_ref().map(|p| p.body.len());
    assert_eq!(body, Some(8));
}

#[tokio::test]
async fn fail_first_answers_unavailable_twice_then_ok_counting_attempts() {
    let Some(peer) = GoPeer::start_or_skip(&["--fail_first=2", "--pushback_ms=-1"]) else {
        return;
    };
    let client = client(&peer).await;
    for attempt in ["1", "2"] {
        let status = unary(&client, with_call_id("call-1"))
            .await
            .expect_err("the first two attempts fail");
        assert_eq!(
            status.code(),
            Code::Unavailable,
            "attempt {attempt}: {status:?}"
        );
        assert_eq!(
            text(status.metadata(), "x-attempts-seen"),
            Some(attempt),
            "{status:?}"
        );
        assert_eq!(
            text(status.metadata(), "grpc-retry-pushback-ms"),
            Some("-1"),
            "{status:?}"
        );
    }
    let response = unary(&client, with_call_id("call-1"))
        .await
        .expect("the third attempt succeeds");
    assert_eq!(text(response.metadata(), "x-attempts-seen"), Some("3"));
    assert_eq!(text(response.metadata(), "grpc-retry-pushback-ms"), None);

    // Another call id has attempts of its own.
    let status = unary(&client, with_call_id("call-2"))
        .await
        .expect_err("a new call id fails first");
    assert_eq!(text(status.metadata(), "x-attempts-seen"), Some("1"));
}

#[tokio::test]
async fn the_previous_attempts_header_belongs_to_the_channel() {
    let Some(peer) = GoPeer::start_or_skip(&[]) else {
        return;
    };
    let client = client(&peer).await;
    let response = unary(&client, Request::new(small_request()))
        .await
        .expect("UnaryCall");
    assert_eq!(text(response.metadata(), "x-previous-rpc-attempts"), None);

    let mut request = Request::new(small_request());
    request.metadata_mut().insert(
        "grpc-previous-rpc-attempts",
        MetadataValue::from_static("2"),
    );
    let response = unary(&client, request).await.expect("UnaryCall");
    // The channel sends it on retries only; a caller's own value is dropped.
    assert_eq!(text(response.metadata(), "x-previous-rpc-attempts"), None);
}

#[tokio::test]
async fn a_deadline_cutting_a_delay_short_is_counted_as_cancelled() {
    let Some(peer) = GoPeer::start_or_skip(&["--delay=10s"]) else {
        return;
    };
    let client = client(&peer).await;
    let mut request = Request::new(small_request());
    request.set_timeout(Duration::from_millis(100));
    let status = unary(&client, request)
        .await
        .expect_err("the deadline comes first");
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");

    // The reset, or the server's own deadline, reaches the handler a moment later.
    let mut stats = peer.stats().await.expect("stats");
    for _ in 0..50 {
        if stats.cancelled_calls > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        stats = peer.stats().await.expect("stats");
    }
    assert_eq!(stats.unary_calls, 1, "{stats:?}");
    assert_eq!(stats.cancelled_calls, 1, "{stats:?}");
    assert!(stats.deadline_exceeded_calls <= 1, "{stats:?}");
    assert_eq!(stats.connections, 1, "{stats:?}");
}

#[tokio::test]
async fn a_killed_peer_restarts_on_the_same_port() {
    let Some(mut peer) = GoPeer::start_or_skip(&["--server_id=phoenix"]) else {
        return;
    };
    let port = peer.port();
    peer.kill();
    assert!(!peer.is_running());
    assert!(
        TestServiceClient::connect(peer.uri()).await.is_err(),
        "nothing listens on {port} after the kill"
    );
    peer.restart();
    assert_eq!(peer.port(), port);
    let response = unary(&client(&peer).await, Request::new(small_request()))
        .await
        .expect("UnaryCall after the restart");
    assert_eq!(response.get_ref().server_id, "phoenix");
}
