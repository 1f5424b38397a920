//! The server under test: `ConformanceService` as the suite's
//! docs/testing_servers.md describes it (echo what was received, answer as the
//! response definition says), served by our server with the settings of a
//! `ServerCompatRequest`.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use rust_grpc::deadline::Deadline;
use rust_grpc::errors::RpcStatus;
use rust_grpc::prost::Message;
use rust_grpc::prost_types::Any;
use rust_grpc::{
    BoxStream, Code, CompressionEncoding, Request, Response, ResponseExt as _, Status, Streaming,
    stream,
};
use tokio::net::TcpListener;

use crate::headers;
use crate::pb::conformance_payload::RequestInfo;
use crate::pb::conformance_service_server::{ConformanceService, ConformanceServiceServer};
use crate::pb::unary_response_definition::Response as UnaryAnswer;
use crate::pb::{
    BidiStreamRequest, BidiStreamResponse, ClientStreamRequest, ClientStreamResponse,
    ConformancePayload, Error, Header, HttpVersion, Protocol, ServerCompatRequest,
    ServerCompatResponse, ServerStreamRequest, ServerStreamResponse, StreamResponseDefinition,
    UnaryRequest, UnaryResponse, UnaryResponseDefinition,
};

/// What the suite sees of a request before its handler reads the messages: its
/// headers and the timeout it came with.
#[derive(Debug, Clone)]
struct Observed {
    headers: Vec<Header>,
    timeout_ms: Option<i64>,
}

impl Observed {
    fn of<T>(request: &Request<T>) -> Self {
        Self {
            headers: headers::to_proto(request.metadata()),
            timeout_ms: Deadline::of(request).map(|deadline| {
                i64::try_from(deadline.remaining().as_millis()).unwrap_or(i64::MAX)
            }),
        }
    }

    fn info(&self, requests: Vec<Any>) -> RequestInfo {
        RequestInfo {
            request_headers: self.headers.clone(),
            timeout_ms: self.timeout_ms,
            requests,
            connect_get_info: None,
        }
    }
}

/// `message` as an `Any` of its full name `name` (a connectrpc.conformance.v1 type).
fn to_any(name: &str, message: &impl Message) -> Any {
    Any {
        type_url: format!("type.googleapis.com/connectrpc.conformance.v1.{name}"),
        value: message.encode_to_vec(),
    }
}

/// The status a definition's `error` asks for; `info` (when given) is added as
/// the last detail, as the suite expects.
fn status_of(error: &Error, info: Option<&RequestInfo>) -> Status {
    let mut details = error.details.clone();
    if let Some(info) = info {
        details.push(to_any("ConformancePayload.RequestInfo", info));
    }
    let code = Code::from_i32(error.code);
    let message = error.message.clone().unwrap_or_default();
    let rpc = RpcStatus {
        code: error.code,
        message: message.clone(),
        details,
    };
    Status::with_details(code, message, rpc.encode_to_vec().into())
}

fn delay(ms: u32) -> Option<Duration> {
    (ms > 0).then(|| Duration::from_millis(u64::from(ms)))
}

fn bad_header(err: String) -> Status {
    Status::invalid_argument(format!("the response definition has a bad header: {err}"))
}

/// The answer of a unary or client-streaming call, given the requests it read.
async fn answer_one(
    observed: &Observed,
    definition: Option<UnaryResponseDefinition>,
    requests: Vec<Any>,
) -> Result<Response<ConformancePayload>, Status> {
    let info = observed.info(requests);
    let Some(definition) = definition else {
        return Ok(Response::new(ConformancePayload {
            data: Vec::new(),
            request_info: Some(info),
        }));
    };
    let data = match definition.response {
        Some(UnaryAnswer::Error(error)) => {
            // One bag of metadata on an error: the response is trailers-only.
            let mut status = status_of(&error, Some(&info));
            headers::append(status.metadata_mut(), &definition.response_headers)
                .map_err(bad_header)?;
            headers::append(status.metadata_mut(), &definition.response_trailers)
                .map_err(bad_header)?;
            return Err(status);
        }
        Some(UnaryAnswer::ResponseData(data)) => data,
        None => Vec::new(),
    };
    let mut response = Response::new(ConformancePayload {
        data,
        request_info: Some(info),
    });
    headers::append(response.metadata_mut(), &definition.response_headers).map_err(bad_header)?;
    headers::append(response.trailers_mut(), &definition.response_trailers).map_err(bad_header)?;
    if let Some(delay) = delay(definition.response_delay_ms) {
        tokio::time::sleep(delay).await;
    }
    Ok(response)
}

/// A streaming response whose head carries the definition's headers and
/// trailers, with its messages still to come.
fn stream_head<T>(
    definition: &StreamResponseDefinition,
    messages: BoxStream<T>,
) -> Result<Response<BoxStream<T>>, Status> {
    let mut response = Response::new(messages);
    headers::append(response.metadata_mut(), &definition.response_headers).map_err(bad_header)?;
    headers::append(response.trailers_mut(), &definition.response_trailers).map_err(bad_header)?;
    Ok(response)
}

/// Sends the definition's response messages (from `first`) and then its
/// error, if any. `info` goes into the first message, or into the error when
/// no message was sent at all.
async fn send_rest<T>(
    out: &stream::Sender<T>,
    definition: &StreamResponseDefinition,
    first: usize,
    mut info: Option<RequestInfo>,
    wrap: impl Fn(ConformancePayload) -> T,
) {
    for data in definition.response_data.iter().skip(first) {
        if let Some(delay) = delay(definition.response_delay_ms) {
            tokio::time::sleep(delay).await;
        }
        let payload = ConformancePayload {
            data: data.clone(),
            request_info: info.take(),
        };
        if out.send(wrap(payload)).await.is_err() {
            return;
        }
    }
    if let Some(error) = &definition.error {
        let sent_any = first > 0 || !definition.response_data.is_empty();
        let info = if sent_any { None } else { info.as_ref() };
        let _ = out.send(Err::<T, _>(status_of(error, info))).await;
    }
}

/// The `ConformanceService` of the server under test. `Unimplemented` and
/// `IdempotentUnary` (Connect GET only) keep the generated UNIMPLEMENTED stubs.
#[derive(Debug, Default, Clone, Copy)]
pub struct Service;

impl ConformanceService for Service {
    async fn unary(
        &self,
        request: Request<UnaryRequest>,
    ) -> Result<Response<UnaryResponse>, Status> {
        let observed = Observed::of(&request);
        let message = request.into_inner();
        let requests = vec![to_any("UnaryRequest", &message)];
        let response = answer_one(&observed, message.response_definition, requests).await?;
        Ok(response.map(|payload| UnaryResponse {
            payload: Some(payload),
        }))
    }

    async fn client_stream(
        &self,
        request: Request<Streaming<ClientStreamRequest>>,
    ) -> Result<Response<ClientStreamResponse>, Status> {
        let observed = Observed::of(&request);
        let mut messages = request.into_inner();
        let mut definition = None;
        let mut requests = Vec::new();
        while let Some(message) = messages.message().await? {
            if requests.is_empty() {
                definition.clone_from(&message.response_definition);
            }
            requests.push(to_any("ClientStreamRequest", &message));
        }
        let response = answer_one(&observed, definition, requests).await?;
        Ok(response.map(|payload| ClientStreamResponse {
            payload: Some(payload),
        }))
    }

    async fn server_stream(
        &self,
        request: Request<ServerStreamRequest>,
    ) -> Result<Response<BoxStream<ServerStreamResponse>>, Status> {
        let observed = Observed::of(&request);
        let message = request.into_inner();
        let info = observed.info(vec![to_any("ServerStreamRequest", &message)]);
        let Some(definition) = message.response_definition else {
            return Ok(Response::new(stream::boxed(stream::empty::<
                ServerStreamResponse,
            >())));
        };
        let (out, messages) = stream::channel(1);
        let response = stream_head(&definition, messages)?;
        // The head goes out when this returns, before any delay.
        tokio::spawn(async move {
            send_rest(&out, &definition, 0, Some(info), |payload| {
                ServerStreamResponse {
                    payload: Some(payload),
                }
            })
            .await;
        });
        Ok(response)
    }

    async fn bidi_stream(
        &self,
        request: Request<Streaming<BidiStreamRequest>>,
    ) -> Result<Response<BoxStream<BidiStreamResponse>>, Status> {
        let observed = Observed::of(&request);
        let mut messages = request.into_inner();
        // The first message says how to answer; nothing is sent before it.
        let Some(first) = messages.message().await? else {
            return Ok(Response::new(stream::boxed(stream::empty::<
                BidiStreamResponse,
            >())));
        };
        let definition = first.response_definition.clone().unwrap_or_default();
        let wrap = |payload| BidiStreamResponse {
            payload: Some(payload),
        };
        let mut requests = vec![to_any("BidiStreamRequest", &first)];
        if !first.full_duplex {
            // Half duplex: every request first, then the answers.
            while let Some(message) = messages.message().await? {
                requests.push(to_any("BidiStreamRequest", &message));
            }
            let (out, stream) = stream::channel(1);
            let response = stream_head(&definition, stream)?;
            let info = observed.info(requests);
            tokio::spawn(async move { send_rest(&out, &definition, 0, Some(info), wrap).await });
            return Ok(response);
        }
        let (out, stream) = stream::channel(1);
        let response = stream_head(&definition, stream)?;
        tokio::spawn(async move {
            // Full duplex: one answer per request, as long as answers last.
            let mut sent = 0;
            while let Some(data) = definition.response_data.get(sent) {
                if let Some(delay) = delay(definition.response_delay_ms) {
                    tokio::time::sleep(delay).await;
                }
                let mut info = RequestInfo {
                    requests: std::mem::take(&mut requests),
                    ..RequestInfo::default()
                };
                if sent == 0 {
                    info = observed.info(info.requests);
                }
                let payload = ConformancePayload {
                    data: data.clone(),
                    request_info: Some(info),
                };
                if out.send(wrap(payload)).await.is_err() {
                    return;
                }
                sent += 1;
                match messages.message().await {
                    Ok(Some(message)) => requests.push(to_any("BidiStreamRequest", &message)),
                    Ok(None) => break,
                    Err(status) => {
                        let _ = out.send(Err::<BidiStreamResponse, _>(status)).await;
                        return;
                    }
                }
            }
            let info = (sent == 0).then(|| observed.info(requests));
            send_rest(&out, &definition, sent, info, wrap).await;
        });
        Ok(response)
    }
}

/// Binds a free port of 127.0.0.1 and builds the server `request` asks for.
/// Returns what to tell the runner and the server, which runs until SIGTERM
/// (or SIGINT).
///
/// # Errors
///
/// When the request asks for what this server does not speak, or the port or
/// TLS files are unusable.
pub async fn start(
    request: &ServerCompatRequest,
) -> Result<
    (
        ServerCompatResponse,
        impl Future<Output = Result<(), rust_grpc::ServeError>>,
    ),
    Box<dyn std::error::Error>,
> {
    // gRPC is HTTP/2 only; gRPC-Web also runs over HTTP/1.1.
    let web = match (request.protocol(), request.http_version()) {
        (Protocol::Grpc, HttpVersion::HttpVersion2) => false,
        (Protocol::GrpcWeb, HttpVersion::HttpVersion1 | HttpVersion::HttpVersion2) => true,
        (protocol, version) => {
            return Err(format!("{protocol:?} over {version:?} is not served").into());
        }
    };
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr: SocketAddr = listener.local_addr()?;
    let mut builder = rust_grpc::Server::builder();
    if web {
        // The suite's clients are not browsers: no origin to allow.
        builder = builder.accept_grpc_web(rust_grpc::server::GrpcWeb::default());
    }
    let mut pem_cert = Vec::new();
    if request.use_tls {
        let creds = request
            .server_creds
            .as_ref()
            .ok_or("use_tls without server_creds")?;
        let mut tls = rust_grpc::ServerTlsConfig::new()
            .identity(rust_grpc::Identity::from_pem(&creds.cert, &creds.key));
        if !request.client_tls_cert.is_empty() {
            tls = tls.client_ca_root(rust_grpc::Certificate::from_pem(&request.client_tls_cert));
        }
        builder = builder.tls_config(tls)?;
        pem_cert.clone_from(&creds.cert);
    }
    let mut service = ConformanceServiceServer::new(Service)
        .accept_compressed(CompressionEncoding::Gzip)
        .accept_compressed(CompressionEncoding::Zstd)
        .send_compressed(CompressionEncoding::Gzip)
        .send_compressed(CompressionEncoding::Zstd);
    if request.message_receive_limit > 0 {
        service = service.max_decoding_message_size(request.message_receive_limit as usize);
    }
    let shutdown = rust_grpc::Shutdown::new(Duration::from_secs(1));
    let stop = shutdown.on_signal();
    let serving = builder
        .add_service(service)
        .serve_with_listener_shutdown(listener, stop);
    let response = ServerCompatResponse {
        host: addr.ip().to_string(),
        port: u32::from(addr.port()),
        pem_cert,
    };
    Ok((response, serving))
}
