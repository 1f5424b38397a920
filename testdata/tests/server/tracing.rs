//! Every call gets one `grpc.call` span with its method, peer, code and duration.

use std::io::Write;
use std::sync::{Arc, Mutex};

use rust_grpc::{Code, Status};
use rust_grpc_testdata::default::corpus::echo::{EchoRequest, FailRequest};
use rust_grpc_testdata::stub::{self, StubServer};
use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::util::SubscriberInitExt as _;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn each_call_has_a_span_with_method_peer_code_and_duration() {
    let captured = Captured::default();
    let writer = captured.clone();
    // This thread's subscriber, not the process's: the other tests of this
    // binary run on threads of their own. The server runs on this thread too
    // (a current-thread runtime), over TCP for the peer address.
    let _subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_span_events(FmtSpan::CLOSE)
        .with_ansi(false)
        .finish()
        .set_default();
    let client = StubServer::new()
        .unary(stub::echo)
        .fail(|_| async { Err(Status::permission_denied("no")) })
        .start_tcp()
        .await;
    client.unary(EchoRequest::default()).await.unwrap();
    assert_eq!(
        client
            .fail(FailRequest::default())
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied
    );

    // Spans close when the server lets go of the response body.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let text = loop {
        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        if text.matches("grpc.call").count() >= 2 || std::time::Instant::now() > deadline {
            break text;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    let unary = text
        .lines()
        .find(|l| l.contains("/corpus.echo.Echo/Unary"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(unary.contains("code=Ok"), "{unary}");
    assert!(unary.contains("peer=127.0.0.1:"), "{unary}");
    assert!(unary.contains("duration_ms="), "{unary}");
    let fail = text
        .lines()
        .find(|l| l.contains("/corpus.echo.Echo/Fail"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(fail.contains("code=PermissionDenied"), "{fail}");
}
