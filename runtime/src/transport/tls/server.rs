//! Server TLS with rustls: the server's certificate and key, and the CA that
//! client certificates must chain to when clients must prove who they are.

use std::sync::Arc;

use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls;

use crate::transport::error::{Kind, ServeError};
use crate::transport::tls::{Certificate, Identity};

/// How a server speaks TLS: [`Server::tls_config`](crate::Server::tls_config).
///
/// ```no_run
/// # fn run(cert: &[u8], key: &[u8], client_ca: &[u8]) -> Result<(), Box<dyn std::error::Error>> {
/// use rust_grpc::{Certificate, Identity, ServerTlsConfig};
///
/// let tls = ServerTlsConfig::new()
///     .identity(Identity::from_pem(cert, key))
///     // Only clients with a certificate from this CA get in (mutual TLS).
///     .client_ca_root(Certificate::from_pem(client_ca));
/// let server = rust_grpc::Server::builder().tls_config(tls)?;
/// # let _ = server;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct ServerTlsConfig {
    identity: Option<Identity>,
    client_ca_root: Option<Certificate>,
    client_auth_optional: bool,
}

impl ServerTlsConfig {
    /// A configuration to fill in; it needs at least an [`identity`](Self::identity).
    pub fn new() -> Self {
        Self::default()
    }

    /// The server's certificate chain and key.
    #[must_use]
    pub fn identity(self, identity: Identity) -> Self {
        Self {
            identity: Some(identity),
            ..self
        }
    }

    /// Asks every client for a certificate that chains to `ca` and refuses
    /// clients without one (unless [`client_auth_optional`](Self::client_auth_optional)).
    #[must_use]
    pub fn client_ca_root(self, ca: Certificate) -> Self {
        Self {
            client_ca_root: Some(ca),
            ..self
        }
    }

    /// Lets clients without a certificate in; a certificate a client does send
    /// must still chain to the client CA.
    #[must_use]
    pub fn client_auth_optional(self, optional: bool) -> Self {
        Self {
            client_auth_optional: optional,
            ..self
        }
    }

    pub(crate) fn acceptor(&self) -> Result<tokio_rustls::TlsAcceptor, ServeError> {
        let identity = self.identity.as_ref().ok_or_else(|| {
            ServeError::new(
                Kind::Tls,
                "the TLS configuration has no identity",
                "give ServerTlsConfig::identity the server's certificate and key",
            )
        })?;
        let certs = CertificateDer::pem_slice_iter(identity.cert())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|err| {
                ServeError::new(Kind::Tls, "cannot read the server certificate PEM", err)
            })?;
        if certs.is_empty() {
            return Err(ServeError::new(
                Kind::Tls,
                "cannot read the server certificate PEM",
                "it holds no CERTIFICATE block",
            ));
        }
        let key = PrivateKeyDer::from_pem_slice(identity.key()).map_err(|err| {
            ServeError::new(Kind::Tls, "cannot read the server private key PEM", err)
        })?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|err| ServeError::new(Kind::Tls, "cannot set up TLS", err))?;
        let builder = match &self.client_ca_root {
            None => builder.with_no_client_auth(),
            Some(ca) => {
                let mut roots = rustls::RootCertStore::empty();
                for cert in CertificateDer::pem_slice_iter(ca.get_ref()) {
                    let cert = cert.map_err(|err| {
                        ServeError::new(Kind::Tls, "cannot read the client CA PEM", err)
                    })?;
                    roots.add(cert).map_err(|err| {
                        ServeError::new(Kind::Tls, "cannot use the client CA", err)
                    })?;
                }
                let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                    Arc::new(roots),
                    provider,
                );
                let verifier = if self.client_auth_optional {
                    verifier.allow_unauthenticated()
                } else {
                    verifier
                };
                let verifier = verifier
                    .build()
                    .map_err(|err| ServeError::new(Kind::Tls, "cannot use the client CA", err))?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let mut config = builder.with_single_cert(certs, key).map_err(|err| {
            ServeError::new(Kind::Tls, "the server certificate and key do not work", err)
        })?;
        config.alpn_protocols = vec![b"h2".to_vec()];
        Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
    }
}
