//! Server-side enforcement of grpc-go's keepalive policy: a client that pings
//! more often than the policy allows gets a GOAWAY with ENHANCE_YOUR_CALM and
//! debug data `too_many_pings`, and its connection is closed.
//!
//! h2 answers PING frames itself and hyper cannot send a GOAWAY with a chosen
//! error code, so [`PingWatch`] sits between the connection (after TLS) and
//! hyper's HTTP/2 server. Every byte passes through unchanged; the watch only
//! reads the 9-byte frame headers going each way and skips payloads by count.
//! When the policy is broken it writes one GOAWAY at a frame boundary of the
//! outgoing bytes, shuts the write half and ends the reads.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

/// More strikes than this and the client has pinged too often (grpc-go's
/// `maxPingStrikes`).
const MAX_PING_STRIKES: u32 = 2;
/// How far apart pings must be while the client has no calls and the policy
/// does not permit pings without calls (grpc-go's `defaultPingTimeout`).
const PING_TIMEOUT_WITHOUT_CALLS: Duration = Duration::from_secs(2 * 60 * 60);

/// `PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`, which opens what the client sends.
const CLIENT_PREFACE_LEN: u32 = 24;
const HEADER_LEN: usize = 9;

const DATA: u8 = 0x0;
const HEADERS: u8 = 0x1;
const PING: u8 = 0x6;
const GOAWAY: u8 = 0x7;
const ACK: u8 = 0x1;
const ENHANCE_YOUR_CALM: u32 = 0xb;
const TOO_MANY_PINGS: &[u8; 14] = b"too_many_pings";
const GOAWAY_LEN: usize = HEADER_LEN + 8 + TOO_MANY_PINGS.len();

/// What a server lets its clients do with pings (grpc-go's
/// `keepalive.EnforcementPolicy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Policy {
    /// The least time a client should leave between two pings.
    pub(crate) min_time: Duration,
    /// Whether a client may ping while it has no call in flight.
    pub(crate) permit_without_stream: bool,
}

impl Default for Policy {
    /// grpc-go's defaults: 5 minutes, and no pings without calls.
    fn default() -> Self {
        Self {
            min_time: Duration::from_secs(5 * 60),
            permit_without_stream: false,
        }
    }
}

/// What the server loop can learn about a watched connection after the fact.
#[derive(Debug, Clone)]
pub(crate) struct WatchHandle(Arc<AtomicBool>);

impl WatchHandle {
    /// Whether the watch closed the connection because the client pinged too
    /// often.
    pub(crate) fn closed_for_too_many_pings(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// An IO wrapper that enforces a keepalive [`Policy`] on the HTTP/2 connection
/// that runs through it; see the module docs.
#[derive(Debug)]
pub(crate) struct PingWatch<IO> {
    io: IO,
    strikes: Strikes,
    active_calls: Arc<AtomicUsize>,
    from_client: FrameScanner,
    to_client: FrameScanner,
    /// The highest stream id the client opened, for the GOAWAY.
    last_client_stream: u32,
    close: Close,
    /// A read held back until hyper finishes the frame it is writing.
    parked_reader: Option<Waker>,
    closed_for_pings: Arc<AtomicBool>,
    /// hyper shut the write half: a GOAWAY can no longer be sent.
    write_shut: bool,
}

impl<IO> PingWatch<IO> {
    /// Watches `io`, the server's side of one connection. `active_calls` is the
    /// number of calls in flight on it, kept by the server loop.
    pub(crate) fn new(io: IO, policy: Policy, active_calls: Arc<AtomicUsize>) -> Self {
        Self {
            io,
            strikes: Strikes::new(policy),
            active_calls,
            from_client: FrameScanner::new(CLIENT_PREFACE_LEN),
            to_client: FrameScanner::new(0),
            last_client_stream: 0,
            close: Close::Open,
            parked_reader: None,
            closed_for_pings: Arc::new(AtomicBool::new(false)),
            write_shut: false,
        }
    }

    pub(crate) fn handle(&self) -> WatchHandle {
        WatchHandle(Arc::clone(&self.closed_for_pings))
    }

    fn observe_from_client(&mut self, mut bytes: &[u8]) {
        while let Some(header) = self.from_client.next_header(&mut bytes) {
            match header.kind {
                HEADERS => self.last_client_stream = self.last_client_stream.max(header.stream_id),
                PING if header.flags & ACK == 0 => {
                    let active_calls = self.active_calls.load(Ordering::Relaxed);
                    if self.strikes.on_ping(Instant::now(), active_calls) {
                        self.too_many_pings();
                        // Nothing read after this matters: reads end here.
                        return;
                    }
                }
                _ => {}
            }
        }
    }

    fn observe_to_client(&mut self, mut bytes: &[u8]) {
        while let Some(header) = self.to_client.next_header(&mut bytes) {
            if header.kind == HEADERS || header.kind == DATA {
                self.strikes.reset = true;
            }
        }
    }

    fn too_many_pings(&mut self) {
        tracing::warn!(
            min_time = ?self.strikes.policy.min_time,
            permit_without_stream = self.strikes.policy.permit_without_stream,
            last_stream_id = self.last_client_stream,
            "client pinged too often; sending GOAWAY ENHANCE_YOUR_CALM (too_many_pings) and closing the connection"
        );
        self.closed_for_pings.store(true, Ordering::Relaxed);
        // After hyper shut the write half, a write would fail: only end the reads.
        self.close = if self.write_shut {
            Close::Closed
        } else {
            Close::GoAway { written: 0 }
        };
    }

    /// Whether the GOAWAY may go out now: not in the middle of hyper's frame.
    fn can_close(&self) -> bool {
        !matches!(self.close, Close::GoAway { .. }) || self.to_client.at_frame_boundary()
    }

    fn park_reader(&mut self, cx: &Context<'_>) {
        match &self.parked_reader {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            _ => self.parked_reader = Some(cx.waker().clone()),
        }
    }

    fn wake_reader(&mut self) {
        if let Some(waker) = self.parked_reader.take() {
            waker.wake();
        }
    }
}

impl<IO: AsyncWrite + Unpin> PingWatch<IO> {
    /// Writes the GOAWAY, flushes and shuts the write half; call only when
    /// [`Self::can_close`].
    fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let result = self.drive_close(cx);
        if result.is_ready() {
            // A failed close is still a close: reads end, writes go nowhere.
            self.close = Close::Closed;
            self.wake_reader();
        }
        result
    }

    fn drive_close(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            self.close = match self.close {
                Close::Open | Close::Closed => return Poll::Ready(Ok(())),
                Close::GoAway { mut written } => {
                    let frame = goaway_frame(self.last_client_stream);
                    while written < frame.len() {
                        match Pin::new(&mut self.io).poll_write(cx, &frame[written..]) {
                            Poll::Ready(Ok(0)) => {
                                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                            }
                            Poll::Ready(Ok(n)) => written += n,
                            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                            Poll::Pending => {
                                self.close = Close::GoAway { written };
                                return Poll::Pending;
                            }
                        }
                    }
                    Close::Flush
                }
                Close::Flush => {
                    ready!(Pin::new(&mut self.io).poll_flush(cx))?;
                    Close::Shutdown
                }
                Close::Shutdown => {
                    ready!(Pin::new(&mut self.io).poll_shutdown(cx))?;
                    Close::Closed
                }
            };
        }
    }

    fn poll_write_closing(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if self.can_close() {
            ready!(self.poll_close(cx))?;
            // Closed on purpose: hyper's last frames have nowhere to go, and an
            // error here would make a deliberate close look like a failure.
            return Poll::Ready(Ok(buf.len()));
        }
        // Finish hyper's frame and not a byte more, so the GOAWAY follows it.
        let end = buf.len().min(self.to_client.rest_of_frame());
        let n = ready!(Pin::new(&mut self.io).poll_write(cx, &buf[..end]))?;
        self.observe_to_client(&buf[..n]);
        if self.to_client.at_frame_boundary() {
            self.wake_reader();
        }
        Poll::Ready(Ok(n))
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> AsyncRead for PingWatch<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.close != Close::Open {
            // No EOF before the GOAWAY is out: hyper would drop the IO first.
            if this.can_close() {
                ready!(this.poll_close(cx))?;
                return Poll::Ready(Ok(()));
            }
            // hyper's next write finishes its frame and wakes us.
            this.park_reader(cx);
            return Poll::Pending;
        }
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.io).poll_read(cx, buf))?;
        this.observe_from_client(&buf.filled()[before..]);
        Poll::Ready(Ok(()))
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for PingWatch<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.close != Close::Open {
            return this.poll_write_closing(cx, buf);
        }
        let n = ready!(Pin::new(&mut this.io).poll_write(cx, buf))?;
        this.observe_to_client(&buf[..n]);
        Poll::Ready(Ok(n))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.close != Close::Open {
            let buf = bufs
                .iter()
                .find(|b| !b.is_empty())
                .map_or(&[][..], |b| &**b);
            return this.poll_write_closing(cx, buf);
        }
        let n = ready!(Pin::new(&mut this.io).poll_write_vectored(cx, bufs))?;
        let mut left = n;
        for buf in bufs {
            if left == 0 {
                break;
            }
            let taken = left.min(buf.len());
            this.observe_to_client(&buf[..taken]);
            left -= taken;
        }
        Poll::Ready(Ok(n))
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.close != Close::Open && this.can_close() {
            return this.poll_close(cx);
        }
        Pin::new(&mut this.io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.close == Close::Open {
            let result = ready!(Pin::new(&mut this.io).poll_shutdown(cx));
            this.write_shut = true;
            return Poll::Ready(result);
        }
        if this.can_close() {
            return this.poll_close(cx);
        }
        // hyper ends half-way through a frame, so no GOAWAY can follow it.
        let result = ready!(Pin::new(&mut this.io).poll_shutdown(cx));
        this.close = Close::Closed;
        this.wake_reader();
        Poll::Ready(result)
    }
}

/// Where the watch is in closing the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Close {
    /// The client keeps to the policy.
    Open,
    /// The GOAWAY is owed; `written` of its bytes are out.
    GoAway {
        written: usize,
    },
    Flush,
    Shutdown,
    /// Reads give EOF, writes are dropped.
    Closed,
}

/// grpc-go's ping strike count.
#[derive(Debug)]
struct Strikes {
    policy: Policy,
    count: u32,
    last_ping: Option<Instant>,
    /// Set when the server sends HEADERS or DATA: the next ping is free.
    reset: bool,
}

impl Strikes {
    fn new(policy: Policy) -> Self {
        Self {
            policy,
            count: 0,
            last_ping: None,
            reset: false,
        }
    }

    /// Counts a PING from the client; true when it is one too many.
    fn on_ping(&mut self, now: Instant, active_calls: usize) -> bool {
        let last = self.last_ping.replace(now);
        if std::mem::take(&mut self.reset) {
            self.count = 0;
            return false;
        }
        let least_gap = if active_calls == 0 && !self.policy.permit_without_stream {
            PING_TIMEOUT_WITHOUT_CALLS
        } else {
            self.policy.min_time
        };
        if last.is_some_and(|last| now.saturating_duration_since(last) < least_gap) {
            self.count += 1;
        }
        self.count > MAX_PING_STRIKES
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FrameHeader {
    len: u32,
    kind: u8,
    flags: u8,
    stream_id: u32,
}

impl FrameHeader {
    fn parse(b: &[u8; HEADER_LEN]) -> Self {
        Self {
            len: u32::from_be_bytes([0, b[0], b[1], b[2]]),
            kind: b[3],
            flags: b[4],
            stream_id: u32::from_be_bytes([b[5], b[6], b[7], b[8]]) & 0x7fff_ffff,
        }
    }
}

/// Finds the frame headers in one direction of a connection, fed its bytes in
/// whatever pieces they pass.
#[derive(Debug)]
struct FrameScanner {
    /// Bytes to pass before the next header: the rest of a payload, or the
    /// client preface.
    skip: u32,
    /// A header that straddles two pieces.
    header: [u8; HEADER_LEN],
    /// How many bytes of `header` have arrived.
    filled: u8,
}

impl FrameScanner {
    fn new(skip: u32) -> Self {
        Self {
            skip,
            header: [0; HEADER_LEN],
            filled: 0,
        }
    }

    /// Consumes `bytes` up to the end of the next frame header and returns it,
    /// or consumes them all and returns `None`.
    fn next_header(&mut self, bytes: &mut &[u8]) -> Option<FrameHeader> {
        if self.skip > 0 {
            let n = bytes.len().min(self.skip as usize);
            self.skip -= n as u32;
            *bytes = &bytes[n..];
        }
        if bytes.is_empty() {
            return None;
        }
        let filled = usize::from(self.filled);
        let header = if filled == 0 && bytes.len() >= HEADER_LEN {
            let (header, rest) = bytes.split_at(HEADER_LEN);
            *bytes = rest;
            FrameHeader::parse(header.try_into().expect("HEADER_LEN bytes"))
        } else {
            let n = bytes.len().min(HEADER_LEN - filled);
            self.header[filled..filled + n].copy_from_slice(&bytes[..n]);
            *bytes = &bytes[n..];
            if filled + n < HEADER_LEN {
                self.filled = (filled + n) as u8;
                return None;
            }
            self.filled = 0;
            FrameHeader::parse(&self.header)
        };
        self.skip = header.len;
        Some(header)
    }

    fn at_frame_boundary(&self) -> bool {
        self.skip == 0 && self.filled == 0
    }

    /// How many more bytes belong to the current frame, as far as is known
    /// (only the header's rest while the header is incomplete).
    fn rest_of_frame(&self) -> usize {
        if self.filled > 0 {
            HEADER_LEN - usize::from(self.filled)
        } else {
            self.skip as usize
        }
    }
}

fn goaway_frame(last_stream_id: u32) -> [u8; GOAWAY_LEN] {
    let mut frame = [0; GOAWAY_LEN];
    let len = (GOAWAY_LEN - HEADER_LEN) as u32;
    frame[..3].copy_from_slice(&len.to_be_bytes()[1..]);
    frame[3] = GOAWAY;
    // flags 0, stream 0
    frame[9..13].copy_from_slice(&(last_stream_id & 0x7fff_ffff).to_be_bytes());
    frame[13..17].copy_from_slice(&ENHANCE_YOUR_CALM.to_be_bytes());
    frame[17..].copy_from_slice(TOO_MANY_PINGS);
    frame
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
    use tokio::task::JoinHandle;

    use super::*;

    const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    const SETTINGS: u8 = 0x4;
    const WINDOW_UPDATE: u8 = 0x8;
    const END_STREAM: u8 = 0x1;
    const END_HEADERS: u8 = 0x4;

    fn frame(kind: u8, flags: u8, stream_id: u32, payload: &[u8]) -> Vec<u8> {
        let mut out = (payload.len() as u32).to_be_bytes()[1..].to_vec();
        out.extend([kind, flags]);
        out.extend(stream_id.to_be_bytes());
        out.extend(payload);
        out
    }

    fn ping(n: u8) -> Vec<u8> {
        frame(PING, 0, 0, &[n; 8])
    }

    /// The GOAWAY the watch must send, spelled out by hand.
    fn expected_goaway(last_stream_id: u8) -> Vec<u8> {
        let mut payload = vec![0, 0, 0, last_stream_id, 0, 0, 0, 0xb];
        payload.extend(b"too_many_pings");
        frame(GOAWAY, 0, 0, &payload)
    }

    #[derive(Debug)]
    struct Frame {
        kind: u8,
        flags: u8,
        stream_id: u32,
        payload: Vec<u8>,
    }

    /// The client end of a connection to a real hyper HTTP/2 server, speaking
    /// raw frames.
    struct RawClient {
        io: DuplexStream,
    }

    impl RawClient {
        async fn send(&mut self, bytes: &[u8]) {
            self.io.write_all(bytes).await.expect("client write");
        }

        /// The next frame, or `None` at EOF.
        async fn read_frame(&mut self) -> Option<Frame> {
            let mut header = [0; HEADER_LEN];
            // Time is paused, so a server that never answers fails at once.
            let read =
                tokio::time::timeout(Duration::from_secs(10), self.io.read_exact(&mut header));
            match read.await.expect("the server answers") {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return None,
                Err(e) => panic!("client read: {e}"),
            }
            let header = FrameHeader::parse(&header);
            let mut payload = vec![0; header.len as usize];
            self.io.read_exact(&mut payload).await.expect("payload");
            Some(Frame {
                kind: header.kind,
                flags: header.flags,
                stream_id: header.stream_id,
                payload,
            })
        }

        /// The next frame that is not connection housekeeping (SETTINGS ACK,
        /// WINDOW_UPDATE).
        async fn next_frame(&mut self) -> Option<Frame> {
            loop {
                let next = self.read_frame().await?;
                if !matches!(next.kind, SETTINGS | WINDOW_UPDATE) {
                    return Some(next);
                }
            }
        }

        async fn expect_ping_ack(&mut self, n: u8) {
            let frame = self.next_frame().await.expect("a PING ACK, not EOF");
            assert_eq!(
                (frame.kind, frame.flags, frame.payload.as_slice()),
                (PING, ACK, &[n; 8][..]),
                "expected the ACK of ping {n}, got {frame:?}"
            );
        }

        /// Reads past PING ACKs to a GOAWAY, then expects EOF.
        async fn expect_goaway_then_eof(&mut self) -> Frame {
            let goaway = loop {
                let frame = self.next_frame().await.expect("a GOAWAY, not EOF");
                match frame.kind {
                    PING if frame.flags & ACK != 0 => {}
                    GOAWAY => break frame,
                    _ => panic!("expected a GOAWAY, got {frame:?}"),
                }
            };
            assert!(self.read_frame().await.is_none(), "EOF after the GOAWAY");
            goaway
        }
    }

    struct Served {
        client: RawClient,
        handle: WatchHandle,
        connection: JoinHandle<Result<(), hyper::Error>>,
    }

    /// A hyper HTTP/2 server behind a `PingWatch`, answering every request
    /// with "ok", and a client that has exchanged SETTINGS with it.
    async fn serve(policy: Policy, active_calls: usize) -> Served {
        let (client, server) = tokio::io::duplex(64 * 1024);
        let watch = PingWatch::new(server, policy, Arc::new(AtomicUsize::new(active_calls)));
        let handle = watch.handle();
        let connection = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
            .timer(TokioTimer::new())
            .serve_connection(
                TokioIo::new(watch),
                hyper::service::service_fn(|_| async {
                    Ok::<_, Infallible>(http::Response::new(String::from("ok")))
                }),
            );
        let connection = tokio::spawn(connection);
        let mut client = RawClient { io: client };
        client.send(PREFACE).await;
        client.send(&frame(SETTINGS, 0, 0, &[])).await;
        let settings = client.read_frame().await.expect("the server's SETTINGS");
        assert_eq!((settings.kind, settings.flags), (SETTINGS, 0));
        client.send(&frame(SETTINGS, ACK, 0, &[])).await;
        Served {
            client,
            handle,
            connection,
        }
    }

    async fn assert_connection_ends_ok(connection: JoinHandle<Result<(), hyper::Error>>) {
        let result = tokio::time::timeout(Duration::from_secs(5), connection)
            .await
            .expect("hyper ends the connection")
            .expect("connection task");
        assert!(result.is_ok(), "a deliberate close is no error: {result:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn pings_faster_than_the_policy_get_goaway_enhance_your_calm() {
        let policy = Policy {
            min_time: Duration::from_secs(1),
            permit_without_stream: true,
        };
        let mut served = serve(policy, 0).await;
        for n in 1..=4 {
            served.client.send(&ping(n)).await;
        }
        let goaway = served.client.expect_goaway_then_eof().await;
        assert_eq!(&goaway.payload[4..8], &[0, 0, 0, 0xb], "ENHANCE_YOUR_CALM");
        assert_eq!(&goaway.payload[8..], b"too_many_pings");
        assert_eq!(&goaway.payload[..4], &[0, 0, 0, 0], "no stream was opened");
        assert!(served.handle.closed_for_too_many_pings());
        assert_connection_ends_ok(served.connection).await;
    }

    #[tokio::test(start_paused = true)]
    async fn pings_within_the_policy_are_answered() {
        // Default policy (5 minutes, no pings without calls), one call in flight.
        let mut served = serve(Policy::default(), 1).await;
        for n in 1..=6 {
            served.client.send(&ping(n)).await;
            served.client.expect_ping_ack(n).await;
            tokio::time::advance(Duration::from_secs(5 * 60 + 1)).await;
        }
        let nothing_more =
            tokio::time::timeout(Duration::from_secs(1), served.client.next_frame()).await;
        assert!(nothing_more.is_err(), "no GOAWAY: {nothing_more:?}");
        assert!(!served.handle.closed_for_too_many_pings());
    }

    #[tokio::test(start_paused = true)]
    async fn pings_without_calls_are_struck_when_not_permitted() {
        // Spaced beyond min_time, but without calls they must be 2 hours apart.
        let mut served = serve(Policy::default(), 0).await;
        for n in 1..=3 {
            served.client.send(&ping(n)).await;
            served.client.expect_ping_ack(n).await;
            tokio::time::advance(Duration::from_secs(5 * 60 + 1)).await;
        }
        served.client.send(&ping(4)).await;
        let goaway = served.client.expect_goaway_then_eof().await;
        assert_eq!(&goaway.payload[4..], &expected_goaway(0)[HEADER_LEN + 4..]);
        assert!(served.handle.closed_for_too_many_pings());
    }

    #[tokio::test(start_paused = true)]
    async fn ping_acks_from_the_client_are_not_pings() {
        let policy = Policy {
            min_time: Duration::from_secs(60 * 60),
            permit_without_stream: true,
        };
        let mut served = serve(policy, 0).await;
        for n in 1..=5 {
            served.client.send(&frame(PING, ACK, 0, &[n; 8])).await;
        }
        served.client.send(&ping(6)).await;
        served.client.expect_ping_ack(6).await;
        assert!(!served.handle.closed_for_too_many_pings());
    }

    #[tokio::test(start_paused = true)]
    async fn sending_data_resets_the_strikes() {
        let policy = Policy {
            min_time: Duration::from_secs(60 * 60),
            permit_without_stream: true,
        };
        let mut served = serve(policy, 0).await;
        let client = &mut served.client;
        // The first ping is free, the next two are strikes 1 and 2.
        for n in 1..=3 {
            client.send(&ping(n)).await;
            client.expect_ping_ack(n).await;
        }
        // POST /x on stream 1: :method POST, :scheme http (static table), and
        // :path /x, :authority a (literals with indexed names).
        let block = [0x83, 0x86, 0x04, 2, b'/', b'x', 0x01, 1, b'a'];
        client
            .send(&frame(HEADERS, END_STREAM | END_HEADERS, 1, &block))
            .await;
        loop {
            let frame = client.next_frame().await.expect("the response");
            assert!(
                matches!(frame.kind, HEADERS | DATA) && frame.stream_id == 1,
                "expected the response, got {frame:?}"
            );
            if frame.flags & END_STREAM != 0 {
                break;
            }
        }
        // The response made the next ping free again; two more strikes are
        // allowed, where without the reset ping 4 would have been the third.
        for n in 4..=6 {
            client.send(&ping(n)).await;
            client.expect_ping_ack(n).await;
        }
        assert!(!served.handle.closed_for_too_many_pings());
        client.send(&ping(7)).await;
        let goaway = client.expect_goaway_then_eof().await;
        assert_eq!(
            &goaway.payload[..4],
            &[0, 0, 0, 1],
            "last stream id: the request's"
        );
        assert!(served.handle.closed_for_too_many_pings());
    }

    #[test]
    fn strikes_follow_grpc_go() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let policy = Policy {
            min_time: s(10),
            permit_without_stream: false,
        };

        // Pings at least min_time apart with calls in flight: never struck.
        let mut strikes = Strikes::new(policy);
        for i in 0..10 {
            assert!(!strikes.on_ping(t0 + s(10 * i), 1));
        }
        assert_eq!(strikes.count, 0);

        // Without calls the gap is 2 hours; exactly 2 hours is no strike.
        let mut strikes = Strikes::new(policy);
        assert!(!strikes.on_ping(t0, 0));
        assert!(!strikes.on_ping(t0 + s(3600), 0));
        assert_eq!(strikes.count, 1);
        assert!(!strikes.on_ping(t0 + s(3600 + 7200), 0));
        assert_eq!(strikes.count, 1);

        // The third strike is one too many.
        let mut strikes = Strikes::new(policy);
        assert!(!strikes.on_ping(t0, 1));
        assert!(!strikes.on_ping(t0 + s(1), 1));
        assert!(!strikes.on_ping(t0 + s(2), 1));
        assert!(strikes.on_ping(t0 + s(3), 1));
    }

    #[test]
    fn frame_headers_are_found_whatever_the_pieces() {
        let mut stream = PREFACE.to_vec();
        stream.extend(frame(SETTINGS, 0, 0, &[]));
        stream.extend(frame(HEADERS, END_HEADERS, 1, &[0x83; 300]));
        stream.extend(frame(DATA, END_STREAM, 1, &[7; 70_000]));
        stream.extend(frame(PING, ACK, 0, &[1; 8]));
        stream.extend(frame(PING, 0, 0, &[2; 8]));
        stream.extend(frame(HEADERS, 0, 0x7fff_ffff, &[]));
        let expected = [
            (0, SETTINGS, 0, 0),
            (300, HEADERS, END_HEADERS, 1),
            (70_000, DATA, END_STREAM, 1),
            (8, PING, ACK, 0),
            (8, PING, 0, 0),
            (0, HEADERS, 0, 0x7fff_ffff),
        ];

        for piece in [1, 2, 5, 9, 10, 4096, stream.len()] {
            let mut scanner = FrameScanner::new(CLIENT_PREFACE_LEN);
            let mut found = Vec::new();
            for mut chunk in stream.chunks(piece) {
                while let Some(h) = scanner.next_header(&mut chunk) {
                    found.push((h.len, h.kind, h.flags, h.stream_id));
                }
                assert!(chunk.is_empty(), "every byte is consumed");
            }
            assert_eq!(found, expected, "pieces of {piece} bytes");
            assert!(scanner.at_frame_boundary());
        }
    }

    #[test]
    fn vectored_writes_are_observed_across_slices() {
        let headers = frame(HEADERS, END_HEADERS, 1, &[0x88; 3]);
        let pong = frame(PING, ACK, 0, &[1; 8]);
        // The HEADERS frame's header straddles the first two slices.
        let slices = [
            IoSlice::new(&headers[..4]),
            IoSlice::new(&headers[4..]),
            IoSlice::new(&pong),
        ];
        let mut watch = PingWatch::new(Vec::new(), Policy::default(), Arc::default());
        assert!(watch.is_write_vectored());
        let mut cx = Context::from_waker(Waker::noop());
        let written = Pin::new(&mut watch).poll_write_vectored(&mut cx, &slices);
        assert!(matches!(written, Poll::Ready(Ok(n)) if n == headers.len() + pong.len()));
        assert!(watch.strikes.reset, "the HEADERS frame was seen");
        assert!(watch.to_client.at_frame_boundary());
        assert_eq!(watch.io, [headers, pong].concat());
    }

    /// An inner IO that takes 1, 2, 3, 1, ... bytes per write and hands out
    /// the client's bytes 1, 2, 3, 1, ... at a time.
    #[derive(Default)]
    struct Trickle {
        to_read: Vec<u8>,
        read_pos: usize,
        written: Vec<u8>,
        calls: usize,
        shut: bool,
    }

    impl Trickle {
        fn step(&mut self) -> usize {
            self.calls += 1;
            1 + self.calls % 3
        }
    }

    impl AsyncRead for Trickle {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            let n = self.step().min(self.to_read.len() - self.read_pos);
            if n == 0 {
                return Poll::Pending;
            }
            let start = self.read_pos;
            buf.put_slice(&self.to_read[start..start + n]);
            self.read_pos += n;
            Poll::Ready(Ok(()))
        }
    }

    impl AsyncWrite for Trickle {
        fn poll_write(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            assert!(!self.shut, "write after shutdown");
            let n = self.step().min(buf.len());
            self.written.extend(&buf[..n]);
            Poll::Ready(Ok(n))
        }

        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn poll_shutdown(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            self.shut = true;
            Poll::Ready(Ok(()))
        }
    }

    fn write_some(watch: &mut PingWatch<Trickle>, buf: &[u8]) -> usize {
        let mut cx = Context::from_waker(Waker::noop());
        match Pin::new(watch).poll_write(&mut cx, buf) {
            Poll::Ready(Ok(n)) => n,
            other => panic!("write: {other:?}"),
        }
    }

    fn read_some(watch: &mut PingWatch<Trickle>) -> Poll<Vec<u8>> {
        let mut cx = Context::from_waker(Waker::noop());
        let mut bytes = [0; 64];
        let mut buf = ReadBuf::new(&mut bytes);
        match Pin::new(watch).poll_read(&mut cx, &mut buf) {
            Poll::Ready(Ok(())) => Poll::Ready(buf.filled().to_vec()),
            Poll::Ready(Err(e)) => panic!("read: {e}"),
            Poll::Pending => Poll::Pending,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn goaway_due_mid_frame_follows_that_frame() {
        let mut client = PREFACE.to_vec();
        client.extend(frame(HEADERS, END_HEADERS, 5, &[0x83; 3]));
        for n in 1..=4 {
            client.extend(ping(n));
        }
        let inner = Trickle {
            to_read: client.clone(),
            ..Trickle::default()
        };
        let policy = Policy {
            min_time: Duration::from_secs(1),
            permit_without_stream: true,
        };
        let mut watch = PingWatch::new(inner, policy, Arc::new(AtomicUsize::new(0)));

        // hyper is 5 bytes into a DATA frame when the fourth ping arrives.
        let data = frame(DATA, 0, 5, &[9; 10]);
        let mut written = 0;
        while written < 5 {
            written += write_some(&mut watch, &data[written..5]);
        }
        let mut passed = Vec::new();
        while !watch.handle().closed_for_too_many_pings() {
            match read_some(&mut watch) {
                Poll::Ready(bytes) => passed.extend(bytes),
                Poll::Pending => panic!("the client's bytes ran out before the GOAWAY"),
            }
        }
        // The fourth ping is judged by its header, before its payload.
        assert!(passed.len() >= client.len() - 8, "read {}", passed.len());
        assert_eq!(
            passed,
            client[..passed.len()],
            "reads pass bytes through unchanged"
        );
        assert_eq!(
            read_some(&mut watch),
            Poll::Pending,
            "no EOF before the GOAWAY"
        );

        // hyper offers the rest of the frame and the next one together: the
        // watch takes only the rest of the frame, then the GOAWAY goes out.
        let mut rest = data[5..].to_vec();
        rest.extend(ping(9));
        let mut offered = &rest[..];
        while watch.to_client.rest_of_frame() > 0 {
            let n = write_some(&mut watch, offered);
            offered = &offered[n..];
        }
        assert_eq!(offered, &ping(9)[..], "nothing past the frame was taken");
        assert_eq!(watch.io.written, data, "no GOAWAY inside the frame");
        assert_eq!(
            write_some(&mut watch, offered),
            offered.len(),
            "closed: dropped"
        );
        let mut expected = data.clone();
        expected.extend(expected_goaway(5));
        assert_eq!(watch.io.written, expected);
        assert!(watch.io.shut, "the write half is shut");
        assert_eq!(read_some(&mut watch), Poll::Ready(Vec::new()), "EOF");
    }

    /// Found by fuzz/ (target keepalive): the watch wrote its GOAWAY to a
    /// write half hyper had already shut.
    #[tokio::test(start_paused = true)]
    async fn too_many_pings_after_hyper_shut_the_write_half_end_the_reads_without_writing() {
        let mut client = PREFACE.to_vec();
        for n in 1..=4 {
            client.extend(ping(n));
        }
        let inner = Trickle {
            to_read: client.clone(),
            ..Trickle::default()
        };
        let policy = Policy {
            min_time: Duration::from_secs(1),
            permit_without_stream: true,
        };
        let mut watch = PingWatch::new(inner, policy, Arc::new(AtomicUsize::new(0)));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(matches!(
            Pin::new(&mut watch).poll_shutdown(&mut cx),
            Poll::Ready(Ok(()))
        ));
        // Trickle panics on a write after its shutdown.
        while !watch.handle().closed_for_too_many_pings() {
            assert!(read_some(&mut watch).is_ready(), "the pings ran out");
        }
        assert_eq!(read_some(&mut watch), Poll::Ready(Vec::new()), "EOF");
        assert!(watch.io.written.is_empty(), "nothing was written");
    }
}
