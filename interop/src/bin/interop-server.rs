//! `interop-server --port=N [--use_tls=true [--tls_cert_file=F --tls_key_file=F]]`:
//! serves grpc.testing.TestService (plus health and reflection) on 127.0.0.1
//! until SIGINT or SIGTERM, then gives running calls `GRACE` to finish. Prints
//! `listening on 127.0.0.1:PORT` once it is.
#![forbid(unsafe_code)]

use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use interop::args::{Flags, Parsed, usage};
use interop::server;

/// How long running calls may go on after SIGINT or SIGTERM.
const GRACE: Duration = Duration::from_secs(5);

#[tokio::main]
async fn main() -> ExitCode {
    let config = match Flags::parse(std::env::args().skip(1), server::FLAGS) {
        Ok(Parsed::Help) => {
            print!("{}", usage("interop-server", server::FLAGS));
            return ExitCode::SUCCESS;
        }
        Ok(Parsed::Flags(flags)) => server::config(&flags),
        Err(err) => Err(err),
    };
    let config = match config {
        Ok(config) => config,
        Err(err) => {
            eprintln!("interop-server: {err}");
            return ExitCode::from(2);
        }
    };
    let mode = if config.tls.is_some() {
        "tls"
    } else {
        "plaintext"
    };
    let (addr, serving) = match server::bind(config, rust_grpc::Shutdown::new(GRACE)).await {
        Ok(bound) => bound,
        Err(err) => {
            eprintln!("interop-server: {err}");
            return ExitCode::FAILURE;
        }
    };
    println!("interop-server: listening on {addr} ({mode})");
    let _ = std::io::stdout().flush();
    match serving.await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("interop-server: {err}");
            ExitCode::FAILURE
        }
    }
}
