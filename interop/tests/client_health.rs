//! Client-side health checking (gRFC A17) against grpc-go v1.85.0's health
//! server (`channel-peer`, whose grpc.testing.TestService health the flags
//! schedule): round_robin sends calls only to SERVING servers and follows
//! their changes; a server with no health service counts as healthy;
//! pick_first checks nothing. Without the peer binary these tests skip
//! loudly, except under `CI=true`, where they fail.

use std::time::{Duration, Instant};

use interop::pb::SimpleRequest;
use interop::pb::test_service_client::TestServiceClient;
use interop::peer::GoPeer;
use rust_grpc::channel::ConnectivityState;
use rust_grpc::{Channel, Code, Endpoint};

fn config(policy: &str) -> String {
    format!(
        r#"{{
            "loadBalancingConfig": [{{"{policy}": {{}}}}],
            "healthCheckConfig": {{"serviceName": "grpc.testing.TestService"}}
        }}"#
    )
}

fn channel(peers: &[&GoPeer], policy: &str) -> Channel {
    let target = format!(
        "ipv4:{}",
        peers
            .iter()
            .map(|p| p.addr().to_string())
            .collect::<Vec<_>>()
            .join(",")
    );
    Endpoint::new(target)
        .unwrap()
        .default_service_config(&config(policy))
        .unwrap()
        .connect_lazy()
        .unwrap()
}

/// Who answers `n` calls in a row, in order.
async fn answers(client: &TestServiceClient<Channel>, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for _ in 0..n {
        let response = client
            .unary_call(SimpleRequest::default())
            .await
            .expect("UnaryCall");
        ids.push(response.into_inner().server_id);
    }
    ids
}

#[tokio::test]
async fn round_robin_sends_calls_only_to_serving_servers_and_follows_their_health() {
    let start = Instant::now();
    let Some(a) = GoPeer::start_or_skip(&["--server_id=a", "--not_serving_for=2s"]) else {
        return;
    };
    let Some(b) = GoPeer::start_or_skip(&["--server_id=b", "--not_serving_after=2s"]) else {
        return;
    };
    let client = TestServiceClient::new(channel(&[&a, &b], "round_robin"));

    // a is NOT_SERVING: every call goes to b, though a's connection is up.
    let first = answers(&client, 40).await;
    assert!(
        start.elapsed() < Duration::from_millis(1800),
        "too slow to tell"
    );
    assert!(first.iter().all(|id| id == "b"), "{first:?}");

    // Then the two swap: a SERVING, b NOT_SERVING.
    tokio::time::sleep(Duration::from_millis(2600).saturating_sub(start.elapsed())).await;
    let then = answers(&client, 40).await;
    assert!(then.iter().all(|id| id == "a"), "{then:?}");
}

#[tokio::test]
async fn with_every_server_unhealthy_a_call_fails_fast_saying_why() {
    let Some(peer) = GoPeer::start_or_skip(&["--not_serving_for=60s"]) else {
        return;
    };
    let channel = channel(&[&peer], "round_robin");
    let mut state = channel.watch_state();
    channel.connect_now();
    tokio::time::timeout(
        Duration::from_secs(10),
        state.wait_for(|s| *s == ConnectivityState::TransientFailure),
    )
    .await
    .expect("TRANSIENT_FAILURE once the health check answers")
    .unwrap();
    let status = TestServiceClient::new(channel)
        .unary_call(SimpleRequest::default())
        .await
        .expect_err("no healthy server");
    assert_eq!(status.code(), Code::Unavailable);
    assert!(status.message().contains("NOT_SERVING"), "{status:?}");
}

#[tokio::test]
async fn a_server_without_the_health_service_is_taken_as_healthy() {
    let Some(peer) = GoPeer::start_or_skip(&["--server_id=plain", "--no_health"]) else {
        return;
    };
    let client = TestServiceClient::new(channel(&[&peer], "round_robin"));
    assert_eq!(answers(&client, 3).await, ["plain"; 3]);
}

#[tokio::test]
async fn pick_first_checks_no_health() {
    let Some(peer) = GoPeer::start_or_skip(&["--server_id=unhealthy", "--not_serving_for=60s"])
    else {
        return;
    };
    let client = TestServiceClient::new(channel(&[&peer], "pick_first"));
    assert_eq!(answers(&client, 3).await, ["unhealthy"; 3]);
}
