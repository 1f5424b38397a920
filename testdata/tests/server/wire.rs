//! What goes on the wire, read with a bare HTTP/2 client: a call that fails
//! before any message must be one HEADERS frame that ends the stream
//! ("trailers-only"), as grpc-go and grpcio require.

use rust_grpc::metadata::MetadataValue;
use rust_grpc::{Request, Response, Shutdown, Status};
use rust_grpc_testdata::default::corpus::echo::{EchoReply, FailRequest};
use rust_grpc_testdata::stub::{self, StubServer};
use tokio::net::TcpStream;

async fn fail(_request: Request<FailRequest>) -> Result<Response<EchoReply>, Status> {
    // Like a status passed on from another call: its own metadata holds that
    // call's protocol headers next to ordinary ones.
    let mut status = Status::failed_precondition("not now");
    let metadata = status.metadata_mut();
    metadata.insert("x-reason", MetadataValue::from_static("busy"));
    metadata.insert("grpc-encoding", MetadataValue::from_static("gzip"));
    metadata.insert("grpc-accept-encoding", MetadataValue::from_static("gzip"));
    metadata.insert("connection", MetadataValue::from_static("close"));
    Err(status)
}

/// Sends one empty gRPC message to `path` and returns the response head and
/// whether the HEADERS frame ended the stream.
async fn call(addr: std::net::SocketAddr, path: &str) -> (http::response::Parts, bool) {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (client, connection) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(connection);
    let mut client = client.ready().await.unwrap();
    let request = http::Request::post(format!("http://{addr}{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(())
        .unwrap();
    let (response, mut body) = client.send_request(request, false).unwrap();
    body.send_data(bytes::Bytes::from_static(&[0, 0, 0, 0, 0]), true)
        .unwrap();
    let response = response.await.unwrap();
    let ended = response.body().is_end_stream();
    (response.into_parts().0, ended)
}

async fn serve() -> std::net::SocketAddr {
    let router = StubServer::new().fail(fail).into_router();
    let (incoming, addr) = stub::listen().await;
    // Served with a grace period, so the layer that enforces it is in the path.
    let shutdown = Shutdown::new(std::time::Duration::from_secs(1));
    tokio::spawn(router.serve_with_incoming_shutdown(incoming, shutdown.signal()));
    addr
}

#[tokio::test]
async fn an_error_status_is_a_single_headers_frame() {
    let addr = serve().await;
    let (head, ended) = call(addr, "/corpus.echo.Echo/Fail").await;
    assert_eq!(head.headers["grpc-status"], "9");
    assert!(
        ended,
        "the status came with a DATA or trailers frame after the headers"
    );
}

#[tokio::test]
async fn an_unknown_method_is_a_single_headers_frame() {
    let addr = serve().await;
    let (head, ended) = call(addr, "/corpus.echo.Echo/NoSuchMethod").await;
    assert_eq!(head.headers["grpc-status"], "12");
    assert!(ended);
}

#[tokio::test]
async fn an_error_status_sends_its_own_metadata_without_reserved_keys() {
    let addr = serve().await;
    let (head, ended) = call(addr, "/corpus.echo.Echo/Fail").await;
    assert!(ended);
    assert_eq!(head.headers["grpc-status"], "9");
    assert_eq!(head.headers["x-reason"], "busy");
    for reserved in ["grpc-encoding", "grpc-accept-encoding", "connection"] {
        assert!(
            !head.headers.contains_key(reserved),
            "{reserved} went out: {:?}",
            head.headers
        );
    }
}
