//! Transparent retry of a refused stream: a server that answers a call's
//! stream with RST_STREAM(REFUSED_STREAM) never let its application see it
//! (RFC 9113 8.7), so the channel sends it again at once, with no retry
//! policy, and counts no attempt (no grpc-previous-rpc-attempts).
//!
//! The server here is the h2 crate's, driven frame by frame: no gRPC server
//! refuses streams on purpose.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::{BufMut, BytesMut};
use rust_grpc::Code;
use rust_grpc::prost::Message as _;
use rust_grpc_testdata::default::corpus::echo::EchoRequest;
use rust_grpc_testdata::default::corpus::echo::echo_client::EchoClient;
use rust_grpc_testdata::stub::reply;

/// Serves one connection: the first `refuse` streams are refused, the rest
/// answered with one EchoReply naming the request's
/// grpc-previous-rpc-attempts header ("none" without it).
async fn serve(listener: tokio::net::TcpListener, refuse: usize, seen: Arc<AtomicUsize>) {
    let (tcp, _) = listener.accept().await.unwrap();
    let mut connection = h2::server::handshake(tcp).await.unwrap();
    while let Some(Ok((request, mut respond))) = connection.accept().await {
        let n = seen.fetch_add(1, Ordering::SeqCst);
        if n < refuse {
            respond.send_reset(h2::Reason::REFUSED_STREAM);
            continue;
        }
        let previous = request
            .headers()
            .get("grpc-previous-rpc-attempts")
            .map_or("none".to_owned(), |v| v.to_str().unwrap().to_owned());
        tokio::spawn(async move {
            let mut body = request.into_body();
            while let Some(data) = body.data().await {
                let data = data.unwrap();
                let _ = body.flow_control().release_capacity(data.len());
            }
            let response = http::Response::builder()
                .header("content-type", "application/grpc")
                .body(())
                .unwrap();
            let mut stream = respond.send_response(response, false).unwrap();
            let message = reply(previous).encode_to_vec();
            let mut frame = BytesMut::new();
            frame.put_u8(0);
            frame.put_u32(message.len() as u32);
            frame.put_slice(&message);
            stream.send_data(frame.freeze(), false).unwrap();
            let mut trailers = http::HeaderMap::new();
            trailers.insert("grpc-status", "0".parse().unwrap());
            stream.send_trailers(trailers).unwrap();
        });
    }
}

async fn call(refuse: usize) -> (Result<String, rust_grpc::Status>, usize) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(AtomicUsize::new(0));
    tokio::spawn(serve(listener, refuse, Arc::clone(&seen)));
    let channel = rust_grpc::Endpoint::new(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let result = EchoClient::new(channel)
        .unary(EchoRequest {
            message: "again".to_owned(),
            count: 0,
        })
        .await
        .map(|response| response.into_inner().message);
    (result, seen.load(Ordering::SeqCst))
}

#[tokio::test]
async fn a_refused_stream_is_sent_again_with_no_retry_policy() {
    let (result, streams) = call(1).await;
    assert_eq!(
        result.unwrap(),
        "none",
        "a transparent retry is not counted"
    );
    assert_eq!(streams, 2);
}

#[tokio::test]
async fn a_server_that_refuses_every_stream_gets_a_bounded_number_and_unavailable() {
    let (result, streams) = call(usize::MAX).await;
    let status = result.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(
        (2..=10).contains(&streams),
        "transparent retries are bounded: {streams} streams"
    );
}
