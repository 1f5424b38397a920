//! Status codes, message limits, compression, deadlines and cancellation against a real
//! peer: a grpcio client (`interop/peers/python/checks/runtime_limits.py`)
//! calling our server.

use rust_grpc::cancel::{Cancellation, Reason};
use rust_grpc_testdata::python_peer;
use rust_grpc_testdata::stub::{self, StubServer};
use tokio::sync::mpsc;

/// `Unary` echoes, `Sleep` sleeps, `Fail` fails as asked.
fn server() -> StubServer {
    StubServer::new()
        .unary(stub::echo)
        .sleep(stub::sleep)
        .fail(stub::fail)
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
    // Default limits (4 MiB received) and no compression accepted.
    let addr = server().serve_tcp().await.to_string();
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
    // Tells `ended` how each Sleep call ended.
    let addr = server()
        .sleep(move |request| {
            if let Some(cancellation) = Cancellation::of(&request) {
                let ended = ended_tx.clone();
                tokio::spawn(async move {
                    let _ = ended.send(cancellation.ended().await);
                });
            }
            stub::sleep(request)
        })
        .serve_tcp()
        .await
        .to_string();

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
