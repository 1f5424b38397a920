//! Generates buffa messages and connectrpc service stubs for helloworld.proto.

fn main() {
    connectrpc_build::Config::new()
        .files(&["../../proto/helloworld.proto"])
        .includes(&["../../proto/"])
        .include_file("_connectrpc.rs")
        .compile()
        .unwrap();
}
