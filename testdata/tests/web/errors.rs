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

/// HTTP/1.1 can end a request early only by closing the connection; the
/// server reads the rest of a request it refused, so a client still sending
/// gets the answer instead of a reset connection.
#[tokio::test]
async fn an_http1_client_still_sending_a_refused_request_gets_the_answer() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let addr = stub_server()
        .echo_server(|service| service.max_decoding_message_size(64))
        .server(|server| server.accept_grpc_web(GrpcWeb::default()))
        .serve_tcp()
        .await;
    let body = frame(&stub::request(&"x".repeat(2 * 1024 * 1024), 0));
    let head = format!(
        "POST /corpus.echo.Echo/Unary HTTP/1.1\r\nhost: {addr}\r\n\
         content-type: application/grpc-web\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    let (mut read, mut write) = tokio::net::TcpStream::connect(addr)
        .await
        .unwrap()
        .into_split();
    let sending = tokio::spawn(async move {
        write.write_all(head.as_bytes()).await?;
        write.write_all(&body).await?;
        write.flush().await
    });
    let mut answer = Vec::new();
    let mut buf = [0; 4096];
    while !String::from_utf8_lossy(&answer).contains("grpc-status") {
        let n = read.read(&mut buf).await.expect("the answer");
        assert!(
            n > 0,
            "closed before answering: {:?}",
            String::from_utf8_lossy(&answer)
        );
        answer.extend_from_slice(&buf[..n]);
    }

    sending.await.unwrap().expect("the whole request was sent");
    assert!(
        String::from_utf8_lossy(&answer).contains("grpc-status: 8"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
}
