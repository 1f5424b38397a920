//! An in-memory socket for the transport targets: the fuzzer decides how much
//! each write takes (or that it must wait), and what the peer has sent.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

#[derive(Debug, Default)]
pub(crate) struct State {
    /// Bytes the peer sent, not read yet.
    pub(crate) incoming: VecDeque<u8>,
    /// Every byte written, in order.
    pub(crate) written: Vec<u8>,
    /// How many bytes the next write takes; 0 makes it wait.
    pub(crate) room: usize,
    /// How many of `written` had been written at the last flush.
    pub(crate) flushed: usize,
    pub(crate) shut: bool,
}

/// One end of the socket; clones share it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Socket(pub(crate) Rc<RefCell<State>>);

impl AsyncRead for Socket {
    fn poll_read(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let mut state = self.0.borrow_mut();
        if state.incoming.is_empty() {
            return Poll::Pending;
        }
        let n = buf.remaining().min(state.incoming.len());
        let bytes: Vec<u8> = state.incoming.drain(..n).collect();
        buf.put_slice(&bytes);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Socket {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let mut state = self.0.borrow_mut();
        assert!(!state.shut, "a write after shutdown");
        if state.room == 0 && !buf.is_empty() {
            return Poll::Pending;
        }
        let n = buf.len().min(state.room);
        state.written.extend_from_slice(&buf[..n]);
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut state = self.0.borrow_mut();
        state.flushed = state.written.len();
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.0.borrow_mut().shut = true;
        Poll::Ready(Ok(()))
    }
}

/// A context whose waker does nothing: the targets poll by hand.
pub(crate) fn poll<T>(f: impl FnOnce(&mut Context<'_>) -> Poll<T>) -> Poll<T> {
    f(&mut Context::from_waker(std::task::Waker::noop()))
}
