//! A channel to a server in the same process, with no socket: for tests that
//! want the whole gRPC path (codec, metadata, status, streaming) without a port.
//!
//! ```no_run
//! # async fn run() {
//! let (_reporter, health) = rust_grpc::health::health_service();
//! let channel = rust_grpc::in_process::channel(rust_grpc::Server::builder().add_service(health));
//! let client = rust_grpc::health::HealthClient::new(channel);
//! # let _ = client;
//! # }
//! ```

use tokio::io::DuplexStream;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::base::body::{BoxBody, StdError};
use crate::client::channel::{Channel, Endpoint};
use crate::client::connection::{Dialing, Io};

use crate::server::router::Router;
use crate::server::routes::Routes;

/// Bytes buffered each way on an in-process connection.
const BUFFER: usize = 1 << 20;

/// Serves `router` in a background task and returns a channel to it. Every
/// connection the channel makes is an in-memory pipe to that server; the server
/// stops when the channel and all its clones are gone.
///
/// Must be called inside a tokio runtime.
pub fn channel<L, S, B>(router: Router<L>) -> Channel
where
    L: tower::Layer<Routes, Service = S> + Send + 'static,
    S: tower::Service<http::Request<BoxBody>, Response = http::Response<B>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<StdError> + Send,
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<StdError>,
{
    let (connections, incoming) = mpsc::channel::<DuplexStream>(1);
    tokio::spawn(async move {
        let incoming =
            tokio_stream::StreamExt::map(ReceiverStream::new(incoming), Ok::<_, std::io::Error>);
        // The only error is one from the pipe, which ends the server as the channel goes.
        let _ = router.serve_with_incoming(incoming).await;
    });
    let dialer = std::sync::Arc::new(move |_: &crate::client::resolver::Address| {
        let connections = connections.clone();
        let dial: Dialing = Box::pin(async move {
            let (client, server) = tokio::io::duplex(BUFFER);
            connections
                .send(server)
                .await
                .map_err(|_| std::io::Error::other("the in-process server has stopped"))?;
            Ok(Box::new(client) as Box<dyn Io>)
        });
        dial
    });
    Endpoint::from_static("passthrough:///in-process")
        .dialer(dialer)
        .connect_lazy()
        .unwrap_or_else(|err| unreachable!("a plaintext channel always builds: {err}"))
}
