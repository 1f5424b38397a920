//! Times our build.rs path (rust-grpc-build, protox parser, no protoc) over
//! .proto files and prints the seconds it took; used by `benches/codegen.sh`.
//!
//! ```text
//! cargo run --release -p benches --example codegen_ours -- OUT_DIR INCLUDE FILE...
//! ```
#![forbid(unsafe_code)]

use std::error::Error;
use std::time::Instant;

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [out, include, files @ ..] = args.as_slice() else {
        return Err("usage: codegen_ours OUT_DIR INCLUDE FILE...".into());
    };
    let start = Instant::now();
    rust_grpc_build::configure()
        .out_dir(out)
        .emit_rerun_if_changed(false)
        .compile(files, &[include])?;
    println!("{:.3}", start.elapsed().as_secs_f64());
    Ok(())
}
