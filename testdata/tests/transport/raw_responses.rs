//! How the client channel reads responses a gRPC server would not normally
//! send, as the connectrpc conformance suite sends them: headers and trailers
//! of a failed unary call, a content-type that is not gRPC, a grpc-status in
//! headers that do not end the stream. The server is the h2 crate's, answering
//! from a script. (runtime/tests/client_wire.rs has the unary answers with zero
//! or two messages.)

use bytes::{BufMut, Bytes, BytesMut};
use rust_grpc::prost::Message as _;
use rust_grpc::{Code, ResponseExt as _};
use rust_grpc_testdata::default::corpus::echo::EchoRequest;
use rust_grpc_testdata::default::corpus::echo::echo_client::EchoClient;
use rust_grpc_testdata::stub::reply;

/// What the server answers every call with.
#[derive(Clone, Default)]
struct Script {
    headers: Vec<(&'static str, &'static str)>,
    /// The number of EchoReply messages to send.
    messages: usize,
    /// `None`: the stream ends with the headers (Trailers-Only) when there are
    /// no messages, or with the last message.
    trailers: Option<Vec<(&'static str, &'static str)>>,
}

fn header_map(pairs: &[(&'static str, &'static str)]) -> http::HeaderMap {
    let mut map = http::HeaderMap::new();
    for (name, value) in pairs {
        map.append(*name, value.parse().unwrap());
    }
    map
}

fn frame() -> Bytes {
    let message = reply("scripted").encode_to_vec();
    let mut frame = BytesMut::new();
    frame.put_u8(0);
    frame.put_u32(message.len() as u32);
    frame.put_slice(&message);
    frame.freeze()
}

async fn serve(listener: tokio::net::TcpListener, script: Script) {
    let (tcp, _) = listener.accept().await.unwrap();
    let mut connection = h2::server::handshake(tcp).await.unwrap();
    while let Some(Ok((request, mut respond))) = connection.accept().await {
        let script = script.clone();
        tokio::spawn(async move {
            let mut body = request.into_body();
            while let Some(data) = body.data().await {
                let _ = body.flow_control().release_capacity(data.unwrap().len());
            }
            let mut response = http::Response::new(());
            *response.headers_mut() = header_map(&script.headers);
            let ends_now = script.messages == 0 && script.trailers.is_none();
            let mut stream = respond.send_response(response, ends_now).unwrap();
            for n in 0..script.messages {
                let last = n + 1 == script.messages && script.trailers.is_none();
                stream.send_data(frame(), last).unwrap();
            }
            if let Some(trailers) = &script.trailers {
                stream.send_trailers(header_map(trailers)).unwrap();
            }
        });
    }
}

/// Makes one unary call to a server answering with `script`.
async fn call(
    script: Script,
) -> Result<
    rust_grpc::Response<rust_grpc_testdata::default::corpus::echo::EchoReply>,
    rust_grpc::Status,
> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve(listener, script));
    let channel = rust_grpc::Endpoint::new(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    EchoClient::new(channel)
        .unary(EchoRequest {
            message: "hi".to_owned(),
            count: 0,
        })
        .await
}

const GRPC: (&str, &str) = ("content-type", "application/grpc");

#[tokio::test]
async fn a_failed_unary_call_keeps_the_response_headers_in_its_status() {
    let status = call(Script {
        headers: vec![GRPC, ("x-custom-header", "foo")],
        messages: 0,
        trailers: Some(vec![("grpc-status", "9"), ("x-custom-trailer", "bing")]),
    })
    .await
    .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(status.metadata().get("x-custom-header").unwrap(), "foo");
    assert_eq!(status.metadata().get("x-custom-trailer").unwrap(), "bing");
}

#[tokio::test]
async fn a_unary_call_gives_its_trailers_apart_from_its_headers() {
    let response = call(Script {
        headers: vec![GRPC, ("x-custom-header", "foo")],
        messages: 1,
        trailers: Some(vec![("grpc-status", "0"), ("x-custom-trailer", "bing")]),
    })
    .await
    .unwrap();
    let trailers = response.trailers().expect("the trailers");
    assert_eq!(trailers.get("x-custom-trailer").unwrap(), "bing");
    assert!(trailers.get("x-custom-header").is_none());
    // The metadata has both, as tonic's does.
    assert_eq!(response.metadata().get("x-custom-header").unwrap(), "foo");
    assert_eq!(response.metadata().get("x-custom-trailer").unwrap(), "bing");
}

#[tokio::test]
async fn an_ok_response_that_is_not_grpc_is_unknown() {
    let status = call(Script {
        headers: vec![("content-type", "image/jpeg")],
        ..Script::default()
    })
    .await
    .unwrap_err();
    assert_eq!(status.code(), Code::Unknown, "{status:?}");
}

#[tokio::test]
async fn a_grpc_status_in_headers_that_do_not_end_the_stream_is_ignored() {
    let status = call(Script {
        headers: vec![GRPC, ("grpc-status", "8")],
        messages: 0,
        trailers: Some(vec![("grpc-status", "9")]),
    })
    .await
    .unwrap_err();
    assert_eq!(
        status.code(),
        Code::FailedPrecondition,
        "the trailers' status"
    );

    let status = call(Script {
        headers: vec![GRPC, ("grpc-status", "9")],
        messages: 1,
        trailers: None,
    })
    .await
    .unwrap_err();
    assert_eq!(
        status.code(),
        Code::Internal,
        "no trailers at all: {status:?}"
    );
}
