//! Gathers a server connection's writes into one buffer that goes out when the
//! connection task has done all it can for now.
//!
//! h2 writes every DATA frame of 256 bytes or more with its own `writev` and
//! flushes after each, so a stream of 16 KiB messages costs a system call per
//! message, and on loopback each call also runs the receiver's TCP path. Behind
//! [`Gather`], hyper's writes are copied into one buffer and its flushes return
//! at once; [`Drain`] writes the buffer when the connection's future yields (or
//! as soon as the buffer holds [`LIMIT`] bytes). A write of [`DIRECT`] bytes or
//! more (a large DATA frame) is not copied: it goes out at once, in one `writev`
//! behind what is gathered. Shutdown drains first, so nothing hyper wrote is
//! lost.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Bytes gathered before a write goes out without waiting for the task to
/// yield: about two 16 KiB frames, as grpc-go's 32 KiB write buffer.
pub(crate) const LIMIT: usize = 32 * 1024;
/// A write this big goes to the socket as it is, with what is gathered ahead
/// of it: copying a large DATA frame costs more than the system call it
/// would share.
const DIRECT: usize = 8 * 1024;
/// Slices in one write-through `writev`: what is gathered, then hyper's.
const MAX_SLICES: usize = 8;
/// The first allocation of an empty buffer; it is freed whenever it drains,
/// so an idle connection holds none. Small: a unary call's frames fit, and
/// with 4 KiB every connection's server RSS was 2 KiB higher (the freed
/// buffers left written pages behind; benches/conn-memory.sh, 23.3 against
/// 21.1 KiB per idle connection). Bigger writes reserve what they need.
const FIRST: usize = 512;

struct Shared<IO> {
    io: IO,
    buf: Vec<u8>,
    /// How much of `buf` is already written.
    sent: usize,
    /// Bytes went to `io` since its last flush (TLS may hold some back).
    unflushed: bool,
}

/// The IO half that hyper owns.
pub(crate) struct Gather<IO> {
    shared: Arc<Mutex<Shared<IO>>>,
}

/// The handle that writes what [`Gather`] holds; polled by the connection task
/// after the connection's future.
pub(crate) struct Drain<IO> {
    shared: Arc<Mutex<Shared<IO>>>,
}

/// Wraps `io`; the [`Drain`] must be polled whenever the connection's future
/// has been.
pub(crate) fn gather<IO>(io: IO) -> (Gather<IO>, Drain<IO>) {
    let shared = Arc::new(Mutex::new(Shared {
        io,
        buf: Vec::new(),
        sent: 0,
        unflushed: false,
    }));
    let drain = Drain {
        shared: Arc::clone(&shared),
    };
    (Gather { shared }, drain)
}

fn lock<IO>(shared: &Mutex<Shared<IO>>) -> MutexGuard<'_, Shared<IO>> {
    // A panic while holding the lock left bytes in order; carry on with them.
    shared
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl<IO: AsyncWrite + Unpin> Shared<IO> {
    fn pending(&self) -> usize {
        self.buf.len() - self.sent
    }

    /// Writes until the buffer is empty (then frees it) and flushes `io`.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.sent < self.buf.len() {
            let n = ready!(Pin::new(&mut self.io).poll_write(cx, &self.buf[self.sent..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.sent += n;
            self.unflushed = true;
        }
        if self.buf.capacity() > 0 {
            self.buf = Vec::new();
            self.sent = 0;
        }
        if self.unflushed {
            ready!(Pin::new(&mut self.io).poll_flush(cx))?;
            self.unflushed = false;
        }
        Poll::Ready(Ok(()))
    }

    fn poll_gather(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        if total == 0 {
            return Poll::Ready(Ok(0));
        }
        if self.pending() >= LIMIT {
            ready!(self.poll_drain(cx))?;
        }
        if total >= DIRECT {
            return self.poll_write_through(cx, bufs);
        }
        if self.buf.capacity() == 0 {
            self.buf.reserve(total.clamp(FIRST, LIMIT));
        }
        let mut room = LIMIT - self.pending();
        let mut taken = 0;
        for buf in bufs {
            if room == 0 {
                break;
            }
            let part = &buf[..buf.len().min(room)];
            self.buf.extend_from_slice(part);
            room -= part.len();
            taken += part.len();
        }
        Poll::Ready(Ok(taken))
    }

    /// Writes `bufs` without copying them, behind what is gathered and in the
    /// same `writev`; returns how much of `bufs` went.
    fn poll_write_through(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        loop {
            let pending = self.pending();
            let n = if pending == 0 {
                ready!(Pin::new(&mut self.io).poll_write_vectored(cx, bufs))?
            } else {
                let mut slices = [IoSlice::new(&[]); MAX_SLICES];
                slices[0] = IoSlice::new(&self.buf[self.sent..]);
                let count = bufs.len().min(MAX_SLICES - 1);
                slices[1..=count].copy_from_slice(&bufs[..count]);
                ready!(Pin::new(&mut self.io).poll_write_vectored(cx, &slices[..=count]))?
            };
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.unflushed = true;
            if n < pending {
                self.sent += n;
                continue;
            }
            if pending > 0 {
                self.buf = Vec::new();
                self.sent = 0;
            }
            if n > pending {
                return Poll::Ready(Ok(n - pending));
            }
        }
    }
}

impl<IO: AsyncWrite + Unpin> Drain<IO> {
    /// Writes what is gathered; `Pending` when the socket is full (the task
    /// is woken when it drains).
    pub(crate) fn poll_drain(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut shared = lock(&self.shared);
        if shared.pending() == 0 && !shared.unflushed {
            return Poll::Ready(Ok(()));
        }
        shared.poll_drain(cx)
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Gather<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut lock(&self.shared).io).poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Gather<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        lock(&self.shared).poll_gather(cx, &[IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        lock(&self.shared).poll_gather(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    /// Returns at once: [`Drain`] writes when the task yields.
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut shared = lock(&self.shared);
        ready!(shared.poll_drain(cx))?;
        Pin::new(&mut shared.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Waker;

    /// Records each write; accepts at most `per_write` bytes, or none while
    /// `full`.
    #[derive(Default)]
    struct Recorder {
        writes: Vec<Vec<u8>>,
        per_write: Option<usize>,
        full: bool,
        flushes: usize,
        shut: bool,
    }

    impl AsyncRead for Recorder {
        fn poll_read(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            _: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    impl AsyncWrite for Recorder {
        fn poll_write(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            if self.full {
                return Poll::Pending;
            }
            let n = buf.len().min(self.per_write.unwrap_or(usize::MAX));
            self.writes.push(buf[..n].to_vec());
            Poll::Ready(Ok(n))
        }

        /// Takes every slice (up to `per_write` bytes) as one write, as `writev`.
        fn poll_write_vectored(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            bufs: &[IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            let all: Vec<u8> = bufs.iter().flat_map(|b| b.iter().copied()).collect();
            self.poll_write(cx, &all)
        }

        fn is_write_vectored(&self) -> bool {
            true
        }

        fn poll_flush(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            self.flushes += 1;
            Poll::Ready(Ok(()))
        }

        fn poll_shutdown(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            self.shut = true;
            Poll::Ready(Ok(()))
        }
    }

    fn cx() -> Context<'static> {
        Context::from_waker(Waker::noop())
    }

    fn write(io: &mut Gather<Recorder>, bufs: &[&[u8]]) -> Poll<io::Result<usize>> {
        let slices: Vec<IoSlice<'_>> = bufs.iter().map(|b| IoSlice::new(b)).collect();
        Pin::new(io).poll_write_vectored(&mut cx(), &slices)
    }

    fn recorded(drain: &Drain<Recorder>) -> Vec<Vec<u8>> {
        lock(&drain.shared).io.writes.clone()
    }

    #[test]
    fn writes_and_flushes_wait_for_the_drain_then_go_out_as_one() {
        let (mut io, drain) = gather(Recorder::default());
        for frame in [&b"head"[..], b"data", b"trailers"] {
            assert!(
                matches!(write(&mut io, &[frame, b"|"]), Poll::Ready(Ok(n)) if n == frame.len() + 1)
            );
            assert!(Pin::new(&mut io).poll_flush(&mut cx()).is_ready());
        }
        assert!(recorded(&drain).is_empty());
        assert!(matches!(drain.poll_drain(&mut cx()), Poll::Ready(Ok(()))));
        assert_eq!(recorded(&drain), vec![b"head|data|trailers|".to_vec()]);
        assert_eq!(lock(&drain.shared).io.flushes, 1);
        // Drained: the buffer is freed, and an idle drain writes nothing.
        assert_eq!(lock(&drain.shared).buf.capacity(), 0);
        assert!(drain.poll_drain(&mut cx()).is_ready());
        assert_eq!(recorded(&drain).len(), 1);
    }

    #[test]
    fn a_full_buffer_is_written_before_more_is_taken() {
        let (mut io, drain) = gather(Recorder::default());
        let frame = vec![7u8; DIRECT - 1];
        let mut taken = 0;
        while taken < LIMIT {
            let Poll::Ready(Ok(n)) = write(&mut io, &[&frame]) else {
                panic!("a write into a buffer with room waited or failed");
            };
            // Only what fits up to the limit is taken.
            assert_eq!(n, frame.len().min(LIMIT - taken));
            taken += n;
        }
        assert!(recorded(&drain).is_empty());
        // The buffer is full: the next write sends it first.
        assert!(matches!(write(&mut io, &[b"x"]), Poll::Ready(Ok(1))));
        assert_eq!(recorded(&drain).len(), 1);
        assert_eq!(recorded(&drain)[0].len(), LIMIT);
    }

    #[test]
    fn a_big_write_goes_out_uncopied_behind_what_is_gathered() {
        let (mut io, drain) = gather(Recorder::default());
        assert!(matches!(write(&mut io, &[b"head"]), Poll::Ready(Ok(4))));
        let big = vec![2u8; DIRECT];
        assert!(matches!(write(&mut io, &[b"hd", &big]), Poll::Ready(Ok(n)) if n == big.len() + 2));
        // One write: the gathered bytes, then hyper's.
        assert_eq!(recorded(&drain), vec![[&b"headhd"[..], &big].concat()]);
        assert_eq!(lock(&drain.shared).buf.capacity(), 0);
        assert!(matches!(drain.poll_drain(&mut cx()), Poll::Ready(Ok(()))));
        assert_eq!(lock(&drain.shared).io.flushes, 1);
    }

    #[test]
    fn a_big_write_behind_a_slow_socket_waits_and_loses_nothing() {
        let (mut io, drain) = gather(Recorder {
            per_write: Some(3),
            ..Recorder::default()
        });
        assert!(write(&mut io, &[b"abcdefgh"]).is_ready());
        let big = vec![3u8; DIRECT];
        lock(&drain.shared).io.full = true;
        assert!(write(&mut io, &[&big]).is_pending());
        lock(&drain.shared).io.full = false;
        // The gathered bytes go first, three at a time, then the big write's.
        assert!(matches!(write(&mut io, &[&big]), Poll::Ready(Ok(1))));
        assert_eq!(
            recorded(&drain).concat(),
            [&b"abcdefgh"[..], &big[..1]].concat()
        );
    }

    #[test]
    fn a_big_write_into_an_empty_buffer_is_not_copied() {
        let (mut io, drain) = gather(Recorder::default());
        let big = vec![1u8; LIMIT + 1];
        assert!(matches!(write(&mut io, &[&big]), Poll::Ready(Ok(n)) if n == big.len()));
        assert_eq!(recorded(&drain), vec![big]);
        assert_eq!(lock(&drain.shared).buf.capacity(), 0);
        // It still gets its flush (TLS may hold the tail of a record back).
        assert_eq!(lock(&drain.shared).io.flushes, 0);
        assert!(matches!(drain.poll_drain(&mut cx()), Poll::Ready(Ok(()))));
        assert_eq!(lock(&drain.shared).io.flushes, 1);
        assert!(drain.poll_drain(&mut cx()).is_ready());
        assert_eq!(lock(&drain.shared).io.flushes, 1);
    }

    #[test]
    fn a_slow_socket_gets_the_rest_on_the_next_drain_in_order() {
        let (mut io, drain) = gather(Recorder {
            per_write: Some(3),
            ..Recorder::default()
        });
        assert!(write(&mut io, &[b"abcdefgh"]).is_ready());
        lock(&drain.shared).io.full = true;
        assert!(drain.poll_drain(&mut cx()).is_pending());
        assert!(write(&mut io, &[b"ij"]).is_ready());
        lock(&drain.shared).io.full = false;
        assert!(matches!(drain.poll_drain(&mut cx()), Poll::Ready(Ok(()))));
        assert_eq!(recorded(&drain).concat(), b"abcdefghij");
    }

    #[test]
    fn shutdown_sends_what_is_gathered_first() {
        let (mut io, drain) = gather(Recorder::default());
        assert!(write(&mut io, &[b"goaway"]).is_ready());
        assert!(matches!(
            Pin::new(&mut io).poll_shutdown(&mut cx()),
            Poll::Ready(Ok(()))
        ));
        let shared = lock(&drain.shared);
        assert_eq!(shared.io.writes, vec![b"goaway".to_vec()]);
        assert!(shared.io.shut);
    }
}
