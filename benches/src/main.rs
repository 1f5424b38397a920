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
//! `benches serve <ceiling|ours|tonic>` is the server side, started by the harness.

use std::process::ExitCode;

mod harness;
mod load;
mod procfs;
mod servers;
mod stream;

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
        _ => harness::run(&args),
    }
}
