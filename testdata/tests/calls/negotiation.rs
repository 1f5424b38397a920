//! Compression negotiation: gzip and zstd per call and per server,
//! `grpc-accept-encoding`, an encoding the server does not take answering
//! UNIMPLEMENTED and a compressed message without `grpc-encoding` answering
//! INTERNAL. A bare HTTP/2 client over TCP sends what a generated client
//! cannot; the rest go through the in-process channel.

use std::net::SocketAddr;

use rust_grpc::compression::ReceivedCompression;
use rust_grpc::{Code, CompressionEncoding, Request, Response, Status};
use rust_grpc_testdata::default::corpus::echo::echo_server::EchoServer;
use rust_grpc_testdata::default::corpus::echo::{EchoReply, EchoRequest};
use rust_grpc_testdata::stub::{Handlers, StubServer, reply};
use tokio::net::TcpStream;

/// Answers "c" when the request arrived compressed, "p" when not.
async fn flag(request: Request<EchoRequest>) -> Result<Response<EchoReply>, Status> {
    let compressed = request
        .extensions()
        .get::<ReceivedCompression>()
        .and_then(ReceivedCompression::last_message_compressed);
    Ok(Response::new(reply(if compressed == Some(true) {
        "c"
    } else {
        "p"
    })))
}

/// A [`flag`] server with the service's options set by `tweak`.
fn flag_server(tweak: fn(EchoServer<Handlers>) -> EchoServer<Handlers>) -> StubServer {
    StubServer::new().unary(flag).echo_server(tweak)
}

fn request() -> EchoRequest {
    EchoRequest {
        message: "compress me ".repeat(20),
        count: 0,
    }
}

fn response_compressed<T>(response: &Response<T>) -> Option<bool> {
    response
        .extensions()
        .get::<ReceivedCompression>()
        .and_then(ReceivedCompression::last_message_compressed)
}

/// An empty `EchoRequest`, gzip-compressed, framed with the compressed flag set.
fn gzip_empty_message() -> bytes::Bytes {
    // The gzip of zero bytes.
    let gzip: &[u8] = &[
        0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0x03, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00,
    ];
    let mut framed = vec![1];
    framed.extend_from_slice(&u32::try_from(gzip.len()).unwrap().to_be_bytes());
    framed.extend_from_slice(gzip);
    framed.into()
}

/// One raw call to Unary with `headers` and `message`; returns the response
/// headers and, unless the headers ended the call, the trailers.
async fn raw_call(
    addr: SocketAddr,
    headers: &[(&str, &str)],
    message: bytes::Bytes,
) -> (http::HeaderMap, Option<http::HeaderMap>) {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (client, connection) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(connection);
    let mut client = client.ready().await.unwrap();
    let mut request = http::Request::post(format!("http://{addr}/corpus.echo.Echo/Unary"))
        .header("content-type", "application/grpc")
        .header("te", "trailers");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let (response, mut body) = client
        .send_request(request.body(()).unwrap(), false)
        .unwrap();
    body.send_data(message, true).unwrap();
    let response = response.await.unwrap();
    let (head, mut body) = response.into_parts();
    if body.is_end_stream() {
        return (head.headers, None);
    }
    while let Some(data) = body.data().await {
        data.unwrap();
    }
    (head.headers, body.trailers().await.unwrap())
}

fn grpc_status(headers: &http::HeaderMap, trailers: Option<&http::HeaderMap>) -> String {
    trailers
        .and_then(|trailers| trailers.get("grpc-status"))
        .or_else(|| headers.get("grpc-status"))
        .expect("a grpc-status")
        .to_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_compressed_request_the_server_does_not_accept_answers_unimplemented() {
    let gzip = StubServer::new()
        .unary(flag)
        .start()
        .send_compressed(CompressionEncoding::Gzip);

    let status = gzip.unary(request()).await.unwrap_err();

    assert_eq!(status.code(), Code::Unimplemented, "{status:?}");
}

#[tokio::test]
async fn an_unknown_grpc_encoding_answers_unimplemented_and_names_what_is_accepted() {
    let addr = flag_server(|service| service.accept_compressed(CompressionEncoding::Gzip))
        .serve_tcp()
        .await;

    let (headers, trailers) =
        raw_call(addr, &[("grpc-encoding", "snappy")], gzip_empty_message()).await;

    assert_eq!(grpc_status(&headers, trailers.as_ref()), "12");
    let accepted = headers["grpc-accept-encoding"].to_str().unwrap();
    assert!(accepted.contains("gzip"), "{accepted}");
}

#[tokio::test]
async fn a_compressed_message_without_grpc_encoding_answers_internal() {
    let addr = flag_server(|service| service.accept_compressed(CompressionEncoding::Gzip))
        .serve_tcp()
        .await;

    let (headers, trailers) = raw_call(addr, &[], gzip_empty_message()).await;
    let with_encoding = raw_call(addr, &[("grpc-encoding", "gzip")], gzip_empty_message()).await;

    assert_eq!(grpc_status(&headers, trailers.as_ref()), "13");
    assert_eq!(grpc_status(&with_encoding.0, with_encoding.1.as_ref()), "0");
}

#[tokio::test]
async fn the_server_compresses_with_the_first_accepted_encoding_it_has() {
    let addr = flag_server(|service| {
        service
            .send_compressed(CompressionEncoding::Gzip)
            .send_compressed(CompressionEncoding::Zstd)
    })
    .serve_tcp()
    .await;
    let empty = || bytes::Bytes::from_static(&[0, 0, 0, 0, 0]);

    let zstd_first = raw_call(addr, &[("grpc-accept-encoding", "zstd,gzip")], empty()).await;
    let gzip_first = raw_call(addr, &[("grpc-accept-encoding", "deflate, gzip")], empty()).await;
    let neither = raw_call(addr, &[("grpc-accept-encoding", "deflate")], empty()).await;

    assert_eq!(zstd_first.0["grpc-encoding"], "zstd");
    assert_eq!(gzip_first.0["grpc-encoding"], "gzip");
    assert_eq!(neither.0.get("grpc-encoding"), None);
}

#[tokio::test]
async fn zstd_works_per_server_and_per_client() {
    let plain = flag_server(|service| {
        service
            .accept_compressed(CompressionEncoding::Zstd)
            .send_compressed(CompressionEncoding::Zstd)
    })
    .start();
    let zstd = plain
        .clone()
        .send_compressed(CompressionEncoding::Zstd)
        .accept_compressed(CompressionEncoding::Zstd);

    let compressed = zstd.unary(request()).await.unwrap();
    let uncompressed = plain.unary(request()).await.unwrap();

    assert_eq!(compressed.get_ref().message, "c");
    assert_eq!(response_compressed(&compressed), Some(true));
    assert_eq!(compressed.metadata().get("grpc-encoding").unwrap(), "zstd");
    assert_eq!(uncompressed.get_ref().message, "p");
    assert_eq!(response_compressed(&uncompressed), Some(false));
}

#[tokio::test]
async fn gzip_and_zstd_are_chosen_per_client_against_one_server() {
    let plain = flag_server(|service| {
        service
            .accept_compressed(CompressionEncoding::Gzip)
            .accept_compressed(CompressionEncoding::Zstd)
    })
    .start();

    for encoding in [CompressionEncoding::Gzip, CompressionEncoding::Zstd] {
        let reply = plain
            .clone()
            .send_compressed(encoding)
            .unary(request())
            .await
            .unwrap();
        assert_eq!(reply.get_ref().message, "c", "{encoding}");
    }
}
