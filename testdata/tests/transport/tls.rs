//! TLS with rustls (the runtime's default `tls` feature): server TLS, client TLS
//! with a custom CA, mutual TLS with client certificate checks, ALPN h2 (and
//! http/1.1 after it with gRPC-Web on), and Python grpcio over TLS. Every certificate is made here, with rcgen: a test CA,
//! a server certificate for `localhost` and `127.0.0.1` and client certificates,
//! plus a second, untrusted CA.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rust_grpc::{
    Certificate, ClientTlsConfig, Endpoint, Identity, Request, Response, ServerTlsConfig, Status,
};
use rust_grpc_testdata::default::corpus::echo::echo_client::EchoClient;
use rust_grpc_testdata::default::corpus::echo::{EchoReply, EchoRequest};
use rust_grpc_testdata::python_peer;
use rust_grpc_testdata::stub::StubServer;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

/// A certificate authority the tests make.
struct Ca(CertifiedIssuer<'static, KeyPair>);

/// A certificate (PEM and DER) and its private key (PEM).
struct Leaf {
    cert: String,
    der: Vec<u8>,
    key: String,
}

impl Leaf {
    fn identity(&self) -> Identity {
        Identity::from_pem(&self.cert, &self.key)
    }
}

impl Ca {
    fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        Self(CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap())
    }

    fn pem(&self) -> String {
        self.0.pem()
    }

    fn certificate(&self) -> Certificate {
        Certificate::from_pem(self.pem())
    }

    fn issue(&self, name: &str, sans: &[&str], usage: ExtendedKeyUsagePurpose) -> Leaf {
        let sans: Vec<String> = sans.iter().map(|san| (*san).to_owned()).collect();
        let mut params = CertificateParams::new(sans).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![usage];
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.0).unwrap();
        Leaf {
            cert: cert.pem(),
            der: cert.der().to_vec(),
            key: key.serialize_pem(),
        }
    }

    /// A server certificate for `localhost` and `127.0.0.1`.
    fn server(&self) -> Leaf {
        self.issue(
            "localhost",
            &["localhost", "127.0.0.1"],
            ExtendedKeyUsagePurpose::ServerAuth,
        )
    }

    fn client(&self, name: &str) -> Leaf {
        self.issue(name, &[], ExtendedKeyUsagePurpose::ClientAuth)
    }
}

/// Answers with the message, and in `metadata` one `peer-cert=<hex>` per
/// certificate the client presented.
async fn unary(request: Request<EchoRequest>) -> Result<Response<EchoReply>, Status> {
    let metadata = request
        .peer_certs()
        .map(|certs| {
            certs
                .iter()
                .map(|cert| format!("peer-cert={}", hex(cert.as_ref())))
                .collect()
        })
        .unwrap_or_default();
    Ok(Response::new(EchoReply {
        message: format!("echo: {}", request.into_inner().message),
        metadata,
    }))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Serves [`unary`] over TLS on a fresh port of 127.0.0.1.
async fn serve(tls: ServerTlsConfig) -> SocketAddr {
    StubServer::new()
        .unary(unary)
        .server(|server| server.tls_config(tls).unwrap())
        .serve_tcp()
        .await
}

fn server_tls(server: &Leaf) -> ServerTlsConfig {
    ServerTlsConfig::new().identity(server.identity())
}

fn mutual_tls(server: &Leaf, client_ca: &Ca) -> ServerTlsConfig {
    server_tls(server).client_ca_root(client_ca.certificate())
}

/// Connects over TLS to `url` and makes one Unary call: the reply, or the
/// error with every source it has, as text.
async fn call(url: String, tls: ClientTlsConfig) -> Result<EchoReply, String> {
    let endpoint = Endpoint::from_shared(url)
        .unwrap()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(10))
        .tls_config(tls)
        .unwrap();
    let channel = endpoint.connect().await.map_err(|err| chain(&err))?;
    EchoClient::new(channel)
        .unary(EchoRequest {
            message: "over tls".to_owned(),
            count: 0,
        })
        .await
        .map(Response::into_inner)
        .map_err(|status| format!("{status:?}: {}", chain(&status)))
}

fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(err) = source {
        text.push_str(": ");
        text.push_str(&err.to_string());
        source = err.source();
    }
    text
}

fn trusting(ca: &Ca) -> ClientTlsConfig {
    ClientTlsConfig::new().ca_certificate(ca.certificate())
}

#[tokio::test]
async fn tls_client_with_a_custom_ca_calls_a_tls_server_by_name() {
    let ca = Ca::new("rust-grpc test CA");
    let addr = serve(server_tls(&ca.server())).await;

    let reply = call(
        format!("https://{addr}"),
        trusting(&ca).domain_name("localhost"),
    )
    .await
    .unwrap();

    assert_eq!(reply.message, "echo: over tls");
    assert!(reply.metadata.is_empty(), "no client certificate was sent");
}

/// Large replies leave the server in 16 KiB DATA frames that skip the write
/// gatherer's copy, interleaved with other calls' small frames: over TLS too,
/// every byte arrives, in order.
#[tokio::test]
async fn large_messages_cross_tls_intact_among_concurrent_calls() {
    let ca = Ca::new("rust-grpc test CA");
    let addr = serve(server_tls(&ca.server())).await;
    let channel = Endpoint::from_shared(format!("https://{addr}"))
        .unwrap()
        .timeout(Duration::from_secs(20))
        .tls_config(trusting(&ca).domain_name("localhost"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..12usize {
        let client = EchoClient::new(channel.clone());
        calls.spawn(async move {
            // Every other call is small; the big ones run to 250 KB.
            let len = if i % 2 == 0 { 10 + i } else { i * 23_000 };
            let message: String = (0..len)
                .map(|j| char::from(b'a' + ((i + j) % 26) as u8))
                .collect();
            let reply = client
                .unary(EchoRequest {
                    message: message.clone(),
                    count: 0,
                })
                .await
                .unwrap()
                .into_inner();
            assert!(
                reply.message == format!("echo: {message}"),
                "call {i} ({len} bytes) came back changed"
            );
        });
    }
    while let Some(done) = calls.join_next().await {
        done.unwrap();
    }
}

#[tokio::test]
async fn tls_client_checks_the_server_ip_address_against_the_certificate() {
    let ca = Ca::new("rust-grpc test CA");
    let addr = serve(server_tls(&ca.server())).await;

    // No domain_name: the name checked is the URL's host, the IP address
    // 127.0.0.1, which the certificate lists as an IP SAN.
    let reply = call(format!("https://{addr}"), trusting(&ca))
        .await
        .unwrap();
    assert_eq!(reply.message, "echo: over tls");

    // And a name the certificate does not list is refused.
    let err = call(
        format!("https://{addr}"),
        trusting(&ca).domain_name("elsewhere.example"),
    )
    .await
    .unwrap_err();
    assert!(
        err.contains("not valid for name \"elsewhere.example\""),
        "{err}"
    );
}

#[tokio::test]
async fn tls_client_refuses_a_server_certificate_from_an_unknown_ca() {
    let ca = Ca::new("rust-grpc test CA");
    let other = Ca::new("another CA");
    let addr = serve(server_tls(&ca.server())).await;

    let err = call(
        format!("https://{addr}"),
        trusting(&other).domain_name("localhost"),
    )
    .await
    .unwrap_err();

    assert!(err.contains("UnknownIssuer"), "{err}");
}

#[tokio::test]
async fn mutual_tls_server_accepts_a_client_certificate_its_ca_signed() {
    let ca = Ca::new("rust-grpc test CA");
    let client = ca.client("client one");
    let addr = serve(mutual_tls(&ca.server(), &ca)).await;

    let reply = call(
        format!("https://{addr}"),
        trusting(&ca)
            .domain_name("localhost")
            .identity(client.identity()),
    )
    .await
    .unwrap();

    assert_eq!(reply.message, "echo: over tls");
    // The handler saw exactly the certificate the client presented.
    assert_eq!(reply.metadata, [format!("peer-cert={}", hex(&client.der))]);
}

#[tokio::test]
async fn mutual_tls_server_refuses_a_client_without_a_certificate() {
    let ca = Ca::new("rust-grpc test CA");
    let addr = serve(mutual_tls(&ca.server(), &ca)).await;

    let err = call(
        format!("https://{addr}"),
        trusting(&ca).domain_name("localhost"),
    )
    .await
    .unwrap_err();

    // TLS 1.3: the client finishes its side of the handshake before the server
    // checks it, so the refusal arrives as the server's alert on the first read.
    assert!(err.contains("CertificateRequired"), "{err}");
}

#[tokio::test]
async fn mutual_tls_server_refuses_a_client_certificate_from_another_ca() {
    let ca = Ca::new("rust-grpc test CA");
    let other = Ca::new("another CA");
    let stranger = other.client("stranger");
    let addr = serve(mutual_tls(&ca.server(), &ca)).await;

    let err = call(
        format!("https://{addr}"),
        trusting(&ca)
            .domain_name("localhost")
            .identity(stranger.identity()),
    )
    .await
    .unwrap_err();

    assert!(err.contains("UnknownCA"), "{err}");
}

/// A raw rustls handshake (no gRPC, no HTTP) with the server, offering `alpn`;
/// the protocol the server chose, or the handshake error.
async fn handshake(addr: SocketAddr, ca: &Ca, alpn: &[&[u8]]) -> Result<Option<Vec<u8>>, String> {
    let mut roots = RootCertStore::empty();
    roots.add(ca.0.der().clone()).unwrap();
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|protocol| protocol.to_vec()).collect();
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let tls = TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .map_err(|err| chain(&err))?;
    Ok(tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec))
}

/// Checked at the TLS layer, with no gRPC client in between. Every successful
/// call in this file shows it too: tonic's TLS connector refuses a connection on
/// which the server did not choose `h2` (`H2NotNegotiated`, unless
/// `assume_http2` is set, which nothing here does).
#[tokio::test]
async fn tls_server_negotiates_alpn_h2() {
    let ca = Ca::new("rust-grpc test CA");
    let addr = serve(server_tls(&ca.server())).await;

    let chosen = handshake(addr, &ca, &[b"http/1.1", b"h2"]).await.unwrap();

    assert_eq!(chosen.as_deref(), Some(&b"h2"[..]));
}

#[tokio::test]
async fn tls_server_refuses_a_client_that_offers_only_http1() {
    let ca = Ca::new("rust-grpc test CA");
    let addr = serve(server_tls(&ca.server())).await;

    let err = handshake(addr, &ca, &[b"http/1.1"]).await.unwrap_err();

    assert!(err.contains("NoApplicationProtocol"), "{err}");
}

#[tokio::test]
async fn with_grpc_web_on_a_tls_server_offers_http1_after_h2() {
    let ca = Ca::new("rust-grpc test CA");
    let tls = server_tls(&ca.server());
    let addr = StubServer::new()
        .unary(unary)
        .server(|server| {
            server
                .accept_grpc_web(rust_grpc::server::GrpcWeb::default())
                .tls_config(tls)
                .unwrap()
        })
        .serve_tcp()
        .await;

    let both = handshake(addr, &ca, &[b"http/1.1", b"h2"]).await.unwrap();
    let http1 = handshake(addr, &ca, &[b"http/1.1"]).await.unwrap();

    assert_eq!(both.as_deref(), Some(&b"h2"[..]));
    assert_eq!(http1.as_deref(), Some(&b"http/1.1"[..]));
}

#[tokio::test]
async fn python_grpcio_calls_our_tls_server_trusting_the_test_ca() {
    let Some(peer) = python_peer::peer() else {
        return;
    };
    let ca = Ca::new("rust-grpc test CA");
    let addr = serve(server_tls(&ca.server())).await;

    let mut command = peer.command(
        "tls_call.py",
        &[&format!("localhost:{}", addr.port()), "from python"],
    );
    command.env("TLS_CA", ca.pem());
    let lines = peer.run(command).await;

    assert_eq!(lines, ["reply echo: from python"]);
}

#[tokio::test]
async fn python_grpcio_refuses_our_tls_server_under_another_ca() {
    let Some(peer) = python_peer::peer() else {
        return;
    };
    let ca = Ca::new("rust-grpc test CA");
    let other = Ca::new("another CA");
    let addr = serve(server_tls(&ca.server())).await;

    let mut command = peer.command(
        "tls_call.py",
        &[&format!("localhost:{}", addr.port()), "from python"],
    );
    command.env("TLS_CA", other.pem());
    let lines = peer.run(command).await;

    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].starts_with("error UNAVAILABLE"), "{lines:?}");
}

#[tokio::test]
async fn python_grpcio_calls_our_mutual_tls_server_with_a_client_certificate() {
    let Some(peer) = python_peer::peer() else {
        return;
    };
    let ca = Ca::new("rust-grpc test CA");
    let client = ca.client("python client");
    let addr = serve(mutual_tls(&ca.server(), &ca)).await;

    let mut command = peer.command(
        "tls_call.py",
        &[&format!("localhost:{}", addr.port()), "from python"],
    );
    command
        .env("TLS_CA", ca.pem())
        .env("TLS_CLIENT_CERT", &client.cert)
        .env("TLS_CLIENT_KEY", &client.key);
    let lines = peer.run(command).await;

    assert_eq!(lines, ["reply echo: from python"]);
}
