//! Network faults between our client and our server: toxiproxy (`toxiproxy.rs`)
//! sits between a channel of ours with the generated client and our interop
//! server, and each toxic acts on every call kind (unary, client, server and
//! bidi streaming) at once. A toxic that only slows the network ends every call
//! with OK; one that breaks it ends every call with UNAVAILABLE or
//! DEADLINE_EXCEEDED (CANCELLED when the client cancels), as grpc-go's client
//! does, within its deadline plus a margin; nothing hangs, and once the toxic is
//! removed the same channel works again. The last test checks that the process
//! gets its tasks, descriptors and memory back. Without toxiproxy these tests
//! skip loudly, except under `CI=true`, where they fail.
//!
//! `cargo test -p interop --test faults -- --nocapture` prints the table.

mod toxiproxy;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use interop::pb::test_service_client::TestServiceClient;
use interop::pb::{
    Payload, ResponseParameters, SimpleRequest, StreamingInputCallRequest,
    StreamingOutputCallRequest,
};
use rust_grpc::{Code, Endpoint, Request, RequestExt as _, Shutdown, Status};
use toxiproxy::{Proxy, Toxic, Toxiproxy};

/// Each call's deadline.
const DEADLINE: Duration = Duration::from_secs(2);
/// How late past its deadline a call may end (timers, a loaded machine).
const MARGIN: Duration = Duration::from_millis(1500);
/// How long the channel may take to work again once a toxic is removed (a
/// reconnection backoff is 1 s at first, up to 1.6 s with jitter).
const RECOVERY: Duration = Duration::from_secs(10);
/// Messages per streaming call, and bytes per message each way.
const MESSAGES: usize = 8;
const SIZE: usize = 1024;

/// The tests share the process's descriptors and memory: one at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The four call kinds.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Unary,
    ClientStreaming,
    ServerStreaming,
    Bidi,
}

const KINDS: [Kind; 4] = [
    Kind::Unary,
    Kind::ClientStreaming,
    Kind::ServerStreaming,
    Kind::Bidi,
];

fn payload() -> Option<Payload> {
    Some(Payload {
        r#type: 0,
        body: vec![1; SIZE],
    })
}

fn with_deadline<T>(message: T) -> Request<T> {
    let mut request = Request::new(message);
    request.set_timeout(DEADLINE);
    request
}

/// Makes one call of `kind`, reading every response; `cancel_after` cancels it.
async fn call(client: &TestServiceClient, kind: Kind, cancel_after: Option<Duration>) -> Code {
    let outcome = async {
        match kind {
            Kind::Unary => {
                let mut request = with_deadline(SimpleRequest {
                    response_size: SIZE as i32,
                    payload: payload(),
                    ..SimpleRequest::default()
                });
                cancel_later(&mut request, cancel_after);
                client.unary_call(request).await.map(drop)
            }
            Kind::ClientStreaming => {
                let messages = (0..MESSAGES).map(|_| StreamingInputCallRequest {
                    payload: payload(),
                    ..StreamingInputCallRequest::default()
                });
                let mut request = with_deadline(tokio_stream::iter(messages));
                cancel_later(&mut request, cancel_after);
                client.streaming_input_call(request).await.map(drop)
            }
            Kind::ServerStreaming => {
                let mut request = with_deadline(StreamingOutputCallRequest {
                    response_parameters: vec![
                        ResponseParameters {
                            size: SIZE as i32,
                            ..ResponseParameters::default()
                        };
                        MESSAGES
                    ],
                    ..StreamingOutputCallRequest::default()
                });
                cancel_later(&mut request, cancel_after);
                let mut stream = client.streaming_output_call(request).await?.into_inner();
                while stream.message().await?.is_some() {}
                Ok(())
            }
            Kind::Bidi => {
                let messages = (0..MESSAGES).map(|_| StreamingOutputCallRequest {
                    response_parameters: vec![ResponseParameters {
                        size: SIZE as i32,
                        ..ResponseParameters::default()
                    }],
                    payload: payload(),
                    ..StreamingOutputCallRequest::default()
                });
                let mut request = with_deadline(tokio_stream::iter(messages));
                cancel_later(&mut request, cancel_after);
                let mut stream = client.full_duplex_call(request).await?.into_inner();
                while stream.message().await?.is_some() {}
                Ok(())
            }
        }
    };
    // A call that outlives its deadline by far has hung: fail here, not by
    // the test harness's timeout.
    match tokio::time::timeout(DEADLINE + MARGIN, outcome).await {
        Ok(Ok(())) => Code::Ok,
        Ok(Err(status)) => status_code(&status, kind),
        Err(_) => panic!(
            "{kind:?} call still running {:?} after it began",
            DEADLINE + MARGIN
        ),
    }
}

fn status_code(status: &Status, kind: Kind) -> Code {
    eprintln!("    {kind:?}: {:?} {}", status.code(), status.message());
    status.code()
}

fn cancel_later<T>(request: &mut Request<T>, after: Option<Duration>) {
    if let Some(after) = after {
        let handle = request.cancel_handle();
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            handle.cancel();
        });
    }
}

/// Our interop server, toxiproxy in front of it and a channel through it.
struct Fixture {
    toxiproxy: Toxiproxy,
    proxy: Proxy,
    client: TestServiceClient,
    shutdown: Shutdown,
    server: tokio::task::JoinHandle<()>,
}

impl Fixture {
    async fn start() -> Option<Fixture> {
        let toxiproxy = Toxiproxy::start_or_skip()?;
        let shutdown = Shutdown::new(Duration::from_millis(100));
        let (addr, serving) = interop::server::bind(
            interop::server::Config { port: 0, tls: None },
            shutdown.clone(),
        )
        .await
        .unwrap();
        let server = tokio::spawn(async move {
            serving.await.unwrap();
        });
        let proxy = toxiproxy.proxy("grpc", addr).await;
        let client = client_for(proxy.listen).await;
        Some(Fixture {
            toxiproxy,
            proxy,
            client,
            shutdown,
            server,
        })
    }

    async fn stop(self) {
        drop(self.client);
        self.shutdown.trigger();
        self.server.await.unwrap();
    }

    /// Runs every call kind at once under `toxic`; returns each one's code
    /// and time, then removes the toxic and waits until the channel works.
    async fn under(
        &self,
        label: &str,
        toxic: &Toxic,
        cancel_after: Option<Duration>,
    ) -> Vec<(Kind, Code, Duration)> {
        self.toxiproxy.add(&self.proxy, "fault", toxic).await;
        eprintln!("{label}:");
        let rows = futures_join(KINDS.map(|kind| {
            let client = self.client.clone();
            async move {
                let start = Instant::now();
                let code = call(&client, kind, cancel_after).await;
                (kind, code, start.elapsed())
            }
        }))
        .await;
        for (kind, code, elapsed) in &rows {
            eprintln!(
                "| {label} | {kind:?} | {code:?} | {} ms |",
                elapsed.as_millis()
            );
        }
        self.toxiproxy.remove(&self.proxy, "fault").await;
        let recovered = self.recover().await;
        eprintln!(
            "| {label} | recovery (first OK unary after removal) | OK | {} ms |",
            recovered.as_millis()
        );
        rows
    }

    /// Waits until a unary call succeeds again on the same channel.
    async fn recover(&self) -> Duration {
        let start = Instant::now();
        loop {
            let mut request = with_deadline(SimpleRequest::default());
            request.set_wait_for_ready(true);
            match self.client.unary_call(request).await {
                Ok(_) => return start.elapsed(),
                Err(status) => assert!(
                    start.elapsed() < RECOVERY,
                    "the channel still fails {RECOVERY:?} after the toxic was removed: {status}"
                ),
            }
        }
    }
}

async fn client_for(addr: SocketAddr) -> TestServiceClient {
    let channel = Endpoint::new(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    TestServiceClient::new(channel)
}

/// Runs the four futures at once.
async fn futures_join<F: std::future::Future>(futures: [F; 4]) -> Vec<F::Output> {
    let [a, b, c, d] = futures;
    let (a, b, c, d) = tokio::join!(a, b, c, d);
    vec![a, b, c, d]
}

fn latency() -> Toxic {
    Toxic {
        kind: "latency",
        stream: "downstream",
        attributes: r#"{"latency":300,"jitter":50}"#.into(),
    }
}

fn bandwidth() -> Toxic {
    // 16 KiB/s: each call's 8 KiB of responses takes about half a second.
    Toxic {
        kind: "bandwidth",
        stream: "downstream",
        attributes: r#"{"rate":16}"#.into(),
    }
}

fn slicer() -> Toxic {
    // Segments of 1 to 63 bytes, 100 µs apart: frames arrive in many pieces.
    Toxic {
        kind: "slicer",
        stream: "downstream",
        attributes: r#"{"average_size":32,"size_variation":31,"delay":100}"#.into(),
    }
}

fn reset_peer() -> Toxic {
    Toxic {
        kind: "reset_peer",
        stream: "upstream",
        attributes: r#"{"timeout":0}"#.into(),
    }
}

/// Nothing gets through and the connection stays open.
fn blackhole() -> Toxic {
    Toxic {
        kind: "timeout",
        stream: "upstream",
        attributes: r#"{"timeout":0}"#.into(),
    }
}

/// Nothing gets through, and the connection is closed after 500 ms.
fn closed_after_timeout() -> Toxic {
    Toxic {
        kind: "timeout",
        stream: "upstream",
        attributes: r#"{"timeout":500}"#.into(),
    }
}

fn assert_codes(rows: &[(Kind, Code, Duration)], want: Code) {
    for (kind, code, elapsed) in rows {
        assert_eq!(
            *code, want,
            "{kind:?} ended with {code:?} after {elapsed:?}"
        );
        assert!(
            *elapsed <= DEADLINE + MARGIN,
            "{kind:?} took {elapsed:?}, past its deadline {DEADLINE:?} and margin"
        );
    }
}

/// Runs `toxic` on a fresh fixture and checks every call kind ended with `want`.
async fn check(label: &str, toxic: Toxic, cancel_after: Option<Duration>, want: Code) {
    let _serial = SERIAL.lock().await;
    let Some(fixture) = Fixture::start().await else {
        return;
    };
    let rows = fixture.under(label, &toxic, cancel_after).await;
    fixture.stop().await;
    assert_codes(&rows, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_only_slows_calls_down() {
    check("latency 300 ms", latency(), None, Code::Ok).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bandwidth_limit_only_slows_calls_down() {
    check("bandwidth 16 KiB/s", bandwidth(), None, Code::Ok).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slicing_frames_into_small_segments_only_slows_calls_down() {
    check("slicer 1-63 B", slicer(), None, Code::Ok).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_peer_ends_calls_with_unavailable() {
    check("reset_peer", reset_peer(), None, Code::Unavailable).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blackhole_ends_calls_with_deadline_exceeded() {
    check(
        "timeout 0 (blackhole)",
        blackhole(),
        None,
        Code::DeadlineExceeded,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_closed_by_a_timeout_ends_calls_with_unavailable() {
    check(
        "timeout 500 ms (then closed)",
        closed_after_timeout(),
        None,
        Code::Unavailable,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_during_a_blackhole_ends_calls_with_cancelled() {
    check(
        "timeout 0, cancelled at 300 ms",
        blackhole(),
        Some(Duration::from_millis(300)),
        Code::Cancelled,
    )
    .await;
}

/// Open descriptors of this process.
fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, Iterator::count)
}

/// Resident set size of this process, in KiB.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmRSS:"))
                .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_every_toxic_the_tasks_descriptors_and_memory_come_back() {
    let _serial = SERIAL.lock().await;
    let Some(fixture) = Fixture::start().await else {
        return;
    };
    let metrics = tokio::runtime::Handle::current().metrics();
    // A round without toxics first: buffers and pools at their working size.
    for kind in KINDS {
        assert_eq!(call(&fixture.client, kind, None).await, Code::Ok);
    }
    let (tasks, fds, rss) = (metrics.num_alive_tasks(), open_fds(), rss_kib());
    let toxics = [
        ("latency", latency(), None),
        ("bandwidth", bandwidth(), None),
        ("slicer", slicer(), None),
        ("reset_peer", reset_peer(), None),
        ("blackhole", blackhole(), None),
        ("closed after timeout", closed_after_timeout(), None),
        ("cancelled", blackhole(), Some(Duration::from_millis(300))),
    ];
    for _ in 0..2 {
        for (label, toxic, cancel_after) in &toxics {
            fixture.under(label, toxic, *cancel_after).await;
        }
    }
    // Connections the faults broke are closed by now or shortly.
    let settled = Instant::now() + Duration::from_secs(5);
    loop {
        let now = (metrics.num_alive_tasks(), open_fds(), rss_kib());
        eprintln!(
            "tasks {tasks} -> {}, descriptors {fds} -> {}, RSS {rss} KiB -> {} KiB",
            now.0, now.1, now.2
        );
        let back = now.0 <= tasks && now.1 <= fds && now.2 <= rss + 4096;
        if back {
            break;
        }
        assert!(
            Instant::now() < settled,
            "not back where it started: tasks {tasks} -> {}, descriptors {fds} -> {}, RSS {rss} KiB -> {} KiB",
            now.0,
            now.1,
            now.2
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    fixture.stop().await;
}
