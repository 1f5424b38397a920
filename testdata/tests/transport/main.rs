//! The transports a generated client and server meet over: TLS (rustls, with
//! mutual TLS, ALPN and a grpcio peer), Unix domain sockets, the in-process
//! channel and tonic's channel. One test binary; each module is one transport.

mod in_process;
mod raw_responses;
mod refused_stream;
mod tls;
mod tonic_channel;
mod unix_socket;
