//! Async interceptors on both sides: they see the method and metadata, reject
//! with a status, add metadata, chain in order, and hand values to the handler.

use rust_grpc::interceptor::{self, Layer as _, Method};
use rust_grpc::metadata::MetadataValue;
use rust_grpc::{Channel, Code, Request, Response, Server, Status};
use rust_grpc_testdata::default::corpus::echo::echo_client::EchoClient;
use rust_grpc_testdata::default::corpus::echo::{EchoReply, EchoRequest};
use rust_grpc_testdata::stub::StubServer;

/// What the server interceptor hands the handler.
#[derive(Clone)]
struct Caller {
    user: String,
    method: String,
}

/// Answers with who called which method, as the interceptor said, and the
/// `x-hop` metadata in order.
async fn whoami(request: Request<EchoRequest>) -> Result<Response<EchoReply>, Status> {
    let caller = request
        .extensions()
        .get::<Caller>()
        .cloned()
        .ok_or_else(|| Status::internal("no caller"))?;
    let hops: Vec<String> = request
        .metadata()
        .get_all("x-hop")
        .iter()
        .map(|value| value.to_str().unwrap_or("?").to_owned())
        .collect();
    Ok(Response::new(EchoReply {
        message: format!("{} via {}", caller.user, caller.method),
        metadata: hops,
    }))
}

async fn authenticate(mut request: Request<()>) -> Result<Request<()>, Status> {
    // Async work, as a real token check would do.
    tokio::task::yield_now().await;
    let method = request
        .extensions()
        .get::<Method>()
        .map(|m| m.method().to_owned())
        .unwrap_or_default();
    match request
        .metadata()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
    {
        Some(token) if token.starts_with("Bearer ") => {
            let user = token["Bearer ".len()..].to_owned();
            request.extensions_mut().insert(Caller { user, method });
            Ok(request)
        }
        _ => {
            let mut status = Status::unauthenticated(format!("{method} needs a bearer token"));
            let metadata = status.metadata_mut();
            metadata.insert("www-authenticate", MetadataValue::from_static("Bearer"));
            // Reserved: dropped on the way out, whoever sets it.
            metadata.insert("grpc-encoding", MetadataValue::from_static("gzip"));
            Err(status)
        }
    }
}

/// A channel to a [`whoami`] server behind the [`authenticate`] interceptor.
fn serve() -> Channel {
    rust_grpc::in_process::channel(
        Server::builder()
            .layer(interceptor::layer(authenticate))
            .add_service(StubServer::new().unary(whoami).into_service()),
    )
}

fn hop(
    name: &'static str,
) -> impl Fn(Request<()>) -> std::future::Ready<Result<Request<()>, Status>> + Clone {
    move |mut request: Request<()>| {
        request
            .metadata_mut()
            .append("x-hop", MetadataValue::from_static(name));
        std::future::ready(Ok(request))
    }
}

#[tokio::test]
async fn server_interceptor_rejects_a_call_without_credentials() {
    let client = EchoClient::new(serve());
    let status = client.unary(EchoRequest::default()).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert_eq!(status.message(), "Unary needs a bearer token");
    assert_eq!(status.metadata().get("www-authenticate").unwrap(), "Bearer");
    assert!(status.metadata().get("grpc-encoding").is_none());
}

#[tokio::test]
async fn client_interceptors_chain_and_the_server_hands_values_to_the_handler() {
    let channel = serve();
    let login = |mut request: Request<()>| async move {
        tokio::task::yield_now().await;
        request
            .metadata_mut()
            .insert("authorization", MetadataValue::from_static("Bearer ada"));
        Ok(request)
    };
    let transport = interceptor::layer(login).layer(
        interceptor::layer(hop("first")).layer(interceptor::layer(hop("second")).layer(channel)),
    );
    let client = EchoClient::new(transport);

    let reply = client
        .unary(EchoRequest::default())
        .await
        .unwrap()
        .into_inner();

    assert_eq!(reply.message, "ada via Unary");
    assert_eq!(reply.metadata, ["first", "second"]);
}
