//! `protoc-gen-rust-grpc`: a protoc plugin when protoc runs it, a compiler of
//! .proto files of its own when given arguments.
#![forbid(unsafe_code)]

use std::io::{IsTerminal, Read, Write};
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() && !std::io::stdin().is_terminal() {
        return plugin();
    }
    rust_grpc_codegen::cli::run(&args)
}

/// protoc's plugin protocol: a request on stdin, a response on stdout.
fn plugin() -> ExitCode {
    let mut request = Vec::new();
    if let Err(error) = std::io::stdin().read_to_end(&mut request) {
        eprintln!("protoc-gen-rust-grpc: cannot read the plugin request from stdin: {error}");
        return ExitCode::FAILURE;
    }
    match rust_grpc_codegen::plugin::respond_encoded(&request) {
        Ok(response) => match std::io::stdout().write_all(&response) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("protoc-gen-rust-grpc: cannot write the response: {error}");
                ExitCode::FAILURE
            }
        },
        Err(error) => {
            eprintln!(
                "protoc-gen-rust-grpc: stdin is not a CodeGeneratorRequest ({error}); \
                 run it from protoc (--rust-grpc_out=DIR), or see --help to compile .proto files directly"
            );
            ExitCode::FAILURE
        }
    }
}
