//! The client channel against grpc-go v1.85.0 (`channel-peer`): connection
//! churn, a server restart, round_robin, retries, pushback, throttling,
//! hedging and transparent retry. Without the peer binary these tests skip
//! loudly, except under `CI=true`, where they fail.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use interop::pb::test_service_client::TestServiceClient;
use interop::pb::{Payload, PayloadType, SimpleRequest, StreamingInputCallRequest};
use interop::peer::GoPeer;
use rust_grpc::metadata::{MetadataMap, MetadataValue};
use rust_grpc::{Channel, Code, Endpoint, Request, RequestExt as _};

fn small() -> SimpleRequest {
    SimpleRequest {
        response_type: PayloadType::Compressable.into(),
        response_size: 8,
        ..SimpleRequest::default()
    }
}

fn call_id(id: String) -> Request<SimpleRequest> {
    let mut request = Request::new(small());
    request
        .metadata_mut()
        .insert("x-call-id", MetadataValue::try_from(id.as_str()).unwrap());
    request
}

fn text<'a>(metadata: &'a MetadataMap, key: &str) -> Option<&'a str> {
    metadata.get(key).and_then(|value| value.to_str().ok())
}

fn retry_config(max_attempts: u32, extra: &str) -> String {
    format!(
        r#"{{
            "methodConfig": [{{
                "name": [{{"service": "grpc.testing.TestService"}}],
                "retryPolicy": {{
                    "maxAttempts": {max_attempts},
                    "initialBackoff": "0.01s",
                    "maxBackoff": "0.05s",
                    "backoffMultiplier": 2,
                    "retryableStatusCodes": ["UNAVAILABLE"]
                }}
            }}]{extra}
        }}"#
    )
}

async fn channel(target: String, config: Option<&str>) -> Channel {
    let mut endpoint = Endpoint::new(target).unwrap();
    if let Some(config) = config {
        endpoint = endpoint.default_service_config(config).unwrap();
    }
    endpoint.connect().await.unwrap()
}

#[tokio::test]
async fn a_retry_policy_turns_two_unavailables_into_one_ok_call() {
    let Some(peer) = GoPeer::start_or_skip(&["--fail_first=2"]) else {
        return;
    };
    let client = TestServiceClient::new(channel(peer.uri(), Some(&retry_config(3, ""))).await);
    let response = client.unary_call(call_id("r1".into())).await.unwrap();
    // The server saw three attempts; the last said two came before it.
    assert_eq!(text(response.metadata(), "x-attempts-seen"), Some("3"));
    assert_eq!(
        text(response.metadata(), "x-previous-rpc-attempts"),
        Some("2")
    );

    // Without a policy the first failure is the answer.
    let plain = TestServiceClient::new(channel(peer.uri(), None).await);
    let status = plain.unary_call(call_id("r2".into())).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    assert_eq!(text(status.metadata(), "x-attempts-seen"), Some("1"));
}

#[tokio::test]
async fn a_retried_client_stream_replays_every_request_it_sent() {
    let Some(peer) = GoPeer::start_or_skip(&["--fail_first=2"]) else {
        return;
    };
    let client = TestServiceClient::new(channel(peer.uri(), Some(&retry_config(3, ""))).await);
    let requests = [3usize, 5, 7].map(|size| StreamingInputCallRequest {
        payload: Some(Payload {
            body: vec![1; size],
            ..Payload::default()
        }),
        ..StreamingInputCallRequest::default()
    });
    let mut request = Request::new(tokio_stream::iter(requests));
    request
        .metadata_mut()
        .insert("x-call-id", MetadataValue::from_static("stream-1"));
    let response = client.streaming_input_call(request).await.unwrap();
    // The server read all three requests on each of its three attempts and
    // failed the first two after reading them: the third got them replayed.
    assert_eq!(response.get_ref().aggregated_payload_size, 15);
    assert_eq!(text(response.metadata(), "x-attempts-seen"), Some("3"));
    assert_eq!(text(response.metadata(), "x-messages-seen"), Some("3"));
    assert_eq!(
        text(response.metadata(), "x-previous-rpc-attempts"),
        Some("2")
    );
}

#[tokio::test]
async fn server_pushback_sets_the_retry_delay_and_a_negative_one_stops_retries() {
    let Some(peer) = GoPeer::start_or_skip(&["--fail_first=1", "--pushback_ms=400"]) else {
        return;
    };
    let client = TestServiceClient::new(channel(peer.uri(), Some(&retry_config(3, ""))).await);
    let start = Instant::now();
    let response = client.unary_call(call_id("p1".into())).await.unwrap();
    assert!(
        start.elapsed() >= Duration::from_millis(400),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(text(response.metadata(), "x-attempts-seen"), Some("2"));

    let Some(refusing) = GoPeer::start_or_skip(&["--fail_first=1", "--pushback_ms=-1"]) else {
        return;
    };
    let client = TestServiceClient::new(channel(refusing.uri(), Some(&retry_config(3, ""))).await);
    let status = client.unary_call(call_id("p2".into())).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    assert_eq!(text(status.metadata(), "x-attempts-seen"), Some("1"));
}

#[tokio::test]
async fn retry_throttling_stops_retries_once_the_bucket_drains() {
    let Some(peer) = GoPeer::start_or_skip(&["--fail_first=1000"]) else {
        return;
    };
    let config = retry_config(
        5,
        r#", "retryThrottling": {"maxTokens": 10, "tokenRatio": 0.1}"#,
    );
    let client = TestServiceClient::new(channel(peer.uri(), Some(&config)).await);
    let mut attempts = Vec::new();
    for i in 0..6 {
        let status = client
            .unary_call(call_id(format!("t{i}")))
            .await
            .unwrap_err();
        attempts.push(
            text(status.metadata(), "x-attempts-seen")
                .unwrap()
                .to_owned(),
        );
    }
    // 10 tokens, one lost per failed attempt, retries only above 5: the
    // first call makes all five attempts; from then on, one attempt each.
    assert_eq!(attempts[0], "5", "{attempts:?}");
    assert!(attempts[2..].iter().all(|a| a == "1"), "{attempts:?}");
}

#[tokio::test]
async fn hedging_answers_from_the_fast_server_and_cancels_the_slow_attempt() {
    let Some(slow) = GoPeer::start_or_skip(&["--server_id=slow", "--delay=3s"]) else {
        return;
    };
    let Some(fast) = GoPeer::start_or_skip(&["--server_id=fast"]) else {
        return;
    };
    let config = r#"{
        "loadBalancingConfig": [{"round_robin": {}}],
        "methodConfig": [{
            "name": [{"service": "grpc.testing.TestService", "method": "UnaryCall"}],
            "hedgingPolicy": {"maxAttempts": 2, "hedgingDelay": "0.1s"}
        }]
    }"#;
    let target = format!("ipv4:{},{}", slow.addr(), fast.addr());
    let channel = channel(target, Some(config)).await;
    // Both subchannels READY, so round_robin alternates.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let client = TestServiceClient::new(channel);
    for _ in 0..4 {
        let start = Instant::now();
        let response = client.unary_call(small()).await.unwrap();
        assert_eq!(response.get_ref().server_id, "fast");
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "{:?}",
            start.elapsed()
        );
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stats = slow.stats().await.unwrap();
    assert!(stats.unary_calls >= 1, "{stats:?}");
    assert_eq!(stats.cancelled_calls, stats.unary_calls, "{stats:?}");
}

#[tokio::test]
async fn calls_above_a_goaway_are_retried_transparently() {
    let Some(peer) = GoPeer::start_or_skip(&[
        "--goaway_after=1",
        "--max_concurrent_streams=1",
        "--delay=300ms",
    ]) else {
        return;
    };
    let client = TestServiceClient::new(channel(peer.uri(), None).await);
    let calls: Vec<_> = (0..3)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.unary_call(small()).await })
        })
        .collect();
    for call in calls {
        call.await.unwrap().unwrap();
    }
}

#[tokio::test]
async fn connection_churn_loses_no_call() {
    let Some(peer) =
        GoPeer::start_or_skip(&["--max_connection_age=50ms", "--max_connection_age_grace=5s"])
    else {
        return;
    };
    let client = TestServiceClient::new(channel(peer.uri(), None).await);
    let failures = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let client = client.clone();
            let failures = Arc::clone(&failures);
            tokio::spawn(async move {
                for _ in 0..10_000 {
                    if let Err(status) = client.unary_call(small()).await
                        && failures.fetch_add(1, Ordering::Relaxed) < 5
                    {
                        eprintln!("{status:?}");
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(failures.load(Ordering::Relaxed), 0);
    let stats = peer.stats().await.unwrap();
    assert!(
        stats.connections > 10,
        "the server rotated connections: {stats:?}"
    );
}

#[tokio::test]
async fn after_a_restart_wait_for_ready_calls_wait_and_fail_fast_calls_fail() {
    let Some(mut peer) = GoPeer::start_or_skip(&[]) else {
        return;
    };
    let client = TestServiceClient::new(channel(peer.uri(), None).await);
    client.unary_call(small()).await.unwrap();
    let addr = peer.addr();
    peer.kill();
    // Stand in for the server for 2 s, counting connection attempts and
    // closing each at once.
    let listener = std::net::TcpListener::bind(addr).unwrap();
    listener.set_nonblocking(true).unwrap();
    let attempts = Arc::new(AtomicUsize::new(0));
    let counter = {
        let attempts = Arc::clone(&attempts);
        std::thread::spawn(move || {
            let until = Instant::now() + Duration::from_secs(2);
            while Instant::now() < until {
                match listener.accept() {
                    Ok((socket, _)) => {
                        attempts.fetch_add(1, Ordering::SeqCst);
                        drop(socket);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let fail_fast = client.unary_call(small()).await.unwrap_err();
    assert_eq!(fail_fast.code(), Code::Unavailable, "{fail_fast:?}");
    let waiting = {
        let client = client.clone();
        tokio::spawn(async move {
            let mut request = Request::new(small());
            request.set_wait_for_ready(true);
            request.set_timeout(Duration::from_secs(20));
            client.unary_call(request).await
        })
    };
    tokio::task::spawn_blocking(move || counter.join().unwrap())
        .await
        .unwrap();
    let seen = attempts.load(Ordering::SeqCst);
    assert!((1..=3).contains(&seen), "{seen} connection attempts in 2 s");
    peer.restart();
    waiting.await.unwrap().unwrap();
}

#[tokio::test]
async fn round_robin_spreads_calls_evenly_and_skips_a_dead_server() {
    let mut peers = Vec::new();
    for id in ["a", "b", "c"] {
        let Some(peer) = GoPeer::start_or_skip(&[&format!("--server_id={id}")]) else {
            return;
        };
        peers.push(peer);
    }
    let target = format!(
        "ipv4:{}",
        peers
            .iter()
            .map(|p| p.addr().to_string())
            .collect::<Vec<_>>()
            .join(",")
    );
    let config = r#"{"loadBalancingConfig": [{"round_robin": {}}]}"#;
    let channel = channel(target, Some(config)).await;
    let mut state = channel.watch_state();
    state
        .wait_for(|s| *s == rust_grpc::channel::ConnectivityState::Ready)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let client = TestServiceClient::new(channel);
    let mut counts = std::collections::HashMap::new();
    for _ in 0..3000 {
        let response = client.unary_call(small()).await.unwrap();
        *counts.entry(response.into_inner().server_id).or_insert(0) += 1;
    }
    for id in ["a", "b", "c"] {
        let n = counts.get(id).copied().unwrap_or(0);
        assert!((900..=1100).contains(&n), "{counts:?}");
    }

    peers[2].kill();
    tokio::time::sleep(Duration::from_secs(1)).await;
    for _ in 0..300 {
        let response = client.unary_call(small()).await.unwrap();
        assert_ne!(response.get_ref().server_id, "c");
    }
}

#[tokio::test]
async fn a_bidi_call_is_handed_back_before_the_servers_headers_so_the_caller_can_send_first() {
    use interop::pb::{ResponseParameters, StreamingOutputCallRequest};
    let Some(peer) = GoPeer::start_or_skip(&["--send_headers_with_first_message"]) else {
        return;
    };
    let client = TestServiceClient::new(channel(peer.uri(), None).await);
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    // Call, then send, then read: the server answers (headers included) only
    // after the first request.
    let call = client.full_duplex_call(tokio_stream::wrappers::ReceiverStream::new(rx));
    let response = tokio::time::timeout(Duration::from_secs(5), call)
        .await
        .expect("the call waited for headers the server sends only after a request")
        .unwrap();
    let mut stream = response.into_inner();
    tx.send(StreamingOutputCallRequest {
        response_type: PayloadType::Compressable.into(),
        response_parameters: vec![ResponseParameters {
            size: 4,
            ..ResponseParameters::default()
        }],
        ..StreamingOutputCallRequest::default()
    })
    .await
    .unwrap();
    let reply = stream.message().await.unwrap().unwrap();
    assert_eq!(reply.payload.unwrap().body.len(), 4);
    assert!(
        stream.headers().is_some(),
        "the headers came with the reply"
    );
    drop(tx);
    assert!(stream.message().await.unwrap().is_none());
}

#[tokio::test]
async fn localhost_resolves_to_both_loopbacks_and_round_robin_uses_both() {
    let resolved: Vec<std::net::SocketAddr> = tokio::net::lookup_host("localhost:1")
        .await
        .expect("localhost resolves")
        .collect();
    if !(resolved.iter().any(|a| a.is_ipv4()) && resolved.iter().any(|a| a.is_ipv6())) {
        let why = format!(
            "localhost resolves to {resolved:?} here, not to both ::1 and 127.0.0.1 (add `::1 localhost` to /etc/hosts; .ci/run does)"
        );
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true: {why}"
        );
        eprintln!("\n*** SKIPPING: {why} ***\n");
        return;
    }
    let Some(v4) = GoPeer::start_or_skip(&["--server_id=v4"]) else {
        return;
    };
    let port = format!("--port={}", v4.port());
    let Some(_v6) = GoPeer::start_or_skip(&["--server_id=v6", "--host=::1", &port]) else {
        return;
    };
    let config = r#"{"loadBalancingConfig": [{"round_robin": {}}]}"#;
    let channel = channel(format!("localhost:{}", v4.port()), Some(config)).await;
    let mut state = channel.watch_state();
    state
        .wait_for(|s| *s == rust_grpc::channel::ConnectivityState::Ready)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let client = TestServiceClient::new(channel);
    let mut counts = std::collections::HashMap::new();
    for _ in 0..100 {
        let response = client.unary_call(small()).await.unwrap();
        *counts.entry(response.into_inner().server_id).or_insert(0) += 1;
    }
    assert_eq!(counts.get("v4"), Some(&50), "{counts:?}");
    assert_eq!(counts.get("v6"), Some(&50), "{counts:?}");
}
