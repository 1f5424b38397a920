//! The server builder, with safe defaults.

use tower::layer::util::{Identity, Stack};

use crate::trace::TraceLayer;

/// The most streams (calls) a client may have open at once on one connection.
pub const DEFAULT_MAX_CONCURRENT_STREAMS: u32 = 1024;

/// The largest header block (request metadata included) a client may send.
pub const DEFAULT_MAX_HEADER_LIST_SIZE: u32 = 64 * 1024;

/// How many streams a server may reset for a client's protocol errors before it
/// closes the connection (the HTTP/2 reset flood guard, RUSTSEC-2024-0003).
pub const DEFAULT_MAX_LOCAL_ERROR_RESET_STREAMS: usize = 1024;

/// How many streams a client may open and reset before the server accepts them
/// before it closes the connection (the "rapid reset" guard, CVE-2023-44487).
pub const DEFAULT_MAX_PENDING_ACCEPT_RESET_STREAMS: usize = 20;

/// Builds servers: `Server::builder().add_service(..).serve(addr)`.
///
/// The builder is tonic's, started with limits that keep a server safe from
/// misbehaving clients, each of which can be changed on the returned builder:
///
/// | setting | default |
/// |---|---|
/// | concurrent streams per connection | [`DEFAULT_MAX_CONCURRENT_STREAMS`] |
/// | header list size | [`DEFAULT_MAX_HEADER_LIST_SIZE`] bytes |
/// | streams reset for the client's errors, per connection | [`DEFAULT_MAX_LOCAL_ERROR_RESET_STREAMS`] (tonic turns this guard off) |
/// | streams reset by the client before being accepted | [`DEFAULT_MAX_PENDING_ACCEPT_RESET_STREAMS`] |
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// # let (_, health) = rust_grpc::health::health_service();
/// rust_grpc::Server::builder()
///     .max_concurrent_streams(256) // tighter than the default
///     .add_service(health)
///     .serve("127.0.0.1:50051".parse()?)
///     .await?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Server(());

impl Server {
    /// A builder with rust-grpc's safe defaults, tracing each call
    /// ([`crate::trace`]).
    #[allow(clippy::new_ret_no_self)]
    pub fn builder() -> tonic::transport::Server<Stack<TraceLayer, Identity>> {
        tonic::transport::Server::builder()
            .max_concurrent_streams(DEFAULT_MAX_CONCURRENT_STREAMS)
            .http2_max_header_list_size(DEFAULT_MAX_HEADER_LIST_SIZE)
            .http2_max_local_error_reset_streams(Some(DEFAULT_MAX_LOCAL_ERROR_RESET_STREAMS))
            .http2_max_pending_accept_reset_streams(Some(DEFAULT_MAX_PENDING_ACCEPT_RESET_STREAMS))
            .layer(TraceLayer)
    }
}
