// Code generated for a codegen API version this runtime does not have.
const _: () = rust_grpc::codegen::require_codegen_version::<2>();

fn main() {}
