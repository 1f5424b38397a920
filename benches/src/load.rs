//! The external load generators (ghz, h2load, grpc-go's benchmark client), run
//! pinned to core 1, and the grpc-status check that h2load cannot do itself.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use prost::Message as _;

use crate::servers::{
    greeting,
    ours::helloworld::{HelloReply, HelloRequest},
};

/// The unary helloworld call every generator makes.
pub(crate) const SAY_HELLO: &str = "/helloworld.Greeter/SayHello";

/// The name every unary call sends.
pub(crate) const NAME: &str = "world";

/// One measured cell from a load generator.
#[derive(Debug, Default, Clone)]
pub(crate) struct Measured {
    /// Calls (or messages) that completed OK in the window.
    pub(crate) count: u64,
    /// The window's length in seconds.
    pub(crate) secs: f64,
    /// Latency percentiles in microseconds, where the generator gives them.
    pub(crate) p50_us: Option<f64>,
    pub(crate) p90_us: Option<f64>,
    pub(crate) p99_us: Option<f64>,
    /// Mean latency in microseconds (h2load gives no percentiles).
    pub(crate) mean_us: Option<f64>,
    /// Payload megabytes per second (server streaming).
    pub(crate) mb_per_s: Option<f64>,
    /// Calls that failed, or returned a status other than OK.
    pub(crate) errors: u64,
    /// What went wrong, if anything did.
    pub(crate) error_text: String,
}

impl Measured {
    /// Completed calls (or messages) per second.
    pub(crate) fn rate(&self) -> f64 {
        if self.secs > 0.0 {
            self.count as f64 / self.secs
        } else {
            0.0
        }
    }
}

/// The length-prefixed `HelloRequest` h2load sends and the check posts.
pub(crate) fn hello_body() -> Bytes {
    let message = HelloRequest { name: NAME.into() }.encode_to_vec();
    let mut framed = Vec::with_capacity(5 + message.len());
    framed.push(0);
    framed.extend_from_slice(&(message.len() as u32).to_be_bytes());
    framed.extend_from_slice(&message);
    Bytes::from(framed)
}

fn pinned(program: &Path) -> Command {
    let mut command = Command::new("taskset");
    command.arg("-c").arg("1").arg(program);
    command
}

fn millis(duration: Duration) -> String {
    format!("{}ms", duration.as_millis())
}

/// The unary call a ghz cell makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unary {
    /// helloworld `SayHello`.
    Hello,
    /// grpc.testing `UnaryCall` with this many payload bytes each way.
    Payload(usize),
}

impl Unary {
    fn proto(self) -> &'static str {
        match self {
            Unary::Hello => "helloworld.proto",
            Unary::Payload(_) => "benchmark.proto",
        }
    }

    fn method(self) -> &'static str {
        match self {
            Unary::Hello => "helloworld.Greeter.SayHello",
            Unary::Payload(_) => "grpc.testing.BenchmarkService.UnaryCall",
        }
    }

    /// The request as ghz's JSON (`bytes` fields are base64).
    fn data(self) -> String {
        match self {
            Unary::Hello => format!(r#"{{"name":"{NAME}"}}"#),
            Unary::Payload(size) => format!(
                r#"{{"response_size":{size},"payload":{{"body":"{}"}}}}"#,
                base64_zeros(size)
            ),
        }
    }
}

/// The base64 text of `len` zero bytes.
fn base64_zeros(len: usize) -> String {
    let mut text = "A".repeat(len / 3 * 4);
    text.push_str(match len % 3 {
        1 => "AA==",
        2 => "AAA=",
        _ => "",
    });
    text
}

/// Runs ghz for `duration`: `concurrency` workers over `connections` connections,
/// making `call`. ghz checks every call's status.
pub(crate) fn ghz(
    ghz: &Path,
    proto_dir: &Path,
    call: Unary,
    addr: SocketAddr,
    concurrency: u32,
    connections: u32,
    duration: Duration,
) -> Result<Measured, String> {
    let output = pinned(ghz)
        .arg("--insecure")
        .arg("--import-paths")
        .arg(proto_dir)
        .arg("--proto")
        .arg(proto_dir.join(call.proto()))
        .args(["--call", call.method()])
        .args(["-d", &call.data()])
        .args(["-c", &concurrency.to_string()])
        .args(["--connections", &connections.to_string()])
        .args(["--cpus", "1"])
        .args(["-z", &millis(duration)])
        .args(["--duration-stop", "wait"])
        .args(["--format", "json"])
        .arg(addr.to_string())
        .output()
        .map_err(|error| format!("cannot run ghz: {error}"))?;
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).map_err(|error| {
        format!(
            "ghz printed no JSON report ({error}); exit {:?}: {}",
            output.status.code(),
            String::from_utf8_lossy(&output.stderr).trim()
        )
    })?;
    let ns = |value: &serde_json::Value| value.as_f64().map(|ns| ns / 1000.0);
    let percentile = |p: u64| {
        json["latencyDistribution"]
            .as_array()?
            .iter()
            .find(|entry| entry["percentage"].as_u64() == Some(p))
            .and_then(|entry| ns(&entry["latency"]))
    };
    let count = json["count"].as_u64().unwrap_or(0);
    let ok = json["statusCodeDistribution"]["OK"].as_u64().unwrap_or(0);
    let mut measured = Measured {
        count: ok,
        secs: json["total"].as_f64().unwrap_or(0.0) / 1e9,
        p50_us: percentile(50),
        p90_us: percentile(90),
        p99_us: percentile(99),
        mean_us: ns(&json["average"]),
        mb_per_s: match call {
            Unary::Hello => None,
            Unary::Payload(size) => {
                let secs = json["total"].as_f64().unwrap_or(0.0) / 1e9;
                (secs > 0.0).then(|| ok as f64 * size as f64 / 1e6 / secs)
            }
        },
        errors: count - ok.min(count),
        ..Measured::default()
    };
    if measured.errors > 0 {
        measured.error_text = format!(
            "statuses {}; errors {}",
            json["statusCodeDistribution"], json["errorDistribution"]
        );
    }
    Ok(measured)
}

/// Runs h2load for `duration` (or, without one, `warm_up_calls` calls, to warm up):
/// `connections` connections with up to `streams` concurrent streams each, POSTing
/// `body_file` to `SayHello`. h2load counts any HTTP 200 as success: check
/// grpc-status with [`check_grpc_status`] too.
pub(crate) fn h2load(
    h2load: &Path,
    body_file: &Path,
    addr: SocketAddr,
    connections: u32,
    streams: u32,
    duration: Option<Duration>,
    warm_up_calls: u64,
) -> Result<Measured, String> {
    let mut command = pinned(h2load);
    command
        .args(["-t", "1"])
        .args(["-c", &connections.to_string()])
        .args(["-m", &streams.to_string()])
        .arg("-d")
        .arg(body_file)
        .args(["-H", "content-type: application/grpc"])
        .args(["-H", "te: trailers"]);
    match duration {
        Some(duration) => command.args(["-D", &millis(duration)]),
        None => command.args(["-n", &warm_up_calls.to_string()]),
    };
    let output = command
        .arg(format!("http://{addr}{SAY_HELLO}"))
        .output()
        .map_err(|error| format!("cannot run h2load: {error}"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    parse_h2load(&text).ok_or_else(|| {
        format!(
            "cannot read h2load's report; exit {:?}: {} {}",
            output.status.code(),
            text.trim(),
            String::from_utf8_lossy(&output.stderr).trim()
        )
    })
}

/// Reads `finished in`, `requests:` and `time for request:` from h2load's report.
fn parse_h2load(text: &str) -> Option<Measured> {
    let secs = text
        .lines()
        .find_map(|line| line.strip_prefix("finished in "))
        .and_then(|rest| parse_time_us(rest.split(',').next()?.trim()))?
        / 1e6;
    let requests = text
        .lines()
        .find_map(|line| line.strip_prefix("requests: "))?;
    let number_before = |word: &str| -> Option<u64> {
        requests
            .split(',')
            .map(str::trim)
            .find(|part| part.ends_with(word))?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    };
    let succeeded = number_before("succeeded")?;
    let total = number_before("total").unwrap_or(succeeded);
    let mean_us = text
        .lines()
        .find_map(|line| line.trim_start().strip_prefix("time for request:"))
        .and_then(|rest| parse_time_us(rest.split_whitespace().nth(2)?));
    let failed = total.saturating_sub(succeeded);
    Some(Measured {
        count: succeeded,
        secs,
        mean_us,
        errors: failed,
        error_text: if failed > 0 {
            format!("h2load: {requests}")
        } else {
            String::new()
        },
        ..Measured::default()
    })
}

/// `12.5ms`, `830us`, `1.2s` in microseconds.
fn parse_time_us(text: &str) -> Option<f64> {
    let (number, scale) = if let Some(n) = text.strip_suffix("us") {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix("ms") {
        (n, 1e3)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1e6)
    } else {
        return None;
    };
    Some(number.parse::<f64>().ok()? * scale)
}

/// The call grpc-go's benchmark client makes (its `-rpc_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GoRpc {
    /// `UnaryCall`, one call after another on each worker.
    Unary,
    /// `StreamingCall` ping-pong: each worker opens one stream, then sends a
    /// request and waits for its response, over and over.
    Streaming,
}

/// A grpc-go benchmark client cell's shape.
#[derive(Debug, Clone, Copy)]
pub(crate) struct GoShape {
    pub(crate) rpc: GoRpc,
    /// Connections (`-c`).
    pub(crate) connections: u32,
    /// Concurrent RPCs (or streams) per connection (`-r`).
    pub(crate) rpcs: u32,
    /// Request and response payload bytes (`-req`, `-resp`).
    pub(crate) payload: usize,
}

/// A running grpc-go benchmark client (`google.golang.org/grpc/benchmark/client`).
/// It warms up and measures in one process: it takes whole seconds (`-w`,
/// `-d`), starts its warm-up as soon as it has built its connections (lazily,
/// at once), and reports only the calls started after the warm-up.
pub(crate) struct GoBenchClient {
    child: Child,
    profile: String,
    window_opens: Instant,
    duration_secs: u64,
}

impl GoBenchClient {
    /// Starts the client against `addr` (it dials `localhost:<port>`, with
    /// `GOMAXPROCS=1`). The warm-up and the window are rounded up to whole seconds.
    pub(crate) fn start(
        client: &Path,
        addr: SocketAddr,
        shape: GoShape,
        warm_up: Duration,
        duration: Duration,
    ) -> Result<Self, String> {
        let warm_up_secs = whole_secs(warm_up);
        let duration_secs = whole_secs(duration).max(1);
        // It always writes a CPU and a heap profile to /tmp/<test_name>.{cpu,mem}.
        let profile = format!("rust-grpc-benches-{}", std::process::id());
        let started = Instant::now();
        let child = pinned(client)
            .env("GOMAXPROCS", "1")
            .args(["-port", &addr.port().to_string()])
            .args(["-test_name", &profile])
            .args([
                "-rpc_type",
                match shape.rpc {
                    GoRpc::Unary => "unary",
                    GoRpc::Streaming => "streaming",
                },
            ])
            .args(["-c", &shape.connections.to_string()])
            .args(["-r", &shape.rpcs.to_string()])
            .args(["-req", &shape.payload.to_string()])
            .args(["-resp", &shape.payload.to_string()])
            .args(["-w", &warm_up_secs.to_string()])
            .args(["-d", &duration_secs.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|error| format!("cannot run grpc-go's benchmark client: {error}"))?;
        Ok(GoBenchClient {
            child,
            profile,
            window_opens: started + Duration::from_secs(warm_up_secs),
            duration_secs,
        })
    }

    /// When the measured window opens, give or take the client's start-up (a
    /// few milliseconds, so the window read from here holds a few warm-up calls).
    pub(crate) fn window_opens(&self) -> Instant {
        self.window_opens
    }

    /// Waits for the client to finish and reads its report. The client stops at
    /// the first failed call (exit status 1, the error on stderr); one still
    /// running 20 s after its window should have closed is killed (a server
    /// that stopped answering: the client sets no deadline).
    pub(crate) fn finish(mut self) -> Result<Measured, String> {
        let limit = self.window_opens + Duration::from_secs(self.duration_secs + 20);
        let mut overran = false;
        loop {
            match self.child.try_wait() {
                Ok(None) if Instant::now() < limit => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Ok(None) => {
                    overran = true;
                    let _ = self.child.kill();
                    break;
                }
                Ok(Some(_)) | Err(_) => break,
            }
        }
        let output = self
            .child
            .wait_with_output()
            .map_err(|error| format!("grpc-go's benchmark client: {error}"));
        for extension in ["cpu", "mem"] {
            let _ = std::fs::remove_file(format!("/tmp/{}.{extension}", self.profile));
        }
        let output = output?;
        let text = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        if overran {
            return Err(format!(
                "grpc-go's benchmark client had not finished 20 s after its window closed \
                 (killed): the server stopped answering? {}",
                stderr.trim()
            ));
        }
        if !output.status.success() {
            return Err(format!(
                "grpc-go's benchmark client exited with {}: {}",
                output.status,
                stderr.trim()
            ));
        }
        parse_go_bench(&text, self.duration_secs).ok_or_else(|| {
            format!(
                "cannot read grpc-go's benchmark client's report: {} {}",
                text.trim(),
                stderr.trim()
            )
        })
    }
}

fn whole_secs(duration: Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}

/// Reads `qps: N` and `Latency: (50/90/99 %ile): A/B/C` from grpc-go's benchmark
/// client; `qps` is the calls completed in the window over its `duration_secs`.
fn parse_go_bench(text: &str, duration_secs: u64) -> Option<Measured> {
    let qps: f64 = text
        .lines()
        .find_map(|line| line.strip_prefix("qps:"))?
        .trim()
        .parse()
        .ok()?;
    let latencies: Vec<f64> = text
        .lines()
        .find_map(|line| line.strip_prefix("Latency: (50/90/99 %ile):"))?
        .trim()
        .split('/')
        .map(parse_go_duration_us)
        .collect::<Option<_>>()?;
    let [p50, p90, p99] = latencies[..] else {
        return None;
    };
    let secs = duration_secs as f64;
    Some(Measured {
        count: (qps * secs).round() as u64,
        secs,
        p50_us: Some(p50),
        p90_us: Some(p90),
        p99_us: Some(p99),
        ..Measured::default()
    })
}

/// A Go `time.Duration` as printed (`812.345µs`, `1.52457ms`, `1m2.5s`), in microseconds.
fn parse_go_duration_us(text: &str) -> Option<f64> {
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    let mut total = 0.0;
    while !rest.is_empty() {
        let split = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..split].parse().ok()?;
        rest = &rest[split..];
        let (scale, unit) = [
            (1e-3, "ns"),
            (1.0, "µs"),
            (1.0, "μs"),
            (1.0, "us"),
            (1e3, "ms"),
            (1e6, "s"),
            (60e6, "m"),
            (3600e6, "h"),
        ]
        .into_iter()
        .find(|(_, unit)| rest.starts_with(unit))?;
        total += number * scale;
        rest = &rest[unit.len()..];
    }
    Some(total)
}

/// Posts the exact request h2load sends (same body, same headers) and checks the
/// answer is HTTP 200 with `grpc-status: 0` and the expected `HelloReply`.
pub(crate) async fn check_grpc_status(addr: SocketAddr, body: Bytes) -> Result<(), String> {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|error| format!("connect: {error}"))?;
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .map_err(|error| format!("HTTP/2 handshake: {error}"))?;
    tokio::spawn(connection);
    let request = http::Request::post(format!("http://{addr}{SAY_HELLO}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(Full::new(body))
        .map_err(|error| error.to_string())?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|error| format!("request: {error}"))?;
    if response.status() != http::StatusCode::OK {
        return Err(format!("HTTP status {}", response.status()));
    }
    let headers = response.headers().clone();
    let collected = response
        .into_body()
        .collect()
        .await
        .map_err(|error| format!("body: {error}"))?;
    let trailers = collected.trailers().cloned().unwrap_or_default();
    let status = trailers
        .get("grpc-status")
        .or_else(|| headers.get("grpc-status"))
        .and_then(|value| value.to_str().ok())
        .unwrap_or("missing");
    if status != "0" {
        return Err(format!("grpc-status {status}"));
    }
    let body = collected.to_bytes();
    let reply = body
        .get(5..)
        .and_then(|message| HelloReply::decode(message).ok())
        .ok_or("the reply is not a length-prefixed HelloReply")?;
    if reply.message != greeting(NAME) {
        return Err(format!("unexpected reply {:?}", reply.message));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn h2load_report_is_read() {
        let report = "\
finished in 2.00s, 52074.50 req/s, 2.73MB/s
requests: 104149 total, 104149 started, 104149 done, 104100 succeeded, 49 failed, 0 errored, 0 timeout
status codes: 104149 2xx, 0 3xx, 0 4xx, 0 5xx
                     min         max         mean         sd        +/- sd
time for request:      140us     14.55ms      1.22ms       385us    85.39%
";
        let measured = parse_h2load(report).unwrap();
        assert_eq!(measured.count, 104_100);
        assert_eq!(measured.errors, 49);
        assert!((measured.secs - 2.0).abs() < 1e-9);
        assert!((measured.mean_us.unwrap() - 1220.0).abs() < 1e-6);
    }

    #[test]
    fn grpc_go_benchmark_report_is_read() {
        let report = "\
qps: 65400
Latency: (50/90/99 %ile): 862.516µs/1.52457ms/2.298411ms
Client CPU utilization: 2.394080022s
Client CPU profile: /tmp/x.cpu
Client Mem Profile: /tmp/x.mem
";
        let measured = parse_go_bench(report, 2).unwrap();
        assert_eq!(measured.count, 130_800);
        assert!((measured.secs - 2.0).abs() < 1e-9);
        assert!((measured.p50_us.unwrap() - 862.516).abs() < 1e-6);
        assert!((measured.p90_us.unwrap() - 1524.57).abs() < 1e-6);
        assert!((measured.p99_us.unwrap() - 2298.411).abs() < 1e-6);
        assert_eq!(measured.errors, 0);
    }

    #[test]
    fn grpc_go_benchmark_qps_in_exponent_form_is_read() {
        let report = "qps: 1.2e+06\nLatency: (50/90/99 %ile): 1ms/2ms/3ms\n";
        assert_eq!(parse_go_bench(report, 5).unwrap().count, 6_000_000);
    }

    #[test]
    fn grpc_go_benchmark_report_without_latency_is_not_read() {
        assert!(parse_go_bench("qps: 100\n", 2).is_none());
    }

    #[test]
    fn go_durations_are_microseconds() {
        assert_eq!(parse_go_duration_us("500ns"), Some(0.5));
        assert_eq!(parse_go_duration_us("812.5µs"), Some(812.5));
        assert_eq!(parse_go_duration_us("1.5ms"), Some(1500.0));
        assert_eq!(parse_go_duration_us("2s"), Some(2_000_000.0));
        assert_eq!(parse_go_duration_us("1m2.5s"), Some(62_500_000.0));
        assert_eq!(parse_go_duration_us("0s"), Some(0.0));
        assert_eq!(parse_go_duration_us("fast"), None);
        assert_eq!(parse_go_duration_us("12"), None);
        assert_eq!(parse_go_duration_us(""), None);
    }

    #[test]
    fn go_client_durations_round_up_to_whole_seconds() {
        assert_eq!(whole_secs(Duration::from_millis(500)), 1);
        assert_eq!(whole_secs(Duration::from_secs(2)), 2);
        assert_eq!(whole_secs(Duration::from_millis(5001)), 6);
    }

    #[test]
    fn payloads_are_base64_zeros() {
        assert_eq!(base64_zeros(0), "");
        assert_eq!(base64_zeros(1), "AA==");
        assert_eq!(base64_zeros(2), "AAA=");
        assert_eq!(base64_zeros(3), "AAAA");
        assert_eq!(base64_zeros(1024).len(), 1368);
    }

    #[test]
    fn time_units_are_microseconds() {
        assert_eq!(parse_time_us("830us"), Some(830.0));
        assert_eq!(parse_time_us("1.5ms"), Some(1500.0));
        assert_eq!(parse_time_us("2.00s"), Some(2_000_000.0));
        assert_eq!(parse_time_us("fast"), None);
    }
}
