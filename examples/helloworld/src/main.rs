//! helloworld: the smallest rust-grpc service, a `Greeter` with one unary call.
//!
//! ```text
//! cargo run -p helloworld                    # server and client in one process
//! cargo run -p helloworld -- server [ADDR]   # serve until Ctrl-C (default 127.0.0.1:50051)
//! cargo run -p helloworld -- client [ADDR]   # call a running server
//! ```
#![forbid(unsafe_code)]

use std::error::Error;
use std::net::SocketAddr;
use std::process::ExitCode;

use tokio::net::TcpListener;
use tokio::sync::oneshot;

use pb::greeter_client::GreeterClient;
use pb::greeter_server::{Greeter, GreeterServer};
use pb::{HelloReply, HelloRequest};

/// The code generated from `proto/helloworld.proto` by `build.rs`.
pub mod pb {
    rust_grpc::include_proto!("helloworld");
}

/// Where `server` listens and `client` connects when no address is given.
const DEFAULT_ADDR: &str = "127.0.0.1:50051";

/// The names the client greets.
const NAMES: [&str; 3] = ["world", "rust-grpc", "gRPC"];

const USAGE: &str = "\
usage: helloworld                  start a server on a free port, call it, stop it
       helloworld server [ADDR]    serve until Ctrl-C (default 127.0.0.1:50051)
       helloworld client [ADDR]    call a running server (default 127.0.0.1:50051)";

/// The service: every handler is a plain `async fn` taking `&self`.
struct MyGreeter;

impl Greeter for MyGreeter {
    async fn say_hello(
        &self,
        request: rust_grpc::Request<HelloRequest>,
    ) -> Result<rust_grpc::Response<HelloReply>, rust_grpc::Status> {
        let name = &request.get_ref().name;
        if name.is_empty() {
            return Err(rust_grpc::Status::invalid_argument(
                "name must not be empty",
            ));
        }
        Ok(rust_grpc::Response::new(HelloReply {
            message: format!("Hello {name}!"),
        }))
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match args.as_slice() {
        [] => demo().await,
        ["server"] => server(DEFAULT_ADDR).await,
        ["server", addr] => server(addr).await,
        ["client"] => client(DEFAULT_ADDR).await,
        ["client", addr] => client(addr).await,
        ["-h" | "--help"] => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", chain(&*error));
            ExitCode::FAILURE
        }
    }
}

/// Starts a server on a free loopback port, greets a few names through a client,
/// then shuts the server down gracefully.
async fn demo() -> Result<(), Box<dyn Error>> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    println!("server listening on {addr}");

    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(
        rust_grpc::Server::builder()
            .add_service(GreeterServer::new(MyGreeter))
            .serve_with_listener_shutdown(listener, async {
                // Resolves when `stop` is sent or dropped.
                let _ = stopped.await;
            }),
    );

    let result = client(&addr.to_string()).await;

    // Stop accepting calls, let the calls in flight finish, then wait for the server.
    let _ = stop.send(());
    server.await??;
    println!("server stopped");
    result
}

/// Serves on `addr` until Ctrl-C.
async fn server(addr: &str) -> Result<(), Box<dyn Error>> {
    let addr: SocketAddr = addr
        .parse()
        .map_err(|error| format!("`{addr}` is not an address like {DEFAULT_ADDR}: {error}"))?;
    let listener = TcpListener::bind(addr).await?;
    println!(
        "server listening on {}; press Ctrl-C to stop",
        listener.local_addr()?
    );
    // Health for probes and load balancers, reflection for grpcurl, and a
    // graceful stop on Ctrl-C or SIGTERM that gives running calls 5 seconds.
    let (health, health_service) = rust_grpc::health::health_service();
    health.set_serving_for::<GreeterServer<MyGreeter>>();
    let reflection = rust_grpc::reflection::Reflection::new(&[
        pb::FILE_DESCRIPTOR_SET,
        rust_grpc::health::FILE_DESCRIPTOR_SET,
    ])?;
    let shutdown = rust_grpc::Shutdown::new(std::time::Duration::from_secs(5));
    rust_grpc::Server::builder()
        .add_service(GreeterServer::new(MyGreeter))
        .add_service(health_service)
        .add_service(reflection.v1())
        .add_service(reflection.v1alpha())
        .serve_with_listener_shutdown(listener, shutdown.on_signal())
        .await?;
    println!("server stopped");
    Ok(())
}

/// Greets every name in [`NAMES`] through the server at `addr`.
async fn client(addr: &str) -> Result<(), Box<dyn Error>> {
    let uri = if addr.contains("://") {
        addr.to_owned()
    } else {
        format!("http://{addr}")
    };
    let client = GreeterClient::connect(uri.clone())
        .await
        .map_err(|error| format!("cannot connect to {uri} ({})", chain(&error)))?;
    for name in NAMES {
        let reply = client.say_hello(HelloRequest { name: name.into() }).await?;
        println!("SayHello({name:?}) -> {:?}", reply.get_ref().message);
    }
    Ok(())
}

/// An error and its sources on one line: `outer: inner: innermost`.
fn chain(error: &dyn Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        // Some errors repeat their source's message; say it once.
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
