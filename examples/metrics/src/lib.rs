//! The example's service: an echo server that fails on request, and a helper
//! that serves it on a free loopback port.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use rust_grpc::{Request, Response, Status};

/// The generated messages, client and server of `proto/echo.proto`.
pub mod pb {
    rust_grpc::include_proto!("demo.echo");
}

use pb::echo_server::{Echo, EchoServer};
use pb::{EchoReply, EchoRequest};

/// The echo service. Its next `unavailable` calls to `Say` fail with
/// UNAVAILABLE (to show retries), and `Say("fail")` ends with NOT_FOUND.
#[derive(Debug, Default, Clone)]
pub struct EchoService {
    /// How many of the next `Say` calls fail with UNAVAILABLE.
    pub unavailable: Arc<AtomicU32>,
}

impl Echo for EchoService {
    async fn say(&self, request: Request<EchoRequest>) -> Result<Response<EchoReply>, Status> {
        let taken = self
            .unavailable
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |left| {
                left.checked_sub(1)
            });
        if taken.is_ok() {
            return Err(Status::unavailable("try again"));
        }
        let text = request.into_inner().text;
        if text == "fail" {
            return Err(Status::not_found("nothing called fail"));
        }
        Ok(Response::new(EchoReply { text }))
    }

    async fn repeat(
        &self,
        request: Request<EchoRequest>,
    ) -> Result<Response<rust_grpc::BoxStream<EchoReply>>, Status> {
        let EchoRequest { text, times } = request.into_inner();
        let replies = (0..times).map(move |_| Ok(EchoReply { text: text.clone() }));
        Ok(Response::new(rust_grpc::stream::boxed(tokio_stream::iter(
            replies,
        ))))
    }
}

/// Serves `service` on a free loopback port, recording server metrics with
/// `provider`, and returns its address.
///
/// # Errors
///
/// When no loopback port can be bound.
pub async fn serve(
    service: EchoService,
    provider: &impl opentelemetry::metrics::MeterProvider,
) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let router = rust_grpc::Server::builder()
        .metrics(provider)
        .add_service(EchoServer::new(service));
    tokio::spawn(router.serve_with_listener(listener));
    Ok(addr)
}
