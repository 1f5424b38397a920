//! A generated client talking to a server object in the same process, no socket.

use rust_grpc::{Code, Response, Router};
use rust_grpc_testdata::default::corpus::echo::EchoRequest;
use rust_grpc_testdata::default::corpus::echo::echo_client::EchoClient;
use rust_grpc_testdata::stub::{StubServer, reply};

/// A server whose `Unary` answers in upper case; it has no other handler.
fn upper() -> Router {
    StubServer::new()
        .unary(|request| async move {
            Ok(Response::new(reply(
                request.into_inner().message.to_uppercase(),
            )))
        })
        .into_router()
}

#[tokio::test]
async fn generated_client_calls_an_in_process_server() {
    let channel = rust_grpc::in_process::channel(upper());
    let client = EchoClient::new(channel);

    let reply = client
        .unary(EchoRequest {
            message: "quiet".to_owned(),
            count: 0,
        })
        .await
        .unwrap();
    assert_eq!(reply.into_inner().message, "QUIET");

    // The rest of the path is real too: the status of a method without a
    // handler comes through.
    let status = client
        .bidi(tokio_stream::iter(Vec::<EchoRequest>::new()))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unimplemented);
}

#[tokio::test]
async fn clones_share_the_in_process_server() {
    let channel = rust_grpc::in_process::channel(upper());
    let client = EchoClient::new(channel);
    let calls: Vec<_> = (0..8)
        .map(|i| {
            let client = client.clone();
            tokio::spawn(async move {
                client
                    .unary(EchoRequest {
                        message: format!("m{i}"),
                        count: 0,
                    })
                    .await
            })
        })
        .collect();
    for (i, call) in calls.into_iter().enumerate() {
        assert_eq!(
            call.await.unwrap().unwrap().into_inner().message,
            format!("M{i}")
        );
    }
}
