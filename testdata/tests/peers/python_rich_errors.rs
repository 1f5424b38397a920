//! Rich error details (google.rpc.Status in `grpc-status-details-bin`) against a
//! real peer, both ways: grpcio-status (`rpc_status.from_call`) reads what our
//! server sends, and our client reads what a grpcio server sends with
//! `rpc_status.to_status` (`interop/peers/python/checks/rich_errors.py`).

use rust_grpc::errors::{
    BadRequest, ErrorDetail, ErrorInfo, RetryInfo, StatusExt as _, bad_request,
};
use rust_grpc::{Code, Request, Response, Status};
use rust_grpc_testdata::default::corpus::echo::echo_client::EchoClient;
use rust_grpc_testdata::default::corpus::echo::{EchoReply, FailRequest};
use rust_grpc_testdata::python_peer;
use rust_grpc_testdata::stub::StubServer;

/// Fails with the requested code and message, and three details.
async fn fail(request: Request<FailRequest>) -> Result<Response<EchoReply>, Status> {
    let FailRequest { code, message } = request.into_inner();
    Err(Status::with_error_details(
        Code::from_i32(code),
        message,
        vec![
            ErrorInfo {
                reason: "QUOTA_SPENT".to_owned(),
                domain: "echo.example".to_owned(),
                metadata: [
                    ("plan".to_owned(), "free".to_owned()),
                    ("zone".to_owned(), "a".to_owned()),
                ]
                .into(),
            }
            .into(),
            RetryInfo {
                retry_delay: Some(rust_grpc::prost_types::Duration {
                    seconds: 30,
                    nanos: 250,
                }),
            }
            .into(),
            BadRequest {
                field_violations: vec![
                    bad_request::FieldViolation {
                        field: "message".to_owned(),
                        description: "too long".to_owned(),
                        ..Default::default()
                    },
                    bad_request::FieldViolation {
                        field: "count".to_owned(),
                        description: "negative".to_owned(),
                        ..Default::default()
                    },
                ],
            }
            .into(),
        ],
    ))
}

#[tokio::test]
async fn python_grpcio_status_reads_the_details_our_server_sends() {
    let Some(peer) = python_peer::peer() else {
        return;
    };
    let addr = StubServer::new().fail(fail).serve_tcp().await.to_string();
    let code = (Code::ResourceExhausted as i32).to_string();

    let lines = peer
        .run(peer.command(
            "rich_errors.py",
            &["client", &addr, &code, "slow down ✓ 100%"],
        ))
        .await;

    // from_call also checks that the google.rpc.Status agrees with grpc-status
    // and grpc-message, and raises when it does not.
    assert_eq!(
        lines,
        [
            format!("code {code}"),
            "message slow down ✓ 100%".to_owned(),
            "ErrorInfo QUOTA_SPENT echo.example plan=free,zone=a".to_owned(),
            "RetryInfo 30 250".to_owned(),
            "BadRequest message too long".to_owned(),
            "BadRequest count negative".to_owned(),
        ]
    );
}

#[tokio::test]
async fn our_client_reads_the_details_a_python_server_sends() {
    let Some(peer) = python_peer::peer() else {
        return;
    };
    let mut server = peer.spawn(peer.command("rich_errors.py", &["server"]));
    let listening = server.line().await;
    let port = listening
        .strip_prefix("listening ")
        .unwrap_or_else(|| panic!("expected `listening PORT`, got {listening:?}"));
    let client = EchoClient::connect(format!("http://127.0.0.1:{port}"))
        .await
        .unwrap();

    let status = client
        .fail(FailRequest {
            code: Code::FailedPrecondition as i32,
            message: "not yet ✓".to_owned(),
        })
        .await
        .unwrap_err();

    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(status.message(), "not yet ✓");
    let expected: Vec<ErrorDetail> = vec![
        ErrorInfo {
            reason: "PY_QUOTA".to_owned(),
            domain: "python.example".to_owned(),
            metadata: [
                ("plan".to_owned(), "pro".to_owned()),
                ("region".to_owned(), "eu".to_owned()),
            ]
            .into(),
        }
        .into(),
        RetryInfo {
            retry_delay: Some(rust_grpc::prost_types::Duration {
                seconds: 7,
                nanos: 500,
            }),
        }
        .into(),
        BadRequest {
            field_violations: vec![bad_request::FieldViolation {
                field: "code".to_owned(),
                description: "set by python".to_owned(),
                ..Default::default()
            }],
        }
        .into(),
    ];
    assert_eq!(status.error_details(), expected);
    let info: ErrorInfo = status.error_detail().unwrap();
    assert_eq!(info.reason, "PY_QUOTA");
    let retry: RetryInfo = status.error_detail().unwrap();
    assert_eq!(retry.retry_delay.unwrap().seconds, 7);
}
