//! Every status code reaches the client, and messages travel percent-encoded
//! (`grpc-message`), as the gRPC spec says.

use rust_grpc::Code;
use rust_grpc_testdata::default::corpus::echo::FailRequest;
use rust_grpc_testdata::stub::{self, StubServer};
use tokio::net::TcpStream;

/// A server whose `Fail` fails as asked.
fn failing() -> StubServer {
    StubServer::new().fail(stub::fail)
}

const MESSAGE: &str = "50% done ✓\nnext: a/b?c=d";

#[tokio::test]
async fn every_error_code_reaches_the_client_with_its_message() {
    let client = failing().start();

    for code in 1..=16 {
        let status = client
            .fail(FailRequest {
                code,
                message: MESSAGE.to_owned(),
            })
            .await
            .unwrap_err();

        assert_eq!(status.code(), Code::from_i32(code), "{status:?}");
        assert_eq!(status.message(), MESSAGE);
    }
}

#[tokio::test]
async fn grpc_message_is_percent_encoded_on_the_wire() {
    let addr = failing().serve_tcp().await;
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (client, connection) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(connection);
    let mut client = client.ready().await.unwrap();
    let request = http::Request::post(format!("http://{addr}/corpus.echo.Echo/Fail"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(())
        .unwrap();
    let (response, mut body) = client.send_request(request, false).unwrap();
    // FailRequest { code: 9, message: "50% ✓" }
    let message = "50% ✓".as_bytes();
    let mut encoded = vec![0x08, 9, 0x12, u8::try_from(message.len()).unwrap()];
    encoded.extend_from_slice(message);
    let mut framed = vec![0];
    framed.extend_from_slice(&u32::try_from(encoded.len()).unwrap().to_be_bytes());
    framed.extend_from_slice(&encoded);
    body.send_data(framed.into(), true).unwrap();

    let response = response.await.unwrap();

    assert_eq!(response.headers()["grpc-status"], "9");
    // '%' and the bytes outside 0x20..=0x7E must be encoded; tonic encodes the
    // space too, which the spec allows.
    assert_eq!(response.headers()["grpc-message"], "50%25%20%E2%9C%93");
}
