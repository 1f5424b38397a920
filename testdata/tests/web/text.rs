//! `application/grpc-web-text`: requests and responses in base64, the request
//! in pieces cut anywhere, the response one padded piece per frame.

use bytes::Bytes;
use http_body_util::StreamBody;
use rust_grpc::server::GrpcWeb;
use rust_grpc_testdata::stub;

use crate::{Http, WebBody, base64, frame, post, serve, unbase64};

#[tokio::test]
async fn a_text_unary_call_is_base64_both_ways() {
    let addr = serve(GrpcWeb::default()).await;
    for http in [Http::One, Http::Two] {
        let reply = post(
            addr,
            http,
            "Unary",
            "application/grpc-web-text",
            &[],
            base64(&frame(&stub::request("in text", 0))),
        )
        .await;
        assert_eq!(reply.headers["content-type"], "application/grpc-web-text");
        let body = WebBody::parse(unbase64(&reply.body));
        assert_eq!(body.messages, vec![stub::reply("in text")], "{http:?}");
        assert_eq!(body.trailer("grpc-status"), Some("0"), "{http:?}");
    }
}

#[tokio::test]
async fn a_text_server_stream_sends_its_trailers_as_a_piece_of_their_own() {
    let addr = serve(GrpcWeb::default()).await;
    let reply = post(
        addr,
        Http::One,
        "ServerStream",
        "application/grpc-web-text+proto",
        &[],
        base64(&frame(&stub::request("t", 2))),
    )
    .await;
    let body = WebBody::parse(unbase64(&reply.body));
    assert_eq!(body.messages, vec![stub::reply("t 0"), stub::reply("t 1")]);
    // The messages went out as they were sent; the trailers frame (flag 0x80,
    // length 16, "grpc-status: 0\r\n") is encoded and padded on its own.
    let trailers = base64(b"\x80\x00\x00\x00\x10grpc-status: 0\r\n");
    assert!(reply.body.ends_with(&trailers), "{:?}", reply.body);
}

#[tokio::test]
async fn a_text_request_in_pieces_cut_anywhere_is_decoded() {
    let addr = serve(GrpcWeb::default()).await;
    let text = base64(&frame(&stub::request("cut into pieces", 0)));
    // Pieces of 1, 2, 3, ... bytes, each its own HTTP/2 DATA frame.
    let mut pieces = Vec::new();
    let (mut at, mut size) = (0, 1);
    while at < text.len() {
        let end = (at + size).min(text.len());
        pieces.push(Ok::<_, std::convert::Infallible>(hyper::body::Frame::data(
            text.slice(at..end),
        )));
        (at, size) = (end, size + 1);
    }
    let body = StreamBody::new(tokio_stream::iter(pieces));
    let reply = crate::send(
        addr,
        Http::Two,
        "POST",
        "/corpus.echo.Echo/Unary",
        &[("content-type", "application/grpc-web-text")],
        body,
    )
    .await;
    let body = WebBody::parse(unbase64(&reply.body));
    assert_eq!(body.messages, vec![stub::reply("cut into pieces")]);
}

#[tokio::test]
async fn a_text_request_of_padded_pieces_one_after_another_is_decoded() {
    let addr = serve(GrpcWeb::default()).await;
    // One message split into two padded base64 pieces (as a client that
    // encodes each write on its own sends it).
    let framed = frame(&stub::request("two pieces", 0));
    let (first, second) = framed.split_at(4);
    let text: Bytes = [base64(first), base64(second)].concat().into();
    assert!(text[..8].ends_with(b"="), "the first piece is padded");
    let reply = post(
        addr,
        Http::One,
        "Unary",
        "application/grpc-web-text",
        &[],
        text,
    )
    .await;
    let body = WebBody::parse(unbase64(&reply.body));
    assert_eq!(body.messages, vec![stub::reply("two pieces")]);
}
