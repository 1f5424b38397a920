//! The one owner of the gRPC wire format, shared by client and server: the
//! 5-byte message prefix, decoding a body into messages, encoding messages into
//! frames, per-message compression and message size limits.

pub mod compression;
pub(crate) mod decode;
pub(crate) mod encode;
pub(crate) mod frame;
pub mod limits;
pub(crate) mod settings;
pub(crate) mod streaming;
