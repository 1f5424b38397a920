//! The interop server: grpc.testing.TestService with the server features of the
//! official interop descriptions (payloads of the sizes asked for, echoed status
//! and metadata, compressed requests checked and responses compressed on request,
//! response intervals), plus the health and reflection services.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rust_grpc::compression::{ReceivedCompression, SendCompression};
use rust_grpc::metadata::{Ascii, Binary, MetadataMap, MetadataValue};
use rust_grpc::{
    BoxStream, Code, CompressionEncoding, Request, Response, ResponseExt as _, Status, Streaming,
};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_stream::StreamExt as _;
use tokio_stream::wrappers::{ReceiverStream, TcpListenerStream};

use crate::args::{Flag, Flags, Kind};
use crate::certs::TestCerts;
use crate::pb::test_service_server::{TestService, TestServiceServer};
use crate::pb::{
    BoolValue, EchoStatus, Empty, Payload, PayloadType, ResponseParameters, SimpleRequest,
    SimpleResponse, StreamingInputCallRequest, StreamingInputCallResponse,
    StreamingOutputCallRequest, StreamingOutputCallResponse,
};

/// Request metadata the server echoes in its response headers.
pub const ECHO_INITIAL: &str = "x-grpc-test-echo-initial";
/// Binary request metadata the server echoes in its trailers.
pub const ECHO_TRAILING_BIN: &str = "x-grpc-test-echo-trailing-bin";

/// How a server is started.
#[derive(Debug, Clone)]
pub struct Config {
    /// The port on 127.0.0.1 (0 for any free one).
    pub port: u16,
    /// The certificate and key (PEM) for TLS; plaintext when `None`.
    pub tls: Option<(Vec<u8>, Vec<u8>)>,
}

/// The grpc.testing.TestService implementation.
#[derive(Debug, Default, Clone, Copy)]
pub struct InteropService;

/// Binds 127.0.0.1:`config.port`; returns the address and the server, which runs
/// until `shutdown` begins (or SIGINT or SIGTERM arrives) and its grace period
/// is over.
///
/// # Errors
///
/// When the port cannot be bound or the TLS files are not usable.
pub async fn bind(
    config: Config,
    shutdown: rust_grpc::Shutdown,
) -> Result<
    (
        SocketAddr,
        impl std::future::Future<Output = Result<(), rust_grpc::ServeError>>,
    ),
    Box<dyn std::error::Error>,
> {
    let listener = TcpListener::bind(("127.0.0.1", config.port)).await?;
    let addr = listener.local_addr()?;
    let mut builder = rust_grpc::Server::builder();
    if let Some((cert, key)) = &config.tls {
        builder = builder.tls_config(
            rust_grpc::ServerTlsConfig::new().identity(rust_grpc::Identity::from_pem(cert, key)),
        )?;
    }
    let (health_reporter, health) = rust_grpc::health::health_service();
    health_reporter.set_serving_for::<TestServiceServer<InteropService>>();
    let reflection = rust_grpc::reflection::Reflection::new(&[crate::pb::FILE_DESCRIPTOR_SET])?;
    let service = TestServiceServer::new(InteropService)
        .accept_compressed(CompressionEncoding::Gzip)
        .send_compressed(CompressionEncoding::Gzip);
    let router = builder
        .add_service(service)
        .add_service(health)
        .add_service(reflection.v1())
        .add_service(reflection.v1alpha());
    let stop = shutdown.on_signal();
    let serving = async move {
        let _health = health_reporter;
        router
            .serve_with_incoming_shutdown(TcpListenerStream::new(listener), stop)
            .await
    };
    Ok((addr, serving))
}

/// A payload of `size` zero bytes of type `kind`.
fn payload(kind: i32, size: i32) -> Result<Payload, Status> {
    if PayloadType::try_from(kind) != Ok(PayloadType::Compressable) {
        return Err(Status::invalid_argument(format!(
            "payload type {kind} is not supported (only COMPRESSABLE)"
        )));
    }
    let size = usize::try_from(size)
        .map_err(|_| Status::invalid_argument(format!("payload size {size} is negative")))?;
    Ok(Payload {
        r#type: kind,
        body: vec![0; size],
    })
}

/// The status a request's `response_status` asks the call to end with, if any.
fn requested_status(status: Option<&EchoStatus>) -> Option<Status> {
    status
        .filter(|status| status.code != 0)
        .map(|status| Status::new(Code::from_i32(status.code), status.message.clone()))
}

/// Checks a message's `expect_compressed` against how it arrived.
fn check_compressed(
    expect: Option<&BoolValue>,
    received: &ReceivedCompression,
) -> Result<(), Status> {
    let Some(expect) = expect else {
        return Ok(());
    };
    let compressed = received.last_message_compressed().unwrap_or(false);
    match (expect.value, compressed) {
        (true, false) => Err(Status::invalid_argument(
            "expect_compressed is true but the message arrived uncompressed",
        )),
        (false, true) => Err(Status::invalid_argument(
            "expect_compressed is false but the message arrived compressed",
        )),
        _ => Ok(()),
    }
}

fn received<T>(request: &Request<T>) -> ReceivedCompression {
    request
        .extensions()
        .get::<ReceivedCompression>()
        .cloned()
        .expect("the runtime records how request messages arrived")
}

/// The metadata a request asks the server to echo.
#[derive(Debug, Clone, Default)]
struct Echo {
    initial: Option<MetadataValue<Ascii>>,
    trailing: Option<MetadataValue<Binary>>,
}

impl Echo {
    fn of(request: &MetadataMap) -> Self {
        Self {
            initial: request.get(ECHO_INITIAL).cloned(),
            trailing: request.get_bin(ECHO_TRAILING_BIN).cloned(),
        }
    }

    fn add_trailers(&self, trailers: &mut MetadataMap) {
        if let Some(value) = &self.trailing {
            trailers.insert_bin(ECHO_TRAILING_BIN, value.clone());
        }
    }

    /// Sets a response's echoed headers and trailers.
    fn apply<T>(&self, mut response: Response<T>) -> Response<T> {
        if let Some(value) = &self.initial {
            response.metadata_mut().insert(ECHO_INITIAL, value.clone());
        }
        self.add_trailers(response.trailers_mut());
        response
    }

    /// A status that also carries the echoed trailers.
    fn apply_to_status(&self, mut status: Status) -> Status {
        self.add_trailers(status.metadata_mut());
        status
    }
}

/// A response stream fed by a task: each item says whether to compress it.
type Outgoing = mpsc::Sender<Result<(StreamingOutputCallResponse, bool), Status>>;

/// Builds the response of a streaming handler from the receiving end of
/// [`Outgoing`], compressing each message as its item says.
fn outgoing_stream(
    messages: mpsc::Receiver<Result<(StreamingOutputCallResponse, bool), Status>>,
) -> Response<BoxStream<StreamingOutputCallResponse>> {
    let choice = SendCompression::new();
    let setter = choice.clone();
    let stream = ReceiverStream::new(messages).map(move |item| {
        item.map(|(message, compress)| {
            setter.set(compress);
            message
        })
    });
    let mut response: Response<BoxStream<StreamingOutputCallResponse>> =
        Response::new(Box::pin(stream));
    response.extensions_mut().insert(choice);
    response
}

/// Sends the responses `parameters` ask for, each after its interval; false once
/// the client is gone.
async fn send_responses(out: &Outgoing, kind: i32, parameters: &[ResponseParameters]) -> bool {
    for parameters in parameters {
        let interval = u64::try_from(parameters.interval_us).unwrap_or(0);
        if interval > 0 {
            tokio::time::sleep(Duration::from_micros(interval)).await;
        }
        let item = payload(kind, parameters.size).map(|payload| {
            let compress = parameters.compressed.as_ref().is_some_and(|c| c.value);
            (
                StreamingOutputCallResponse {
                    payload: Some(payload),
                },
                compress,
            )
        });
        let failed = item.is_err();
        if out.send(item).await.is_err() || failed {
            return false;
        }
    }
    true
}

fn unary_response(request: &SimpleRequest) -> Result<Response<SimpleResponse>, Status> {
    let payload = payload(request.response_type, request.response_size)?;
    let mut response = Response::new(SimpleResponse {
        payload: Some(payload),
        ..SimpleResponse::default()
    });
    let compress = request
        .response_compressed
        .as_ref()
        .is_some_and(|c| c.value);
    response
        .extensions_mut()
        .insert(SendCompression::fixed(compress));
    Ok(response)
}

impl TestService for InteropService {
    async fn empty_call(&self, _request: Request<Empty>) -> Result<Response<Empty>, Status> {
        let mut response = Response::new(Empty {});
        response
            .extensions_mut()
            .insert(SendCompression::fixed(false));
        Ok(response)
    }

    async fn unary_call(
        &self,
        request: Request<SimpleRequest>,
    ) -> Result<Response<SimpleResponse>, Status> {
        let echo = Echo::of(request.metadata());
        check_compressed(
            request.get_ref().expect_compressed.as_ref(),
            &received(&request),
        )?;
        if let Some(status) = requested_status(request.get_ref().response_status.as_ref()) {
            return Err(echo.apply_to_status(status));
        }
        unary_response(request.get_ref()).map(|response| echo.apply(response))
    }

    async fn cacheable_unary_call(
        &self,
        request: Request<SimpleRequest>,
    ) -> Result<Response<SimpleResponse>, Status> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        let mut response = unary_response(request.get_ref())?;
        if let Some(payload) = &mut response.get_mut().payload {
            payload.body = now.to_string().into_bytes();
        }
        response.metadata_mut().insert(
            "cache-control",
            MetadataValue::from_static("max-age=60, public"),
        );
        Ok(response)
    }

    async fn streaming_output_call(
        &self,
        request: Request<StreamingOutputCallRequest>,
    ) -> Result<Response<BoxStream<StreamingOutputCallResponse>>, Status> {
        let request = request.into_inner();
        let (out, messages) = mpsc::channel(4);
        tokio::spawn(async move {
            if send_responses(&out, request.response_type, &request.response_parameters).await
                && let Some(status) = requested_status(request.response_status.as_ref())
            {
                let _ = out.send(Err(status)).await;
            }
        });
        Ok(outgoing_stream(messages))
    }

    async fn streaming_input_call(
        &self,
        request: Request<Streaming<StreamingInputCallRequest>>,
    ) -> Result<Response<StreamingInputCallResponse>, Status> {
        let received = received(&request);
        let mut incoming = request.into_inner();
        let mut total: usize = 0;
        while let Some(message) = incoming.message().await? {
            check_compressed(message.expect_compressed.as_ref(), &received)?;
            total += message.payload.map_or(0, |payload| payload.body.len());
        }
        let aggregated_payload_size = i32::try_from(total)
            .map_err(|_| Status::invalid_argument("the payloads add up to more than 2^31 bytes"))?;
        let mut response = Response::new(StreamingInputCallResponse {
            aggregated_payload_size,
        });
        response
            .extensions_mut()
            .insert(SendCompression::fixed(false));
        Ok(response)
    }

    async fn full_duplex_call(
        &self,
        request: Request<Streaming<StreamingOutputCallRequest>>,
    ) -> Result<Response<BoxStream<StreamingOutputCallResponse>>, Status> {
        // The echoed trailers go out with any end of the call, an error status too.
        let echo = Echo::of(request.metadata());
        let mut incoming = request.into_inner();
        let (out, messages) = mpsc::channel(4);
        tokio::spawn(async move {
            loop {
                let request = match incoming.message().await {
                    Ok(Some(request)) => request,
                    Ok(None) => return,
                    Err(status) => {
                        let _ = out.send(Err(status)).await;
                        return;
                    }
                };
                if let Some(status) = requested_status(request.response_status.as_ref()) {
                    let _ = out.send(Err(status)).await;
                    return;
                }
                if !send_responses(&out, request.response_type, &request.response_parameters).await
                {
                    return;
                }
            }
        });
        Ok(echo.apply(outgoing_stream(messages)))
    }

    async fn half_duplex_call(
        &self,
        request: Request<Streaming<StreamingOutputCallRequest>>,
    ) -> Result<Response<BoxStream<StreamingOutputCallResponse>>, Status> {
        let mut incoming = request.into_inner();
        let mut requests = Vec::new();
        while let Some(request) = incoming.message().await? {
            requests.push(request);
        }
        let (out, messages) = mpsc::channel(4);
        tokio::spawn(async move {
            for request in requests {
                if let Some(status) = requested_status(request.response_status.as_ref()) {
                    let _ = out.send(Err(status)).await;
                    return;
                }
                if !send_responses(&out, request.response_type, &request.response_parameters).await
                {
                    return;
                }
            }
        });
        Ok(outgoing_stream(messages))
    }
}

/// The flags of `interop-server`.
pub const FLAGS: &[Flag] = &[
    Flag {
        name: "port",
        kind: Kind::Value,
        help: "the port to serve on, on 127.0.0.1 (0: any free port; default 10000)",
    },
    Flag {
        name: "use_tls",
        kind: Kind::Bool,
        help: "serve TLS (default false)",
    },
    Flag {
        name: "tls_cert_file",
        kind: Kind::Value,
        help: "the certificate (PEM); default grpc-go's testdata/server1.pem",
    },
    Flag {
        name: "tls_key_file",
        kind: Kind::Value,
        help: "the private key (PEM); default grpc-go's testdata/server1.key",
    },
];

/// The server's [`Config`] from its flags; reads the TLS files.
///
/// # Errors
///
/// Says which flag is wrong or which file cannot be read.
pub fn config(flags: &Flags) -> Result<Config, String> {
    let port = flags.port("port", Some(10000))?;
    let tls = if flags.bool("use_tls", false)? {
        let (cert, key) = match (flags.value("tls_cert_file"), flags.value("tls_key_file")) {
            (Some(cert), Some(key)) => (PathBuf::from(cert), PathBuf::from(key)),
            (None, None) => {
                let certs = TestCerts::grpc_go()?;
                (certs.server_cert, certs.server_key)
            }
            _ => return Err("give both --tls_cert_file and --tls_key_file, or neither".to_owned()),
        };
        Some((read(&cert)?, read(&key)?))
    } else {
        None
    };
    Ok(Config { port, tls })
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|err| format!("cannot read {}: {err}", path.display()))
}
