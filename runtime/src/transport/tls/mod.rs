//! TLS with rustls (ring provider): certificates and identities, the
//! server's configuration and the client's.

mod client;
mod server;

pub use client::ClientTlsConfig;
pub(crate) use client::Connector;
pub use server::ServerTlsConfig;

/// A certificate chain and its private key, both PEM: who a server (or, passed
/// to [`ClientTlsConfig::identity`], a client) says it is.
#[derive(Clone)]
pub struct Identity {
    cert: Vec<u8>,
    key: Vec<u8>,
}

impl Identity {
    /// An identity from a PEM certificate chain (leaf first) and a PEM private
    /// key (PKCS#8, PKCS#1 or SEC1).
    pub fn from_pem(cert: impl AsRef<[u8]>, key: impl AsRef<[u8]>) -> Self {
        Self {
            cert: cert.as_ref().to_vec(),
            key: key.as_ref().to_vec(),
        }
    }
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the key.
        f.debug_struct("Identity").finish_non_exhaustive()
    }
}

impl Identity {
    pub(crate) fn cert(&self) -> &[u8] {
        &self.cert
    }

    pub(crate) fn key(&self) -> &[u8] {
        &self.key
    }
}

/// A PEM certificate (or several): a CA to trust.
#[derive(Debug, Clone)]
pub struct Certificate {
    pem: Vec<u8>,
}

impl Certificate {
    /// A certificate from PEM text.
    pub fn from_pem(pem: impl AsRef<[u8]>) -> Self {
        Self {
            pem: pem.as_ref().to_vec(),
        }
    }

    /// The PEM text.
    pub fn get_ref(&self) -> &[u8] {
        &self.pem
    }

    /// The PEM text, owned.
    pub fn into_inner(self) -> Vec<u8> {
        self.pem
    }
}
