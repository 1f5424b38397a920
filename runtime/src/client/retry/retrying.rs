//! One attempt at a time: a failed attempt is retried after a backoff while
//! the policy, the throttle, the deadline and the body buffer allow (or sent
//! again at once, once, if it never reached the server's application).

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use crate::base::body::BoxBody;
use crate::base::status::Status;
use crate::client::retry::backoff::{self, Backoff, Pushback};
use crate::client::retry::{AttemptError, Attempts, Outcome, RetryThrottle, outcome};
use crate::client::service_config::RetryPolicy;

/// A call with no policy: only transparent retries, with no backoff.
pub(super) async fn transparent<F, Fut, B>(
    attempts: &mut Attempts<F>,
    throttle: Option<&RetryThrottle>,
) -> Result<http::Response<B>, Status>
where
    F: FnMut(http::Request<BoxBody>) -> Fut,
    Fut: Future<Output = Result<http::Response<B>, AttemptError>>,
    B: http_body::Body,
{
    let mut transparent = super::TRANSPARENT_RETRIES;
    loop {
        let (id, request) = attempts.next(0)?;
        match outcome((attempts.send)(request).await) {
            Outcome::Committed(response) => {
                attempts.commit(id, throttle);
                return Ok(response);
            }
            Outcome::Failed {
                unprocessed: true, ..
            } if transparent > 0 && attempts.can_resend() => transparent -= 1,
            Outcome::Failed { status, .. } => return Err(status),
        }
    }
}

pub(super) async fn run<F, Fut, B>(
    attempts: &mut Attempts<F>,
    policy: &RetryPolicy,
    throttle: Option<&RetryThrottle>,
) -> Result<http::Response<B>, Status>
where
    F: FnMut(http::Request<BoxBody>) -> Fut,
    Fut: Future<Output = Result<http::Response<B>, AttemptError>>,
    B: http_body::Body,
{
    // Attempts made that count against maxAttempts.
    let mut counted = 0;
    let mut transparent = super::TRANSPARENT_RETRIES;
    let mut backoff = Backoff::new();
    loop {
        let (id, request) = attempts.next(counted)?;
        let (status, unprocessed) = match outcome((attempts.send)(request).await) {
            Outcome::Committed(response) => {
                attempts.commit(id, throttle);
                return Ok(response);
            }
            Outcome::Failed {
                status,
                unprocessed,
            } => (status, unprocessed),
        };
        if unprocessed && transparent > 0 && attempts.can_resend() {
            transparent -= 1;
            continue;
        }
        counted += 1;
        let Some(wait) = retry_after(policy, throttle, &status, counted, &mut backoff) else {
            return Err(status);
        };
        // A retry that would start at or after the deadline cannot succeed:
        // the caller learns why the last attempt failed, now.
        let too_late = attempts.deadline.is_some_and(|at| {
            Instant::now()
                .checked_add(wait)
                .is_none_or(|then| then >= at)
        });
        if !attempts.can_resend() || too_late {
            return Err(status);
        }
        tokio::time::sleep(wait).await;
    }
}

/// How long to wait before retrying an attempt that failed with `status`,
/// the `made`th counted one; `None` if it is not retried. Counts the failure
/// against the throttle when A6 says to.
fn retry_after(
    policy: &RetryPolicy,
    throttle: Option<&RetryThrottle>,
    status: &Status,
    made: u32,
    backoff: &mut Backoff,
) -> Option<Duration> {
    let pushback = backoff::pushback(status.metadata());
    if pushback == Pushback::Stop {
        if let Some(throttle) = throttle {
            throttle.record_failure();
        }
        return None;
    }
    if !policy.is_retryable(status.code()) {
        return None;
    }
    if throttle.is_some_and(|throttle| !throttle.record_failure()) {
        return None;
    }
    if made >= policy.max_attempts() {
        return None;
    }
    Some(match pushback {
        Pushback::After(wait) => {
            backoff.reset();
            wait
        }
        _ => backoff.next(policy),
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use tokio::time::Instant;

    use crate::base::status::Code;
    use crate::client::retry::testing::*;
    use crate::client::retry::{AttemptError, DEFAULT_BUFFER_LIMIT, Policy, RetryThrottle, call};
    use crate::client::service_config::{RetryPolicy, RetryThrottling};

    /// Calls with `policy`, the attempt at each number answering `answer(n)`.
    async fn run(
        policy: Policy<'_>,
        throttle: Option<&RetryThrottle>,
        deadline: Option<Instant>,
        log: &Log,
        answer: impl Fn(usize) -> Result<http::Response<Ended>, AttemptError>,
    ) -> Result<http::Response<Ended>, crate::base::status::Status> {
        call(
            policy,
            throttle,
            deadline,
            DEFAULT_BUFFER_LIMIT,
            request(unary(b"hello")),
            |request| {
                let result = answer(log.record(&request));
                async move { result }
            },
        )
        .await
    }

    #[tokio::test(start_paused = true)]
    async fn unavailable_twice_then_ok_takes_three_attempts_that_count_the_ones_before() {
        let policy = retry_policy(5, &[Code::Unavailable]);
        let log = Log::default();
        let response = run(Policy::Retry(&policy), None, None, &log, |n| match n {
            0 | 1 => Ok(trailers_only(Code::Unavailable)),
            n => Ok(answered(n)),
        })
        .await
        .unwrap();
        assert_eq!(tag(&response), 2);
        assert_eq!(
            log.previous(),
            [None, Some("1".to_owned()), Some("2".to_owned())]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn retries_wait_a_jittered_exponential_backoff() {
        let policy = retry_policy(3, &[Code::Unavailable]);
        let log = Log::default();
        let start = Instant::now();
        let _ = run(Policy::Retry(&policy), None, None, &log, |_| {
            Ok(trailers_only(Code::Unavailable))
        })
        .await;
        let starts = log.starts(start);
        let first = (starts[1] - starts[0]).as_millis();
        let second = (starts[2] - starts[1]).as_millis();
        assert!(
            (80..=120).contains(&first),
            "{first}ms after the first attempt"
        );
        assert!(
            (160..=240).contains(&second),
            "{second}ms after the second attempt"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_code_the_policy_does_not_name_is_not_retried() {
        let policy = retry_policy(5, &[Code::Unavailable]);
        let log = Log::default();
        let status = run(Policy::Retry(&policy), None, None, &log, |_| {
            Ok(trailers_only(Code::Internal))
        })
        .await
        .unwrap_err();
        assert_eq!(status.code(), Code::Internal);
        assert_eq!(
            status.message(),
            "from the server",
            "the status is read from the headers"
        );
        assert_eq!(log.count(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn retries_stop_at_max_attempts_with_the_last_status() {
        let policy = retry_policy(3, &[Code::Unavailable]);
        let log = Log::default();
        let status = run(Policy::Retry(&policy), None, None, &log, |_| {
            Ok(trailers_only(Code::Unavailable))
        })
        .await
        .unwrap_err();
        assert_eq!(status.code(), Code::Unavailable);
        assert_eq!(log.count(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn an_attempt_error_is_retried_like_a_trailers_only_failure() {
        let policy = retry_policy(2, &[Code::Unavailable]);
        let log = Log::default();
        let response = run(Policy::Retry(&policy), None, None, &log, |n| match n {
            0 => Err(AttemptError::Failed(
                crate::base::status::Status::unavailable("reset"),
            )),
            n => Ok(answered(n)),
        })
        .await
        .unwrap();
        assert_eq!(tag(&response), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_committed_response_is_returned_and_never_retried() {
        let policy = retry_policy(5, &[Code::Unavailable]);
        let log = Log::default();
        let response = run(Policy::Retry(&policy), None, None, &log, |n| {
            Ok(answered(n))
        })
        .await
        .unwrap();
        assert_eq!(tag(&response), 0);
        assert_eq!(log.count(), 1);
        // A Trailers-Only OK is a success too, handed back as it came.
        let log = Log::default();
        let response = run(Policy::Retry(&policy), None, None, &log, |_| {
            Ok(trailers_only(Code::Ok))
        })
        .await
        .unwrap();
        assert_eq!(response.headers()["grpc-status"], "0");
        assert_eq!(log.count(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn server_pushback_sets_the_wait_exactly() {
        let policy = retry_policy(3, &[Code::Unavailable]);
        let log = Log::default();
        let start = Instant::now();
        run(Policy::Retry(&policy), None, None, &log, |n| match n {
            0 => Ok(pushback(Code::Unavailable, "3000")),
            n => Ok(answered(n)),
        })
        .await
        .unwrap();
        assert_eq!(log.starts(start), [Duration::ZERO, Duration::from_secs(3)]);
    }

    #[tokio::test(start_paused = true)]
    async fn pushback_restarts_the_backoff_sequence() {
        let policy = retry_policy(4, &[Code::Unavailable]);
        let log = Log::default();
        let start = Instant::now();
        let _ = run(Policy::Retry(&policy), None, None, &log, |n| match n {
            1 => Ok(pushback(Code::Unavailable, "10")),
            _ => Ok(trailers_only(Code::Unavailable)),
        })
        .await;
        let starts = log.starts(start);
        // After the pushback the next backoff is the first one again, not the third.
        let after = (starts[3] - starts[2]).as_millis();
        assert!((80..=120).contains(&after), "{after}ms");
    }

    #[tokio::test(start_paused = true)]
    async fn negative_pushback_stops_retries_and_counts_against_the_throttle() {
        let policy = retry_policy(5, &[Code::Unavailable]);
        let throttle = RetryThrottle::new(&RetryThrottling::new(10, 1.0).unwrap());
        let log = Log::default();
        let status = run(Policy::Retry(&policy), Some(&throttle), None, &log, |_| {
            Ok(pushback(Code::Unavailable, "-1"))
        })
        .await
        .unwrap_err();
        assert_eq!(status.code(), Code::Unavailable);
        assert_eq!(log.count(), 1);
        assert_eq!(throttle.tokens(), 9.0);
    }

    #[tokio::test(start_paused = true)]
    async fn the_throttle_stops_retries_once_drained_and_successes_refill_it() {
        let policy = retry_policy(5, &[Code::Unavailable]);
        let throttle = RetryThrottle::new(&RetryThrottling::new(10, 1.0).unwrap());
        let failing = |_| Ok(trailers_only(Code::Unavailable));
        let mut attempts = Vec::new();
        for _ in 0..2 {
            let log = Log::default();
            let _ = run(Policy::Retry(&policy), Some(&throttle), None, &log, failing).await;
            attempts.push(log.count());
        }
        // 10 tokens: four failures leave 6 (> 5, retry), the fifth leaves 5
        // (the last attempt anyway); the next call's failure leaves 4: no retry.
        assert_eq!(attempts, [5, 1]);
        for _ in 0..3 {
            run(
                Policy::Retry(&policy),
                Some(&throttle),
                None,
                &Log::default(),
                |n| Ok(answered(n)),
            )
            .await
            .unwrap();
        }
        let log = Log::default();
        let _ = run(Policy::Retry(&policy), Some(&throttle), None, &log, failing).await;
        // Refilled to 7: one failure leaves 6 (retry), the next 5 (stop).
        assert_eq!(log.count(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn every_attempt_carries_the_time_left_and_retries_stop_at_the_deadline() {
        let policy = RetryPolicy::new(
            5,
            Duration::from_millis(300),
            Duration::from_millis(300),
            1.0,
            [Code::Unavailable],
        )
        .unwrap();
        let log = Log::default();
        let deadline = Instant::now() + Duration::from_secs(1);
        let status = run(Policy::Retry(&policy), None, Some(deadline), &log, |_| {
            Ok(trailers_only(Code::Unavailable))
        })
        .await
        .unwrap_err();
        // Three attempts fit (at 0 and about 300 and 600 ms); a fourth would
        // start at about 900 ms or later, and its wait may pass the deadline.
        assert!((3..=4).contains(&log.count()), "{} attempts", log.count());
        assert_eq!(status.code(), Code::Unavailable);
        let timeouts: Vec<Duration> = log
            .seen()
            .iter()
            .map(|seen| {
                let value = http::HeaderValue::from_str(seen.timeout.as_deref().unwrap()).unwrap();
                crate::base::deadline::parse_grpc_timeout(&value).unwrap()
            })
            .collect();
        assert_eq!(timeouts[0], Duration::from_secs(1));
        assert!(
            timeouts.windows(2).all(|pair| pair[1] < pair[0]),
            "{timeouts:?}"
        );
        for (seen, timeout) in log.seen().iter().zip(&timeouts) {
            assert_eq!(
                seen.at + *timeout,
                deadline,
                "each timeout is the time left"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn an_attempt_running_at_the_deadline_ends_in_deadline_exceeded() {
        let policy = retry_policy(5, &[Code::Unavailable]);
        let log = Log::default();
        let start = Instant::now();
        let status = call(
            Policy::Retry(&policy),
            None,
            Some(start + Duration::from_millis(500)),
            DEFAULT_BUFFER_LIMIT,
            request(unary(b"x")),
            |request| {
                log.record(&request);
                std::future::pending::<Result<http::Response<Ended>, AttemptError>>()
            },
        )
        .await
        .unwrap_err();
        assert_eq!(status.code(), Code::DeadlineExceeded);
        assert_eq!(Instant::now() - start, Duration::from_millis(500));
        assert_eq!(log.count(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_streaming_body_is_replayed_byte_identical_on_the_next_attempt() {
        let policy = retry_policy(2, &[Code::Unavailable]);
        let (sender, body) = streaming();
        sender.send(bytes::Bytes::from_static(b"first ")).unwrap();
        let bodies = Arc::new(std::sync::Mutex::new(Vec::new()));
        let call = call(
            Policy::Retry(&policy),
            None,
            None,
            DEFAULT_BUFFER_LIMIT,
            request(body),
            {
                let bodies = bodies.clone();
                let mut n = 0;
                move |request: http::Request<crate::base::body::BoxBody>| {
                    n += 1;
                    let (bodies, first) = (bodies.clone(), n == 1);
                    async move {
                        let mut body = request.into_body();
                        if first {
                            // Fails after sending part of the body.
                            let part = read(&mut body, 1).await.unwrap();
                            bodies.lock().unwrap().push(part);
                            return Ok(trailers_only(Code::Unavailable));
                        }
                        let all = read(&mut body, usize::MAX).await.unwrap();
                        bodies.lock().unwrap().push(all);
                        Ok(answered(2))
                    }
                }
            },
        );
        let feeder = async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            sender.send(bytes::Bytes::from_static(b"second ")).unwrap();
            sender.send(bytes::Bytes::from_static(b"third")).unwrap();
            drop(sender);
        };
        let (response, ()) = tokio::join!(call, feeder);
        assert_eq!(tag(&response.unwrap()), 2);
        let bodies = bodies.lock().unwrap();
        assert_eq!(bodies[0], b"first ");
        assert_eq!(bodies[1], b"first second third");
    }

    #[tokio::test(start_paused = true)]
    async fn past_the_buffer_limit_no_retry_is_made() {
        let policy = retry_policy(5, &[Code::Unavailable]);
        let log = Log::default();
        let status = call(
            Policy::Retry(&policy),
            None,
            None,
            8,
            request(streamed(&[b"12345", b"67890"])),
            |request| {
                log.record(&request);
                async move {
                    let sent = read_all(request.into_body()).await.unwrap();
                    assert_eq!(sent, b"1234567890", "the committed attempt sends it all");
                    Ok::<_, AttemptError>(trailers_only(Code::Unavailable))
                }
            },
        )
        .await
        .unwrap_err();
        assert_eq!(status.code(), Code::Unavailable);
        assert_eq!(log.count(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_unary_body_known_to_be_over_the_limit_is_sent_once_even_if_unprocessed() {
        let log = Log::default();
        let status = call(
            Policy::None,
            None,
            None,
            4,
            request(unary(b"too big")),
            |request| {
                log.record(&request);
                async {
                    Err::<http::Response<Ended>, _>(AttemptError::Unprocessed(
                        crate::base::status::Status::unavailable("refused"),
                    ))
                }
            },
        )
        .await
        .unwrap_err();
        assert_eq!(status.code(), Code::Unavailable);
        assert_eq!(log.count(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn an_unprocessed_attempt_is_retried_at_once_without_a_policy_a_bounded_number_of_times()
    {
        let unprocessed = || {
            Err(AttemptError::Unprocessed(
                crate::base::status::Status::unavailable("refused stream"),
            ))
        };
        let log = Log::default();
        let start = Instant::now();
        let response = run(Policy::None, None, None, &log, |n| {
            if n == 0 {
                unprocessed()
            } else {
                Ok(answered(n))
            }
        })
        .await
        .unwrap();
        assert_eq!(tag(&response), 1);
        assert_eq!(log.starts(start), [Duration::ZERO, Duration::ZERO]);
        assert_eq!(
            log.previous(),
            [None, None],
            "a transparent retry is not counted"
        );

        let log = Log::default();
        let status = run(Policy::None, None, None, &log, |_| unprocessed())
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::Unavailable);
        assert_eq!(log.count(), 1 + super::super::TRANSPARENT_RETRIES as usize);
    }

    #[tokio::test(start_paused = true)]
    async fn a_transparent_retry_does_not_count_against_max_attempts_or_the_throttle() {
        let policy = retry_policy(2, &[Code::Unavailable]);
        let throttle = RetryThrottle::new(&RetryThrottling::new(10, 1.0).unwrap());
        let log = Log::default();
        let response = run(
            Policy::Retry(&policy),
            Some(&throttle),
            None,
            &log,
            |n| match n {
                0 => Err(AttemptError::Unprocessed(
                    crate::base::status::Status::unavailable("goaway"),
                )),
                1 => Ok(trailers_only(Code::Unavailable)),
                n => Ok(answered(n)),
            },
        )
        .await
        .unwrap();
        assert_eq!(tag(&response), 2);
        assert_eq!(log.previous(), [None, None, Some("1".to_owned())]);
        // One counted failure, then one success: 10 - 1 + 1.
        assert_eq!(throttle.tokens(), 10.0);
    }

    #[tokio::test]
    async fn the_call_is_send_when_its_attempts_are() {
        fn assert_send<T: Send>(_: &T) {}
        let policy = retry_policy(2, &[Code::Unavailable]);
        let future = call(
            Policy::Retry(&policy),
            None,
            None,
            1024,
            request(unary(b"x")),
            |_| async { Ok::<_, AttemptError>(answered(0)) },
        );
        assert_send(&future);
        assert_eq!(tag(&future.await.unwrap()), 0);
    }
}
