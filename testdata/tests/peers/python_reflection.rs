//! Server reflection against a real peer: grpcio-reflection's
//! `ProtoReflectionDescriptorDatabase` (`interop/peers/python/checks/reflection.py`),
//! behind a protobuf `DescriptorPool`, resolving what our server registers from
//! the descriptor sets that generated code embeds.

use rust_grpc::reflection::Reflection;
use rust_grpc_testdata::python_peer::{self, Peer};
use rust_grpc_testdata::stub::{self, StubServer};
use rust_grpc_testdata::stubs::FILE_DESCRIPTOR_SETS;

/// Serves `corpus.echo.Echo` and reflection, v1 and v1alpha.
async fn serve() -> String {
    let reflection = Reflection::new(FILE_DESCRIPTOR_SETS).unwrap();
    StubServer::new()
        .unary(stub::echo)
        .router(move |router| {
            router
                .add_service(reflection.v1())
                .add_service(reflection.v1alpha())
        })
        .serve_tcp()
        .await
        .to_string()
}

async fn reflect(peer: &Peer, addr: &str, version: &str, args: &[&str]) -> Vec<String> {
    let mut all = vec![addr, version];
    all.extend_from_slice(args);
    peer.run(peer.command("reflection.py", &all)).await
}

async fn resolves_a_service_symbol(version: &str) {
    let Some(peer) = python_peer::peer() else {
        return;
    };
    let addr = serve().await;
    let lines = reflect(&peer, &addr, version, &["symbol", "corpus.echo.Echo"]).await;
    assert_eq!(lines[0], "file corpus/echo.proto", "{lines:#?}");
    for method in [
        "method Unary corpus.echo.EchoRequest corpus.echo.EchoReply",
        "method ServerStream corpus.echo.EchoRequest corpus.echo.EchoReply",
        "method Sleep corpus.echo.SleepRequest corpus.echo.EchoReply",
        "method Fail corpus.echo.FailRequest corpus.echo.EchoReply",
    ] {
        assert!(
            lines.iter().any(|line| line == method),
            "{method} missing from {lines:#?}"
        );
    }
    assert_eq!(lines.len(), 7, "one file line and six methods: {lines:#?}");
}

/// `corpus/wkt.proto` imports seven well-known type files; the pool can only
/// build it, and its message fields can only name those types, when reflection
/// served every import too.
async fn resolves_a_file_with_its_imports(version: &str) {
    let Some(peer) = python_peer::peer() else {
        return;
    };
    let addr = serve().await;
    let lines = reflect(&peer, &addr, version, &["file", "corpus/wkt.proto"]).await;
    assert_eq!(lines[0], "file corpus/wkt.proto", "{lines:#?}");
    for import in [
        "any",
        "duration",
        "empty",
        "field_mask",
        "struct",
        "timestamp",
        "wrappers",
    ] {
        let line = format!("dependency google/protobuf/{import}.proto");
        assert!(lines.contains(&line), "{line} missing from {lines:#?}");
    }
    for field in [
        "field Snapshot.taken_at google.protobuf.Timestamp",
        "field Snapshot.took google.protobuf.Duration",
        "field Snapshot.payload google.protobuf.Any",
        "field Snapshot.title google.protobuf.StringValue",
    ] {
        assert!(
            lines.iter().any(|line| line == field),
            "{field} missing from {lines:#?}"
        );
    }
}

#[tokio::test]
async fn python_reflection_v1alpha_resolves_a_service_symbol() {
    resolves_a_service_symbol("v1alpha").await;
}

#[tokio::test]
async fn python_reflection_v1_resolves_a_service_symbol() {
    resolves_a_service_symbol("v1").await;
}

#[tokio::test]
async fn python_reflection_v1alpha_resolves_a_file_with_its_imports() {
    resolves_a_file_with_its_imports("v1alpha").await;
}

#[tokio::test]
async fn python_reflection_v1_resolves_a_file_with_its_imports() {
    resolves_a_file_with_its_imports("v1").await;
}

#[tokio::test]
async fn python_reflection_lists_the_served_services() {
    let Some(peer) = python_peer::peer() else {
        return;
    };
    let addr = serve().await;
    let lines = reflect(&peer, &addr, "v1alpha", &["services"]).await;
    for service in [
        "service corpus.echo.Echo",
        "service grpc.reflection.v1.ServerReflection",
        "service grpc.reflection.v1alpha.ServerReflection",
    ] {
        assert!(
            lines.iter().any(|line| line == service),
            "{service} missing from {lines:#?}"
        );
    }
    // Its descriptors are registered, but this server does not serve it.
    assert!(
        !lines
            .iter()
            .any(|line| line == "service corpus.echo.Partial"),
        "{lines:#?}"
    );
}
