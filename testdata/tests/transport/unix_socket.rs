//! A generated client and server over a Unix domain socket.

use rust_grpc::Response;
use rust_grpc_testdata::default::corpus::echo::EchoRequest;
use rust_grpc_testdata::default::corpus::echo::echo_client::EchoClient;
use rust_grpc_testdata::stub::{StubServer, reply};

#[tokio::test]
async fn call_over_a_unix_socket() {
    let dir = std::env::temp_dir().join(format!("rust-grpc-uds-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("echo.sock");
    // A leftover file from an earlier run must not stop the server.
    std::fs::write(&path, b"stale").unwrap();

    let incoming = rust_grpc::unix::incoming(&path).unwrap();
    let reverse = StubServer::new().unary(|request| async move {
        let message: String = request.into_inner().message.chars().rev().collect();
        Ok(Response::new(reply(message)))
    });
    tokio::spawn(reverse.into_router().serve_with_incoming(incoming));
    let client = EchoClient::new(rust_grpc::unix::channel(&path));

    let reply = client
        .unary(EchoRequest {
            message: "socket".to_owned(),
            count: 0,
        })
        .await
        .unwrap();
    assert_eq!(reply.into_inner().message, "tekcos");
    std::fs::remove_dir_all(&dir).unwrap();
}
