//! Hedging: the first attempt goes out at once, another every `hedgingDelay`
//! while none has answered, up to `maxAttempts`. The first response that
//! commits, or a fatal status, ends the call, and the other attempts are
//! dropped (which resets their streams). A non-fatal status sends the next
//! attempt at once; a server's pushback delays it or stops hedging.

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

use tokio::time::Instant;

use crate::base::body::BoxBody;
use crate::base::status::Status;
use crate::client::retry::backoff::{self, Pushback};
use crate::client::retry::{AttemptError, Attempts, Outcome, RetryThrottle, Started, outcome};
use crate::client::service_config::HedgingPolicy;

enum Event<T> {
    /// Attempt number `.0` of those in flight ended.
    Done(usize, T),
    /// Time for the next hedge.
    Hedge,
    /// The call committed on its own (its body outgrew the buffer).
    Committed,
}

pub(super) async fn run<F, Fut, B>(
    attempts: &mut Attempts<F>,
    policy: &HedgingPolicy,
    throttle: Option<&RetryThrottle>,
) -> Result<http::Response<B>, Status>
where
    F: FnMut(http::Request<BoxBody>) -> Fut,
    Fut: Future<Output = Result<http::Response<B>, AttemptError>>,
    B: http_body::Body,
{
    let mut in_flight: Vec<Started<Pin<Box<Fut>>>> = Vec::new();
    // Attempts sent, each counted.
    let mut sent = 0;
    // When to send the next one, while more may go.
    let mut next = Some(Instant::now());
    let mut transparent = super::TRANSPARENT_RETRIES;
    let mut last_failure = None;
    loop {
        if let Some(leader) = attempts.replay.committed_to() {
            in_flight.retain(|attempt| attempt.id == leader);
            next = None;
        }
        if in_flight.is_empty() && next.is_none() {
            return Err(last_failure.unwrap_or_else(|| {
                Status::unavailable("every hedged attempt of the call ended without a status")
            }));
        }
        let event = tokio::select! {
            biased;
            () = attempts.replay.committed() => Event::Committed,
            (index, result) = any(&mut in_flight) => Event::Done(index, result),
            () = tokio::time::sleep_until(next.unwrap_or_else(Instant::now)), if next.is_some() => {
                Event::Hedge
            }
        };
        match event {
            Event::Committed => {}
            Event::Hedge => {
                if sent > 0 && throttle.is_some_and(|throttle| !throttle.allows()) {
                    next = None;
                    continue;
                }
                in_flight.push(attempts.start(sent)?);
                sent += 1;
                next = if sent < policy.max_attempts() {
                    // A delay too long for the clock means no more hedges.
                    Instant::now().checked_add(policy.hedging_delay())
                } else {
                    None
                };
            }
            Event::Done(index, result) => {
                let attempt = in_flight.swap_remove(index);
                if attempts
                    .replay
                    .committed_to()
                    .is_some_and(|leader| leader != attempt.id)
                {
                    // It could not have sent the whole body; the leader decides.
                    continue;
                }
                let (status, unprocessed) = match outcome(result) {
                    Outcome::Committed(response) => {
                        attempts.commit(attempt.id, throttle);
                        return Ok(response);
                    }
                    Outcome::Failed {
                        status,
                        unprocessed,
                    } => (status, unprocessed),
                };
                if unprocessed && transparent > 0 && attempts.can_resend() {
                    transparent -= 1;
                    in_flight.push(attempts.start(attempt.previous)?);
                    continue;
                }
                if !policy.is_non_fatal(status.code()) {
                    return Err(status);
                }
                let pushback = backoff::pushback(status.metadata());
                let allowed = throttle.is_none_or(|throttle| throttle.record_failure());
                next = match pushback {
                    _ if !allowed || sent >= policy.max_attempts() => None,
                    Pushback::Stop => None,
                    Pushback::After(wait) => Instant::now().checked_add(wait),
                    Pushback::None => Some(Instant::now()),
                };
                last_failure = Some(status);
            }
        }
    }
}

/// The first of `attempts` to end, by its index, and its result; pending
/// while there are none.
async fn any<Fut: Future>(attempts: &mut [Started<Pin<Box<Fut>>>]) -> (usize, Fut::Output) {
    std::future::poll_fn(|cx| {
        for (index, attempt) in attempts.iter_mut().enumerate() {
            if let Poll::Ready(result) = attempt.future.as_mut().poll(cx) {
                return Poll::Ready((index, result));
            }
        }
        Poll::Pending
    })
    .await
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;
    use std::time::Duration;

    use tokio::time::Instant;

    use crate::base::body::BoxBody;
    use crate::base::status::{Code, Status};
    use crate::client::retry::testing::*;
    use crate::client::retry::{AttemptError, DEFAULT_BUFFER_LIMIT, Policy, RetryThrottle, call};
    use crate::client::service_config::{HedgingPolicy, RetryThrottling};

    fn hedging(max_attempts: u32, delay_ms: u64, non_fatal: &[Code]) -> HedgingPolicy {
        HedgingPolicy::new(
            max_attempts,
            Duration::from_millis(delay_ms),
            non_fatal.iter().copied(),
        )
        .unwrap()
    }

    type Answer = Result<http::Response<Ended>, AttemptError>;

    /// Hedges a call whose attempt number `n` answers `answer(n)` after
    /// `delay(n)`; drop guards raise `guards[n]` for the first three.
    async fn run(
        policy: &HedgingPolicy,
        throttle: Option<&RetryThrottle>,
        log: &Log,
        guards: &[Arc<AtomicBool>; 3],
        delay: impl Fn(usize) -> Duration,
        answer: impl Fn(usize) -> Answer,
    ) -> Result<http::Response<Ended>, Status> {
        let deadline = Instant::now() + Duration::from_secs(60);
        call(
            Policy::Hedging(policy),
            throttle,
            Some(deadline),
            DEFAULT_BUFFER_LIMIT,
            request(unary(b"hedged")),
            |request| {
                let n = log.record(&request);
                let guard = guards.get(n).map(|flag| DropGuard(flag.clone()));
                let (wait, result) = (delay(n), answer(n));
                async move {
                    let _guard = guard;
                    tokio::time::sleep(wait).await;
                    result
                }
            },
        )
        .await
    }

    fn flags() -> [Arc<AtomicBool>; 3] {
        std::array::from_fn(|_| Arc::new(AtomicBool::new(false)))
    }

    const SLOW: Duration = Duration::from_secs(30);

    #[tokio::test(start_paused = true)]
    async fn a_hedge_beats_a_slow_first_attempt_which_is_dropped() {
        let policy = hedging(3, 100, &[]);
        let (log, guards) = (Log::default(), flags());
        let start = Instant::now();
        let delay = |n| {
            if n == 0 {
                SLOW
            } else {
                Duration::from_millis(10)
            }
        };
        let response = run(&policy, None, &log, &guards, delay, |n| Ok(answered(n)))
            .await
            .unwrap();
        assert_eq!(tag(&response), 1);
        assert_eq!(Instant::now() - start, Duration::from_millis(110));
        assert!(dropped(&guards[0]), "the slow attempt's future was dropped");
        assert_eq!(log.previous(), [None, Some("1".to_owned())]);
    }

    #[tokio::test(start_paused = true)]
    async fn hedges_go_out_every_delay_up_to_max_attempts() {
        let policy = hedging(3, 100, &[]);
        let (log, guards) = (Log::default(), flags());
        let start = Instant::now();
        let status = run(
            &policy,
            None,
            &log,
            &guards,
            |_| Duration::from_secs(120),
            |n| Ok(answered(n)),
        )
        .await
        .unwrap_err();
        assert_eq!(status.code(), Code::DeadlineExceeded);
        let ms = |ms| Duration::from_millis(ms);
        assert_eq!(log.starts(start), [ms(0), ms(100), ms(200)]);
        assert!(guards.iter().all(|flag| dropped(flag)));
    }

    #[tokio::test(start_paused = true)]
    async fn a_zero_delay_sends_every_attempt_at_once() {
        let policy = hedging(3, 0, &[]);
        let (log, guards) = (Log::default(), flags());
        let start = Instant::now();
        let response = run(
            &policy,
            None,
            &log,
            &guards,
            |n| Duration::from_millis(30 - 10 * n as u64),
            |n| Ok(answered(n)),
        )
        .await
        .unwrap();
        assert_eq!(log.starts(start), [Duration::ZERO; 3]);
        assert_eq!(tag(&response), 2, "the fastest wins");
    }

    #[tokio::test(start_paused = true)]
    async fn a_non_fatal_code_sends_the_next_hedge_at_once() {
        let policy = hedging(3, 1000, &[Code::Unavailable]);
        let (log, guards) = (Log::default(), flags());
        let start = Instant::now();
        let response = run(
            &policy,
            None,
            &log,
            &guards,
            |_| Duration::from_millis(10),
            |n| match n {
                0 => Ok(trailers_only(Code::Unavailable)),
                n => Ok(answered(n)),
            },
        )
        .await
        .unwrap();
        assert_eq!(tag(&response), 1);
        assert_eq!(
            log.starts(start),
            [Duration::ZERO, Duration::from_millis(10)]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_fatal_code_ends_the_call_and_drops_the_other_attempts() {
        let policy = hedging(3, 10, &[Code::Unavailable]);
        let (log, guards) = (Log::default(), flags());
        let delay = |n| {
            if n == 0 {
                SLOW
            } else {
                Duration::from_millis(5)
            }
        };
        let status = run(&policy, None, &log, &guards, delay, |n| match n {
            0 => Ok(answered(0)),
            _ => Ok(trailers_only(Code::Internal)),
        })
        .await
        .unwrap_err();
        assert_eq!(status.code(), Code::Internal);
        assert_eq!(log.count(), 2);
        assert!(dropped(&guards[0]));
    }

    #[tokio::test(start_paused = true)]
    async fn when_every_attempt_fails_non_fatally_the_last_status_is_returned() {
        let policy = hedging(3, 50, &[Code::Unavailable]);
        let (log, guards) = (Log::default(), flags());
        let status = run(
            &policy,
            None,
            &log,
            &guards,
            |_| Duration::from_millis(20),
            |_| Err(AttemptError::Failed(Status::unavailable("down"))),
        )
        .await
        .unwrap_err();
        assert_eq!(
            (status.code(), status.message()),
            (Code::Unavailable, "down")
        );
        assert_eq!(log.count(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn pushback_delays_the_next_hedge_exactly() {
        let policy = hedging(3, 10_000, &[Code::Unavailable]);
        let (log, guards) = (Log::default(), flags());
        let start = Instant::now();
        run(
            &policy,
            None,
            &log,
            &guards,
            |_| Duration::ZERO,
            |n| match n {
                0 => Ok(pushback(Code::Unavailable, "500")),
                n => Ok(answered(n)),
            },
        )
        .await
        .unwrap();
        assert_eq!(
            log.starts(start),
            [Duration::ZERO, Duration::from_millis(500)]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn negative_pushback_stops_hedging() {
        let policy = hedging(3, 100, &[Code::Unavailable]);
        let (log, guards) = (Log::default(), flags());
        let status = run(
            &policy,
            None,
            &log,
            &guards,
            |_| Duration::ZERO,
            |_| Ok(pushback(Code::Unavailable, "-1")),
        )
        .await
        .unwrap_err();
        assert_eq!(status.code(), Code::Unavailable);
        assert_eq!(log.count(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_drained_throttle_sends_no_hedges() {
        let policy = hedging(3, 100, &[Code::Unavailable]);
        let throttle = RetryThrottle::new(&RetryThrottling::new(4, 1.0).unwrap());
        throttle.record_failure();
        throttle.record_failure();
        assert!(!throttle.allows());
        let (log, guards) = (Log::default(), flags());
        let response = run(
            &policy,
            Some(&throttle),
            &log,
            &guards,
            |_| Duration::from_secs(1),
            |n| Ok(answered(n)),
        )
        .await
        .unwrap();
        assert_eq!(tag(&response), 0);
        assert_eq!(
            log.count(),
            1,
            "only the first attempt, which the throttle never stops"
        );
        assert_eq!(throttle.tokens(), 3.0, "the success refilled the bucket");
    }

    #[tokio::test(start_paused = true)]
    async fn an_unprocessed_hedge_is_sent_again_at_once_keeping_its_count() {
        let policy = hedging(2, 100, &[]);
        let (log, guards) = (Log::default(), flags());
        let response = run(
            &policy,
            None,
            &log,
            &guards,
            |n| if n == 0 { SLOW } else { Duration::ZERO },
            |n| match n {
                1 => Err(AttemptError::Unprocessed(Status::unavailable(
                    "refused stream",
                ))),
                n => Ok(answered(n)),
            },
        )
        .await
        .unwrap();
        assert_eq!(tag(&response), 2);
        assert_eq!(
            log.previous(),
            [None, Some("1".to_owned()), Some("1".to_owned())]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_hedges_each_send_the_whole_streaming_body() {
        let policy = hedging(2, 0, &[]);
        let (sender, body) = streaming();
        let bodies = Arc::new(std::sync::Mutex::new(Vec::new()));
        let call = call(
            Policy::Hedging(&policy),
            None,
            None,
            DEFAULT_BUFFER_LIMIT,
            request(body),
            {
                let bodies = bodies.clone();
                let mut n = 0;
                move |request: http::Request<BoxBody>| {
                    n += 1;
                    let (bodies, tag) = (bodies.clone(), n);
                    async move {
                        let all = read_all(request.into_body()).await.unwrap();
                        bodies.lock().unwrap().push(all);
                        // The second attempt to finish reading commits.
                        if bodies.lock().unwrap().len() == 1 {
                            std::future::pending::<()>().await;
                        }
                        Ok::<_, AttemptError>(answered(tag))
                    }
                }
            },
        );
        let feeder = async {
            for chunk in [&b"one "[..], b"two ", b"three"] {
                tokio::time::sleep(Duration::from_millis(10)).await;
                sender.send(bytes::Bytes::from_static(chunk)).unwrap();
            }
            drop(sender);
        };
        let (response, ()) = tokio::join!(call, feeder);
        response.unwrap();
        let bodies = bodies.lock().unwrap();
        assert_eq!(bodies.len(), 2);
        assert!(
            bodies.iter().all(|body| body == b"one two three"),
            "{bodies:?}"
        );
    }
}
