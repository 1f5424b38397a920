//! The API that generated code calls.
//!
//! Code written by `protoc-gen-rust-grpc` names only items from this module and
//! the crate root, so the transport underneath can change without regenerating
//! user code. Hand-written code should not need anything here.
//!
//! # Version handshake
//!
//! Every generated file starts with
//! `const _: () = ::rust_grpc::codegen::require_codegen_version::<N>();`.
//! A runtime that does not implement codegen API version `N` rejects the file at
//! compile time with a message that says what to do:
//!
//! ```compile_fail,E0277
//! const _: () = rust_grpc::codegen::require_codegen_version::<999>();
//! ```
//!
//! ```
//! const _: () = rust_grpc::codegen::require_codegen_version::<1>();
//! ```

pub use http;
pub use tonic::server::NamedService;
pub use tower::Service;

pub use crate::base::body::{BoxBody, BoxFuture, Message, RequestBody, StdError};
pub use crate::base::interceptor::Intercepted as InterceptedService;
pub use crate::client::call::{Client, Transport};
pub use crate::client::connect;
pub use crate::server::config::{ServerConfig, unimplemented, unimplemented_method};

/// The codegen API version this runtime speaks; generated code asks for it.
pub const CODEGEN_VERSION: u32 = 1;

/// The marker type that carries the codegen API versions this runtime supports.
#[derive(Debug)]
pub struct Runtime;

/// Implemented by [`Runtime`] for each codegen API version it supports.
#[diagnostic::on_unimplemented(
    message = "this generated code needs rust-grpc codegen API version {V}, which this version of the rust-grpc crate does not provide",
    label = "generated code and the rust-grpc runtime do not match",
    note = "either upgrade the `rust-grpc` dependency to the release that matches your protoc-gen-rust-grpc / rust-grpc-build, or regenerate this code with the generator of the same release as your `rust-grpc`"
)]
pub trait SupportsCodegenVersion<const V: u32> {}

impl SupportsCodegenVersion<1> for Runtime {}

/// Fails to compile unless this runtime supports codegen API version `V`.
pub const fn require_codegen_version<const V: u32>()
where
    Runtime: SupportsCodegenVersion<V>,
{
}
