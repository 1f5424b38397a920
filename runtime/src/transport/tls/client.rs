//! Client TLS with rustls: the CAs a server's certificate must chain to, the
//! name it must carry, and the client's own certificate for mutual TLS.

use std::sync::Arc;

use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls;

use crate::transport::tls::{Certificate, Identity};

/// How a channel speaks TLS: `Endpoint::tls_config`.
///
/// ```no_run
/// # fn run(ca: &[u8]) -> Result<(), Box<dyn std::error::Error>> {
/// use rust_grpc::{Certificate, ClientTlsConfig, Endpoint};
///
/// let tls = ClientTlsConfig::new()
///     .ca_certificate(Certificate::from_pem(ca))
///     .domain_name("api.example.com");
/// let endpoint = Endpoint::from_static("https://10.0.0.7:443").tls_config(tls)?;
/// # let _ = endpoint;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct ClientTlsConfig {
    cas: Vec<Certificate>,
    domain: Option<String>,
    identity: Option<Identity>,
}

impl ClientTlsConfig {
    /// A configuration that trusts no CA yet: add at least one with
    /// [`ca_certificate`](Self::ca_certificate).
    pub fn new() -> Self {
        Self::default()
    }

    /// Trusts server certificates that chain to `ca`.
    #[must_use]
    pub fn ca_certificate(mut self, ca: Certificate) -> Self {
        self.cas.push(ca);
        self
    }

    /// Trusts server certificates that chain to any of `cas`.
    #[must_use]
    pub fn ca_certificates(mut self, cas: impl IntoIterator<Item = Certificate>) -> Self {
        self.cas.extend(cas);
        self
    }

    /// The name the server's certificate must carry (default: the target's
    /// host). Also sent as SNI.
    #[must_use]
    pub fn domain_name(self, name: impl Into<String>) -> Self {
        Self {
            domain: Some(name.into()),
            ..self
        }
    }

    /// The client's own certificate and key, for servers that ask for one.
    #[must_use]
    pub fn identity(self, identity: Identity) -> Self {
        Self {
            identity: Some(identity),
            ..self
        }
    }

    /// The rustls client for these settings, checking `default_name` unless a
    /// domain name was set.
    pub(crate) fn connector(&self, default_name: &str) -> Result<Connector, String> {
        let mut roots = rustls::RootCertStore::empty();
        for ca in &self.cas {
            for cert in CertificateDer::pem_slice_iter(ca.get_ref()) {
                let cert =
                    cert.map_err(|err| format!("cannot read a CA certificate PEM: {err}"))?;
                roots
                    .add(cert)
                    .map_err(|err| format!("cannot use a CA certificate: {err}"))?;
            }
        }
        if roots.is_empty() {
            return Err(
                "the TLS configuration trusts no CA: give ClientTlsConfig::ca_certificate the CA that signed the server's certificate"
                    .to_owned(),
            );
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|err| format!("cannot set up TLS: {err}"))?
            .with_root_certificates(roots);
        let mut config = match &self.identity {
            None => builder.with_no_client_auth(),
            Some(identity) => {
                let certs = CertificateDer::pem_slice_iter(identity.cert())
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|err| format!("cannot read the client certificate PEM: {err}"))?;
                let key = PrivateKeyDer::from_pem_slice(identity.key())
                    .map_err(|err| format!("cannot read the client private key PEM: {err}"))?;
                builder
                    .with_client_auth_cert(certs, key)
                    .map_err(|err| format!("the client certificate and key do not work: {err}"))?
            }
        };
        config.alpn_protocols = vec![b"h2".to_vec()];
        let name = self.domain.as_deref().unwrap_or(default_name);
        let name = ServerName::try_from(name.to_owned())
            .map_err(|err| format!("{name:?} is not a TLS server name: {err}"))?;
        Ok(Connector {
            inner: tokio_rustls::TlsConnector::from(Arc::new(config)),
            name,
        })
    }
}

/// A ready rustls client: wraps a connection in TLS.
#[derive(Clone)]
pub(crate) struct Connector {
    inner: tokio_rustls::TlsConnector,
    name: ServerName<'static>,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Connector {
    /// Runs the TLS handshake over `io`; the server must choose HTTP/2.
    pub(crate) async fn connect<IO>(&self, io: IO) -> std::io::Result<TlsStream<IO>>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
    {
        let tls = self.inner.connect(self.name.clone(), io).await?;
        if tls.get_ref().1.alpn_protocol() != Some(b"h2") {
            return Err(std::io::Error::other(
                "the server did not choose HTTP/2 (ALPN h2) in the TLS handshake",
            ));
        }
        Ok(tls)
    }
}
