//! Bad input gets the right status and the server goes on: a message over the
//! limit, and a text body that is not base64.

use bytes::Bytes;
use rust_grpc::server::GrpcWeb;
use rust_grpc_testdata::stub;

use crate::{Http, WebBody, base64, frame, post, stub_server, unbase64};

#[tokio::test]
async fn a_message_over_the_limit_is_resource_exhausted() {
    let addr = stub_server()
        .echo_server(|service| service.max_decoding_message_size(64))
        .server(|server| server.accept_grpc_web(GrpcWeb::default()))
        .serve_tcp()
        .await;
    let big = frame(&stub::request(&"x".repeat(1000), 0));
    for (content_type, body) in [
        ("application/grpc-web", big.clone()),
        ("application/grpc-web-text", base64(&big)),
    ] {
        let reply = post(addr, Http::One, "Unary", content_type, &[], body).await;
        assert_eq!(reply.headers["grpc-status"], "8", "{content_type}");
    }
}

#[tokio::test]
async fn a_text_body_that_is_not_base64_is_invalid_argument() {
    let addr = crate::serve(GrpcWeb::default()).await;
    for (http, body) in [
        (Http::One, Bytes::from_static(b"AAAA!!!!")),
        (Http::Two, Bytes::from_static(b"A")),
        (Http::One, Bytes::from_static(b"AA=A")),
    ] {
        let reply = post(addr, http, "Unary", "application/grpc-web-text", &[], body).await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.headers["grpc-status"], "3", "{http:?}");
    }
    // The server goes on serving.
    let reply = post(
        addr,
        Http::One,
        "Unary",
        "application/grpc-web-text",
        &[],
        base64(&frame(&stub::request("still here", 0))),
    )
    .await;
    let body = WebBody::parse(unbase64(&reply.body));
    assert_eq!(body.messages, vec![stub::reply("still here")]);
}

#[tokio::test]
async fn a_truncated_binary_body_is_an_error_status() {
    let addr = crate::serve(GrpcWeb::default()).await;
    let framed = frame(&stub::request("cut", 0));
    let reply = post(
        addr,
        Http::One,
        "Unary",
        "application/grpc-web",
        &[],
        framed.slice(..framed.len() - 1),
    )
    .await;
    assert_eq!(reply.headers["grpc-status"], "13");
}
