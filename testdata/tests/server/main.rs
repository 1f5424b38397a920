//! The server as a network peer: keepalive and connection limits, graceful
//! shutdown, its safe defaults, the reset-flood guard, the exact frames on the
//! wire and its per-call tracing spans. One test binary; each module is one
//! subject. Most serve over TCP, which is what they are about.

mod header_limits;
mod keepalive;
mod raw;
mod reset_flood;
mod server_limits;
mod shutdown;
mod tracing;
mod wire;
