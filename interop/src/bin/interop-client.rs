//! `interop-client --server_host=H --server_port=P --test_case=a,b,...
//! [--use_tls=true --use_test_ca=true --ca_file=F --server_host_override=N]
//! [--soak_iterations=N ...]`:
//! runs the cases against a grpc.testing server, printing `PASS <case>` or
//! `FAIL <case>: <check that failed>` for each; exits 0 only when all passed.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use interop::args::{Flags, Parsed, usage};
use interop::client;
use interop::soak::SoakConfig;

#[tokio::main]
async fn main() -> ExitCode {
    let setup = match Flags::parse(std::env::args().skip(1), client::FLAGS) {
        Ok(Parsed::Help) => {
            print!("{}", usage("interop-client", client::FLAGS));
            return ExitCode::SUCCESS;
        }
        Ok(Parsed::Flags(flags)) => client::target(&flags).and_then(|target| {
            let cases = client::cases(&flags)?;
            Ok((target, cases, SoakConfig::from_flags(&flags)?))
        }),
        Err(err) => Err(err),
    };
    let (target, cases, soak) = match setup {
        Ok(setup) => setup,
        Err(err) => {
            eprintln!("interop-client: {err}");
            return ExitCode::from(2);
        }
    };
    let clients = match client::connect(&target).await {
        Ok(clients) => clients.with_soak(soak),
        Err(err) => {
            eprintln!("interop-client: {err}");
            for case in &cases {
                println!("FAIL {case}: {err}");
            }
            return ExitCode::FAILURE;
        }
    };
    let mut failed = 0;
    for case in &cases {
        match client::run(&clients, case).await {
            Ok(()) => println!("PASS {case}"),
            Err(why) => {
                failed += 1;
                println!("FAIL {case}: {why}");
            }
        }
    }
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        eprintln!("interop-client: {failed} of {} cases failed", cases.len());
        ExitCode::FAILURE
    }
}
