//! The tools users reach for, against a generated server with health and
//! reflection: grpcurl (reflection alone, no .proto) and grpc-health-probe.
//! `.ci/go-tools` installs both into `.cache/go-bin`.

use std::path::PathBuf;
use std::process::Output;

use rust_grpc::Response;
use rust_grpc::health::{HealthReporter, health_service};
use rust_grpc::reflection::Reflection;
use rust_grpc_testdata::stub::{StubServer, reply};
use rust_grpc_testdata::stubs::FILE_DESCRIPTOR_SETS;

/// A tool from `.cache/go-bin`; `None` (and a note) when it is not installed,
/// which CI does not accept.
fn tool(name: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("RUST_GRPC_GO_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.cache/go-bin"));
    let path = dir.join(name);
    if path.is_file() {
        return Some(path);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{name} is not installed in {}: run .ci/go-tools",
        dir.display()
    );
    eprintln!("skipped: {name} is not installed (bash .ci/go-tools installs it)");
    None
}

async fn serve() -> (String, HealthReporter) {
    let (reporter, health) = health_service();
    reporter.set_serving("corpus.echo.Echo");
    let mut sets = FILE_DESCRIPTOR_SETS.to_vec();
    sets.push(rust_grpc::health::FILE_DESCRIPTOR_SET);
    let reflection = Reflection::new(&sets).unwrap();
    let addr = StubServer::new()
        .unary(|request| async move {
            let message = format!("echo: {}", request.into_inner().message);
            Ok(Response::new(reply(message)))
        })
        .router(move |router| {
            router
                .add_service(health)
                .add_service(reflection.v1())
                .add_service(reflection.v1alpha())
        })
        .serve_tcp()
        .await;
    (addr.to_string(), reporter)
}

async fn run(tool: &PathBuf, args: &[&str]) -> Output {
    let mut command = tokio::process::Command::new(tool);
    command.args(args);
    command.output().await.unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test]
async fn grpcurl_lists_services_through_reflection() {
    let Some(grpcurl) = tool("grpcurl") else {
        return;
    };
    let (addr, _health) = serve().await;
    let output = run(&grpcurl, &["-plaintext", &addr, "list"]).await;
    assert!(output.status.success(), "{output:?}");
    let listed = stdout(&output);
    for service in [
        "corpus.echo.Echo",
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
    ] {
        assert!(
            listed.lines().any(|line| line == service),
            "{service} missing from:\n{listed}"
        );
    }
    // Described in the embedded descriptors but not served: grpc-go lists
    // only what the server serves, and so do we.
    assert!(
        !listed.lines().any(|line| line == "corpus.echo.Partial"),
        "an unserved service is listed:\n{listed}"
    );
}

#[tokio::test]
async fn grpcurl_describes_a_method() {
    let Some(grpcurl) = tool("grpcurl") else {
        return;
    };
    let (addr, _health) = serve().await;
    let output = run(
        &grpcurl,
        &["-plaintext", &addr, "describe", "corpus.echo.Echo.Unary"],
    )
    .await;
    assert!(output.status.success(), "{output:?}");
    let described = stdout(&output);
    assert!(
        described
            .contains("rpc Unary ( .corpus.echo.EchoRequest ) returns ( .corpus.echo.EchoReply );"),
        "{described}"
    );
}

#[tokio::test]
async fn grpcurl_calls_with_a_json_body() {
    let Some(grpcurl) = tool("grpcurl") else {
        return;
    };
    let (addr, _health) = serve().await;
    let output = run(
        &grpcurl,
        &[
            "-plaintext",
            "-d",
            r#"{"message": "from grpcurl"}"#,
            &addr,
            "corpus.echo.Echo/Unary",
        ],
    )
    .await;
    assert!(output.status.success(), "{output:?}");
    assert!(
        stdout(&output).contains(r#""message": "echo: from grpcurl""#),
        "{}",
        stdout(&output)
    );
}

#[tokio::test]
async fn grpc_health_probe_reports_serving_then_not_serving() {
    let Some(probe) = tool("grpc-health-probe") else {
        return;
    };
    let (addr, health) = serve().await;
    let target = format!("-addr={addr}");

    let output = run(&probe, &[&target, "-service=corpus.echo.Echo"]).await;
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("status: SERVING"),
        "{output:?}"
    );

    health.set_not_serving("corpus.echo.Echo");
    let output = run(&probe, &[&target, "-service=corpus.echo.Echo"]).await;
    // grpc-health-probe exits 4 for a status other than SERVING.
    assert_eq!(output.status.code(), Some(4), "{output:?}");
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("NOT_SERVING"),
        "{output:?}"
    );

    let output = run(&probe, &[&target]).await;
    assert_eq!(
        output.status.code(),
        Some(0),
        "the whole server is still serving: {output:?}"
    );
}
