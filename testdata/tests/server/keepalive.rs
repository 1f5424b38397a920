//! Keepalive and connection limits, as the server builder and endpoints expose
//! them: hyper's HTTP/2 pings, the server's enforcement of grpc-go's keepalive
//! policy on client pings, and connection age and idleness. A pausable TCP
//! proxy between client and server plays the network that goes silent; a
//! sniffing proxy reports the GOAWAY frames the server sends; a bare client
//! writes and reads HTTP/2 frames itself where the exact frames matter.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use rust_grpc::{BoxStream, Code, Endpoint, Request, Response, Status};
use rust_grpc_testdata::default::corpus::echo::echo_client::EchoClient;
use rust_grpc_testdata::default::corpus::echo::{EchoReply, EchoRequest, SleepRequest};
use rust_grpc_testdata::python_peer;
use rust_grpc_testdata::stub::{self, StubServer, reply};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_stream::wrappers::ReceiverStream;

use crate::raw::{ACK, ENHANCE_YOUR_CALM, Frame, GOAWAY, NO_ERROR, PING, RawClient};

/// How long any single step may take before a test gives up instead of hanging.
const PATIENCE: Duration = Duration::from_secs(5);

/// `count` replies, 300 ms apart: a call in flight that is mostly silent.
async fn spaced(request: Request<EchoRequest>) -> Result<Response<BoxStream<EchoReply>>, Status> {
    let EchoRequest { message, count } = request.into_inner();
    let (tx, rx) = mpsc::channel(1);
    tokio::spawn(async move {
        for i in 0..count {
            if i > 0 {
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            if tx.send(Ok(reply(format!("{message} {i}")))).await.is_err() {
                return;
            }
        }
    });
    Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
}

/// `Unary` echoes, `Sleep` sleeps, `ServerStream` is [`spaced`].
fn sleeper() -> StubServer {
    StubServer::new()
        .unary(stub::echo)
        .sleep(stub::sleep)
        .server_stream(spaced)
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

#[tokio::test]
async fn server_closes_a_connection_whose_pings_go_unanswered() {
    let addr = sleeper()
        .server(|server| {
            server
                .http2_keepalive_interval(Some(Duration::from_millis(100)))
                .http2_keepalive_timeout(Duration::from_millis(200))
        })
        .serve_tcp()
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
    let addr = sleeper().serve_tcp().await;
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
    let addr = sleeper()
        .server(|server| {
            server
                .max_connection_age(Duration::from_millis(300))
                .max_connection_age_grace(Duration::from_millis(300))
        })
        .serve_tcp()
        .await;
    let client = stub::connect(addr).await;

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

impl RawClient {
    /// Sends a PING carrying `n` and returns what answers it: its ACK, or the
    /// GOAWAY that ends the connection instead.
    async fn ping(&mut self, n: u8) -> Frame {
        self.tcp
            .write_all(&Frame::encode(PING, 0, 0, &[n; 8]))
            .await
            .unwrap();
        loop {
            let frame = self.frame().await.expect("closed without an answer");
            if frame.kind == GOAWAY || (frame.kind == PING && frame.flags & ACK != 0) {
                return frame;
            }
        }
    }

    /// Sends `count` pings `gap` apart; fails the test unless each is
    /// answered with its ACK.
    async fn pings_answered(&mut self, count: u8, gap: Duration) {
        for n in 1..=count {
            if n > 1 {
                tokio::time::sleep(gap).await;
            }
            let answer = self.ping(n).await;
            assert_eq!(
                (answer.kind, answer.flags, answer.payload.as_slice()),
                (PING, ACK, &[n; 8][..]),
                "ping {n} of {count}, {gap:?} apart: {answer:?} {:?}",
                answer
                    .goaway()
                    .map(|(_, _, debug)| String::from_utf8_lossy(debug)),
            );
        }
    }

    /// Fails the test unless the server has closed the connection (after
    /// frames it still had in flight, such as a second GOAWAY).
    async fn closed(&mut self) {
        while let Some(frame) = self.frame().await {
            assert!(frame.kind != PING, "answered after GOAWAY: {frame:?}");
        }
    }
}

/// Fails the test unless `frame` is GOAWAY ENHANCE_YOUR_CALM `too_many_pings`
/// with no stream processed.
fn assert_too_many_pings(frame: &Frame) {
    let (last_stream, code, debug) = frame.goaway().unwrap_or_else(|| {
        panic!("answered without GOAWAY: {frame:?}");
    });
    assert_eq!(
        (code, String::from_utf8_lossy(debug).as_ref(), last_stream),
        (ENHANCE_YOUR_CALM, "too_many_pings", 0),
        "{frame:?}"
    );
}

#[tokio::test]
async fn a_client_pinging_too_often_gets_goaway_too_many_pings() {
    let addr = sleeper()
        .server(|server| {
            server
                .keepalive_min_ping_interval(Some(Duration::from_secs(1)))
                .keepalive_permit_without_calls(true)
        })
        .serve_tcp()
        .await;
    let mut client = RawClient::connect(addr).await;

    // grpc-go's rule: the first ping is free and two strikes are forgiven.
    client.pings_answered(3, Duration::ZERO).await;
    let fourth = client.ping(4).await;

    assert_too_many_pings(&fourth);
    client.closed().await;
}

#[tokio::test]
async fn pings_without_calls_are_refused_by_default() {
    let addr = sleeper()
        .server(|server| server.keepalive_min_ping_interval(Some(Duration::from_millis(100))))
        .serve_tcp()
        .await;
    let mut client = RawClient::connect(addr).await;

    // Twice the minimum interval apart, but with no call in flight.
    client.pings_answered(3, Duration::from_millis(200)).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let fourth = client.ping(4).await;

    assert_too_many_pings(&fourth);
    client.closed().await;
}

#[tokio::test]
async fn pings_without_calls_are_allowed_when_permitted() {
    let addr = sleeper()
        .server(|server| {
            server
                .keepalive_min_ping_interval(Some(Duration::from_millis(100)))
                .keepalive_permit_without_calls(true)
        })
        .serve_tcp()
        .await;
    let mut client = RawClient::connect(addr).await;

    // The same pings that are refused without the permission.
    client.pings_answered(6, Duration::from_millis(200)).await;
}

/// A `SleepRequest` of 1.5 s, framed.
const SLEEP_1500MS: &[u8] = &[0, 0, 0, 0, 3, 0x08, 0xdc, 0x0b];
/// An empty `EchoRequest`, framed.
const EMPTY: &[u8] = &[0, 0, 0, 0, 0];

/// Starts a call on a bare h2 connection; the future resolves to its
/// `grpc-status`.
async fn h2_call(
    client: h2::client::SendRequest<Bytes>,
    path: &str,
    message: &'static [u8],
) -> impl Future<Output = String> {
    let mut client = client.ready().await.unwrap();
    let request = http::Request::post(format!("http://localhost{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(())
        .unwrap();
    let (response, mut body) = client.send_request(request, false).unwrap();
    body.send_data(Bytes::from_static(message), true).unwrap();
    async move {
        let (head, mut body) = response.await.unwrap().into_parts();
        let trailers = if body.is_end_stream() {
            None
        } else {
            while let Some(data) = body.data().await {
                data.unwrap();
            }
            body.trailers().await.unwrap()
        };
        trailers
            .as_ref()
            .and_then(|trailers| trailers.get("grpc-status"))
            .or_else(|| head.headers.get("grpc-status"))
            .expect("a grpc-status")
            .to_str()
            .unwrap()
            .to_owned()
    }
}

#[tokio::test]
async fn pings_within_the_policy_keep_the_connection() {
    let addr = sleeper()
        .server(|server| server.keepalive_min_ping_interval(Some(Duration::from_millis(100))))
        .serve_tcp()
        .await;
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (client, mut connection) = h2::client::handshake(tcp).await.unwrap();
    let mut pings = connection.ping_pong().unwrap();
    let connection = tokio::spawn(connection);

    // A call in flight that sends nothing until it ends, so no response frame
    // forgives a strike; the pings are twice the minimum interval apart.
    let sleep =
        tokio::spawn(h2_call(client.clone(), "/corpus.echo.Echo/Sleep", SLEEP_1500MS).await);
    for n in 1..=5 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        tokio::time::timeout(PATIENCE, pings.ping(h2::Ping::opaque()))
            .await
            .expect("a ping went unanswered")
            .unwrap_or_else(|err| panic!("ping {n}: {err:?}"));
    }
    let slept = tokio::time::timeout(PATIENCE, sleep)
        .await
        .unwrap()
        .unwrap();
    let unary = tokio::time::timeout(
        PATIENCE,
        h2_call(client, "/corpus.echo.Echo/Unary", EMPTY).await,
    )
    .await
    .unwrap();

    assert_eq!((slept.as_str(), unary.as_str()), ("0", "0"));
    assert!(!connection.is_finished(), "{:?}", connection.await);
}

/// What a [`sniff`] proxy saw the server send on the connections it forwarded,
/// numbered from 0.
#[derive(Debug, PartialEq, Eq)]
enum Seen {
    GoAway { conn: usize, code: u32 },
    Closed { conn: usize },
}

/// Forwards client connections to `upstream`, reporting each GOAWAY the server
/// sends before the client can see it, and when the server closes.
async fn sniff(upstream: std::net::SocketAddr) -> (String, mpsc::UnboundedReceiver<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (seen_tx, seen) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        for conn in 0.. {
            let (client, _) = listener.accept().await.unwrap();
            let server = TcpStream::connect(upstream).await.unwrap();
            let (mut client_read, mut client_write) = client.into_split();
            let (mut server_read, mut server_write) = server.into_split();
            tokio::spawn(async move {
                let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
            });
            let seen = seen_tx.clone();
            tokio::spawn(async move {
                let mut pending = Vec::new();
                let mut buf = vec![0u8; 16 * 1024];
                while let Ok(n @ 1..) = server_read.read(&mut buf).await {
                    pending.extend_from_slice(&buf[..n]);
                    while let Some((frame, len)) = Frame::decode(&pending) {
                        pending.drain(..len);
                        if let Some((_, code, _)) = frame.goaway() {
                            let _ = seen.send(Seen::GoAway { conn, code });
                        }
                    }
                    if client_write.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
                let _ = seen.send(Seen::Closed { conn });
            });
        }
    });
    (format!("http://{addr}"), seen)
}

async fn next_seen(seen: &mut mpsc::UnboundedReceiver<Seen>) -> Seen {
    tokio::time::timeout(PATIENCE, seen.recv())
        .await
        .expect("the server neither sent GOAWAY nor closed")
        .unwrap()
}

#[tokio::test]
async fn an_idle_connection_gets_goaway_after_max_connection_idle() {
    let idle = Duration::from_millis(300);
    let addr = sleeper()
        .server(move |server| server.max_connection_idle(idle))
        .serve_tcp()
        .await;
    let (url, mut seen) = sniff(addr).await;
    let client = EchoClient::connect(url).await.unwrap();
    client.unary(EchoRequest::default()).await.unwrap();
    let answered = Instant::now();

    let goaway = next_seen(&mut seen).await;
    let waited = answered.elapsed();
    // hyper's graceful close may send a second GOAWAY before closing.
    let mut after = next_seen(&mut seen).await;
    while after != (Seen::Closed { conn: 0 }) {
        assert_eq!(
            after,
            Seen::GoAway {
                conn: 0,
                code: NO_ERROR
            }
        );
        after = next_seen(&mut seen).await;
    }

    assert_eq!(
        goaway,
        Seen::GoAway {
            conn: 0,
            code: NO_ERROR
        }
    );
    assert!(
        waited >= idle - Duration::from_millis(50),
        "GOAWAY {waited:?} after the last call, with max_connection_idle {idle:?}"
    );
    // A graceful GOAWAY: the client carries on over a new connection.
    let reply = client
        .unary(EchoRequest {
            message: "again".to_owned(),
            count: 0,
        })
        .await
        .unwrap();
    assert_eq!(reply.into_inner().message, "again");
}

#[tokio::test]
async fn a_call_in_flight_keeps_a_connection_past_max_connection_idle() {
    let addr = sleeper()
        .server(|server| server.max_connection_idle(Duration::from_millis(200)))
        .serve_tcp()
        .await;
    let (url, mut seen) = sniff(addr).await;
    let client = EchoClient::connect(url).await.unwrap();

    // Three replies 300 ms apart: 600 ms in flight, silent for longer than
    // the idle limit between replies.
    let call = client.server_stream(EchoRequest {
        message: "still here".to_owned(),
        count: 3,
    });
    let mut stream = tokio::time::timeout(PATIENCE, call)
        .await
        .unwrap()
        .unwrap()
        .into_inner();
    let mut replies = Vec::new();
    while let Some(reply) = tokio::time::timeout(PATIENCE, stream.message())
        .await
        .unwrap()
        .unwrap()
    {
        replies.push(reply.message);
    }

    assert_eq!(replies, ["still here 0", "still here 1", "still here 2"]);
    // The sniffer reports a GOAWAY before the client can read what follows it.
    assert_eq!(
        seen.try_recv(),
        Err(mpsc::error::TryRecvError::Empty),
        "the server closed the connection under a call"
    );
    // Idle once the call is over: the limit was in force all along.
    assert_eq!(
        next_seen(&mut seen).await,
        Seen::GoAway {
            conn: 0,
            code: NO_ERROR
        }
    );
}

/// grpc-core's log line for GOAWAY ENHANCE_YOUR_CALM `too_many_pings`, which it
/// writes for that GOAWAY alone (`chttp2_transport.cc`).
const GRPC_CORE_TOO_MANY_PINGS: &str = "Received a GOAWAY with error code ENHANCE_YOUR_CALM and debug data equal to \"too_many_pings\"";

#[tokio::test]
async fn a_grpcio_client_pinging_too_often_gets_goaway_too_many_pings() {
    let Some(peer) = python_peer::peer() else {
        return;
    };
    // The default policy (no pings without calls), with a short interval so the
    // refusal cannot come from the interval being long.
    let addr = sleeper()
        .server(|server| server.keepalive_min_ping_interval(Some(Duration::from_secs(1))))
        .serve_tcp()
        .await;
    let mut command = peer.local_command("server/keepalive_pings.py", &[&addr.to_string()]);
    // grpc-core's ERROR lines, whatever the environment asks for.
    command
        .env("GRPC_VERBOSITY", "ERROR")
        .stdin(std::process::Stdio::null());

    let output = tokio::time::timeout(python_peer::STEP, command.output())
        .await
        .expect("the Python check hung")
        .unwrap();

    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.first(), Some(&"ready"), "{stdout}\n{stderr}");
    assert!(
        lines
            .get(1)
            .is_some_and(|line| line.starts_with("left READY")),
        "grpcio kept the connection:\n{stdout}\n{stderr}"
    );
    assert!(
        stderr.contains(GRPC_CORE_TOO_MANY_PINGS),
        "grpcio did not get GOAWAY too_many_pings:\n{stdout}\n{stderr}"
    );
}
