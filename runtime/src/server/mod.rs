//! The server: a builder with safe defaults, the routes of its services, the
//! accept loop and connection lifetime on hyper's HTTP/2 server, the call
//! path that serves each generated method, and gRPC-Web for browsers.

mod builder;
pub(crate) mod call;
pub(crate) mod config;
mod connection;
pub mod in_process;
mod limits;
pub(crate) mod router;
pub(crate) mod routes;
pub(crate) mod shutdown;
pub mod trace;
pub(crate) mod web;

pub use crate::transport::error::ServeError;
pub use builder::{
    DEFAULT_KEEPALIVE_MIN_TIME, DEFAULT_MAX_CONCURRENT_STREAMS, DEFAULT_MAX_HEADER_LIST_SIZE,
    DEFAULT_MAX_LOCAL_ERROR_RESET_STREAMS, DEFAULT_MAX_PENDING_ACCEPT_RESET_STREAMS, Server,
};
pub use limits::{MethodLimits, MethodLimitsService};
pub use router::Router;
pub use shutdown::{IntoShutdown, Shutdown, ShutdownSignal};
pub use web::{DEFAULT_CORS_MAX_AGE, GrpcWeb};
