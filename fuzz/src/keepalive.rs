//! The keepalive watch (runtime/src/transport/keepalive.rs), which scans raw
//! HTTP/2 frame headers both ways below h2: whatever the client sends and
//! however hyper's writes and the socket's room split the bytes, reads pass
//! the client's bytes through unchanged, writes reach the socket unchanged, and
//! a GOAWAY (ENHANCE_YOUR_CALM, `too_many_pings`) is only ever appended at a
//! frame boundary of what hyper wrote, after which nothing more goes out.

use std::io::IoSlice;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Poll;
use std::time::Duration;

use arbitrary::{Arbitrary, Unstructured};
use rust_grpc::__fuzz::PingWatch;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::io::{Socket, poll};

const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// An HTTP/2 frame, or raw bytes; kinds are mostly DATA, HEADERS and PING.
#[derive(Arbitrary, Debug)]
enum Frame {
    Frame {
        kind: u8,
        flags: u8,
        stream: u32,
        payload: Vec<u8>,
    },
    Raw(Vec<u8>),
}

impl Frame {
    fn append(&self, out: &mut Vec<u8>) {
        match self {
            Frame::Frame {
                kind,
                flags,
                stream,
                payload,
            } => {
                let len = payload.len().min(0xff_ffff) as u32;
                out.extend_from_slice(&len.to_be_bytes()[1..]);
                // DATA, HEADERS, PING, GOAWAY most of the time.
                out.push(match kind % 8 {
                    0 | 1 => 0,
                    2 | 3 => 1,
                    4 | 5 => 6,
                    6 => 7,
                    _ => *kind,
                });
                out.push(*flags);
                out.extend_from_slice(&stream.to_be_bytes());
                out.extend_from_slice(&payload[..len as usize]);
            }
            Frame::Raw(bytes) => out.extend_from_slice(bytes),
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Op {
    ClientSends(Frame),
    Read(u8),
    HyperQueues(Frame),
    Write(u8),
    WriteVectored(Vec<u8>),
    Flush,
    Room(u8),
    Calls(u8),
    Shutdown,
}

#[derive(Arbitrary, Debug)]
struct Input {
    min_time_secs: u16,
    permit_without_stream: bool,
    no_preface: bool,
    ops: Vec<Op>,
}

pub fn run(data: &[u8]) {
    let Ok(input) = Input::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let socket = Socket::default();
    let calls = Arc::new(AtomicUsize::new(0));
    let mut watch = PingWatch::new(
        socket.clone(),
        Duration::from_secs(input.min_time_secs.into()),
        input.permit_without_stream,
        Arc::clone(&calls),
    );
    let mut sent = Vec::new();
    if !input.no_preface {
        sent.extend_from_slice(PREFACE);
        socket.0.borrow_mut().incoming.extend(PREFACE);
    }
    let mut read = Vec::new();
    let mut queued = Vec::new();
    let mut accepted = 0usize;
    let mut shut = false;
    for op in &input.ops {
        match op {
            Op::ClientSends(frame) => {
                let start = sent.len();
                frame.append(&mut sent);
                socket.0.borrow_mut().incoming.extend(&sent[start..]);
            }
            Op::Read(size) => {
                let mut buf = vec![0; usize::from(*size).max(1)];
                let mut buf = ReadBuf::new(&mut buf);
                if let Poll::Ready(result) = poll(|cx| Pin::new(&mut watch).poll_read(cx, &mut buf))
                {
                    result.expect("the socket does not fail");
                    read.extend_from_slice(buf.filled());
                }
                assert!(sent.starts_with(&read), "a read changed the client's bytes");
            }
            Op::HyperQueues(frame) => frame.append(&mut queued),
            Op::Write(size) if !shut => {
                let end = queued.len().min(accepted + usize::from(*size));
                let buf = &queued[accepted..end];
                if let Poll::Ready(result) = poll(|cx| Pin::new(&mut watch).poll_write(cx, buf)) {
                    let n = result.expect("the socket does not fail");
                    assert!(n <= buf.len());
                    accepted += n;
                }
            }
            Op::WriteVectored(sizes) if !shut => {
                let mut slices = Vec::new();
                let mut at = accepted;
                for size in sizes {
                    let end = queued.len().min(at + usize::from(*size));
                    slices.push(IoSlice::new(&queued[at..end]));
                    at = end;
                }
                let total: usize = slices.iter().map(|s| s.len()).sum();
                if let Poll::Ready(result) =
                    poll(|cx| Pin::new(&mut watch).poll_write_vectored(cx, &slices))
                {
                    let n = result.expect("the socket does not fail");
                    assert!(n <= total);
                    accepted += n;
                }
            }
            Op::Flush if !shut => {
                let _ = poll(|cx| Pin::new(&mut watch).poll_flush(cx));
            }
            Op::Shutdown if !shut => {
                if let Poll::Ready(result) = poll(|cx| Pin::new(&mut watch).poll_shutdown(cx)) {
                    result.expect("the socket does not fail");
                    shut = true;
                }
            }
            Op::Room(room) => socket.0.borrow_mut().room = usize::from(*room),
            Op::Calls(n) => calls.store(usize::from(*n % 3), Ordering::Relaxed),
            _ => {}
        }
        check_written(&socket.0.borrow().written, &queued[..accepted], &watch);
    }
}

/// What reached the socket is what hyper wrote, or a frame-aligned part of it
/// followed by (part of) the GOAWAY.
fn check_written(written: &[u8], accepted: &[u8], watch: &PingWatch<Socket>) {
    if written == accepted {
        return;
    }
    assert!(
        watch.closed_for_too_many_pings(),
        "the socket got bytes hyper did not write, without a GOAWAY"
    );
    let goaway = |at: usize| {
        let tail = &written[at..];
        let mut expected = vec![0, 0, 22, 7, 0, 0, 0, 0, 0];
        expected.extend_from_slice(&[0; 4]); // last stream id, checked below
        expected.extend_from_slice(&11u32.to_be_bytes());
        expected.extend_from_slice(b"too_many_pings");
        tail.len() <= expected.len()
            && tail
                .iter()
                .zip(&expected)
                .enumerate()
                .all(|(i, (a, b))| (9..13).contains(&i) && (i != 9 || a & 0x80 == 0) || a == b)
    };
    // Frame boundaries of hyper's bytes, where a GOAWAY may start.
    let mut at = 0usize;
    loop {
        if at <= written.len() && written[..at] == accepted[..at] && goaway(at) {
            return;
        }
        let Some(header) = accepted.get(at..at + 9) else {
            break;
        };
        let len = u32::from_be_bytes([0, header[0], header[1], header[2]]) as usize;
        at += 9 + len;
        if at > accepted.len() {
            break;
        }
    }
    panic!(
        "the socket got {written:?}, which is not hyper's {accepted:?} cut at a frame boundary and a GOAWAY"
    );
}
