//! Graceful shutdown: running calls finish within the grace period, the rest end
//! with UNAVAILABLE, and the server stops.

use std::net::SocketAddr;
use std::time::Duration;

use rust_grpc::{BoxStream, Code, Response, Shutdown};
use rust_grpc_testdata::default::corpus::echo::echo_client::EchoClient;
use rust_grpc_testdata::default::corpus::echo::{EchoReply, EchoRequest, SleepRequest};
use rust_grpc_testdata::stub::{self, StubServer, reply};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

struct Running {
    client: EchoClient,
    shutdown: Shutdown,
    started: mpsc::UnboundedReceiver<()>,
    server: JoinHandle<Result<(), rust_grpc::ServeError>>,
    addr: SocketAddr,
}

/// Serves over TCP until `shutdown` is triggered: `Sleep` sleeps and
/// `ServerStream` sends one message and never ends, each telling `started`
/// when it is called.
async fn serve(grace: Duration) -> Running {
    let (started, started_rx) = mpsc::unbounded_channel();
    let stream_started = started.clone();
    let router = StubServer::new()
        .sleep(move |request| {
            let _ = started.send(());
            stub::sleep(request)
        })
        .server_stream(move |_| {
            let _ = stream_started.send(());
            let first = tokio_stream::iter([Ok(reply("first"))]);
            let endless: BoxStream<EchoReply> = Box::pin(tokio_stream::StreamExt::chain(
                first,
                tokio_stream::pending(),
            ));
            std::future::ready(Ok(Response::new(endless)))
        })
        .into_router();
    let shutdown = Shutdown::new(grace);
    let (incoming, addr) = stub::listen().await;
    let server = tokio::spawn(router.serve_with_incoming_shutdown(incoming, shutdown.signal()));
    let client = stub::connect(addr).await;
    Running {
        client,
        shutdown,
        started: started_rx,
        server,
        addr,
    }
}

async fn within<T>(seconds: u64, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(seconds), future)
        .await
        .expect("took too long")
}

#[tokio::test]
async fn a_call_that_ends_within_the_grace_period_succeeds() {
    let mut running = serve(Duration::from_secs(5)).await;
    let client = running.client.clone();
    let call = tokio::spawn(async move { client.sleep(SleepRequest { millis: 300 }).await });
    running.started.recv().await.unwrap();

    running.shutdown.trigger();

    assert_eq!(
        within(5, call).await.unwrap().unwrap().into_inner().message,
        "slept"
    );
    within(5, running.server).await.unwrap().unwrap();
    assert!(
        EchoClient::connect(stub::url(running.addr)).await.is_err(),
        "still accepting after shutdown"
    );
}

#[tokio::test]
async fn a_call_still_running_after_the_grace_period_gets_unavailable() {
    let mut running = serve(Duration::from_millis(200)).await;
    let client = running.client.clone();
    let call = tokio::spawn(async move { client.sleep(SleepRequest { millis: 60_000 }).await });
    running.started.recv().await.unwrap();

    running.shutdown.trigger();

    let status = within(5, call).await.unwrap().unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert_eq!(status.message(), "the server is shutting down");
    within(5, running.server).await.unwrap().unwrap();
}

#[tokio::test]
async fn an_endless_stream_ends_with_unavailable_after_the_grace_period() {
    let mut running = serve(Duration::from_millis(200)).await;
    let mut stream = running
        .client
        .server_stream(EchoRequest {
            message: String::new(),
            count: 0,
        })
        .await
        .unwrap()
        .into_inner();
    running.started.recv().await.unwrap();
    assert_eq!(stream.message().await.unwrap().unwrap().message, "first");

    running.shutdown.trigger();

    let status = within(5, stream.message()).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    within(5, running.server).await.unwrap().unwrap();
}
