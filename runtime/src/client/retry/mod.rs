//! Retries and hedging (gRFC A6): one call made of one or more attempts, each
//! sent through a transport step the channel supplies.
//!
//! Every attempt gets a copy of the request head and a replay of the body
//! ([`replay`]); attempts after the first say how many came before in
//! `grpc-previous-rpc-attempts`, and every attempt's `grpc-timeout` is the time
//! left before the call's one deadline.
//!
//! An attempt whose response has headers (not Trailers-Only) commits the call:
//! it is returned as it is, whatever its trailers will say. A Trailers-Only
//! response with a status other than OK, or an [`AttemptError`], fails the
//! attempt, and the policy decides whether another is made. An attempt that
//! never reached the server's application ([`AttemptError::Unprocessed`]) is
//! retried once at once with no policy needed and without counting it.
//!
//! The throttle counts a commit as a success; a committed response's
//! trailers are past this executor, so a failure they carry is the caller's
//! to count ([`RetryThrottle::record_failure`]).

mod backoff;
mod hedging;
mod replay;
mod retrying;
mod throttle;

use std::future::Future;
use std::pin::Pin;

use tokio::time::Instant;

use crate::base::body::BoxBody;
use crate::base::status::{self, Code, Status};
use crate::client::deadline;
use crate::client::service_config::{HedgingPolicy, RetryPolicy};
use replay::Replay;

pub(crate) use throttle::RetryThrottle;

/// The bytes of a call's request body kept for retries, as grpc-go keeps
/// (`MaxRetryRPCBufferSize`); past it the call is committed.
pub(crate) const DEFAULT_BUFFER_LIMIT: usize = 256 * 1024;

/// Transparent retries one call may make: gRFC A6 allows one for a refused
/// stream and any number for a request never sent; a call can meet several
/// draining connections in a row, so a few, bounded so that a server refusing
/// everything at once cannot make a call spin.
const TRANSPARENT_RETRIES: u32 = 5;

/// Why an attempt ended without a response.
#[derive(Debug)]
pub(crate) enum AttemptError {
    /// The request never reached the server's application: the connection
    /// failed before the stream started, the stream was refused
    /// (REFUSED_STREAM), or it was above a GOAWAY's last stream id. Safe to
    /// send again at once.
    Unprocessed(Status),
    /// The attempt failed with this status.
    Failed(Status),
}

impl AttemptError {
    /// The code of the attempt's status.
    #[cfg(feature = "opentelemetry")]
    pub(crate) fn code(&self) -> Code {
        match self {
            Self::Unprocessed(status) | Self::Failed(status) => status.code(),
        }
    }
}

/// How a call's failed attempts are followed up.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Policy<'a> {
    /// Only transparent retries.
    None,
    /// Retry a failed attempt after a backoff.
    Retry(&'a RetryPolicy),
    /// Send further attempts while none has answered.
    Hedging(&'a HedgingPolicy),
}

/// Makes one call of `request`, sending attempts with `attempt` as `policy`
/// says, under `throttle` (the channel's, if its config has one), until
/// `deadline` (then DEADLINE_EXCEEDED), recording at most `buffer_limit`
/// bytes of the body for attempts after the first.
///
/// # Errors
///
/// The status of the last failed attempt, or DEADLINE_EXCEEDED.
pub(crate) async fn call<F, Fut, B>(
    policy: Policy<'_>,
    throttle: Option<&RetryThrottle>,
    deadline: Option<Instant>,
    buffer_limit: usize,
    request: http::Request<BoxBody>,
    attempt: F,
) -> Result<http::Response<B>, Status>
where
    F: FnMut(http::Request<BoxBody>) -> Fut,
    Fut: Future<Output = Result<http::Response<B>, AttemptError>> + Send,
    B: http_body::Body,
{
    let (mut head, body) = request.into_parts();
    // The connection below reads none of them: no attempt carries a copy.
    head.extensions = http::Extensions::new();
    // The channel's to send, on retries only; never the caller's.
    head.headers.remove(PREVIOUS_ATTEMPTS);
    let mut attempts = Attempts {
        head,
        replay: Replay::new(body, buffer_limit).await,
        deadline,
        send: attempt,
        next_id: 0,
    };
    // Policies are boxed: a call's future stays small (it is allocated and
    // moved per call) when, as usual, it has none.
    let run = async {
        match policy {
            Policy::None => retrying::transparent(&mut attempts, throttle).await,
            Policy::Retry(policy) => Box::pin(retrying::run(&mut attempts, policy, throttle)).await,
            Policy::Hedging(policy) => {
                Box::pin(hedging::run(&mut attempts, policy, throttle)).await
            }
        }
    };
    deadline::within(deadline, run).await
}

/// What every attempt of one call is made from.
struct Attempts<F> {
    head: http::request::Parts,
    replay: Replay,
    deadline: Option<Instant>,
    send: F,
    next_id: usize,
}

/// An attempt on its way.
struct Started<Fut> {
    id: usize,
    /// How many counted attempts came before it.
    previous: u32,
    future: Fut,
}

const PREVIOUS_ATTEMPTS: http::HeaderName =
    http::HeaderName::from_static("grpc-previous-rpc-attempts");
const GRPC_TIMEOUT: http::HeaderName = http::HeaderName::from_static("grpc-timeout");

impl<F> Attempts<F> {
    /// The request of an attempt that follows `previous` counted ones, and
    /// the attempt's id. Callers send it with `self.send` and await it in
    /// the same expression, so the attempt's future has one slot in theirs.
    ///
    /// # Errors
    ///
    /// DEADLINE_EXCEEDED if no time is left; INTERNAL if the body cannot be
    /// sent again (callers check [`Replay::committed_to`] first).
    fn next(&mut self, previous: u32) -> Result<(usize, http::Request<BoxBody>), Status> {
        let left = match self.deadline {
            Some(at) => match at.checked_duration_since(Instant::now()) {
                Some(left) if !left.is_zero() => Some(left),
                _ => return Err(deadline::exceeded()),
            },
            None => None,
        };
        let id = self.next_id;
        let body = self
            .replay
            .body(id)
            .ok_or_else(|| Status::internal("the request body was committed to another attempt"))?;
        self.next_id += 1;
        let mut head = self.head.clone();
        if previous > 0 {
            head.headers.insert(PREVIOUS_ATTEMPTS, previous.into());
        }
        if let Some(left) = left {
            head.headers.insert(
                GRPC_TIMEOUT,
                crate::base::deadline::encode_grpc_timeout(left),
            );
        }
        Ok((id, http::Request::from_parts(head, body)))
    }

    /// Sends an attempt that follows `previous` counted ones, boxed, for
    /// callers that keep several.
    ///
    /// # Errors
    ///
    /// As [`Self::next`].
    fn start<Fut>(&mut self, previous: u32) -> Result<Started<Pin<Box<Fut>>>, Status>
    where
        F: FnMut(http::Request<BoxBody>) -> Fut,
    {
        let (id, request) = self.next(previous)?;
        Ok(Started {
            id,
            previous,
            future: Box::pin((self.send)(request)),
        })
    }

    /// Commits the call to attempt `id`, whose response arrived, and counts
    /// the success against the throttle.
    fn commit(&self, id: usize, throttle: Option<&RetryThrottle>) {
        self.replay.commit(id);
        if let Some(throttle) = throttle {
            throttle.record_success();
        }
    }

    /// Whether another attempt may still be sent: the body can be replayed.
    fn can_resend(&self) -> bool {
        self.replay.committed_to().is_none()
    }
}

/// How an attempt ended.
enum Outcome<B> {
    /// The call is committed to this response.
    Committed(http::Response<B>),
    /// The attempt failed; `unprocessed` if it never reached the application.
    Failed { status: Status, unprocessed: bool },
}

fn outcome<B: http_body::Body>(result: Result<http::Response<B>, AttemptError>) -> Outcome<B> {
    match result {
        Ok(response) => match status::from_headers(response.headers()) {
            // Trailers-Only: the status is in the headers, which end the stream.
            Some(status) if status.code() != Code::Ok && response.body().is_end_stream() => {
                Outcome::Failed {
                    status,
                    unprocessed: false,
                }
            }
            _ => Outcome::Committed(response),
        },
        Err(AttemptError::Unprocessed(status)) => Outcome::Failed {
            status,
            unprocessed: true,
        },
        Err(AttemptError::Failed(status)) => Outcome::Failed {
            status,
            unprocessed: false,
        },
    }
}

#[cfg(test)]
mod testing;
