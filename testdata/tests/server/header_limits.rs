//! The header list limit ([`DEFAULT_MAX_HEADER_LIST_SIZE`], set with
//! `Server::http2_max_header_list_size` and advertised in SETTINGS): a call whose
//! metadata is over it fails alone and the connection carries on; only a header
//! block in more CONTINUATION frames than the limit could need (a flood) closes
//! the connection.

use std::time::Duration;

use rust_grpc::metadata::{Ascii, MetadataValue};
use rust_grpc::server::DEFAULT_MAX_HEADER_LIST_SIZE;
use rust_grpc::{Request, Response, Status};
use rust_grpc_testdata::default::corpus::echo::echo_client::EchoClient;
use rust_grpc_testdata::default::corpus::echo::{EchoReply, EchoRequest, SleepRequest};
use rust_grpc_testdata::stub::{self, StubServer, reply};
use tokio::io::AsyncWriteExt;

use crate::raw::{CONTINUATION, ENHANCE_YOUR_CALM, HEADERS, RawClient};

const KIB: usize = 1024;

/// Answers with the length of the request's `x-big` metadata.
async fn big_len(request: Request<EchoRequest>) -> Result<Response<EchoReply>, Status> {
    let len = request
        .metadata()
        .get("x-big")
        .map_or(0, MetadataValue::len);
    Ok(Response::new(reply(len.to_string())))
}

async fn serve(limit: Option<u32>) -> (EchoClient, std::net::SocketAddr) {
    let addr = StubServer::new()
        .unary(big_len)
        .sleep(stub::sleep)
        .server(move |server| match limit {
            Some(limit) => server.http2_max_header_list_size(limit),
            None => server,
        })
        .serve_tcp()
        .await;
    (stub::connect(addr).await, addr)
}

/// A request carrying `len` bytes of `x-big` metadata.
fn with_big(len: usize) -> Request<EchoRequest> {
    let mut request = Request::new(stub::request("big", 0));
    let value: MetadataValue<Ascii> = "a".repeat(len).parse().unwrap();
    request.metadata_mut().insert("x-big", value);
    request
}

/// A call refused for its metadata: HTTP 431 from the server, which gRPC's
/// HTTP-to-status mapping makes UNKNOWN, with a message that says why.
fn assert_over_the_limit(status: &Status) {
    assert_eq!(status.code(), rust_grpc::Code::Unknown, "{status:?}");
    assert!(
        status.message().contains("431")
            && status
                .message()
                .ends_with("the call's metadata is larger than the server accepts"),
        "{status:?}"
    );
}

#[tokio::test]
async fn metadata_just_under_the_limit_reaches_the_handler() {
    let (client, _) = serve(None).await;
    let len = DEFAULT_MAX_HEADER_LIST_SIZE as usize - 4 * KIB;

    let answer = client.unary(with_big(len)).await.unwrap();

    assert_eq!(answer.into_inner().message, len.to_string());
}

#[tokio::test]
async fn a_call_over_the_limit_fails_alone_and_the_connection_carries_on() {
    let (client, _) = serve(None).await;
    let in_flight = {
        let client = client.clone();
        tokio::spawn(async move { client.sleep(SleepRequest { millis: 500 }).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;

    let over = client
        .unary(with_big(DEFAULT_MAX_HEADER_LIST_SIZE as usize + 4 * KIB))
        .await
        .unwrap_err();

    assert_over_the_limit(&over);
    in_flight.await.unwrap().expect("the call in flight");
    let after = client.unary(with_big(KIB)).await.unwrap();
    assert_eq!(after.into_inner().message, KIB.to_string());
}

#[tokio::test]
async fn the_limit_is_the_servers_setting() {
    let (client, _) = serve(Some(16 * KIB as u32)).await;

    let under = client.unary(with_big(12 * KIB)).await;
    let over = client.unary(with_big(20 * KIB)).await;

    assert_eq!(under.unwrap().into_inner().message, (12 * KIB).to_string());
    assert_over_the_limit(&over.unwrap_err());
}

#[tokio::test]
async fn a_continuation_flood_closes_the_connection_with_enhance_your_calm() {
    let (client, addr) = serve(None).await;
    let mut raw = RawClient::connect(addr).await;
    // One header (a literal `x-a` with a 1,000-byte value) cut into 10-byte
    // frames: a hundred frames where the limit needs at most five.
    let mut block = vec![0x00, 0x03, b'x', b'-', b'a', 0x7f, 0xe9, 0x06];
    block.extend(std::iter::repeat_n(b'a', 1000));
    let mut chunks = block.chunks(10);
    raw.tcp
        .write_all(&crate::raw::Frame::encode(
            HEADERS,
            0,
            1,
            chunks.next().unwrap(),
        ))
        .await
        .unwrap();
    for chunk in chunks {
        // The server may close the connection before the last frame.
        let frame = crate::raw::Frame::encode(CONTINUATION, 0, 1, chunk);
        if raw.tcp.write_all(&frame).await.is_err() {
            break;
        }
    }

    let goaway = loop {
        let frame = raw.frame().await.expect("closed without GOAWAY");
        if let Some((_, code, debug)) = frame.goaway() {
            break (code, String::from_utf8_lossy(debug).into_owned());
        }
    };

    assert_eq!(
        goaway,
        (ENHANCE_YOUR_CALM, "too_many_continuations".to_owned())
    );
    // Other connections are served as before.
    let answer = client.unary(with_big(KIB)).await.unwrap();
    assert_eq!(answer.into_inner().message, KIB.to_string());
}
