//! Fakes for the executor's tests: responses as a transport would give them,
//! request bodies, and a log of the attempts a fake transport saw.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body as _, Frame};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::base::body::BoxBody;
use crate::base::status::{Code, Status};
use crate::client::service_config::RetryPolicy;

/// The body of the responses below: ended with the head, as a Trailers-Only
/// response's is.
#[derive(Debug)]
pub(super) struct Ended;

impl http_body::Body for Ended {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Poll::Ready(None)
    }

    fn is_end_stream(&self) -> bool {
        true
    }
}

/// A Trailers-Only response: the status in the headers, no body.
pub(super) fn trailers_only(code: Code) -> http::Response<Ended> {
    let mut response = http::Response::new(Ended);
    let headers = response.headers_mut();
    headers.insert("content-type", "application/grpc".parse().unwrap());
    headers.insert("grpc-status", (code as i32).into());
    headers.insert("grpc-message", "from%20the%20server".parse().unwrap());
    response
}

/// A Trailers-Only failure that carries `grpc-retry-pushback-ms`.
pub(super) fn pushback(code: Code, millis: &'static str) -> http::Response<Ended> {
    let mut response = trailers_only(code);
    let value = http::HeaderValue::from_static(millis);
    response
        .headers_mut()
        .insert("grpc-retry-pushback-ms", value);
    response
}

/// A response with headers, which commits the call; `tag` tells attempts apart.
pub(super) fn answered(tag: usize) -> http::Response<Ended> {
    let mut response = http::Response::new(Ended);
    let headers = response.headers_mut();
    headers.insert("content-type", "application/grpc".parse().unwrap());
    headers.insert("x-attempt", tag.into());
    response
}

pub(super) fn tag(response: &http::Response<Ended>) -> usize {
    response.headers()["x-attempt"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

pub(super) fn request(body: BoxBody) -> http::Request<BoxBody> {
    let mut request = http::Request::new(body);
    *request.uri_mut() = http::Uri::from_static("http://server/pkg.Service/Method");
    request
        .headers_mut()
        .insert("x-user", "kept".parse().unwrap());
    request
}

/// A unary request body: one message, its size known.
pub(super) fn unary(data: &'static [u8]) -> BoxBody {
    BoxBody::new(crate::client::body::Unary::new(Bytes::from_static(data)))
}

/// A streaming request body of unknown size, fed through the sender.
pub(super) fn streaming() -> (mpsc::UnboundedSender<Bytes>, BoxBody) {
    let (sender, receiver) = mpsc::unbounded_channel();
    (sender, BoxBody::new(Streamed(receiver)))
}

/// A streaming body that already holds `chunks` and then ends.
pub(super) fn streamed(chunks: &[&'static [u8]]) -> BoxBody {
    let (sender, body) = streaming();
    for chunk in chunks {
        sender.send(Bytes::from_static(chunk)).unwrap();
    }
    body
}

struct Streamed(mpsc::UnboundedReceiver<Bytes>);

impl http_body::Body for Streamed {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        self.0
            .poll_recv(cx)
            .map(|chunk| chunk.map(|data| Ok(Frame::data(data))))
    }
}

/// Reads up to `frames` data frames of `body`: their bytes, then an error if
/// the body failed.
pub(super) async fn read(body: &mut BoxBody, frames: usize) -> Result<Vec<u8>, Status> {
    let mut bytes = Vec::new();
    for _ in 0..frames {
        match std::future::poll_fn(|cx| Pin::new(&mut *body).poll_frame(cx)).await {
            Some(Ok(frame)) => bytes.extend_from_slice(&frame.into_data().unwrap_or_default()),
            Some(Err(status)) => return Err(status),
            None => break,
        }
    }
    Ok(bytes)
}

pub(super) async fn read_all(mut body: BoxBody) -> Result<Vec<u8>, Status> {
    read(&mut body, usize::MAX).await
}

/// One attempt as the fake transport saw it.
#[derive(Debug, Clone)]
pub(super) struct Seen {
    pub(super) at: Instant,
    pub(super) previous: Option<String>,
    pub(super) timeout: Option<String>,
}

/// The attempts a fake transport saw, in order.
#[derive(Debug, Clone, Default)]
pub(super) struct Log(Arc<Mutex<Vec<Seen>>>);

impl Log {
    /// Records `request`; returns its number (from 0).
    pub(super) fn record(&self, request: &http::Request<BoxBody>) -> usize {
        assert_eq!(
            request.headers()["x-user"],
            "kept",
            "every attempt keeps the caller's headers"
        );
        let text = |name: &str| {
            let value = request.headers().get(name)?;
            Some(value.to_str().unwrap().to_owned())
        };
        let mut seen = self.0.lock().unwrap();
        seen.push(Seen {
            at: Instant::now(),
            previous: text("grpc-previous-rpc-attempts"),
            timeout: text("grpc-timeout"),
        });
        seen.len() - 1
    }

    pub(super) fn seen(&self) -> Vec<Seen> {
        self.0.lock().unwrap().clone()
    }

    pub(super) fn count(&self) -> usize {
        self.0.lock().unwrap().len()
    }

    pub(super) fn previous(&self) -> Vec<Option<String>> {
        self.seen().into_iter().map(|seen| seen.previous).collect()
    }

    /// When each attempt started, from `start`.
    pub(super) fn starts(&self, start: Instant) -> Vec<Duration> {
        self.seen().iter().map(|seen| seen.at - start).collect()
    }
}

/// Marks its flag when dropped: proves an attempt's future was dropped.
pub(super) struct DropGuard(pub(super) Arc<AtomicBool>);

impl Drop for DropGuard {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

pub(super) fn dropped(flag: &AtomicBool) -> bool {
    flag.load(Ordering::SeqCst)
}

/// Retries `codes` up to `max_attempts`, backing off 100 ms, doubling, to 1 s.
pub(super) fn retry_policy(max_attempts: u32, codes: &[Code]) -> RetryPolicy {
    RetryPolicy::new(
        max_attempts,
        Duration::from_millis(100),
        Duration::from_secs(1),
        2.0,
        codes.iter().copied(),
    )
    .unwrap()
}
