//! Rust against Rust: `interop-client` runs every case against `interop-server`,
//! over plaintext and over TLS (with grpc-go's test certificates from the Go
//! module cache).

use std::io::{BufRead as _, BufReader, Read as _};
use std::process::{Child, Command, Stdio};

use interop::certs::{GRPC_GO_VERSION, HOST_OVERRIDE, TestCerts};
use interop::client::CASES;

/// A running `interop-server`, stopped when dropped.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    /// Starts the server on a free port with `flags` and waits until it listens.
    fn start(flags: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_interop-server"))
            .arg("--port=0")
            .args(flags)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start interop-server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("the server's stdout"))
            .read_line(&mut line)
            .expect("read the server's first line");
        let Some(port) = line
            .trim()
            .rsplit_once("127.0.0.1:")
            .and_then(|(_, rest)| rest.split(' ').next())
            .and_then(|port| port.parse().ok())
        else {
            let _ = child.kill();
            let mut stderr = String::new();
            if let Some(mut err) = child.stderr.take() {
                let _ = err.read_to_string(&mut stderr);
            }
            panic!("interop-server did not start: {line:?}\n{stderr}");
        };
        Self { child, port }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs every case against `server` with `flags`; asserts each one passed.
fn every_case_passes(server: &Server, flags: &[&str]) {
    let output = Command::new(env!("CARGO_BIN_EXE_interop-client"))
        .arg("--server_host=127.0.0.1")
        .arg(format!("--server_port={}", server.port))
        .arg(format!("--test_case={}", CASES.join(",")))
        .args(flags)
        .output()
        .expect("run interop-client");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let report = format!("client output:\n{stdout}{stderr}");
    for case in CASES {
        assert!(
            stdout.lines().any(|line| line == format!("PASS {case}")),
            "{case} did not pass\n{report}"
        );
    }
    assert!(output.status.success(), "the client failed\n{report}");
}

#[test]
fn every_case_passes_over_plaintext() {
    let server = Server::start(&[]);
    every_case_passes(&server, &[]);
}

#[test]
fn every_case_passes_over_tls() {
    let certs = match TestCerts::grpc_go() {
        Ok(certs) => certs,
        Err(why) if std::env::var("CI").as_deref() == Ok("true") => panic!(
            "the TLS interop test needs grpc-go's test certificates \
             (google.golang.org/grpc@{GRPC_GO_VERSION}), and CI=true: {why}"
        ),
        Err(why) => {
            eprintln!("skipping the TLS interop test: {why}");
            return;
        }
    };
    // The server finds its certificate and key in the module cache by itself.
    let server = Server::start(&["--use_tls=true"]);
    let ca = format!("--ca_file={}", certs.ca.display());
    let host_override = format!("--server_host_override={HOST_OVERRIDE}");
    every_case_passes(
        &server,
        &["--use_tls=true", "--use_test_ca=true", &ca, &host_override],
    );
}

#[tokio::test]
async fn sigterm_lets_a_running_call_finish_then_the_server_exits() {
    use interop::pb::test_service_client::TestServiceClient;
    use interop::pb::{PayloadType, ResponseParameters, StreamingOutputCallRequest};

    let mut server = Server::start(&[]);
    let client = TestServiceClient::connect(format!("http://127.0.0.1:{}", server.port))
        .await
        .expect("connect");
    // Three responses 300 ms apart: the call is still running when the signal comes.
    let request = StreamingOutputCallRequest {
        response_type: PayloadType::Compressable.into(),
        response_parameters: vec![
            ResponseParameters {
                size: 8,
                interval_us: 300_000,
                ..ResponseParameters::default()
            };
            3
        ],
        ..StreamingOutputCallRequest::default()
    };
    let mut responses = client
        .streaming_output_call(request)
        .await
        .expect("the call starts")
        .into_inner();
    assert!(responses.message().await.expect("first").is_some());

    let killed = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(killed.success());

    let mut received = 1;
    while let Some(_message) = responses.message().await.expect("the call ends OK") {
        received += 1;
    }
    assert_eq!(
        received, 3,
        "every response arrives within the grace period"
    );

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let status = loop {
        if let Some(status) = server.child.try_wait().expect("wait for the server") {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the server is still running 10 s after SIGTERM"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert!(status.success(), "the server exited with {status}");
}
