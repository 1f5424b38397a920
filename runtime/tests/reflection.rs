//! Server reflection over loopback, as grpcurl and grpcio-reflection use it.

use prost::Message as _;
use prost_types::{FileDescriptorProto, FileDescriptorSet};
use rust_grpc::reflection::v1::server_reflection_client::ServerReflectionClient;
use rust_grpc::reflection::v1::server_reflection_request::MessageRequest;
use rust_grpc::reflection::v1::server_reflection_response::MessageResponse;
use rust_grpc::reflection::v1::{ExtensionRequest, ServerReflectionRequest};
use rust_grpc::reflection::{Reflection, v1alpha};
use rust_grpc::{Code, Server};
use tokio::net::TcpListener;

/// A file of our own that imports a well-known type and extends a message.
fn app_set() -> Vec<u8> {
    let file = FileDescriptorProto {
        name: Some("app/app.proto".to_owned()),
        package: Some("app".to_owned()),
        dependency: vec![
            "google/protobuf/empty.proto".to_owned(),
            "google/protobuf/descriptor.proto".to_owned(),
        ],
        service: vec![prost_types::ServiceDescriptorProto {
            name: Some("App".to_owned()),
            method: vec![prost_types::MethodDescriptorProto {
                name: Some("Ping".to_owned()),
                input_type: Some(".google.protobuf.Empty".to_owned()),
                output_type: Some(".google.protobuf.Empty".to_owned()),
                ..Default::default()
            }],
            ..Default::default()
        }],
        extension: vec![prost_types::FieldDescriptorProto {
            name: Some("tag".to_owned()),
            number: Some(50001),
            extendee: Some(".google.protobuf.MessageOptions".to_owned()),
            ..Default::default()
        }],
        ..Default::default()
    };
    FileDescriptorSet { file: vec![file] }.encode_to_vec()
}

async fn serve() -> String {
    let app = app_set();
    let reflection = Reflection::new(&[&app, rust_grpc::health::FILE_DESCRIPTOR_SET]).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (_, health) = rust_grpc::health::health_service();
    tokio::spawn(
        Server::builder()
            .add_service(health)
            .add_service(reflection.v1())
            .add_service(reflection.v1alpha())
            .serve_with_listener(listener),
    );
    format!("http://{addr}")
}

async fn ask(url: &str, request: MessageRequest) -> MessageResponse {
    let client = ServerReflectionClient::connect(url.to_owned())
        .await
        .unwrap();
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(request),
    };
    let mut responses = client
        .server_reflection_info(rust_grpc::stream::once(request))
        .await
        .unwrap()
        .into_inner();
    responses
        .message()
        .await
        .unwrap()
        .unwrap()
        .message_response
        .unwrap()
}

fn file_names(response: MessageResponse) -> Vec<String> {
    let MessageResponse::FileDescriptorResponse(files) = response else {
        panic!("expected files, got {response:?}");
    };
    files
        .file_descriptor_proto
        .iter()
        .map(|bytes| {
            FileDescriptorProto::decode(bytes.as_slice())
                .unwrap()
                .name()
                .to_owned()
        })
        .collect()
}

#[tokio::test]
async fn lists_the_services_the_server_serves() {
    let url = serve().await;
    let MessageResponse::ListServicesResponse(list) =
        ask(&url, MessageRequest::ListServices(String::new())).await
    else {
        panic!("expected a service list");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    assert_eq!(
        names,
        [
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection"
        ],
        "app.App has descriptors but is not served"
    );
}

#[tokio::test]
async fn symbol_resolves_to_its_file_and_imports() {
    let url = serve().await;
    let names = file_names(
        ask(
            &url,
            MessageRequest::FileContainingSymbol("app.App".to_owned()),
        )
        .await,
    );
    assert_eq!(
        names,
        [
            "app/app.proto",
            "google/protobuf/empty.proto",
            "google/protobuf/descriptor.proto"
        ]
    );
    let names = file_names(
        ask(
            &url,
            MessageRequest::FileContainingSymbol("app.App.Ping".to_owned()),
        )
        .await,
    );
    assert_eq!(names[0], "app/app.proto");
}

#[tokio::test]
async fn nested_symbols_resolve() {
    let url = serve().await;
    let symbol = "grpc.health.v1.HealthCheckResponse.ServingStatus".to_owned();
    let names = file_names(ask(&url, MessageRequest::FileContainingSymbol(symbol)).await);
    assert_eq!(names, ["grpc/health/v1/health.proto"]);
}

#[tokio::test]
async fn file_by_name_includes_imports() {
    let url = serve().await;
    let names = file_names(
        ask(
            &url,
            MessageRequest::FileByFilename("google/protobuf/empty.proto".to_owned()),
        )
        .await,
    );
    assert_eq!(names, ["google/protobuf/empty.proto"]);
}

#[tokio::test]
async fn unknown_symbol_answers_not_found_and_the_stream_goes_on() {
    let url = serve().await;
    let MessageResponse::ErrorResponse(error) = ask(
        &url,
        MessageRequest::FileContainingSymbol("no.Such".to_owned()),
    )
    .await
    else {
        panic!("expected an error response");
    };
    assert_eq!(error.error_code, Code::NotFound as i32);
    assert_eq!(error.error_message, "symbol \"no.Such\" not found");
}

#[tokio::test]
async fn extensions_are_found_by_type_and_number() {
    let url = serve().await;
    let MessageResponse::AllExtensionNumbersResponse(numbers) = ask(
        &url,
        MessageRequest::AllExtensionNumbersOfType("google.protobuf.MessageOptions".to_owned()),
    )
    .await
    else {
        panic!("expected extension numbers");
    };
    assert_eq!(numbers.extension_number, [50001]);
    let request = ExtensionRequest {
        containing_type: "google.protobuf.MessageOptions".to_owned(),
        extension_number: 50001,
    };
    assert_eq!(
        file_names(ask(&url, MessageRequest::FileContainingExtension(request)).await)[0],
        "app/app.proto"
    );
}

#[tokio::test]
async fn v1alpha_answers_like_v1() {
    use v1alpha::server_reflection_request::MessageRequest as AlphaRequest;
    use v1alpha::server_reflection_response::MessageResponse as AlphaResponse;
    let url = serve().await;
    let client = v1alpha::server_reflection_client::ServerReflectionClient::connect(url)
        .await
        .unwrap();
    let request = v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(AlphaRequest::ListServices(String::new())),
    };
    let mut responses = client
        .server_reflection_info(rust_grpc::stream::once(request))
        .await
        .unwrap()
        .into_inner();
    let response = responses.message().await.unwrap().unwrap();
    let Some(AlphaResponse::ListServicesResponse(list)) = response.message_response else {
        panic!("expected a service list");
    };
    assert_eq!(list.service.len(), 3);
    assert!(response.original_request.is_some());
}
