//! Keepalive and connection age, as the server builder and endpoints expose them
//! (hyper's HTTP/2 pings and tonic's connection age). A pausable TCP proxy
//! between client and server plays the network that goes silent.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rust_grpc::{Code, Endpoint, Request, Response, Server, Status};
use rust_grpc_testdata::stubs::corpus::echo::echo_client::EchoClient;
use rust_grpc_testdata::stubs::corpus::echo::echo_server::{Echo, EchoServer};
use rust_grpc_testdata::stubs::corpus::echo::{EchoReply, EchoRequest, SleepRequest};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio_stream::wrappers::TcpListenerStream;

struct Sleeper;

impl Echo for Sleeper {
    async fn unary(&self, request: Request<EchoRequest>) -> Result<Response<EchoReply>, Status> {
        Ok(Response::new(EchoReply {
            message: request.into_inner().message,
            metadata: Vec::new(),
        }))
    }

    async fn sleep(&self, request: Request<SleepRequest>) -> Result<Response<EchoReply>, Status> {
        let millis = u64::try_from(request.get_ref().millis).unwrap_or(0);
        tokio::time::sleep(Duration::from_millis(millis)).await;
        Ok(Response::new(EchoReply::default()))
    }
}

/// Forwards one client connection to `upstream`; while `frozen`, bytes in both
/// directions are swallowed. Reports when the server side closes.
async fn proxy(
    upstream: std::net::SocketAddr,
    frozen: Arc<AtomicBool>,
) -> (String, oneshot::Receiver<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (closed_tx, closed_rx) = oneshot::channel();
    tokio::spawn(async move {
        let (client, _) = listener.accept().await.unwrap();
        let server = TcpStream::connect(upstream).await.unwrap();
        let (mut client_read, mut client_write) = client.into_split();
        let (mut server_read, mut server_write) = server.into_split();
        let up_frozen = Arc::clone(&frozen);
        tokio::spawn(async move {
            let mut buf = vec![0u8; 16 * 1024];
            while let Ok(n) = client_read.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                if !up_frozen.load(Ordering::SeqCst)
                    && server_write.write_all(&buf[..n]).await.is_err()
                {
                    break;
                }
            }
        });
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            match server_read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if !frozen.load(Ordering::SeqCst) {
                        let _ = client_write.write_all(&buf[..n]).await;
                    }
                }
            }
        }
        let _ = closed_tx.send(());
        // Keep the client side open: only the server is meant to give up.
        std::future::pending::<()>().await;
        drop(client_write);
    });
    (format!("http://{addr}"), closed_rx)
}

async fn serve(server: rust_grpc::Router) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(server.serve_with_incoming(TcpListenerStream::new(listener)));
    addr
}

#[tokio::test]
async fn server_closes_a_connection_whose_pings_go_unanswered() {
    let addr = serve(
        Server::builder()
            .http2_keepalive_interval(Some(Duration::from_millis(100)))
            .http2_keepalive_timeout(Some(Duration::from_millis(200)))
            .add_service(EchoServer::new(Sleeper)),
    )
    .await;
    let frozen = Arc::new(AtomicBool::new(false));
    let (url, closed) = proxy(addr, Arc::clone(&frozen)).await;
    let client = EchoClient::connect(url).await.unwrap();
    client.unary(EchoRequest::default()).await.unwrap();

    frozen.store(true, Ordering::SeqCst);

    tokio::time::timeout(Duration::from_secs(5), closed)
        .await
        .expect("the server kept a silent connection open")
        .unwrap();
}

#[tokio::test]
async fn client_pings_notice_a_silent_server() {
    let addr = serve(Server::builder().add_service(EchoServer::new(Sleeper))).await;
    let frozen = Arc::new(AtomicBool::new(false));
    let (url, _closed) = proxy(addr, Arc::clone(&frozen)).await;
    let channel = Endpoint::new(url)
        .unwrap()
        .http2_keep_alive_interval(Duration::from_millis(100))
        .keep_alive_timeout(Duration::from_millis(200))
        .connect()
        .await
        .unwrap();
    let client = EchoClient::new(channel);
    client.unary(EchoRequest::default()).await.unwrap();

    frozen.store(true, Ordering::SeqCst);
    let call = client.sleep(SleepRequest { millis: 60_000 });

    let status = tokio::time::timeout(Duration::from_secs(5), call)
        .await
        .expect("the call hung on a silent connection")
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
}

#[tokio::test]
async fn max_connection_age_and_grace_end_a_long_call_and_new_calls_reconnect() {
    let addr = serve(
        Server::builder()
            .max_connection_age(Duration::from_millis(300))
            .max_connection_age_grace(Duration::from_millis(300))
            .add_service(EchoServer::new(Sleeper)),
    )
    .await;
    let client = EchoClient::connect(format!("http://{addr}")).await.unwrap();

    let long = tokio::time::timeout(
        Duration::from_secs(5),
        client.sleep(SleepRequest { millis: 30_000 }),
    )
    .await
    .expect("the call outlived max_connection_age + grace");
    assert!(
        long.is_err(),
        "a 30 s call finished on a connection aged out after 0.6 s"
    );

    let reply = client
        .unary(EchoRequest {
            message: "again".to_owned(),
            count: 0,
        })
        .await
        .unwrap();
    assert_eq!(reply.into_inner().message, "again");
}
