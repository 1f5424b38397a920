//! Generates the same protos twice: with our generator (rust-grpc-build, into
//! `OUT_DIR/ours`) and with tonic-prost-build (into `OUT_DIR/tonic`), so the two
//! servers differ only in the stack. Both use `bytes::Bytes` for `bytes` fields,
//! so a server that sends the same payload again clones a reference count, not
//! the payload (as grpc-go does).

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protos = ["proto/helloworld.proto", "proto/benchmark.proto"];
    let out = PathBuf::from(std::env::var_os("OUT_DIR").ok_or("OUT_DIR is not set")?);

    let ours = out.join("ours");
    std::fs::create_dir_all(&ours)?;
    rust_grpc_build::configure()
        .default_stubs(true)
        .bytes(".")
        .out_dir(&ours)
        .compile(&protos, &["proto"])?;

    let tonic = out.join("tonic");
    std::fs::create_dir_all(&tonic)?;
    tonic_prost_build::configure()
        .bytes(".")
        .out_dir(&tonic)
        .compile_protos(&protos, &["proto"])?;
    Ok(())
}
