//! grpc.health.v1 against a real peer: grpcio-health-checking's client
//! (`interop/peers/python/checks/health.py`) calling our health service.

use rust_grpc::Server;
use rust_grpc::health::{HealthReporter, health_service};
use rust_grpc_testdata::{python_peer, stub};

const ECHO: &str = "corpus.echo.Echo";

async fn serve() -> (String, HealthReporter) {
    let (reporter, health) = health_service();
    reporter.set_serving(ECHO);
    // Health alone: no stub of corpus.echo.Echo is needed.
    let (incoming, addr) = stub::listen().await;
    tokio::spawn(
        Server::builder()
            .add_service(health)
            .serve_with_incoming(incoming),
    );
    (addr.to_string(), reporter)
}

#[tokio::test]
async fn python_health_check_sees_serving() {
    let Some(peer) = python_peer::peer() else {
        return;
    };
    let (addr, _reporter) = serve().await;
    let lines = peer
        .run(peer.command("health.py", &[&addr, "check", ECHO]))
        .await;
    assert_eq!(lines, [format!("check {ECHO} SERVING")]);
}

#[tokio::test]
async fn python_health_check_of_an_unknown_service_gets_not_found() {
    let Some(peer) = python_peer::peer() else {
        return;
    };
    let (addr, _reporter) = serve().await;
    let lines = peer
        .run(peer.command("health.py", &[&addr, "check", "corpus.echo.Nobody"]))
        .await;
    assert_eq!(lines, ["check corpus.echo.Nobody NOT_FOUND"]);
}

#[tokio::test]
async fn python_health_watch_sees_each_change_the_reporter_makes() {
    let Some(peer) = python_peer::peer() else {
        return;
    };
    let (addr, reporter) = serve().await;
    let mut watch = peer.spawn(peer.command("health.py", &[&addr, "watch", ECHO, "3"]));

    // Each change is made only after the client has printed the status before
    // it, so every update below is one the Watch stream delivered.
    assert_eq!(watch.line().await, format!("watch {ECHO} SERVING"));
    reporter.set_not_serving(ECHO);
    assert_eq!(watch.line().await, format!("watch {ECHO} NOT_SERVING"));
    reporter.set_serving(ECHO);
    assert_eq!(watch.line().await, format!("watch {ECHO} SERVING"));
    watch.success().await;
}

#[tokio::test]
async fn python_health_watch_of_an_unknown_service_sees_service_unknown_then_serving() {
    let Some(peer) = python_peer::peer() else {
        return;
    };
    let (addr, reporter) = serve().await;
    let late = "corpus.echo.Late";
    let mut watch = peer.spawn(peer.command("health.py", &[&addr, "watch", late, "2"]));

    // grpc-go and the health spec: Watch of an unknown service does not fail,
    // it reports SERVICE_UNKNOWN and waits for the service to appear.
    assert_eq!(watch.line().await, format!("watch {late} SERVICE_UNKNOWN"));
    reporter.set_serving(late);
    assert_eq!(watch.line().await, format!("watch {late} SERVING"));
    watch.success().await;
}
