//! Per-call credentials: metadata fetched for each call, refused over
//! plaintext unless the credentials allow it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use rust_grpc::channel::CallCredentials;
use rust_grpc::codegen::BoxFuture;
use rust_grpc::metadata::MetadataMap;
use rust_grpc::{Code, Endpoint, Response, Status};
use rust_grpc_testdata::default::corpus::echo::echo_client::EchoClient;
use rust_grpc_testdata::stub::{StubServer, reply, request, url};

/// A token that changes with every call, as a refreshed one would.
struct Counter {
    calls: Arc<AtomicUsize>,
    insecure: bool,
}

impl CallCredentials for Counter {
    fn metadata(&self, _: &rust_grpc::codegen::http::Uri) -> BoxFuture<MetadataMap, Status> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        Box::pin(async move {
            tokio::task::yield_now().await;
            let mut metadata = MetadataMap::new();
            metadata.insert(
                "authorization",
                format!("Bearer token-{n}").parse().unwrap(),
            );
            Ok(metadata)
        })
    }

    fn allow_insecure(&self) -> bool {
        self.insecure
    }
}

async fn server() -> String {
    let addr = StubServer::new()
        .unary(|request| async move {
            let token = request
                .metadata()
                .get("authorization")
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default();
            Ok(Response::new(reply(token)))
        })
        .serve_tcp()
        .await;
    url(addr)
}

#[tokio::test]
async fn call_credentials_add_fresh_metadata_to_every_call() {
    let calls = Arc::new(AtomicUsize::new(0));
    let channel = Endpoint::new(server().await)
        .unwrap()
        .call_credentials(Counter {
            calls: Arc::clone(&calls),
            insecure: true,
        })
        .connect()
        .await
        .unwrap();
    let client = EchoClient::new(channel);
    for n in 1..=2 {
        let answer = client.unary(request("", 0)).await.unwrap().into_inner();
        assert_eq!(answer.message, format!("Bearer token-{n}"));
    }
}

#[tokio::test]
async fn call_credentials_are_refused_over_plaintext_unless_allowed() {
    let calls = Arc::new(AtomicUsize::new(0));
    let channel = Endpoint::new(server().await)
        .unwrap()
        .call_credentials(Counter {
            calls: Arc::clone(&calls),
            insecure: false,
        })
        .connect()
        .await
        .unwrap();
    let status = EchoClient::new(channel)
        .unary(request("", 0))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert!(status.message().contains("need TLS"), "{status:?}");
    assert_eq!(calls.load(Ordering::SeqCst), 0, "no token was fetched");
}
