//! gRPC-Web (PROTOCOL-WEB.md of grpc/grpc) on the server's own port, for
//! browser clients: the content types, the trailers in the body, base64 text
//! mode, CORS, and HTTP/1.1 next to HTTP/2.

mod body;
mod config;
mod cors;
mod drain;
mod service;
mod sniff;
mod text;

pub(crate) use config::Prepared;
pub use config::{DEFAULT_CORS_MAX_AGE, GrpcWeb};
pub(crate) use service::WebService;
pub(crate) use sniff::{Protocol, sniff};
