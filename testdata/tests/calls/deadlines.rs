//! Deadlines and cancellation on the server (`rust_grpc::deadline`,
//! `rust_grpc::cancel`, the server-wide `Server::timeout`): what the client
//! sees, what goes on the wire and what the handler sees. A bare HTTP/2 client
//! over TCP reads the wire; the rest go through the in-process channel.

use std::net::SocketAddr;
use std::time::Duration;

use rust_grpc::cancel::{Cancellation, Reason};
use rust_grpc::deadline::Deadline;
use rust_grpc::{BoxStream, Code, Request, Response, Status};
use rust_grpc_testdata::default::corpus::echo::{EchoReply, EchoRequest, SleepRequest};
use rust_grpc_testdata::stub::{self, StubServer, reply};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// How long any single step may take before a test gives up instead of hanging.
const PATIENCE: Duration = Duration::from_secs(10);

/// Answers with the milliseconds left before the call's deadline, or "none".
async fn time_left(request: Request<EchoRequest>) -> Result<Response<EchoReply>, Status> {
    let left = Deadline::of(&request).map_or_else(
        || "none".to_owned(),
        |deadline| deadline.remaining().as_millis().to_string(),
    );
    Ok(Response::new(reply(left)))
}

/// One message, then nothing: the stream never ends.
async fn endless(_request: Request<EchoRequest>) -> Result<Response<BoxStream<EchoReply>>, Status> {
    let first = tokio_stream::iter([Ok(reply("first"))]);
    Ok(Response::new(Box::pin(tokio_stream::StreamExt::chain(
        first,
        tokio_stream::pending(),
    ))))
}

/// Tells `ended` how the call of `request` ended, once it has.
fn report_end<T>(request: &Request<T>, ended: &mpsc::UnboundedSender<Option<Reason>>) {
    if let Some(cancellation) = Cancellation::of(request) {
        let ended = ended.clone();
        tokio::spawn(async move {
            let _ = ended.send(cancellation.ended().await);
        });
    }
}

/// `Unary` answers with the time left, `Sleep` sleeps, `ServerStream` never ends.
fn deadlines() -> StubServer {
    StubServer::new()
        .unary(time_left)
        .sleep(stub::sleep)
        .server_stream(endless)
}

/// [`deadlines`], telling `ended` how each `Sleep` and `ServerStream` call ended.
fn reporting(ended: mpsc::UnboundedSender<Option<Reason>>) -> StubServer {
    let stream_ended = ended.clone();
    deadlines()
        .sleep(move |request| {
            report_end(&request, &ended);
            stub::sleep(request)
        })
        .server_stream(move |request| {
            report_end(&request, &stream_ended);
            endless(request)
        })
}

/// A `SleepRequest` of 2 s, framed.
const SLEEP_2S: &[u8] = &[0, 0, 0, 0, 3, 0x08, 0xd0, 0x0f];

/// What a bare HTTP/2 client sees of one call: the response headers and, unless
/// the headers ended the call, the trailers.
async fn raw_call(
    addr: SocketAddr,
    path: &str,
    timeout: &str,
    message: &'static [u8],
) -> (http::HeaderMap, Option<http::HeaderMap>) {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (client, connection) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(connection);
    let mut client = client.ready().await.unwrap();
    let request = http::Request::post(format!("http://{addr}{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .header("grpc-timeout", timeout)
        .body(())
        .unwrap();
    let (response, mut body) = client.send_request(request, false).unwrap();
    body.send_data(bytes::Bytes::from_static(message), true)
        .unwrap();
    let exchange = async {
        let response = response.await.unwrap();
        let (head, mut body) = response.into_parts();
        if body.is_end_stream() {
            return (head.headers, None);
        }
        while let Some(data) = body.data().await {
            data.unwrap();
        }
        (head.headers, body.trailers().await.unwrap())
    };
    tokio::time::timeout(PATIENCE, exchange)
        .await
        .expect("the server never ended the call")
}

fn status_of(headers: &http::HeaderMap, trailers: Option<&http::HeaderMap>) -> String {
    trailers
        .and_then(|trailers| trailers.get("grpc-status"))
        .or_else(|| headers.get("grpc-status"))
        .expect("a grpc-status")
        .to_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_slow_handler_is_answered_deadline_exceeded_on_the_wire() {
    // The spec and grpc-go say 4 (tonic's server timer answered CANCELLED).
    let addr = deadlines().serve_tcp().await;
    for _ in 0..5 {
        let (headers, trailers) = raw_call(addr, "/corpus.echo.Echo/Sleep", "100m", SLEEP_2S).await;
        assert_eq!(status_of(&headers, trailers.as_ref()), "4", "{headers:?}");
    }
}

#[tokio::test]
async fn a_stream_past_its_deadline_ends_with_deadline_exceeded_on_the_wire() {
    let addr = deadlines().serve_tcp().await;
    let empty_request: &[u8] = &[0, 0, 0, 0, 0];

    let (headers, trailers) = raw_call(
        addr,
        "/corpus.echo.Echo/ServerStream",
        "200m",
        empty_request,
    )
    .await;

    assert_eq!(
        headers.get("grpc-status"),
        None,
        "answered before the stream"
    );
    assert_eq!(status_of(&headers, trailers.as_ref()), "4");
}

#[tokio::test]
async fn a_malformed_grpc_timeout_is_answered_internal() {
    let addr = deadlines().serve_tcp().await;

    for timeout in ["1.5S", "10", "123456789S", "5x"] {
        let (headers, trailers) =
            raw_call(addr, "/corpus.echo.Echo/Sleep", timeout, SLEEP_2S).await;

        assert_eq!(status_of(&headers, trailers.as_ref()), "13", "{timeout}");
        let message = headers["grpc-message"].to_str().unwrap();
        assert!(message.contains("grpc-timeout"), "{message}");
    }
}

#[tokio::test]
async fn a_handler_reads_its_remaining_deadline() {
    let client = deadlines().start();
    let mut call = Request::new(EchoRequest::default());
    call.set_timeout(Duration::from_secs(5));

    let with = client.unary(call).await.unwrap().into_inner().message;
    let without = client.unary(EchoRequest::default()).await.unwrap();

    let left: u64 = with.parse().unwrap();
    assert!((4_000..=5_000).contains(&left), "{left} ms left");
    assert_eq!(without.get_ref().message, "none");
}

#[tokio::test]
async fn propagate_carries_the_deadline_to_outgoing_calls() {
    let backend = deadlines().start();
    // Passes each Unary call on to the backend, with its deadline.
    let front = deadlines()
        .unary(move |request| {
            let backend = backend.clone();
            async move {
                let outgoing = Deadline::propagate(&request, request.get_ref().clone());
                backend.unary(outgoing).await
            }
        })
        .start();
    let mut call = Request::new(EchoRequest::default());
    call.set_timeout(Duration::from_secs(3));

    let seen_by_backend = front.unary(call).await.unwrap().into_inner().message;
    let without = front.unary(EchoRequest::default()).await.unwrap();

    let left: u64 = seen_by_backend.parse().unwrap();
    assert!((2_000..3_000).contains(&left), "{left} ms left");
    assert_eq!(without.get_ref().message, "none");
}

#[tokio::test]
async fn a_handler_stopped_at_its_deadline_sees_deadline_exceeded() {
    let (ended_tx, mut ended) = mpsc::unbounded_channel();
    let addr = reporting(ended_tx).serve_tcp().await;

    // A bare client, which (unlike ours) does not reset the call at its own
    // deadline: the server's timer ends it.
    let (headers, trailers) = raw_call(addr, "/corpus.echo.Echo/Sleep", "200m", SLEEP_2S).await;
    let reason = tokio::time::timeout(PATIENCE, ended.recv())
        .await
        .expect("the handler was not stopped")
        .unwrap();

    assert_eq!(status_of(&headers, trailers.as_ref()), "4");
    assert_eq!(reason, Some(Reason::DeadlineExceeded));
}

#[tokio::test]
async fn a_handler_whose_client_gave_up_sees_client_cancelled() {
    let (ended_tx, mut ended) = mpsc::unbounded_channel();
    let (started_tx, mut started) = mpsc::unbounded_channel();
    let client = deadlines()
        .sleep(move |request| {
            report_end(&request, &ended_tx);
            let _ = started_tx.send(());
            stub::sleep(request)
        })
        .start();

    let call = tokio::spawn(async move { client.sleep(SleepRequest { millis: 60_000 }).await });
    tokio::time::timeout(PATIENCE, started.recv())
        .await
        .expect("the handler never started");
    call.abort();
    let reason = tokio::time::timeout(PATIENCE, ended.recv())
        .await
        .expect("the handler was not stopped")
        .unwrap();

    assert_eq!(reason, Some(Reason::ClientCancelled));
}

#[tokio::test]
async fn a_handler_that_answers_is_not_cancelled() {
    let (ended_tx, mut ended) = mpsc::unbounded_channel();
    let client = reporting(ended_tx).start();

    client.sleep(SleepRequest { millis: 1 }).await.unwrap();
    let reason = tokio::time::timeout(PATIENCE, ended.recv()).await.unwrap();

    assert_eq!(reason, Some(None));
}

#[tokio::test]
async fn a_stream_whose_client_dropped_it_sees_client_cancelled() {
    let (ended_tx, mut ended) = mpsc::unbounded_channel();
    let client = reporting(ended_tx).start();

    let mut stream = client
        .server_stream(EchoRequest::default())
        .await
        .unwrap()
        .into_inner();
    let first = stream.message().await.unwrap().unwrap();
    drop(stream);
    let reason = tokio::time::timeout(PATIENCE, ended.recv())
        .await
        .expect("the handler's stream was not dropped")
        .unwrap();

    assert_eq!(first.message, "first");
    assert_eq!(reason, Some(Reason::ClientCancelled));
}

#[tokio::test]
async fn a_server_wide_timeout_answers_deadline_exceeded() {
    let client = deadlines()
        .server(|server| server.timeout(Duration::from_millis(100)))
        .start();
    let started = Instant::now();

    // No deadline of the call's own: only the server's timeout can end it.
    let call = client.sleep(SleepRequest { millis: 2_000 });
    let status = tokio::time::timeout(PATIENCE, call)
        .await
        .expect("the server's timeout never ended the call")
        .unwrap_err();

    let took = started.elapsed();
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    assert!(took < Duration::from_secs(1), "ended after {took:?}");
}

#[tokio::test]
async fn a_call_deadline_sooner_than_the_server_timeout_still_applies() {
    let addr = deadlines()
        .server(|server| server.timeout(Duration::from_secs(5)))
        .serve_tcp()
        .await;
    let started = Instant::now();

    // A bare client: the server's timer, not the client's, ends the call.
    let (headers, trailers) = raw_call(addr, "/corpus.echo.Echo/Sleep", "100m", SLEEP_2S).await;

    let took = started.elapsed();
    assert_eq!(status_of(&headers, trailers.as_ref()), "4", "{headers:?}");
    assert!(took < Duration::from_secs(1), "ended after {took:?}");
}

#[tokio::test]
async fn a_handler_sees_the_sooner_of_its_deadline_and_the_server_timeout() {
    let client = deadlines()
        .server(|server| server.timeout(Duration::from_secs(2)))
        .start();
    let left = |timeout: Option<Duration>| {
        let client = client.clone();
        async move {
            let mut call = Request::new(EchoRequest::default());
            if let Some(timeout) = timeout {
                call.set_timeout(timeout);
            }
            let reply = client.unary(call).await.unwrap().into_inner().message;
            reply.parse::<u64>().unwrap_or_else(|_| panic!("{reply}"))
        }
    };

    let without = left(None).await;
    let longer = left(Some(Duration::from_secs(30))).await;
    let shorter = left(Some(Duration::from_millis(500))).await;

    assert!((1_000..=2_000).contains(&without), "{without} ms left");
    assert!((1_000..=2_000).contains(&longer), "{longer} ms left");
    assert!(shorter <= 500, "{shorter} ms left");
}
