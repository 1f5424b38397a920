//! Graceful shutdown: running calls finish within the grace period, the rest end
//! with UNAVAILABLE, and the server stops.

use std::time::Duration;

use rust_grpc::{BoxStream, Code, Request, Response, Server, Shutdown, Status};
use rust_grpc_testdata::stubs::corpus::echo::echo_client::EchoClient;
use rust_grpc_testdata::stubs::corpus::echo::echo_server::{Echo, EchoServer};
use rust_grpc_testdata::stubs::corpus::echo::{EchoReply, EchoRequest, SleepRequest};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_stream::wrappers::TcpListenerStream;

/// Tells the test when a call has reached its handler.
struct Sleeper {
    started: mpsc::UnboundedSender<()>,
}

impl Echo for Sleeper {
    async fn sleep(&self, request: Request<SleepRequest>) -> Result<Response<EchoReply>, Status> {
        let _ = self.started.send(());
        let millis = u64::try_from(request.get_ref().millis).unwrap_or(0);
        tokio::time::sleep(Duration::from_millis(millis)).await;
        Ok(Response::new(EchoReply {
            message: "slept".to_owned(),
            metadata: Vec::new(),
        }))
    }

    async fn server_stream(
        &self,
        _request: Request<EchoRequest>,
    ) -> Result<Response<BoxStream<EchoReply>>, Status> {
        let _ = self.started.send(());
        let first = tokio_stream::iter([Ok(EchoReply {
            message: "first".to_owned(),
            metadata: Vec::new(),
        })]);
        let endless = tokio_stream::StreamExt::chain(first, tokio_stream::pending());
        Ok(Response::new(Box::pin(endless)))
    }
}

struct Running {
    client: EchoClient,
    shutdown: Shutdown,
    started: mpsc::UnboundedReceiver<()>,
    server: JoinHandle<Result<(), rust_grpc::ServeError>>,
    addr: String,
}

async fn serve(grace: Duration) -> Running {
    let (started, started_rx) = mpsc::unbounded_channel();
    let shutdown = Shutdown::new(grace);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(
        Server::builder()
            .add_service(EchoServer::new(Sleeper { started }))
            .serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown.signal()),
    );
    let client = EchoClient::connect(addr.clone()).await.unwrap();
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
        EchoClient::connect(running.addr).await.is_err(),
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
