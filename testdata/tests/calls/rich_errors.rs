//! Rich error details cross the wire: built with one call on the server, read
//! with one call on the client.

use rust_grpc::errors::{
    BadRequest, ErrorDetail, ErrorInfo, RetryInfo, StatusExt as _, bad_request,
};
use rust_grpc::{Code, Status};
use rust_grpc_testdata::default::corpus::echo::FailRequest;
use rust_grpc_testdata::stub::StubServer;

fn details() -> Vec<ErrorDetail> {
    vec![
        ErrorInfo {
            reason: "QUOTA_SPENT".to_owned(),
            domain: "echo.example".to_owned(),
            metadata: [("plan".to_owned(), "free".to_owned())].into(),
        }
        .into(),
        RetryInfo {
            retry_delay: Some(rust_grpc::prost_types::Duration {
                seconds: 30,
                nanos: 0,
            }),
        }
        .into(),
        BadRequest {
            field_violations: vec![bad_request::FieldViolation {
                field: "message".to_owned(),
                description: "too long".to_owned(),
                ..Default::default()
            }],
        }
        .into(),
    ]
}

#[tokio::test]
async fn error_details_reach_the_client() {
    let client = StubServer::new()
        .fail(|request| async move {
            let FailRequest { code, message } = request.into_inner();
            Err(Status::with_error_details(
                Code::from_i32(code),
                message,
                details(),
            ))
        })
        .start();

    let status = client
        .fail(FailRequest {
            code: Code::ResourceExhausted as i32,
            message: "slow down ✓".to_owned(),
        })
        .await
        .unwrap_err();

    assert_eq!(status.code(), Code::ResourceExhausted);
    assert_eq!(status.message(), "slow down ✓");
    assert_eq!(status.error_details(), details());
    let info: ErrorInfo = status.error_detail().unwrap();
    assert_eq!(info.metadata["plan"], "free");
    assert_eq!(
        status
            .error_detail::<RetryInfo>()
            .unwrap()
            .retry_delay
            .unwrap()
            .seconds,
        30
    );
}
