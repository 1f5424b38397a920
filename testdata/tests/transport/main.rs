//! The transports a generated client and server meet over: TLS (rustls, with
//! mutual TLS, ALPN and a grpcio peer), Unix domain sockets and the in-process
//! channel. One test binary; each module is one transport.

mod in_process;
mod tls;
mod unix_socket;
