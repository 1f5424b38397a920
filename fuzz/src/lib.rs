//! The fuzz targets' bodies, one module per target, each a `run(&[u8])` that
//! panics only on a finding. `fuzz_targets/*.rs` hand libFuzzer's bytes to
//! them; `tests/replay.rs` replays the committed seeds and regressions on stable.

pub mod codegen;
pub mod decompress;
pub mod framing;
pub mod gather;
pub mod grpc_message;
pub mod grpc_timeout;
pub mod keepalive;
pub mod metadata_bin;
pub mod plugin_request;
pub mod proto_text;
pub mod status_headers;

mod io;
mod rust;

/// Every target, by name, for the replay test.
pub const TARGETS: &[(&str, fn(&[u8]))] = &[
    ("codegen", codegen::run),
    ("decompress", decompress::run),
    ("framing", framing::run),
    ("gather", gather::run),
    ("grpc_message", grpc_message::run),
    ("grpc_timeout", grpc_timeout::run),
    ("keepalive", keepalive::run),
    ("metadata_bin", metadata_bin::run),
    ("plugin_request", plugin_request::run),
    ("proto_text", proto_text::run),
    ("status_headers", status_headers::run),
];
