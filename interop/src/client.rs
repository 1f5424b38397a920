//! The interop client: the official interop test cases, each a function that
//! returns `Err` naming the check that failed and why.

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use rust_grpc::compression::{ReceivedCompression, SendCompression};
use rust_grpc::metadata::MetadataValue;
use rust_grpc::{
    Channel, Code, CompressionEncoding, Endpoint, Request, RequestExt as _, Response, Status,
    Streaming,
};
use tokio::sync::mpsc;
use tokio_stream::StreamExt as _;
use tokio_stream::wrappers::ReceiverStream;

use crate::args::{Flag, Flags, Kind};
use crate::certs::{HOST_OVERRIDE, TestCerts};
use crate::pb::test_service_client::TestServiceClient;
use crate::pb::unimplemented_service_client::UnimplementedServiceClient;
use crate::pb::{
    BoolValue, EchoStatus, Empty, Payload, PayloadType, ResponseParameters, SimpleRequest,
    SimpleResponse, StreamingInputCallRequest, StreamingOutputCallRequest,
    StreamingOutputCallResponse,
};
use crate::server::{ECHO_INITIAL, ECHO_TRAILING_BIN};
use crate::soak::{Channels, SoakConfig, soak};

/// Every case this client runs, in the order of the official descriptions.
pub const CASES: &[&str] = &[
    "empty_unary",
    "large_unary",
    "client_streaming",
    "server_streaming",
    "ping_pong",
    "empty_stream",
    "custom_metadata",
    "status_code_and_message",
    "special_status_message",
    "unimplemented_method",
    "unimplemented_service",
    "timeout_on_sleeping_server",
    "cancel_after_begin",
    "cancel_after_first_response",
    "client_compressed_unary",
    "server_compressed_unary",
    "client_compressed_streaming",
    "server_compressed_streaming",
    "rpc_soak",
    "channel_soak",
];

/// How long one case may take before it fails as stuck (a soak case: its overall
/// timeout and [`SOAK_MARGIN`]).
pub const CASE_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a soak case may run past its overall timeout before it fails as
/// stuck (it stops by itself at that timeout).
pub const SOAK_MARGIN: Duration = Duration::from_secs(5);

const LARGE_REQUEST: usize = 271_828;
const LARGE_RESPONSE: i32 = 314_159;
const REQUEST_SIZES: [usize; 4] = [27_182, 8, 1_828, 45_904];
const RESPONSE_SIZES: [i32; 4] = [31_415, 9, 2_653, 58_979];
const STATUS_MESSAGE: &str = "test status message";
const SPECIAL_STATUS_MESSAGE: &str =
    "\t\ntest with whitespace\r\nand Unicode BMP ☺ and non-BMP 😈\t\n";
const INITIAL_VALUE: &str = "test_initial_metadata_value";
const TRAILING_VALUE: [u8; 3] = [0xab, 0xab, 0xab];

/// Where the server is and how to reach it.
#[derive(Debug, Clone)]
pub struct Target {
    /// The host to connect to.
    pub host: String,
    /// The port to connect to.
    pub port: u16,
    /// The host name to claim, for TLS and `:authority`.
    pub host_override: Option<String>,
    /// The CA (PEM) to trust; plaintext when `None`.
    pub tls_ca: Option<Vec<u8>>,
}

/// The clients the cases use, all on one channel.
#[derive(Debug, Clone)]
pub struct Clients {
    /// Accepts gzip responses.
    test: TestServiceClient,
    /// Also sends gzip requests (each request chooses per message).
    compressing: TestServiceClient,
    /// For a service the server does not have.
    unimplemented: UnimplementedServiceClient,
    /// Where they go, for cases that make channels of their own.
    target: Target,
    /// The soak cases' settings.
    soak: SoakConfig,
}

impl Clients {
    /// These clients, with `soak` for the soak cases (grpc-go's defaults before).
    #[must_use]
    pub fn with_soak(self, soak: SoakConfig) -> Self {
        Self { soak, ..self }
    }
}

/// A case's outcome: `Err` says which check failed and why.
pub type Outcome = Result<(), String>;

/// Connects to `target`.
///
/// # Errors
///
/// When the address or TLS settings are unusable or the server cannot be reached.
pub async fn connect(target: &Target) -> Result<Clients, String> {
    let channel = channel(target).await?;
    let test = TestServiceClient::new(channel.clone()).accept_compressed(CompressionEncoding::Gzip);
    Ok(Clients {
        compressing: test.clone().send_compressed(CompressionEncoding::Gzip),
        test,
        unimplemented: UnimplementedServiceClient::new(channel),
        target: target.clone(),
        soak: SoakConfig::default(),
    })
}

/// A new channel to `target`, connected.
///
/// # Errors
///
/// When the address or TLS settings are unusable or the server cannot be reached.
pub async fn channel(target: &Target) -> Result<Channel, String> {
    let scheme = if target.tls_ca.is_some() {
        "https"
    } else {
        "http"
    };
    let address = format!("{scheme}://{}:{}", target.host, target.port);
    let mut endpoint = Endpoint::from_shared(address.clone())
        .map_err(|err| format!("bad server address {address}: {err}"))?
        .connect_timeout(Duration::from_secs(10));
    if let Some(name) = &target.host_override {
        let origin = format!("{scheme}://{name}:{}", target.port);
        endpoint = endpoint.origin(
            origin
                .parse()
                .map_err(|err| format!("bad --server_host_override {name:?}: {err}"))?,
        );
    }
    if let Some(ca) = &target.tls_ca {
        let domain = target.host_override.as_deref().unwrap_or(&target.host);
        let tls = rust_grpc::ClientTlsConfig::new()
            .ca_certificate(rust_grpc::Certificate::from_pem(ca))
            .domain_name(domain);
        endpoint = endpoint
            .tls_config(tls)
            .map_err(|err| format!("TLS settings: {err}"))?;
    }
    endpoint.connect().await.map_err(|err| {
        format!(
            "cannot connect to {address}: {err} ({:?})",
            source_chain(&err)
        )
    })
}

fn source_chain(err: &dyn std::error::Error) -> Vec<String> {
    let mut chain = Vec::new();
    let mut source = err.source();
    while let Some(err) = source {
        chain.push(err.to_string());
        source = err.source();
    }
    chain
}

/// Runs the case named `case`.
///
/// # Errors
///
/// Names the failed check, an unknown case, or a case that took longer than
/// [`CASE_TIMEOUT`].
pub async fn run(clients: &Clients, case: &str) -> Outcome {
    match case {
        "empty_unary" => timed(empty_unary(clients)).await,
        "large_unary" => timed(large_unary(clients)).await,
        "client_streaming" => timed(client_streaming(clients)).await,
        "server_streaming" => timed(server_streaming(clients)).await,
        "ping_pong" => timed(ping_pong(clients)).await,
        "empty_stream" => timed(empty_stream(clients)).await,
        "custom_metadata" => timed(custom_metadata(clients)).await,
        "status_code_and_message" => timed(status_code_and_message(clients)).await,
        "special_status_message" => timed(special_status_message(clients)).await,
        "unimplemented_method" => timed(unimplemented_method(clients)).await,
        "unimplemented_service" => timed(unimplemented_service(clients)).await,
        "timeout_on_sleeping_server" => timed(timeout_on_sleeping_server(clients)).await,
        "cancel_after_begin" => timed(cancel_after_begin(clients)).await,
        "cancel_after_first_response" => timed(cancel_after_first_response(clients)).await,
        "client_compressed_unary" => timed(client_compressed_unary(clients)).await,
        "server_compressed_unary" => timed(server_compressed_unary(clients)).await,
        "client_compressed_streaming" => timed(client_compressed_streaming(clients)).await,
        "server_compressed_streaming" => timed(server_compressed_streaming(clients)).await,
        "rpc_soak" => soak_timed(clients, Channels::Shared(clients.test.clone())).await,
        "channel_soak" => soak_timed(clients, Channels::PerCall(clients.target.clone())).await,
        other => Err(format!(
            "unknown test case {other:?} (known: {})",
            CASES.join(", ")
        )),
    }
}

async fn timed(case: impl Future<Output = Outcome>) -> Outcome {
    tokio::time::timeout(CASE_TIMEOUT, case)
        .await
        .unwrap_or_else(|_| Err(format!("the case did not finish within {CASE_TIMEOUT:?}")))
}

async fn soak_timed(clients: &Clients, channels: Channels) -> Outcome {
    let limit = clients.soak.overall_timeout + SOAK_MARGIN;
    tokio::time::timeout(limit, soak(&clients.soak, channels))
        .await
        .unwrap_or_else(|_| Err(format!("the soak did not stop within {limit:?}")))
}

fn check(ok: bool, failure: impl FnOnce() -> String) -> Outcome {
    if ok { Ok(()) } else { Err(failure()) }
}

fn call<T>(what: &str, result: Result<T, Status>) -> Result<T, String> {
    result.map_err(|status| format!("{what} failed: {}", describe(&status)))
}

fn describe(status: &Status) -> String {
    format!("{:?} {:?}", status.code(), status.message())
}

/// Checks that `result` is an error with `code`; returns that status.
fn expect_code<T>(what: &str, result: Result<T, Status>, code: Code) -> Result<Status, String> {
    match result {
        Ok(_) => Err(format!("{what}: the call succeeded, want {code:?}")),
        Err(status) if status.code() == code => Ok(status),
        Err(status) => Err(format!("{what}: got {}, want {code:?}", describe(&status))),
    }
}

fn payload(size: usize) -> Option<Payload> {
    Some(Payload {
        r#type: PayloadType::Compressable.into(),
        body: vec![0; size],
    })
}

fn bool_value(value: bool) -> Option<BoolValue> {
    Some(BoolValue { value })
}

/// Checks that `payload` is `size` zero bytes of type COMPRESSABLE.
fn check_payload(what: &str, payload: Option<&Payload>, size: i32) -> Outcome {
    let payload = payload.ok_or_else(|| format!("{what}: the response has no payload"))?;
    let want = usize::try_from(size).unwrap_or(0);
    check(payload.body.len() == want, || {
        format!(
            "{what}: payload body is {} bytes, want {want}",
            payload.body.len()
        )
    })?;
    check(payload.body.iter().all(|byte| *byte == 0), || {
        format!("{what}: payload body is not all zeros")
    })?;
    check(
        payload.r#type == i32::from(PayloadType::Compressable),
        || {
            format!(
                "{what}: payload type is {}, want COMPRESSABLE",
                payload.r#type
            )
        },
    )
}

fn large_request() -> SimpleRequest {
    SimpleRequest {
        response_type: PayloadType::Compressable.into(),
        response_size: LARGE_RESPONSE,
        payload: payload(LARGE_REQUEST),
        ..SimpleRequest::default()
    }
}

fn output_request(sizes: &[i32], request_size: Option<usize>) -> StreamingOutputCallRequest {
    StreamingOutputCallRequest {
        response_type: PayloadType::Compressable.into(),
        response_parameters: sizes
            .iter()
            .map(|&size| ResponseParameters {
                size,
                ..ResponseParameters::default()
            })
            .collect(),
        payload: request_size.and_then(payload),
        ..StreamingOutputCallRequest::default()
    }
}

/// Reads every message of `stream`; the status if the stream fails.
async fn read_all(
    stream: &mut Streaming<StreamingOutputCallResponse>,
) -> Result<Vec<StreamingOutputCallResponse>, Status> {
    let mut messages = Vec::new();
    while let Some(message) = stream.message().await? {
        messages.push(message);
    }
    Ok(messages)
}

fn check_sizes(what: &str, messages: &[StreamingOutputCallResponse], sizes: &[i32]) -> Outcome {
    check(messages.len() == sizes.len(), || {
        format!(
            "{what}: got {} responses, want {}",
            messages.len(),
            sizes.len()
        )
    })?;
    for (index, (message, size)) in messages.iter().zip(sizes).enumerate() {
        check_payload(
            &format!("{what}: response {index}"),
            message.payload.as_ref(),
            *size,
        )?;
    }
    Ok(())
}

fn received<T>(response: &Response<T>) -> Result<ReceivedCompression, String> {
    response
        .extensions()
        .get::<ReceivedCompression>()
        .cloned()
        .ok_or_else(|| "the runtime did not record how responses arrived".to_owned())
}

fn check_compressed(what: &str, received: &ReceivedCompression, want: bool) -> Outcome {
    let got = received.last_message_compressed();
    check(got == Some(want), || {
        let got = match got {
            Some(true) => "compressed",
            Some(false) => "not compressed",
            None => "not seen",
        };
        let want = if want { "compressed" } else { "not compressed" };
        format!("{what}: the message arrived {got}, want {want}")
    })
}

/// A request whose messages are sent as `choice` says.
fn choosing<T>(message: T, choice: SendCompression) -> Request<T> {
    let mut request = Request::new(message);
    request.extensions_mut().insert(choice);
    request
}

async fn empty_unary(clients: &Clients) -> Outcome {
    let response = call("EmptyCall", clients.test.empty_call(Empty {}).await)?;
    check(*response.get_ref() == Empty {}, || {
        format!(
            "EmptyCall: response is {:?}, want an empty message",
            response.get_ref()
        )
    })
}

async fn large_unary(clients: &Clients) -> Outcome {
    let response = call("UnaryCall", clients.test.unary_call(large_request()).await)?;
    check_payload(
        "UnaryCall",
        response.get_ref().payload.as_ref(),
        LARGE_RESPONSE,
    )
}

async fn client_streaming(clients: &Clients) -> Outcome {
    let requests: Vec<StreamingInputCallRequest> = REQUEST_SIZES
        .iter()
        .map(|&size| StreamingInputCallRequest {
            payload: payload(size),
            ..StreamingInputCallRequest::default()
        })
        .collect();
    let response = call(
        "StreamingInputCall",
        clients
            .test
            .streaming_input_call(tokio_stream::iter(requests))
            .await,
    )?;
    let size = response.get_ref().aggregated_payload_size;
    check(size == 74_922, || {
        format!("StreamingInputCall: aggregated_payload_size is {size}, want 74922")
    })
}

async fn server_streaming(clients: &Clients) -> Outcome {
    let response = call(
        "StreamingOutputCall",
        clients
            .test
            .streaming_output_call(output_request(&RESPONSE_SIZES, None))
            .await,
    )?;
    let messages = call(
        "StreamingOutputCall stream",
        read_all(&mut response.into_inner()).await,
    )?;
    check_sizes("StreamingOutputCall", &messages, &RESPONSE_SIZES)
}

async fn ping_pong(clients: &Clients) -> Outcome {
    let (requests, outgoing) = mpsc::channel(1);
    // The first request goes out with the call: a server may send its response
    // headers only with its first response.
    let first = output_request(&RESPONSE_SIZES[..1], Some(REQUEST_SIZES[0]));
    requests
        .send(first)
        .await
        .map_err(|_| "FullDuplexCall: the request stream closed early".to_owned())?;
    let response = call(
        "FullDuplexCall",
        clients
            .test
            .full_duplex_call(ReceiverStream::new(outgoing))
            .await,
    );
    let mut stream = response?.into_inner();
    for (index, (&size, &request_size)) in RESPONSE_SIZES.iter().zip(&REQUEST_SIZES).enumerate() {
        if index > 0 {
            requests
                .send(output_request(&[size], Some(request_size)))
                .await
                .map_err(|_| format!("FullDuplexCall: could not send request {index}"))?;
        }
        let message = call(
            &format!("FullDuplexCall response {index}"),
            stream.message().await,
        )?
        .ok_or_else(|| format!("FullDuplexCall: the stream ended before response {index}"))?;
        check_payload(
            &format!("FullDuplexCall: response {index}"),
            message.payload.as_ref(),
            size,
        )?;
    }
    drop(requests);
    let rest = call(
        "FullDuplexCall after half-close",
        read_all(&mut stream).await,
    )?;
    check(rest.is_empty(), || {
        format!(
            "FullDuplexCall: {} responses after the last request, want none",
            rest.len()
        )
    })
}

async fn empty_stream(clients: &Clients) -> Outcome {
    let response = call(
        "FullDuplexCall",
        clients
            .test
            .full_duplex_call(tokio_stream::empty::<StreamingOutputCallRequest>())
            .await,
    )?;
    let messages = call(
        "FullDuplexCall stream",
        read_all(&mut response.into_inner()).await,
    )?;
    check(messages.is_empty(), || {
        format!(
            "FullDuplexCall: got {} responses, want none",
            messages.len()
        )
    })
}

fn with_echo_metadata<T>(message: T) -> Request<T> {
    let mut request = Request::new(message);
    request
        .metadata_mut()
        .insert(ECHO_INITIAL, MetadataValue::from_static(INITIAL_VALUE));
    request.metadata_mut().insert_bin(
        ECHO_TRAILING_BIN,
        MetadataValue::from_bytes(&TRAILING_VALUE),
    );
    request
}

fn check_initial(what: &str, metadata: &rust_grpc::metadata::MetadataMap) -> Outcome {
    let value = metadata
        .get(ECHO_INITIAL)
        .map(|value| value.to_str().unwrap_or("<not ascii>"));
    check(value == Some(INITIAL_VALUE), || {
        format!("{what}: initial metadata {ECHO_INITIAL} is {value:?}, want {INITIAL_VALUE:?}")
    })
}

fn check_trailing(what: &str, metadata: &rust_grpc::metadata::MetadataMap) -> Outcome {
    let value = metadata
        .get_bin(ECHO_TRAILING_BIN)
        .map(|value| value.to_bytes().map(|bytes| bytes.to_vec()));
    check(
        matches!(&value, Some(Ok(bytes)) if bytes[..] == TRAILING_VALUE),
        || format!("{what}: trailing metadata {ECHO_TRAILING_BIN} is {value:?}, want 0xababab"),
    )
}

async fn custom_metadata(clients: &Clients) -> Outcome {
    // Unary: the response's metadata holds the headers and then the trailers.
    let response = call(
        "UnaryCall",
        clients
            .test
            .unary_call(with_echo_metadata(large_request()))
            .await,
    )?;
    check_payload(
        "UnaryCall",
        response.get_ref().payload.as_ref(),
        LARGE_RESPONSE,
    )?;
    check_initial("UnaryCall", response.metadata())?;
    check_trailing("UnaryCall", response.metadata())?;

    let request = output_request(&[LARGE_RESPONSE], Some(LARGE_REQUEST));
    let response = call(
        "FullDuplexCall",
        clients
            .test
            .full_duplex_call(with_echo_metadata(tokio_stream::iter([request])))
            .await,
    )?;
    check_initial("FullDuplexCall", response.metadata())?;
    let mut stream = response.into_inner();
    let messages = call("FullDuplexCall stream", read_all(&mut stream).await)?;
    check_sizes("FullDuplexCall", &messages, &[LARGE_RESPONSE])?;
    let trailers = call("FullDuplexCall trailers", stream.trailers().await)?
        .ok_or_else(|| "FullDuplexCall: no trailers".to_owned())?;
    check_trailing("FullDuplexCall", &trailers)
}

fn echo_status(code: Code, message: &str) -> Option<EchoStatus> {
    Some(EchoStatus {
        code: code as i32,
        message: message.to_owned(),
    })
}

fn check_status(what: &str, status: &Status, message: &str) -> Outcome {
    check(
        status.code() == Code::Unknown && status.message() == message,
        || format!("{what}: got {}, want Unknown {message:?}", describe(status)),
    )
}

async fn status_code_and_message(clients: &Clients) -> Outcome {
    let request = SimpleRequest {
        response_status: echo_status(Code::Unknown, STATUS_MESSAGE),
        ..SimpleRequest::default()
    };
    let status = expect_code(
        "UnaryCall",
        clients.test.unary_call(request).await,
        Code::Unknown,
    )?;
    check_status("UnaryCall", &status, STATUS_MESSAGE)?;

    let request = StreamingOutputCallRequest {
        response_status: echo_status(Code::Unknown, STATUS_MESSAGE),
        ..StreamingOutputCallRequest::default()
    };
    let result = match clients
        .test
        .full_duplex_call(tokio_stream::iter([request]))
        .await
    {
        Ok(response) => read_all(&mut response.into_inner()).await,
        Err(status) => Err(status),
    };
    let status = expect_code("FullDuplexCall", result, Code::Unknown)?;
    check_status("FullDuplexCall", &status, STATUS_MESSAGE)
}

async fn special_status_message(clients: &Clients) -> Outcome {
    let request = SimpleRequest {
        response_status: echo_status(Code::Unknown, SPECIAL_STATUS_MESSAGE),
        ..SimpleRequest::default()
    };
    let status = expect_code(
        "UnaryCall",
        clients.test.unary_call(request).await,
        Code::Unknown,
    )?;
    check_status("UnaryCall", &status, SPECIAL_STATUS_MESSAGE)
}

async fn unimplemented_method(clients: &Clients) -> Outcome {
    let result = clients.test.unimplemented_call(Empty {}).await;
    expect_code("TestService/UnimplementedCall", result, Code::Unimplemented).map(drop)
}

async fn unimplemented_service(clients: &Clients) -> Outcome {
    let result = clients.unimplemented.unimplemented_call(Empty {}).await;
    expect_code(
        "UnimplementedService/UnimplementedCall",
        result,
        Code::Unimplemented,
    )
    .map(drop)
}

async fn timeout_on_sleeping_server(clients: &Clients) -> Outcome {
    let (requests, outgoing) = mpsc::channel(1);
    requests
        .send(StreamingOutputCallRequest {
            payload: payload(27_182),
            ..StreamingOutputCallRequest::default()
        })
        .await
        .map_err(|_| "FullDuplexCall: the request stream closed early".to_owned())?;
    let mut request = Request::new(ReceiverStream::new(outgoing));
    request.set_timeout(Duration::from_millis(1));
    // The request stream stays open (`requests` lives on): the client waits.
    let result = match clients.test.full_duplex_call(request).await {
        Ok(response) => read_all(&mut response.into_inner()).await,
        Err(status) => Err(status),
    };
    drop(requests);
    expect_code(
        "FullDuplexCall with a 1ms deadline",
        result,
        Code::DeadlineExceeded,
    )
    .map(drop)
}

async fn cancel_after_begin(clients: &Clients) -> Outcome {
    let mut request = Request::new(tokio_stream::pending::<StreamingInputCallRequest>());
    let cancel = request.cancel_handle();
    let client = clients.test.clone();
    let call = tokio::spawn(async move { client.streaming_input_call(request).await });
    cancel.cancel();
    let result = call
        .await
        .map_err(|err| format!("StreamingInputCall: the call task failed: {err}"))?;
    expect_code(
        "StreamingInputCall cancelled after begin",
        result,
        Code::Cancelled,
    )
    .map(drop)
}

async fn cancel_after_first_response(clients: &Clients) -> Outcome {
    let (requests, outgoing) = mpsc::channel(1);
    requests
        .send(output_request(&[31_415], Some(27_182)))
        .await
        .map_err(|_| "FullDuplexCall: the request stream closed early".to_owned())?;
    let mut request = Request::new(ReceiverStream::new(outgoing));
    let cancel = request.cancel_handle();
    let response = call(
        "FullDuplexCall",
        clients.test.full_duplex_call(request).await,
    )?;
    let mut stream = response.into_inner();
    let first = call("FullDuplexCall first response", stream.message().await)?
        .ok_or_else(|| "FullDuplexCall: the stream ended before the first response".to_owned())?;
    check_payload(
        "FullDuplexCall: first response",
        first.payload.as_ref(),
        31_415,
    )?;
    cancel.cancel();
    let result = read_all(&mut stream).await;
    drop(requests);
    expect_code(
        "FullDuplexCall cancelled after the first response",
        result,
        Code::Cancelled,
    )
    .map(drop)
}

fn expecting_compressed(expect: bool) -> SimpleRequest {
    SimpleRequest {
        expect_compressed: bool_value(expect),
        ..large_request()
    }
}

async fn client_compressed_unary(clients: &Clients) -> Outcome {
    let probe = choosing(expecting_compressed(true), SendCompression::fixed(false));
    expect_code(
        "UnaryCall probe (expect_compressed, sent uncompressed)",
        clients.compressing.unary_call(probe).await,
        Code::InvalidArgument,
    )?;
    for compress in [true, false] {
        let what = if compress {
            "UnaryCall, compressed"
        } else {
            "UnaryCall, uncompressed"
        };
        let request = choosing(
            expecting_compressed(compress),
            SendCompression::fixed(compress),
        );
        let response = call(what, clients.compressing.unary_call(request).await)?;
        check_payload(what, response.get_ref().payload.as_ref(), LARGE_RESPONSE)?;
    }
    Ok(())
}

async fn server_compressed_unary(clients: &Clients) -> Outcome {
    for compress in [true, false] {
        let what = format!("UnaryCall with response_compressed={compress}");
        let request = SimpleRequest {
            response_compressed: bool_value(compress),
            ..large_request()
        };
        let response: Response<SimpleResponse> =
            call(&what, clients.test.unary_call(request).await)?;
        check_payload(&what, response.get_ref().payload.as_ref(), LARGE_RESPONSE)?;
        check_compressed(&what, &received(&response)?, compress)?;
    }
    Ok(())
}

async fn client_compressed_streaming(clients: &Clients) -> Outcome {
    let probe = StreamingInputCallRequest {
        payload: payload(27_182),
        expect_compressed: bool_value(true),
    };
    let request = choosing(tokio_stream::iter([probe]), SendCompression::fixed(false));
    expect_code(
        "StreamingInputCall probe (expect_compressed, sent uncompressed)",
        clients.compressing.streaming_input_call(request).await,
        Code::InvalidArgument,
    )?;

    // The first message compressed, the second not: the choice is set as each
    // message is yielded, right before it is encoded.
    let messages = [(27_182, true), (45_904, false)].map(|(size, compress)| {
        (
            StreamingInputCallRequest {
                payload: payload(size),
                expect_compressed: bool_value(compress),
            },
            compress,
        )
    });
    let choice = SendCompression::new();
    let setter = choice.clone();
    let stream = tokio_stream::iter(messages).map(move |(message, compress)| {
        setter.set(compress);
        message
    });
    let response = call(
        "StreamingInputCall, compressed then uncompressed",
        clients
            .compressing
            .streaming_input_call(choosing(stream, choice))
            .await,
    )?;
    let size = response.get_ref().aggregated_payload_size;
    check(size == 73_086, || {
        format!("StreamingInputCall: aggregated_payload_size is {size}, want 73086")
    })
}

async fn server_compressed_streaming(clients: &Clients) -> Outcome {
    let sizes = [31_415, 92_653];
    let compressed = [true, false];
    let request = StreamingOutputCallRequest {
        response_parameters: sizes
            .iter()
            .zip(compressed)
            .map(|(&size, compress)| ResponseParameters {
                size,
                compressed: bool_value(compress),
                ..ResponseParameters::default()
            })
            .collect(),
        ..output_request(&[], None)
    };
    let response = call(
        "StreamingOutputCall",
        clients.test.streaming_output_call(request).await,
    )?;
    let received = received(&response)?;
    let mut stream = response.into_inner();
    for (index, (size, compress)) in sizes.iter().zip(compressed).enumerate() {
        let what = format!("StreamingOutputCall: response {index}");
        let message = call(&what, stream.message().await)?
            .ok_or_else(|| format!("{what}: the stream ended early"))?;
        check_payload(&what, message.payload.as_ref(), *size)?;
        check_compressed(&what, &received, compress)?;
    }
    let rest = call("StreamingOutputCall stream", read_all(&mut stream).await)?;
    check(rest.is_empty(), || {
        format!(
            "StreamingOutputCall: {} responses more than the 2 asked for",
            rest.len()
        )
    })
}

/// The flags of `interop-client`.
pub const FLAGS: &[Flag] = &[
    Flag {
        name: "server_host",
        kind: Kind::Value,
        help: "the server's host (default 127.0.0.1)",
    },
    Flag {
        name: "server_port",
        kind: Kind::Value,
        help: "the server's port (default 10000)",
    },
    Flag {
        name: "server_host_override",
        kind: Kind::Value,
        help: "the host name to claim for TLS and :authority (TLS default foo.test.google.fr)",
    },
    Flag {
        name: "test_case",
        kind: Kind::Value,
        help: "a case, a comma list of cases, or all (default large_unary)",
    },
    Flag {
        name: "use_tls",
        kind: Kind::Bool,
        help: "connect with TLS (default false)",
    },
    Flag {
        name: "use_test_ca",
        kind: Kind::Bool,
        help: "trust the test CA: --ca_file, default grpc-go's testdata/ca.pem (default false)",
    },
    Flag {
        name: "ca_file",
        kind: Kind::Value,
        help: "the CA certificate (PEM) to trust",
    },
    Flag {
        name: "soak_iterations",
        kind: Kind::Value,
        help: "rpc_soak, channel_soak: iterations in all (default 10)",
    },
    Flag {
        name: "soak_max_failures",
        kind: Kind::Value,
        help: "soak: failed iterations allowed (default 0)",
    },
    Flag {
        name: "soak_per_iteration_max_acceptable_latency_ms",
        kind: Kind::Value,
        help: "soak: a slower iteration counts as failed (default 1000)",
    },
    Flag {
        name: "soak_overall_timeout_seconds",
        kind: Kind::Value,
        help: "soak: stop, and fail, after this (default 10)",
    },
    Flag {
        name: "soak_min_time_ms_between_rpcs",
        kind: Kind::Value,
        help: "soak: least time between a worker's iteration starts (default 0)",
    },
    Flag {
        name: "soak_request_size",
        kind: Kind::Value,
        help: "soak: request payload bytes (default 271828)",
    },
    Flag {
        name: "soak_response_size",
        kind: Kind::Value,
        help: "soak: response payload bytes (default 314159)",
    },
    Flag {
        name: "soak_num_threads",
        kind: Kind::Value,
        help: "soak: concurrent workers, splitting the iterations (default 1)",
    },
];

/// The target of `interop-client` from its flags; reads the CA file.
///
/// # Errors
///
/// Says which flag is wrong or which file cannot be read.
pub fn target(flags: &Flags) -> Result<Target, String> {
    let host = flags.value("server_host").unwrap_or("127.0.0.1").to_owned();
    let port = flags.port("server_port", Some(10000))?;
    let mut host_override = flags.value("server_host_override").map(str::to_owned);
    let tls_ca = if flags.bool("use_tls", false)? {
        let ca = match (flags.value("ca_file"), flags.bool("use_test_ca", false)?) {
            (Some(file), _) => PathBuf::from(file),
            (None, true) => TestCerts::grpc_go()?.ca,
            (None, false) => {
                return Err("--use_tls=true needs a CA to trust: --use_test_ca=true or \
                            --ca_file (this client has no platform root store)"
                    .to_owned());
            }
        };
        if flags.bool("use_test_ca", false)? && host_override.is_none() {
            host_override = Some(HOST_OVERRIDE.to_owned());
        }
        Some(std::fs::read(&ca).map_err(|err| format!("cannot read {}: {err}", ca.display()))?)
    } else {
        None
    };
    Ok(Target {
        host,
        port,
        host_override,
        tls_ca,
    })
}

/// The cases `--test_case` asks for.
///
/// # Errors
///
/// Names an unknown case.
pub fn cases(flags: &Flags) -> Result<Vec<&'static str>, String> {
    let asked = flags.value("test_case").unwrap_or("large_unary");
    if asked == "all" {
        return Ok(CASES.to_vec());
    }
    asked
        .split(',')
        .map(str::trim)
        .filter(|case| !case.is_empty())
        .map(|case| {
            CASES
                .iter()
                .copied()
                .find(|known| *known == case)
                .ok_or_else(|| format!("unknown test case {case:?} (known: {})", CASES.join(", ")))
        })
        .collect()
}
