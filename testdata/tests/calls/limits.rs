//! Message size limits (`rust_grpc::limits`): grpc-go's defaults, set per server,
//! client, method and call, and RESOURCE_EXHAUSTED (not tonic's OUT_OF_RANGE)
//! over them.

use rust_grpc::RequestExt as _;
use rust_grpc::limits::CallLimits;
use rust_grpc::server::MethodLimits;
use rust_grpc::{
    BoxStream, Code, CompressionEncoding, Request, Response, Server, Status, Streaming,
};
use rust_grpc_testdata::default::corpus::echo::echo_client::EchoClient;
use rust_grpc_testdata::default::corpus::echo::echo_methods;
use rust_grpc_testdata::default::corpus::echo::echo_server::EchoServer;
use rust_grpc_testdata::default::corpus::echo::{EchoReply, EchoRequest};
use rust_grpc_testdata::stub::{Handlers, StubServer, reply};

const MIB: usize = 1024 * 1024;

/// A reply of `count` bytes when `count` is set, else the request's message.
fn reply_to(request: EchoRequest) -> EchoReply {
    match usize::try_from(request.count) {
        Ok(len) if len > 0 => reply("y".repeat(len)),
        _ => reply(request.message),
    }
}

/// Answers `Unary` and `ServerStream` with [`reply_to`], and `ClientStream`
/// with the total length of the messages.
fn sizes() -> StubServer {
    StubServer::new()
        .unary(|request| async move { Ok(Response::new(reply_to(request.into_inner()))) })
        .server_stream(|request| async move {
            let reply = reply_to(request.into_inner());
            let replies: BoxStream<EchoReply> = Box::pin(tokio_stream::iter([Ok(reply)]));
            Ok(Response::new(replies))
        })
        .client_stream(|request: Request<Streaming<EchoRequest>>| async move {
            let mut incoming = request.into_inner();
            let mut total = 0;
            while let Some(message) = incoming.message().await? {
                total += message.message.len();
            }
            Ok(Response::new(reply(total.to_string())))
        })
}

/// A client of [`sizes`] with the service's options set by `tweak`.
fn serve(tweak: fn(EchoServer<Handlers>) -> EchoServer<Handlers>) -> EchoClient {
    sizes().echo_server(tweak).start()
}

/// A request whose encoded size is a little over `len` bytes.
fn sized(len: usize) -> EchoRequest {
    EchoRequest {
        message: "x".repeat(len),
        count: 0,
    }
}

/// A small request asking for a reply of `len` bytes.
fn asking_for(len: usize) -> EchoRequest {
    EchoRequest {
        message: String::new(),
        count: i32::try_from(len).unwrap(),
    }
}

fn assert_exhausted(outcome: Result<impl std::fmt::Debug, Status>) {
    let status = outcome.expect_err("a message over the limit went through");
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
}

#[tokio::test]
async fn a_server_receives_up_to_4_mib_by_default() {
    let client = sizes().start();

    let under = client.unary(asking_for(1)).await;
    let at = client.unary(sized(4 * MIB - 16)).await;
    let over = client.unary(sized(4 * MIB)).await;

    assert!(under.is_ok());
    assert!(at.is_ok(), "{at:?}");
    assert_exhausted(over);
}

#[tokio::test]
async fn a_client_receives_up_to_4_mib_by_default_and_a_server_sends_any_size() {
    let client = sizes().start();

    let over = client.unary(asking_for(4 * MIB + 1)).await;
    let raised = client
        .clone()
        .max_decoding_message_size(8 * MIB)
        .unary(asking_for(6 * MIB))
        .await;

    assert_exhausted(over);
    assert_eq!(raised.unwrap().get_ref().message.len(), 6 * MIB);
}

#[tokio::test]
async fn a_server_receive_limit_refuses_larger_requests() {
    let client = serve(|service| service.max_decoding_message_size(1024));

    assert!(client.unary(sized(1000)).await.is_ok());
    let status = client.unary(sized(2000)).await.unwrap_err();
    assert_exhausted(
        client
            .client_stream(tokio_stream::iter([sized(10), sized(2000)]))
            .await,
    );

    assert_eq!(status.code(), Code::ResourceExhausted);
    assert_eq!(
        status.message(),
        "received message larger than max (2003 vs. 1024 bytes)"
    );
}

#[tokio::test]
async fn a_server_send_limit_refuses_larger_responses() {
    let client = serve(|service| service.max_encoding_message_size(1024));

    assert!(client.unary(asking_for(1000)).await.is_ok());
    assert_exhausted(client.unary(asking_for(2000)).await);
    let mut stream = client
        .server_stream(asking_for(2000))
        .await
        .unwrap()
        .into_inner();
    assert_exhausted(stream.message().await);
}

#[tokio::test]
async fn a_client_receive_limit_refuses_larger_responses() {
    let client = sizes().start().max_decoding_message_size(1024);

    assert!(client.unary(asking_for(1000)).await.is_ok());
    assert_exhausted(client.unary(asking_for(2000)).await);
}

#[tokio::test]
async fn a_client_send_limit_refuses_larger_requests() {
    let client = sizes().start().max_encoding_message_size(1024);

    assert!(client.unary(sized(1000)).await.is_ok());
    assert_exhausted(client.unary(sized(2000)).await);
    assert_exhausted(
        client
            .client_stream(tokio_stream::iter([sized(10), sized(2000)]))
            .await,
    );
}

#[tokio::test]
async fn call_limits_override_the_clients_for_one_call() {
    let client = sizes().start().max_decoding_message_size(1024);
    let mut call = Request::new(asking_for(2000));
    call.set_max_decoding_message_size(4096);
    let mut tighter = Request::new(sized(2000));
    tighter.set_max_encoding_message_size(1024);

    assert!(client.unary(call).await.is_ok());
    assert_exhausted(client.unary(tighter).await);
}

#[tokio::test]
async fn method_limits_give_one_method_its_own_limit() {
    let layer = MethodLimits::new().method(
        echo_methods::UNARY,
        CallLimits::new()
            .max_decoding_message_size(1024)
            .max_encoding_message_size(1024),
    );
    let channel = rust_grpc::in_process::channel(
        Server::builder()
            .layer(layer)
            .add_service(sizes().into_service()),
    );
    let client = EchoClient::new(channel);

    assert_exhausted(client.unary(sized(2000)).await);
    assert_exhausted(client.unary(asking_for(2000)).await);
    let other = client.server_stream(sized(2000)).await.unwrap();
    assert!(other.into_inner().message().await.unwrap().is_some());
}

#[tokio::test]
async fn a_compressed_request_is_checked_after_decompression() {
    let client = serve(|service| {
        service
            .accept_compressed(CompressionEncoding::Gzip)
            .max_decoding_message_size(4096)
    })
    .send_compressed(CompressionEncoding::Gzip);

    // 64 KiB of one letter compresses to well under 4096 bytes.
    assert_exhausted(client.unary(sized(64 * 1024)).await);
}
