//! Client CPU per unary call: our generated Greeter client over our channel
//! and over tonic's `Channel`, side by side, against one server, at c=1 and
//! c=64 on one connection. The calling process runs a current-thread runtime;
//! `benches/client-cpu.sh` pins it to one core and the server to the other.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::procfs;
use crate::servers::ours::helloworld::HelloRequest;
use crate::servers::ours::helloworld::greeter_client::GreeterClient;

/// One measured cell.
struct Cell {
    transport: &'static str,
    concurrency: usize,
    calls_per_s: f64,
    cpu_us_per_call: f64,
}

async fn measure<T>(
    client: GreeterClient<T>,
    concurrency: usize,
    warm_up: Duration,
    window: Duration,
) -> Result<(f64, f64), String>
where
    T: rust_grpc::codegen::Transport,
{
    let stop = Arc::new(AtomicBool::new(false));
    let counted = Arc::new(AtomicU64::new(0));
    let counting = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let client = client.clone();
        let (stop, counted, counting) = (stop.clone(), counted.clone(), counting.clone());
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                client
                    .say_hello(HelloRequest {
                        name: "world".to_owned(),
                    })
                    .await
                    .map_err(|status| format!("SayHello: {status}"))?;
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

/// Runs every cell against the server at `addr` and returns the table.
pub(crate) fn run(addr: SocketAddr, window: Duration) -> Result<String, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|err| err.to_string())?;
    let warm_up = Duration::from_secs(1);
    let url = format!("http://{addr}");
    let mut cells = Vec::new();
    for concurrency in [1, 64] {
        let ours = runtime.block_on(async {
            let channel = rust_grpc::Endpoint::new(url.clone())
                .map_err(|err| err.to_string())?
                .connect()
                .await
                .map_err(|err| err.to_string())?;
            measure(GreeterClient::new(channel), concurrency, warm_up, window).await
        })?;
        let tonic = runtime.block_on(async {
            let channel = tonic::transport::Endpoint::new(url.clone())
                .map_err(|err| err.to_string())?
                .connect()
                .await
                .map_err(|err| err.to_string())?;
            measure(GreeterClient::new(channel), concurrency, warm_up, window).await
        })?;
        for (transport, (calls_per_s, cpu_us_per_call)) in [("ours", ours), ("tonic", tonic)] {
            cells.push(Cell {
                transport,
                concurrency,
                calls_per_s,
                cpu_us_per_call,
            });
        }
    }
    let mut out = String::from(
        "| client channel | concurrency | calls/s | client CPU µs / call | ours / tonic (CPU) |\n|---|---:|---:|---:|---:|\n",
    );
    for cell in &cells {
        let tonic = cells
            .iter()
            .find(|c| c.transport == "tonic" && c.concurrency == cell.concurrency)
            .map_or(f64::NAN, |c| c.cpu_us_per_call);
        out.push_str(&format!(
            "| {} | {} | {:.0} | {:.2} | {:.3} |\n",
            cell.transport,
            cell.concurrency,
            cell.calls_per_s,
            cell.cpu_us_per_call,
            cell.cpu_us_per_call / tonic
        ));
    }
    Ok(out)
}
