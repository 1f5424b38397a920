//! What a call does, end to end between the generated client and server: every
//! RPC kind, status codes and rich errors, metadata, compression, message size
//! limits, deadlines and cancellation, interceptors. One test binary; each
//! module is one subject.

mod compression;
mod credentials;
mod deadlines;
mod interceptors;
mod limits;
mod loopback;
mod negotiation;
mod not_grpc;
mod reserved_metadata;
mod rich_errors;
mod status_codes;
mod stream_helpers;
