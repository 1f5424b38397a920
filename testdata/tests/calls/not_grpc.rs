//! Requests that are not gRPC calls get grpc-go's answers: a method other than
//! POST is HTTP 405 with INTERNAL, a content-type other than application/grpc
//! (+codec or ;params) is HTTP 415 with INVALID_ARGUMENT, and the handler never
//! runs. gRPC calls the server cannot take (a codec other than proto, a unary
//! request with zero or two messages) are UNIMPLEMENTED. Raw HTTP/2 requests, so
//! nothing in between fixes them up.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rust_grpc::Response;
use rust_grpc_testdata::stub::{StubServer, reply};
use tokio::net::TcpStream;

/// One framed, empty EchoRequest.
const ONE_MESSAGE: &[u8] = &[0, 0, 0, 0, 0];

/// Sends one request (`method`, `content_type`) with an empty EchoRequest and
/// returns the response's HTTP status and gRPC status.
async fn raw(addr: SocketAddr, method: &str, content_type: Option<&str>) -> (u16, String) {
    raw_body(addr, method, content_type, ONE_MESSAGE).await
}

/// Like [`raw`], with `body` as the request body.
async fn raw_body(
    addr: SocketAddr,
    method: &str,
    content_type: Option<&str>,
    body: &'static [u8],
) -> (u16, String) {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (client, connection) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(connection);
    let mut client = client.ready().await.unwrap();
    let mut request = http::Request::builder()
        .method(method)
        .uri(format!("http://{addr}/corpus.echo.Echo/Unary"))
        .header("te", "trailers");
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    let body_bytes = body;
    let (response, mut body) = client
        .send_request(request.body(()).unwrap(), false)
        .unwrap();
    body.send_data(bytes::Bytes::from_static(body_bytes), true)
        .unwrap();
    let response = response.await.unwrap();
    let (head, mut body) = response.into_parts();
    let mut status = head.headers.get("grpc-status").cloned();
    if !body.is_end_stream() {
        while let Some(data) = body.data().await {
            data.unwrap();
        }
        if let Some(trailers) = body.trailers().await.unwrap() {
            status = status.or_else(|| trailers.get("grpc-status").cloned());
        }
    }
    let status = status.expect("a grpc-status").to_str().unwrap().to_owned();
    (head.status.as_u16(), status)
}

#[tokio::test]
async fn only_posts_of_application_grpc_reach_a_handler() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    let addr = StubServer::new()
        .unary(move |_| {
            counted.fetch_add(1, Ordering::SeqCst);
            async { Ok(Response::new(reply("called"))) }
        })
        .serve_tcp()
        .await;

    for content_type in [
        "application/grpc",
        "application/grpc+proto",
        "application/grpc;charset=utf-8",
    ] {
        assert_eq!(
            raw(addr, "POST", Some(content_type)).await,
            (200, "0".to_owned()),
            "{content_type}"
        );
    }
    assert_eq!(calls.load(Ordering::SeqCst), 3);

    for content_type in [
        Some("application/json"),
        Some("application/grpcx"),
        Some("text/plain"),
        None,
    ] {
        assert_eq!(
            raw(addr, "POST", content_type).await,
            (415, "3".to_owned()),
            "{content_type:?}"
        );
    }
    for method in ["GET", "PUT"] {
        assert_eq!(
            raw(addr, method, Some("application/grpc")).await,
            (405, "13".to_owned()),
            "{method}"
        );
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        3,
        "no refused request reached the handler"
    );
}

/// A stub server whose unary handler counts its calls.
async fn counting_server() -> (SocketAddr, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    let addr = StubServer::new()
        .unary(move |_| {
            counted.fetch_add(1, Ordering::SeqCst);
            async { Ok(Response::new(reply("called"))) }
        })
        .serve_tcp()
        .await;
    (addr, calls)
}

#[tokio::test]
async fn a_codec_other_than_proto_is_unimplemented_and_reaches_no_handler() {
    let (addr, calls) = counting_server().await;
    for content_type in [
        "application/grpc+json",
        "application/grpc+foo;charset=utf-8",
    ] {
        assert_eq!(
            raw(addr, "POST", Some(content_type)).await,
            (200, "12".to_owned()),
            "{content_type}"
        );
    }
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_unary_request_without_exactly_one_message_is_unimplemented() {
    let (addr, calls) = counting_server().await;
    let two_messages: &[u8] = &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    for (what, body) in [("no message", &[][..]), ("two messages", two_messages)] {
        assert_eq!(
            raw_body(addr, "POST", Some("application/grpc"), body).await,
            (200, "12".to_owned()),
            "{what}"
        );
    }
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

/// Opens a request with `headers` on a fresh connection and leaves its body
/// open.
async fn open(
    addr: SocketAddr,
    request: http::request::Builder,
) -> (h2::client::ResponseFuture, h2::SendStream<bytes::Bytes>) {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (client, connection) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(connection);
    let mut client = client.ready().await.unwrap();
    let request = request
        .uri(format!("http://{addr}/corpus.echo.Echo/Unary"))
        .body(())
        .unwrap();
    client.send_request(request, false).unwrap()
}

#[tokio::test]
async fn a_get_is_told_in_text_why_it_is_refused() {
    let (addr, _) = counting_server().await;
    let (response, mut body) = open(addr, http::Request::get("/")).await;
    body.send_data(bytes::Bytes::new(), true).unwrap();

    let (head, mut body) = response.await.unwrap().into_parts();
    let mut text = Vec::new();
    while let Some(data) = body.data().await {
        text.extend_from_slice(&data.unwrap());
    }

    assert_eq!(head.status, 405);
    assert_eq!(head.headers["content-type"], "text/plain; charset=utf-8");
    assert_eq!(
        String::from_utf8(text).unwrap(),
        "the request's method is GET; gRPC calls are POST\n"
    );
}

#[tokio::test]
async fn a_refused_request_is_answered_once_its_body_ends() {
    let (addr, _) = counting_server().await;
    let (response, mut body) = open(
        addr,
        http::Request::post("/").header("content-type", "text/plain"),
    )
    .await;
    body.send_data(bytes::Bytes::from_static(b"hello"), false)
        .unwrap();

    let mut response = Box::pin(response);
    let early = tokio::time::timeout(Duration::from_millis(200), &mut response).await;
    assert!(early.is_err(), "answered while the body was still coming");
    body.send_data(bytes::Bytes::from_static(b" there"), true)
        .unwrap();
    let response = tokio::time::timeout(Duration::from_secs(5), response)
        .await
        .expect("no answer after the body ended")
        .unwrap();

    assert_eq!(response.status(), 415);
}

#[tokio::test]
async fn a_refused_request_with_a_false_content_length_is_reset() {
    let (addr, _) = counting_server().await;
    let (response, mut body) = open(
        addr,
        http::Request::post("/")
            .header("content-type", "text/plain")
            .header("content-length", "1"),
    )
    .await;
    body.send_data(bytes::Bytes::from_static(b"test"), true)
        .unwrap();

    let error = tokio::time::timeout(Duration::from_secs(5), response)
        .await
        .expect("no answer")
        .unwrap_err();

    assert_eq!(error.reason(), Some(h2::Reason::PROTOCOL_ERROR), "{error}");
}
