//! Generates buffa messages and connectrpc service stubs for helloworld.proto and
//! benchmark.proto (grpc.testing.BenchmarkService). `bytes` fields are
//! `bytes::Bytes`, as in the harness's other Rust servers, so a server that sends
//! the same payload again clones a reference count, not the payload.

use buffa_codegen::BytesRepr;
use connectrpc_build::CodeGenConfig;

fn main() {
    let mut buffa = CodeGenConfig::default();
    // connectrpc-build's own default (its Connect JSON codec needs it).
    buffa.generate_json = true;
    buffa.bytes_fields.push((".".into(), BytesRepr::Bytes));
    connectrpc_build::Config::new()
        .buffa_config(buffa)
        .files(&[
            "../../proto/helloworld.proto",
            "../../proto/benchmark.proto",
        ])
        .includes(&["../../proto/"])
        .include_file("_connectrpc.rs")
        .compile()
        .unwrap();
}
