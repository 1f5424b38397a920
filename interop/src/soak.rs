//! The soak cases of grpc-go's interop client: `rpc_soak` (many large unary
//! calls on one channel) and `channel_soak` (each call on a channel of its own),
//! with grpc-go's `--soak_*` flags and meanings.
//!
//! `--soak_num_threads` workers each run `--soak_iterations / threads`
//! iterations (the count must divide evenly). An iteration is one UnaryCall with
//! a `--soak_request_size` payload asking for `--soak_response_size` bytes; it
//! fails when the call fails, the response is not that size, or it took longer
//! than `--soak_per_iteration_max_acceptable_latency_ms`. Consecutive iterations
//! of a worker start at least `--soak_min_time_ms_between_rpcs` apart. The case
//! fails when more than `--soak_max_failures` iterations failed, or when
//! `--soak_overall_timeout_seconds` passed before every iteration ran (calls
//! carry that overall deadline).

use std::sync::Arc;
use std::time::Duration;

use rust_grpc::Request;
use tokio::time::Instant;

use crate::args::Flags;
use crate::client::{Outcome, Target};
use crate::pb::test_service_client::TestServiceClient;
use crate::pb::{Payload, PayloadType, SimpleRequest};

/// The settings of a soak case, from the `--soak_*` flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoakConfig {
    /// Iterations in all, split among the workers.
    pub iterations: u32,
    /// Failed iterations allowed.
    pub max_failures: u32,
    /// Longer than this, an iteration counts as failed.
    pub max_latency: Duration,
    /// The whole case stops, and fails, after this.
    pub overall_timeout: Duration,
    /// The least time from one iteration's start to the worker's next.
    pub min_time_between: Duration,
    /// The request payload's size.
    pub request_size: usize,
    /// The response payload size asked for.
    pub response_size: i32,
    /// How many workers run at once.
    pub threads: u32,
}

impl Default for SoakConfig {
    /// grpc-go's defaults.
    fn default() -> Self {
        Self {
            iterations: 10,
            max_failures: 0,
            max_latency: Duration::from_millis(1000),
            overall_timeout: Duration::from_secs(10),
            min_time_between: Duration::ZERO,
            request_size: 271_828,
            response_size: 314_159,
            threads: 1,
        }
    }
}

impl SoakConfig {
    /// The settings the `--soak_*` flags give, grpc-go's defaults for the rest.
    ///
    /// # Errors
    ///
    /// Names a flag that is not a number or is out of range.
    pub fn from_flags(flags: &Flags) -> Result<Self, String> {
        let default = Self::default();
        let millis = |name, default: Duration| {
            flags
                .number(name, u64::try_from(default.as_millis()).unwrap_or(u64::MAX))
                .map(Duration::from_millis)
        };
        let config = Self {
            iterations: flags.number("soak_iterations", default.iterations)?,
            max_failures: flags.number("soak_max_failures", default.max_failures)?,
            max_latency: millis(
                "soak_per_iteration_max_acceptable_latency_ms",
                default.max_latency,
            )?,
            overall_timeout: Duration::from_secs(flags.number(
                "soak_overall_timeout_seconds",
                default.overall_timeout.as_secs(),
            )?),
            min_time_between: millis("soak_min_time_ms_between_rpcs", default.min_time_between)?,
            request_size: flags.number("soak_request_size", default.request_size)?,
            response_size: flags.number("soak_response_size", default.response_size)?,
            threads: flags.number("soak_num_threads", default.threads)?,
        };
        if config.response_size < 0 {
            return Err("--soak_response_size cannot be negative".to_owned());
        }
        if config.threads == 0 {
            return Err("--soak_num_threads must be at least 1".to_owned());
        }
        Ok(config)
    }
}

/// Where each iteration's call goes.
#[derive(Debug, Clone)]
pub enum Channels {
    /// `rpc_soak`: every call on this one channel.
    Shared(TestServiceClient),
    /// `channel_soak`: every call on a new channel to this target, closed after.
    PerCall(Target),
}

/// What one worker saw.
#[derive(Debug, Default)]
struct Tally {
    latencies: Vec<Duration>,
    failures: u32,
    first_failure: Option<String>,
}

/// Runs a soak case.
///
/// # Errors
///
/// When more iterations failed than allowed, when the overall timeout passed
/// first, or when the iterations do not split evenly among the workers.
pub async fn soak(config: &SoakConfig, channels: Channels) -> Outcome {
    if !config.iterations.is_multiple_of(config.threads) {
        return Err(format!(
            "--soak_iterations={} must split evenly among --soak_num_threads={}",
            config.iterations, config.threads
        ));
    }
    let deadline = Instant::now() + config.overall_timeout;
    let config = Arc::new(config.clone());
    let workers: Vec<_> = (0..config.threads)
        .map(|id| tokio::spawn(worker(id, Arc::clone(&config), channels.clone(), deadline)))
        .collect();
    let mut all = Tally::default();
    for worker in workers {
        let tally = worker
            .await
            .map_err(|err| format!("a soak worker failed: {err}"))?;
        all.latencies.extend(tally.latencies);
        all.failures += tally.failures;
        all.first_failure = all.first_failure.or(tally.first_failure);
    }

    let succeeded = u32::try_from(all.latencies.len()).unwrap_or(u32::MAX);
    let ran = succeeded + all.failures;
    eprintln!(
        "soak: {succeeded} / {} iterations succeeded, {} failed; latencies: {}",
        config.iterations,
        all.failures,
        summary(&mut all.latencies)
    );
    let first = all
        .first_failure
        .map(|why| format!("; first failure: {why}"))
        .unwrap_or_default();
    if ran != config.iterations {
        return Err(format!(
            "the overall timeout of {:?} passed after {ran} of {} iterations{first}",
            config.overall_timeout, config.iterations
        ));
    }
    if all.failures > config.max_failures {
        return Err(format!(
            "{} of {} iterations failed, more than --soak_max_failures={}{first}",
            all.failures, config.iterations, config.max_failures
        ));
    }
    Ok(())
}

async fn worker(id: u32, config: Arc<SoakConfig>, channels: Channels, deadline: Instant) -> Tally {
    let mut tally = Tally::default();
    for iteration in 0..config.iterations / config.threads {
        if Instant::now() >= deadline {
            eprintln!(
                "worker {id}: the overall timeout of {:?} passed, stopping",
                config.overall_timeout
            );
            break;
        }
        let start = Instant::now();
        let earliest_next = start + config.min_time_between;
        // The latency includes making the channel: grpc-go's channel connects
        // lazily, during its first call.
        let outcome = tokio::time::timeout_at(deadline, one_call(&config, &channels, deadline))
            .await
            .unwrap_or_else(|_| Err("the overall deadline passed during the call".to_owned()));
        let latency = start.elapsed();
        let failure = match outcome {
            Err(why) => Some(why),
            Ok(()) if latency > config.max_latency => Some(format!(
                "took {} ms, more than the {} ms acceptable",
                latency.as_millis(),
                config.max_latency.as_millis()
            )),
            Ok(()) => None,
        };
        match failure {
            None => {
                eprintln!(
                    "worker {id}: soak iteration {iteration} succeeded in {} ms",
                    latency.as_millis()
                );
                tally.latencies.push(latency);
            }
            Some(why) => {
                eprintln!("worker {id}: soak iteration {iteration} failed: {why}");
                tally.failures += 1;
                tally.first_failure.get_or_insert(why);
            }
        }
        tokio::time::sleep_until(earliest_next).await;
    }
    tally
}

async fn one_call(config: &SoakConfig, channels: &Channels, deadline: Instant) -> Outcome {
    let client = match channels {
        Channels::Shared(client) => client.clone(),
        Channels::PerCall(target) => TestServiceClient::new(crate::client::channel(target).await?),
    };
    let mut request = Request::new(SimpleRequest {
        response_type: PayloadType::Compressable.into(),
        response_size: config.response_size,
        payload: Some(Payload {
            r#type: PayloadType::Compressable.into(),
            body: vec![0; config.request_size],
        }),
        ..SimpleRequest::default()
    });
    request.set_timeout(deadline.saturating_duration_since(Instant::now()));
    let response = client.unary_call(request).await.map_err(|status| {
        format!(
            "UnaryCall failed: {:?} {:?}",
            status.code(),
            status.message()
        )
    })?;
    let payload = response.get_ref().payload.as_ref();
    let kind = payload.map(|payload| payload.r#type);
    let size = payload.map_or(0, |payload| payload.body.len());
    let want = usize::try_from(config.response_size).unwrap_or(0);
    if kind != Some(PayloadType::Compressable.into()) || size != want {
        return Err(format!(
            "the response payload is type {kind:?} of {size} bytes, want COMPRESSABLE of {want}"
        ));
    }
    Ok(())
}

/// Sorts `latencies` and says min, median, 90th percentile and max in ms.
fn summary(latencies: &mut [Duration]) -> String {
    if latencies.is_empty() {
        return "none".to_owned();
    }
    latencies.sort_unstable();
    let at = |fraction: f64| {
        // Nearest rank: a small count has no finer percentiles.
        let rank = (fraction * latencies.len() as f64).ceil() as usize;
        latencies[rank.clamp(1, latencies.len()) - 1].as_millis()
    };
    format!(
        "min {} ms, median {} ms, p90 {} ms, max {} ms",
        at(0.0),
        at(0.5),
        at(0.9),
        at(1.0)
    )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{SoakConfig, summary};
    use crate::args::{Flags, Parsed};

    fn config(args: &[&str]) -> Result<SoakConfig, String> {
        let flags = match Flags::parse(args.iter().map(|a| (*a).to_owned()), crate::client::FLAGS)?
        {
            Parsed::Flags(flags) => flags,
            Parsed::Help => unreachable!(),
        };
        SoakConfig::from_flags(&flags)
    }

    #[test]
    fn defaults_are_grpc_gos() {
        assert_eq!(config(&[]).unwrap(), SoakConfig::default());
        assert_eq!(SoakConfig::default().iterations, 10);
        assert_eq!(SoakConfig::default().response_size, 314_159);
    }

    #[test]
    fn flags_set_every_setting() {
        let got = config(&[
            "--soak_iterations=20",
            "--soak_max_failures=2",
            "--soak_per_iteration_max_acceptable_latency_ms=50",
            "--soak_overall_timeout_seconds=3",
            "--soak_min_time_ms_between_rpcs=7",
            "--soak_request_size=1",
            "--soak_response_size=2",
            "--soak_num_threads=4",
        ])
        .unwrap();
        let want = SoakConfig {
            iterations: 20,
            max_failures: 2,
            max_latency: Duration::from_millis(50),
            overall_timeout: Duration::from_secs(3),
            min_time_between: Duration::from_millis(7),
            request_size: 1,
            response_size: 2,
            threads: 4,
        };
        assert_eq!(got, want);
    }

    #[test]
    fn bad_settings_are_errors() {
        assert!(config(&["--soak_iterations=-1"]).is_err());
        assert!(config(&["--soak_response_size=-1"]).is_err());
        assert!(config(&["--soak_num_threads=0"]).is_err());
    }

    #[test]
    fn summary_uses_nearest_ranks() {
        let mut latencies: Vec<Duration> = (1..=10).rev().map(Duration::from_millis).collect();
        assert_eq!(
            summary(&mut latencies),
            "min 1 ms, median 5 ms, p90 9 ms, max 10 ms"
        );
        assert_eq!(summary(&mut []), "none");
    }
}
