//! Binary gRPC-Web calls (`application/grpc-web[+proto]`): every message in
//! the body, then the trailers as a frame flagged 0x80, over HTTP/1.1 and
//! HTTP/2 alike; errors before any message as a trailers-only response.

use rust_grpc::server::GrpcWeb;
use rust_grpc_testdata::stub;

use crate::{Http, WebBody, frame, post, serve};

async fn unary_over(http: Http, content_type: &str) {
    let addr = serve(GrpcWeb::default()).await;
    let reply = post(
        addr,
        http,
        "Unary",
        content_type,
        &[],
        frame(&stub::request("hello", 0)),
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.headers["content-type"], content_type);
    assert!(!reply.http_trailers, "trailers go in the body");
    let body = WebBody::parse(reply.body);
    assert_eq!(body.messages, vec![stub::reply("hello")]);
    assert_eq!(body.trailer("grpc-status"), Some("0"));
}

#[tokio::test]
async fn a_unary_call_over_http1_has_its_trailers_in_the_body() {
    unary_over(Http::One, "application/grpc-web").await;
}

#[tokio::test]
async fn a_unary_call_over_http2_has_its_trailers_in_the_body() {
    unary_over(Http::Two, "application/grpc-web").await;
}

#[tokio::test]
async fn the_proto_content_type_is_served_and_echoed() {
    unary_over(Http::One, "application/grpc-web+proto").await;
}

#[tokio::test]
async fn a_server_stream_sends_every_message_then_the_trailers() {
    let addr = serve(GrpcWeb::default()).await;
    for http in [Http::One, Http::Two] {
        let reply = post(
            addr,
            http,
            "ServerStream",
            "application/grpc-web+proto",
            &[],
            frame(&stub::request("tick", 3)),
        )
        .await;
        let body = WebBody::parse(reply.body);
        let expected: Vec<_> = (0..3).map(|i| stub::reply(format!("tick {i}"))).collect();
        assert_eq!(body.messages, expected, "{http:?}");
        assert_eq!(body.trailer("grpc-status"), Some("0"), "{http:?}");
    }
}

#[tokio::test]
async fn metadata_reaches_the_handler_and_comes_back_in_headers() {
    let addr = serve(GrpcWeb::default()).await;
    let reply = post(
        addr,
        Http::One,
        "Unary",
        "application/grpc-web",
        &[("x-token", "secret")],
        frame(&stub::request("hi", 0)),
    )
    .await;
    assert_eq!(reply.headers["x-token-seen"], "secret");
    let body = WebBody::parse(reply.body);
    assert_eq!(body.messages[0].metadata, vec!["x-token=secret"]);
}

#[tokio::test]
async fn an_error_before_any_message_is_a_trailers_only_response() {
    let addr = serve(GrpcWeb::default()).await;
    let fail = crate::frame(&rust_grpc_testdata::default::corpus::echo::FailRequest {
        code: 7,
        message: "not-you".to_owned(),
    });
    for http in [Http::One, Http::Two] {
        let reply = post(
            addr,
            http,
            "Fail",
            "application/grpc-web",
            &[],
            fail.clone(),
        )
        .await;
        assert_eq!(reply.status, 200, "{http:?}");
        assert_eq!(reply.headers["grpc-status"], "7", "{http:?}");
        assert_eq!(reply.headers["grpc-message"], "not-you", "{http:?}");
        assert_eq!(reply.headers["content-type"], "application/grpc-web");
        assert!(reply.body.is_empty(), "{http:?}: {:?}", reply.body);
    }
}

#[tokio::test]
async fn an_unknown_method_is_unimplemented_in_headers() {
    let addr = serve(GrpcWeb::default()).await;
    let reply = crate::send(
        addr,
        Http::One,
        "POST",
        "/corpus.echo.Nothing/Here",
        &[("content-type", "application/grpc-web")],
        http_body_util::Full::new(frame(&stub::request("x", 0))),
    )
    .await;
    assert_eq!(reply.headers["grpc-status"], "12");
}

#[tokio::test]
async fn a_client_stream_over_http2_reads_every_message() {
    let addr = serve(GrpcWeb::default()).await;
    let body = [frame(&stub::request("a", 0)), frame(&stub::request("b", 0))].concat();
    let reply = post(
        addr,
        Http::Two,
        "ClientStream",
        "application/grpc-web",
        &[],
        body.into(),
    )
    .await;
    let body = WebBody::parse(reply.body);
    assert_eq!(body.messages, vec![stub::reply("a,b")]);
}

#[tokio::test]
async fn a_bidi_call_over_http2_answers_every_message() {
    let addr = serve(GrpcWeb::default()).await;
    let body = [frame(&stub::request("a", 0)), frame(&stub::request("b", 0))].concat();
    let reply = post(
        addr,
        Http::Two,
        "Bidi",
        "application/grpc-web",
        &[],
        body.into(),
    )
    .await;
    let body = WebBody::parse(reply.body);
    assert_eq!(
        body.messages,
        vec![stub::reply("echo a"), stub::reply("echo b")]
    );
    assert_eq!(body.trailer("grpc-status"), Some("0"));
}

#[tokio::test]
async fn native_grpc_still_works_beside_grpc_web() {
    let addr = serve(GrpcWeb::default()).await;
    let client = stub::connect(addr).await;
    let reply = client.unary(stub::request("native", 0)).await.unwrap();
    assert_eq!(reply.into_inner().message, "native");
}

#[tokio::test]
async fn without_grpc_web_a_grpc_web_request_is_refused() {
    let addr = crate::stub_server().serve_tcp().await;
    let reply = post(
        addr,
        Http::Two,
        "Unary",
        "application/grpc-web",
        &[],
        frame(&stub::request("hello", 0)),
    )
    .await;
    assert_eq!(reply.status, 415);
}
