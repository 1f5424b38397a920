//! Generates the conformance suite's messages, client and server into `OUT_DIR`
//! with our own generator, from the suite's .proto files vendored in `proto/`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    rust_grpc_build::configure().default_stubs(true).compile(
        &[
            "proto/connectrpc/conformance/v1/service.proto",
            "proto/connectrpc/conformance/v1/client_compat.proto",
            "proto/connectrpc/conformance/v1/server_compat.proto",
        ],
        &["proto"],
    )?;
    Ok(())
}
