//! Every status code reaches the client, and messages travel percent-encoded
//! (`grpc-message`), as the gRPC spec says.

use rust_grpc::{Code, Request, Response, Server, Status};
use rust_grpc_testdata::stubs::corpus::echo::echo_client::EchoClient;
use rust_grpc_testdata::stubs::corpus::echo::echo_server::{Echo, EchoServer};
use rust_grpc_testdata::stubs::corpus::echo::{EchoReply, FailRequest};
use tokio::net::{TcpListener, TcpStream};
use tokio_stream::wrappers::TcpListenerStream;

struct Failing;

impl Echo for Failing {
    async fn fail(&self, request: Request<FailRequest>) -> Result<Response<EchoReply>, Status> {
        let FailRequest { code, message } = request.into_inner();
        Err(Status::new(Code::from_i32(code), message))
    }
}

async fn serve() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(
        Server::builder()
            .add_service(EchoServer::new(Failing))
            .serve_with_incoming(TcpListenerStream::new(listener)),
    );
    addr
}

const MESSAGE: &str = "50% done ✓\nnext: a/b?c=d";

#[tokio::test]
async fn every_error_code_reaches_the_client_with_its_message() {
    let addr = serve().await;
    let client = EchoClient::connect(format!("http://{addr}")).await.unwrap();

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
    let addr = serve().await;
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
