//! Times tonic-prost-build (protoc, prost-build, tonic's service generator) over
//! .proto files and prints the seconds it took; used by `benches/codegen.sh`.
//!
//! ```text
//! cargo run --release -p benches --example codegen_tonic -- OUT_DIR INCLUDE FILE...
//! ```
#![forbid(unsafe_code)]

use std::error::Error;
use std::time::Instant;

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [out, include, files @ ..] = args.as_slice() else {
        return Err("usage: codegen_tonic OUT_DIR INCLUDE FILE...".into());
    };
    let start = Instant::now();
    tonic_prost_build::configure()
        .out_dir(out)
        .include_file("mod.rs")
        .compile_protos(files, std::slice::from_ref(include))?;
    println!("{:.3}", start.elapsed().as_secs_f64());
    Ok(())
}
