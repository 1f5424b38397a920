//! Metadata may not use the header names the gRPC protocol reserves
//! (`rust_grpc::reserved`): the runtime refuses them with a clear INTERNAL.

use rust_grpc::metadata::{MetadataMap, MetadataValue};
use rust_grpc::{Code, Request, Response, ResponseExt as _, Status};
use rust_grpc_testdata::default::corpus::echo::echo_client::EchoClient;
use rust_grpc_testdata::default::corpus::echo::{EchoReply, EchoRequest};
use rust_grpc_testdata::stub::StubServer;

/// Answers with initial metadata (`message` "header") or a trailer (`message`
/// "trailer") named by the request's `count`-th reserved name, or plainly.
async fn setter(request: Request<EchoRequest>) -> Result<Response<EchoReply>, Status> {
    let request = request.into_inner();
    let mut response = Response::new(EchoReply::default());
    let key = rust_grpc::reserved::RESERVED[usize::try_from(request.count).unwrap()];
    match request.message.as_str() {
        "header" => set(response.metadata_mut(), key),
        "trailer" => set(response.trailers_mut(), key),
        _ => {}
    }
    Ok(response)
}

/// Sets `key` to a value of its kind (binary for `-bin` keys).
fn set(metadata: &mut MetadataMap, key: &'static str) {
    if key.ends_with("-bin") {
        metadata.insert_bin(key, MetadataValue::from_bytes(b"1"));
    } else {
        metadata.insert(key, MetadataValue::from_static("1"));
    }
}

fn client() -> EchoClient {
    StubServer::new().unary(setter).start()
}

fn request(message: &str, count: usize) -> EchoRequest {
    EchoRequest {
        message: message.to_owned(),
        count: i32::try_from(count).unwrap(),
    }
}

fn assert_refused(status: &Status, key: &str) {
    assert_eq!(status.code(), Code::Internal, "{key}: {status:?}");
    assert!(
        status.message().contains(&format!("{key:?}")) && status.message().contains("reserves"),
        "{key}: {status:?}"
    );
}

#[tokio::test]
async fn a_client_refuses_to_send_reserved_metadata() {
    let client = client();

    for key in rust_grpc::reserved::RESERVED {
        if *key == "grpc-timeout" {
            continue; // set by Request::set_timeout
        }
        let mut call = Request::new(request("plain", 0));
        set(call.metadata_mut(), key);

        let status = client.unary(call).await.unwrap_err();

        assert_refused(&status, key);
    }
}

#[tokio::test]
async fn a_handlers_reserved_response_metadata_is_refused() {
    let client = client();

    for (index, key) in rust_grpc::reserved::RESERVED.iter().enumerate() {
        if rust_grpc::reserved::REPLACED.contains(key) {
            continue;
        }
        let status = client.unary(request("header", index)).await.unwrap_err();
        assert_refused(&status, key);
    }
}

#[tokio::test]
async fn the_runtime_replaces_protocol_headers_a_handler_passes_on() {
    let client = client();

    for (index, key) in rust_grpc::reserved::RESERVED.iter().enumerate() {
        if !rust_grpc::reserved::REPLACED.contains(key) {
            continue;
        }
        let response = client.unary(request("header", index)).await.unwrap();
        let value = response.metadata().get(*key);
        assert!(value.is_none_or(|value| value != "1"), "{key}: {value:?}");
    }
}

#[tokio::test]
async fn a_handlers_reserved_trailers_are_refused() {
    let client = client();

    for (index, key) in rust_grpc::reserved::RESERVED.iter().enumerate() {
        let status = client.unary(request("trailer", index)).await.unwrap_err();
        assert_refused(&status, key);
    }
}

#[tokio::test]
async fn ordinary_metadata_and_timeouts_still_go_through() {
    let client = client();
    let mut call = Request::new(request("plain", 0));
    call.metadata_mut()
        .insert("x-request-id", MetadataValue::from_static("42"));
    call.set_timeout(std::time::Duration::from_secs(5));

    assert!(client.unary(call).await.is_ok());
}
