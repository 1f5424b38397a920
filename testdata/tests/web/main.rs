//! gRPC-Web (PROTOCOL-WEB.md) on the server's port, as browsers call it: the
//! content types over HTTP/1.1 and HTTP/2, trailers in the body, base64 text
//! mode, trailers-only errors, CORS, and bad input. Requests are made by hand
//! with hyper's client, so nothing in between fixes them up. One test binary;
//! each module is one subject.

mod calls;
mod connections;
mod cors;
mod errors;
mod text;

use std::net::SocketAddr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::{Buf, Bytes};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rust_grpc::prost::Message;
use rust_grpc::server::GrpcWeb;
use rust_grpc::{Response, Status};
use rust_grpc_testdata::default::corpus::echo::{EchoReply, EchoRequest};
use rust_grpc_testdata::stub::{self, StubServer};
use tokio::net::TcpStream;

/// The HTTP version a request goes over.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Http {
    One,
    Two,
}

/// A server of `corpus.echo.Echo` with gRPC-Web on as `web` says: Unary echoes
/// the message and the `x-token` it was sent (as metadata of the reply, and
/// back in the `x-token-seen` header), ServerStream sends `count` replies,
/// ClientStream joins the messages, Bidi answers each, Fail fails as asked.
pub(crate) async fn serve(web: GrpcWeb) -> SocketAddr {
    stub_server()
        .server(move |server| server.accept_grpc_web(web))
        .serve_tcp()
        .await
}

/// The handlers [`serve`] serves, for servers set up otherwise.
pub(crate) fn stub_server() -> StubServer {
    StubServer::new()
        .unary(|request| async move {
            let token = request
                .metadata()
                .get("x-token")
                .and_then(|token| token.to_str().ok())
                .map(str::to_owned);
            let mut reply = stub::reply(request.into_inner().message);
            let mut response = Response::new(EchoReply::default());
            if let Some(token) = token {
                reply.metadata.push(format!("x-token={token}"));
                response
                    .metadata_mut()
                    .insert("x-token-seen", token.parse().unwrap());
            }
            *response.get_mut() = reply;
            Ok(response)
        })
        .server_stream(|request| async move {
            let EchoRequest { message, count } = request.into_inner();
            let replies: Vec<Result<EchoReply, Status>> = (0..count)
                .map(|i| Ok(stub::reply(format!("{message} {i}"))))
                .collect();
            Ok(Response::new(rust_grpc::stream::boxed(tokio_stream::iter(
                replies,
            ))))
        })
        .client_stream(|request| async move {
            let mut messages = request.into_inner();
            let mut all = Vec::new();
            while let Some(request) = messages.message().await? {
                all.push(request.message);
            }
            Ok(Response::new(stub::reply(all.join(","))))
        })
        .bidi(|request| async move {
            let mut messages = request.into_inner();
            let (sender, replies) = rust_grpc::stream::channel(4);
            tokio::spawn(async move {
                while let Ok(Some(request)) = messages.message().await {
                    let reply = stub::reply(format!("echo {}", request.message));
                    if sender.send(reply).await.is_err() {
                        return;
                    }
                }
            });
            Ok(Response::new(replies))
        })
        .fail(stub::fail)
}

/// A response, read whole.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: http::HeaderMap,
    pub(crate) body: Bytes,
    /// Whether HTTP trailers came (gRPC-Web sends none).
    pub(crate) http_trailers: bool,
}

/// Sends `method path` with `headers` and `body` over `http`, on a connection
/// of its own, and reads the whole response.
pub(crate) async fn send<B>(
    addr: SocketAddr,
    http: Http,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: B,
) -> Reply
where
    B: hyper::body::Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut request = http::Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"));
    if let Http::One = http {
        request = request.header("host", addr.to_string());
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request.body(body).unwrap();
    let io = TokioIo::new(TcpStream::connect(addr).await.unwrap());
    let response = match http {
        Http::One => {
            let (mut send, connection) = hyper::client::conn::http1::handshake(io).await.unwrap();
            tokio::spawn(connection);
            send.send_request(request).await.unwrap()
        }
        Http::Two => {
            let (mut send, connection) =
                hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
                    .await
                    .unwrap();
            tokio::spawn(connection);
            send.send_request(request).await.unwrap()
        }
    };
    let (head, body) = response.into_parts();
    let collected = body.collect().await.unwrap();
    let http_trailers = collected.trailers().is_some();
    Reply {
        status: head.status.as_u16(),
        headers: head.headers,
        body: collected.to_bytes(),
        http_trailers,
    }
}

/// Posts a gRPC-Web call of `content_type` to `/corpus.echo.Echo/{method}`.
pub(crate) async fn post(
    addr: SocketAddr,
    http: Http,
    method: &str,
    content_type: &str,
    headers: &[(&str, &str)],
    body: Bytes,
) -> Reply {
    let mut all = vec![("content-type", content_type), ("x-grpc-web", "1")];
    all.extend_from_slice(headers);
    let path = format!("/corpus.echo.Echo/{method}");
    send(addr, http, "POST", &path, &all, Full::new(body)).await
}

/// `message` in a gRPC frame (uncompressed).
pub(crate) fn frame(message: &impl Message) -> Bytes {
    let encoded = message.encode_to_vec();
    let mut framed = vec![0];
    framed.extend_from_slice(&u32::try_from(encoded.len()).unwrap().to_be_bytes());
    framed.extend_from_slice(&encoded);
    Bytes::from(framed)
}

/// A gRPC-Web response body: its messages, and its trailers as `name: value`
/// lines.
#[derive(Debug, Default)]
pub(crate) struct WebBody {
    pub(crate) messages: Vec<EchoReply>,
    pub(crate) trailers: Vec<String>,
}

impl WebBody {
    /// Reads frames until the body ends; the trailers frame must be last.
    pub(crate) fn parse(mut body: Bytes) -> Self {
        let mut parsed = Self::default();
        let mut trailers_seen = false;
        while body.has_remaining() {
            assert!(!trailers_seen, "a frame after the trailers");
            let flag = body.get_u8();
            let len = body.get_u32() as usize;
            let payload = body.split_to(len);
            match flag {
                0 => parsed.messages.push(EchoReply::decode(payload).unwrap()),
                0x80 => {
                    trailers_seen = true;
                    let block = std::str::from_utf8(&payload).unwrap();
                    assert!(block.ends_with("\r\n"), "{block:?}");
                    parsed.trailers = block.split_terminator("\r\n").map(str::to_owned).collect();
                }
                other => panic!("unexpected frame flag {other:#x}"),
            }
        }
        assert!(trailers_seen, "no trailers frame");
        parsed
    }

    /// The value of trailer `name`.
    pub(crate) fn trailer(&self, name: &str) -> Option<&str> {
        self.trailers.iter().find_map(|line| {
            let (key, value) = line.split_once(": ")?;
            (key == name).then_some(value)
        })
    }
}

/// Base64 (padded pieces one after another) decoded, by another implementation.
pub(crate) fn unbase64(text: &[u8]) -> Bytes {
    let mut out = Vec::new();
    let mut start = 0;
    for end in (4..=text.len()).step_by(4) {
        if text[end - 1] == b'=' || end == text.len() {
            out.extend(STANDARD.decode(&text[start..end]).unwrap());
            start = end;
        }
    }
    assert_eq!(start, text.len(), "base64 of a length not a multiple of 4");
    Bytes::from(out)
}

/// `bytes` in base64, by another implementation.
pub(crate) fn base64(bytes: &[u8]) -> Bytes {
    Bytes::from(STANDARD.encode(bytes))
}
