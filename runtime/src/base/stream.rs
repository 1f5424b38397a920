//! Streams for streaming calls, so a handler or client needs no stream crate
//! of its own.
//!
//! A server-streaming or bidirectional handler returns a [`BoxStream`]; a
//! client-streaming or bidirectional call takes any [`Stream`] of messages.
//!
//! | you have | a handler returns | a client sends |
//! |---|---|---|
//! | messages in a `Vec` or any iterator | `boxed(iter(items))` | `iter(items)` |
//! | one message | `boxed(once(item))` | `once(item)` |
//! | nothing | `boxed(empty::<T>())` | `empty()` |
//! | messages made later, by a task | the stream of [`channel`] | |
//! | some other `Stream` | `boxed(stream)` | `stream` |
//!
//! [`boxed`] and [`Sender::send`] take messages, or `Result`s whose error ends
//! the call with that status ([`IntoItem`]).
//!
//! ```
//! use rust_grpc::stream::{self, BoxStream};
//! use rust_grpc::Status;
//!
//! // Three messages, then the call ends OK.
//! let listed: BoxStream<String> = stream::boxed(stream::iter(["a", "b", "c"].map(String::from)));
//! // One message, then the call ends with NOT_FOUND.
//! let failing: BoxStream<String> = stream::boxed(stream::iter([
//!     Ok("found".to_owned()),
//!     Err(Status::not_found("the rest")),
//! ]));
//! # let _ = (listed, failing);
//! ```

use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

pub use futures_core::Stream;
use tokio::sync::mpsc;

pub use crate::base::body::BoxStream;
use crate::base::status::Status;

/// Items [`Iter`] yields in a row before it lets other tasks run.
const YIELD_EVERY: usize = 32;

/// What a response stream yields: a message, or a `Result` whose `Err` ends
/// the call with that status.
///
/// Implemented for every message `T` and for `Result<T, Status>`, so
/// [`boxed`] and [`Sender::send`] take either.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a `{T}` nor a `Result<{T}, Status>`",
    label = "a stream of `{T}` messages takes `{T}` or `Result<{T}, rust_grpc::Status>`"
)]
pub trait IntoItem<T> {
    /// The item as the call sends it.
    ///
    /// # Errors
    ///
    /// The status that ends the call, for an `Err`.
    fn into_item(self) -> Result<T, Status>;
}

impl<T> IntoItem<T> for T {
    fn into_item(self) -> Result<T, Status> {
        Ok(self)
    }
}

impl<T> IntoItem<T> for Result<T, Status> {
    fn into_item(self) -> Result<T, Status> {
        self
    }
}

/// Boxes `stream` as the [`BoxStream`] a streaming handler returns. Its items
/// are messages, or `Result`s whose `Err` ends the call with that status.
///
/// Either could fit a stream that never names its item, so [`empty`] needs
/// it spelled out: `boxed(empty::<T>())`.
pub fn boxed<T: 'static, S>(stream: S) -> BoxStream<T>
where
    S: Stream<Item: IntoItem<T>> + Send + 'static,
{
    Box::pin(Items {
        inner: stream,
        _item: PhantomData,
    })
}

pin_project_lite::pin_project! {
    /// A stream whose items become `Result<T, Status>`.
    struct Items<S, T> {
        #[pin]
        inner: S,
        _item: PhantomData<fn() -> T>,
    }
}

impl<S, T> Stream for Items<S, T>
where
    S: Stream<Item: IntoItem<T>>,
{
    type Item = Result<T, Status>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.project()
            .inner
            .poll_next(cx)
            .map(|item| item.map(IntoItem::into_item))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

/// A stream of the items of `items`, in order: for a client-streaming call,
/// or, through [`boxed`], for a handler's response.
pub fn iter<I: IntoIterator>(items: I) -> Iter<I::IntoIter> {
    Iter {
        items: items.into_iter(),
        run: 0,
    }
}

/// The stream [`iter`] returns.
#[derive(Debug, Clone)]
#[must_use = "streams do nothing unless polled"]
pub struct Iter<I> {
    items: I,
    /// Items yielded since the task last let others run.
    run: usize,
}

impl<I: Iterator + Unpin> Stream for Iter<I> {
    type Item = I::Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<I::Item>> {
        // A long iterator is always ready; without a pause now and then it
        // would keep its task's thread from every other task.
        if self.run == YIELD_EVERY {
            self.run = 0;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        self.run += 1;
        Poll::Ready(self.items.next())
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.items.size_hint()
    }
}

/// A stream of one item.
pub fn once<T>(item: T) -> Once<T> {
    Once { item: Some(item) }
}

/// The stream [`once`] returns.
#[derive(Debug, Clone)]
#[must_use = "streams do nothing unless polled"]
pub struct Once<T> {
    item: Option<T>,
}

impl<T: Unpin> Stream for Once<T> {
    type Item = T;

    fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<T>> {
        Poll::Ready(self.item.take())
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = usize::from(self.item.is_some());
        (n, Some(n))
    }
}

/// A stream that ends at once: a call with no messages.
pub fn empty<T>() -> Empty<T> {
    Empty(PhantomData)
}

/// The stream [`empty`] returns.
#[derive(Debug, Clone, Copy)]
#[must_use = "streams do nothing unless polled"]
pub struct Empty<T>(PhantomData<fn() -> T>);

impl<T> Stream for Empty<T> {
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<T>> {
        Poll::Ready(None)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(0))
    }
}

/// A bounded channel: what a task sends on the [`Sender`] comes out of the
/// stream, in order. The stream holds at most `capacity` items the call has not
/// taken yet; past that, [`Sender::send`] waits, so a slow client slows the
/// sender down instead of filling memory.
///
/// Return the stream from a streaming handler (it is a [`BoxStream`]) and send
/// from a spawned task. An `Err` sent ends the stream after it, and the stream
/// ends when every sender is dropped.
///
/// # Panics
///
/// When `capacity` is 0.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use rust_grpc::stream::{self, BoxStream};
///
/// let (sender, stream): (_, BoxStream<u32>) = stream::channel(4);
/// tokio::spawn(async move {
///     for n in 0..10 {
///         // Waits while 4 are queued; fails once the call is over.
///         if sender.send(n).await.is_err() {
///             return;
///         }
///     }
/// });
/// # let _ = stream;
/// # }
/// ```
pub fn channel<T: Send + 'static>(capacity: usize) -> (Sender<T>, BoxStream<T>) {
    assert!(
        capacity > 0,
        "a stream channel needs a capacity of at least 1"
    );
    let (tx, rx) = mpsc::channel(capacity);
    (Sender { inner: tx }, Box::pin(Receiver { inner: Some(rx) }))
}

/// The sending side of a [`channel`]; clones send into the same stream.
#[derive(Debug)]
pub struct Sender<T> {
    inner: mpsc::Sender<Result<T, Status>>,
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<T> Sender<T> {
    /// Sends a message, or with an `Err` ends the stream with that status,
    /// waiting while the stream is full.
    ///
    /// # Errors
    ///
    /// [`Closed`] when nothing reads the stream any more: the call is over
    /// (the peer hung up, or an error ended it). Stop producing then.
    pub async fn send(&self, item: impl IntoItem<T>) -> Result<(), Closed> {
        self.inner
            .send(item.into_item())
            .await
            .map_err(|_| Closed(()))
    }

    /// Whether nothing reads the stream any more.
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// Resolves once nothing reads the stream any more: for a producer that
    /// waits on something else and should stop when the call ends.
    pub async fn closed(&self) {
        self.inner.closed().await;
    }
}

/// The error of [`Sender::send`]: the stream's reader is gone, so the item
/// was dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closed(());

impl std::fmt::Display for Closed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the stream is closed: the call it fed is over")
    }
}

impl std::error::Error for Closed {}

/// The stream of a [`channel`]; `None` once it has yielded an error.
struct Receiver<T> {
    inner: Option<mpsc::Receiver<Result<T, Status>>>,
}

impl<T> Stream for Receiver<T> {
    type Item = Result<T, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let Some(rx) = self.inner.as_mut() else {
            return Poll::Ready(None);
        };
        let item = std::task::ready!(rx.poll_recv(cx));
        if !matches!(item, Some(Ok(_))) {
            // Ended, by the senders or by an error: senders now see Closed.
            self.inner = None;
        }
        Poll::Ready(item)
    }
}

#[cfg(test)]
mod tests {
    use std::future::poll_fn;
    use std::time::Duration;

    use super::*;
    use crate::base::status::Code;

    async fn next<S: Stream + Unpin>(stream: &mut S) -> Option<S::Item> {
        poll_fn(|cx| Pin::new(&mut *stream).poll_next(cx)).await
    }

    async fn collect<S: Stream + Unpin>(mut stream: S) -> Vec<S::Item> {
        let mut items = Vec::new();
        while let Some(item) = next(&mut stream).await {
            items.push(item);
        }
        items
    }

    fn codes<T: std::fmt::Debug>(items: Vec<Result<T, Status>>) -> Vec<String> {
        items
            .into_iter()
            .map(|item| match item {
                Ok(item) => format!("{item:?}"),
                Err(status) => format!("{:?}", status.code()),
            })
            .collect()
    }

    #[tokio::test]
    async fn iter_yields_every_item_in_order() {
        assert_eq!(collect(iter(vec![1, 2, 3])).await, [1, 2, 3]);
        assert_eq!(iter(0..5).size_hint(), (5, Some(5)));
    }

    #[tokio::test]
    async fn a_long_iter_lets_other_tasks_run() {
        let mut stream = iter(0..YIELD_EVERY * 3);
        let pending = poll_fn(|cx| {
            let mut pending = 0;
            for _ in 0..YIELD_EVERY * 2 {
                if Pin::new(&mut stream).poll_next(cx).is_pending() {
                    pending += 1;
                }
            }
            Poll::Ready(pending)
        })
        .await;
        assert_eq!(pending, 1, "one pause after {YIELD_EVERY} items");
    }

    #[tokio::test]
    async fn once_yields_one_item() {
        assert_eq!(collect(once("only")).await, ["only"]);
    }

    #[tokio::test]
    async fn empty_ends_at_once() {
        assert!(collect(empty::<u8>()).await.is_empty());
    }

    #[tokio::test]
    async fn boxed_takes_messages_and_results() {
        let messages: BoxStream<u8> = boxed(iter([1, 2]));
        assert_eq!(codes(collect(messages).await), ["1", "2"]);
        let results: BoxStream<u8> = boxed(iter([Ok(1), Err(Status::not_found("gone"))]));
        assert_eq!(codes(collect(results).await), ["1", "NotFound"]);
    }

    #[tokio::test]
    async fn channel_yields_what_is_sent_and_ends_with_the_senders() {
        let (sender, stream) = channel::<u8>(2);
        let other = sender.clone();
        tokio::spawn(async move {
            sender.send(1).await.unwrap();
            other.send(Ok(2)).await.unwrap();
        });
        assert_eq!(codes(collect(stream).await), ["1", "2"]);
    }

    #[tokio::test]
    async fn channel_send_waits_while_the_stream_is_full() {
        let (sender, mut stream) = channel::<u8>(1);
        sender.send(1).await.unwrap();
        let second = tokio::time::timeout(Duration::from_millis(50), sender.send(2)).await;
        assert!(second.is_err(), "a full channel makes send wait");
        assert_eq!(next(&mut stream).await.unwrap().unwrap(), 1);
        sender.send(2).await.unwrap();
    }

    #[tokio::test]
    async fn channel_ends_after_an_error_and_closes_its_senders() {
        let (sender, mut stream) = channel::<u8>(4);
        sender.send(Err(Status::aborted("stop"))).await.unwrap();
        sender.send(1).await.unwrap();
        let error = next(&mut stream).await.unwrap().unwrap_err();
        assert_eq!(error.code(), Code::Aborted);
        assert!(next(&mut stream).await.is_none(), "nothing after the error");
        assert!(sender.is_closed());
        assert_eq!(sender.send(2).await, Err(Closed(())));
    }

    #[tokio::test]
    async fn channel_senders_see_a_dropped_stream() {
        let (sender, stream) = channel::<u8>(1);
        drop(stream);
        sender.closed().await;
        assert!(sender.send(1).await.is_err());
    }
}
