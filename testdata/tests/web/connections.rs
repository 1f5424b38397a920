//! HTTP/1.1 connections live as the server says: an idle keep-alive connection
//! (a browser's) does not hold up a graceful shutdown; without gRPC-Web there is
//! no HTTP/1.1 at all.

use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use rust_grpc::Shutdown;
use rust_grpc::server::GrpcWeb;
use rust_grpc_testdata::stub;
use tokio::net::TcpStream;

use crate::{WebBody, frame, stub_server};

#[tokio::test]
async fn an_idle_http1_connection_does_not_hold_up_shutdown() {
    let router = stub_server()
        .server(|server| server.accept_grpc_web(GrpcWeb::default()))
        .into_router();
    let (incoming, addr) = stub::listen().await;
    let shutdown = Shutdown::new(Duration::from_secs(30));
    let server = tokio::spawn(router.serve_with_incoming_shutdown(incoming, shutdown.signal()));

    let io = TokioIo::new(TcpStream::connect(addr).await.unwrap());
    let (mut send, connection) = hyper::client::conn::http1::handshake(io).await.unwrap();
    let connection = tokio::spawn(connection);
    let request = http::Request::post(format!("http://{addr}/corpus.echo.Echo/Unary"))
        .header("host", addr.to_string())
        .header("content-type", "application/grpc-web")
        .body(Full::new(frame(&stub::request("kept alive", 0))))
        .unwrap();
    let response = send.send_request(request).await.unwrap();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(
        WebBody::parse(body).messages,
        vec![stub::reply("kept alive")]
    );

    // The connection stays open, idle; the server stops all the same, and
    // closes it.
    shutdown.trigger();
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("the server stopped")
        .unwrap()
        .unwrap();
    tokio::time::timeout(Duration::from_secs(5), connection)
        .await
        .expect("the connection was closed")
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn without_grpc_web_http1_is_not_served() {
    let addr = stub_server().serve_tcp().await;
    let io = TokioIo::new(TcpStream::connect(addr).await.unwrap());
    let (mut send, connection) = hyper::client::conn::http1::handshake(io).await.unwrap();
    tokio::spawn(connection);
    let request = http::Request::post(format!("http://{addr}/corpus.echo.Echo/Unary"))
        .header("host", addr.to_string())
        .header("content-type", "application/grpc-web")
        .body(Full::new(frame(&stub::request("refused", 0))))
        .unwrap();
    let answer = tokio::time::timeout(Duration::from_secs(5), send.send_request(request))
        .await
        .expect("the server answered or closed");
    assert!(answer.is_err(), "{answer:?}");
}
