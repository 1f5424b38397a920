//! checked-in-example: rust-grpc with the generated code committed under
//! `src/generated/` instead of produced by a `build.rs`.
//!
//! `cargo run -p checked-in-example` starts a server on a free loopback port,
//! makes a unary and a server-streaming call, prints the answers, and stops the
//! server. See this folder's README for how to regenerate the code and check in
//! CI that it is up to date.
#![forbid(unsafe_code)]

use std::error::Error;
use std::process::ExitCode;

use rust_grpc::{BoxStream, Request, Response, Status, stream};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use generated::echo::echo_client::EchoClient;
use generated::echo::echo_server::{Echo, EchoServer};
use generated::echo::{EchoRequest, EchoResponse};

/// The code generated from `proto/echo.proto` by `protoc-gen-rust-grpc`; do not
/// edit it by hand, regenerate it (see README.md).
pub mod generated;

/// The most echoes one `ServerStreamingEcho` call may ask for.
const MAX_COUNT: u32 = 100;

/// The service.
struct EchoService;

impl Echo for EchoService {
    async fn unary_echo(
        &self,
        request: Request<EchoRequest>,
    ) -> Result<Response<EchoResponse>, Status> {
        let message = request.into_inner().message;
        Ok(Response::new(EchoResponse { message }))
    }

    async fn server_streaming_echo(
        &self,
        request: Request<EchoRequest>,
    ) -> Result<Response<BoxStream<EchoResponse>>, Status> {
        let EchoRequest { message, count } = request.into_inner();
        if count > MAX_COUNT {
            return Err(Status::invalid_argument(format!(
                "count must be at most {MAX_COUNT}, got {count}"
            )));
        }
        let echoes = (0..count).map(move |_| EchoResponse {
            message: message.clone(),
        });
        Ok(Response::new(stream::boxed(stream::iter(echoes))))
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn Error>> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    println!("server listening on {addr}");

    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(
        rust_grpc::Server::builder()
            .add_service(EchoServer::new(EchoService))
            .serve_with_listener_shutdown(listener, async {
                // Resolves when `stop` is sent or dropped.
                let _ = stopped.await;
            }),
    );

    let result = call(&format!("http://{addr}")).await;

    // Stop accepting calls, let the calls in flight finish, then wait for the server.
    let _ = stop.send(());
    server.await??;
    println!("server stopped");
    result
}

/// Makes one call of each kind and prints the answers.
async fn call(uri: &str) -> Result<(), Box<dyn Error>> {
    let client = EchoClient::connect(uri.to_owned()).await?;

    let request = EchoRequest {
        message: "hello from checked-in code".into(),
        count: 0,
    };
    let reply = client.unary_echo(request).await?.into_inner();
    println!("UnaryEcho -> {:?}", reply.message);

    let request = EchoRequest {
        message: "again".into(),
        count: 3,
    };
    let mut echoes = client.server_streaming_echo(request).await?.into_inner();
    println!("ServerStreamingEcho(count: 3) ->");
    while let Some(echo) = echoes.message().await? {
        println!("  {:?}", echo.message);
    }
    Ok(())
}
