//! Client CPU per unary call: the same generated client over our channel,
//! over tonic's `Channel` and over one bare hyper connection (the floor under
//! any channel built on hyper), and grpc-go's own benchmark client, side by
//! side against one server, at c=1 and c=64 on one connection. The call is
//! grpc-go's benchmark `UnaryCall` with 64-byte payloads each way, so grpc-go's
//! client makes the very same call. The calling process runs a current-thread
//! runtime (grpc-go's client `GOMAXPROCS=1`); `benches/client-cpu.sh` pins it
//! to one core and the server to the other.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::procfs;
use crate::servers::ours::grpc_testing::benchmark_service_client::BenchmarkServiceClient;
use crate::servers::ours::grpc_testing::{Payload, SimpleRequest};

/// Request and response payload bytes, as grpc-go's `-req 64 -resp 64`.
const PAYLOAD: usize = 64;

/// Every call this process made, warm-ups too: with one cell (`only`), what
/// a profiler of the whole process divides by.
static TOTAL_CALLS: AtomicU64 = AtomicU64::new(0);

/// The floor under any channel on hyper: the generated client over one bare
/// hyper HTTP/2 connection, with no resolver, balancer, retries or deadline.
#[derive(Clone)]
pub(crate) struct BareHyper(hyper::client::conn::http2::SendRequest<rust_grpc::codegen::BoxBody>);

impl rust_grpc::codegen::Service<http::Request<rust_grpc::codegen::BoxBody>> for BareHyper {
    type Response = http::Response<hyper::body::Incoming>;
    type Error = hyper::Error;
    type Future = rust_grpc::codegen::BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<rust_grpc::codegen::BoxBody>) -> Self::Future {
        Box::pin(self.0.send_request(request))
    }
}

pub(crate) async fn bare_hyper(addr: SocketAddr) -> Result<BareHyper, String> {
    let tcp = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|err| err.to_string())?;
    tcp.set_nodelay(true).map_err(|err| err.to_string())?;
    let (sender, connection) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(tcp),
    )
    .await
    .map_err(|err| err.to_string())?;
    tokio::spawn(connection);
    Ok(BareHyper(sender))
}

/// One measured cell.
struct Cell {
    client: &'static str,
    concurrency: usize,
    calls_per_s: f64,
    cpu_us_per_call: f64,
}

fn request() -> SimpleRequest {
    SimpleRequest {
        response_size: PAYLOAD as i32,
        payload: Some(Payload {
            r#type: 0,
            body: vec![0; PAYLOAD].into(),
        }),
        ..Default::default()
    }
}

/// Runs `concurrency` callers of `call` in a closed loop; returns calls/s
/// and this process's CPU µs per call over `window`, after `warm_up`.
async fn measure<C, Fut>(
    call: C,
    concurrency: usize,
    warm_up: Duration,
    window: Duration,
) -> Result<(f64, f64), String>
where
    C: Fn() -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Result<(), String>> + Send,
{
    let stop = Arc::new(AtomicBool::new(false));
    let counted = Arc::new(AtomicU64::new(0));
    let counting = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let call = call.clone();
        let (stop, counted, counting) = (stop.clone(), counted.clone(), counting.clone());
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                call().await?;
                TOTAL_CALLS.fetch_add(1, Ordering::Relaxed);
                if counting.load(Ordering::Relaxed) {
                    counted.fetch_add(1, Ordering::Relaxed);
                }
            }
            Ok::<(), String>(())
        }));
    }
    tokio::time::sleep(warm_up).await;
    let pid = std::process::id();
    let before = procfs::usage(pid).ok_or("cannot read this process's CPU time")?;
    counting.store(true, Ordering::Relaxed);
    let start = Instant::now();
    tokio::time::sleep(window).await;
    counting.store(false, Ordering::Relaxed);
    let secs = start.elapsed().as_secs_f64();
    let used = procfs::usage(pid)
        .ok_or("cannot read this process's CPU time")?
        .since(before);
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.map_err(|err| err.to_string())??;
    }
    let calls = counted.load(Ordering::Relaxed) as f64;
    if calls == 0.0 {
        return Err("no call finished in the window".to_owned());
    }
    Ok((calls / secs, used.cpu.as_secs_f64() * 1e6 / calls))
}

/// Measures our generated client over its transport.
async fn measure_client<T>(
    client: BenchmarkServiceClient<T>,
    concurrency: usize,
    warm_up: Duration,
    window: Duration,
) -> Result<(f64, f64), String>
where
    T: rust_grpc::codegen::Transport,
{
    let call = move || {
        let client = client.clone();
        async move {
            client
                .unary_call(request())
                .await
                .map(drop)
                .map_err(|status| format!("UnaryCall: {status}"))
        }
    };
    measure(call, concurrency, warm_up, window).await
}

/// grpc-go's benchmark client (`GOMAXPROCS=1`, on this process's core):
/// calls/s as it reports them and its CPU over its measured window, read
/// from `/proc` just after its warm-up and just before it ends.
fn grpc_go(
    binary: &Path,
    addr: SocketAddr,
    concurrency: usize,
    warm_up: Duration,
    window: Duration,
) -> Result<(f64, f64), String> {
    let child = std::process::Command::new(binary)
        .env("GOMAXPROCS", "1")
        .args([
            "-test_name",
            "rust-grpc-client-cpu",
            "-rpc_type",
            "unary",
            "-c",
            "1",
        ])
        .args(["-r", &concurrency.to_string()])
        .args(["-req", &PAYLOAD.to_string(), "-resp", &PAYLOAD.to_string()])
        .args(["-port", &addr.port().to_string()])
        .args(["-w", &warm_up.as_secs().max(1).to_string()])
        .args(["-d", &window.as_secs().max(1).to_string()])
        .current_dir(std::env::temp_dir())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|err| format!("{}: {err}", binary.display()))?;
    let pid = child.id();
    // Its window starts after its warm-up (plus its own start-up); a margin
    // each side keeps the samples inside it.
    let margin = Duration::from_millis(200);
    std::thread::sleep(warm_up.max(Duration::from_secs(1)) + margin);
    let before = procfs::usage(pid).ok_or("cannot read grpc-go's client CPU time")?;
    let start = Instant::now();
    std::thread::sleep(
        window
            .max(Duration::from_secs(1))
            .saturating_sub(margin * 2),
    );
    let used = procfs::usage(pid)
        .ok_or("grpc-go's client ended before its window did")?
        .since(before);
    let secs = start.elapsed().as_secs_f64();
    let output = child.wait_with_output().map_err(|err| err.to_string())?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!(
            "grpc-go's client failed: {}{}",
            stdout,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let qps: f64 = stdout
        .lines()
        .chain(String::from_utf8_lossy(&output.stderr).lines())
        .find_map(|line| line.trim().strip_prefix("qps:"))
        .and_then(|qps| qps.trim().parse().ok())
        .ok_or_else(|| format!("grpc-go's client printed no qps: {stdout}"))?;
    Ok((qps, used.cpu.as_secs_f64() * 1e6 / (qps * secs)))
}

/// Runs every cell against the server at `addr` and returns the table.
/// `only` (`ours:64`, `tonic:1`, `hyper:64`, `grpc-go:1`) runs that one
/// cell, to profile it. grpc-go's client is `grpc_go_client`, when installed.
pub(crate) fn run(
    addr: SocketAddr,
    window: Duration,
    only: Option<&str>,
) -> Result<String, String> {
    let wanted = |client: &str, concurrency: usize| {
        only.is_none_or(|only| only == format!("{client}:{concurrency}"))
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(PathBuf::new, Path::to_path_buf);
    let grpc_go_client = root.join(".cache/go-bin/grpc-go-benchmark/client");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|err| err.to_string())?;
    let warm_up = Duration::from_secs(1);
    let url = format!("http://{addr}");
    let mut cells = Vec::new();
    for concurrency in [1, 64] {
        for client in ["ours", "tonic", "hyper", "grpc-go"] {
            if !wanted(client, concurrency) {
                continue;
            }
            let measured = match client {
                "ours" => runtime.block_on(async {
                    let endpoint =
                        rust_grpc::Endpoint::new(url.clone()).map_err(|err| err.to_string())?;
                    #[cfg(feature = "otel")]
                    let provider = crate::telemetry::provider();
                    #[cfg(feature = "otel")]
                    let endpoint = match &provider {
                        Some(provider) => endpoint.metrics(provider),
                        None => endpoint,
                    };
                    let channel = endpoint.connect().await.map_err(|err| err.to_string())?;
                    let client = BenchmarkServiceClient::new(channel);
                    measure_client(client, concurrency, warm_up, window).await
                })?,
                "tonic" => runtime.block_on(async {
                    let channel = tonic::transport::Endpoint::new(url.clone())
                        .map_err(|err| err.to_string())?
                        .connect()
                        .await
                        .map_err(|err| err.to_string())?;
                    let client = BenchmarkServiceClient::new(channel);
                    measure_client(client, concurrency, warm_up, window).await
                })?,
                "hyper" => runtime.block_on(async {
                    let origin =
                        http::Uri::try_from(url.as_str()).map_err(|err| err.to_string())?;
                    let sender = bare_hyper(addr).await?;
                    let client = BenchmarkServiceClient::with_origin(sender, origin);
                    measure_client(client, concurrency, warm_up, window).await
                })?,
                _ if grpc_go_client.is_file() => {
                    grpc_go(&grpc_go_client, addr, concurrency, warm_up, window)?
                }
                _ => {
                    eprintln!(
                        "benches client: no grpc-go benchmark client at {} (bash benches/peers/setup.sh installs it)",
                        grpc_go_client.display()
                    );
                    continue;
                }
            };
            cells.push(Cell {
                client,
                concurrency,
                calls_per_s: measured.0,
                cpu_us_per_call: measured.1,
            });
        }
    }
    if only.is_some() {
        eprintln!("calls made: {}", TOTAL_CALLS.load(Ordering::Relaxed));
    }
    let mut out = String::from(
        "| client | concurrency | calls/s | client CPU µs / call | / tonic's CPU | / grpc-go's CPU |\n|---|---:|---:|---:|---:|---:|\n",
    );
    for cell in &cells {
        let of = |name: &str| {
            cells
                .iter()
                .find(|c| c.client == name && c.concurrency == cell.concurrency)
                .map_or(f64::NAN, |c| cell.cpu_us_per_call / c.cpu_us_per_call)
        };
        out.push_str(&format!(
            "| {} | {} | {:.0} | {:.2} | {:.3} | {:.3} |\n",
            cell.client,
            cell.concurrency,
            cell.calls_per_s,
            cell.cpu_us_per_call,
            of("tonic"),
            of("grpc-go"),
        ));
    }
    Ok(out)
}
