//! The HTTP/2 reset-flood guard (RUSTSEC-2024-0003) that tonic switches off and
//! our server builder keeps on: a client that makes the server reset stream
//! after stream with protocol errors is cut off with GOAWAY ENHANCE_YOUR_CALM.

use rust_grpc::server::DEFAULT_MAX_LOCAL_ERROR_RESET_STREAMS;
use rust_grpc_testdata::stub::StubServer;
use tokio::net::TcpStream;

/// Opens streams whose body is longer than their `content-length`, which the
/// server must reset; returns how the connection ended, or `None` when it was
/// still open five seconds later.
async fn flood(addr: std::net::SocketAddr, streams: usize) -> Option<Result<(), h2::Error>> {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (client, connection) = h2::client::handshake(tcp).await.unwrap();
    let connection = tokio::spawn(connection);
    let mut client = Some(client);
    let mut responses = Vec::new();
    for _ in 0..streams {
        let Some(Ok(ready)) = (match client.take() {
            Some(c) => Some(c.ready().await),
            None => None,
        }) else {
            break;
        };
        let client = client.insert(ready);
        let request = http::Request::post(format!("http://{addr}/corpus.echo.Echo/Unary"))
            .header("content-type", "application/grpc")
            .header("content-length", "1")
            .body(())
            .unwrap();
        let Ok((response, mut body)) = client.send_request(request, false) else {
            break;
        };
        let _ = body.send_data(bytes::Bytes::from_static(&[0; 10]), true);
        // Held, not dropped: dropping would make the client reset the stream.
        responses.push((response, body));
    }
    // Keep our side open: only the server may end the connection.
    let ended = tokio::time::timeout(std::time::Duration::from_secs(5), connection).await;
    drop((client, responses));
    ended.ok().map(Result::unwrap)
}

#[tokio::test]
async fn a_client_causing_too_many_resets_is_cut_off() {
    let addr = StubServer::new().serve_tcp().await;

    let ended = flood(addr, DEFAULT_MAX_LOCAL_ERROR_RESET_STREAMS + 64).await;

    let error = ended
        .expect("the server put up with the reset flood")
        .expect_err("the connection ended without an error");
    // The server sends GOAWAY ENHANCE_YOUR_CALM and closes; a client still
    // writing its flood may see the close (broken pipe) before the GOAWAY.
    assert!(
        error.reason() == Some(h2::Reason::ENHANCE_YOUR_CALM) || error.is_io(),
        "{error:?}"
    );
}

#[tokio::test]
async fn without_the_guard_the_same_flood_is_tolerated() {
    // What tonic's own default does: the limit switched off.
    let addr = StubServer::new()
        .server(|server| server.http2_max_local_error_reset_streams(None))
        .serve_tcp()
        .await;

    let ended = flood(addr, DEFAULT_MAX_LOCAL_ERROR_RESET_STREAMS + 64).await;

    assert!(ended.is_none(), "the connection ended: {ended:?}");
}
