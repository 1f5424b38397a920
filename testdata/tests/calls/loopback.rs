//! Loopback behaviour tests: the generated `corpus.echo` client calls the
//! generated server through the in-process channel, one behaviour per test.

use std::time::{Duration, Instant};

use rust_grpc::metadata::{KeyAndValueRef, MetadataMap, MetadataValue};
use rust_grpc::{BoxStream, Code, Request, Response, ResponseExt as _, Server, Status, Streaming};
use rust_grpc_testdata::default::corpus::echo::{
    EchoReply, EchoRequest, FailRequest, SleepRequest,
};
use rust_grpc_testdata::stub::{self, StubServer, reply, request};
use rust_grpc_testdata::stubs::corpus::echo as stubs;
use tokio::sync::mpsc;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;

/// How long any single step may take before a test gives up instead of hanging.
const PATIENCE: Duration = Duration::from_secs(10);

/// A server-streaming request with this message ends its stream with
/// [`trailing_status`] instead of OK.
const END_WITH_STATUS: &str = "end with status";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The `x-` request metadata a handler saw, as `key=value` (binary values in hex).
fn seen_metadata(metadata: &MetadataMap) -> Vec<String> {
    let mut seen: Vec<String> = metadata
        .iter()
        .map(|entry| match entry {
            KeyAndValueRef::Ascii(key, value) => (
                key.as_str().to_owned(),
                value.to_str().unwrap_or("<not visible ascii>").to_owned(),
            ),
            KeyAndValueRef::Binary(key, value) => (
                key.as_str().to_owned(),
                value
                    .to_bytes()
                    .map_or_else(|_| "<bad base64>".to_owned(), |bytes| hex(&bytes)),
            ),
        })
        .filter(|(key, _)| key.starts_with("x-"))
        .map(|(key, value)| format!("{key}={value}"))
        .collect();
    seen.sort();
    seen
}

/// The status a server stream asked to [`END_WITH_STATUS`] ends with.
fn trailing_status() -> Status {
    let mut trailers = MetadataMap::new();
    trailers.insert("x-trailer", MetadataValue::from_static("goodbye"));
    trailers.insert_bin("x-trailer-bin", MetadataValue::from_bytes(&[0xde, 0xad]));
    Status::with_metadata(Code::Aborted, "stream ended early", trailers)
}

/// A server-streaming request with this message ends OK with trailing metadata.
const END_WITH_TRAILERS: &str = "end with trailers";

/// Sends on its channel when dropped, saying whether the handler finished.
struct DropGuard {
    finished: bool,
    events: mpsc::UnboundedSender<Finished>,
}

/// Whether a `Sleep` handler ran to completion or was dropped part-way.
#[derive(Debug, PartialEq, Eq)]
struct Finished(bool);

impl Drop for DropGuard {
    fn drop(&mut self) {
        let _ = self.events.send(Finished(self.finished));
    }
}

/// Echoes the message and the `x-` metadata it saw, with response metadata
/// and a trailer of its own.
async fn unary(request: Request<EchoRequest>) -> Result<Response<EchoReply>, Status> {
    let seen = seen_metadata(request.metadata());
    let mut response = Response::new(EchoReply {
        message: request.get_ref().message.clone(),
        metadata: seen,
    });
    let metadata = response.metadata_mut();
    metadata.insert("x-served-by", MetadataValue::from_static("loopback"));
    if let Some(trace) = request.metadata().get_bin("x-trace-bin") {
        metadata.insert_bin("x-echo-bin", trace.clone());
    }
    response
        .trailers_mut()
        .insert("x-unary-trailer", MetadataValue::from_static("done"));
    Ok(response)
}

/// `count` replies, then what the message asks for.
async fn server_stream(
    request: Request<EchoRequest>,
) -> Result<Response<BoxStream<EchoReply>>, Status> {
    let EchoRequest { message, count } = request.into_inner();
    let mut replies: Vec<Result<EchoReply, Status>> = (0..count)
        .map(|i| Ok(reply(format!("{message} {i}"))))
        .collect();
    if message == END_WITH_STATUS {
        replies.push(Err(trailing_status()));
    }
    let mut response: Response<BoxStream<EchoReply>> =
        Response::new(Box::pin(tokio_stream::iter(replies)));
    if message == END_WITH_TRAILERS {
        response
            .trailers_mut()
            .insert_bin("x-ok-trailer-bin", MetadataValue::from_bytes(&[0xbe, 0xef]));
    }
    Ok(response)
}

/// The messages received, joined with commas.
async fn client_stream(
    request: Request<Streaming<EchoRequest>>,
) -> Result<Response<EchoReply>, Status> {
    let mut incoming = request.into_inner();
    let mut seen = Vec::new();
    while let Some(request) = incoming.message().await? {
        seen.push(request.message);
    }
    Ok(Response::new(reply(seen.join(","))))
}

/// One reply per request, as it comes.
async fn bidi(
    request: Request<Streaming<EchoRequest>>,
) -> Result<Response<BoxStream<EchoReply>>, Status> {
    let replies = request
        .into_inner()
        .map(|request| request.map(|request| reply(format!("echo: {}", request.message))));
    Ok(Response::new(Box::pin(replies)))
}

/// The loopback server: every method as `corpus/echo.proto` describes it.
fn echo() -> StubServer {
    StubServer::new()
        .unary(unary)
        .server_stream(server_stream)
        .client_stream(client_stream)
        .bidi(bidi)
        .sleep(stub::sleep)
        .fail(stub::fail)
}

#[tokio::test]
async fn unary_call_round_trips() {
    let client = echo().start();

    let response = client.unary(request("hello, loopback", 0)).await.unwrap();

    assert_eq!(response.get_ref().message, "hello, loopback");
    assert!(response.get_ref().metadata.is_empty());
}

#[tokio::test]
async fn server_streaming_yields_every_message() {
    const N: i32 = 25;
    let client = echo().start();

    let mut stream = client
        .server_stream(request("item", N))
        .await
        .unwrap()
        .into_inner();
    let mut received = Vec::new();
    while let Some(reply) = stream.message().await.unwrap() {
        received.push(reply.message);
    }

    let expected: Vec<String> = (0..N).map(|i| format!("item {i}")).collect();
    assert_eq!(received, expected);
}

#[tokio::test]
async fn client_streaming_sees_every_message() {
    let client = echo().start();
    let sent: Vec<String> = (0..20).map(|i| format!("m{i}")).collect();

    let requests = sent
        .iter()
        .map(|message| request(message, 0))
        .collect::<Vec<_>>();
    let response = client
        .client_stream(tokio_stream::iter(requests))
        .await
        .unwrap();

    assert_eq!(response.get_ref().message, sent.join(","));
}

#[tokio::test]
async fn bidi_streaming_echoes_each_message_in_order() {
    let client = echo().start();
    let (tx, rx) = mpsc::channel(1);

    let exchange = async move {
        let mut replies = client
            .bidi(ReceiverStream::new(rx))
            .await
            .unwrap()
            .into_inner();
        // Send one message at a time and wait for its echo before sending the next:
        // the server must answer while the request stream is still open.
        for i in 0..10 {
            tx.send(request(&format!("ping {i}"), 0)).await.unwrap();
            let echoed = replies
                .message()
                .await
                .unwrap()
                .expect("a reply per request");
            assert_eq!(echoed.message, format!("echo: ping {i}"));
        }
        drop(tx);
        assert_eq!(
            replies.message().await.unwrap(),
            None,
            "no reply after the last request"
        );
    };
    tokio::time::timeout(PATIENCE, exchange)
        .await
        .expect("the bidi exchange stalled");
}

#[tokio::test]
async fn error_status_carries_code_and_message() {
    let client = echo().start();
    let cases = [
        (Code::InvalidArgument, "bad argument"),
        (Code::NotFound, "no such thing"),
        (Code::PermissionDenied, ""),
        (Code::FailedPrecondition, "50% done: a/b?c=d&e"),
        (Code::Internal, "line one\nline two"),
        (Code::Unauthenticated, "naïve ✓"),
    ];

    for (code, message) in cases {
        let status = client
            .fail(FailRequest {
                code: code as i32,
                message: message.to_owned(),
            })
            .await
            .expect_err("Fail always fails");

        assert_eq!(status.code(), code, "code for {message:?}");
        assert_eq!(status.message(), message, "message for {code:?}");
    }
}

#[tokio::test]
async fn metadata_travels_both_ways() {
    let client = echo().start();
    let trace = [0x00, 0x01, 0xfe, 0xff];
    let mut call = Request::new(request("with metadata", 0));
    call.metadata_mut()
        .insert("x-token", MetadataValue::from_static("secret-42"));
    call.metadata_mut()
        .insert_bin("x-trace-bin", MetadataValue::from_bytes(&trace));

    let response = client.unary(call).await.unwrap();

    // The handler saw both request keys, the binary one decoded to its bytes.
    assert_eq!(
        response.get_ref().metadata,
        ["x-token=secret-42", "x-trace-bin=0001feff"]
    );
    // The client sees the handler's response (initial) metadata.
    let headers = response.metadata();
    assert_eq!(headers.get("x-served-by").unwrap(), "loopback");
    assert_eq!(
        headers
            .get_bin("x-echo-bin")
            .unwrap()
            .to_bytes()
            .unwrap()
            .as_ref(),
        trace
    );
}

#[tokio::test]
async fn trailing_metadata_on_an_ok_unary_call_reaches_client() {
    let client = echo().start();

    let response = client.unary(request("trailers", 0)).await.unwrap();

    // A unary response's metadata holds the headers and then the trailers.
    assert_eq!(response.metadata().get("x-unary-trailer").unwrap(), "done");
}

#[tokio::test]
async fn trailing_metadata_on_an_ok_stream_reaches_client() {
    let client = echo().start();

    let mut stream = client
        .server_stream(request(END_WITH_TRAILERS, 3))
        .await
        .unwrap()
        .into_inner();
    let mut count = 0;
    while stream.message().await.unwrap().is_some() {
        count += 1;
    }
    let trailers = stream
        .trailers()
        .await
        .unwrap()
        .expect("trailers after the stream");

    assert_eq!(count, 3);
    let value = trailers
        .get_bin("x-ok-trailer-bin")
        .expect("the handler's trailer");
    assert_eq!(value.to_bytes().unwrap().as_ref(), [0xbe, 0xef]);
    assert!(trailers.get("x-unary-trailer").is_none());
}

// A failed call carries its trailers in its `Status` (`Status::with_metadata`).
#[tokio::test]
async fn trailing_metadata_reaches_client_with_stream_status() {
    let client = echo().start();

    let mut stream = client
        .server_stream(request(END_WITH_STATUS, 2))
        .await
        .unwrap()
        .into_inner();
    let mut received = Vec::new();
    let status = loop {
        match stream.message().await {
            Ok(Some(reply)) => received.push(reply.message),
            Ok(None) => panic!("the stream ended with OK; expected its trailing status"),
            Err(status) => break status,
        }
    };

    assert_eq!(
        received,
        [
            format!("{END_WITH_STATUS} 0"),
            format!("{END_WITH_STATUS} 1")
        ]
    );
    assert_eq!(status.code(), Code::Aborted);
    assert_eq!(status.message(), "stream ended early");
    let trailers = status.metadata();
    assert_eq!(trailers.get("x-trailer").unwrap(), "goodbye");
    assert_eq!(
        trailers
            .get_bin("x-trailer-bin")
            .unwrap()
            .to_bytes()
            .unwrap()
            .as_ref(),
        [0xde, 0xad]
    );
}

// The gRPC spec says DEADLINE_EXCEEDED (tonic alone would say CANCELLED).
#[tokio::test]
async fn deadline_exceeded_when_server_is_slower_than_timeout() {
    let client = echo().start();
    let mut call = Request::new(SleepRequest { millis: 2_000 });
    call.set_timeout(Duration::from_millis(100));

    let started = Instant::now();
    let status = client
        .sleep(call)
        .await
        .expect_err("the deadline passes first");
    let elapsed = started.elapsed();

    assert_eq!(status.code(), Code::DeadlineExceeded, "got {status:?}");
    assert!(elapsed < Duration::from_millis(1_500), "took {elapsed:?}");
}

#[tokio::test]
async fn cancelled_call_is_seen_by_server() {
    let (started_tx, mut started) = mpsc::unbounded_channel();
    let (ended_tx, mut ended) = mpsc::unbounded_channel();
    let client = echo()
        .sleep(move |request| {
            let started = started_tx.clone();
            let events = ended_tx.clone();
            async move {
                // Dropped with the handler, finished or not.
                let mut guard = DropGuard {
                    finished: false,
                    events,
                };
                let _ = started.send(());
                let slept = stub::sleep(request).await;
                guard.finished = true;
                slept
            }
        })
        .start();

    // No grpc-timeout: the only way the handler can stop early is the client
    // giving up on the call.
    let call = tokio::spawn(async move { client.sleep(SleepRequest { millis: 60_000 }).await });
    tokio::time::timeout(PATIENCE, started.recv())
        .await
        .expect("the Sleep handler never started")
        .expect("the server is gone");
    call.abort();
    assert!(call.await.unwrap_err().is_cancelled());

    let outcome = tokio::time::timeout(Duration::from_secs(5), ended.recv())
        .await
        .expect("the server did not drop the cancelled handler within 5 s")
        .expect("the server is gone");
    assert_eq!(outcome, Finished(false), "the handler ran to completion");
}

/// A `Partial` server that implements only `known`; the rest are the
/// generated default stubs.
struct KnownOnly;

impl stubs::partial_server::Partial for KnownOnly {
    async fn known(
        &self,
        request: Request<stubs::EchoRequest>,
    ) -> Result<Response<stubs::EchoReply>, Status> {
        Ok(Response::new(stubs::EchoReply {
            message: format!("known: {}", request.get_ref().message),
            metadata: Vec::new(),
        }))
    }
}

#[tokio::test]
async fn default_stub_answers_unimplemented() {
    let channel = rust_grpc::in_process::channel(
        Server::builder().add_service(stubs::partial_server::PartialServer::new(KnownOnly)),
    );
    let client = stubs::partial_client::PartialClient::new(channel);
    let hi = || stubs::EchoRequest {
        message: "hi".to_owned(),
        count: 0,
    };

    let known = client.known(hi()).await.unwrap();
    assert_eq!(known.get_ref().message, "known: hi");

    let missing = client.missing(hi()).await.unwrap_err();
    assert_eq!(missing.code(), Code::Unimplemented, "got {missing:?}");

    let missing_stream = client
        .missing_stream(tokio_stream::iter(vec![hi()]))
        .await
        .unwrap_err();
    assert_eq!(
        missing_stream.code(),
        Code::Unimplemented,
        "got {missing_stream:?}"
    );
}

#[tokio::test]
async fn unknown_service_answers_unimplemented() {
    use rust_grpc_testdata::default::corpus::echo::partial_client::PartialClient;

    // The server serves only corpus.echo.Echo.
    let client = PartialClient::new(echo().channel());

    let status = client.known(request("hi", 0)).await.unwrap_err();

    assert_eq!(status.code(), Code::Unimplemented, "got {status:?}");
}

#[tokio::test]
async fn unknown_method_answers_unimplemented() {
    // A method of the served service that the server does not have, which only
    // a hand-made call can ask for.
    let client = rust_grpc::codegen::Client::new(echo().channel());

    let status = client
        .unary::<EchoRequest, EchoReply>(
            Request::new(request("hi", 0)),
            "/corpus.echo.Echo/NoSuchMethod",
        )
        .await
        .unwrap_err();

    assert_eq!(status.code(), Code::Unimplemented, "got {status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_is_clone_and_shared_across_tasks() {
    let client = echo().start();

    let calls: Vec<_> = (0..16)
        .map(|i| {
            let client = client.clone();
            tokio::spawn(async move { client.unary(request(&format!("call {i}"), 0)).await })
        })
        .collect();

    for (i, call) in calls.into_iter().enumerate() {
        let response = call
            .await
            .expect("the task panicked")
            .expect("the call failed");
        assert_eq!(response.get_ref().message, format!("call {i}"));
    }
    // The original is still usable after its clones were moved into tasks.
    let last = client.unary(request("original", 0)).await.unwrap();
    assert_eq!(last.get_ref().message, "original");
}
