//! Generated clients accept any tower transport: tonic's own `Channel` too.

use rust_grpc::Response;
use rust_grpc_testdata::default::corpus::echo::echo_client::EchoClient;
use rust_grpc_testdata::stub::{StubServer, reply, request, url};

#[tokio::test]
async fn a_generated_client_calls_through_tonics_channel() {
    let addr = StubServer::new()
        .unary(|request| async move {
            Ok(Response::new(reply(format!(
                "tonic carried {}",
                request.into_inner().message
            ))))
        })
        .serve_tcp()
        .await;
    let channel = tonic::transport::Endpoint::new(url(addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let client = EchoClient::new(channel);
    let answer = client.unary(request("this", 0)).await.unwrap();
    assert_eq!(answer.into_inner().message, "tonic carried this");
}
