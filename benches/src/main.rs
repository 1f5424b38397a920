//! The side-by-side benchmark harness (issue 5).
//!
//! ```text
//! cargo run --release -p benches -- [--quick] [--only ours,tonic,...]
//! ```
//!
//! Starts each server in its own process pinned to core 0 (the bare hyper
//! ceiling, ours, tonic, grpc-go, grpc-go's own benchmark server, connect-rust
//! where it builds), drives the same load from core 1 (ghz, h2load, grpc-go's
//! benchmark client and our own closed-loop streaming client),
//! and prints a table, ratios against our stack and, as its last line,
//! `unary_qps_ratio_vs_tonic=.. stream_msgs_ratio_vs_tonic=..
//! unary_p99_ratio_vs_grpc_go=.. unary_fraction_of_ceiling=..`.
//!
//! `benches soak ADDR PID ...` is the soak's client (`benches/soak.sh`);
//! `benches conns ADDR PID N` measures a server's memory per idle connection
//! (`benches/conn-memory.sh`).
//! `benches serve <ceiling|ours|tonic>` is the server side, started by the harness.
//! `benches stream <bidi|server> ADDR PID [SECONDS]` drives one streaming cell at a
//! server already running (for profiling it with perf) and prints what it measured.

// One unsafe block, allowed where it is (harness.rs: the pinned servers die
// with the harness); none anywhere else.
#![deny(unsafe_code)]

use std::process::ExitCode;

mod client;
mod conns;
mod harness;
mod load;
mod procfs;
mod servers;
mod soak;
mod stream;
#[cfg(feature = "otel")]
mod telemetry;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("serve") => match args.get(1).map(|kind| servers::serve(kind)) {
            Some(Ok(())) => ExitCode::SUCCESS,
            Some(Err(error)) => {
                eprintln!("benches serve: {error}");
                ExitCode::FAILURE
            }
            None => {
                eprintln!("usage: benches serve <{}>", servers::KINDS.join("|"));
                ExitCode::from(2)
            }
        },
        Some("stream") => match stream_cell(&args[1..]) {
            Ok(line) => {
                println!("{line}");
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("benches stream: {error}");
                ExitCode::from(2)
            }
        },
        Some("client") => match client_cell(&args[1..]) {
            Ok(table) => {
                print!("{table}");
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("benches client: {error}");
                ExitCode::from(2)
            }
        },
        Some("soak") => match soak::Plan::parse(&args[1..]).and_then(soak::run) {
            Ok(report) => {
                print!("{report}");
                ExitCode::SUCCESS
            }
            Err(report) => {
                eprintln!("benches soak: {report}");
                ExitCode::FAILURE
            }
        },
        Some("conns") => match conns::run(&args[1..]) {
            Ok(line) => {
                println!("{line}");
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("benches conns: {error}");
                ExitCode::FAILURE
            }
        },
        _ => harness::run(&args),
    }
}

/// One streaming cell with the harness's full-run shape against `ADDR`, whose
/// process `PID` is charged the CPU time.
fn client_cell(args: &[String]) -> Result<String, String> {
    let usage = "usage: benches client ADDR [SECONDS [CHANNEL:CONCURRENCY]] (e.g. ours:64, to profile one cell)";
    let [addr, rest @ ..] = args else {
        return Err(usage.to_string());
    };
    let addr = addr
        .parse()
        .map_err(|_| format!("{addr}: not an address"))?;
    let (secs, only) = match rest {
        [] => (5, None),
        [secs] => (
            secs.parse().map_err(|_| format!("{secs}: not seconds"))?,
            None,
        ),
        [secs, only] => (
            secs.parse().map_err(|_| format!("{secs}: not seconds"))?,
            Some(only.as_str()),
        ),
        _ => return Err(usage.to_string()),
    };
    client::run(addr, std::time::Duration::from_secs(secs), only)
}

fn stream_cell(args: &[String]) -> Result<String, String> {
    let usage = "usage: benches stream <bidi|server> ADDR PID [SECONDS]";
    let [kind, addr, pid, rest @ ..] = args else {
        return Err(usage.to_string());
    };
    let addr = addr
        .parse()
        .map_err(|_| format!("{addr}: not an address"))?;
    let pid = pid
        .parse()
        .map_err(|_| format!("{pid}: not a process id"))?;
    let secs = match rest {
        [] => 10,
        [secs] => secs.parse().map_err(|_| format!("{secs}: not seconds"))?,
        _ => return Err(usage.to_string()),
    };
    let duration = std::time::Duration::from_secs(secs);
    let outcome = match kind.as_str() {
        "bidi" => stream::bidi(addr, pid, harness::bidi_shape(duration))?,
        "server" => stream::server_streaming(addr, pid, harness::server_stream_shape(duration))?,
        _ => return Err(usage.to_string()),
    };
    let m = &outcome.measured;
    let mut line = format!(
        "{:.0} msgs/s, {:.1} MB/s, {} errors",
        m.rate(),
        m.mb_per_s.unwrap_or(0.0),
        m.errors
    );
    // CPU seconds per million messages is microseconds per message.
    if let Some(per_msg) = outcome.server.and_then(|s| s.cpu_per_million(m.count)) {
        line.push_str(&format!(", server {per_msg:.2} us CPU per message"));
    }
    if !m.error_text.is_empty() {
        line.push_str(&format!(" ({})", m.error_text));
    }
    Ok(line)
}
