//! Lets a connection's writes of one moment go out together.
//!
//! hyper's HTTP/2 client writes a request's HEADERS as soon as its stream
//! opens, and the DATA only after the task that sends the body has run: two
//! writes, two TCP segments and two wake-ups of the server per unary call.
//! [`Coalesce`] holds back the first write of each flush once, rescheduling
//! the connection's task behind the tasks already woken (the body's among
//! them), so that when it runs again the frames those queued go out with it.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

pin_project_lite::pin_project! {
    /// A byte stream whose writes wait one turn of the scheduler.
    pub(crate) struct Coalesce<IO> {
        #[pin]
        io: IO,
        // This flush's writes already waited their turn.
        waited: bool,
    }
}

impl<IO> Coalesce<IO> {
    pub(crate) fn new(io: IO) -> Self {
        Self { io, waited: false }
    }
}

/// Whether this write must wait: the first of a flush does, once, with its
/// task woken to come back after the tasks already woken.
fn wait_a_turn(waited: &mut bool, cx: &Context<'_>) -> bool {
    if *waited {
        return false;
    }
    *waited = true;
    cx.waker().wake_by_ref();
    true
}

impl<IO: AsyncRead> AsyncRead for Coalesce<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.project().io.poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite> AsyncWrite for Coalesce<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.project();
        if wait_a_turn(this.waited, cx) {
            return Poll::Pending;
        }
        this.io.poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.project();
        if wait_a_turn(this.waited, cx) {
            return Poll::Pending;
        }
        this.io.poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.project();
        let flushed = this.io.poll_flush(cx);
        if flushed.is_ready() {
            *this.waited = false;
        }
        flushed
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().io.poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::{Wake, Waker};

    #[derive(Default)]
    struct Wakes(AtomicUsize);

    impl Wake for Wakes {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Records each write.
    #[derive(Default)]
    struct Recorder(Vec<Vec<u8>>);

    impl AsyncWrite for Recorder {
        fn poll_write(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            self.0.push(buf.to_vec());
            Poll::Ready(Ok(buf.len()))
        }

        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    #[test]
    fn the_first_write_of_a_flush_waits_one_turn_and_wakes_its_task() {
        let wakes = Arc::new(Wakes::default());
        let waker = Waker::from(Arc::clone(&wakes));
        let mut cx = Context::from_waker(&waker);
        let mut io = Coalesce::new(Recorder::default());
        let mut io = Pin::new(&mut io);

        assert!(io.as_mut().poll_write(&mut cx, b"headers").is_pending());
        assert_eq!(wakes.0.load(Ordering::Relaxed), 1, "woken to come back");
        assert!(io.io.0.is_empty(), "nothing written yet");

        // The next turn writes, and later writes of the same flush go at once.
        assert!(matches!(
            io.as_mut().poll_write(&mut cx, b"headers+data"),
            Poll::Ready(Ok(12))
        ));
        assert!(matches!(
            io.as_mut().poll_write(&mut cx, b"more"),
            Poll::Ready(Ok(4))
        ));
        assert!(io.as_mut().poll_flush(&mut cx).is_ready());
        assert_eq!(io.io.0, [b"headers+data".to_vec(), b"more".to_vec()]);

        // After the flush, the next write waits its turn again.
        assert!(io.as_mut().poll_write(&mut cx, b"next").is_pending());
        assert_eq!(wakes.0.load(Ordering::Relaxed), 2);
    }
}
