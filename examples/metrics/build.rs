//! Compiles `proto/echo.proto` into `OUT_DIR`; no protoc needed.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    rust_grpc_build::compile_protos(&["proto/echo.proto"], &["proto"])?;
    Ok(())
}
