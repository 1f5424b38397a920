//! The client under test: each `ClientCompatRequest` becomes one call through
//! our client channel and the generated `ConformanceServiceClient`, made as the
//! suite's docs/testing_clients.md describes (headers, timeout, delays, the
//! three kinds of cancellation), and its outcome becomes a `ClientCompatResponse`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use rust_grpc::errors::RpcStatus;
use rust_grpc::metadata::MetadataMap;
use rust_grpc::prost::Message;
use rust_grpc::prost_types::Any;
use rust_grpc::{
    Certificate, Channel, ClientTlsConfig, CompressionEncoding, Endpoint, Identity, Request,
    RequestExt as _, ResponseExt as _, Status, Streaming,
};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::headers;
use crate::pb::client_compat_request::Cancel;
use crate::pb::client_compat_request::cancel::CancelTiming;
use crate::pb::client_compat_response::Result as Outcome;
use crate::pb::conformance_service_client::ConformanceServiceClient;
use crate::pb::{
    BidiStreamRequest, ClientCompatRequest, ClientCompatResponse, ClientErrorResult,
    ClientResponseResult, ClientStreamRequest, Codec, Compression, ConformancePayload, Error,
    HttpVersion, IdempotentUnaryRequest, Protocol, ServerStreamRequest, StreamType, UnaryRequest,
    UnimplementedRequest,
};

const SERVICE: &str = "connectrpc.conformance.v1.ConformanceService";

/// What a channel is made for: the server and the TLS settings.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ChannelKey {
    host: String,
    port: u32,
    server_cert: Vec<u8>,
    client_cert: Vec<u8>,
    client_key: Vec<u8>,
}

/// Runs test cases, sharing one channel per server and TLS setting.
#[derive(Debug, Default)]
pub struct Runner {
    channels: Mutex<HashMap<ChannelKey, Channel>>,
}

impl Runner {
    /// Makes the call `request` describes and says how it went.
    pub async fn run(&self, request: ClientCompatRequest) -> ClientCompatResponse {
        let test_name = request.test_name.clone();
        let result = match self.client(&request) {
            Ok(client) => call(&client, &request).await.map(Outcome::Response),
            Err(message) => Err(message),
        };
        ClientCompatResponse {
            test_name,
            result: Some(
                result.unwrap_or_else(|message| Outcome::Error(ClientErrorResult { message })),
            ),
        }
    }

    /// The generated client for `request`, on a shared channel.
    fn client(&self, request: &ClientCompatRequest) -> Result<ConformanceServiceClient, String> {
        if request.protocol() != Protocol::Grpc {
            return Err(format!("protocol {:?} is not spoken", request.protocol()));
        }
        if request.http_version() != HttpVersion::HttpVersion2 {
            return Err(format!(
                "HTTP version {:?} is not spoken",
                request.http_version()
            ));
        }
        if request.codec() != Codec::Proto {
            return Err(format!("codec {:?} is not spoken", request.codec()));
        }
        if request.raw_request.is_some() {
            return Err("raw_request is for the reference client only".into());
        }
        let channel = self.channel(request)?;
        let mut client = ConformanceServiceClient::new(channel)
            .accept_compressed(CompressionEncoding::Gzip)
            .accept_compressed(CompressionEncoding::Zstd);
        client = match request.compression() {
            Compression::Unspecified | Compression::Identity => client,
            Compression::Gzip => client.send_compressed(CompressionEncoding::Gzip),
            Compression::Zstd => client.send_compressed(CompressionEncoding::Zstd),
            other => return Err(format!("compression {other:?} is not supported")),
        };
        if request.message_receive_limit > 0 {
            client = client.max_decoding_message_size(request.message_receive_limit as usize);
        }
        Ok(client)
    }

    fn channel(&self, request: &ClientCompatRequest) -> Result<Channel, String> {
        let creds = request.client_tls_creds.clone().unwrap_or_default();
        let key = ChannelKey {
            host: request.host.clone(),
            port: request.port,
            server_cert: request.server_tls_cert.clone(),
            client_cert: creds.cert,
            client_key: creds.key,
        };
        let mut channels = self
            .channels
            .lock()
            .map_err(|_| "the channel cache is poisoned".to_owned())?;
        if let Some(channel) = channels.get(&key) {
            return Ok(channel.clone());
        }
        let channel = new_channel(&key)?;
        channels.insert(key, channel.clone());
        Ok(channel)
    }
}

fn new_channel(key: &ChannelKey) -> Result<Channel, String> {
    let tls = !key.server_cert.is_empty();
    let scheme = if tls { "https" } else { "http" };
    let host = if key.host.contains(':') {
        format!("[{}]", key.host)
    } else {
        key.host.clone()
    };
    let address = format!("{scheme}://{host}:{}", key.port);
    let mut endpoint = Endpoint::from_shared(address.clone())
        .map_err(|err| format!("bad server address {address}: {err}"))?
        .connect_timeout(Duration::from_secs(10));
    if tls {
        let mut config =
            ClientTlsConfig::new().ca_certificate(Certificate::from_pem(&key.server_cert));
        if !key.client_cert.is_empty() {
            config = config.identity(Identity::from_pem(&key.client_cert, &key.client_key));
        }
        endpoint = endpoint
            .tls_config(config)
            .map_err(|err| format!("TLS settings: {err}"))?;
    }
    endpoint
        .connect_lazy()
        .map_err(|err| format!("channel to {address}: {err}"))
}

/// The request message `any` holds, which must be a `name`.
fn unpack<M: Message + Default>(any: &Any, name: &str) -> Result<M, String> {
    let full = any.type_url.rsplit('/').next().unwrap_or_default();
    if full != format!("connectrpc.conformance.v1.{name}") {
        return Err(format!(
            "a request message of type {full:?}, expected {name}"
        ));
    }
    M::decode(any.value.as_slice()).map_err(|err| format!("decoding a {name}: {err}"))
}

/// The one request message of a unary or server-streaming call.
fn only<M: Message + Default>(request: &ClientCompatRequest, name: &str) -> Result<M, String> {
    match request.request_messages.as_slice() {
        [one] => unpack(one, name),
        more => Err(format!(
            "{} request messages for a call that takes one",
            more.len()
        )),
    }
}

/// A request carrying the test's headers and timeout.
fn prepare<T>(message: T, test: &ClientCompatRequest) -> Result<Request<T>, String> {
    let mut request = Request::new(message);
    headers::append(request.metadata_mut(), &test.request_headers)?;
    if let Some(ms) = test.timeout_ms {
        request.set_timeout(Duration::from_millis(u64::from(ms)));
    }
    Ok(request)
}

/// When to cancel after the send side closed: `None` for no cancellation.
fn after_close_send(cancel: Option<&Cancel>) -> Option<Duration> {
    match cancel?.cancel_timing {
        None => Some(Duration::ZERO),
        Some(CancelTiming::AfterCloseSendMs(ms)) => Some(Duration::from_millis(u64::from(ms))),
        Some(CancelTiming::BeforeCloseSend(())) | Some(CancelTiming::AfterNumResponses(_)) => None,
    }
}

fn after_responses(cancel: Option<&Cancel>) -> Option<usize> {
    match cancel?.cancel_timing {
        Some(CancelTiming::AfterNumResponses(n)) => Some(n as usize),
        _ => None,
    }
}

fn before_close_send(cancel: Option<&Cancel>) -> bool {
    matches!(
        cancel.and_then(|cancel| cancel.cancel_timing),
        Some(CancelTiming::BeforeCloseSend(()))
    )
}

/// Cancels the call of `handle` after `delay`, from a task of its own.
fn cancel_later(handle: rust_grpc::cancel::CancelHandle, delay: Duration) {
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        handle.cancel();
    });
}

/// The suite's form of a status: code, message, and the details of its
/// `grpc-status-details-bin`.
fn error_of(status: &Status) -> Error {
    let details = RpcStatus::decode(status.details())
        .map(|rpc| rpc.details)
        .unwrap_or_default();
    Error {
        code: status.code() as i32,
        message: (!status.message().is_empty()).then(|| status.message().to_owned()),
        details,
    }
}

/// A result that ended with `status`, whose metadata counts as trailers.
fn failed(
    status: &Status,
    headers: Vec<crate::pb::Header>,
    payloads: Vec<ConformancePayload>,
) -> ClientResponseResult {
    ClientResponseResult {
        response_headers: headers,
        payloads,
        error: Some(error_of(status)),
        response_trailers: headers::to_proto(status.metadata()),
        ..ClientResponseResult::default()
    }
}

/// The headers of a response whose metadata also holds its trailers (a unary
/// or client-streaming call): the metadata less the trailers' names.
fn headers_less_trailers(metadata: &MetadataMap, trailers: &MetadataMap) -> Vec<crate::pb::Header> {
    let names: Vec<String> = headers::to_proto(trailers)
        .into_iter()
        .map(|header| header.name)
        .collect();
    headers::to_proto(metadata)
        .into_iter()
        .filter(|header| !names.contains(&header.name))
        .collect()
}

async fn call(
    client: &ConformanceServiceClient,
    test: &ClientCompatRequest,
) -> Result<ClientResponseResult, String> {
    if test
        .service
        .as_deref()
        .is_some_and(|service| service != SERVICE)
    {
        return Err(format!("service {:?} is not {SERVICE}", test.service()));
    }
    let method = test.method.as_deref().unwrap_or(match test.stream_type() {
        StreamType::ClientStream => "ClientStream",
        StreamType::ServerStream => "ServerStream",
        StreamType::HalfDuplexBidiStream | StreamType::FullDuplexBidiStream => "BidiStream",
        StreamType::Unary | StreamType::Unspecified => "Unary",
    });
    match method {
        "Unary" => {
            let message: UnaryRequest = only(test, "UnaryRequest")?;
            unary(test, prepare(message, test)?, |request| {
                client.unary(request)
            })
            .await
        }
        "IdempotentUnary" => {
            let message: IdempotentUnaryRequest = only(test, "IdempotentUnaryRequest")?;
            unary(test, prepare(message, test)?, |request| {
                client.idempotent_unary(request)
            })
            .await
        }
        "Unimplemented" => {
            let message: UnimplementedRequest = only(test, "UnimplementedRequest")?;
            unary(test, prepare(message, test)?, |request| {
                client.unimplemented(request)
            })
            .await
        }
        "ServerStream" => server_stream(client, test).await,
        "ClientStream" => client_stream(client, test).await,
        "BidiStream" => bidi_stream(client, test).await,
        other => Err(format!("method {other:?} is not in {SERVICE}")),
    }
}

/// A response message's payload, for every response type of the service.
trait HasPayload {
    fn payload(self) -> Option<ConformancePayload>;
}

macro_rules! has_payload {
    ($($t:ty),*) => {$(
        impl HasPayload for $t {
            fn payload(self) -> Option<ConformancePayload> {
                self.payload
            }
        }
    )*};
}

has_payload!(
    crate::pb::UnaryResponse,
    crate::pb::IdempotentUnaryResponse,
    crate::pb::ServerStreamResponse,
    crate::pb::ClientStreamResponse,
    crate::pb::BidiStreamResponse
);

impl HasPayload for crate::pb::UnimplementedResponse {
    fn payload(self) -> Option<ConformancePayload> {
        None
    }
}

/// A unary call: `invoke` makes it, cancelled after the request went out when
/// the test says so.
async fn unary<Req, Resp, F, Fut>(
    test: &ClientCompatRequest,
    mut request: Request<Req>,
    invoke: F,
) -> Result<ClientResponseResult, String>
where
    Resp: HasPayload,
    F: FnOnce(Request<Req>) -> Fut,
    Fut: std::future::Future<Output = Result<rust_grpc::Response<Resp>, Status>>,
{
    if let Some(delay) = after_close_send(test.cancel.as_ref()) {
        cancel_later(request.cancel_handle(), delay);
    }
    Ok(match invoke(request).await {
        Ok(response) => {
            let trailers = response.trailers().cloned().unwrap_or_default();
            let headers = headers_less_trailers(response.metadata(), &trailers);
            ClientResponseResult {
                response_headers: headers,
                payloads: vec![response.into_inner().payload().unwrap_or_default()],
                response_trailers: headers::to_proto(&trailers),
                ..ClientResponseResult::default()
            }
        }
        Err(status) => failed(&status, Vec::new(), Vec::new()),
    })
}

/// Reads a response stream to its end, cancelling after the test's number of
/// responses; the result carries every payload read.
async fn read_stream<T: HasPayload + Message + Default + 'static>(
    mut messages: Streaming<T>,
    head: &MetadataMap,
    mut payloads: Vec<ConformancePayload>,
    cancel: Option<(usize, rust_grpc::cancel::CancelHandle)>,
) -> ClientResponseResult {
    let mut cancel = cancel;
    let ended = loop {
        match messages.message().await {
            Ok(Some(message)) => {
                payloads.push(message.payload().unwrap_or_default());
                if let Some((n, handle)) = cancel.take() {
                    if payloads.len() >= n {
                        handle.cancel();
                    } else {
                        cancel = Some((n, handle));
                    }
                }
            }
            Ok(None) => break Ok(()),
            Err(status) => break Err(status),
        }
    };
    let headers = headers::to_proto(messages.headers().unwrap_or(head));
    match ended {
        Ok(()) => {
            let trailers = messages.trailers().await.ok().flatten().unwrap_or_default();
            ClientResponseResult {
                response_headers: headers,
                payloads,
                response_trailers: headers::to_proto(&trailers),
                ..ClientResponseResult::default()
            }
        }
        Err(status) => failed(&status, headers, payloads),
    }
}

async fn server_stream(
    client: &ConformanceServiceClient,
    test: &ClientCompatRequest,
) -> Result<ClientResponseResult, String> {
    let message: ServerStreamRequest = only(test, "ServerStreamRequest")?;
    let mut request = prepare(message, test)?;
    let handle = request.cancel_handle();
    let cancel = test.cancel.as_ref();
    let response = match client.server_stream(request).await {
        Ok(response) => response,
        Err(status) => return Ok(failed(&status, Vec::new(), Vec::new())),
    };
    if let Some(delay) = after_close_send(cancel) {
        cancel_later(handle.clone(), delay);
    }
    let head = response.metadata().clone();
    let after = after_responses(cancel).map(|n| (n, handle));
    Ok(read_stream(response.into_inner(), &head, Vec::new(), after).await)
}

/// Sends `messages` on `out`, each after the test's delay; returns how many
/// could not be sent because the call had ended.
async fn send_all<M>(out: &mpsc::Sender<M>, messages: Vec<M>, delay_ms: u32) -> usize {
    let total = messages.len();
    for (sent, message) in messages.into_iter().enumerate() {
        if delay_ms > 0 {
            tokio::time::sleep(Duration::from_millis(u64::from(delay_ms))).await;
        }
        if out.send(message).await.is_err() {
            return total - sent;
        }
    }
    0
}

fn unpack_all<M: Message + Default>(
    test: &ClientCompatRequest,
    name: &str,
) -> Result<Vec<M>, String> {
    test.request_messages
        .iter()
        .map(|any| unpack(any, name))
        .collect()
}

async fn client_stream(
    client: &ConformanceServiceClient,
    test: &ClientCompatRequest,
) -> Result<ClientResponseResult, String> {
    let messages: Vec<ClientStreamRequest> = unpack_all(test, "ClientStreamRequest")?;
    let (out, stream) = mpsc::channel(1);
    let mut request = prepare(ReceiverStream::new(stream), test)?;
    let handle = request.cancel_handle();
    let cancel = test.cancel;
    let sending = async move {
        let unsent = send_all(&out, messages, test.request_delay_ms).await;
        if before_close_send(cancel.as_ref()) {
            handle.cancel();
            // The send side stays open until the call is over.
            return (unsent, Some(out));
        }
        drop(out);
        if let Some(delay) = after_close_send(cancel.as_ref()) {
            cancel_later(handle, delay);
        }
        (unsent, None)
    };
    let (answer, (unsent, _open)) = tokio::join!(client.client_stream(request), sending);
    let mut result = match answer {
        Ok(response) => {
            let trailers = response.trailers().cloned().unwrap_or_default();
            ClientResponseResult {
                response_headers: headers_less_trailers(response.metadata(), &trailers),
                payloads: vec![response.into_inner().payload.unwrap_or_default()],
                response_trailers: headers::to_proto(&trailers),
                ..ClientResponseResult::default()
            }
        }
        Err(status) => failed(&status, Vec::new(), Vec::new()),
    };
    result.num_unsent_requests = i32::try_from(unsent).unwrap_or(i32::MAX);
    Ok(result)
}

async fn bidi_stream(
    client: &ConformanceServiceClient,
    test: &ClientCompatRequest,
) -> Result<ClientResponseResult, String> {
    let messages: Vec<BidiStreamRequest> = unpack_all(test, "BidiStreamRequest")?;
    let (out, stream) = mpsc::channel(1);
    let mut request = prepare(ReceiverStream::new(stream), test)?;
    let handle = request.cancel_handle();
    let cancel = test.cancel.as_ref();
    let full_duplex = test.stream_type() == StreamType::FullDuplexBidiStream;
    let response = match client.bidi_stream(request).await {
        Ok(response) => response,
        Err(status) => {
            let mut result = failed(&status, Vec::new(), Vec::new());
            result.num_unsent_requests = i32::try_from(messages.len()).unwrap_or(i32::MAX);
            return Ok(result);
        }
    };
    let head = response.metadata().clone();
    let mut responses = response.into_inner();
    let mut payloads = Vec::new();
    let mut unsent = 0;
    let mut failure = None;
    let mut after = after_responses(cancel).map(|n| (n, handle.clone()));
    if full_duplex {
        // One request, then one response, in turn.
        let total = messages.len();
        for (sent, message) in messages.into_iter().enumerate() {
            if test.request_delay_ms > 0 {
                tokio::time::sleep(Duration::from_millis(u64::from(test.request_delay_ms))).await;
            }
            if out.send(message).await.is_err() {
                unsent = total - sent;
                break;
            }
            match responses.message().await {
                Ok(Some(message)) => {
                    payloads.push(message.payload.unwrap_or_default());
                    if let Some((n, handle)) = after.take() {
                        if payloads.len() >= n {
                            handle.cancel();
                        } else {
                            after = Some((n, handle));
                        }
                    }
                }
                Ok(None) => {}
                Err(status) => {
                    unsent = total - sent - 1;
                    failure = Some(status);
                    break;
                }
            }
        }
    } else {
        unsent = send_all(&out, messages, test.request_delay_ms).await;
    }
    let mut open = Some(out);
    if before_close_send(cancel) {
        handle.cancel();
    } else {
        open = None;
        if let Some(delay) = after_close_send(cancel) {
            cancel_later(handle, delay);
        }
    }
    let mut result = match failure {
        Some(status) => {
            let headers = headers::to_proto(responses.headers().unwrap_or(&head));
            failed(&status, headers, payloads)
        }
        None => read_stream(responses, &head, payloads, after).await,
    };
    drop(open);
    result.num_unsent_requests = i32::try_from(unsent).unwrap_or(i32::MAX);
    Ok(result)
}
