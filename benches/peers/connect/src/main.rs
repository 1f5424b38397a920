//! greeter-connect: helloworld.Greeter and grpc.testing.BenchmarkService on
//! connectrpc, for the benchmark harness. Binds a free port on 127.0.0.1, prints
//! `LISTENING <addr>`, serves until killed.
//!
//! The BenchmarkService handlers do what the harness's other servers do: each
//! response carries `response_size` zero bytes; `StreamingCall` answers every
//! request as it arrives (ping-pong, full duplex over HTTP/2);
//! `StreamingFromServer` sends clones of one response until the client cancels.

use std::io::Write as _;
use std::sync::Arc;

use buffa::bytes::Bytes;
use connectrpc::{
    ConnectError, InboundStream, RequestContext, Response, ServiceRequest, ServiceResult,
    ServiceStream,
};
use futures_util::StreamExt as _;

mod proto {
    connectrpc::include_generated!();
}

use proto::grpc::testing::{BenchmarkService, Payload, SimpleRequest, SimpleResponse};
use proto::helloworld::{Greeter, HelloReply, HelloRequest};

struct MyGreeter;

// The generated traits return `impl Encodable<..>`; returning the message
// itself, as connect-rust's README does, refines it.
#[allow(refining_impl_trait)]
impl Greeter for MyGreeter {
    async fn say_hello(
        &self,
        _ctx: RequestContext,
        request: ServiceRequest<'_, HelloRequest>,
    ) -> ServiceResult<HelloReply> {
        Response::ok(HelloReply {
            message: format!("Hello {}", request.name),
            ..Default::default()
        })
    }
}

struct MyBenchmark;

/// A response with `size` zero bytes of payload (a negative size is empty).
fn response(size: i32) -> SimpleResponse {
    SimpleResponse {
        payload: Payload {
            body: Bytes::from(vec![0; usize::try_from(size).unwrap_or(0)]),
            ..Default::default()
        }
        .into(),
        ..Default::default()
    }
}

#[allow(refining_impl_trait)]
impl BenchmarkService for MyBenchmark {
    async fn unary_call(
        &self,
        _ctx: RequestContext,
        request: ServiceRequest<'_, SimpleRequest>,
    ) -> ServiceResult<SimpleResponse> {
        Response::ok(response(request.response_size))
    }

    async fn streaming_call(
        &self,
        _ctx: RequestContext,
        requests: InboundStream<SimpleRequest>,
    ) -> ServiceResult<ServiceStream<SimpleResponse>> {
        let replies =
            requests.map(|request| request.map(|request| response(request.view().response_size)));
        Response::ok(Box::pin(replies))
    }

    async fn streaming_from_client(
        &self,
        _ctx: RequestContext,
        _requests: InboundStream<SimpleRequest>,
    ) -> ServiceResult<SimpleResponse> {
        Err(ConnectError::unimplemented("not benchmarked"))
    }

    async fn streaming_from_server(
        &self,
        _ctx: RequestContext,
        request: ServiceRequest<'_, SimpleRequest>,
    ) -> ServiceResult<ServiceStream<SimpleResponse>> {
        let reply = response(request.response_size);
        let replies = futures_util::stream::repeat_with(move || Ok(reply.clone()));
        Response::ok(Box::pin(replies))
    }

    async fn streaming_both_ways(
        &self,
        _ctx: RequestContext,
        _requests: InboundStream<SimpleRequest>,
    ) -> ServiceResult<ServiceStream<SimpleResponse>> {
        Err(ConnectError::unimplemented("not benchmarked"))
    }
}

fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let router = connectrpc::Router::new()
            .add_service(Arc::new(MyGreeter))
            .add_service(Arc::new(MyBenchmark));
        let server = connectrpc::Server::bind("127.0.0.1:0")
            .await?
            .with_max_concurrent_streams(1024);
        let addr = server.local_addr()?;
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "LISTENING {addr}")?;
        stdout.flush()?;
        drop(stdout);
        server.serve(router).await
    })
}
