//! Status codes, message limits, compression, deadlines and cancellation against a real
//! peer: a grpcio client (`interop/peers/python/checks/runtime_limits.py`)
//! calling our server.

use std::time::Duration;

use rust_grpc::cancel::{Cancellation, Reason};
use rust_grpc::{Code, Request, Response, Server, Status};
use rust_grpc_testdata::python_peer;
use rust_grpc_testdata::stubs::corpus::echo::echo_server::{Echo, EchoServer};
use rust_grpc_testdata::stubs::corpus::echo::{EchoReply, EchoRequest, FailRequest, SleepRequest};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_stream::wrappers::TcpListenerStream;

#[derive(Default)]
struct Server17 {
    /// Told how each `Sleep` call ended.
    ended: Option<mpsc::UnboundedSender<Option<Reason>>>,
}

impl Echo for Server17 {
    async fn unary(&self, request: Request<EchoRequest>) -> Result<Response<EchoReply>, Status> {
        Ok(Response::new(EchoReply {
            message: request.into_inner().message,
            metadata: Vec::new(),
        }))
    }

    async fn sleep(&self, request: Request<SleepRequest>) -> Result<Response<EchoReply>, Status> {
        if let (Some(ended), Some(cancellation)) = (self.ended.clone(), Cancellation::of(&request))
        {
            tokio::spawn(async move {
                let _ = ended.send(cancellation.ended().await);
            });
        }
        let millis = u64::try_from(request.get_ref().millis).unwrap_or(0);
        tokio::time::sleep(Duration::from_millis(millis)).await;
        Ok(Response::new(EchoReply::default()))
    }

    async fn fail(&self, request: Request<FailRequest>) -> Result<Response<EchoReply>, Status> {
        let FailRequest { code, message } = request.into_inner();
        Err(Status::new(Code::from_i32(code), message))
    }
}

/// grpcio's names of codes 1 to 16.
const NAMES: [&str; 16] = [
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
];

#[tokio::test]
async fn a_grpcio_client_sees_every_code_and_our_limits() {
    let Some(peer) = python_peer::peer() else {
        return;
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    // Default limits (4 MiB received) and no compression accepted.
    tokio::spawn(
        Server::builder()
            .add_service(EchoServer::new(Server17::default()))
            .serve_with_incoming(TcpListenerStream::new(listener)),
    );
    // Percent-encoding on the wire must survive '%', non-ASCII and a newline.
    let message = "50% done ✓\nnext: a/b?c=d";

    let lines = peer
        .run(peer.command("runtime_limits.py", &["client", &addr, message]))
        .await;

    let mut expected: Vec<String> = NAMES
        .iter()
        .enumerate()
        .map(|(index, name)| format!("status {} {name} {message}", index + 1))
        .collect();
    expected.extend([
        "big RESOURCE_EXHAUSTED".to_owned(),
        "gzip UNIMPLEMENTED".to_owned(),
        "deadline DEADLINE_EXCEEDED".to_owned(),
    ]);
    // The message holds a newline, so each status takes two lines.
    let joined = lines.join("\n");
    assert_eq!(joined, expected.join("\n"));
}

#[tokio::test]
async fn a_grpcio_client_cancelling_stops_our_handler() {
    let Some(peer) = python_peer::peer() else {
        return;
    };
    let (ended_tx, mut ended) = mpsc::unbounded_channel();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(
        Server::builder()
            .add_service(EchoServer::new(Server17 {
                ended: Some(ended_tx),
            }))
            .serve_with_incoming(TcpListenerStream::new(listener)),
    );

    let lines = peer
        .run(peer.command("runtime_limits.py", &["cancel", &addr]))
        .await;
    let reason = tokio::time::timeout(python_peer::STEP, ended.recv())
        .await
        .expect("the handler was not stopped")
        .unwrap();

    assert_eq!(lines, ["cancelled True"]);
    assert_eq!(reason, Some(Reason::ClientCancelled));
}
