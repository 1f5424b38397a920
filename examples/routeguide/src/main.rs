//! routeguide: one service with each of the four kinds of gRPC call, served and
//! called in one process.
//!
//! `cargo run -p routeguide` starts a server on a free loopback port, makes a
//! unary call (`GetFeature`), a server-streaming call (`ListFeatures`), a
//! client-streaming call (`RecordRoute`) and a bidirectional call (`RouteChat`),
//! prints what comes back, and stops the server.
#![forbid(unsafe_code)]

use std::error::Error;
use std::process::ExitCode;

use tokio::net::TcpListener;
use tokio::sync::oneshot;

use pb::route_guide_server::RouteGuideServer;

mod client;
mod map;
mod server;

/// The code generated from `proto/route_guide.proto` by `build.rs`.
pub mod pb {
    rust_grpc::include_proto!("routeguide");
}

#[tokio::main]
async fn main() -> ExitCode {
    if std::env::args().len() > 1 {
        eprintln!("usage: routeguide    (serves on a free port, makes all four calls, stops)");
        return ExitCode::from(2);
    }
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
            .add_service(RouteGuideServer::new(server::RouteGuideService::new()))
            .serve_with_listener_shutdown(listener, async {
                // Resolves when `stop` is sent or dropped.
                let _ = stopped.await;
            }),
    );

    let result = client::run(&format!("http://{addr}")).await;

    // Stop accepting calls, let the calls in flight finish, then wait for the server.
    let _ = stop.send(());
    server.await??;
    println!("server stopped");
    result
}
