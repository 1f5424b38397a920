//! Per-message compression (`rust_grpc::compression`) and whole-call deadlines,
//! with the generated `corpus.echo` code through the in-process channel.

use std::time::Duration;

use rust_grpc::compression::{ReceivedCompression, SendCompression};
use rust_grpc::{BoxStream, Code, CompressionEncoding, Request, Response, Status, Streaming};
use rust_grpc_testdata::default::corpus::echo::echo_client::EchoClient;
use rust_grpc_testdata::default::corpus::echo::{EchoReply, EchoRequest};
use rust_grpc_testdata::stub::{StubServer, reply, request};
use tokio_stream::StreamExt as _;

/// How long any single step may take before a test gives up instead of hanging.
const PATIENCE: Duration = Duration::from_secs(10);

/// `Unary` answers with this `count` to leave the response's compression to the
/// server's setting; 1 compresses it, 0 does not.
const SERVER_DECIDES: i32 = -1;

fn flag(received: &ReceivedCompression) -> char {
    match received.last_message_compressed() {
        Some(true) => 'c',
        Some(false) => 'p',
        None => '?',
    }
}

fn received<T>(request: &Request<T>) -> ReceivedCompression {
    request
        .extensions()
        .get::<ReceivedCompression>()
        .cloned()
        .expect("the runtime records how request messages arrived")
}

/// Answers with how the request arrived ('c' compressed, 'p' plain) and
/// compresses the response as the request's `count` asks.
async fn unary(request: Request<EchoRequest>) -> Result<Response<EchoReply>, Status> {
    let arrived = flag(&received(&request));
    let mut response = Response::new(reply(arrived));
    if request.get_ref().count != SERVER_DECIDES {
        let compress = request.get_ref().count == 1;
        response
            .extensions_mut()
            .insert(SendCompression::fixed(compress));
    }
    Ok(response)
}

/// One response per character of the request's message: 'c' compressed,
/// anything else plain.
async fn server_stream(
    request: Request<EchoRequest>,
) -> Result<Response<BoxStream<EchoReply>>, Status> {
    let pattern: Vec<bool> = request
        .get_ref()
        .message
        .chars()
        .map(|c| c == 'c')
        .collect();
    let choice = SendCompression::new();
    let setter = choice.clone();
    let replies =
        tokio_stream::iter(pattern.into_iter().enumerate()).map(move |(index, compress)| {
            setter.set(compress);
            Ok(reply(format!("reply {index}")))
        });
    let mut response: Response<BoxStream<EchoReply>> = Response::new(Box::pin(replies));
    response.extensions_mut().insert(choice);
    Ok(response)
}

/// Answers with how each request message arrived, in order.
async fn client_stream(
    request: Request<Streaming<EchoRequest>>,
) -> Result<Response<EchoReply>, Status> {
    let received = received(&request);
    let mut incoming = request.into_inner();
    let mut flags = String::new();
    while incoming.message().await?.is_some() {
        flags.push(flag(&received));
    }
    Ok(Response::new(reply(flags)))
}

/// Never answers.
async fn bidi(
    _request: Request<Streaming<EchoRequest>>,
) -> Result<Response<BoxStream<EchoReply>>, Status> {
    Ok(Response::new(Box::pin(tokio_stream::pending())))
}

/// Answers with how request messages arrived and compresses responses as
/// requests ask.
fn compression() -> StubServer {
    StubServer::new()
        .unary(unary)
        .server_stream(server_stream)
        .client_stream(client_stream)
        .bidi(bidi)
}

/// A client of a server that accepts gzip requests and may send gzip responses.
fn to_gzip_server() -> EchoClient {
    compression()
        .echo_server(|service| {
            service
                .accept_compressed(CompressionEncoding::Gzip)
                .send_compressed(CompressionEncoding::Gzip)
        })
        .start()
}

fn response_flag<T>(response: &Response<T>) -> Option<bool> {
    response
        .extensions()
        .get::<ReceivedCompression>()
        .expect("the runtime records how response messages arrived")
        .last_message_compressed()
}

#[tokio::test]
async fn handler_sees_whether_a_unary_request_arrived_compressed() {
    let plain = to_gzip_server();
    let compressing = plain.clone().send_compressed(CompressionEncoding::Gzip);

    let sent_plain = plain.unary(request("x", 0)).await.unwrap();
    let sent_compressed = compressing.unary(request("x", 0)).await.unwrap();

    assert_eq!(sent_plain.get_ref().message, "p");
    assert_eq!(sent_compressed.get_ref().message, "c");
}

#[tokio::test]
async fn client_chooses_compression_message_by_message() {
    let compressing = to_gzip_server().send_compressed(CompressionEncoding::Gzip);
    let choice = SendCompression::new();
    let setter = choice.clone();
    let requests = tokio_stream::iter([true, false, false, true]).map(move |compress| {
        setter.set(compress);
        request("x", 0)
    });
    let mut call = Request::new(requests);
    call.extensions_mut().insert(choice);

    let response = compressing.client_stream(call).await.unwrap();

    assert_eq!(response.get_ref().message, "cppc");
}

#[tokio::test]
async fn handler_chooses_compression_message_by_message() {
    let client = to_gzip_server().accept_compressed(CompressionEncoding::Gzip);
    let pattern = "cppcc";

    let response = client.server_stream(request(pattern, 0)).await.unwrap();
    let received = response
        .extensions()
        .get::<ReceivedCompression>()
        .cloned()
        .unwrap();
    let mut stream = response.into_inner();
    let mut seen = String::new();
    while let Some(reply) = stream.message().await.unwrap() {
        assert_eq!(reply.message, format!("reply {}", seen.len()));
        seen.push(flag(&received));
    }

    assert_eq!(seen, pattern);
}

#[tokio::test]
async fn unchosen_responses_follow_the_negotiated_encoding() {
    let plain = to_gzip_server();
    let accepting = plain.clone().accept_compressed(CompressionEncoding::Gzip);

    let to_accepting = accepting.unary(request("x", SERVER_DECIDES)).await.unwrap();
    let to_plain = plain.unary(request("x", SERVER_DECIDES)).await.unwrap();

    assert_eq!(response_flag(&to_accepting), Some(true));
    assert_eq!(response_flag(&to_plain), Some(false));
}

#[tokio::test]
async fn a_choice_to_compress_without_an_encoding_sends_plain() {
    // The server never enabled gzip for responses.
    let accepting = compression()
        .start()
        .accept_compressed(CompressionEncoding::Gzip);

    let response = accepting.unary(request("x", 1)).await.unwrap();

    assert_eq!(response.get_ref().message, "p");
    assert_eq!(response_flag(&response), Some(false));
}

#[tokio::test]
async fn a_deadline_ends_a_stream_that_outlives_it() {
    let client = to_gzip_server();
    let mut call = Request::new(tokio_stream::pending::<EchoRequest>());
    call.set_timeout(Duration::from_millis(200));

    let outcome = tokio::time::timeout(PATIENCE, async {
        // The server answers with headers at once and then never sends anything.
        let mut stream = client.bidi(call).await?.into_inner();
        stream.message().await
    })
    .await
    .expect("the call outlived its deadline");

    let status = outcome.expect_err("a call that never ends cannot succeed");
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
}
