//! The soak (`benches soak`, driven by `benches/soak.sh`): a fixed number of
//! unary calls at a fixed concurrency on one channel of ours, with long bidi
//! ping-pong streams running alongside on the same channel, against a server
//! already running. Samples the server's and this process's RSS on a period,
//! fits a line through the samples taken after the warm-up (RSS against calls
//! done) and fails on any error, or when RSS grew by more than a bound.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio_stream::StreamExt as _;
use tokio_stream::wrappers::ReceiverStream;

use crate::servers::ours::grpc_testing::benchmark_service_client::BenchmarkServiceClient;
use crate::servers::ours::grpc_testing::{Payload, SimpleRequest};

/// Every call and stream message gets this deadline: a stuck call is an error.
const CALL_DEADLINE: Duration = Duration::from_secs(10);

/// Errors after which the callers stop.
const MAX_ERRORS: u64 = 1000;

/// What one run does.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub(crate) addr: SocketAddr,
    pub(crate) server_pid: u32,
    pub(crate) calls: u64,
    pub(crate) concurrency: usize,
    pub(crate) streams: usize,
    pub(crate) sample: Duration,
    /// Fails the run when the server's or client's RSS grew by more than this
    /// many KiB from the end of the warm-up to the end.
    pub(crate) max_growth_kib: Option<u64>,
}

impl Plan {
    /// Parses `ADDR SERVER_PID [calls=N] [concurrency=N] [streams=N]
    /// [sample_ms=N] [max_growth_kib=N]`.
    pub(crate) fn parse(args: &[String]) -> Result<Plan, String> {
        let usage = "usage: benches soak ADDR SERVER_PID [calls=N] [concurrency=N] [streams=N] [sample_ms=N] [max_growth_kib=N]";
        let [addr, pid, options @ ..] = args else {
            return Err(usage.to_owned());
        };
        let mut plan = Plan {
            addr: addr
                .parse()
                .map_err(|_| format!("{addr}: not an address"))?,
            server_pid: pid
                .parse()
                .map_err(|_| format!("{pid}: not a process id"))?,
            calls: 1_000_000,
            concurrency: 256,
            streams: 4,
            sample: Duration::from_secs(10),
            max_growth_kib: None,
        };
        for option in options {
            let (key, value) = option.split_once('=').ok_or(usage)?;
            let number: u64 = value
                .parse()
                .map_err(|_| format!("{option}: not a number"))?;
            match key {
                "calls" => plan.calls = number,
                "concurrency" => plan.concurrency = usize::try_from(number).unwrap_or(1).max(1),
                "streams" => plan.streams = usize::try_from(number).unwrap_or(0),
                "sample_ms" => plan.sample = Duration::from_millis(number.max(10)),
                "max_growth_kib" => plan.max_growth_kib = Some(number),
                _ => return Err(format!("{option}: unknown option\n{usage}")),
            }
        }
        Ok(plan)
    }
}

/// One RSS sample.
#[derive(Debug, Clone, Copy)]
struct Sample {
    secs: f64,
    calls: u64,
    server_kib: u64,
    client_kib: u64,
}

/// Counters shared by the callers, the streams and the sampler.
#[derive(Default)]
struct Counters {
    issued: AtomicU64,
    done: AtomicU64,
    errors: AtomicU64,
    stream_messages: AtomicU64,
    stream_errors: AtomicU64,
    unary_finished: AtomicBool,
    first_error: std::sync::Mutex<Option<String>>,
}

impl Counters {
    fn error(&self, counter: &AtomicU64, what: String) {
        counter.fetch_add(1, Ordering::Relaxed);
        let mut first = self
            .first_error
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        first.get_or_insert(what);
    }
}

fn request() -> SimpleRequest {
    SimpleRequest {
        response_size: 64,
        payload: Some(Payload {
            r#type: 0,
            body: vec![0; 64].into(),
        }),
        ..Default::default()
    }
}

/// Resident set size in KiB (`VmRSS`), 0 when the process is gone.
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmRSS:"))
                .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Least-squares slope of `y` against `x`; `None` for fewer than two distinct x.
fn slope(points: &[(f64, f64)]) -> Option<f64> {
    let n = points.len() as f64;
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mean_x).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mean_x) * (p.1 - mean_y)).sum();
    (sxx > 0.0).then(|| sxy / sxx)
}

async fn unary_caller(client: BenchmarkServiceClient, plan: Arc<Plan>, counters: Arc<Counters>) {
    while counters.issued.fetch_add(1, Ordering::Relaxed) < plan.calls {
        // A dead server fails every call at once: stop rather than spin.
        if counters.errors.load(Ordering::Relaxed) >= MAX_ERRORS {
            return;
        }
        let mut call = rust_grpc::Request::new(request());
        call.set_timeout(CALL_DEADLINE);
        match client.unary_call(call).await {
            Ok(_) => {}
            Err(status) => counters.error(&counters.errors, format!("UnaryCall: {status}")),
        }
        counters.done.fetch_add(1, Ordering::Relaxed);
    }
}

/// One bidi ping-pong stream for as long as the unary calls run.
async fn bidi_stream(client: BenchmarkServiceClient, counters: Arc<Counters>) {
    let (requests, outgoing) = tokio::sync::mpsc::channel(1);
    let mut replies = match client.streaming_call(ReceiverStream::new(outgoing)).await {
        Ok(response) => response.into_inner(),
        Err(status) => {
            return counters.error(&counters.stream_errors, format!("StreamingCall: {status}"));
        }
    };
    while !counters.unary_finished.load(Ordering::Relaxed) {
        if requests.send(request()).await.is_err() {
            return counters.error(
                &counters.stream_errors,
                "StreamingCall: the request stream closed".to_owned(),
            );
        }
        match tokio::time::timeout(CALL_DEADLINE, replies.next()).await {
            Ok(Some(Ok(_))) => {
                counters.stream_messages.fetch_add(1, Ordering::Relaxed);
            }
            Ok(Some(Err(status))) => {
                return counters.error(&counters.stream_errors, format!("StreamingCall: {status}"));
            }
            Ok(None) => {
                return counters.error(
                    &counters.stream_errors,
                    "StreamingCall: ended before the client closed it".to_owned(),
                );
            }
            Err(_) => {
                return counters.error(
                    &counters.stream_errors,
                    format!("StreamingCall: no reply within {CALL_DEADLINE:?}"),
                );
            }
        }
    }
    // Half-close; the stream must then end with OK.
    drop(requests);
    match tokio::time::timeout(CALL_DEADLINE, replies.next()).await {
        Ok(None) => {}
        Ok(Some(Err(status))) => {
            counters.error(
                &counters.stream_errors,
                format!("StreamingCall end: {status}"),
            );
        }
        Ok(Some(Ok(_))) => counters.error(
            &counters.stream_errors,
            "StreamingCall: a reply after the half-close".to_owned(),
        ),
        Err(_) => counters.error(
            &counters.stream_errors,
            "StreamingCall: no end after the half-close".to_owned(),
        ),
    }
}

/// Runs the soak; returns its report, or the report as the error when it failed.
pub(crate) fn run(plan: Plan) -> Result<String, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|err| err.to_string())?;
    runtime.block_on(soak(Arc::new(plan)))
}

async fn soak(plan: Arc<Plan>) -> Result<String, String> {
    let channel = rust_grpc::Endpoint::new(format!("http://{}", plan.addr))
        .map_err(|err| err.to_string())?
        .connect()
        .await
        .map_err(|err| format!("connect: {err}"))?;
    let client = BenchmarkServiceClient::new(channel);
    let counters = Arc::new(Counters::default());
    let start = Instant::now();
    let sample = |counters: &Counters| Sample {
        secs: start.elapsed().as_secs_f64(),
        calls: counters.done.load(Ordering::Relaxed),
        server_kib: rss_kib(plan.server_pid),
        client_kib: rss_kib(std::process::id()),
    };
    let mut samples = vec![sample(&counters)];
    print_sample(samples[0]);

    let streams: Vec<_> = (0..plan.streams)
        .map(|_| tokio::spawn(bidi_stream(client.clone(), counters.clone())))
        .collect();
    let callers: Vec<_> = (0..plan.concurrency)
        .map(|_| tokio::spawn(unary_caller(client.clone(), plan.clone(), counters.clone())))
        .collect();
    let mut ticks = tokio::time::interval(plan.sample);
    ticks.tick().await;
    let all_callers = futures_join(callers);
    tokio::pin!(all_callers);
    loop {
        tokio::select! {
            _ = ticks.tick() => {
                let now = sample(&counters);
                print_sample(now);
                samples.push(now);
            }
            () = &mut all_callers => break,
        }
    }
    counters.unary_finished.store(true, Ordering::Relaxed);
    for stream in streams {
        let _ = stream.await;
    }
    let duration = start.elapsed();
    let last = sample(&counters);
    print_sample(last);
    samples.push(last);
    report(&plan, &counters, &samples, duration)
}

/// Waits for every task.
async fn futures_join(tasks: Vec<tokio::task::JoinHandle<()>>) {
    for task in tasks {
        let _ = task.await;
    }
}

fn print_sample(sample: Sample) {
    println!(
        "t={:.0}s calls={} server_rss_kib={} client_rss_kib={}",
        sample.secs, sample.calls, sample.server_kib, sample.client_kib
    );
}

fn report(
    plan: &Plan,
    counters: &Counters,
    samples: &[Sample],
    duration: Duration,
) -> Result<String, String> {
    // The warm-up is the first tenth of the calls: buffers and pools grow to
    // their working size there.
    let warm = plan.calls / 10;
    let steady: Vec<Sample> = samples
        .iter()
        .copied()
        .filter(|s| s.calls >= warm)
        .collect();
    let first = steady.first().copied().unwrap_or(samples[0]);
    let last = samples[samples.len() - 1];
    let per_100k = |pick: fn(&Sample) -> u64| {
        let points: Vec<(f64, f64)> = steady
            .iter()
            .map(|s| (s.calls as f64 / 100_000.0, pick(s) as f64))
            .collect();
        slope(&points).map_or("n/a".to_owned(), |kib| format!("{kib:+.1}"))
    };
    let done = counters.done.load(Ordering::Relaxed);
    let errors = counters.errors.load(Ordering::Relaxed);
    let stream_errors = counters.stream_errors.load(Ordering::Relaxed);
    let mut text = format!(
        "soak: {done} unary calls at concurrency {}, {errors} errors; {} bidi streams, {} messages, {stream_errors} errors; {:.1} s, {:.0} calls/s\n",
        plan.concurrency,
        plan.streams,
        counters.stream_messages.load(Ordering::Relaxed),
        duration.as_secs_f64(),
        done as f64 / duration.as_secs_f64(),
    );
    text.push_str(&format!(
        "server RSS: {} KiB after warm-up ({} calls), {} KiB at the end, slope {} KiB per 100k calls\n",
        first.server_kib,
        first.calls,
        last.server_kib,
        per_100k(|s| s.server_kib)
    ));
    text.push_str(&format!(
        "client RSS: {} KiB after warm-up, {} KiB at the end, slope {} KiB per 100k calls\n",
        first.client_kib,
        last.client_kib,
        per_100k(|s| s.client_kib)
    ));
    let mut failures = Vec::new();
    if last.server_kib == 0 {
        failures.push("the server process exited".to_owned());
    }
    if done != plan.calls {
        failures.push(format!("{done} of {} calls finished", plan.calls));
    }
    if errors + stream_errors > 0 {
        let first_error = counters
            .first_error
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
            .unwrap_or_default();
        failures.push(format!("errors (the first: {first_error})"));
    }
    if let Some(limit) = plan.max_growth_kib {
        for (who, from, to) in [
            ("server", first.server_kib, last.server_kib),
            ("client", first.client_kib, last.client_kib),
        ] {
            if to > from + limit {
                failures.push(format!(
                    "{who} RSS grew by {} KiB after the warm-up (limit {limit} KiB)",
                    to - from
                ));
            }
        }
    }
    if failures.is_empty() {
        Ok(text)
    } else {
        Err(format!("{text}FAILED: {}", failures.join("; ")))
    }
}

#[cfg(test)]
mod tests {
    use super::slope;

    #[test]
    fn slope_is_the_least_squares_fit() {
        let points = [(0.0, 1.0), (1.0, 3.0), (2.0, 5.0), (3.0, 7.0)];
        assert_eq!(slope(&points), Some(2.0));
        assert_eq!(slope(&[(1.0, 1.0), (1.0, 2.0)]), None);
    }
}
