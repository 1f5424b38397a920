//! Memory per idle connection (`benches conns`, driven by
//! `benches/conn-memory.sh`): opens N HTTP/2 connections to a server already
//! running, makes one unary call on each (so the handshake and a stream's
//! worth of state are done), holds them all idle and reads how much the
//! server's RSS grew, per connection.

use std::net::SocketAddr;
use std::time::Duration;

use crate::client::bare_hyper;
use crate::servers::ours::grpc_testing::SimpleRequest;
use crate::servers::ours::grpc_testing::benchmark_service_client::BenchmarkServiceClient;

/// Connections being opened at once.
const OPENING_AT_ONCE: usize = 100;

/// How long RSS is left to settle before and after connecting.
const SETTLE: Duration = Duration::from_secs(2);

/// Resident set size in KiB (`VmRSS`).
fn rss_kib(pid: u32) -> Result<u64, String> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmRSS:"))
                .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .ok_or_else(|| format!("cannot read the RSS of process {pid}"))
}

/// `benches conns ADDR SERVER_PID N`: returns the result line.
pub(crate) fn run(args: &[String]) -> Result<String, String> {
    let usage = "usage: benches conns ADDR SERVER_PID N";
    let [addr, pid, n] = args else {
        return Err(usage.to_owned());
    };
    let addr: SocketAddr = addr
        .parse()
        .map_err(|_| format!("{addr}: not an address"))?;
    let pid: u32 = pid
        .parse()
        .map_err(|_| format!("{pid}: not a process id"))?;
    let n: usize = n.parse().map_err(|_| format!("{n}: not a number"))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|err| err.to_string())?;
    runtime.block_on(async move {
        tokio::time::sleep(SETTLE).await;
        let before = rss_kib(pid)?;
        let origin = http::Uri::try_from(format!("http://{addr}")).map_err(|e| e.to_string())?;
        let mut held = Vec::with_capacity(n);
        let mut opening = tokio::task::JoinSet::new();
        let mut started = 0;
        while held.len() < n {
            while started < n && opening.len() < OPENING_AT_ONCE {
                let origin = origin.clone();
                opening.spawn(async move {
                    let sender = bare_hyper(addr).await?;
                    let client = BenchmarkServiceClient::with_origin(sender, origin);
                    client
                        .unary_call(SimpleRequest {
                            response_size: 8,
                            ..Default::default()
                        })
                        .await
                        .map_err(|status| format!("UnaryCall: {status}"))?;
                    Ok::<_, String>(client)
                });
                started += 1;
            }
            match opening.join_next().await {
                Some(joined) => held.push(joined.map_err(|err| err.to_string())??),
                None => break,
            }
        }
        tokio::time::sleep(SETTLE).await;
        let after = rss_kib(pid)?;
        let per = (after.saturating_sub(before)) as f64 / n as f64;
        let line = format!(
            "{n} idle connections: server RSS {before} KiB before, {after} KiB after, {per:.1} KiB per connection"
        );
        drop(held);
        Ok(line)
    })
}
