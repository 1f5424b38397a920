//! A request body that can be sent more than once: the frames of the call's
//! body are recorded while an attempt sends them, so a retry or hedge can send
//! them again, then go on pulling the original body where the record ends.
//!
//! The record is bounded (gRFC A6's per-call buffer). Past the limit the call
//! commits to the attempt sending it: the record is dropped, that attempt
//! alone goes on, and no attempt can be started again. A body whose whole
//! content is known up front and fits (a unary request) is read at once and
//! each attempt replays shared `Bytes`; one known to be too big is not
//! wrapped at all.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Wake, Waker};

use bytes::Bytes;
use http_body::{Body as _, Frame, SizeHint};
use tokio::sync::Notify;

use crate::base::body::BoxBody;
use crate::base::status::Status;

/// The replayable body of one call.
pub(crate) struct Replay {
    kind: Kind,
}

enum Kind {
    /// The whole body was one data frame (a unary request), read up front.
    One(Bytes),
    /// The whole body, read up front.
    Held(Arc<[Recorded]>),
    /// Recorded as attempts send it.
    Shared(Arc<Shared>),
    /// Too big to record: the first attempt sends it, no other can.
    Once(Option<BoxBody>),
}

/// A frame as recorded: data, or the trailers that end a body.
#[derive(Clone)]
enum Recorded {
    Data(Bytes),
    Trailers(http::HeaderMap),
}

impl Recorded {
    fn new(frame: Frame<Bytes>) -> Self {
        match frame.into_data() {
            Ok(data) => Self::Data(data),
            // A frame is data or trailers; there is no third kind.
            Err(frame) => Self::Trailers(frame.into_trailers().unwrap_or_default()),
        }
    }

    fn len(&self) -> usize {
        match self {
            Self::Data(data) => data.len(),
            Self::Trailers(_) => 0,
        }
    }

    fn into_frame(self) -> Frame<Bytes> {
        match self {
            Self::Data(data) => Frame::data(data),
            Self::Trailers(trailers) => Frame::trailers(trailers),
        }
    }
}

struct Shared {
    state: Mutex<State>,
    /// The bodies waiting for the original body's next frame.
    waiters: Arc<Waiters>,
    /// Wakes every waiter: the original body is polled with it, so whichever
    /// attempt is polled next pulls the frame and the others read the record.
    source_waker: Waker,
    /// Told when the call commits on its own (over the limit, or the body failed).
    committed: Notify,
}

struct State {
    /// Recorded frames; `frames[0]` is frame number `base` of the body.
    frames: VecDeque<Recorded>,
    base: usize,
    bytes: usize,
    limit: usize,
    /// The original body, until it ends.
    source: Option<BoxBody>,
    /// How the original body ended, after the recorded frames.
    end: Option<Result<(), Status>>,
    /// The attempt the call committed to, which alone may go on sending.
    leader: Option<usize>,
}

#[derive(Default)]
struct Waiters(Mutex<Vec<Waker>>);

impl Waiters {
    fn add(&self, waker: &Waker) {
        let mut wakers = lock(&self.0);
        if !wakers.iter().any(|w| w.will_wake(waker)) {
            wakers.push(waker.clone());
        }
    }

    fn wake_all(&self) {
        let wakers = std::mem::take(&mut *lock(&self.0));
        wakers.into_iter().for_each(Waker::wake);
    }
}

impl Wake for Waiters {
    fn wake(self: Arc<Self>) {
        self.wake_all();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.wake_all();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // No code here panics while holding a lock; if one did, the data is still whole.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Replay {
    /// Wraps a call's body, recording at most `limit` bytes of it. A body
    /// whose size is known and fits is read now, as far as it is ready.
    pub(crate) async fn new(mut body: BoxBody, limit: usize) -> Self {
        let known = body.size_hint().exact();
        if known.is_some_and(|size| size > limit as u64) {
            return Self {
                kind: Kind::Once(Some(body)),
            };
        }
        let mut frames = VecDeque::new();
        let mut bytes = 0;
        let mut end = None;
        if known.is_some() {
            end = std::future::poll_fn(|cx| {
                loop {
                    match Pin::new(&mut body).poll_frame(cx) {
                        Poll::Ready(Some(Ok(frame))) => {
                            let frame = Recorded::new(frame);
                            bytes += frame.len();
                            frames.push_back(frame);
                        }
                        Poll::Ready(Some(Err(status))) => return Poll::Ready(Some(Err(status))),
                        Poll::Ready(None) => return Poll::Ready(Some(Ok(()))),
                        // Not ready now: the rest is recorded as it is sent.
                        Poll::Pending => return Poll::Ready(None),
                    }
                }
            })
            .await;
        }
        if matches!(end, Some(Ok(()))) && bytes <= limit {
            if frames.len() == 1
                && let Some(Recorded::Data(data)) = frames.front()
            {
                return Self {
                    kind: Kind::One(data.clone()),
                };
            }
            return Self {
                kind: Kind::Held(frames.into_iter().collect()),
            };
        }
        // A body that failed, or lied about its size, commits the call now.
        let leader = (end.is_some() || bytes > limit).then_some(0);
        let waiters = Arc::new(Waiters::default());
        Self {
            kind: Kind::Shared(Arc::new(Shared {
                state: Mutex::new(State {
                    frames,
                    base: 0,
                    bytes,
                    limit,
                    source: end.is_none().then_some(body),
                    end,
                    leader,
                }),
                source_waker: Waker::from(waiters.clone()),
                waiters,
                committed: Notify::new(),
            })),
        }
    }

    /// The body attempt `id` sends; `None` if the call is committed to
    /// another attempt, so this one cannot send the whole body.
    pub(crate) fn body(&mut self, id: usize) -> Option<BoxBody> {
        match &mut self.kind {
            Kind::One(data) => Some(BoxBody::new(ReplayBody::One(Some(data.clone())))),
            Kind::Held(frames) => Some(BoxBody::new(ReplayBody::Held {
                frames: frames.clone(),
                cursor: 0,
            })),
            Kind::Once(body) => body.take(),
            Kind::Shared(shared) => {
                if lock(&shared.state)
                    .leader
                    .is_some_and(|leader| leader != id)
                {
                    return None;
                }
                Some(BoxBody::new(ReplayBody::Shared {
                    shared: shared.clone(),
                    id,
                    cursor: 0,
                }))
            }
        }
    }

    /// Commits the call to attempt `id`: recording stops, and the record is
    /// freed as that attempt sends it.
    pub(crate) fn commit(&self, id: usize) {
        if let Kind::Shared(shared) = &self.kind {
            lock(&shared.state).leader.get_or_insert(id);
        }
    }

    /// The attempt the call committed to on its own (its body went past the
    /// limit or failed), if it did: no other attempt may be started.
    pub(crate) fn committed_to(&self) -> Option<usize> {
        match &self.kind {
            Kind::One(_) | Kind::Held(_) => None,
            Kind::Once(_) => Some(0),
            Kind::Shared(shared) => lock(&shared.state).leader,
        }
    }

    /// Waits until the call commits on its own; see [`Self::committed_to`].
    /// Owns what it waits on, so waiting borrows nothing (`Replay` is not `Sync`).
    pub(crate) fn committed(&self) -> impl Future<Output = ()> + Send + 'static {
        let shared = match &self.kind {
            Kind::Shared(shared) => Some(shared.clone()),
            _ => None,
        };
        async move {
            match shared {
                Some(shared) => shared.committed.notified().await,
                None => std::future::pending().await,
            }
        }
    }
}

/// One attempt's copy of the body.
enum ReplayBody {
    One(Option<Bytes>),
    Held {
        frames: Arc<[Recorded]>,
        cursor: usize,
    },
    Shared {
        shared: Arc<Shared>,
        id: usize,
        /// The number of the next frame this attempt sends.
        cursor: usize,
    },
}

impl http_body::Body for ReplayBody {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        match self.get_mut() {
            Self::One(data) => Poll::Ready(data.take().map(|data| Ok(Frame::data(data)))),
            Self::Held { frames, cursor } => {
                let frame = frames.get(*cursor).cloned();
                *cursor += usize::from(frame.is_some());
                Poll::Ready(frame.map(|frame| Ok(frame.into_frame())))
            }
            Self::Shared { shared, id, cursor } => shared.poll(*id, cursor, cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Self::One(data) => data.is_none(),
            Self::Held { frames, cursor } => *cursor >= frames.len(),
            Self::Shared { .. } => false,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Self::One(data) => SizeHint::with_exact(data.as_ref().map_or(0, Bytes::len) as u64),
            Self::Held { frames, cursor } => {
                let left = frames
                    .iter()
                    .skip(*cursor)
                    .map(Recorded::len)
                    .sum::<usize>();
                SizeHint::with_exact(left as u64)
            }
            Self::Shared { .. } => SizeHint::default(),
        }
    }
}

impl Shared {
    fn poll(
        &self,
        id: usize,
        cursor: &mut usize,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let mut state = lock(&self.state);
        if state.leader.is_some_and(|leader| leader != id) || *cursor < state.base {
            return Poll::Ready(Some(Err(Status::cancelled(
                "another attempt of this call was committed; this one cannot resend its request",
            ))));
        }
        if let Some(frame) = state.frames.get(*cursor - state.base).cloned() {
            *cursor += 1;
            state.forget_read(id, *cursor);
            return Poll::Ready(Some(Ok(frame.into_frame())));
        }
        if let Some(end) = &state.end {
            return Poll::Ready(end.clone().err().map(Err));
        }
        let Some(source) = state.source.as_mut() else {
            return Poll::Ready(None);
        };
        // Registered before polling, so a wake during the poll reaches us.
        self.waiters.add(cx.waker());
        let polled = Pin::new(source).poll_frame(&mut Context::from_waker(&self.source_waker));
        let newly_committed;
        let frame = match polled {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(None) => {
                state.source = None;
                state.end = Some(Ok(()));
                newly_committed = false;
                None
            }
            Poll::Ready(Some(Err(status))) => {
                state.source = None;
                state.end = Some(Err(status.clone()));
                newly_committed = state.leader.replace(id).is_none();
                Some(Err(status))
            }
            Poll::Ready(Some(Ok(frame))) => {
                *cursor += 1;
                let frame = Recorded::new(frame);
                let len = frame.len();
                newly_committed =
                    state.leader.is_none() && state.bytes.saturating_add(len) > state.limit;
                if newly_committed {
                    state.leader = Some(id);
                }
                if state.leader.is_none() {
                    state.frames.push_back(frame.clone());
                    state.bytes += len;
                } else {
                    state.forget_read(id, *cursor);
                }
                Some(Ok(frame.into_frame()))
            }
        };
        drop(state);
        if newly_committed {
            self.committed.notify_one();
        }
        // The others waiting can now read what was recorded, or the end.
        self.waiters.wake_all();
        Poll::Ready(frame)
    }
}

impl State {
    /// Once committed, frames the leader has sent are not needed again.
    fn forget_read(&mut self, id: usize, cursor: usize) {
        if self.leader == Some(id) {
            let read = (cursor - self.base).min(self.frames.len());
            self.frames.drain(..read);
            self.base = cursor;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::client::retry::testing::{read, read_all, streaming, unary};

    fn chunk(data: &'static [u8]) -> Bytes {
        Bytes::from_static(data)
    }

    /// A body of known size in several frames, all ready.
    struct Frames(VecDeque<Bytes>);

    impl http_body::Body for Frames {
        type Data = Bytes;
        type Error = Status;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
            Poll::Ready(self.0.pop_front().map(|data| Ok(Frame::data(data))))
        }

        fn size_hint(&self) -> SizeHint {
            SizeHint::with_exact(self.0.iter().map(Bytes::len).sum::<usize>() as u64)
        }
    }

    #[tokio::test]
    async fn a_known_body_of_several_frames_that_fits_is_held_and_every_attempt_replays_it() {
        let frames = Frames([chunk(b"hel"), chunk(b"lo")].into());
        let mut replay = Replay::new(BoxBody::new(frames), 1024).await;
        assert!(matches!(replay.kind, Kind::Held(_)));
        assert_eq!(replay.committed_to(), None);
        for id in [0, 1, 7] {
            let body = replay.body(id).unwrap();
            assert_eq!(body.size_hint().exact(), Some(5));
            assert_eq!(read_all(body).await.unwrap(), b"hello");
        }
    }

    #[tokio::test]
    async fn a_known_body_that_fits_is_held_and_every_attempt_replays_it() {
        let mut replay = Replay::new(unary(b"hello"), 1024).await;
        assert!(
            matches!(replay.kind, Kind::One(_)),
            "one message: no record"
        );
        assert_eq!(replay.committed_to(), None);
        for id in [0, 1, 7] {
            let body = replay.body(id).unwrap();
            assert_eq!(body.size_hint().exact(), Some(5));
            assert_eq!(read_all(body).await.unwrap(), b"hello");
        }
    }

    #[tokio::test]
    async fn a_body_known_to_be_too_big_is_sent_once_as_it_is() {
        let mut replay = Replay::new(unary(b"hello"), 4).await;
        assert_eq!(replay.committed_to(), Some(0));
        assert_eq!(read_all(replay.body(0).unwrap()).await.unwrap(), b"hello");
        assert!(replay.body(1).is_none());
    }

    #[tokio::test]
    async fn a_streaming_body_is_replayed_from_the_record_then_from_the_source() {
        let (sender, body) = streaming();
        let mut replay = Replay::new(body, 1024).await;
        sender.send(chunk(b"ab")).unwrap();
        sender.send(chunk(b"cd")).unwrap();
        let mut first = replay.body(0).unwrap();
        assert_eq!(read(&mut first, 2).await.unwrap(), b"abcd");
        let mut second = replay.body(1).unwrap();
        assert_eq!(read(&mut second, 2).await.unwrap(), b"abcd");
        sender.send(chunk(b"ef")).unwrap();
        drop(sender);
        // The second pulls the new frame from the source; the first reads the record.
        assert_eq!(read_all(second).await.unwrap(), b"ef");
        assert_eq!(read_all(first).await.unwrap(), b"ef");
        assert_eq!(read_all(replay.body(2).unwrap()).await.unwrap(), b"abcdef");
        assert_eq!(replay.committed_to(), None);
    }

    #[tokio::test]
    async fn going_past_the_limit_commits_to_the_attempt_sending() {
        let (sender, body) = streaming();
        let mut replay = Replay::new(body, 8).await;
        let committed = replay.committed();
        let mut first = replay.body(0).unwrap();
        let mut early = replay.body(1).unwrap();
        sender.send(chunk(b"12345")).unwrap();
        sender.send(chunk(b"67890")).unwrap();
        assert_eq!(read(&mut first, 2).await.unwrap(), b"1234567890");
        assert_eq!(replay.committed_to(), Some(0));
        tokio::time::timeout(Duration::from_secs(5), committed)
            .await
            .unwrap();
        assert!(
            replay.body(2).is_none(),
            "no attempt can start after the commit"
        );
        assert!(
            read(&mut early, 1).await.is_err(),
            "nor can one made before it go on"
        );
        sender.send(chunk(b"more")).unwrap();
        drop(sender);
        assert_eq!(read_all(first).await.unwrap(), b"more");
    }

    #[tokio::test]
    async fn a_commit_stops_recording_and_frees_what_the_leader_sent() {
        let (sender, body) = streaming();
        let mut replay = Replay::new(body, 1024).await;
        sender.send(chunk(b"ab")).unwrap();
        sender.send(chunk(b"cd")).unwrap();
        let mut first = replay.body(0).unwrap();
        assert_eq!(read(&mut first, 2).await.unwrap(), b"abcd");
        let mut second = replay.body(1).unwrap();
        replay.commit(1);
        assert_eq!(read(&mut second, 1).await.unwrap(), b"ab");
        let Kind::Shared(shared) = &replay.kind else {
            unreachable!()
        };
        assert_eq!(
            lock(&shared.state).frames.len(),
            1,
            "the frame sent is forgotten"
        );
        sender.send(chunk(b"ef")).unwrap();
        drop(sender);
        assert_eq!(read_all(second).await.unwrap(), b"cdef");
        assert_eq!(lock(&shared.state).frames.len(), 0);
        assert!(read(&mut first, 1).await.is_err());
        assert!(replay.body(2).is_none());
    }

    /// One frame, then an error.
    struct Failing(bool);

    impl http_body::Body for Failing {
        type Data = Bytes;
        type Error = Status;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
            let sent = std::mem::replace(&mut self.0, true);
            Poll::Ready(Some(if sent {
                Err(Status::internal("the message could not be encoded"))
            } else {
                Ok(Frame::data(chunk(b"ok")))
            }))
        }
    }

    #[tokio::test]
    async fn a_failing_body_fails_the_attempt_sending_it_and_commits_the_call() {
        let mut replay = Replay::new(BoxBody::new(Failing(false)), 1024).await;
        let mut first = replay.body(0).unwrap();
        assert_eq!(read(&mut first, 1).await.unwrap(), b"ok");
        let status = read(&mut first, 1).await.unwrap_err();
        assert_eq!(status.message(), "the message could not be encoded");
        assert_eq!(replay.committed_to(), Some(0));
        assert!(replay.body(1).is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn attempts_waiting_together_all_get_the_next_frame_even_if_one_leaves() {
        let (sender, body) = streaming();
        let mut replay = Replay::new(body, 1024).await;
        let mut tasks: Vec<_> = (0..3)
            .map(|id| {
                let mut body = replay.body(id).unwrap();
                tokio::spawn(async move { read(&mut body, 1).await })
            })
            .collect();
        tokio::task::yield_now().await;
        // The last to poll the source is the one it would wake; it leaves.
        let leaving = tasks.pop().unwrap();
        leaving.abort();
        let _ = leaving.await;
        sender.send(chunk(b"x")).unwrap();
        for task in tasks {
            let read = tokio::time::timeout(Duration::from_secs(5), task).await;
            assert_eq!(read.expect("woken").unwrap().unwrap(), b"x");
        }
    }
}
