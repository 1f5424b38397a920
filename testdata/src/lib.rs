//! The shared .proto corpus (`protos/`), compiled by `rust-grpc-build` with
//! warnings denied: if any generated file warns or fails to compile, this crate
//! does not build. Beside it, what the behaviour tests in `tests/` share: the
//! [`stub`] server and the [`python_peer`] runner.
#![forbid(unsafe_code)]
#![deny(warnings)]

pub mod python_peer;
pub mod stub;

/// The corpus generated with the default options.
pub mod default {
    include!(concat!(env!("OUT_DIR"), "/default/mod.rs"));
}

/// The corpus again, each package included with `include_proto!` as a user's
/// crate does, without the allows of the module tree: generated code must pass
/// `missing_docs`, `unreachable_pub` and `clippy::pedantic` (checked by clippy).
#[deny(missing_docs, unreachable_pub, clippy::pedantic)]
pub mod linted {
    include!(concat!(env!("OUT_DIR"), "/linted.rs"));
}

/// The corpus generated with `default_stubs=true`.
pub mod stubs {
    include!(concat!(env!("OUT_DIR"), "/stubs/mod.rs"));
}

/// `corpus/wkt.proto` with the well-known types generated, not mapped.
pub mod wkt_compiled {
    include!(concat!(env!("OUT_DIR"), "/wkt/mod.rs"));
}

/// `corpus/remote/remote.proto` using the messages of [`default`] through
/// `extern_path=.corpus.types=crate::default::corpus::types`.
pub mod extern_types {
    include!(concat!(env!("OUT_DIR"), "/extern/mod.rs"));
}

/// googleapis-common-protos, when `RUST_GRPC_GOOGLEAPIS` is set at build time.
#[cfg(googleapis)]
pub mod googleapis {
    include!(concat!(env!("OUT_DIR"), "/googleapis/mod.rs"));
}
