//! Resolvers: how a channel turns its target into addresses (and, optionally,
//! a service config), and learns when they change.
//!
//! A [`Resolver`] hands the channel a stream of [`ResolverUpdate`]s. The
//! channel asks for a fresh resolution through [`ResolveNow`] when a connection
//! is lost or cannot be made; a resolver may ignore it or rate-limit it (DNS
//! does, to once per 30 s, as grpc-go's does).

pub(crate) mod dns;
pub(crate) mod fixed;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::Notify;

use crate::base::body::BoxStream;
use crate::client::target::{Kind, Target};

/// One address a channel can connect to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Address(pub(crate) Inner);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Inner {
    Tcp(SocketAddr),
    Unix(PathBuf),
    UnixAbstract(Vec<u8>),
    /// Resolved only when connecting (`passthrough:///name:port`).
    Name(String),
}

impl Address {
    /// A TCP address.
    pub fn tcp(addr: SocketAddr) -> Self {
        Self(Inner::Tcp(addr))
    }

    /// A Unix socket path.
    pub fn unix(path: impl Into<PathBuf>) -> Self {
        Self(Inner::Unix(path.into()))
    }

    /// The TCP address, if this is one.
    pub fn as_tcp(&self) -> Option<SocketAddr> {
        match &self.0 {
            Inner::Tcp(addr) => Some(*addr),
            _ => None,
        }
    }
}

impl From<SocketAddr> for Address {
    fn from(addr: SocketAddr) -> Self {
        Self::tcp(addr)
    }
}

impl std::fmt::Display for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Inner::Tcp(addr) => write!(f, "{addr}"),
            Inner::Unix(path) => write!(f, "unix:{}", path.display()),
            Inner::UnixAbstract(name) => {
                write!(f, "unix-abstract:{}", String::from_utf8_lossy(name))
            }
            Inner::Name(name) => f.write_str(name),
        }
    }
}

/// What a resolver found: the addresses, and the service config if the
/// resolver gives one (a malformed one keeps the channel's previous config).
#[derive(Debug, Clone, Default)]
pub struct ResolverUpdate {
    pub(crate) addresses: Vec<Address>,
    pub(crate) service_config: Option<String>,
}

impl ResolverUpdate {
    /// An update with these addresses and no service config.
    pub fn new(addresses: impl IntoIterator<Item = Address>) -> Self {
        Self {
            addresses: addresses.into_iter().collect(),
            service_config: None,
        }
    }

    /// Adds a service config as JSON; when it does not parse, the channel
    /// keeps the config it had.
    #[must_use]
    pub fn with_service_config_json(self, json: impl Into<String>) -> Self {
        Self {
            service_config: Some(json.into()),
            ..self
        }
    }

    /// The addresses.
    pub fn addresses(&self) -> &[Address] {
        &self.addresses
    }
}

/// A request from the channel for a fresh resolution.
#[derive(Debug, Clone, Default)]
pub struct ResolveNow(Arc<Notify>);

impl ResolveNow {
    /// Waits until the channel asks for a fresh resolution.
    pub async fn requested(&self) {
        self.0.notified().await;
    }

    pub(crate) fn request(&self) {
        self.0.notify_one();
    }
}

/// Finds the addresses of a target. The stream's items are the successive
/// resolutions; an error item puts the channel in TRANSIENT_FAILURE until the
/// next update, unless it already has addresses.
pub trait Resolver: Send + Sync + 'static {
    /// Starts resolving `target`.
    fn resolve(&self, target: &Target, now: ResolveNow) -> BoxStream<ResolverUpdate>;
}

/// The resolver a target's scheme names.
pub(crate) fn for_target(target: &Target) -> Arc<dyn Resolver> {
    match target.kind() {
        Kind::Dns { .. } => Arc::new(dns::Dns::default()),
        Kind::Passthrough(name) => {
            Arc::new(fixed::Fixed::new(vec![Address(Inner::Name(name.clone()))]))
        }
        Kind::Addresses(addresses) => Arc::new(fixed::Fixed::new(
            addresses.iter().copied().map(Address::tcp).collect(),
        )),
        Kind::Unix(path) => Arc::new(fixed::Fixed::new(vec![Address::unix(path.clone())])),
        Kind::UnixAbstract(name) => Arc::new(fixed::Fixed::new(vec![Address(
            Inner::UnixAbstract(name.clone()),
        )])),
    }
}
