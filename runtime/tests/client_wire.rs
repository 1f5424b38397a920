//! The client call engine against a raw HTTP/2 server that answers however a
//! test says: HTTP statuses without a gRPC status, malformed status details,
//! missing trailers, extra messages, compression it cannot read.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rust_grpc::health::{HealthCheckRequest, HealthCheckResponse, HealthClient};
use rust_grpc::{Code, Status};
use tokio::net::TcpListener;

/// One answer: HTTP status, headers, DATA chunks, trailers.
#[derive(Clone, Default)]
struct Answer {
    status: u16,
    headers: Vec<(&'static str, &'static str)>,
    data: Vec<Vec<u8>>,
    trailers: Option<Vec<(&'static str, &'static str)>>,
}

/// A body of fixed frames.
struct Frames(Vec<http_body::Frame<Bytes>>);

impl http_body::Body for Frames {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Infallible>>> {
        Poll::Ready(if self.0.is_empty() {
            None
        } else {
            Some(Ok(self.0.remove(0)))
        })
    }
}

fn header_map(pairs: &[(&'static str, &'static str)]) -> http::HeaderMap {
    pairs
        .iter()
        .map(|(k, v)| {
            (
                http::HeaderName::from_static(k),
                http::HeaderValue::from_static(v),
            )
        })
        .collect()
}

async fn serve(answer: Answer) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (io, _) = listener.accept().await.unwrap();
            let answer = answer.clone();
            let service =
                hyper::service::service_fn(move |_: http::Request<hyper::body::Incoming>| {
                    let answer = answer.clone();
                    async move {
                        let mut frames: Vec<_> = answer
                            .data
                            .iter()
                            .map(|chunk| http_body::Frame::data(Bytes::from(chunk.clone())))
                            .collect();
                        if let Some(trailers) = &answer.trailers {
                            frames.push(http_body::Frame::trailers(header_map(trailers)));
                        }
                        let mut response = http::Response::new(Frames(frames));
                        *response.status_mut() = http::StatusCode::from_u16(answer.status).unwrap();
                        *response.headers_mut() = header_map(&answer.headers);
                        Ok::<_, Infallible>(response)
                    }
                });
            tokio::spawn(
                hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(io), service),
            );
        }
    });
    format!("http://{addr}")
}

fn framed(flag: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![flag];
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// A HealthCheckResponse{status: SERVING}, encoded.
const SERVING: &[u8] = &[0x08, 0x01];

async fn check(answer: Answer) -> Result<HealthCheckResponse, Status> {
    let client = HealthClient::connect(serve(answer).await).await.unwrap();
    client
        .check(HealthCheckRequest::default())
        .await
        .map(rust_grpc::Response::into_inner)
}

fn grpc_ok(data: Vec<Vec<u8>>) -> Answer {
    Answer {
        status: 200,
        headers: vec![("content-type", "application/grpc")],
        data,
        trailers: Some(vec![("grpc-status", "0")]),
    }
}

#[tokio::test]
async fn a_well_formed_answer_is_ok() {
    let reply = check(grpc_ok(vec![framed(0, SERVING)])).await.unwrap();
    assert_eq!(reply.status, 1);
}

#[tokio::test]
async fn a_message_split_across_data_frames_is_joined() {
    let message = framed(0, SERVING);
    let data = message.iter().map(|byte| vec![*byte]).collect();
    assert_eq!(check(grpc_ok(data)).await.unwrap().status, 1);
}

#[tokio::test]
async fn http_statuses_without_grpc_status_map_as_grpc_says() {
    for (http, code) in [
        (404, Code::Unimplemented),
        (503, Code::Unavailable),
        (401, Code::Unauthenticated),
        (500, Code::Unknown),
    ] {
        let answer = Answer {
            status: http,
            ..Answer::default()
        };
        assert_eq!(check(answer).await.unwrap_err().code(), code, "HTTP {http}");
    }
}

#[tokio::test]
async fn malformed_status_details_do_not_panic() {
    let answer = Answer {
        status: 200,
        headers: vec![
            ("content-type", "application/grpc"),
            ("grpc-status", "9"),
            ("grpc-message", "bad%20state"),
            ("grpc-status-details-bin", "%%%not-base64"),
        ],
        ..Answer::default()
    };
    let status = check(answer).await.unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(status.message(), "bad state");
}

#[tokio::test]
async fn a_stream_without_trailers_is_internal() {
    let mut answer = grpc_ok(vec![framed(0, SERVING)]);
    answer.trailers = None;
    assert_eq!(check(answer).await.unwrap_err().code(), Code::Internal);
}

// Cardinality violations: UNIMPLEMENTED, as gRPC's status code table says.
#[tokio::test]
async fn a_second_message_to_a_unary_call_is_unimplemented() {
    let answer = grpc_ok(vec![framed(0, SERVING), framed(0, SERVING)]);
    assert_eq!(check(answer).await.unwrap_err().code(), Code::Unimplemented);
}

#[tokio::test]
async fn no_message_with_ok_is_unimplemented() {
    assert_eq!(
        check(grpc_ok(vec![])).await.unwrap_err().code(),
        Code::Unimplemented
    );
}

#[tokio::test]
async fn a_truncated_message_is_internal() {
    let mut message = framed(0, SERVING);
    message.pop();
    assert_eq!(
        check(grpc_ok(vec![message])).await.unwrap_err().code(),
        Code::Internal
    );
}

#[tokio::test]
async fn an_encoding_the_client_cannot_read_is_internal() {
    let mut answer = grpc_ok(vec![framed(1, b"??")]);
    answer.headers.push(("grpc-encoding", "snappy"));
    assert_eq!(check(answer).await.unwrap_err().code(), Code::Internal);
}

#[tokio::test]
async fn an_oversized_response_is_resource_exhausted() {
    let client = HealthClient::connect(serve(grpc_ok(vec![framed(0, &[0; 100])])).await)
        .await
        .unwrap()
        .max_decoding_message_size(10);
    let status = client
        .check(HealthCheckRequest::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted);
}

#[tokio::test]
async fn trailers_only_errors_carry_their_metadata() {
    let answer = Answer {
        status: 200,
        headers: vec![
            ("content-type", "application/grpc"),
            ("grpc-status", "5"),
            ("grpc-message", "gone"),
            ("x-why", "deleted"),
        ],
        ..Answer::default()
    };
    let status = check(answer).await.unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    assert_eq!(status.metadata().get("x-why").unwrap(), "deleted");
}

/// A server that takes the connection, then drops it once a call arrives.
async fn serve_then_drop() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (io, _) = listener.accept().await.unwrap();
        let (arrived, called) = tokio::sync::mpsc::unbounded_channel::<()>();
        let service = hyper::service::service_fn(move |_: http::Request<hyper::body::Incoming>| {
            let _ = arrived.send(());
            std::future::pending::<Result<http::Response<Frames>, Infallible>>()
        });
        let connection = tokio::spawn(
            hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(io), service),
        );
        let mut called = called;
        called.recv().await;
        connection.abort();
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn a_connection_lost_mid_call_is_unavailable() {
    let client = HealthClient::connect(serve_then_drop().await)
        .await
        .unwrap();
    let status = client
        .check(HealthCheckRequest::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
}
