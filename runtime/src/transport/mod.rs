//! What sits beside hyper's HTTP/2: the keepalive ping policy and GOAWAY, write
//! gathering, the executor of hyper's per-stream tasks, TLS and Unix sockets.

pub(crate) mod coalesce;
pub(crate) mod error;
pub(crate) mod executor;
pub(crate) mod gather;
pub(crate) mod keepalive;
#[cfg(feature = "tls")]
pub(crate) mod tls;
pub(crate) mod unix;
