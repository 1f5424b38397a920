//! The server's safe defaults, as a client meets them.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rust_grpc::metadata::MetadataValue;
use rust_grpc::server::DEFAULT_MAX_CONCURRENT_STREAMS;
use rust_grpc::{Request, Response, Status};
use rust_grpc_testdata::default::corpus::echo::echo_client::EchoClient;
use rust_grpc_testdata::default::corpus::echo::{EchoReply, EchoRequest, SleepRequest};
use rust_grpc_testdata::stub::{self, StubServer};
use tokio::sync::Semaphore;

#[derive(Clone)]
struct Gate {
    running: Arc<AtomicUsize>,
    release: Arc<Semaphore>,
}

impl Default for Gate {
    fn default() -> Self {
        Self {
            running: Arc::default(),
            release: Arc::new(Semaphore::new(0)),
        }
    }
}

impl Gate {
    /// Counts each `Sleep` call as it starts and holds it until released.
    async fn sleep(&self, _request: Request<SleepRequest>) -> Result<Response<EchoReply>, Status> {
        self.running.fetch_add(1, Ordering::SeqCst);
        let _permit = self
            .release
            .acquire()
            .await
            .map_err(|_| Status::aborted("closed"))?;
        Ok(Response::new(EchoReply::default()))
    }

    /// A client of a server whose `Unary` echoes and whose `Sleep` is this gate's.
    fn serve(&self) -> EchoClient {
        let gate = self.clone();
        StubServer::new()
            .unary(stub::echo)
            .sleep(move |request| {
                let gate = gate.clone();
                async move { gate.sleep(request).await }
            })
            .start()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_connection_runs_at_most_the_default_number_of_streams() {
    let gate = Gate::default();
    let client = gate.serve();
    let cap = DEFAULT_MAX_CONCURRENT_STREAMS as usize;
    let extra = 16;

    let calls: Vec<_> = (0..cap + extra)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.sleep(SleepRequest { millis: 0 }).await })
        })
        .collect();
    // Wait until the server runs as many calls as it will, then a little longer.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while gate.running.load(Ordering::SeqCst) < cap && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        gate.running.load(Ordering::SeqCst),
        cap,
        "streams running at once"
    );

    gate.release.add_permits(cap + extra);
    for call in calls {
        call.await.unwrap().unwrap();
    }
    assert_eq!(gate.running.load(Ordering::SeqCst), cap + extra);
}

#[tokio::test]
async fn oversized_metadata_is_refused_and_the_server_goes_on() {
    let client = Gate::default().serve();
    let mut request = Request::new(EchoRequest {
        message: "big".to_owned(),
        count: 0,
    });
    let big = "x".repeat(100 * 1024);
    request
        .metadata_mut()
        .insert("x-big", MetadataValue::try_from(big.as_str()).unwrap());

    assert!(
        client.unary(request).await.is_err(),
        "a 100 KiB header block went through"
    );

    let reply = client
        .unary(EchoRequest {
            message: "small".to_owned(),
            count: 0,
        })
        .await;
    assert_eq!(reply.unwrap().into_inner().message, "small");
}
