//! The server of the browser test (interop/web/run.sh): `corpus.echo.Echo` with
//! gRPC-Web on, for pages of the origins given with `--allow-origin` (none: no
//! cross-origin page may call). Prints `LISTENING <addr>` once it listens.
//!
//! Unary echoes the message and the `x-token` metadata it was sent (in the
//! reply and in the `x-token-seen` header), ServerStream sends `count`
//! replies, Fail fails with the code and message asked for.

use rust_grpc::codegen::http::HeaderName;
use rust_grpc::server::GrpcWeb;
use rust_grpc::{Response, Status};
use rust_grpc_testdata::default::corpus::echo::EchoRequest;
use rust_grpc_testdata::stub::{self, StubServer};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut web = GrpcWeb::default()
        .allow_header(HeaderName::from_static("x-token"))
        .expose_header(HeaderName::from_static("x-token-seen"));
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--allow-origin", Some(origin)) => web = web.allow_origin(origin),
            _ => {
                return Err(
                    format!("usage: grpc-web-peer [--allow-origin ORIGIN]... (got {arg})").into(),
                );
            }
        }
    }
    let router = StubServer::new()
        .unary(|request| async move {
            let token = request
                .metadata()
                .get("x-token")
                .and_then(|token| token.to_str().ok())
                .map(str::to_owned);
            let mut reply = stub::reply(request.into_inner().message);
            let mut seen = None;
            if let Some(token) = token {
                reply.metadata.push(format!("x-token={token}"));
                seen = Some(
                    token
                        .parse()
                        .map_err(|_| Status::invalid_argument("x-token"))?,
                );
            }
            let mut response = Response::new(reply);
            if let Some(seen) = seen {
                response.metadata_mut().insert("x-token-seen", seen);
            }
            Ok(response)
        })
        .server_stream(|request| async move {
            let EchoRequest { message, count } = request.into_inner();
            let replies: Vec<Result<_, Status>> = (0..count)
                .map(|i| Ok(stub::reply(format!("{message} {i}"))))
                .collect();
            Ok(Response::new(rust_grpc::stream::boxed(tokio_stream::iter(
                replies,
            ))))
        })
        .fail(stub::fail)
        .server(move |server| server.accept_grpc_web(web))
        .into_router();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("LISTENING {}", listener.local_addr()?);
    router.serve_with_listener(listener).await?;
    Ok(())
}
