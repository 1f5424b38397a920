//! The write gatherer (runtime/src/transport/gather.rs), which holds hyper's
//! HTTP/2 bytes until the connection task yields: however hyper's writes are
//! split and however much the socket takes, the socket gets exactly what
//! hyper's writes accepted, in order; a finished drain or shutdown leaves
//! nothing behind; a write never takes more than it was given.

use std::io::IoSlice;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::Poll;

use arbitrary::{Arbitrary, Unstructured};
use rust_grpc::__fuzz::gather;
use tokio::io::AsyncWrite;

use crate::io::{Socket, poll};

#[derive(Arbitrary, Debug)]
enum Op {
    /// hyper writes the next `n * 257` bytes (up to 64 KiB: one write can
    /// cross the 32 KiB limit).
    Write(u8),
    WriteVectored(Vec<u8>),
    Flush,
    Drain,
    /// The socket takes `n * 61` bytes per write from now on (0: it is full).
    Room(u8),
    Shutdown,
}

/// hyper's bytes: a counter, so any reordering or loss shows.
fn source() -> &'static [u8] {
    static SOURCE: OnceLock<Vec<u8>> = OnceLock::new();
    SOURCE.get_or_init(|| (0..4u32 << 20).map(|i| (i % 251) as u8).collect())
}

pub fn run(data: &[u8]) {
    let Ok(ops) = Vec::<Op>::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let socket = Socket::default();
    let (mut hyper, drain) = gather(socket.clone());
    let source = source();
    let mut accepted = 0usize;
    for op in &ops {
        match op {
            Op::Write(n) => {
                let end = source.len().min(accepted + usize::from(*n) * 257);
                let buf = &source[accepted..end];
                if let Poll::Ready(result) = poll(|cx| Pin::new(&mut hyper).poll_write(cx, buf)) {
                    let n = result.expect("the socket does not fail");
                    assert!(n <= buf.len());
                    assert!(n > 0 || buf.is_empty(), "a ready write took nothing");
                    accepted += n;
                }
            }
            Op::WriteVectored(sizes) => {
                let mut slices = Vec::new();
                let mut at = accepted;
                for size in sizes {
                    let end = source.len().min(at + usize::from(*size) * 257);
                    slices.push(IoSlice::new(&source[at..end]));
                    at = end;
                }
                let total = at - accepted;
                if let Poll::Ready(result) =
                    poll(|cx| Pin::new(&mut hyper).poll_write_vectored(cx, &slices))
                {
                    let n = result.expect("the socket does not fail");
                    assert!(n <= total);
                    assert!(n > 0 || total == 0, "a ready write took nothing");
                    accepted += n;
                }
            }
            Op::Flush => {
                let ready = poll(|cx| Pin::new(&mut hyper).poll_flush(cx));
                assert!(ready.is_ready(), "hyper's flush waits");
            }
            Op::Drain => {
                if let Poll::Ready(result) = poll(|cx| drain.poll_drain(cx)) {
                    result.expect("the socket does not fail");
                    let state = socket.0.borrow();
                    assert_eq!(state.written.len(), accepted, "a drain left bytes behind");
                    assert_eq!(state.flushed, accepted, "a drain did not flush");
                }
            }
            Op::Room(n) => socket.0.borrow_mut().room = usize::from(*n) * 61,
            Op::Shutdown => {
                if let Poll::Ready(result) = poll(|cx| Pin::new(&mut hyper).poll_shutdown(cx)) {
                    result.expect("the socket does not fail");
                    let state = socket.0.borrow();
                    assert_eq!(state.written.len(), accepted, "shutdown lost bytes");
                    assert!(state.shut);
                    break;
                }
            }
        }
        let state = socket.0.borrow();
        assert!(
            state.written.len() <= accepted,
            "the socket got bytes hyper never wrote"
        );
        assert_eq!(
            state.written[..],
            source[..state.written.len()],
            "bytes out of order"
        );
    }
}
