//! Generates the grpc.testing messages, client and server into `OUT_DIR` with our
//! own generator. `default_stubs` gives every rpc the server does not implement
//! (UnimplementedCall) a body that answers UNIMPLEMENTED.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    rust_grpc_build::configure()
        .default_stubs(true)
        .compile(&["proto/grpc/testing/test.proto"], &["proto"])?;
    Ok(())
}
